"""Reading the event store's GeoParquet files fast: points decoded straight from their WKB.

Every stored event is a 2-D point, and ``shapely.from_wkb`` parses each point's 21 bytes one
at a time (about 1.2 s per million points here, as much as reading the file). A point's WKB
is fixed: byte order, geometry type 1, then x and y as doubles. When every value of a column
has that exact layout, the coordinates are one strided view of the column's buffer and
``shapely.points`` builds the geometries in one vectorised call; anything else (nulls, empty
points, Z values, big-endian, other geometry types) goes through ``shapely.from_wkb``.
The frame equals ``geopandas.read_parquet``'s (tests/test_geoparquet.py).

Writing is the same trick backwards (:func:`write_points`): the 21 bytes of each plain point
are laid out with numpy from its coordinates instead of one ``to_wkb`` call per point, and the
file is the one ``GeoDataFrame.to_parquet`` writes, metadata included (geopandas builds the
metadata, from the frame's first row, with the bounding box set to the whole frame's).

A reader that needs only where the points are asks for the coordinate columns ``x`` and ``y``
(pipeline.schema.COORDINATE_COLUMNS) instead of ``geometry``: they come from the same view
of the WKB, with no geometry object built at all (a national history has millions of rows).

>>> import shapely
>>> wkb = pa.array([shapely.Point(1.5, 2.0).wkb, shapely.Point(-3.0, 4.25).wkb])
>>> [p.coords[0] for p in points_from_wkb(wkb)]
[(1.5, 2.0), (-3.0, 4.25)]
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from geopandas.io.arrow import _geopandas_to_arrow  # private; tests/test_geoparquet.py pins its output

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


def points_wkb(geometry) -> np.ndarray | None:
    """(n, 21) bytes: the WKB of each geometry, when all are finite 2-D points (else None);
    row ``i`` equals ``geometry[i].wkb`` (little-endian, as shapely writes it here).

    >>> bytes(points_wkb(gpd.GeoSeries([shapely.Point(1.5, 2.0)]).values)[0]) == shapely.Point(1.5, 2.0).wkb
    True
    """
    geoms = np.asarray(geometry, dtype=object)
    n = len(geoms)
    if n == 0 or not (shapely.get_type_id(geoms) == 0).all() or shapely.has_z(geoms).any():
        return None
    xy = shapely.get_coordinates(geoms)
    if len(xy) != n or not np.isfinite(xy).all():  # an empty point has no coordinates
        return None
    out = np.empty((n, _POINT_WKB_BYTES), dtype=np.uint8)
    out[:, :5] = np.frombuffer(_POINT_HEADER, dtype=np.uint8)
    out[:, 5:] = np.ascontiguousarray(xy, dtype="<f8").view(np.uint8).reshape(n, 16)
    return out


def write_points(frame: gpd.GeoDataFrame, path, row_group_size: int | None = None) -> None:
    """``frame.to_parquet(path, index=False, row_group_size=...)``, fast for plain points."""
    wkb = points_wkb(frame.geometry.values)
    if wkb is None or frame.geometry.name != "geometry":
        frame.to_parquet(path, index=False, row_group_size=row_group_size)
        return
    template = _geopandas_table(frame.iloc[:1])
    plain = pd.DataFrame(frame).assign(geometry=pd.Series(None, index=frame.index, dtype=object))
    table = pa.Table.from_pandas(plain, preserve_index=False)
    n = len(frame)
    column = pa.Array.from_buffers(
        pa.binary(),
        n,
        [
            None,
            pa.py_buffer(np.arange(0, (n + 1) * _POINT_WKB_BYTES, _POINT_WKB_BYTES, dtype=np.int32)),
            pa.py_buffer(wkb),
        ],
    )
    i = table.schema.get_field_index("geometry")
    table = table.set_column(i, template.schema.field("geometry"), column)
    geo = json.loads(template.schema.metadata[b"geo"])
    xy = wkb[:, 5:].copy().view("<f8")
    geo["columns"]["geometry"]["bbox"] = [
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    ]
    metadata = {**table.schema.metadata, b"geo": json.dumps(geo).encode("utf-8")}
    pq.write_table(table.replace_schema_metadata(metadata), path, row_group_size=row_group_size)


def _geopandas_table(frame: gpd.GeoDataFrame) -> pa.Table:
    """The Arrow table ``GeoDataFrame.to_parquet`` would write (its schema and metadata)."""
    return _geopandas_to_arrow(frame, index=False)
