"""Exercise checks: ch04_classification (being written)."""

__all__: list[str] = []
