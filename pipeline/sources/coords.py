"""Coordinates in any CRS -> SWEREF 99 TM (EPSG:3006), repairing the two classic export mistakes.

1. Swapped axes: latitude in the longitude column (or northing in the easting column).
   Sweden's latitudes (55–69.5) and longitudes (10.5–24.5) do not overlap, nor do its
   SWEREF eastings and northings, so a swap is recognised by plausibility alone.
2. RT90 2.5 gon V (EPSG:3021) values in a column configured as SWEREF 99 TM: RT90 eastings
   (≈ 1.2–1.9 M) are impossible in SWEREF (< 1 M), so they are recognised and converted.

>>> e, n, status = to_sweref(np.array([15.12365, 58.32595]), np.array([58.32595, 15.12365]), "EPSG:4326")
>>> np.round(e, -1).tolist(), np.round(n, -1).tolist(), status.tolist()
([507240.0, 507240.0], [6465010.0, 6465010.0], ['ok', 'swapped'])
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

TARGET = "EPSG:3006"
RT90 = "EPSG:3021"
#: Plausible SWEREF 99 TM extent of Sweden (with margin).
SWEDEN_E = (180_000.0, 1_000_000.0)
SWEDEN_N = (6_100_000.0, 7_700_000.0)
#: Plausible geographic extent of Sweden.
SWEDEN_LAT = (55.0, 69.5)
SWEDEN_LON = (10.5, 24.5)
#: Plausible RT90 2.5 gon V extent of Sweden.
RT90_E = (1_200_000.0, 1_900_000.0)
RT90_N = (6_100_000.0, 7_700_000.0)


def to_sweref(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transform (x, y) in ``crs`` to EPSG:3006; return (easting, northing, status).

    ``x`` is the easting or longitude, ``y`` the northing or latitude (always_xy order).
    ``status`` per point: ``ok``; ``swapped`` (axes given in the wrong order, fixed);
    ``rt90`` (RT90 values in a SWEREF column, converted); ``missing`` (a NaN: E/N are NaN);
    ``invalid`` (not in Sweden in any reading: E/N are the straight transformation, so a
    message can say where the point landed -- always check ``status`` before using them).

    >>> to_sweref(np.array([6465010.0]), np.array([507240.0]), "EPSG:3006")[2].tolist()
    ['swapped']
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    status = np.full(x.shape, "invalid", dtype=object)
    missing = ~(np.isfinite(x) & np.isfinite(y))
    status[missing] = "missing"

    e, n = _transform(x, y, crs)
    ok = ~missing & _in_sweden(e, n) & _plausible_input(x, y, crs)
    status[ok] = "ok"

    todo = ~missing & ~ok
    if todo.any():
        se, sn = _transform(y, x, crs)
        swapped = todo & _in_sweden(se, sn) & _plausible_input(y, x, crs)
        e, n = np.where(swapped, se, e), np.where(swapped, sn, n)
        status[swapped] = "swapped"
        todo &= ~swapped

    if todo.any() and _is_sweref(crs):
        for a, b in ((x, y), (y, x)):
            re_, rn = _transform(a, b, RT90)
            rt90 = todo & _in_box(a, b, RT90_E, RT90_N) & _in_sweden(re_, rn)
            e, n = np.where(rt90, re_, e), np.where(rt90, rn, n)
            status[rt90] = "rt90"
            todo &= ~rt90

    e = np.where(missing | ~np.isfinite(e), np.nan, e)
    n = np.where(missing | ~np.isfinite(n), np.nan, n)
    return e, n, status.astype(str)


def _in_box(a: np.ndarray, b: np.ndarray, a_range, b_range) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (a >= a_range[0]) & (a <= a_range[1]) & (b >= b_range[0]) & (b <= b_range[1])


def _in_sweden(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    return _in_box(e, n, SWEDEN_E, SWEDEN_N)


def _plausible_input(x: np.ndarray, y: np.ndarray, crs: str) -> np.ndarray:
    # For degrees, check the raw ranges too: the lon/lat boxes are what tells a swap apart.
    if _is_geographic(crs):
        return _in_box(x, y, SWEDEN_LON, SWEDEN_LAT)
    return np.ones(x.shape, dtype=bool)


def _transform(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    if _is_sweref(crs):
        return x.copy(), y.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        e, n = _transformer(crs).transform(x, y, errcheck=False)
    return np.asarray(e, dtype="float64"), np.asarray(n, dtype="float64")


@lru_cache(maxsize=16)
def _transformer(crs: str) -> Transformer:
    return Transformer.from_crs(crs, TARGET, always_xy=True)


@lru_cache(maxsize=16)
def _is_sweref(crs: str) -> bool:
    return CRS.from_user_input(crs) == CRS.from_user_input(TARGET)


@lru_cache(maxsize=16)
def _is_geographic(crs: str) -> bool:
    return CRS.from_user_input(crs).is_geographic
