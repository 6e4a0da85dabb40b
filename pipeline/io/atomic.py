"""Atomic output: write to a temporary file beside the target, fsync, rename into place.

A crash (even SIGKILL) therefore leaves either the old file or the new one, never half a file.

>>> from pipeline.io import write_text
>>> write_text("/tmp/x.html", "<p>hej</p>")          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path

import pandas as pd

#: Leading characters that make Excel/LibreOffice treat a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(dest: str | Path, suffix: str | None = None):
    """Yield a temporary path in ``dest``'s folder; on success fsync and rename it to ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or f".tmp{dest.suffix}", dir=dest.parent)
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    tmp = Path(tmp)
    try:
        yield tmp
        _fsync(tmp)
        crash_point(f"before-rename:{dest.name}")
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def crash_point(name: str) -> None:
    """Fault injection for the crash tests: SIGKILL this process at a named point.

    Set ``LAGESBILD_KILL_AT`` to a point name (e.g. ``before-rename:2026-W47.gpkg`` or
    ``after-ingest``). Unset, this is a no-op.
    """
    if os.environ.get("LAGESBILD_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def write_bytes(dest: str | Path, data: bytes) -> Path:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def write_text(dest: str | Path, text: str) -> Path:
    return write_bytes(dest, text.encode("utf-8"))


def write_parquet(dest: str | Path, frame) -> Path:
    with atomic_path(dest) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(dest)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start with = + - @ with a quote so spreadsheets show them as text."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col].astype("string")
            risky = s.str.startswith(_FORMULA_START).fillna(False)
            out[col] = s.where(~risky, "'" + s)
    return out


def write_csv(dest: str | Path, frame: pd.DataFrame) -> Path:
    """UTF-8 with BOM and ';' so Swedish Excel opens it right; formula cells neutralised."""
    with atomic_path(dest) as tmp:
        neutralise_formulas(frame).to_csv(tmp, index=False, sep=";", encoding="utf-8-sig")
    return Path(dest)


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
