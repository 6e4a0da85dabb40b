"""Cluster polygons and their attributes, and the new/persistent status against last week.

``cluster_polygons`` turns DBSCAN labels of events into one polygon per cluster (the convex
hull of its points, buffered so that even a one- or two-point hull becomes an area) with the
attributes people read in the map and report: size, main categories, partners, time span and
when in the week it peaks. ``mark_persistent`` marks a cluster ``kvarstående`` when it overlaps
a cluster of the previous week, otherwise ``ny``.
"""

from __future__ import annotations

import json
import numbers

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.schema import CRS, STATUS_NEW, STATUS_SEEN_BEFORE, TIMEZONE, WEEKDAY_NAMES

__all__ = ["CLUSTER_POLYGON_COLUMNS", "WEEKDAY_NAMES", "cluster_polygons", "mark_persistent", "peak_time"]

#: Columns of ``cluster_polygons``' result, in order (plus ``geometry``).
CLUSTER_POLYGON_COLUMNS = [
    "cluster_id",
    "n_events",
    "top_categories",
    "categories",
    "partners",
    "first_at",
    "last_at",
    "peak_weekday",
    "peak_weekday_name",
    "peak_hour",
]
_DTYPES = {
    "cluster_id": "object",
    "n_events": "int64",
    "top_categories": "object",
    "categories": "object",
    "partners": "object",
    "first_at": "object",
    "last_at": "object",
    "peak_weekday": "int64",
    "peak_weekday_name": "object",
    "peak_hour": "int64",
}
#: The event columns cluster_polygons reads.
INPUT_COLUMNS = ("category", "source", "occurred_at", "weekday", "hour", "geometry")

NEW = STATUS_NEW
PERSISTENT = STATUS_SEEN_BEFORE


def cluster_polygons(
    events: gpd.GeoDataFrame,
    labels,
    *,
    buffer_m: float,
    taxonomy_labels: dict[str, str],
    partner_labels: dict[str, str],
    id_prefix: str,
) -> gpd.GeoDataFrame:
    """One row per DBSCAN cluster (label >= 0) of ``events``, with a buffered hull polygon.

    ``labels[i]`` is the cluster of ``events.iloc[i]`` (-1 = noise). Cluster ``k`` gets
    ``cluster_id`` ``f"{id_prefix}-{k + 1}"``. Peaks (weekday, hour) and equal category counts
    are broken by the smallest value / label, so the result does not depend on row order.

    >>> from pipeline.analysis.dbscan import dbscan
    >>> week = week_events.reset_index(drop=True)
    >>> labels = dbscan(np.column_stack([week.geometry.x, week.geometry.y]), 150, 4).labels
    >>> polys = cluster_polygons(week, labels, buffer_m=25, taxonomy_labels={"klotter": "Klotter"},
    ...                          partner_labels={}, id_prefix="2026-W47")
    >>> polys.loc[0, "cluster_id"], int(polys.loc[0, "n_events"]), polys.loc[0, "top_categories"]
    ('2026-W47-1', 7, 'Klotter (7)')
    """
    labels = _validate_polygons_args(events, labels, buffer_m, id_prefix)
    in_cluster = labels >= 0
    if not in_cluster.any():
        return _empty_polygons()
    members = events.loc[in_cluster]
    lab = labels[in_cluster]
    # Dense renumbering keeps the shapely index arrays small even for sparse label values.
    present, dense = np.unique(lab, return_inverse=True)
    order = np.argsort(dense, kind="stable")  # shapely wants indices in increasing order
    hulls = shapely.convex_hull(shapely.multipoints(members.geometry.values[order], indices=dense[order]))
    geometry = shapely.buffer(hulls, buffer_m)
    frame = _attributes(members, dense, len(present), taxonomy_labels, partner_labels)
    frame.insert(0, "cluster_id", [f"{id_prefix}-{int(k) + 1}" for k in present])
    return gpd.GeoDataFrame(frame.astype(_DTYPES), geometry=list(geometry), crs=CRS)


