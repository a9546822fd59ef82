"""Names and values of the environment variables the course reads or sets (stdlib only).

Kept apart from ``runtime`` so that the command-line tools can use them without importing torch.
"""

from __future__ import annotations

# Environment of a headless run (papermill, nbval): nobody watches a live bar there, and a
# tqdm widget would be stored frozen at "0%". Third-party bars (datasets' map, transformers)
# are switched off; the course's own bars print one finished line when they close
# (``sft_helpers.runtime.progress_bar``).
HEADLESS_ENV = {"SFT_PROGRESS": "text", "TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
