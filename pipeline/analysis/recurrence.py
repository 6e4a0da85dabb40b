"""Recurring places: in how many of the last weeks a hotspot zone covered a zone or cluster.

A place that shows up week after week is what an EST meeting acts on; a place that appears
once is usually chance. For each of the week's zones and clusters this counts the earlier
weeks (the last 4 and the last 12 before the week, ``RECURRENCE_WINDOWS``) in which a hotspot
zone of the *same time of day* overlapped it. A week's *footprint* per time of day is the
union of its zones at the broadest level: every narrower zone lies inside a broader one (the
densest 0.1 % of cells are among the densest 0.5 %), so one footprint stands for all levels.

Overlap means a shared area: zones are made of whole grid cells, and two zones that only
touch along a cell edge are neighbours, not the same place.

>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> history = {"2026-W46": {"alla": box(0, 0, 10, 10)}, "2026-W44": {"alla": box(20, 0, 30, 10)}}
>>> t = gpd.GeoDataFrame({"time_of_day": ["alla", "alla"]}, geometry=[box(5, 5, 15, 15), box(10, 0, 20, 10)])
>>> recurrence(t, history, "2026-W47").values.tolist()
[[1, 1], [0, 0]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from pipeline.analysis.weeks import previous_weeks

#: The windows (earlier weeks) recurrence is counted over; columns ``recurrence_<n>``.
RECURRENCE_WINDOWS = (4, 12)
COLUMNS = [f"recurrence_{n}" for n in RECURRENCE_WINDOWS]


def footprints(zones) -> dict[str, object]:
    """Per time of day, the union of the zones at the broadest level (empty dict: no zones).

    ``zones`` are one week's hotspot zones of one period (columns ``level``, ``time_of_day``).
    """
    if zones is None or len(zones) == 0:
        return {}
    broad = zones[zones["level"].astype(float) == zones["level"].astype(float).max()]
    return {
        str(tod): shapely.union_all(part.geometry.to_numpy())
        for tod, part in broad.groupby(broad["time_of_day"].astype(str), sort=False)
    }


def recurrence(
    targets, history: dict[str, dict[str, object]], week: str, windows: tuple[int, ...] = RECURRENCE_WINDOWS
) -> pd.DataFrame:
    """Columns ``recurrence_<n>`` (int): of the ``n`` weeks before ``week``, how many have a
    footprint of the target's time of day sharing area with it.

    ``history`` maps ISO week -> {time_of_day: footprint geometry} (weeks without zones may be
    left out); ``targets`` has ``time_of_day`` and polygon geometries, index kept.
    """
    longest = max(windows)
    weeks = previous_weeks(week, longest)  # oldest first
    geoms = np.asarray(targets.geometry.to_numpy()) if len(targets) else np.empty(0, dtype=object)
    tods = targets["time_of_day"].astype(str).to_numpy() if len(targets) else np.empty(0, dtype=str)
    present = np.zeros((len(targets), longest), dtype=bool)
    for j, w in enumerate(weeks):
        for tod, footprint in (history.get(w) or {}).items():
            rows = np.flatnonzero(tods == tod)
            if len(rows) and footprint is not None and not footprint.is_empty:
                present[rows, j] = _shares_area(geoms[rows], footprint)
    out = {f"recurrence_{n}": present[:, longest - n :].sum(axis=1).astype("int64") for n in windows}
    return pd.DataFrame(out, index=targets.index)


def _shares_area(geoms: np.ndarray, footprint) -> np.ndarray:
    """True where a geometry and the footprint overlap in area (not just along an edge)."""
    shapely.prepare(footprint)
    hit = shapely.intersects(geoms, footprint)
    if hit.any():
        idx = np.flatnonzero(hit)
        hit[idx] = ~shapely.touches(geoms[idx], footprint)
    return hit


def rank_places(frame: pd.DataFrame) -> pd.DataFrame:
    """Zones or clusters ranked for the meeting: most recurrent in the last 4 weeks first, then
    in the last 12, then by events and (zones) PAI — recurrence and strength, not size.

    >>> f = pd.DataFrame({"recurrence_4": [0, 3, 3], "recurrence_12": [0, 5, 9], "n_events": [40, 4, 4]})
    >>> rank_places(f).index.tolist()
    [2, 1, 0]
    """
    keys = [c for c in (*COLUMNS, "n_events", "pai") if c in frame.columns]
    return frame.sort_values(keys, ascending=False, kind="stable")
