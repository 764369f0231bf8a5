"""Perplexity of a model on (prompt, target) pairs: the function lives in models/perplexity.py, since the train
stage's forgetting gate measures with it too."""

from ...models.perplexity import Pair, _ids, nll, perplexity  # noqa: F401
