"""ISO-week helpers: every product counts in ISO weeks written ``2026-W47`` (Europe/Stockholm).

Week strings are zero-padded, so string order is time order.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import LagesbildError

TZ = ZoneInfo("Europe/Stockholm")
WEEK_FORMAT = "YYYY-Www, e.g. 2026-W47"


def week_monday(week: str) -> dt.date:
    """Monday of an ISO week.

    >>> week_monday("2027-W01")
    datetime.date(2027, 1, 4)
    """
    try:
        year, num = week.split("-W")
        if len(num) != 2 or len(year) != 4:
            raise ValueError(week)
        return dt.date.fromisocalendar(int(year), int(num), 1)
    except (ValueError, AttributeError):
        raise LagesbildError(f"week {week!r} is not an ISO week; write {WEEK_FORMAT}") from None


def check_week(week: str) -> str:
    """``week`` itself when it is a valid ISO week string, else a one-line LagesbildError.

    >>> check_week("2026-W47")
    '2026-W47'
    """
    try:
        week_monday(week)
    except LagesbildError:
        raise LagesbildError(f"--week {week!r} is not an ISO week; write {WEEK_FORMAT}") from None
    return week


def iso_week_of(day: dt.date) -> str:
    """The ISO week containing ``day``.

    >>> iso_week_of(dt.date(2027, 1, 1))
    '2026-W53'
    """
    year, num, _ = day.isocalendar()
    return f"{year}-W{num:02d}"


def previous_weeks(week: str, n: int) -> list[str]:
    """The ``n`` ISO weeks before ``week``, oldest first (ISO years with 53 weeks handled).

    >>> previous_weeks("2027-W01", 2)
    ['2026-W52', '2026-W53']
    """
    monday = week_monday(week)
    return [iso_week_of(monday - dt.timedelta(weeks=k)) for k in range(n, 0, -1)]


def next_weeks(week: str, n: int) -> list[str]:
    """The ``n`` ISO weeks after ``week``, oldest first.

    >>> next_weeks("2026-W53", 2)
    ['2027-W01', '2027-W02']
    """
    monday = week_monday(week)
    return [iso_week_of(monday + dt.timedelta(weeks=k)) for k in range(1, n + 1)]


def rolling_window(week: str, n: int) -> list[str]:
    """The week itself and the ``n - 1`` before it, oldest first.

    >>> rolling_window("2026-W02", 3)
    ['2025-W52', '2026-W01', '2026-W02']
    """
    return previous_weeks(week, n - 1) + [week]


def weeks_between(first: str, last: str) -> list[str]:
    """Every ISO week from ``first`` to ``last`` inclusive (empty if ``last`` < ``first``).

    >>> weeks_between("2026-W52", "2027-W02")
    ['2026-W52', '2026-W53', '2027-W01', '2027-W02']
    """
    start, end = week_monday(first), week_monday(last)
    n = (end - start).days // 7
    return [iso_week_of(start + dt.timedelta(weeks=k)) for k in range(n + 1)]


def weeks_present(events) -> list[str]:
    """Sorted distinct ISO weeks in ``events``.

    >>> weeks_present(pd.DataFrame({"iso_week": ["2026-W46", "2026-W45", "", None, "2026-W46"]}))
    ['2026-W45', '2026-W46']
    """
    weeks = pd.unique(events["iso_week"].dropna())  # distinct first: a history has millions
    return sorted(str(w) for w in weeks if w != "")


def positions_in(values, labels) -> "np.ndarray":
    """Each value's index in ``labels`` (distinct), -1 for a value not in them or null.

    Looked up once per distinct value: a history's week column has millions of rows and a
    hundred distinct weeks.

    >>> positions_in(pd.Series(["2026-W46", None, "2026-W44", "2026-W46"]), ["2026-W45", "2026-W46"]).tolist()
    [1, -1, -1, 1]
    """
    values = values if isinstance(values, pd.Series) else pd.Series(values, copy=False)
    if isinstance(values.array, pd.arrays.ArrowStringArray):  # the store's columns: one Arrow hash lookup
        arrow = pa.array(values.array)
        found = pc.index_in(arrow, value_set=pa.array([str(x) for x in labels], type=arrow.type))
        return np.asarray(found.fill_null(-1), dtype=np.int64)
    codes, uniques = pd.factorize(values)
    at = pd.Index(list(labels)).get_indexer(pd.Index(uniques).astype(str))
    return np.append(at, -1)[codes]  # code -1 (null) takes the appended -1


def latest_complete_week(events, now) -> str | None:
    """Latest week in the data whose Sunday has ended (midnight, Europe/Stockholm) by ``now``;
    None when there is none (the runner then asks for --week).

    ``now`` is a datetime; a naive one is taken as Stockholm local time.

    >>> ev = pd.DataFrame({"iso_week": ["2026-W47", "2026-W48"]})
    >>> latest_complete_week(ev, dt.datetime(2026, 11, 30, 0, 0, tzinfo=TZ))
    '2026-W48'
    >>> latest_complete_week(ev, dt.datetime(2026, 11, 29, 23, 59))
    '2026-W47'
    """
    now = pd.Timestamp(now)
    now = now.tz_localize(TZ) if now.tzinfo is None else now.tz_convert(TZ)
    done = [w for w in weeks_present(events) if week_end(w) <= now]
    return done[-1] if done else None


def week_end(week: str) -> pd.Timestamp:
    """Local midnight that starts the Monday after ``week`` (DST-safe: built in local time).

    >>> week_end("2026-W43").isoformat()
    '2026-10-26T00:00:00+01:00'
    """
    nxt = week_monday(week) + dt.timedelta(weeks=1)
    return pd.Timestamp(dt.datetime(nxt.year, nxt.month, nxt.day), tz=TZ)
