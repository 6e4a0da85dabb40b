"""One ISO week: hotspot zones and clusters per period × time of day, area summary, key figures.

Pure functions: canonical events (all weeks) in, a :class:`WeekAnalysis` out. File I/O is in
``pipeline/archive.py``.

Counting rule: events whose ``duplicate_of`` is non-empty are kept in ``WeekAnalysis.events``
but left out of every count, density and cluster (the first report of an incident counts).
Sensitive categories count in densities, zones and aggregates, but never in clusters
(a cluster polygon is drawn around its points, so it would reveal where they are).

>>> wa = analyse_week(events, cfg, "2026-W47", boundary, areas)      # doctest: +SKIP
>>> wa.hotspots.groupby(["period", "time_of_day"]).size()            # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.errors import LagesbildError
from pipeline.schema import OUTSIDE_AREA

TZ = ZoneInfo("Europe/Stockholm")
CRS = "EPSG:3006"
PERIODS = ("vecka", "rullande")
ALL_DAY = "alla"

HOTSPOT_COLUMNS = ["period", "time_of_day", "level", "zone_id", "n_events", "share_events",
                   "area_km2", "share_area", "pai", "density_min", "status", "place_name"]
#: The period that zones are compared against to tell new from persistent (not archived).
BEFORE = "foregaende"
CLUSTER_COLUMNS = ["cluster_id", "period", "time_of_day", "n_events", "top_categories", "categories",
                   "partners", "first_at", "last_at", "peak_weekday", "peak_weekday_name", "peak_hour",
                   "status", "place_name"]


@dataclass(frozen=True)
class DensitySurface:
    """Kernel density in events/km² on ``grid``; ``values[0]`` is the southernmost row (as kde())."""

    values: np.ndarray
    grid: Any


@dataclass
class WeekAnalysis:
    week: str
    kernel: str
    bandwidth_m: float
    cell_size_m: float
    events: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame
    density: DensitySurface
    density_rolling: DensitySurface
    area_summary: pd.DataFrame
    key_figures: pd.DataFrame
    weekday_hour: pd.DataFrame


# -- ISO weeks ---------------------------------------------------------------------------------

def week_monday(week: str) -> dt.date:
    """Monday of an ISO week.

    >>> week_monday("2027-W01")
    datetime.date(2027, 1, 4)
    """
    try:
        year, num = week.split("-W")
        return dt.date.fromisocalendar(int(year), int(num), 1)
    except ValueError:
        raise LagesbildError(f"week {week!r}: write ISO weeks as YYYY-Www, e.g. 2026-W47") from None


def iso_week_of(day: dt.date) -> str:
    """>>> iso_week_of(dt.date(2027, 1, 1))
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


def weeks_present(events) -> list[str]:
    """Sorted distinct ISO weeks in ``events`` (zero-padded, so string order is time order).

    >>> weeks_present(events)                      # doctest: +SKIP
    ['2026-W45', '2026-W46']
    """
    weeks = events["iso_week"].dropna().astype(str)
    return sorted(set(weeks[weeks != ""]))


def latest_complete_week(events, now) -> str | None:
    """Latest week in the data whose Sunday has ended (midnight, Europe/Stockholm) by ``now``;
    None when there is none (the runner then asks for --week).

    ``now`` is a datetime; a naive one is taken as Stockholm local time.

    >>> latest_complete_week(events, dt.datetime(2026, 11, 23, 0, 0, tzinfo=TZ))   # doctest: +SKIP
    '2026-W47'
    """
    now = pd.Timestamp(now)
    now = now.tz_localize(TZ) if now.tzinfo is None else now.tz_convert(TZ)
    done = [w for w in weeks_present(events) if _week_end(w) <= now]
    return done[-1] if done else None


def _week_end(week: str) -> pd.Timestamp:
    """Local midnight that starts the Monday after ``week`` (DST-safe: built in local time)."""
    nxt = week_monday(week) + dt.timedelta(weeks=1)
    return pd.Timestamp(dt.datetime(nxt.year, nxt.month, nxt.day), tz=TZ)


