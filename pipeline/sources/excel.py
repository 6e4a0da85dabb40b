"""Read one Excel workbook (.xlsx) into raw string rows with line numbers, like a CSV export.

The result is a :class:`~pipeline.sources.read.RawExport` whose frame has the same
bookkeeping columns as the CSV reader's (``_line``, ``_raw``, ``_fault``), so the stages
after reading do not care whether a register or a partner export came as CSV or Excel.
``_line`` is the worksheet's row number (what Excel shows at the left edge), so a message
names the row the coordinator sees. Fully blank rows are not records (like blank lines in
a CSV file); every other row is.

Cells become text the way a person reads them: date cells ``2026-09-28`` (with
`` 14:30`` when they carry a time), time cells ``14:30``, whole numbers without decimals,
other numbers with a decimal point. Excel stores dates as serial day numbers; cells
formatted as dates arrive as dates, and a bare serial number in a column the caller names
in ``date_columns`` is turned into a date with the workbook's own epoch (1900 or 1904).

>>> raw = read_xlsx(Path("insatser.xlsx"), "data/raw/insatser/insatser.xlsx",
...                 ["Insats-id", "Start"], {"file": "insatser.xlsx"}, date_columns=["Start"])  # doctest: +SKIP
>>> raw.frame[["Insats-id", "Start", "_line"]].iloc[0].tolist()                                # doctest: +SKIP
['A1', '2026-09-28', 2]
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from pipeline.errors import InputError
from pipeline.sources.read import MAX_FIELD_CHARS, META_COLUMNS, RawExport

#: ``RawExport.encoding`` of a workbook (there is no text encoding to detect).
XLSX_ENCODING = "xlsx"
#: Serial day numbers accepted as dates: 1927-10-14 .. 2173-10-14 in the 1900 system. Smaller
#: whole numbers in a date column are not dates but mistakes, and stay text.
SERIAL_RANGE = (10_000, 99_999)
_EPOCH_1900 = dt.datetime(1899, 12, 30)  # Excel's day 0 once its 1900 leap-year bug is absorbed
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")


def read_xlsx(
    path: Path, display_name: str, wanted: list[str], where: dict, *, sheet: str | None = None, date_columns=()
) -> RawExport:
    """Read worksheet ``sheet`` (default: the first) of ``path`` into a :class:`RawExport`.

    ``wanted`` are the header names that must be present; ``where`` (``file``, and for a
    partner ``partner``) names the source in every :class:`InputError`. Structural problems
    stop with one line: not a workbook, no such sheet, no header row, a missing or
    duplicated column, values in a column without a header.
    """
    book = _open_workbook(Path(path), where)
    try:
        rows, epoch = _sheet_rows(book, sheet, where), _epoch(book)
    finally:
        book.close()
    header_at = next((i for i, cells in enumerate(rows) if not _blank(cells)), None)
    if header_at is None:
        raise InputError("the worksheet is empty: no header row; add a header row or remove the file", **where)
    header_line, header_cells = header_at + 1, rows[header_at]
    header = _header(header_cells, rows[header_at + 1 :], header_line, where)
    _check_header([name for _, name in header], wanted, header_line, where)
    dates = {i for i, name in header if name in {_norm_name(c) for c in date_columns}}
    records = [(i + 1, cells) for i, cells in enumerate(rows) if i > header_at and not _blank(cells)]
    frame = _to_frame(header, records, dates, epoch)
    return RawExport(frame=frame, encoding=XLSX_ENCODING, delimiter="", path=Path(path), display_name=display_name)


def serial_to_date(value: float, epoch: dt.datetime = _EPOCH_1900) -> dt.date | None:
    """Excel serial day number -> date (None outside SERIAL_RANGE or with a time part).

    >>> serial_to_date(46293)
    datetime.date(2026, 9, 28)
    >>> serial_to_date(46293, dt.datetime(1904, 1, 1))
    datetime.date(2030, 9, 29)
    """
    if not (SERIAL_RANGE[0] <= value <= SERIAL_RANGE[1]) or value != int(value):
        return None
    return (epoch + dt.timedelta(days=int(value))).date()


def serial_text_to_date(text: str, epoch: dt.datetime = _EPOCH_1900) -> str | None:
    """``"46293"`` -> ``"2026-09-28"``; None when ``text`` is not a whole serial number.

    For CSV files saved from a sheet whose date column had no date format.

    >>> serial_text_to_date("46293"), serial_text_to_date("2026-09-28")
    ('2026-09-28', None)
    """
    text = str(text).strip()
    if not _SERIAL.fullmatch(text):
        return None
    day = serial_to_date(float(text), epoch)
    return day.isoformat() if day else None


# -- workbook --------------------------------------------------------------------------------


def _open_workbook(path: Path, where: dict):
    if not path.is_file():
        raise InputError("file not found", **where)
    try:
        # read_only streams the rows; data_only gives a formula's last computed value.
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        hint = (
            "an old .xls workbook or a password-protected one cannot be read; "
            "save it as an Excel workbook (.xlsx) without a password, or as CSV"
        )
        raise InputError(f"cannot be read as an Excel workbook ({reason}); {hint}", **where) from None


def _sheet_rows(book, sheet: str | None, where: dict) -> list[tuple]:
    if sheet is None:
        ws = book.worksheets[0]
    elif sheet in book.sheetnames:
        ws = book[sheet]
    else:
        raise InputError(
            f"no worksheet named {sheet!r}; sheets found: {book.sheetnames}. "
            "Fix `sheet` in config.yaml or rename the sheet",
            **where,
        )
    if ws.__class__.__name__ == "ReadOnlyChartsheet" or not hasattr(ws, "iter_rows"):
        raise InputError(f"sheet {ws.title!r} is a chart, not a table; point `sheet` at the data sheet", **where)
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    # Formatting can extend a sheet's used range far beyond its data; trailing blank rows go.
    while rows and _blank(rows[-1]):
        rows.pop()
    return rows


def _epoch(book) -> dt.datetime:
    epoch = getattr(book, "epoch", None)
    return epoch if isinstance(epoch, dt.datetime) else _EPOCH_1900


# -- header ----------------------------------------------------------------------------------


def _header(cells: tuple, below: list[tuple], line: int, where: dict) -> list[tuple[int, str]]:
    """(column index, name) of the named columns. Columns without a header are skipped when
    they are empty; one with values below is a structural error (whose data would it be?)."""
    names = [_norm_name(c) for c in cells]
    used = max((_last_filled(r) for r in below), default=0)
    for col in range(max(len(names), used)):
        name = names[col] if col < len(names) else ""
        if name == "" and any(col < len(r) and _cell_text(r[col]).strip() != "" for r in below):
            raise InputError(
                f"column {_letters(col)} has values but no header; give it a header or delete the column",
                line=line,
                column=_letters(col),
                **where,
            )
    return [(i, name) for i, name in enumerate(names) if name]


def _check_header(names: list[str], wanted: list[str], line: int, where: dict) -> None:
    seen, dups = set(), []
    for n in names:
        if n in seen and n:
            dups.append(n)
        seen.add(n)
    if dups:
        raise InputError(f"duplicate column name(s) {sorted(set(dups))} in the header; rename them", line=line, **where)
    reserved = [n for n in names if n in META_COLUMNS]
    if reserved:
        raise InputError(f"column name(s) {reserved} are reserved; rename them", line=line, **where)
    missing = [c for c in dict.fromkeys(_norm_name(w) for w in wanted) if c not in seen]
    if missing:
        raise InputError(
            f"configured column(s) {missing} not in the header; columns found: "
            f"{[n for n in names if n]}. Fix the column mapping in config.yaml or the header",
            line=line,
            column=missing[0] if len(missing) == 1 else None,
            **where,
        )


def _norm_name(value) -> str:
    # The CSV reader's normalisation: NFC, no BOM, trimmed (config.yaml is NFC).
    return unicodedata.normalize("NFC", _cell_text(value).replace("\ufeff", "").strip())


def _letters(col: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


# -- cells -----------------------------------------------------------------------------------


def _blank(cells) -> bool:
    return all(_cell_text(c).strip() == "" for c in cells)


def _last_filled(cells) -> int:
    for i in range(len(cells) - 1, -1, -1):
        if _cell_text(cells[i]).strip() != "":
            return i + 1
    return 0


def _cell_text(value, as_date: bool = False, epoch: dt.datetime = _EPOCH_1900) -> str:
    """One cell as the text a person reads in it (see module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "SANT" if value else "FALSKT"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        if as_date and (day := serial_to_date(float(value), epoch)) is not None:
            return day.isoformat()
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def _to_frame(header: list[tuple[int, str]], records: list[tuple[int, tuple]], dates: set[int], epoch) -> pd.DataFrame:
    names = [name for _, name in header]
    values, lines, raws, faults = [], [], [], []
    for line, cells in records:
        texts = [_cell_text(cells[i] if i < len(cells) else None, i in dates, epoch) for i, _ in header]
        values.append(texts)
        lines.append(line)
        raws.append(";".join(texts))
        faults.append("field_too_long" if any(len(t) > MAX_FIELD_CHARS for t in texts) else None)
    frame = (
        pd.DataFrame(values, columns=names, dtype="str")
        if values
        else pd.DataFrame({h: pd.Series(dtype="str") for h in names})
    )
    frame["_line"] = np.asarray(lines, dtype="int64")
    frame["_raw"] = pd.Series(raws, dtype="str")
    frame["_fault"] = pd.Series(faults, dtype="str")
    return frame
