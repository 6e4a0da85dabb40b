"""One ISO week: hotspot zones and clusters per period × time of day, area summary, key figures.

Pure functions: canonical events (all weeks) in, a :class:`WeekAnalysis` out. File I/O is in
``pipeline/archive.py``.

Counting rule: events whose ``duplicate_of`` is non-empty are kept in ``WeekAnalysis.events``
but left out of every count, density and cluster (the first report of an incident counts).
Publication rule (pipeline/privacy.py): densities, zones, clusters, key figures and the
weekday × hour table are built from ``privacy.spatial_events`` only, so no surface cell or
zone can locate a sensitive event and no total contains one; sensitive events are counted
in the area summary alone (``privacy.sensitive_table``: area × category, whole week).

>>> wa = analyse_week(events, cfg, "2026-W47", boundary, areas)
>>> sorted(set(wa.hotspots["period"])), sorted(set(wa.clusters["status"]))
(['rullande', 'vecka'], ['kvarstående', 'ny'])
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.analysis.clusters import INPUT_COLUMNS as CLUSTER_INPUTS
from pipeline.analysis.clusters import cluster_polygons, mark_persistent
from pipeline.analysis.dbscan import dbscan
from pipeline.analysis.grid import Grid, Surface, clip_mask
from pipeline.analysis.kde import kde, resolve_bandwidth
from pipeline.analysis.recurrence import COLUMNS as RECURRENCE_COLUMNS
from pipeline.analysis.recurrence import RECURRENCE_WINDOWS, footprints, recurrence
from pipeline.analysis.tables import (
    EVENT_LAYER_COLUMNS,
    area_summary,
    events_layer,
    key_figures,
    ordered_key_figures,
    weekday_hour,
    weekday_hour_long,
)
from pipeline.analysis.weeks import previous_weeks, rolling_window, week_monday
from pipeline.analysis.zones import hotspot_zones
from pipeline.memo import memoized
from pipeline.privacy import spatial_events
from pipeline.schema import (
    ALL_DAY,
    BEFORE_PERIOD,
    CRS,
    PERIODS,
    ROLLING_PERIOD,
    STATUS_NEW,
    STATUS_SEEN_BEFORE,
    WEEK_PERIOD,
)

HOTSPOT_COLUMNS = [
    "period",
    "time_of_day",
    "level",
    "zone_id",
    "n_events",
    "share_events",
    "area_km2",
    "share_area",
    "pai",
    "density_min",
    "status",
    "place_name",
    *RECURRENCE_COLUMNS,
]
CLUSTER_COLUMNS = [
    "cluster_id",
    "period",
    "time_of_day",
    "n_events",
    "top_categories",
    "categories",
    "partners",
    "first_at",
    "last_at",
    "peak_weekday",
    "peak_weekday_name",
    "peak_hour",
    "status",
    "place_name",
    *RECURRENCE_COLUMNS,
]


@dataclass
class WeekAnalysis:
    week: str
    kernel: str
    bandwidth_m: float
    cell_size_m: float
    events: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame
    density: Surface
    density_rolling: Surface
    area_summary: pd.DataFrame
    key_figures: pd.DataFrame
    weekday_hour: pd.DataFrame

    def layers(self, cfg) -> dict:
        """The archive layers of the week analysis (public event layer minimised)."""
        return {
            "events": events_layer(self.events, cfg),
            "hotspots": self.hotspots,
            "clusters": self.clusters,
            "density": self.density,
            "density_rolling": self.density_rolling,
            "area_summary": self.area_summary,
            "key_figures": ordered_key_figures(self.key_figures),
            "weekday_hour": weekday_hour_long(self.weekday_hour),
        }

    def info(self, cfg) -> dict[str, str]:
        """The parameters the week was analysed with, for ``run_info``."""
        a = cfg.analysis
        return {
            "kernel": self.kernel,
            "bandwidth_m": f"{self.bandwidth_m:.3f}",
            "bandwidth_config": str(a.bandwidth_m),
            "cell_size_m": f"{self.cell_size_m:g}",
            "levels": json.dumps(list(a.levels)),
            "eps_m": f"{a.dbscan.eps_m:g}",
            "min_samples": str(a.dbscan.min_samples),
            "buffer_m": f"{a.dbscan.buffer_m:g}",
            "rolling_weeks": str(a.rolling_weeks),
            "privacy_min_count": str(cfg.privacy.min_count),
            "min_zone_events": str(a.min_zone_events),
            "recurrence_weeks": json.dumps(list(RECURRENCE_WINDOWS)),
        }


#: The columns the week's surfaces, zones, clusters and figures read of the events, plus the
#: two the publication rule reads.
_ANALYSED = {
    "geometry", "iso_week", "time_of_day", "category_group", "area", *CLUSTER_INPUTS, "sensitive", "duplicate_of",
}  # fmt: skip
#: The event columns the week product reads (its declaration): the analysis's and the public
#: event layer's (never the free texts or partner ids, which no layer publishes).
WEEK_COLUMNS = tuple(sorted(_ANALYSED | {c for c in EVENT_LAYER_COLUMNS if c != "category_label"}))

# -- the week ----------------------------------------------------------------------------------


def analyse_week(events, cfg, week: str, boundary, areas, *, gazetteer=None, memo=None) -> WeekAnalysis:
    """Analyse ``week`` from the canonical events of all weeks. See the module docstring.
    ``memo`` (pipeline.memo) keeps what depends only on earlier weeks' events (their zone
    footprints, the "before" pool's zones and clusters), keyed by those events.

    >>> wa = analyse_week(events, cfg, "2026-W47", boundary, areas)
    >>> wa.density.values.shape == wa.density.grid.shape, wa.density.values.dtype
    (True, dtype('float32'))
    """
    a = cfg.analysis
    week_monday(week)  # validates the week string
    # the publication rule: no sensitive event shapes a surface or a total; only the columns
    # the analysis reads (filtering a history by week over every text column cost seconds)
    counted = spatial_events(events[[c for c in events.columns if c in _ANALYSED]])
    window = rolling_window(week, a.rolling_weeks)
    grid = Grid.anchored(boundary.bounds, a.cell_size_m)
    mask = clip_mask(grid, boundary)
    wk = counted[counted["iso_week"] == week]
    bandwidth = float(resolve_bandwidth(_xy(wk), a.bandwidth_m, a.cell_size_m))

    before = previous_weeks(week, a.rolling_weeks)
    periods = {
        WEEK_PERIOD: wk,
        ROLLING_PERIOD: counted[counted["iso_week"].isin(window)],
        BEFORE_PERIOD: counted[counted["iso_week"].isin(before)],
    }
    zones, densities = _hotspots(periods, cfg, grid, mask, bandwidth, memo=memo, surfaces=(WEEK_PERIOD, ROLLING_PERIOD))
    history = _zone_history(counted, cfg, week, grid, mask, memo)
    hotspots = _with_recurrence(_zone_status(zones, gazetteer), history, week)
    clusters = _with_recurrence(_week_clusters(counted, cfg, week, gazetteer, memo), history, week)

    week_events = events[(events["iso_week"] == week).to_numpy(bool)].copy()
    return WeekAnalysis(
        week=week,
        kernel=a.kernel,
        bandwidth_m=bandwidth,
        cell_size_m=float(a.cell_size_m),
        events=week_events,
        hotspots=hotspots,
        clusters=clusters,
        density=densities[WEEK_PERIOD],
        density_rolling=densities[ROLLING_PERIOD],
        area_summary=area_summary(countable(week_events), cfg),
        key_figures=key_figures(counted, cfg, week, areas),
        weekday_hour=weekday_hour(wk),
    )


def countable(events):
    """Events that count: those not marked as a duplicate of an earlier one.

    >>> len(events), len(countable(events))   # one event duplicates another partner's
    (31, 30)
    """
    dup = events["duplicate_of"].fillna("").astype(str).str.strip()
    return events[dup == ""]


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


def _hotspots(periods, cfg, grid, mask, bandwidth, levels=None, memo=None, surfaces=None):
    """Zones for every (period, time_of_day) with enough events to form one (at least
    ``analysis.min_zone_events``); the all-day surfaces of the periods in ``surfaces`` (default:
    every period). ``levels`` defaults to the config's.

    A time of day with fewer events gets no zones at all, so the report shows levels and zone
    counts only where a zone can exist. ``memo`` keeps each pool's zones by its points and
    settings (last week's rolling window is this week's "before" pool).
    """
    a = cfg.analysis
    levels = a.levels if levels is None else levels
    surfaces = set(periods) if surfaces is None else set(surfaces)
    parts, densities = [], {}
    for period, frame in periods.items():
        for tod, subset in _time_slices(frame, cfg):
            pts = _xy(subset)
            enough = len(pts) >= max(a.min_zone_events, 2)
            values = None
            if tod == ALL_DAY and period in surfaces:
                values = _density(pts, grid, bandwidth, a.kernel)
                densities[period] = Surface(np.asarray(values, dtype=np.float32), grid)
            if not enough:
                continue  # too few events for a zone
            key = ("hotspot zones", pts, grid, mask, bandwidth, a.kernel, list(levels), a.min_zone_events)
            zones = memoized(
                memo,
                key,
                lambda pts=pts, values=values: hotspot_zones(
                    _density(pts, grid, bandwidth, a.kernel) if values is None else values,
                    grid,
                    mask,
                    levels,
                    pts,
                    min_events=a.min_zone_events,
                ),
            )
            if len(zones):
                parts.append(zones.assign(period=period, time_of_day=tod))
    return _concat(parts, HOTSPOT_COLUMNS), densities


def _density(pts, grid, bandwidth: float, kernel: str) -> np.ndarray:
    return kde(pts, grid, bandwidth, kernel=kernel) if len(pts) else np.zeros((grid.ny, grid.nx))


def _zone_history(counted, cfg, week, grid, mask, memo=None) -> dict[str, dict]:
    """Zone footprints (broadest level, per time of day) of each of the weeks before ``week``
    that recurrence looks at, each week analysed as its own archive would be (its own
    bandwidth, the same grid and minimum zone size)."""
    a = cfg.analysis
    history = {}
    for w in previous_weeks(week, max(RECURRENCE_WINDOWS)):
        frame = counted[counted["iso_week"] == w]
        if len(frame) < max(a.min_zone_events, 2):
            continue
        key = ("zone footprints", _xy(frame), frame["time_of_day"], a, cfg.time_of_day, grid, mask)
        history[w] = memoized(memo, key, lambda frame=frame: _footprints(frame, cfg, grid, mask))
    return history


def _footprints(frame, cfg, grid, mask) -> dict:
    """One week's zone footprints, as its own archive draws them."""
    a = cfg.analysis
    bandwidth = float(resolve_bandwidth(_xy(frame), a.bandwidth_m, a.cell_size_m))
    zones, _ = _hotspots({WEEK_PERIOD: frame}, cfg, grid, mask, bandwidth, levels=[max(a.levels)], surfaces=())
    return footprints(zones)


