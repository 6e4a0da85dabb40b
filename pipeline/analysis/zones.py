"""Hotspot zones from a density surface, plus fixed colour scales for comparable maps.

A zone at level L % is a connected group (4-neighbour, edge-sharing) of the densest cells that
together cover L % of the municipality's area, holding at least ``min_events`` events
(``analysis.min_zone_events``, default 3): at municipal volume a single event makes its own
little density peak, and a "zone" of one event is no place to act on. Edges are exact cell
edges (EPSG:3006).

Example
-------
>>> import numpy as np
>>> from pipeline.analysis.grid import Grid
>>> g = Grid(0, 0, 100, 10, 10)
>>> dens = np.zeros((10, 10)); dens[2, 3] = 5.0
>>> z = hotspot_zones(dens, g, np.ones((10, 10), bool), [1.0], np.array([[350.0, 250.0]]))
>>> int(z.n_events[0]), float(z.area_km2[0]), z.geometry[0].bounds
(1, 0.01, (300.0, 200.0, 400.0, 300.0))
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio import features
from scipy import ndimage
from shapely.geometry import shape

from pipeline.analysis.grid import Grid, as_points, check_shape
from pipeline.schema import CRS

COLUMNS = ["level", "zone_id", "n_events", "share_events", "area_km2", "share_area", "pai", "density_min", "geometry"]
#: Fixed density legend in events/km² (lower edges of classes 1..len); below the first: class 0.
DENSITY_BREAKS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


def density_class(values, breaks=DENSITY_BREAKS) -> np.ndarray:
    """Class index per value on a fixed legend: 0 below ``breaks[0]``, i for ``breaks[i-1] <= v < breaks[i]``.

    >>> density_class([0.1, 0.5, 3, 100]).tolist()
    [0, 1, 3, 7]
    """
    b = np.asarray(breaks, dtype=np.float64)
    if b.ndim != 1 or len(b) == 0 or np.any(np.diff(b) <= 0):
        raise ValueError("breaks must be a non-empty, strictly increasing sequence of events/km²")
    return np.digitize(np.asarray(values, dtype=np.float64), b)


def _select(density: np.ndarray, mask: np.ndarray, n_cells: int) -> np.ndarray:
    """Flat indices of the ``n_cells`` densest masked cells with density > 0.

    Ties are broken by flat cell index (south-west first) so runs are reproducible.
    """
    flat = density.ravel()
    cand = np.flatnonzero(mask.ravel() & (flat > 0))
    order = np.lexsort((cand, -flat[cand]))
    return cand[order[:n_cells]]


def _zones(selected: np.ndarray, grid: Grid):
    """Label connected zones (4-connectivity) within the window around the selected cells.

    Returns the window's labels, their count, the window (a Grid) and its (row, col) offset.
    Labelling the window rather than the whole municipality gives the same labels (the scan
    order of the selected cells is the same) at a fraction of the cost: zones are a few
    hundred cells of a grid of hundreds of thousands.
    """
    r, c = np.divmod(selected, grid.nx)
    r0, c0 = int(r.min()), int(c.min())
    window = Grid(
        grid.x0 + c0 * grid.cell, grid.y0 + r0 * grid.cell, grid.cell, int(c.max()) - c0 + 1, int(r.max()) - r0 + 1
    )
    raster = np.zeros(window.shape, dtype=np.int32)
    raster[r - r0, c - c0] = 1
    labels, n = ndimage.label(raster)  # default structure = 4-connectivity
    return labels, n, window, (r0, c0)


def _polygons(labels: np.ndarray, window: Grid, keep) -> dict[int, object]:
    """Polygons (exact cell edges) of the labels in ``keep``."""
    kept = np.where(np.isin(labels, list(keep)), labels, 0)
    north_up = np.ascontiguousarray(window.to_north_up(kept)).astype(np.int32)
    return {
        int(v): shape(geom)
        for geom, v in features.shapes(north_up, mask=north_up > 0, connectivity=4, transform=window.transform)
    }


def hotspot_zones(density, grid: Grid, mask, levels, points, *, min_events: int = 0) -> gpd.GeoDataFrame:
    """One row per (level, zone); see the module docstring and ARCHITECTURE "Week analysis".

    ``density`` and ``mask`` have shape ``(ny, nx)`` with row 0 south (as :func:`kde` returns);
    ``levels`` are % of the municipality's area (= mask cells · cell²); ``points`` (n, 2) are
    the events counted into zones (by the cell they fall in). Connected groups holding fewer
    than ``min_events`` events are not zones (left out; ``zone_id`` numbers the rest 1, 2, ...).
    """
    dens = np.asarray(check_shape(density, grid, "density"), dtype=np.float64)
    msk = check_shape(mask, grid, "mask").astype(bool)
    if not np.isfinite(dens).all():
        raise ValueError("density contains NaN or infinite values")
    lv = [float(x) for x in levels]
    if not lv or any(not (0 < x < 100) for x in lv):
        raise ValueError(f"levels are percentages of the area, each in (0, 100), got {levels!r}")
    pts = as_points(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    n_mask = int(msk.sum())
    if n_mask == 0:
        raise ValueError("mask selects no cells; is the boundary inside the grid?")

    cell_km2 = grid.cell**2 / 1e6
    muni_km2 = n_mask * cell_km2
    row, col, inside = grid.cell_index(pts)
    rows = []
    for level in sorted(lv):
        selected = _select(dens, msk, math.ceil(level / 100.0 * n_mask))
        if len(selected) == 0:
            continue
        labels, n_zones, window, (r0, c0) = _zones(selected, grid)
        pr, pc = row[inside] - r0, col[inside] - c0
        in_window = (pr >= 0) & (pr < window.ny) & (pc >= 0) & (pc < window.nx)
        counts = np.bincount(labels[pr[in_window], pc[in_window]], minlength=n_zones + 1)
        sizes = np.bincount(labels.ravel(), minlength=n_zones + 1)
        sel_labels = labels[selected // grid.nx - r0, selected % grid.nx - c0]
        firsts = np.full(n_zones + 1, np.iinfo(np.int64).max)
        np.minimum.at(firsts, sel_labels, selected)  # first cell (flat index) of each zone
        kept = [z for z in range(1, n_zones + 1) if counts[z] >= min_events]
        order = sorted(kept, key=lambda z: (-counts[z], -sizes[z], firsts[z]))
        polys = _polygons(labels, window, order) if order else {}
        for zone_id, z in enumerate(order, start=1):
            share_events = counts[z] / len(pts) if len(pts) else math.nan
            share_area = sizes[z] * cell_km2 / muni_km2
            rows.append(
                {
                    "level": level,
                    "zone_id": zone_id,
                    "n_events": int(counts[z]),
                    "share_events": share_events,
                    "area_km2": sizes[z] * cell_km2,
                    "share_area": share_area,
                    "pai": share_events / share_area,
                    "density_min": float(dens.ravel()[selected[-1]]),
                    "geometry": polys[z],
                }
            )
    frame = pd.DataFrame(rows, columns=COLUMNS).astype(
        {
            "level": float,
            "zone_id": "int64",
            "n_events": "int64",
            "share_events": float,
            "area_km2": float,
            "share_area": float,
            "pai": float,
            "density_min": float,
        }
    )
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=CRS)
