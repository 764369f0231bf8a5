"""Trained adapters: the registry, named stacks, merging into a base, and exports for vLLM (PEFT) and llama.cpp (GGUF LoRA)."""
