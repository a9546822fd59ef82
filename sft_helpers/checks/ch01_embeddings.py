"""Exercise checks: ch01_embeddings (being written)."""

__all__: list[str] = []
