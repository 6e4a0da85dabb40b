"""The one set of Swedish format helpers for everything people read: numbers, percentages,
weeks, dates, weekdays, times of day, hotspot levels, statuses and counts.

Map, report, index and sections all format through here, so a figure reads the same
everywhere ("1 234,5", "19 %", "vecka 47", "Kväll 18–24", "0,1 %").
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from pipeline.schema import ALL_DAY, STATUS_NEW, WEEKDAY_NAMES

MONTHS = ("jan", "feb", "mars", "apr", "maj", "juni", "juli", "aug", "sep", "okt", "nov", "dec")
WEEKDAYS = WEEKDAY_NAMES
WEEKDAYS_SHORT = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")


def is_missing(value) -> bool:
    """True for None, NaN and pandas.NA.

    >>> is_missing(pd.NA), is_missing(0)
    (True, False)
    """
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def sv_number(value, decimals: int = 0) -> str:
    """A number as Swedes write it: decimal comma, thin space between thousands; "–" if missing.

    >>> sv_number(1234.5, 1), sv_number(3), sv_number(None)
    ('1\u00a0234,5', '3', '–')
    """
    if is_missing(value):
        return "–"
    value = float(value)
    if math.isinf(value):
        return "∞"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def sv_percent(share, decimals: int = 0) -> str:
    """A share 0–1 as a Swedish percentage.

    >>> sv_percent(0.1923)
    '19\u00a0%'
    """
    return "–" if is_missing(share) else f"{sv_number(float(share) * 100, decimals)}\u00a0%"


def change_parts(change) -> tuple[str, str, str]:
    """(arrow, css class, text) for a change against the earlier mean.

    >>> change_parts(1.5)
    ('▲', 'lb-up', 'ökning +1,5')
    >>> change_parts(-2)
    ('▼', 'lb-down', 'minskning −2,0')
    """
    if is_missing(change):
        return ("", "lb-same", "ingen jämförelse")
    change = float(change)
    if abs(change) < 0.05:
        return ("●", "lb-same", "oförändrat ±0")
    if change > 0:
        return ("▲", "lb-up", f"ökning +{sv_number(change, 1)}")
    return ("▼", "lb-down", f"minskning −{sv_number(-change, 1)}")


def change_verdict(change, direction) -> tuple[str, str, str]:
    """(arrow, css class, text) of a change that was tested: ▲/▼ only for a significant one
    (``direction`` +1 / -1); otherwise "oförändrat" (no change at all) or "ingen säker
    förändring". ``direction`` None = not tested (an archive from before the test).

    >>> change_verdict(6.0, 1), change_verdict(-0.25, 0), change_verdict(0.0, 0)
    (('▲', 'lb-up', 'ökning'), ('', 'lb-same', 'ingen säker förändring'), ('', 'lb-same', 'oförändrat'))
    >>> change_verdict(1.0, None)
    ('', 'lb-same', 'ej prövad')
    """
    if is_missing(change):
        return ("", "lb-same", "ingen jämförelse")
    if direction is None or is_missing(direction):
        return ("", "lb-same", "ej prövad")
    if int(direction) > 0:
        return ("▲", "lb-up", "ökning")
    if int(direction) < 0:
        return ("▼", "lb-down", "minskning")
    return ("", "lb-same", "oförändrat" if abs(float(change)) < 0.05 else "ingen säker förändring")


def change_percent(pct) -> str:
    """A change in percent of the earlier mean, signed ("+25 %", "−40 %", "±0 %"); "–" when
    there is no base to compare with (missing).

    >>> change_percent(25.0), change_percent(-40.4), change_percent(float("nan"))
    ('+25 %', '−40 %', '–')
    """
    if is_missing(pct):
        return "–"
    pct = round(float(pct))
    if pct == 0:
        return "±0 %"
    return f"{'+' if pct > 0 else '−'}{sv_number(abs(pct))} %"


def recurrence_text(n, of: int) -> str:
    """In how many of the last ``of`` weeks a place was a zone: "3 av 4"; "–" if unknown.

    >>> recurrence_text(3, 4), recurrence_text(None, 12)
    ('3 av 4', '–')
    """
    return "–" if is_missing(n) else f"{int(n)} av {of}"


def row_recurrence(row, windows=(4, 12)) -> str:
    """A zone's or cluster's ``recurrence_<n>`` columns in one line; "–" without them.

    >>> from types import SimpleNamespace
    >>> row_recurrence(SimpleNamespace(recurrence_4=3, recurrence_12=9))
    '3 av 4 och 9 av 12 föregående veckor'
    """
    values = [getattr(row, f"recurrence_{n}", None) for n in windows]
    if all(is_missing(v) for v in values):
        return "–"
    return " och ".join(recurrence_text(v, n) for v, n in zip(values, windows)) + " föregående veckor"


def week_parts(week: str) -> tuple[int, int]:
    """(year, week number) of an ISO week string.

    >>> week_parts("2026-W47")
    (2026, 47)
    """
    year, num = week.split("-W")
    return int(year), int(num)


def week_period(week: str) -> str:
    """Monday–Sunday of an ISO week in Swedish.

    >>> week_period("2026-W47"), week_period("2026-W53")
    ('16–22 nov 2026', '28 dec 2026–3 jan 2027')
    """
    year, num = week_parts(week)
    mon = dt.date.fromisocalendar(year, num, 1)
    sun = mon + dt.timedelta(days=6)
    if mon.year != sun.year:
        return f"{_day(mon)} {mon.year}–{_day(sun)} {sun.year}"
    if mon.month != sun.month:
        return f"{_day(mon)}–{_day(sun)} {sun.year}"
    return f"{mon.day}–{_day(sun)} {sun.year}"


def _day(d: dt.date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]}"


def week_title(week: str, municipality: str) -> str:
    """Page title used by map and report.

    >>> week_title("2026-W47", "Mjölby kommun")
    'Lägesbild vecka 47, 2026 – Mjölby kommun'
    """
    year, num = week_parts(week)
    return f"Lägesbild vecka {num}, {year} – {municipality}"


def sv_datetime(value, weekday: bool = True) -> str:
    """An ISO timestamp (local time) in Swedish; "–" if missing or unreadable.

    >>> sv_datetime("2026-11-17T21:40:00+01:00")
    'tisdag 17 nov 2026 kl. 21:40'
    """
    if is_missing(value) or value == "":
        return "–"
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return "–"
    text = f"{ts.day} {MONTHS[ts.month - 1]} {ts.year} kl. {ts:%H:%M}"
    return f"{WEEKDAYS[ts.weekday()]} {text}" if weekday else text


def text(value) -> str:
    """A value as text; "" when missing.

    >>> text(None), text("Storgatan")
    ('', 'Storgatan')
    """
    return "" if is_missing(value) else str(value)


def count_text(n, k: int | None = None) -> str:
    """A count; a suppressed (missing) count reads "< k", or "–" without ``k``.

    >>> count_text(12), count_text(pd.NA, 3), count_text(None)
    ('12', '< 3', '–')
    """
    if is_missing(n):
        return f"< {k}" if k is not None else "–"
    return sv_number(n)


def level_text(level) -> str:
    """A hotspot level (% of the municipality's area).

    >>> level_text(0.1)
    '0,1\u00a0%'
    """
    return f"{float(level):g}".replace(".", ",") + "\u00a0%"


def time_label(key: str, cfg, all_day: str = "hela dygnet") -> str:
    """Label of a time-of-day key from the config; ``all_day`` for the whole day.

    >>> time_label("alla", None)
    'hela dygnet'
    """
    if key == ALL_DAY:
        return all_day
    return cfg.time_of_day[key].label if key in cfg.time_of_day else key


def status_text(status) -> str:
    """A zone's or cluster's status as shown.

    >>> status_text("ny"), status_text("kvarstående")
    ('Ny', 'Kvarstående')
    """
    return "Ny" if str(status) == STATUS_NEW else "Kvarstående"


def status_css(status) -> str:
    """CSS token of a status (ASCII).

    >>> status_css("kvarstående")
    'kvarstaende'
    """
    return "ny" if str(status) == STATUS_NEW else "kvarstaende"


def peak_text(weekday, hour, weekday_name: str = "") -> str:
    """The most active (weekday, hour) of a cluster, e.g. "tisdag kl. 21–22".

    >>> peak_text(2, 21), peak_text(7, 23, "söndag"), peak_text(None, None)
    ('tisdag kl. 21–22', 'söndag kl. 23–00', '–')
    """
    day = text(weekday_name)
    if not day and not is_missing(weekday):
        day = WEEKDAYS[int(weekday) - 1]
    if is_missing(hour):
        return day or "–"
    h = int(hour)
    return f"{day} kl. {h:02d}–{(h + 1) % 24:02d}".strip()


def row_peak(row) -> str:
    """``peak_text`` of a cluster row (attributes peak_weekday, peak_hour, peak_weekday_name)."""
    return peak_text(
        getattr(row, "peak_weekday", None), getattr(row, "peak_hour", None), getattr(row, "peak_weekday_name", "")
    )


SMALL_NUMBERS = ("noll", "en", "två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio", "elva", "tolv")


def sv_small(n) -> str:
    """A count 0–12 in words, as Swedish prose writes it; larger counts as digits.

    >>> sv_small(4), sv_small(26)
    ('fyra', '26')
    """
    n = int(n)
    return SMALL_NUMBERS[n] if 0 <= n < len(SMALL_NUMBERS) else sv_number(n)


def sv_date(value) -> str:
    """An ISO date as Swedish prose writes it: "7 sep 2026"; "" when missing.

    >>> sv_date("2026-09-07"), sv_date("")
    ('7 sep 2026', '')
    """
    if is_missing(value) or not str(value).strip():
        return ""
    day = dt.date.fromisoformat(str(value)[:10])
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def date_range_text(start, end, ongoing: str = "pågår") -> str:
    """A period between two ISO dates, month and year once when both share them:
    "14 sep–25 okt 2026", "5–9 okt 2026"; without an end "7 sep 2026 – pågår".

    >>> date_range_text("2026-09-14", "2026-10-25"), date_range_text("2026-10-05", "2026-10-09")
    ('14 sep–25 okt 2026', '5–9 okt 2026')
    >>> date_range_text("2026-09-07", "")
    '7 sep 2026 – pågår'
    """
    if is_missing(end) or not str(end).strip():
        return f"{sv_date(start)} – {ongoing}"
    a, b = dt.date.fromisoformat(str(start)[:10]), dt.date.fromisoformat(str(end)[:10])
    if a == b:
        return sv_date(start)
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}–{sv_date(end)}"
    if a.year == b.year:
        return f"{a.day} {MONTHS[a.month - 1]}–{sv_date(end)}"
    return f"{sv_date(start)}–{sv_date(end)}"


def ratio_change_text(ratio, low=None, high=None) -> str:
    """A rate ratio as a signed percent change, with its 95 % interval when given:
    "−48 % (95 % KI −66 % till −22 %)"; "–" when missing.

    >>> ratio_change_text(0.52, 0.34, 0.78).replace("\\u00a0", " ")
    '−48 % (95 % KI −66 % till −22 %)'
    >>> ratio_change_text(float("nan"))
    '–'
    """
    if is_missing(ratio):
        return "–"
    out = change_percent((float(ratio) - 1) * 100)
    if low is None or is_missing(low) or is_missing(high):
        return out
    low_text, high_text = (change_percent((float(v) - 1) * 100) for v in (low, high))
    return f"{out} (95\u00a0% KI {low_text} till {high_text})"
