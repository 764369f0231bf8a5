"""The dataset stage: expanded examples → train/validation JSONL split by conversation, ShareGPT, Alpaca and
Hugging Face exports, stats (examples, tokens, A4 pages, lines), a length histogram and a dataset card."""
