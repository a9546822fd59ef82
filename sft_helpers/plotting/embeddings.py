"""Plots: embeddings (being written)."""

__all__: list[str] = []
