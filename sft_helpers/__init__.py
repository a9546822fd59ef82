"""sft_helpers: the tested helper package behind the SFT Workbook's notebooks.

Import modules by name (``from sft_helpers import attention``); this file stays light so
that ``python -m sft_helpers setup`` runs before torch is installed.
"""

__version__ = "0.1.0"