def mark_persistent(current: gpd.GeoDataFrame, previous: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Copy of ``current`` with ``status``: ``kvarstående`` if its polygon intersects a polygon
    of ``previous`` (of the same ``time_of_day`` when both frames have that column), else ``ny``.

    >>> two = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 10, 10), shapely.box(50, 0, 60, 10)], crs=CRS)
    >>> mark_persistent(two, two.iloc[:1])["status"].tolist()
    ['kvarstående', 'ny']
    """
    if not isinstance(current, gpd.GeoDataFrame):
        raise ValueError("current must be a GeoDataFrame")
    out = current.copy()
    status = np.full(len(out), NEW, dtype=object)
    if previous is not None and len(previous) and len(out):
        if not isinstance(previous, gpd.GeoDataFrame):
            raise ValueError("previous must be a GeoDataFrame or None")
        prev = previous
        if prev.crs is not None and out.crs is not None and prev.crs != out.crs:
            prev = prev.to_crs(out.crs)
        cur_i, prev_i = shapely.STRtree(prev.geometry.values).query(out.geometry.values, predicate="intersects")
        if "time_of_day" in out.columns and "time_of_day" in prev.columns:
            same = out["time_of_day"].to_numpy()[cur_i] == prev["time_of_day"].to_numpy()[prev_i]
            cur_i = cur_i[np.asarray(same, dtype=bool)]
        status[np.unique(cur_i)] = PERSISTENT
    out["status"] = pd.Series(status, index=out.index, dtype=object)
    return out


# ---------------------------------------------------------------------------- helpers


def _validate_polygons_args(events, labels, buffer_m, id_prefix) -> np.ndarray:
    if not isinstance(events, gpd.GeoDataFrame):
        raise ValueError("events must be a GeoDataFrame")
    missing = [c for c in INPUT_COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(f"events lack columns {missing}")
    if len(events) and (events.crs is None or events.crs.to_epsg() != 3006):
        raise ValueError(f"events must be in {CRS}, got {events.crs}")
    if (
        isinstance(buffer_m, bool)
        or not isinstance(buffer_m, numbers.Real)
        or not np.isfinite(buffer_m)
        or buffer_m <= 0
    ):
        # A point or two-point hull only becomes a polygon with a positive buffer.
        raise ValueError(f"buffer_m must be a finite number > 0, got {buffer_m!r}")
    if not isinstance(id_prefix, str):
        raise ValueError(f"id_prefix must be a string, got {id_prefix!r}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(events):
        raise ValueError(f"labels must be 1-D with one label per event ({len(events)}), got shape {labels.shape}")
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    return labels.astype(np.int64)


def _attributes(members: pd.DataFrame, cluster: np.ndarray, n: int, taxonomy_labels, partner_labels) -> pd.DataFrame:
    """Attributes of clusters 0..n-1 (``cluster[i]`` is member i's), in CLUSTER_POLYGON_COLUMNS[1:]
    order: computed for all clusters at once, since a national week has thousands of them."""
    size = np.bincount(cluster, minlength=n)
    cats = members["category"].astype(str).to_numpy()
    per_cat = pd.Series(1, index=pd.MultiIndex.from_arrays([cluster, cats])).groupby(level=[0, 1]).size()
    counts: list[list] = [[] for _ in range(n)]
    for (k, cat), v in per_cat.items():
        counts[k].append((taxonomy_labels.get(cat, cat), int(v), cat))
    partners: list[set] = [set() for _ in range(n)]
    source = members["source"].astype(str).to_numpy()
    pairs = pd.DataFrame({"k": cluster, "p": source}).drop_duplicates()
    for k, p in zip(pairs["k"].tolist(), pairs["p"].tolist()):
        partners[k].add(partner_labels.get(p, p))
    times = _local_times(members["occurred_at"]).reset_index(drop=True).groupby(cluster)
    first, last = times.min().reindex(range(n)).tolist(), times.max().reindex(range(n)).tolist()
    weekday, hour = _peak_times(cluster, members["weekday"], members["hour"], n)
    rows = []
    for k in range(n):
        named = sorted(counts[k], key=lambda t: (-t[1], t[0]))
        rows.append([
            int(size[k]),
            ", ".join(f"{label} ({c})" for label, c, _ in named[:3]),
            json.dumps({cat: c for _, c, cat in named}, ensure_ascii=False),
            ", ".join(sorted(partners[k])),
            _iso(first[k]),
            _iso(last[k]),
            int(weekday[k]),
            WEEKDAY_NAMES[int(weekday[k]) - 1],
            int(hour[k]),
        ])  # fmt: skip
    return pd.DataFrame(rows, columns=CLUSTER_POLYGON_COLUMNS[1:])


def _peak_times(cluster: np.ndarray, weekdays: pd.Series, hours: pd.Series, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`peak_time` of every cluster: the most common (weekday, hour) cell of its members,
    the earliest in the week on a tie."""
    cell = (weekdays.astype("int64").to_numpy() - 1) * 24 + hours.astype("int64").to_numpy()
    counts = np.bincount(cluster * (7 * 24) + cell, minlength=n * 7 * 24).reshape(n, 7 * 24)
    best = counts.argmax(axis=1)  # the first maximum: the earliest (weekday, hour) in the week
    return best // 24 + 1, best % 24


def peak_time(weekdays: pd.Series, hours: pd.Series) -> tuple[int, int]:
    """The most common (weekday, hour) cell; ties go to the earliest in the week.

    The joint cell, not the two marginals: the most common weekday and the most common hour
    taken apart can name an hour when nothing happened on that day.

    >>> peak_time(pd.Series([1, 1, 2, 2, 2]), pd.Series([9, 9, 22, 9, 23]))
    (1, 9)
    """
    weekday, hour = _peak_times(np.zeros(len(weekdays), dtype=np.int64), weekdays, hours, 1)
    return int(weekday[0]), int(hour[0])


def _local_times(values: pd.Series) -> pd.Series:
    times = pd.to_datetime(values)
    if times.dt.tz is None:
        # Canonical events are tz-aware; naive times are taken as already local.
        return times.dt.tz_localize(TIMEZONE, ambiguous="NaT", nonexistent="shift_forward")
    return times.dt.tz_convert(TIMEZONE)


def _iso(ts) -> str:
    return "" if pd.isna(ts) else ts.isoformat(timespec="seconds")


def _empty_polygons() -> gpd.GeoDataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _DTYPES.items()})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
