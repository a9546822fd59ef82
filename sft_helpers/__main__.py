"""``python -m sft_helpers ...``: see ``sft_helpers.cli``."""

from sft_helpers.cli import main

raise SystemExit(main())
