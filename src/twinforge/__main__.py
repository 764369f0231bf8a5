"""`python -m twinforge` (and `accelerate launch -m twinforge train ...` for several GPUs)."""

from twinforge.cli.main import main

if __name__ == "__main__":
    main()