# -- the week ----------------------------------------------------------------------------------

def analyse_week(events, cfg, week: str, boundary, areas, *, gazetteer=None) -> WeekAnalysis:
    """Analyse ``week`` from the canonical events of all weeks. See the module docstring.

    >>> wa = analyse_week(events, cfg, "2026-W47", boundary, areas)     # doctest: +SKIP
    >>> wa.density.values.shape == (wa.density.grid.ny, wa.density.grid.nx)   # doctest: +SKIP
    True
    """
    from pipeline.analysis.zones import clip_mask
    from pipeline.analysis.kde import Grid, resolve_bandwidth

    a = cfg.analysis
    week_monday(week)  # validates the week string
    counted = countable(events)
    window = _rolling_window(week, a.rolling_weeks)
    grid = Grid.anchored(boundary.bounds, a.cell_size_m)
    mask = clip_mask(grid, boundary)
    wk = counted[counted["iso_week"] == week]
    bandwidth = float(resolve_bandwidth(_xy(wk), a.bandwidth_m, a.cell_size_m))

    before = previous_weeks(week, a.rolling_weeks)
    periods = {"vecka": wk, "rullande": counted[counted["iso_week"].isin(window)],
               BEFORE: counted[counted["iso_week"].isin(before)]}
    zones, densities = _hotspots(periods, cfg, grid, mask, bandwidth)
    hotspots = _zone_status(zones, gazetteer)
    clusters = _week_clusters(counted, cfg, week, gazetteer)

    week_events = events[events["iso_week"] == week].copy()
    return WeekAnalysis(
        week=week, kernel=a.kernel, bandwidth_m=bandwidth, cell_size_m=float(a.cell_size_m),
        events=week_events, hotspots=hotspots, clusters=clusters,
        density=densities["vecka"], density_rolling=densities["rullande"],
        area_summary=area_summary(wk, cfg),
        key_figures=key_figures(counted, cfg, week, areas),
        weekday_hour=weekday_hour(wk),
    )


def countable(events):
    """Events that count: those not marked as a duplicate of an earlier one.

    >>> len(countable(events)) <= len(events)     # doctest: +SKIP
    True
    """
    dup = events["duplicate_of"].fillna("").astype(str).str.strip()
    return events[dup == ""]


def _rolling_window(week: str, n: int) -> list[str]:
    """The week itself and the ``n - 1`` before it."""
    return previous_weeks(week, n - 1) + [week]


def _time_slices(frame, cfg):
    """(time_of_day, subset) pairs: ``alla`` first, then each config bin in config order."""
    yield ALL_DAY, frame
    for key in cfg.time_of_day:
        yield key, frame[frame["time_of_day"] == key]


def _xy(frame) -> np.ndarray:
    if len(frame) == 0:
        return np.empty((0, 2))
    return np.column_stack([frame.geometry.x.to_numpy(float), frame.geometry.y.to_numpy(float)])


# -- hotspots ----------------------------------------------------------------------------------

def _hotspots(periods, cfg, grid, mask, bandwidth):
    """Zones for every (period, time_of_day) with at least 2 events; the all-day surfaces."""
    from pipeline.analysis.zones import hotspot_zones
    from pipeline.analysis.kde import kde

    a = cfg.analysis
    parts, densities = [], {}
    for period, frame in periods.items():
        for tod, subset in _time_slices(frame, cfg):
            pts = _xy(subset)
            if len(pts) < 2 and tod != ALL_DAY:
                continue  # one event is not a hotspot (and its surface is not kept)
            values = (kde(pts, grid, bandwidth, kernel=a.kernel) if len(pts)
                      else np.zeros((grid.ny, grid.nx)))
            if tod == ALL_DAY:
                densities[period] = DensitySurface(np.asarray(values, dtype=np.float32), grid)
            if len(pts) < 2:
                continue
            zones = hotspot_zones(values, grid, mask, a.levels, pts)
            if len(zones):
                parts.append(zones.assign(period=period, time_of_day=tod))
    return _concat(parts, HOTSPOT_COLUMNS), densities


