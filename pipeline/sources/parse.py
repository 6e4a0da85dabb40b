"""Dates, times and numbers as Swedish exports write them.

Every function takes pandas Series of strings and is vectorised the cheap way: each *distinct*
string is parsed once in Python, then the results are mapped back onto all rows (exports have
many rows but few distinct dates).

>>> values, reason = parse_datetimes(pd.Series(["2026-11-16", "16.11.2026", "30/2/2026"]),
...                                  pd.Series(["14.30", "24:00", ""]))
>>> [str(v) for v in values[:2]], list(reason)
(['2026-11-16 14:30:00+01:00', '2026-11-17 00:00:00+01:00'], [<NA>, <NA>, 'bad_date'])
>>> parse_numbers(pd.Series(["6 465 010,5", "15.12", "abc", ""]))[0].tolist()
[6465010.5, 15.12, nan, nan]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

#: Swedish month names and abbreviations (plus the English spellings that differ).
MONTHS = {
    "januari": 1,
    "jan": 1,
    "februari": 2,
    "feb": 2,
    "mars": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "maj": 5,
    "may": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "augusti": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "okt": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
_WEEKDAYS = r"(?:måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag|mån|tis|ons|tor|tors|fre|lör|sön)\.?,?\s+"

# Time part inside a date-time string: "14:30", "14.30.00", "1430", "14:30:00.123".
_TIME_IN = r"(?P<time>\d{1,2}(?:[:.]\d{2}){1,2}(?:[.,]\d+)?|\d{3,4}|\d{6})"
_SUFFIX = rf"(?:(?:T|\s+|\s*kl\.?\s*){_TIME_IN}(?:\s*(?P<off>Z|[+-]\d{{2}}(?::?\d{{2}})?))?)?"
_DATE_PATTERNS = [
    # year first: 2026-11-16, 2026/11/16, 2026.11.16
    (re.compile(rf"(?P<y>\d{{4}})([-/.])(?P<m>\d{{1,2}})\2(?P<d>\d{{1,2}}){_SUFFIX}", re.I), False),
    # compact: 20261116
    (re.compile(rf"(?P<y>\d{{4}})(?P<m>\d{{2}})(?P<d>\d{{2}}){_SUFFIX}", re.I), False),
    # day first (Swedish; never month first): 16.11.2026, 16/11/2026, 6/1/2026, 16-11-2026
    (re.compile(rf"(?P<d>\d{{1,2}})([./-])(?P<m>\d{{1,2}})\2(?P<y>\d{{4}}){_SUFFIX}", re.I), False),
    # two-digit year only with . or /: "16.11.26". Not with "-": "26-11-16" is the Swedish
    # short form *year* first, so a dashed two-digit date is ambiguous and rejected.
    (re.compile(rf"(?P<d>\d{{1,2}})([./])(?P<m>\d{{1,2}})\2(?P<y>\d{{2}}){_SUFFIX}", re.I), False),
    # words: "16 nov 2026", "måndag 16 november 2026", "16 nov. 2026"
    (re.compile(rf"(?:{_WEEKDAYS})?(?P<d>\d{{1,2}})\.?\s+(?P<mon>[a-zåäö]+)\.?\s+(?P<y>\d{{4}}){_SUFFIX}", re.I), True),
]
_TIME_PATTERNS = [
    re.compile(r"(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2})(?:[.,]\d+)?)?"),  # 14:30, 14.30, 9:05:00
    re.compile(r"(?P<h>\d{1,2})(?P<m>\d{2})"),  # 1430, 930
    re.compile(r"(?P<h>\d{2})(?P<m>\d{2})(?P<s>\d{2})"),  # 143000
    re.compile(r"(?P<h>\d{1,2})"),  # 14 (hour only)
]
#: Cell texts that mean "no value" in exports (compared lower-case): missing, not malformed.
NULL_TOKENS = ("na", "n/a", "nan", "null", "none", "-", "--", "\u2013", "\u2014", "saknas", "uppgift saknas")
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%X", "%c", "%T", "%R")

#: Sentinel seconds-of-day for "no time given".
_NO_TIME = -1
_BAD = -2


def parse_datetimes(
    dates: pd.Series,
    times: pd.Series | None = None,
    formats: list[str] | None = None,
    tz: str = "Europe/Stockholm",
    order: str = "dmy",
) -> tuple[pd.Series, pd.Series]:
    """Parse date (+ optional time) strings to tz-aware timestamps in ``tz``.

    Returns ``(values, reason)``: ``values`` is ``datetime64[ns, tz]`` (NaT where not parsed);
    ``reason`` is a string Series, <NA> where parsed, else ``missing_date`` (blank date or a
    null marker such as ``NA``/``-``, see NULL_TOKENS) or
    ``bad_date`` (unreadable or impossible date or time, e.g. 2026-02-30 or 25:61).

    Accepted dates: ``2026-11-16`` (also with ``T``/space + time and ``Z``/``±HH:MM`` offsets,
    which are converted to local time), ``20261116``, ``16.11.2026``, ``16/11/2026``, ``6/1/2026``,
    ``16.11.26`` (day first, as Swedish exports write them), ``16 nov 2026`` and
    ``måndag 16 november 2026``. ``order="mdy"`` reads the two-number forms month first
    (``11/16/2026``), for a file that proves it (:func:`day_month_order`). ``formats``
    (strptime patterns from the partner config) are tried first. Times: ``14:30``, ``14.30``,
    ``1430``, ``9:05``, ``14:30:00``, ``kl 14.30``, ``14``; ``24:00`` means 00:00 the next day;
    a blank time means 00:00 (not an error). A non-blank time column overrides a time inside
    the date string.

    Daylight saving: a wall time in the spring gap (2026-03-29 02:30 does not exist in
    Stockholm) is moved forward by one hour (-> 03:30+02:00) -- the clock was not yet moved
    forward when the time was written down. An ambiguous autumn time (2026-10-25 02:30
    happens twice) takes the first instant (summer time, +02:00).

    >>> v, r = parse_datetimes(pd.Series(["2026-03-29 02:30", "2026-10-25T02:30"]))
    >>> [str(x) for x in v]
    ['2026-03-29 03:30:00+02:00', '2026-10-25 02:30:00+02:00']
    """
    idx = dates.index
    d_codes, d_uniq = pd.factorize(_as_text(dates), use_na_sentinel=True)
    parsed = [_parse_date(s, formats, order) for s in d_uniq]
    day_ns = np.array([p[0] for p in parsed] + [_NAT], dtype="int64")[d_codes]
    own_sec = np.array([p[1] for p in parsed] + [_NO_TIME], dtype="int64")[d_codes]
    off_min = np.array([p[2] for p in parsed] + [_NAT], dtype="int64")[d_codes]
    missing = d_codes == -1
    bad = ~missing & (day_ns == _NAT)

    sec = own_sec
    if times is not None:
        t_codes, t_uniq = pd.factorize(_as_text(pd.Series(times.to_numpy(), index=idx)))
        col_sec = np.array([_parse_time(s) for s in t_uniq] + [_NO_TIME], dtype="int64")[t_codes]
        sec = np.where(col_sec != _NO_TIME, col_sec, own_sec)
    bad |= ~missing & (sec == _BAD)
    ok = ~missing & ~bad
    wall = np.where(ok, day_ns + np.maximum(sec, 0) * 1_000_000_000, _NAT)
    values = _localise(wall, off_min, ok, tz)
    reason = pd.Series(pd.NA, index=idx, dtype="string")
    reason[missing] = "missing_date"
    reason[bad] = "bad_date"
    return pd.Series(values, index=idx), reason


@dataclass(frozen=True)
class DayMonthOrder:
    """How a file writes day and month: ``order`` 'dmy' or 'mdy'; ``problem`` None,
    'ambiguous' (slashed dates that could be either, nothing decides) or 'conflict' (both are
    proved); ``example``/``other`` are values that show it."""

    order: str = "dmy"
    problem: str | None = None
    example: str | None = None
    other: str | None = None


_TWO_NUMBERS = re.compile(rf"(?:{_WEEKDAYS})?(\d{{1,2}})([./-])(\d{{1,2}})\2(\d{{4}}|\d{{2}})(?!\d)", re.I)


def day_month_order(dates: pd.Series) -> DayMonthOrder:
    """Decide, from every value of a file's date column, whether ``a/b/yyyy`` is day or month
    first. A first number above 12 proves day first (16/11/2026), a second above 12 month
    first (11/16/2026). With no proof: dotted and dashed dates are Swedish (day first);
    slashed dates that could be either (05/11/2026) make the file ambiguous.

    >>> day_month_order(pd.Series(["11/16/2026", "11/5/2026"])).order
    'mdy'
    >>> day_month_order(pd.Series(["05/11/2026"])).problem
    'ambiguous'
    >>> day_month_order(pd.Series(["16/11/2026", "11/17/2026"])).problem
    'conflict'
    >>> day_month_order(pd.Series(["05.11.2026", "2026-11-05"]))
    DayMonthOrder(order='dmy', problem=None, example=None, other=None)
    """
    day_first = month_first = ambiguous = None
    for value in pd.unique(_as_text(dates).dropna()):
        m = _TWO_NUMBERS.match(str(value))
        if not m or (m[2] == "-" and len(m[4]) == 2):  # "26-11-16" is year first: never decides
            continue
        a, b = int(m[1]), int(m[3])
        if a > 12 >= b:
            day_first = day_first or str(value)
        elif b > 12 >= a:
            month_first = month_first or str(value)
        elif m[2] == "/" and a != b and max(a, b) <= 12:
            ambiguous = ambiguous or str(value)
    if day_first and month_first:
        return DayMonthOrder("dmy", "conflict", day_first, month_first)
    if month_first:
        return DayMonthOrder("mdy", None, month_first)
    if day_first or not ambiguous:
        return DayMonthOrder("dmy", None, day_first)
    return DayMonthOrder("dmy", "ambiguous", ambiguous)


def check_window(values: pd.Series, now, max_age_days: int, allow_future_days: int) -> pd.Series:
    """Reason per row: ``future_date`` (after now + allow_future_days), ``too_old``
    (before now - max_age_days) or <NA>. NaT gives <NA> (its reason comes from parsing).

    >>> v, _ = parse_datetimes(pd.Series(["2026-11-16", "2020-01-01", "2027-01-01"]))
    >>> check_window(v, pd.Timestamp("2026-11-20", tz="Europe/Stockholm"), 730, 1).tolist()
    [<NA>, 'too_old', 'future_date']
    """
    now = pd.Timestamp(now)
    tz = getattr(values.dt, "tz", None) or "Europe/Stockholm"
    now = now.tz_localize(tz) if now.tzinfo is None else now
    reason = pd.Series(pd.NA, index=values.index, dtype="string")
    reason[(values > now + pd.Timedelta(days=allow_future_days)).fillna(False).to_numpy(bool)] = "future_date"
    reason[(values < now - pd.Timedelta(days=max_age_days)).fillna(False).to_numpy(bool)] = "too_old"
    return reason


def parse_numbers(values: pd.Series, decimal: str = "auto") -> tuple[pd.Series, pd.Series]:
    """Parse numbers written with decimal comma or point and space thousands separators.

    Returns ``(numbers float64, bad bool)``. Spaces, non-breaking and narrow no-break spaces are
    dropped (Swedish thousands separators); ``−`` counts as minus. ``decimal`` is ``","``,
    ``"."`` or ``"auto"`` (decided per value: a lone ``,`` or ``.`` is the decimal mark; with
    both, the last one is; so ``1,234`` is 1.234 as in Swedish). The other mark is accepted only
    as a thousands separator in groups of three. Blank or a null marker (``NA``, ``NULL``,
    ``-``, ``saknas``, ... see NULL_TOKENS) -> NaN, not bad; garbage -> NaN, bad.

    >>> n, bad = parse_numbers(pd.Series(["6465010,5", "1.234,5", "1,2,3", None]))
    >>> n.tolist(), bad.tolist()
    ([6465010.5, 1234.5, nan, nan], [False, False, True, False])
    """
    codes, uniq = pd.factorize(_as_text(values))
    parsed = [_parse_number(s, decimal) for s in uniq]
    nums = np.array(parsed + [np.nan], dtype="float64")[codes]
    blank = codes == -1  # _as_text turned blanks into NA
    return (
        pd.Series(nums, index=values.index, dtype="float64"),
        pd.Series(np.isnan(nums) & ~blank, index=values.index, dtype="bool"),
    )


# --- helpers ----------------------------------------------------------------------------------

_NAT = np.iinfo("int64").min
_NS_DAY = 86_400 * 1_000_000_000
_EPOCH = date(1970, 1, 1).toordinal()


def _as_text(s: pd.Series) -> pd.Series:
    """Strings with blanks and null markers as NA, so that factorize gives them code -1."""
    s = s.astype("string").str.strip()
    return s.mask((s == "") | s.str.lower().isin(NULL_TOKENS))


def _parse_date(s: str, formats: list[str] | None, order: str = "dmy") -> tuple[int, int, int]:
    """-> (ns of local midnight or _NAT, seconds of day / _NO_TIME / _BAD, UTC offset minutes or _NAT)."""
    for fmt in formats or ():
        got = _parse_with_format(s, fmt)
        if got is not None:
            return got
    text = s.lower()
    for rx, words in _DATE_PATTERNS:
        m = rx.fullmatch(text)
        if m:
            return _from_match(m, words, swap=order == "mdy" and not words and rx.groupindex["d"] < rx.groupindex["m"])
    return _NAT, _BAD, _NAT


def _parse_with_format(s: str, fmt: str):
    try:
        dt = datetime.strptime(s, fmt)
    except ValueError:
        return None
    has_time = any(d in fmt for d in _TIME_DIRECTIVES)
    sec = dt.hour * 3600 + dt.minute * 60 + dt.second if has_time else _NO_TIME
    off = int(dt.utcoffset().total_seconds() // 60) if dt.tzinfo is not None else _NAT
    return _day_ns(dt.year, dt.month, dt.day), sec, off


def _from_match(m: re.Match, words: bool, swap: bool = False) -> tuple[int, int, int]:
    month = MONTHS.get(m["mon"]) if words else int(m["m"])
    day = int(m["d"])
    if swap:  # the file writes month first: the group named day holds the month
        month, day = day, month
    year = int(m["y"])
    year += 2000 if year < 100 else 0  # "16-11-26": two-digit years are this century
    day_ns = _day_ns(year, month, day) if month else _NAT
    if day_ns == _NAT:
        return _NAT, _BAD, _NAT
    sec = _parse_time(m["time"]) if m["time"] else _NO_TIME
    return day_ns, sec, _offset_minutes(m["off"])


def _day_ns(y: int, m: int, d: int) -> int:
    if not 1900 <= y <= 2200:  # outside this, the value is a typo (and overflows datetime64[ns])
        return _NAT
    try:
        return (date(y, m, d).toordinal() - _EPOCH) * _NS_DAY
    except ValueError:
        return _NAT


def _offset_minutes(off: str | None) -> int:
    if not off:
        return _NAT
    if off.upper() == "Z":
        return 0
    sign = -1 if off[0] == "-" else 1
    digits = off[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))


def _parse_time(s: str) -> int:
    """Seconds of day (86400 for 24:00), _NO_TIME for blank, _BAD if unreadable or impossible.

    >>> _parse_time("14.30"), _parse_time("930"), _parse_time("24:00"), _parse_time("25:61")
    (52200, 34200, 86400, -2)
    """
    if s is None or s is pd.NA:
        return _NO_TIME
    t = re.sub(r"^kl\.?\s*", "", str(s).strip().lower())
    if not t:
        return _NO_TIME
    for rx in _TIME_PATTERNS:
        m = rx.fullmatch(t)
        if m:
            h, mi, sec = int(m["h"]), int(m.groupdict().get("m") or 0), int(m.groupdict().get("s") or 0)
            if (h < 24 and mi < 60 and sec < 60) or (h == 24 and mi == 0 and sec == 0):
                return h * 3600 + mi * 60 + sec
            return _BAD
    return _BAD


def _localise(wall: np.ndarray, off_min: np.ndarray, ok: np.ndarray, tz: str) -> pd.DatetimeIndex:
    """Wall-clock ns (local, or at the given UTC offset) -> DatetimeIndex in ``tz``."""
    has_off = ok & (off_min != _NAT)
    local = np.where(ok & ~has_off, wall, _NAT).view("datetime64[ns]")
    out = pd.DatetimeIndex(local).tz_localize(
        tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent=pd.Timedelta(hours=1)
    )
    if has_off.any():
        utc = np.where(has_off, wall - off_min * 60 * 1_000_000_000, _NAT).view("datetime64[ns]")
        from_off = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(tz)
        out = out.where(~has_off, from_off)
    return out


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")
_NUM = {
    ".": re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:e[+-]?\d+)?|[+-]?\.\d+(?:e[+-]?\d+)?"),
    ",": re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?(?:e[+-]?\d+)?|[+-]?,\d+(?:e[+-]?\d+)?"),
}


def _parse_number(s: str, decimal: str) -> float:
    """One value -> float, NaN when blank or unreadable (``parse_numbers`` tells them apart)."""
    t = _SPACES.sub("", s).replace("\u2212", "-").lower()
    if not t:
        return np.nan
    mark = decimal if decimal != "auto" else _guess_decimal(t)
    if not _NUM[mark].fullmatch(t):
        return np.nan
    other = "," if mark == "." else "."
    return float(t.replace(other, "").replace(",", "."))


def _guess_decimal(t: str) -> str:
    if "," in t and "." in t:
        return "," if t.rfind(",") > t.rfind(".") else "."
    if t.count(".") > 1:
        return ","  # "1.234.567": points are thousands separators
    return "," if t.count(",") == 1 else "."  # "1,2,3" then fails the "." pattern
