"""Reading the event store's GeoParquet files fast: points decoded straight from their WKB.

Every stored event is a 2-D point, and ``shapely.from_wkb`` parses each point's 21 bytes one
at a time (about 1.2 s per million points here, as much as reading the file). A point's WKB
is fixed: byte order, geometry type 1, then x and y as doubles. When every value of a column
has that exact layout, the coordinates are one strided view of the column's buffer and
``shapely.points`` builds the geometries in one vectorised call; anything else (nulls, empty
points, Z values, big-endian, other geometry types) goes through ``shapely.from_wkb``.
The frame equals ``geopandas.read_parquet``'s (tests/test_geoparquet.py).

A reader that needs only where the points are asks for the coordinate columns ``x`` and ``y``
(pipeline.schema.COORDINATE_COLUMNS) instead of ``geometry``: they come from the same view
of the WKB, with no geometry object built at all (a national history has millions of rows).

>>> import shapely
>>> wkb = pa.array([shapely.Point(1.5, 2.0).wkb, shapely.Point(-3.0, 4.25).wkb])
>>> [p.coords[0] for p in points_from_wkb(wkb)]
[(1.5, 2.0), (-3.0, 4.25)]
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

_POINT_WKB_BYTES = 21  # 1 byte order + 4 type + 2 x 8 coordinates
_POINT_HEADER = b"\x01\x01\x00\x00\x00"  # little-endian, type 1 (Point, 2-D)


def points_from_wkb(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The shapely geometries of a binary WKB column (an object array)."""
    values = _one_chunk(values)
    return _geometries(values, _plain_xy(values))


def _geometries(values: pa.Array, xy: np.ndarray | None) -> np.ndarray:
    if xy is not None:
        return shapely.points(xy[:, 0], xy[:, 1])
    return shapely.from_wkb(values.to_numpy(zero_copy_only=False))


def coordinates_from_wkb(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of a binary WKB column of points (NaN for a null or empty point).

    >>> [v.tolist() for v in coordinates_from_wkb(pa.array([shapely.Point(1.5, 2.0).wkb, None]))]
    [[1.5, nan], [2.0, nan]]
    """
    values = _one_chunk(values)
    return _coordinates(values, _plain_xy(values))


def _one_chunk(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], type=pa.binary())
    return values


def _coordinates(values: pa.Array, xy: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if xy is not None:
        return xy[:, 0].copy(), xy[:, 1].copy()
    geoms = shapely.from_wkb(values.to_numpy(zero_copy_only=False))
    geoms[shapely.is_empty(geoms)] = None  # NaN, as geopandas gives (GEOS refuses an empty point)
    return shapely.get_x(geoms).astype(np.float64), shapely.get_y(geoms).astype(np.float64)


def _plain_points(values: pa.Array) -> np.ndarray | None:
    """The points when every value is a little-endian 2-D point with finite coordinates."""
    xy = _plain_xy(values)
    return None if xy is None else shapely.points(xy[:, 0], xy[:, 1])


def _plain_xy(values: pa.Array) -> np.ndarray | None:
    """(n, 2) coordinates when every value is a little-endian 2-D point with finite ones."""
    if values.null_count or not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        return None
    n = len(values)
    if n == 0:
        return np.empty((0, 2))
    offset_type = np.int64 if pa.types.is_large_binary(values.type) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=offset_type)[values.offset : values.offset + n + 1]
    if not (np.diff(offsets) == _POINT_WKB_BYTES).all():
        return None
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, _POINT_WKB_BYTES)
    if not (data[:, :5] == np.frombuffer(_POINT_HEADER, dtype=np.uint8)).all():
        return None
    xy = np.ascontiguousarray(data[:, 5:]).view("<f8")
    if not np.isfinite(xy).all():  # NaN coordinates are POINT EMPTY: let shapely say so
        return None
    return xy


#: The coordinate columns a reader may ask for (pipeline.schema.COORDINATE_COLUMNS).
COORDINATES = ("x", "y")


def read_points(path, columns: list[str] | None = None, filters=None, crs: str = "EPSG:3006"):
    """A GeoParquet file whose ``geometry`` column holds points, as ``geopandas.read_parquet``
    would return it (columns in file order, pandas' dtypes from the file's metadata).

    ``columns`` may name ``x`` and ``y``: the points' coordinates, appended after the file's
    columns; without ``geometry`` among them the result is a plain DataFrame."""
    coords = [c for c in COORDINATES if columns is not None and c in columns]
    stored = None if columns is None else [c for c in columns if c not in COORDINATES]
    with_geometry = stored is None or "geometry" in stored
    if coords and not with_geometry:
        stored = [*stored, "geometry"]
    table = pq.read_table(path, columns=stored, filters=filters)
    frame = table.drop(["geometry"]).to_pandas()
    wkb = _one_chunk(table["geometry"])
    xy = _plain_xy(wkb)  # decoded once for both the coordinates and the geometries
    if coords:
        for name, values in zip(COORDINATES, _coordinates(wkb, xy)):
            if name in coords:
                frame[name] = values
    if not with_geometry:
        return frame
    geometry = _geometries(wkb, xy)
    frame.insert(table.schema.get_field_index("geometry"), "geometry", gpd.GeoSeries(geometry, index=frame.index))
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