def _concat(parts, columns):
    """Concatenate frames with ``columns`` first; an empty GeoDataFrame with them when none."""
    if not parts:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns},
                                geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    out = pd.concat(parts, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=CRS)
    rest = [c for c in out.columns if c not in columns]
    return out[[c for c in columns if c in out.columns] + rest]


def _zone_status(zones, gazetteer):
    """Mark each zone ``kvarstående`` when it overlaps a zone of the same level and time of day
    in the previous ``rolling_weeks`` weeks, else ``ny``; name it after the nearest place.

    Comparing with the preceding weeks together (not one sparse week) is what tells a
    persistent hotspot from a new one in a small town.
    """
    before = zones[zones["period"] == BEFORE]
    out = zones[zones["period"] != BEFORE].copy()
    status = []
    for row in out.itertuples():
        ref = before[(before["time_of_day"] == row.time_of_day) & (before["level"] == row.level)]
        hit = len(ref) and bool(ref.geometry.intersects(row.geometry).any())
        status.append("kvarstående" if hit else "ny")
    out["status"] = status
    out["place_name"] = _place_names(out, gazetteer)
    return _concat([out], HOTSPOT_COLUMNS) if len(out) else _concat([], HOTSPOT_COLUMNS)


# -- clusters ----------------------------------------------------------------------------------

def _week_clusters(counted, cfg, week, gazetteer):
    """Clusters of ``week`` with status ``ny``/``kvarstående`` against the previous week's."""
    from pipeline.analysis.clusters import mark_persistent

    current = _clusters(counted, cfg, week)
    previous = _clusters(counted, cfg, previous_weeks(week, 1)[0])
    parts = []
    for period in PERIODS:
        for tod in [ALL_DAY, *cfg.time_of_day]:
            cur = _select(current, period, tod)
            if len(cur):
                parts.append(mark_persistent(cur, _select(previous, period, tod)))
    out = _concat(parts, CLUSTER_COLUMNS)
    out["place_name"] = _place_names(out, gazetteer)
    return out[[c for c in CLUSTER_COLUMNS if c in out.columns]
               + [c for c in out.columns if c not in CLUSTER_COLUMNS]]


def _select(frame, period, tod):
    return frame[(frame["period"] == period) & (frame["time_of_day"] == tod)]


def _clusters(counted, cfg, week):
    """DBSCAN clusters (without status) for every (period, time_of_day) of ``week``.

    Sensitive events are left out: the polygon is drawn around the points themselves.
    """
    from pipeline.analysis.clusters import cluster_polygons
    from pipeline.analysis.dbscan import dbscan

    d = cfg.analysis.dbscan
    pool = counted[~counted["sensitive"].astype(bool)]
    periods = {"vecka": pool[pool["iso_week"] == week],
               "rullande": pool[pool["iso_week"].isin(_rolling_window(week, cfg.analysis.rolling_weeks))]}
    labels_tax = {k: c.label for k, c in cfg.taxonomy.items()}
    labels_partner = {k: p.label for k, p in cfg.partners.items()}
    parts = []
    for period, frame in periods.items():
        for tod, subset in _time_slices(frame, cfg):
            if len(subset) < d.min_samples:
                continue
            labels, _core = dbscan(_xy(subset), d.eps_m, d.min_samples)
            if not (np.asarray(labels) >= 0).any():
                continue
            polys = cluster_polygons(subset.reset_index(drop=True), labels, buffer_m=d.buffer_m,
                                     taxonomy_labels=labels_tax, partner_labels=labels_partner,
                                     id_prefix=f"{week}-{period}-{tod}")
            if len(polys):
                parts.append(polys.assign(period=period, time_of_day=tod))
    return _concat(parts, [c for c in CLUSTER_COLUMNS if c not in ("status", "place_name")])


