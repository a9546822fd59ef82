"""Names and values of the environment variables the course reads or sets (stdlib only).

The one place for these names: a module reads ``os.environ.get(settings.FAST_ENV)``, never a
spelled-out ``"SFT_..."`` (tests/test_settings.py checks it), so a renamed variable changes here.
Kept apart from ``runtime`` so that the command-line tools can use them without importing torch.
"""

from __future__ import annotations

# Learners and notebooks
FAST_ENV = "SFT_FAST"  # 1: every notebook shrinks its sizes (runtime.fast_mode); 0: full mode
DEVICE_ENV = "SFT_DEVICE"  # cpu / cuda / mps: overrides runtime.get_device's choice
THREADS_ENV = "SFT_THREADS"  # torch threads (runtime.set_threads); default: the cores actually free
PROGRESS_ENV = "SFT_PROGRESS"  # "text": progress bars print one finished line (headless runs)
CACHE_DIR_ENV = "SFT_CACHE_DIR"  # where the chapter 7 model is converted and cached (llm)
# The course runner, tests and the grader
RESULTS_FILE_ENV = "SFT_RESULTS_FILE"  # JSON file that results.record writes key results to
CHECK_TIMEOUT_ENV = "SFT_CHECK_TIMEOUT"  # seconds one call of learner code may take in a check
CHECK_RESULTS_ENV = "SFT_CHECK_RESULTS"  # JSON-lines file each check result is appended to (grading)
CHECK_CELL_ENV = "SFT_CHECK_CELL"  # the grader's id of the cell that runs a check
# Set-up and tooling
VENV_ENV = "SFT_VENV"  # the course's virtual environment folder (default: .venv in the repository)
NO_VENV_ENV = "SFT_NO_VENV"  # 1: `python -m sft_helpers` uses the current Python, no .venv
REPOSITORY_URL_ENV = "SFT_REPOSITORY_URL"  # the GitHub repository Colab and Binder links open
REPOSITORY_BRANCH_ENV = "SFT_REPOSITORY_BRANCH"  # its branch
SITE_TEST_ENV = "SFT_SITE_TEST"  # 1: the website's browser test runs (site-test)

# Environment of a headless run (papermill, nbval): nobody watches a live bar there, and a
# tqdm widget would be stored frozen at "0%". Third-party bars (datasets' map, transformers)
# are switched off; the course's own bars print one finished line when they close
# (``sft_helpers.runtime.progress_bar``).
HEADLESS_ENV = {PROGRESS_ENV: "text", "TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