def _with_recurrence(frame, history, week):
    """``frame`` with the recurrence columns (see pipeline/analysis/recurrence.py)."""
    counts = recurrence(frame, history, week)
    out = frame.copy()
    for col in RECURRENCE_COLUMNS:
        out[col] = counts[col].to_numpy() if len(frame) else pd.Series(dtype="int64")
    return out


def _concat(parts, columns):
    """Concatenate frames with ``columns`` first; an empty GeoDataFrame with them when none."""
    if not parts:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in columns}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS
        )
    out = pd.concat(parts, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=CRS)
    rest = [c for c in out.columns if c not in columns]
    return out[[c for c in columns if c in out.columns] + rest]


def _zone_status(zones, gazetteer):
    """Mark each zone seen before (``STATUS_SEEN_BEFORE``) when it overlaps a zone of the same
    level and time of day of the previous ``rolling_weeks`` weeks pooled, else ``STATUS_NEW``
    (the rule of pipeline.schema); name it after the nearest place.

    Comparing with the preceding weeks together (not one sparse week) is what tells a
    recurring hotspot from a new one in a small town.
    """
    before = zones[zones["period"] == BEFORE_PERIOD]
    out = zones[zones["period"] != BEFORE_PERIOD].copy()
    status = np.full(len(out), STATUS_NEW, dtype=object)
    if len(before) and len(out):  # every overlapping pair at once (a national week has hundreds of zones)
        cur, ref = shapely.STRtree(before.geometry.values).query(out.geometry.values, predicate="intersects")
        same = (out["time_of_day"].to_numpy()[cur] == before["time_of_day"].to_numpy()[ref]) & (
            out["level"].to_numpy(float)[cur] == before["level"].to_numpy(float)[ref]
        )
        status[np.unique(cur[same])] = STATUS_SEEN_BEFORE
    out["status"] = status.tolist()
    out["place_name"] = _place_names(out, gazetteer)
    return _concat([out], HOTSPOT_COLUMNS) if len(out) else _concat([], HOTSPOT_COLUMNS)