def _place_names(polygons, gazetteer) -> list[str]:
    """Nearest gazetteer name to each polygon (a point inside it); "" without a gazetteer."""
    if gazetteer is None or len(polygons) == 0:
        return [""] * len(polygons)
    c = polygons.geometry.representative_point()
    return [str(n or "") for n in gazetteer.nearest_names(c.x.to_numpy(), c.y.to_numpy())]


# -- tables ------------------------------------------------------------------------------------

def area_summary(week_counted, cfg) -> pd.DataFrame:
    """Counts per area × category × time_of_day (non-zero only), small sensitive counts suppressed.

    ``time_of_day`` is ``alla`` (whole day) or a bin key; sensitive categories have ``alla`` only.

    >>> area_summary(countable(week_events), cfg).columns.tolist()     # doctest: +SKIP
    ['area', 'category', 'time_of_day', 'n_events', 'suppressed']
    """
    from pipeline.privacy import suppress_small

    keys = ["area", "category", "time_of_day"]
    frame = pd.DataFrame(week_counted[keys]).astype("string")
    sensitive_cats = sorted(cfg.sensitive_categories())
    # Sensitive categories get day totals only: with a per-bin breakdown as well, a suppressed
    # bin could be recovered as the day total minus the shown bins.
    per_bin = frame[~frame["category"].isin(sensitive_cats)]
    frame = pd.concat([frame.assign(time_of_day=ALL_DAY), per_bin], ignore_index=True)
    counts = frame.groupby(keys, dropna=False).size().rename("n_events").reset_index()
    counts = counts.sort_values(keys, ignore_index=True)
    sensitive = counts["category"].isin(sensitive_cats)
    out = suppress_small(counts, "n_events", sensitive, cfg.privacy.min_count)
    return out[[*keys, "n_events", "suppressed"]].reset_index(drop=True)


def key_figures(counted, cfg, week: str, areas) -> pd.DataFrame:
    """Week counts vs the mean of the previous ``rolling_weeks`` weeks, for every group, area,
    time bin and partner (zeros included).

    >>> key_figures(countable(events), cfg, "2026-W47", areas).columns.tolist()   # doctest: +SKIP
    ['dimension', 'key', 'label', 'n_week', 'mean_prev', 'change']
    """
    n_prev = cfg.analysis.rolling_weeks
    prev = previous_weeks(week, n_prev)
    wk = counted[counted["iso_week"] == week]
    before = counted[counted["iso_week"].isin(prev)]
    area_names = [str(n) for n in areas["name"]] if len(areas) else []
    dims = [
        ("group", "category_group", [(k, g.label) for k, g in cfg.groups.items()]),
        ("area", "area", [(n, n) for n in area_names + [OUTSIDE_AREA] if n]),
        ("time_of_day", "time_of_day", [(k, b.label) for k, b in cfg.time_of_day.items()]),
        ("partner", "source", [(k, p.label) for k, p in cfg.partners.items()]),
    ]
    rows = []
    for dim, col, keys in dims:
        now_counts = wk[col].astype(str).value_counts()
        prev_counts = before[col].astype(str).value_counts()
        for key, label in dict(keys).items():
            n = int(now_counts.get(key, 0))
            mean = float(prev_counts.get(key, 0)) / n_prev  # absent weeks count as 0
            rows.append((dim, key, label, n, mean, n - mean))
    return pd.DataFrame(rows, columns=["dimension", "key", "label", "n_week", "mean_prev", "change"])


def weekday_hour(week_counted) -> pd.DataFrame:
    """7 × 24 counts: index weekday 1–7 (Monday first), columns hour 0–23.

    >>> weekday_hour(countable(week_events)).shape          # doctest: +SKIP
    (7, 24)
    """
    table = pd.crosstab(week_counted["weekday"].astype(int), week_counted["hour"].astype(int))
    table = table.reindex(index=range(1, 8), columns=range(24), fill_value=0).astype("int64")
    table.index.name, table.columns.name = "weekday", "hour"
    return table
