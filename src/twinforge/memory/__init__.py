"""The memory stage: hybrid retrieval (BM25 + embeddings, fused), the concept graph, and grounded answers.

build.py `build_memory` indexes modules, paper digests and kept messages incrementally; search.py `search`
retrieves; ask.py `ask`/`ask_stream` answer with citations; graph.py is the concept graph (KAG).
"""
