"""Read one partner export into raw string rows: encoding and delimiter detection, line numbers.

Nothing is interpreted here (no dates, no numbers): every field stays a string. Rows that are
structurally broken are *kept* and marked in ``_fault`` so that, downstream,
rows read = rows in events + rows in rejected.

>>> from pipeline.config import Partner
>>> p = Partner(label="Polisen", files="*.csv",
...             columns={"category": "Brott", "date": "Datum", "address": "Adress"})
>>> raw = read_export(Path("polisen.csv"), "polisen", p, "data/raw/polisen.csv")  # doctest: +SKIP
>>> raw.encoding, raw.delimiter, raw.rows_read                                      # doctest: +SKIP
('utf-8-sig', ';', 412)
"""

from __future__ import annotations

import csv
import glob
import io
import os
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Partner
from pipeline.errors import InputError

#: Delimiters tried by ``delimiter: auto``, in order of preference on a tie.
DELIMITERS = (";", ",", "\t", "|")
#: A field longer than this is not a real field (usually an unbalanced quote): the row is rejected.
MAX_FIELD_CHARS = 10_000
#: Bookkeeping columns added to every raw frame.
META_COLUMNS = ("_line", "_raw", "_fault")

_BOM = b"\xef\xbb\xbf"

# The csv module's default limit (128 KiB) raises on huge fields; we want to see them and mark
# the row ``field_too_long`` instead of aborting the whole file.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class RawExport:
    """One export as read.

    ``frame``: one row per record; the header's columns (names whitespace/BOM-stripped, NFC) as
    strings (NaN only where a short, faulted row was padded), plus ``_line`` (int64, physical
    line where the record starts; header = line 1), ``_raw`` (the record's text without its
    final line break) and ``_fault`` (NaN, or ``empty_row`` | ``bad_field_count`` |
    ``field_too_long``: such rows go straight to rejected). ``encoding`` is ``utf-8-sig``,
    ``utf-8``, ``cp1252`` or ``mixed`` (line by line); ``delimiter`` the one used.
    """

    frame: pd.DataFrame
    encoding: str
    delimiter: str
    path: Path
    display_name: str

    @property
    def rows_read(self) -> int:
        return len(self.frame)


