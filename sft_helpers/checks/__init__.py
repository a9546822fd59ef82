"""Exercise checks: each ``check_*`` takes a learner's function or class and returns a CheckResult.

The machinery is in ``core``; each chapter's checks are in ``chNN_*`` modules, re-exported here
so a notebook writes ``from sft_helpers import checks; checks.check_padding_mask(fn)``.
"""

from sft_helpers.checks import integrity as _integrity
from sft_helpers.checks.ch01_embeddings import *  # noqa: F401,F403
from sft_helpers.checks.ch02_attention import *  # noqa: F401,F403
from sft_helpers.checks.ch03_transformer import *  # noqa: F401,F403
from sft_helpers.checks.ch04_classification import *  # noqa: F401,F403
from sft_helpers.checks.ch05_ner import *  # noqa: F401,F403
from sft_helpers.checks.ch06_practice import *  # noqa: F401,F403
from sft_helpers.checks.ch07_instruction import *  # noqa: F401,F403
from sft_helpers.checks.ch08_qa import *  # noqa: F401,F403
from sft_helpers.checks.core import CheckResult  # noqa: F401
from sft_helpers.checks.feed import learner_or_reference  # noqa: F401

_integrity.seal()  # last: the snapshot of every name the checks rely on (see checks/integrity.py)
