"""Exercise checks: ch03_transformer (being written)."""

__all__: list[str] = []
