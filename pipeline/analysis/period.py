"""A quarter or a year from the weekly archive: the steering group's lägesbild.

EST works weekly, but its steering group picks priority areas each quarter and follows up
each year (and lag 2023:196 asks every municipality for a lägesbild and an action plan).
Everything here is computed from what the weekly archives publish, so a period report can
never show more than the weeks did:

* **Trends**: per group and named area, the period's weekly rate against the previous period
  and the same period a year earlier, each with the E-test for two Poisson rates of
  different exposure (exposure = weeks the data cover in each period) and Benjamini–Hochberg
  over the whole table (``pipeline.analysis.trends``). Only q < ``trends.alpha`` is a change.
* **Recurring places**: in how many of the period's weeks a hotspot zone (the week's, whole
  day) lay at each place.
* **Seasonal pattern**: counts per month × time of day and weekday × time of day.
* **Priority areas**: the three named areas that combine recurring zones, a tested rise and
  volume, each with its reasons in words.

Periods are written ``2026-Q3`` (a quarter) or ``2026`` (a year). A week belongs to the period
that holds its Thursday, as ISO 8601 assigns weeks to years.

>>> period_weeks("2026-Q1")[:2], period_weeks("2026-Q1")[-1], len(period_weeks("2026"))
(['2026-W01', '2026-W02'], '2026-W13', 53)
>>> previous_period("2026-Q1"), previous_period("2026"), year_before("2026-Q3")
('2025-Q4', '2025', '2025-Q3')
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.analysis.trends import ALL_KEY, bh_qvalues, direction, e_test
from pipeline.analysis.weeks import iso_week_of
from pipeline.errors import LagesbildError
from pipeline.schema import ALL_DAY, OUTSIDE_AREA, WEEK_PERIOD

PERIOD_FORMAT = "YYYY-Qn for a quarter (e.g. 2026-Q3) or YYYY for a year (e.g. 2026)"
_PERIOD = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")
MONTHS_SV = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


@dataclass(frozen=True)
class Period:
    year: int
    quarter: int | None  # None = the whole year

    @property
    def label(self) -> str:
        return f"{self.year}" if self.quarter is None else f"{self.year}-Q{self.quarter}"

    def months(self) -> tuple[int, int]:
        """First and last month (1–12)."""
        return (1, 12) if self.quarter is None else (3 * self.quarter - 2, 3 * self.quarter)


def parse_period(text: str) -> Period:
    """``2026-Q3`` or ``2026`` as a Period; a one-line error otherwise.

    >>> parse_period("2026-Q3")
    Period(year=2026, quarter=3)
    """
    m = _PERIOD.match(str(text).strip())
    if not m:
        raise LagesbildError(f"PERIOD={text!r} is not a period; write {PERIOD_FORMAT}")
    return Period(int(m.group(1)), int(m.group(2)) if m.group(2) else None)


def period_weeks(text: str) -> list[str]:
    """The ISO weeks whose Thursday falls in the period, in order."""
    p = parse_period(text)
    first_month, last_month = p.months()
    start = dt.date(p.year, first_month, 1)
    end = dt.date(p.year + (last_month == 12), last_month % 12 + 1, 1) - dt.timedelta(days=1)
    if p.quarter is None:  # a year is its ISO weeks, Thursday rule included
        return [iso_week_of(dt.date.fromisocalendar(p.year, w, 4)) for w in range(1, _iso_weeks(p.year) + 1)]
    thursday = start + dt.timedelta(days=(3 - start.weekday()) % 7)
    weeks = []
    while thursday <= end:
        weeks.append(iso_week_of(thursday))
        thursday += dt.timedelta(weeks=1)
    return weeks


def _iso_weeks(year: int) -> int:
    return dt.date(year, 12, 28).isocalendar()[1]


def previous_period(text: str) -> str:
    """The period just before (the quarter before, or the year before)."""
    p = parse_period(text)
    if p.quarter is None:
        return f"{p.year - 1}"
    return f"{p.year - 1}-Q4" if p.quarter == 1 else f"{p.year}-Q{p.quarter - 1}"


def year_before(text: str) -> str:
    """The same period one year earlier."""
    p = parse_period(text)
    return f"{p.year - 1}" if p.quarter is None else f"{p.year - 1}-Q{p.quarter}"


# -- trends --------------------------------------------------------------------------------


def period_trends(series: pd.DataFrame, period: str, cfg, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Per group and area: events, weekly rate, and the tested change against the previous
    period and the same period a year earlier.

    ``series`` is the archive's ``series`` table (week, area, group, n; totals under
    ``ALL_KEY``), ``labels`` {"group": {key: label}, "area": {name: name}}. Exposure is the
    number of the period's weeks the series covers, so a half-covered period compares fairly.
    """
    covered = set(series["week"].astype(str))
    windows = {
        "now": period_weeks(period),
        "prev": period_weeks(previous_period(period)),
        "year": period_weeks(year_before(period)),
    }
    weeks = {k: [w for w in v if w in covered] for k, v in windows.items()}
    rows = []
    for dim, col, other in (("group", "group", "area"), ("area", "area", "group")):
        sel = series[series[other] == ALL_KEY]
        for key, label in labels[dim].items():
            s = sel[sel[col] == key]
            counts = {k: int(s.loc[s["week"].isin(w), "n"].sum()) for k, w in weeks.items()}
            rows.append(
                {
                    "dimension": dim,
                    "key": key,
                    "label": label,
                    **{f"n_{k}": counts[k] for k in weeks},
                    **{f"weeks_{k}": len(w) for k, w in weeks.items()},
                }
            )
    table = pd.DataFrame(rows)
    for ref in ("prev", "year"):
        table[f"p_{ref}"] = [
            _test(r.n_now, r.weeks_now, getattr(r, f"n_{ref}"), getattr(r, f"weeks_{ref}")) for r in table.itertuples()
        ]
        table[f"pct_{ref}"] = [
            _pct(r.n_now, r.weeks_now, getattr(r, f"n_{ref}"), getattr(r, f"weeks_{ref}")) for r in table.itertuples()
        ]
    q = bh_qvalues(np.concatenate([table["p_prev"].to_numpy(float), table["p_year"].to_numpy(float)]))
    table["q_prev"], table["q_year"] = q[: len(table)], q[len(table) :]
    alpha = cfg.trends.alpha
    for ref in ("prev", "year"):
        table[f"direction_{ref}"] = [
            direction(float(p) if math.isfinite(p) else 0.0, float(qv), alpha)
            for p, qv in zip(table[f"pct_{ref}"], table[f"q_{ref}"])
        ]
    return table


