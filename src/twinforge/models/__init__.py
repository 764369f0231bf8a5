"""Models: the embedded models (assembled from PyPI), base resolution and loading, device detection, and attaching adapters for generation. Below every stage: it imports none of them."""
