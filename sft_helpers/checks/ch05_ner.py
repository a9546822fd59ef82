"""Exercise checks: ch05_ner (being written)."""

__all__: list[str] = []