def _test(k1, n1, k2, n2) -> float:
    return e_test(k1, n1, k2, n2) if n1 and n2 else math.nan


def _pct(k1, n1, k2, n2) -> float:
    """Change of the weekly rate in percent; NaN without a base."""
    if not (n1 and n2) or k2 == 0:
        return math.nan
    return (k1 / n1 - k2 / n2) / (k2 / n2) * 100.0


# -- recurring places ----------------------------------------------------------------------


def recurring_places(zones_by_week: dict[str, gpd.GeoDataFrame], areas) -> pd.DataFrame:
    """Per place: in how many weeks a hotspot zone (the week's own, whole day) lay there, its
    named area, and the events those zones held; most recurring first.

    >>> import shapely
    >>> z = gpd.GeoDataFrame({"period": ["vecka"], "time_of_day": ["alla"], "place_name": ["Torget"],
    ...                       "n_events": [4]}, geometry=[shapely.box(0, 0, 10, 10)], crs="EPSG:3006")
    >>> a = gpd.GeoDataFrame({"name": ["Centrum"]}, geometry=[shapely.box(-5, -5, 50, 50)], crs="EPSG:3006")
    >>> recurring_places({"2026-W01": z, "2026-W02": z}, a).to_dict("records")
    [{'place': 'Torget', 'area': 'Centrum', 'weeks': 2, 'n_events': 8}]
    """
    rows = []
    for week, zones in zones_by_week.items():
        if zones is None or len(zones) == 0:
            continue
        own = zones[(zones["period"].astype(str) == WEEK_PERIOD) & (zones["time_of_day"].astype(str) == ALL_DAY)]
        for row in own.itertuples():
            rows.append(
                {
                    "week": week,
                    "place": str(row.place_name or "namnlös plats"),
                    "area": _area_of(row.geometry, areas),
                    "n_events": int(row.n_events),
                }
            )
    if not rows:
        return pd.DataFrame(columns=["place", "area", "weeks", "n_events"])
    frame = pd.DataFrame(rows)
    out = frame.groupby(["place", "area"]).agg(weeks=("week", "nunique"), n_events=("n_events", "sum")).reset_index()
    return out.sort_values(["weeks", "n_events", "place"], ascending=[False, False, True], ignore_index=True)


