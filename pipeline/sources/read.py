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

import codecs
import csv
import glob
import io
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipeline.config import Partner
from pipeline.errors import InputError
from pipeline.privacy import redact

#: Delimiters tried by ``delimiter: auto``, in order of preference on a tie.
DELIMITERS = (";", ",", "\t", "|")
#: A field longer than this is not a real field (usually an unbalanced quote): the row is rejected.
MAX_FIELD_CHARS = 10_000
#: Bookkeeping columns added to every raw frame.
META_COLUMNS = ("_line", "_raw", "_fault")

_BOM = b"\xef\xbb\xbf"
#: Single-byte encodings ``encoding: auto`` chooses between, by evidence, when a file is not UTF-8.
SINGLE_BYTE = ("cp1252", "mac_roman")
#: Letters every Swedish export is full of: evidence for the encoding that shows them.
_SWEDISH = frozenset("åäöÅÄÖéÉ")
#: Non-ASCII characters that are plausible in an export; any other is evidence against an encoding.
_PLAUSIBLE = frozenset("åäöÅÄÖéÉèÈëüÜáÁàÀâíóúñçøØæÆ–—‘’“”…€£§°±²µ·½×«»©®™•\u00a0")
#: Valid multi-byte UTF-8 sequences (a cp1252 or Mac Roman file practically never has one).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
#: Signs of text decoded with the wrong encoding: the replacement character and C1 controls;
#: UTF-8 read as Windows-1252 ("SkadegÃ¶relse"); Mac Roman read as Windows-1252 ("Skadegšrelse");
#: Windows-1252 read as Mac Roman ("Skadegˆrelse").
_MOJIBAKE = re.compile(
    "[\ufffd\x80-\x9fŠšŒŽ‰ˆƒ≈÷]"
    "|[ÃÂ][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
#: Mapped fields not checked for mis-decoded text (free text is dropped or redacted anyway).
_UNCHECKED_FIELDS = ("description",)
#: Name of the codec error handler that decodes the bytes UTF-8 rejects as Windows-1252.
_FALLBACK = "lagesbild-cp1252"
#: The pandas string dtype of every raw column (what ``pd.DataFrame(..., dtype="str")`` gives).
_STR = pd.StringDtype("pyarrow", na_value=np.nan)

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


def expand_files(
    pattern: str | list[str], base_dir: Path, *, partner: str | None = None, root: Path | None = None
) -> list[Path]:
    """Files matching ``pattern`` (relative to ``base_dir``, or absolute; ``**`` recurses), sorted.

    ``pattern`` may be a list of patterns. With ``root`` (the raw folder), a pattern, a file or a
    symbolic link that leads outside it is refused before anything is read. ``partner`` serves
    the error messages.

    >>> expand_files("data/raw/polisen/*.csv", Path("."))    # doctest: +SKIP
    [PosixPath('data/raw/polisen/v46.csv'), PosixPath('data/raw/polisen/v47.csv')]
    """
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    files: list[Path] = []
    for pat in patterns:
        full = os.path.join(str(base_dir), os.path.expanduser(pat))
        if root is not None:
            _check_pattern_inside(pat, full, root, partner)
        for p in sorted(glob.glob(full, recursive=True)):
            if os.path.isfile(p):
                if root is not None:
                    _check_file_inside(Path(p), root, base_dir, partner)
                files.append(Path(p))
    files = list(dict.fromkeys(files))
    if not files:
        shown = pattern if isinstance(pattern, str) else ", ".join(patterns)
        raise InputError(
            f"no file matches {shown!r} (looked in {base_dir}); put the exports there "
            f"or fix `partners.{partner or '<name>'}.files` in config.yaml",
            partner=partner,
        )
    return files


def _static_prefix(pattern: str) -> str:
    """The folder part of a glob pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return os.path.join(*fixed) if fixed else "."


def _check_pattern_inside(pattern: str, full: str, root: Path, partner: str | None) -> None:
    folder = Path(_static_prefix(full)).resolve()
    if not _within(folder, root.resolve()):
        raise InputError(
            f"`partners.{partner or '<name>'}.files` ({pattern!r}) points outside the raw folder "
            f"({root}); exports are read only from there, so put them in a folder inside it",
            partner=partner,
        )


def _check_file_inside(path: Path, root: Path, base_dir: Path, partner: str | None) -> None:
    if not _within(path.resolve(), root.resolve()):
        what = "is a link that leads" if path.is_symlink() or any(p.is_symlink() for p in path.parents) else "lies"
        raise InputError(
            f"{what} outside the raw folder ({root}); it was not read. Copy the export itself "
            "into the partner's folder instead of linking to it",
            partner=partner,
            file=_shown(path, base_dir),
        )


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _shown(path: Path, base_dir: Path) -> str:
    try:
        return os.path.relpath(path, base_dir)
    except ValueError:
        return str(path)


#: Why a file beside the exports was not read (shown in the run's summary, in Swedish).
NOT_READ_REASONS = {
    "pattern": "matchar inte files-mönstret",
    "excel": "Excel-fil som files-mönstret inte tar med (lägg till t.ex. *.xlsx i partners.<partner>.files)",
    "old_excel": "gammal Excel-fil (.xls) kan inte läsas; spara den som .xlsx eller CSV",
    "dangling": "trasig länk (filen den pekar på finns inte)",
    "not_a_file": "varken fil eller mapp",
}


def not_read_files(pattern: str | list[str], base_dir: Path, read: list[Path]) -> list[dict]:
    """Files in the partner's folders (the fixed part of each pattern) that were not read,
    each with a reason (:data:`NOT_READ_REASONS`): so an export that is never picked up, an
    Excel file beside the CSVs or a dangling link shows in the summary instead of vanishing.
    Hidden files (``.name``) are left out.

    >>> not_read_files("data/raw/polisen/*.csv", Path("."), [])     # doctest: +SKIP
    [{'file': 'data/raw/polisen/v48.xlsx', 'reason': 'Excel-fil som files-mönstret inte tar med (...)'}]
    """
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    done = {os.path.abspath(p) for p in read}
    out, seen = [], set()
    for pat in patterns:
        folder = _static_prefix(os.path.join(str(base_dir), os.path.expanduser(pat)))
        for path in _entries(Path(folder), recursive="**" in pat):
            key = os.path.abspath(path)
            if key in done or key in seen:
                continue
            seen.add(key)
            out.append({"file": _shown(path, base_dir), "reason": NOT_READ_REASONS[_not_read_reason(path)]})
    return sorted(out, key=lambda d: d["file"])


def _entries(folder: Path, recursive: bool):
    if not folder.is_dir():
        return
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            if recursive:
                yield from _entries(path, recursive)
            continue
        yield path


def _not_read_reason(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "dangling"
    if not path.is_file():
        return "not_a_file"
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "excel"
    if suffix == ".xls":
        return "old_excel"
    return "pattern"


def read_export(path: Path, partner: str, pcfg: Partner, display_name: str) -> RawExport:
    """Read one export file into a :class:`RawExport` (see module docstring).

    An ``.xlsx`` workbook (partners send Excel) is read by :mod:`pipeline.sources.excel` into
    the same raw rows. Text is decoded by evidence from the whole file (:func:`decode_bytes`),
    and a file whose mapped columns still read as mis-decoded text is refused.
    """
    path = Path(path)
    where = {"partner": partner, "file": display_name}
    wanted = [_norm_name(c) for c in pcfg.columns.values()]
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from pipeline.sources.excel import read_xlsx  # noqa: PLC0415 - excel.py builds on this module's RawExport

        dates = [c for f, c in pcfg.columns.items() if f in ("date", "datetime", "end_date", "end_datetime")]
        raw = read_xlsx(path, display_name, wanted, where, date_columns=dates)
        check_decoded(raw.frame, pcfg, raw.encoding, where)
        return raw
    data = path.read_bytes()
    text, encoding = decode_bytes(data, pcfg.encoding, where)
    text = text.replace("\n\ufeff", "\n")  # BOMs of concatenated exports, mid-file
    header_line = _first_line(text)
    if header_line is None:
        raise InputError("file is empty: no header line; export again with a header row or remove the file", **where)
    delimiter = pcfg.delimiter if pcfg.delimiter != "auto" else sniff_delimiter(header_line, wanted)
    buf = _utf8_bytes(data, text, encoding)
    # a national export's text as a str is once or twice its bytes again: keep only the
    # bytes, which decode back to exactly this text if the exact reader needs it
    del data, text
    frame = fast_records(buf, delimiter, wanted, where)
    if frame is None:  # quotes, odd line ends or broken rows: the exact line-by-line reader
        frame = parse_records(buf.decode("utf-8"), delimiter, wanted, where)
    check_decoded(frame, pcfg, encoding, where)
    return RawExport(frame=frame, encoding=encoding, delimiter=delimiter, path=path, display_name=display_name)


def _first_line(text: str) -> str | None:
    r"""The first non-blank line (any line end), read from the start of ``text`` only: a
    StringIO of a national export's whole text would hold it again at 4 bytes a character.

    >>> _first_line("\r\n  \nA;B\r\n1;2")
    'A;B\r\n'
    """
    size = 1 << 16
    while True:
        lines = io.StringIO(text[:size], newline="").readlines()
        whole = size >= len(text)
        found = next((ln for ln in (lines if whole else lines[:-1]) if ln.strip()), None)  # the last may be cut
        if found is not None or whole:
            return found
        size *= 4


def _utf8_bytes(data: bytes, text: str, encoding: str) -> bytes:
    """The decoded text as UTF-8 bytes: the file's own bytes when they are that already."""
    if encoding == "utf-8" and b"\n\xef\xbb\xbf" not in data:
        return data
    if encoding == "utf-8-sig" and b"\n\xef\xbb\xbf" not in data[len(_BOM) :]:
        return data[len(_BOM) :]
    return text.encode("utf-8")


def check_decoded(frame: pd.DataFrame, pcfg: Partner, encoding: str, where: dict) -> None:
    """Refuse a file whose mapped columns hold mis-decoded text (mojibake such as
    ``SkadegÃ¶relse``): mapped that way it would silently become "Övrigt" or an unknown
    address. The message names line and column, and shows the value redacted."""
    for field, column in pcfg.columns.items():
        col = _norm_name(column)
        if field in _UNCHECKED_FIELDS or col not in frame.columns:
            continue
        values = frame[col].astype("string").fillna("")
        hit = values.str.contains(_MOJIBAKE, regex=True)
        if hit.any():
            i = hit.to_numpy().nonzero()[0][0]
            shown = redact(values.iloc[i])[:60]
            raise InputError(
                f"{shown!r} looks like text decoded with the wrong encoding (read as {encoding}); "
                "save the export as UTF-8, or set the partner's `encoding` in config.yaml",
                line=int(frame["_line"].iloc[i]),
                column=column,
                **where,
            )


# --- decoding ---------------------------------------------------------------------------------


def _cp1252_char(b: int) -> str:
    # cp1252 leaves five bytes undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D); those map like latin-1
    # (a C1 control character, which check_decoded refuses in a mapped column).
    return bytes([b]).decode("cp1252", errors="ignore") or chr(b)


def _cp1252_fallback(err: UnicodeDecodeError):
    """Codec error handler: the bytes UTF-8 rejects, as Windows-1252 -- one byte at a time, so
    the valid UTF-8 around them (on the same line too) is never decoded again another way."""
    return "".join(_cp1252_char(b) for b in err.object[err.start : err.end]), err.end


codecs.register_error(_FALLBACK, _cp1252_fallback)


def decode_bytes(data: bytes, encoding: str, where: dict) -> tuple[str, str]:
    r"""Decode ``data``; return (text, encoding used: utf-8-sig | utf-8 | cp1252 | mac_roman | mixed).

    ``encoding: auto`` decides from the whole file: valid UTF-8 is UTF-8; UTF-8 with a few
    invalid bytes (a stray Windows byte, or a Windows export concatenated to a UTF-8 one) is
    ``mixed``: the invalid bytes alone are read as Windows-1252; a file with no UTF-8 at all is
    Windows-1252 or Mac Roman, whichever reads as Swedish text (å, ä, ö) without implausible
    characters. UTF-16 and a workbook saved as .csv are refused with a message.

    >>> decode_bytes("Mjölby".encode("cp1252"), "auto", {})
    ('Mjölby', 'cp1252')
    >>> decode_bytes("Mjölby\rSkänninge".encode("mac_roman"), "auto", {})
    ('Mjölby\rSkänninge', 'mac_roman')
    >>> decode_bytes("Skadegörelse;".encode() + b"\x96", "auto", {})
    ('Skadegörelse;–', 'mixed')
    """
    if encoding != "auto":
        return _decode_strict(data, encoding, where), encoding
    _refuse_non_text(data, where)
    if data.startswith(_BOM):
        rest = data[len(_BOM) :]
        if _is_utf8(rest):
            return rest.decode("utf-8"), "utf-8-sig"
        return rest.decode("utf-8", errors=_FALLBACK), "mixed"  # the BOM says UTF-8, yet some bytes are not
    if _is_utf8(data):
        return data.decode("utf-8"), "utf-8"
    if _UTF8_SEQUENCE.search(data):
        return data.decode("utf-8", errors=_FALLBACK), "mixed"
    return _single_byte(data, where)


def _refuse_non_text(data: bytes, where: dict) -> None:
    if data.startswith(b"PK\x03\x04"):
        raise InputError(
            "is an Excel workbook or another zip file, not a CSV text file; give it the .xlsx "
            "name it has, or export CSV from Excel",
            line=1,
            **where,
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:2000].count(b"\x00") > 10:
        raise InputError(
            "is UTF-16 text (Excel's 'Unicode text'), which lagesbild does not read; save it as 'CSV UTF-8' instead",
            line=1,
            **where,
        )


def _evidence(text: str) -> tuple[int, int]:
    """(Swedish letters, implausible non-ASCII characters) in ``text``."""
    good = sum(1 for c in text if c in _SWEDISH)
    bad = sum(1 for c in text if c > "\x7f" and c not in _PLAUSIBLE)
    return good, bad


def _single_byte(data: bytes, where: dict) -> tuple[str, str]:
    """The single-byte encoding with the best evidence; refused when none reads as Swedish."""
    mac_line_ends = b"\r" in data and b"\n" not in data  # classic Mac OS: CR alone
    scored = []
    for i, name in enumerate(SINGLE_BYTE):
        text = "".join(_cp1252_char(b) for b in data) if name == "cp1252" else data.decode(name)
        good, bad = _evidence(text)
        tie_break = (name == "mac_roman") == mac_line_ends
        scored.append((good - 5 * bad, tie_break, -i, name, text, good, bad))
    score, _, _, name, text, good, bad = max(scored)
    if bad and good <= bad:
        first = next(i for i, b in enumerate(data) if b > 0x7F)
        raise InputError(
            f"cannot tell the text encoding: neither Windows-1252 nor Mac Roman reads it as Swedish "
            f"text (byte 0x{data[first]:02x}); save the export as UTF-8 or set the partner's "
            "`encoding` in config.yaml",
            line=data.count(b"\n", 0, first) + 1,
            **where,
        )
    return text, name


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
        raise InputError(
            f"cannot be read as {encoding} (byte 0x{data[err.start]:02x}); "
            "set `encoding: auto` for this partner in config.yaml",
            line=line,
            **where,
        ) from None


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
        raise InputError(
            f"duplicate column name(s) {sorted(set(dups))} in the header; rename them in the export",
            line=header_line,
            **where,
        )
    reserved = [n for n in names if n in META_COLUMNS]
    if reserved:
        raise InputError(
            f"column name(s) {reserved} are reserved; rename them in the export", line=header_line, **where
        )
    missing = [c for c in dict.fromkeys(wanted) if c not in seen]
    garbled = [n for n in names if _MOJIBAKE.search(n)]
    if missing and garbled:
        raise InputError(
            f"configured column(s) {missing} not in the header, which reads {garbled} (text decoded with "
            "the wrong encoding); save the export as UTF-8, or set the partner's `encoding` in "
            "config.yaml",
            line=header_line,
            **where,
        )
    if missing:
        raise InputError(
            f"configured column(s) {missing} not in the header; columns found: {names}. "
            f"Fix `partners.{where['partner']}.columns` in config.yaml or the export",
            line=header_line,
            **where,
        )


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


def fast_records(buf: bytes, delimiter: str, wanted: list[str], where: dict) -> pd.DataFrame | None:
    """:func:`parse_records` of ``buf`` (UTF-8) by pyarrow's multi-threaded CSV reader, or None.

    A national export has millions of rows; Python's csv module reads about 50 000 a second.
    The fast reader takes a file only where it gives exactly the rows, lines and raw texts the
    line-by-line reader gives: no quote character (a quoted field may span lines), no NUL, no
    lone carriage return, the header on line 1, every record on one line with the header's
    field count and no over-long field. Anything else (a broken row, a blank-looking row, an
    odd line end) returns None and the exact reader reads the whole file, so both readers
    always agree (tests/test_read.py compares them).
    """
    if b'"' in buf or b"\x00" in buf or buf.count(b"\r") != buf.count(b"\r\n") or len(delimiter) != 1:
        return None
    end = buf.find(b"\n")
    first = (buf if end < 0 else buf[:end]).rstrip(b"\r").decode("utf-8")
    raw_names = first.split(delimiter)
    header = _trim_trailing_empty([_norm_name(f) for f in raw_names])
    if _is_blank(raw_names) or len(header) < 2 or end < 0:
        return None
    _check_header(header, wanted, 1, where)
    lines, starts, ends = _line_spans(buf)
    data_lines = lines[1:]
    names = [f"c{i}" for i in range(len(raw_names))]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(buf),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, quote_char=False, escape_char=False, newlines_in_values=False
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.large_string() for c in names}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.num_rows != len(data_lines) or table.num_rows == 0:
        return None
    extra = [table[c] for c in names[len(header) :]]
    if any(pc.max(pc.utf8_length(col)).as_py() for col in extra):
        return None  # a value after the header's last column: bad_field_count, the exact reader says
    columns = [table[c] for c in names[: len(header)]]
    if any(pc.max(pc.utf8_length(col)).as_py() > MAX_FIELD_CHARS for col in columns):
        return None
    if _maybe_empty_rows(columns):
        return None
    raw = _raw_lines(buf, starts[data_lines], ends[data_lines])
    frame = pd.DataFrame({h: _str_series(col) for h, col in zip(header, columns)})
    frame["_line"] = (data_lines + 1).astype("int64")
    frame["_raw"] = _str_series(raw)
    frame["_fault"] = pd.Series(np.nan, index=frame.index, dtype="str")
    return frame


