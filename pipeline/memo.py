"""Results of pure per-week computations, keyed by a digest of their inputs.

A national history makes the all-history products redo, every week, work whose inputs have
not changed since last week: each earlier week's nearest-neighbour scale, each backtest
week's scores, each earlier week's hotspot footprint. A :class:`Memo` hands such a result
back when the same inputs come again. The key is a digest of the inputs themselves (the
points, the settings, the grid), never a week's name, so a changed week simply misses; and
the runner keeps one memo per product and code version (pipeline/io/memo.py), so changed
code misses too. A hit returns exactly what the computation returned: a product's result
is the same with or without the memo (tests/test_memo.py).

The memo is no file access: the runner loads it before the products run and saves, after
them, only the entries this run used (the rest are for weeks no longer read).

>>> m = Memo()
>>> m.get(digest("square", np.arange(3)), lambda: 4), m.get(digest("square", np.arange(3)), lambda: 5)
(4, 4)
>>> m.hits, m.misses
(1, 1)
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import numpy as np
import pandas as pd


def digest(*parts) -> str:
    """A hex digest of ``parts``: numpy arrays by dtype, shape and bytes (text arrays by their
    values), pandas columns and frames by their dtypes and pandas' stable row hashes, the rest
    by ``repr``.

    >>> digest(np.zeros(2)) == digest(np.zeros(2)), digest(np.zeros(2)) == digest(np.zeros(2, np.float32))
    (True, False)
    >>> digest(np.array(["a", "b"], dtype=object)) == digest(np.array(["a", "b"]))
    True
    >>> digest(pd.Series(["a", "b"])) == digest(pd.Series(["a", "c"]))
    False
    """
    h = hashlib.sha256()  # in hardware on current CPUs: a third of blake2b's time on a national history
    for part in parts:
        if isinstance(part, (pd.Series, pd.DataFrame)):
            h.update(f"pd|{part.dtypes.to_dict() if isinstance(part, pd.DataFrame) else part.dtype}|".encode())
            h.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        elif isinstance(part, np.ndarray) and part.dtype.kind in "OUS":  # texts: by value, not pointer
            h.update(f"txt|{part.shape}|".encode())
            h.update("\x1f".join(map(str, part.ravel().tolist())).encode())
        elif isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            h.update(f"nd|{a.dtype.str}|{a.shape}|".encode())
            h.update(a.reshape(-1).view(np.uint8))  # the bytes, without a copy (any fixed-size dtype)
        else:
            h.update(f"py|{part!r}|".encode())
    return h.hexdigest()


class Memo:
    """Known results by key; :meth:`used` are the entries this run read or computed."""

    def __init__(self, entries: dict[str, Any] | None = None):
        self._known = dict(entries or {})
        self._used: dict[str, Any] = {}
        self.hits = self.misses = 0

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        """The result stored under ``key``, or ``compute()`` stored under it. Callers must not
        change what they get back (it is shared with the next caller of the same key)."""
        if key in self._used:
            self.hits += 1
            return self._used[key]
        if key in self._known:
            self.hits += 1
            value = self._known[key]
        else:
            self.misses += 1
            value = compute()
        self._used[key] = value
        return value

    def used(self) -> dict[str, Any]:
        return dict(self._used)


def memoized(memo: Memo | None, key_parts: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()`` through ``memo`` under the digest of ``key_parts`` (computed when None)."""
    if memo is None:
        return compute()
    return memo.get(digest(*key_parts), compute)