def expand_files(pattern: str, base_dir: Path, *, partner: str | None = None) -> list[Path]:
    """Files matching ``pattern`` (relative to ``base_dir``, or absolute; ``**`` recurses), sorted.

    ``partner`` only serves the error message when nothing matches.

    >>> expand_files("data/raw/polisen/*.csv", Path("."))    # doctest: +SKIP
    [PosixPath('data/raw/polisen/v46.csv'), PosixPath('data/raw/polisen/v47.csv')]
    """
    full = os.path.join(str(base_dir), os.path.expanduser(pattern))
    files = sorted(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    if not files:
        raise InputError(f"no file matches {pattern!r} (looked in {base_dir}); put the exports there "
                         f"or fix `partners.{partner or '<name>'}.files` in config.yaml", partner=partner)
    return files


def read_export(path: Path, partner: str, pcfg: Partner, display_name: str) -> RawExport:
    """Read one export file into a :class:`RawExport` (see module docstring)."""
    path = Path(path)
    data = path.read_bytes()
    where = {"partner": partner, "file": display_name}
    text, encoding = decode_bytes(data, pcfg.encoding, where)
    text = text.replace("\n\ufeff", "\n")  # BOMs of concatenated exports, mid-file
    header_line = next((ln for ln in io.StringIO(text, newline="") if ln.strip()), None)
    if header_line is None:
        raise InputError("file is empty: no header line; export again with a header row or remove the file", **where)
    wanted = [_norm_name(c) for c in pcfg.columns.values()]
    delimiter = pcfg.delimiter if pcfg.delimiter != "auto" else sniff_delimiter(header_line, wanted)
    frame = parse_records(text, delimiter, wanted, where)
    return RawExport(frame=frame, encoding=encoding, delimiter=delimiter, path=path, display_name=display_name)


# --- decoding ---------------------------------------------------------------------------------

def decode_bytes(data: bytes, encoding: str, where: dict) -> tuple[str, str]:
    """Decode ``data``; return (text, encoding name used: utf-8-sig | utf-8 | cp1252 | mixed).

    >>> decode_bytes("Mjölby".encode("cp1252"), "auto", {})
    ('Mjölby', 'cp1252')
    """
    if encoding != "auto":
        return _decode_strict(data, encoding, where), encoding
    if data.startswith(_BOM):
        rest = data[len(_BOM):]
        if _is_utf8(rest):
            return rest.decode("utf-8"), "utf-8-sig"
        return _decode_auto(rest)[0], "mixed"  # the BOM says UTF-8, yet some lines are not
    return _decode_auto(data)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _decode_strict(data: bytes, encoding: str, where: dict) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(f"cannot be read as {encoding} (byte 0x{data[err.start]:02x}); "
                         "set `encoding: auto` for this partner in config.yaml", line=line, **where) from None


def _decode_auto(data: bytes) -> tuple[str, str]:
    """Whole file as UTF-8 if it is valid; else line by line (UTF-8 where valid, cp1252 otherwise).

    Mixed files happen when a UTF-8 export and a Windows (cp1252) export are concatenated.
    """
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    parts, utf8_non_ascii = [], False
    for line in data.splitlines(keepends=True):
        try:
            parts.append(line.decode("utf-8"))
            utf8_non_ascii = utf8_non_ascii or not line.isascii()
        except UnicodeDecodeError:
            parts.append(_decode_cp1252(line))
    return "".join(parts), "mixed" if utf8_non_ascii else "cp1252"


def _decode_cp1252(line: bytes) -> str:
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D); map those like
        # latin-1 so a stray byte costs one odd character, not the whole file.
        return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in line)


# --- delimiter and header ---------------------------------------------------------------------

def sniff_delimiter(header_line: str, wanted: list[str]) -> str:
    """The delimiter whose header split contains all ``wanted`` names; else the one giving most fields.

    >>> sniff_delimiter("Datum;Tid;Plats, ort", ["Datum", "Plats, ort"])
    ';'
    """
    splits = {d: _header_names(header_line, d) for d in DELIMITERS}
    complete = [d for d in DELIMITERS if set(wanted) <= set(splits[d])]
    candidates = complete or list(DELIMITERS)
    return max(candidates, key=lambda d: len(splits[d]))  # max keeps the first on a tie


def _header_names(line: str, delimiter: str) -> list[str]:
    row = next(csv.reader([line], delimiter=delimiter), [])
    return [_norm_name(f) for f in row]


def _norm_name(name: str) -> str:
    # NFC: exports made on a Mac may spell "å" as "a" + combining ring; config.yaml uses NFC.
    return unicodedata.normalize("NFC", name.replace("\ufeff", "").strip())


def _check_header(names: list[str], wanted: list[str], header_line: int, where: dict) -> None:
    seen, dups = set(), []
    for n in names:
        if n in seen:
            dups.append(n)
        seen.add(n)
    if dups:
        raise InputError(f"duplicate column name(s) {sorted(set(dups))} in the header; rename them in the export",
                         line=header_line, **where)
    reserved = [n for n in names if n in META_COLUMNS]
    if reserved:
        raise InputError(f"column name(s) {reserved} are reserved; rename them in the export", line=header_line, **where)
    missing = [c for c in dict.fromkeys(wanted) if c not in seen]
    if missing:
        raise InputError(f"configured column(s) {missing} not in the header; columns found: {names}. "
                         f"Fix `partners.{where['partner']}.columns` in config.yaml or the export",
                         line=header_line, **where)


# --- records ----------------------------------------------------------------------------------

