"""The products' memos on disk (see pipeline/memo.py): ``data/processed/memo/<product>.pickle``.

One file per product holds the code digest it was made by and its entries; a file of other
code, or one that cannot be read, is an empty memo (everything is computed again). The
memo is a cache of this machine's own results, never an input anyone else writes, and is
never published.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from pathlib import Path

import pipeline
from pipeline.io.atomic import atomic_path
from pipeline.memo import Memo


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 of every module of the pipeline package (any code change empties the memos)."""
    root = Path(pipeline.__file__).parent
    h = hashlib.sha256(pipeline.__version__.encode())
    for file in sorted(root.rglob("*.py")):
        h.update(str(file.relative_to(root)).encode())
        h.update(file.read_bytes())
    return h.hexdigest()


def memo_path(folder: Path, product: str) -> Path:
    return folder / f"{product}.pickle"


def load_memo(folder: Path, product: str) -> Memo:
    """The memo ``product`` saved last, or an empty one."""
    try:
        with open(memo_path(folder, product), "rb") as fh:
            saved = pickle.load(fh)
        if saved.get("code") == source_digest():
            return Memo(saved["entries"])
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, KeyError, TypeError, ValueError):
        pass
    return Memo()


def save_memo(folder: Path, product: str, memo: Memo) -> None:
    """Keep the entries this run used (atomically); nothing is written when none were."""
    entries = memo.used()
    path = memo_path(folder, product)
    if not entries:
        path.unlink(missing_ok=True)
        return
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump({"code": source_digest(), "entries": entries}, fh, protocol=pickle.HIGHEST_PROTOCOL)


class ProductMemos:
    """The memos of one run, one per product, loaded when a product first asks and saved
    together when the run's weeks are built (a run that stops before keeps the old ones)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._memos: dict[str, Memo] = {}

    def for_product(self, product: str) -> Memo:
        if product not in self._memos:
            self._memos[product] = load_memo(self.folder, product)
        return self._memos[product]

    def save(self) -> None:
        for product, memo in self._memos.items():
            save_memo(self.folder, product, memo)
