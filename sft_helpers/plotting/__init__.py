"""Matplotlib figures for the course, one submodule per subject; import names from here.

``style`` (figure size and dpi), ``embeddings`` (2-D maps of vectors, position encodings),
``attention`` (heat maps), ``training`` (learning curves, confusion matrices).
"""

from sft_helpers.plotting.attention import *  # noqa: F401,F403
from sft_helpers.plotting.embeddings import *  # noqa: F401,F403
from sft_helpers.plotting.style import *  # noqa: F401,F403
from sft_helpers.plotting.training import *  # noqa: F401,F403
