"""One look for every figure: modest size and dpi, so stored notebook outputs stay small."""

from __future__ import annotations

import matplotlib

__all__ = ["use_course_style", "FIGSIZE", "DPI"]

FIGSIZE = (6.4, 3.6)
DPI = 80


def use_course_style() -> None:
    """Set matplotlib defaults used by all chapters (call once in a notebook's set-up cell)."""
    matplotlib.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "figure.autolayout": True,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
        }
    )