def _area_of(geometry, areas) -> str:
    if areas is None or len(areas) == 0:
        return OUTSIDE_AREA
    point = geometry.representative_point()
    hit = areas[areas.contains(point)]
    return str(hit["name"].iloc[0]) if len(hit) else OUTSIDE_AREA


# -- seasonal pattern ----------------------------------------------------------------------


def seasonal_tables(events: pd.DataFrame, cfg) -> dict[str, pd.DataFrame]:
    """Counts per month × time of day and weekday × time of day of the period's public events.

    >>> ev = pd.DataFrame({"occurred_at": ["2026-07-03T22:10:00+02:00"], "weekday": [5], "time_of_day": ["kvall"]})
    >>> seasonal_tables(ev, cfg)["month"].loc["juli", "kvall"]
    np.int64(1)
    """
    bins = list(cfg.time_of_day)
    if events is None or len(events) == 0:
        empty = pd.DataFrame(0, index=[], columns=bins, dtype="int64")
        return {"month": empty, "weekday": empty}
    months = pd.to_datetime(events["occurred_at"].astype(str), utc=True).dt.tz_convert(cfg.timezone).dt.month
    month = pd.crosstab(months, events["time_of_day"].astype(str)).reindex(columns=bins, fill_value=0)
    month.index = [MONTHS_SV[m - 1] for m in month.index]
    weekday = pd.crosstab(events["weekday"].astype(int), events["time_of_day"].astype(str))
    weekday = weekday.reindex(index=range(1, 8), columns=bins, fill_value=0)
    return {"month": month.astype("int64"), "weekday": weekday.astype("int64")}


# -- priorities ----------------------------------------------------------------------------


def priority_areas(trends: pd.DataFrame, places: pd.DataFrame, n_weeks: int, k: int = 3) -> list[dict]:
    """The ``k`` named areas to prioritise, each with its reasons in Swedish.

    Score: the share of the period's weeks with a hotspot zone in the area (recurrence is what
    EST acts on), plus one for a tested rise against either reference, plus the area's share
    of all events. Areas outside every named area are not candidates (nobody can be sent
    "outside"). Ties go to the larger volume.
    """
    areas = trends[(trends["dimension"] == "area") & (trends["key"] != OUTSIDE_AREA)]
    total = max(int(areas["n_now"].sum()), 1)
    out = []
    for r in areas.itertuples():
        mine = places[places["area"] == r.key] if len(places) else places
        zone_weeks = int(mine["weeks"].max()) if len(mine) else 0
        rise = [ref for ref in ("prev", "year") if getattr(r, f"direction_{ref}") > 0]
        score = zone_weeks / max(n_weeks, 1) + len(rise) + r.n_now / total
        reasons = []
        if zone_weeks:
            reasons.append(f"hotspot-zon vid {mine.iloc[0]['place']} {zone_weeks} av {n_weeks} veckor")
        for ref in rise:
            what = "föregående period" if ref == "prev" else "samma period förra året"
            reasons.append(f"säker ökning mot {what} ({_pct_text(getattr(r, f'pct_{ref}'))})")
        reasons.append(f"{r.n_now} händelser, {round(100 * r.n_now / total)} % av alla i namngivna områden")
        out.append({"area": r.key, "score": score, "n": int(r.n_now), "reasons": reasons})
    out.sort(key=lambda d: (-d["score"], -d["n"], d["area"]))
    return [d for d in out if d["n"] > 0][:k]


def _pct_text(pct: float) -> str:
    return "–" if not math.isfinite(pct) else f"{pct:+.0f} %".replace("-", "−")
