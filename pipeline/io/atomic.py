"""Atomic output: write to a temporary file beside the target, fsync, rename into place.

A crash (even SIGKILL) therefore leaves either the old file or the new one, never half a file.

>>> from pipeline.io import write_text
>>> write_text("/tmp/x.html", "<p>hej</p>")          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import resource
import shutil
import signal
import tempfile
from pathlib import Path

import pandas as pd

from pipeline.errors import LagesbildError, disk_full_error, output_error

#: Leading characters that make Excel/LibreOffice treat a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: The names atomic_path gives its temp files: '.<name>.<8 random chars>.tmp<suffix>' (mkstemp),
#: with what a writer adds to them (GDAL's '-journal', '-wal', '-shm', '.aux.xml').
TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp[^/]*")
#: Below this much free space a failed write is taken to be a full disk.
_LOW_SPACE = 1 << 20


@contextlib.contextmanager
def atomic_path(dest: str | Path, suffix: str | None = None):
    """Yield a temporary path in ``dest``'s folder; on success fsync and rename it to ``dest``."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or f".tmp{dest.suffix}", dir=dest.parent)
        os.close(fd)
        os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    except OSError as err:
        raise (output_error(err, dest.parent) or err) from None
    tmp = Path(tmp)
    try:
        yield tmp
        _fsync(tmp)
        crash_point(f"before-rename:{dest.name}")
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except LagesbildError:
        raise
    except OSError as err:
        raise (output_error(err, dest) or err) from None
    except Exception:
        # Writers such as GDAL report a full disk as their own error ("Failed to commit
        # transaction"): look at the disk before calling it a bug.
        if _out_of_space(tmp):
            raise disk_full_error(dest) from None
        raise
    finally:
        _remove_own_temp(tmp)


def _remove_own_temp(tmp: Path) -> None:
    """Remove the temp file and what a writer added beside it (only names starting with it)."""
    with contextlib.suppress(OSError):
        for path in tmp.parent.glob(glob.escape(tmp.name) + "*"):
            if path.is_file() and not path.is_symlink():
                path.unlink()


def _out_of_space(tmp: Path) -> bool:
    """True when the folder has (almost) no free space, or a temp file reached the process's
    file-size limit (RLIMIT_FSIZE)."""
    with contextlib.suppress(OSError):
        if shutil.disk_usage(tmp.parent).free < _LOW_SPACE:
            return True
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit == resource.RLIM_INFINITY:
        return False
    sizes = [p.stat().st_size for p in tmp.parent.glob(glob.escape(tmp.name) + "*") if p.is_file()]
    return any(size >= limit - 65536 for size in sizes)


def remove_stale_temp_files(folders) -> list[Path]:
    """Delete the temp files a killed run left in ``folders`` (the run's own output folders,
    searched recursively): only files named exactly as :func:`atomic_path` names them
    (:data:`TEMP_NAME`), never a symbolic link, never anything else.

    >>> remove_stale_temp_files([])
    []
    """
    removed = []
    for folder in dict.fromkeys(Path(f) for f in folders):
        if not folder.is_dir():
            continue
        for root, _dirs, files in os.walk(folder, followlinks=False):
            for name in files:
                path = Path(root) / name
                if TEMP_NAME.fullmatch(name) and path.is_file() and not path.is_symlink():
                    path.unlink()
                    removed.append(path)
    return removed


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