def _line_spans(buf: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(0-based indices of the non-empty physical lines, every line's start, its end without
    the line break). An empty line is skipped by both readers."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    breaks = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(buf)]])
    if len(starts) > 1 and starts[-1] == len(buf):  # the final line break ends the last line
        starts, ends = starts[:-1], ends[:-1]
    cr = ends > starts
    cr[cr] = arr[ends[cr] - 1] == 13
    ends = ends - cr
    return np.flatnonzero(ends > starts), starts, ends


def _maybe_empty_rows(columns) -> bool:
    """True if some row may have only blank fields (``empty_row``, decided by the exact reader).

    A row with a printable ASCII character in a field is not empty by any definition of
    whitespace; the rest (rare) are left to the exact reader."""
    some = None
    for col in columns:
        hit = pc.match_substring_regex(col, "[!-~]")
        some = hit if some is None else pc.or_(some, hit)
        if pc.all(some).as_py():
            return False
    return True


def _raw_lines(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The text of each line from its byte span (zero-copy offsets over the buffer, then one
    copy of the selected lines)."""
    offsets = np.empty(len(starts) * 2 + 1, dtype=np.int64)
    # every line as a string [start, end) and the gap up to the next start as another string
    offsets[0:-1:2] = starts
    offsets[1::2] = ends
    offsets[-1] = len(buf)
    spans = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(buf))
    return spans.take(pa.array(np.arange(0, len(offsets) - 1, 2)))


def _str_series(values) -> pd.Series:
    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return pd.Series(pd.arrays.ArrowStringArray(chunked.cast(pa.large_string()), dtype=_STR))


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
    singles = [
        (next(csv.reader([ln], delimiter=delimiter), []), first + i, _strip_eol(ln)) for i, ln in enumerate(lines)
    ]
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
    frame = (
        pd.DataFrame(values, columns=header, dtype="str")
        if values
        else pd.DataFrame({h: pd.Series(dtype="str") for h in header})
    )
    frame["_line"] = np.asarray(lines, dtype="int64")
    frame["_raw"] = pd.Series(raws, dtype="str")
    frame["_fault"] = pd.Series(faults, dtype="str")
    return frame
