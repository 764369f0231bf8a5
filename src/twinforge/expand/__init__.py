"""Expand: each thinking module becomes training examples in several views (qa, concept, inversion,
hypothesis, transition, continue), with the expansion ratio in pages."""
