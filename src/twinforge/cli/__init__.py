"""The command line: parse flags, call the library, print. Errors become one line here and nowhere else."""