# -- clusters ----------------------------------------------------------------------------------


def _week_clusters(counted, cfg, week, gazetteer, memo=None):
    """Clusters of ``week``, each marked seen before when it overlaps a cluster of the same time
    of day found in the previous ``rolling_weeks`` weeks pooled (the rule of pipeline.schema)."""
    current = _clusters(counted, cfg, week, memo=memo)
    before = _clusters(counted, cfg, week, before=True, memo=memo)
    parts = []
    for period in PERIODS:
        for tod in [ALL_DAY, *cfg.time_of_day]:
            cur = _select(current, period, tod)
            if len(cur):
                parts.append(mark_persistent(cur, _select(before, BEFORE_PERIOD, tod)))
    out = _concat(parts, CLUSTER_COLUMNS)
    out["place_name"] = _place_names(out, gazetteer)
    return out[[c for c in CLUSTER_COLUMNS if c in out.columns] + [c for c in out.columns if c not in CLUSTER_COLUMNS]]


def _select(frame, period, tod):
    return frame[(frame["period"] == period) & (frame["time_of_day"] == tod)]


def _clusters(counted, cfg, week, *, before: bool = False, memo=None):
    """DBSCAN clusters (without status) for every (period, time_of_day) of ``week``; with
    ``before``, of the previous ``rolling_weeks`` weeks pooled (period BEFORE_PERIOD).

    Sensitive events are left out: the polygon is drawn around the points themselves.
    ``memo`` keeps each pool's clusters by its events: last week's rolling window is this
    week's "before" pool.
    """
    d = cfg.analysis.dbscan
    n = cfg.analysis.rolling_weeks
    pool = counted[~counted["sensitive"].astype(bool)]
    if before:
        periods = {BEFORE_PERIOD: pool[pool["iso_week"].isin(previous_weeks(week, n))]}
    else:
        periods = {
            WEEK_PERIOD: pool[pool["iso_week"] == week],
            ROLLING_PERIOD: pool[pool["iso_week"].isin(rolling_window(week, n))],
        }
    labels_tax = {k: c.label for k, c in cfg.taxonomy.items()}
    labels_partner = {k: p.label for k, p in cfg.partners.items()}
    parts = []
    for period, frame in periods.items():
        for tod, subset in _time_slices(frame, cfg):
            if len(subset) < d.min_samples:
                continue
            inputs = subset[[c for c in CLUSTER_INPUTS if c != "geometry"]]
            key = ("clusters", _xy(subset), inputs, d, labels_tax, labels_partner)
            polys = memoized(memo, key, lambda subset=subset: _pool_clusters(subset, d, labels_tax, labels_partner))
            if len(polys):
                prefix = f"{week}-{period}-{tod}"
                parts.append(polys.assign(cluster_id=prefix + polys["cluster_id"], period=period, time_of_day=tod))
    return _concat(parts, POOL_CLUSTER_COLUMNS)


#: A pool's cluster columns: before the status and place name are added.
POOL_CLUSTER_COLUMNS = [c for c in CLUSTER_COLUMNS if c not in ("status", "place_name")]


def _pool_clusters(subset, d, labels_tax, labels_partner):
    """One pool's DBSCAN clusters as polygons, their ids without the week's prefix ("-1", ...)."""
    labels = dbscan(_xy(subset), d.eps_m, d.min_samples).labels
    if not (np.asarray(labels) >= 0).any():
        return _concat([], POOL_CLUSTER_COLUMNS)
    return cluster_polygons(
        subset.reset_index(drop=True),
        labels,
        buffer_m=d.buffer_m,
        taxonomy_labels=labels_tax,
        partner_labels=labels_partner,
        id_prefix="",
    )


def _place_names(polygons, gazetteer) -> list[str]:
    """Nearest gazetteer name to each polygon (a point inside it); "" without a gazetteer."""
    if gazetteer is None or len(polygons) == 0:
        return [""] * len(polygons)
    c = polygons.geometry.representative_point()
    return [str(n or "") for n in gazetteer.nearest_names(c.x.to_numpy(), c.y.to_numpy())]
