"""All partners' events together: exact duplicates, revised cases, areas, cross-partner duplicates.

>>> events, rejected = finalise(events, rejected, cfg, areas)     # doctest: +SKIP
>>> (events["duplicate_of"] != "").sum()                          # doctest: +SKIP
7

Rules
-----
* Rows with the same ``event_id`` (same partner and case id, or the same raw row when the
  partner has no id) are one case. The content of the *latest* row (file names in natural
  order, then line) wins: a later export revises a case. Among the rows with that content
  the first one is kept; the others are ``duplicate_row`` ("same as <file> line <n>"), rows
  with other (outdated) content are ``duplicate_source_id``.
* ``area``: the first named area whose polygon contains the point, else ``OUTSIDE_AREA``.
* ``duplicate_of``: the earliest event (by occurred_at, then event_id) from *another*
  partner, same category group, within ``duplicates.distance_m`` metres and
  ``duplicates.minutes`` minutes (both inclusive). Both events stay in the table.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from pipeline.schema import EVENT_COLUMNS, OUTSIDE_AREA, REJECTED_COLUMNS, empty_rejected, validate_events

_HELPERS = ("_content", "_raw")
_NS_PER_MINUTE = 60_000_000_000


def finalise(
    events: gpd.GeoDataFrame, rejected: pd.DataFrame, cfg, areas: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Deduplicate, assign areas and cross-partner duplicates; return canonical (events, rejected)."""
    events = gpd.GeoDataFrame(events, geometry="geometry", crs=events.crs or "EPSG:3006").reset_index(drop=True)
    keep, dup_rejected = split_duplicates(events)
    events = events[keep].reset_index(drop=True)
    events["area"] = assign_areas(events.geometry, areas)
    events = events.sort_values(["occurred_at", "event_id"], kind="stable").reset_index(drop=True)
    events["duplicate_of"] = cross_partner_duplicates(events, cfg.duplicates.distance_m, cfg.duplicates.minutes)
    events = gpd.GeoDataFrame(events[list(EVENT_COLUMNS)], geometry="geometry", crs="EPSG:3006")
    events = events.astype({"area": "string", "duplicate_of": "string"})
    validate_events(events)
    return events, _combine_rejected(rejected, dup_rejected)


# -- same-case duplicates -----------------------------------------------------------------------


def split_duplicates(events: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(keep mask, rejected rows) for rows sharing an event_id; see the module docstring.

    >>> keep, rej = split_duplicates(events)             # doctest: +SKIP
    >>> rej["reason"].tolist()                            # doctest: +SKIP
    ['duplicate_row']
    """
    n = len(events)
    if n == 0 or events["event_id"].is_unique:
        return np.ones(n, dtype=bool), empty_rejected()
    content = _content(events)
    order = np.lexsort((events["source_line"].to_numpy(), _natural_rank(events["source_file"])))
    ordered = pd.DataFrame({"id": events["event_id"].to_numpy()[order], "content": content[order], "pos": order})
    latest = ordered.groupby("id", sort=False)["content"].transform("last").to_numpy()
    current = ordered["content"].to_numpy() == latest
    first_pos = ordered.groupby(["id", "content"], sort=False)["pos"].transform("first").to_numpy()
    kept_pos = ordered["pos"].where(current).groupby(ordered["id"], sort=False).transform("first").to_numpy()

    keep = np.zeros(n, dtype=bool)
    keep[first_pos[current]] = True
    exact = current & (first_pos != ordered["pos"].to_numpy())
    revised = ~current
    files, lines = events["source_file"].to_numpy(), events["source_line"].to_numpy()
    rows = []
    for mask, reason, ref in ((exact, "duplicate_row", first_pos), (revised, "duplicate_source_id", kept_pos)):
        for pos, other in zip(ordered["pos"].to_numpy()[mask], ref[mask].astype("int64")):
            rows.append((pos, reason, _dup_message(reason, events, pos, files[other], lines[other])))
    return keep, _rejected_rows(events, rows)


def _content(events: pd.DataFrame) -> np.ndarray:
    """Per-row content key: ingest's ``_content`` hash, else a hash of the canonical fields."""
    if "_content" in events:
        return events["_content"].to_numpy()
    cols = ["category", "source_category", "occurred_at", "occurred_end", "location_text", "description"]
    frame = events[cols].astype("string").fillna("")
    frame["wkb"] = events.geometry.to_wkb(hex=True)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _natural_rank(files: pd.Series) -> np.ndarray:
    """Rank of each file name in natural order, so 'v9.csv' sorts before 'v10.csv'."""
    uniq = sorted(set(files.astype(str)), key=lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)])
    rank = {name: i for i, name in enumerate(uniq)}
    return files.astype(str).map(rank).to_numpy("int64")


