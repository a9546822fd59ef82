"""Exercise checks: ch02_attention (being written)."""

__all__: list[str] = []