class _LineTap:
    """Iterates physical lines for csv.reader and remembers those consumed since the last take()."""

    def __init__(self, text: str):
        self._it = iter(io.StringIO(text, newline=""))
        self.buffer: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.buffer.append(line)
        return line

    def take(self) -> list[str]:
        out, self.buffer = self.buffer, []
        return out


def parse_records(text: str, delimiter: str, wanted: list[str], where: dict) -> pd.DataFrame:
    """Header + records of ``text`` as a string DataFrame with ``_line``, ``_raw``, ``_fault``."""
    tap = _LineTap(text)
    reader = csv.reader(tap, delimiter=delimiter)
    header, header_line = None, 0
    rows: list[tuple[list[str], int, str]] = []  # (fields, first line, raw text)
    for fields in reader:
        lines = tap.take()
        if _is_blank(fields):
            continue
        first = reader.line_num - len(lines) + 1
        if header is None:
            header, header_line = _trim_trailing_empty([_norm_name(f) for f in fields]), first
            continue
        rows.extend(_split_if_broken(fields, lines, first, len(header), delimiter))
    if header is None:
        raise InputError("file is empty: no header line; export again with a header row or remove the file", **where)
    _check_header(header, wanted, header_line, where)
    return _to_frame(header, rows)


def _is_blank(fields: list[str]) -> bool:
    # A blank (or whitespace-only) physical line is not a record; ";;;" is (an empty row).
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _trim_trailing_empty(fields: list[str]) -> list[str]:
    # Some exporters end every line with the delimiter: "a;b;c;" -> drop the trailing empty fields.
    while len(fields) > 1 and fields[-1] == "":
        fields = fields[:-1]
    return fields


def _split_if_broken(fields, lines, first, n_cols, delimiter):
    """One record, or -- if it spans lines, has the wrong field count and its lines parse fine
    on their own -- one record per physical line (an unbalanced quote must not swallow the rest
    of the file into a single rejected row)."""
    record = [(fields, first, _strip_eol("".join(lines)))]
    if len(lines) < 2 or _count_ok(fields, n_cols):
        return record
    singles = [(next(csv.reader([ln], delimiter=delimiter), []), first + i, _strip_eol(ln))
               for i, ln in enumerate(lines)]
    singles = [s for s in singles if not _is_blank(s[0])]
    if any(_count_ok(f, n_cols) for f, _, _ in singles):
        return singles
    return record


def _strip_eol(s: str) -> str:
    return s[:-2] if s.endswith("\r\n") else s[:-1] if s.endswith(("\n", "\r")) else s


def _count_ok(fields: list[str], n_cols: int) -> bool:
    # Extra fields are tolerated only when empty (a trailing delimiter).
    return len(fields) == n_cols or len(_trim_trailing_empty(fields)) == n_cols


def _fault(fields: list[str], n_cols: int) -> str | None:
    if all(not f.strip() for f in fields):
        return "empty_row"
    if not _count_ok(fields, n_cols):
        return "bad_field_count"
    if any(len(f) > MAX_FIELD_CHARS for f in fields):
        return "field_too_long"
    return None


def _to_frame(header: list[str], rows: list[tuple[list[str], int, str]]) -> pd.DataFrame:
    n = len(header)
    values, lines, raws, faults = [], [], [], []
    for fields, line, raw in rows:
        fault = _fault(fields, n)
        # Short rows are padded with missing values, long ones cut: the columns of a faulted row
        # are only a hint (e.g. for the id in a message); ``_raw`` holds the whole record.
        values.append((fields + [None] * n)[:n])
        lines.append(line)
        raws.append(raw)
        faults.append(fault)
    frame = pd.DataFrame(values, columns=header, dtype="str") if values else \
        pd.DataFrame({h: pd.Series(dtype="str") for h in header})
    frame["_line"] = np.asarray(lines, dtype="int64")
    frame["_raw"] = pd.Series(raws, dtype="str")
    frame["_fault"] = pd.Series(faults, dtype="str")
    return frame