def _dup_message(reason: str, events, pos: int, file: str, line: int) -> str:
    if reason == "duplicate_row":
        return f"same as {file} line {line}"
    sid = events["source_id"].iat[pos]
    return f"case id '{sid}' was revised: {file} line {line} holds the current content and is kept"


def _rejected_rows(events: pd.DataFrame, rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    if not rows:
        return empty_rejected()
    pos = np.array([r[0] for r in rows], dtype="int64")
    raw = events["_raw"].to_numpy()[pos] if "_raw" in events else events["source_id"].to_numpy()[pos]
    out = pd.DataFrame(
        {
            "source": events["source"].to_numpy()[pos],
            "source_file": events["source_file"].to_numpy()[pos],
            "source_line": events["source_line"].to_numpy()[pos],
            "reason": [r[1] for r in rows],
            "message": [r[2] for r in rows],
            "raw": raw,
        }
    )
    return out.astype({c: "string" for c in REJECTED_COLUMNS if c != "source_line"} | {"source_line": "int64"})


def _combine_rejected(rejected: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    parts = [f for f in (rejected, extra) if len(f)]
    if not parts:
        return empty_rejected()
    out = pd.concat([p[list(REJECTED_COLUMNS)] for p in parts], ignore_index=True)
    out = out.astype({c: "string" for c in REJECTED_COLUMNS if c != "source_line"} | {"source_line": "int64"})
    return out.sort_values(["source", "source_file", "source_line"], kind="stable").reset_index(drop=True)


# -- areas --------------------------------------------------------------------------------------


def assign_areas(points: gpd.GeoSeries, areas: gpd.GeoDataFrame) -> pd.Series:
    """Name of the first area containing each point, else ``OUTSIDE_AREA``.

    >>> assign_areas(events.geometry, areas).value_counts().head(1)   # doctest: +SKIP
    """
    out = np.full(len(points), OUTSIDE_AREA, dtype=object)
    if len(points) and areas is not None and len(areas):
        areas = areas.to_crs(points.crs) if areas.crs and points.crs and areas.crs != points.crs else areas
        pt, ar = areas.sindex.query(points.to_numpy(), predicate="within")
        if len(pt):
            # Overlapping areas: the first one in the areas file wins (deterministic).
            first = pd.Series(ar).groupby(pt).min()
            out[first.index.to_numpy()] = areas["name"].to_numpy()[first.to_numpy()]
    return pd.Series(out, index=points.index, dtype="string")


# -- cross-partner duplicates -------------------------------------------------------------------


def cross_partner_duplicates(events: pd.DataFrame, distance_m: float, minutes: float) -> pd.Series:
    """event_id of the earliest matching event from another partner, or '' (see module doc).

    ``events`` must be sorted by (occurred_at, event_id): position = order. A KD-tree over
    (x, y, scaled time) finds candidate pairs; the exact distance and time tests follow.

    >>> cross_partner_duplicates(events, 150, 60).ne("").sum()   # doctest: +SKIP
    7
    """
    n = len(events)
    result = np.full(n, "", dtype=object)
    if n < 2 or events["source"].nunique() < 2:  # one partner alone has no cross-partner duplicate
        return pd.Series(result, index=events.index, dtype="string")
    x, y = events.geometry.x.to_numpy(), events.geometry.y.to_numpy()
    t = pd.DatetimeIndex(events["occurred_at"]).as_unit("ns").asi8  # UTC ns: DST cannot bite
    t_scaled = (t - t.min()) / (minutes * _NS_PER_MINUTE) * distance_m  # `minutes` -> `distance_m`
    best = np.full(n, n, dtype="int64")  # earliest matching position per event; n = none
    for _, pos in events.groupby("category_group", sort=False).indices.items():
        pairs = _candidate_pairs(x[pos], y[pos], t_scaled[pos], distance_m)
        if not len(pairs):
            continue
        a, b = pos[pairs[:, 0]], pos[pairs[:, 1]]
        early, late = np.minimum(a, b), np.maximum(a, b)
        ok = (
            (events["source"].to_numpy()[early] != events["source"].to_numpy()[late])
            & (np.hypot(x[early] - x[late], y[early] - y[late]) <= distance_m)
            & (np.abs(t[early] - t[late]) <= minutes * _NS_PER_MINUTE)
        )
        np.minimum.at(best, late[ok], early[ok])
    has = best < n
    result[has] = events["event_id"].to_numpy()[best[has]]
    return pd.Series(result, index=events.index, dtype="string")


def _candidate_pairs(x, y, t, radius: float) -> np.ndarray:
    """Index pairs whose (x, y, t) distance is at most radius·√2 — a superset of the matches."""
    if len(x) < 2:
        return np.empty((0, 2), dtype="int64")
    tree = cKDTree(np.column_stack([x, y, t]))
    return tree.query_pairs(radius * np.sqrt(2) * (1 + 1e-9), output_type="ndarray")
