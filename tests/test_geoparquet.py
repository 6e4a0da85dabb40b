"""The store's point reader equals geopandas.read_parquet, fast path and fallbacks alike."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from pipeline.io.geoparquet import _plain_points, points_from_wkb, points_wkb, read_points, write_points


def _frame(geoms):
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "event_id": pd.array([f"{i:016x}" for i in range(n)], dtype="string"),
            "occurred_at": pd.date_range("2026-03-29 01:30", periods=n, freq="17min", tz="Europe/Stockholm"),
            "geometry": geoms,
            "area": pd.array(["Centrum", None] * (n // 2) + ["Väst"] * (n % 2), dtype="string"),
        },
        geometry="geometry",
        crs="EPSG:3006",
    )


def _sweref_points(n, seed=3):
    rng = np.random.default_rng(seed)
    # Mjölby in SWEREF 99 TM, with coordinates that are not round numbers
    return gpd.GeoSeries(shapely.points(rng.uniform(510_000, 530_000, n), rng.uniform(6_455_000, 6_475_000, n)))


def test_points_read_equal_geopandas_and_take_the_vectorised_path(tmp_path):
    frame = _frame(_sweref_points(1001))
    path = tmp_path / "w.parquet"
    frame.to_parquet(path, index=False)
    assert _plain_points(pa.array(frame.geometry.to_wkb())) is not None
    got = read_points(path)
    want = gpd.read_parquet(path)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.crs == want.crs
    assert got.geometry.geom_equals_exact(want.geometry, 0).all()
    cols = ["geometry", "event_id"]
    pd.testing.assert_frame_equal(read_points(path, columns=cols), gpd.read_parquet(path, columns=cols))


@pytest.mark.parametrize(
    "odd",
    [shapely.Point(), shapely.Point(1, 2, 3), shapely.Polygon([(0, 0), (1, 0), (1, 1)]), None],
    ids=["empty", "z", "polygon", "null"],
)
def test_anything_but_plain_points_falls_back_to_shapely(tmp_path, odd):
    geoms = list(_sweref_points(6))
    geoms[3] = odd
    frame = _frame(gpd.GeoSeries(geoms))
    path = tmp_path / "w.parquet"
    frame.to_parquet(path, index=False)
    got, want = read_points(path), gpd.read_parquet(path)
    pd.testing.assert_frame_equal(got.drop(columns="geometry"), want.drop(columns="geometry"))
    assert list(got.geometry.to_wkb()) == list(want.geometry.to_wkb())


def test_big_endian_and_sliced_arrays_decode_like_shapely():
    pts = list(_sweref_points(8))
    big = pa.array([shapely.to_wkb(p, byte_order=0) for p in pts])
    assert _plain_points(big) is None
    assert all(a.equals(b) for a, b in zip(points_from_wkb(big), pts))
    sliced = pa.array([p.wkb for p in pts]).slice(2, 4)  # an offset into the buffers
    assert all(a.equals_exact(b, 0) for a, b in zip(points_from_wkb(sliced), pts[2:6]))
    assert len(points_from_wkb(pa.chunked_array([], type=pa.binary()))) == 0


def _same_file_content(a, b):
    sa, sb = pq.read_schema(a), pq.read_schema(b)
    assert sa.equals(sb, check_metadata=False)
    assert sa.field("geometry").metadata == sb.field("geometry").metadata
    assert {k: json.loads(v) for k, v in sa.metadata.items()} == {k: json.loads(v) for k, v in sb.metadata.items()}
    assert pq.ParquetFile(a).metadata.num_row_groups == pq.ParquetFile(b).metadata.num_row_groups
    pd.testing.assert_frame_equal(gpd.read_parquet(a), gpd.read_parquet(b), check_exact=True)


@pytest.mark.parametrize("n", [1, 2, 1001])
def test_written_points_equal_geopandas_file_metadata_and_row_groups(tmp_path, n):
    frame = _frame(_sweref_points(n))
    frame["count"] = np.arange(n)  # a numpy column beside the Arrow-backed ones
    frame.to_parquet(tmp_path / "gpd.parquet", index=False, row_group_size=100)
    write_points(frame, tmp_path / "fast.parquet", row_group_size=100)
    _same_file_content(tmp_path / "gpd.parquet", tmp_path / "fast.parquet")
    bbox = json.loads(pq.read_schema(tmp_path / "fast.parquet").metadata[b"geo"])["columns"]["geometry"]["bbox"]
    assert bbox == list(frame.total_bounds)


@pytest.mark.parametrize(
    "odd",
    [shapely.Point(), shapely.Point(1, 2, 3), shapely.Polygon([(0, 0), (1, 0), (1, 1)]), None],
    ids=["empty", "z", "polygon", "null"],
)
def test_writing_anything_but_plain_points_falls_back_to_geopandas(tmp_path, odd):
    geoms = list(_sweref_points(6))
    geoms[3] = odd
    frame = _frame(gpd.GeoSeries(geoms))
    assert points_wkb(frame.geometry.values) is None
    frame.to_parquet(tmp_path / "gpd.parquet", index=False)
    write_points(frame, tmp_path / "fast.parquet")
    _same_file_content(tmp_path / "gpd.parquet", tmp_path / "fast.parquet")


def test_points_wkb_is_shapely_wkb_byte_for_byte():
    geoms = _sweref_points(500).values
    assert points_wkb(geoms).tobytes() == b"".join(shapely.to_wkb(np.asarray(geoms)))
    assert points_wkb(gpd.GeoSeries([], crs="EPSG:3006").values) is None
