"""How products read the event store (pipeline/io/store.py StoredEvents): each product gets
exactly what ``events_for`` gives it from the whole table — its weeks, its declared columns,
the coordinates in place of geometries where it asks for them — while every partition is read
in one pass per run, however many products read it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from pipeline.config import load_config
from pipeline.io import store
from pipeline.io.geoparquet import read_points
from pipeline.products import events_for
from pipeline.products.catalog import PRODUCTS
from pipeline.runner import run_ingest
from tests.conftest import DEMO_WEEK, NOW, copy_project


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    config = copy_project(tmp_path_factory.mktemp("store_reads"))
    return run_ingest(load_config(config), now=NOW, echo=lambda _: None), load_config(config)


def _in_one_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by every column (points by their WKB): most products read no event id."""
    frame = frame.reset_index(drop=True)
    keys = pd.DataFrame({c: frame[c].astype(str) for c in frame.columns if c != "geometry"})
    if "geometry" in frame.columns:
        keys["wkb"] = frame.geometry.to_wkb(hex=True).to_numpy()
    return frame.iloc[keys.sort_values(list(keys.columns), kind="stable").index.to_numpy()].reset_index(drop=True)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    got, want = _in_one_order(got), _in_one_order(want)
    if "geometry" in want.columns:
        assert isinstance(got, gpd.GeoDataFrame) and got.crs == want.crs
        assert got.geometry.to_wkb().tolist() == want.geometry.to_wkb().tolist()
        got, want = pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
    else:
        assert not isinstance(got, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_every_product_reads_what_events_for_gives_it_and_each_partition_once(ingested, monkeypatch):
    result, cfg = ingested
    everything = result.events
    reads, calls = [], []
    real = pq.read_table

    def counting(path, *args, **kwargs):
        reads.extend(_paths(path))
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr("pipeline.io.geoparquet.pq.read_table", counting)
    monkeypatch.setattr("pandas.io.parquet.PyArrowImpl.read", _counting_pandas(reads, calls))
    stored = store.StoredEvents(result.store, result.state)
    stored.plan(PRODUCTS, cfg, DEMO_WEEK)
    for product in PRODUCTS:
        _same(stored.for_product(product, cfg, DEMO_WEEK), events_for(product, cfg, everything, DEMO_WEEK))
    weeks = [w for w in stored.weeks if w <= DEMO_WEEK]
    assert len(reads) == len(set(reads)) == len(weeks)  # one pass per partition
    assert len(calls) < len(weeks) / 2  # and many partitions in one multi-threaded pass
    prognos = next(p for p in PRODUCTS if p.name == "prognos")
    frame = stored.for_product(prognos, cfg, DEMO_WEEK)
    assert {"x", "y"} <= set(frame.columns) and "geometry" not in frame.columns
    assert frame[["x", "y"]].notna().all().all()


def _counting_pandas(reads, calls):
    real = pd.io.parquet.PyArrowImpl.read

    def read(self, path, *args, **kwargs):
        reads.extend(_paths(path))
        calls.append(path)
        return real(self, path, *args, **kwargs)

    return read


def _paths(path) -> list[str]:
    """The files one read call takes (the store reads many weeks' partitions in one call)."""
    return [str(p) for p in path] if isinstance(path, list) else [str(path)]


def test_coordinates_are_read_from_the_wkb_without_geometries(tmp_path):
    rng = np.random.default_rng(5)
    geoms = list(shapely.points(rng.uniform(510_000, 530_000, 9), rng.uniform(6_455_000, 6_475_000, 9)))
    frame = gpd.GeoDataFrame({"event_id": [f"e{i}" for i in range(9)], "geometry": geoms}, crs="EPSG:3006")
    plain, odd = tmp_path / "plain.parquet", tmp_path / "odd.parquet"
    frame.to_parquet(plain, index=False)
    frame.assign(geometry=[shapely.Point(), None, *geoms[2:]]).to_parquet(odd, index=False)
    want = gpd.read_parquet(plain)
    got = read_points(plain, columns=["event_id", "x", "y"])
    assert not isinstance(got, gpd.GeoDataFrame) and list(got.columns) == ["event_id", "x", "y"]
    assert got["x"].tolist() == want.geometry.x.tolist() and got["y"].tolist() == want.geometry.y.tolist()
    both = read_points(plain, columns=["geometry", "x"])
    assert isinstance(both, gpd.GeoDataFrame) and both["x"].tolist() == want.geometry.x.tolist()
    fallback = read_points(odd, columns=["x", "y"])  # empty and null points: NaN, as geopandas says
    assert fallback["x"].isna().tolist()[:3] == [True, True, False]
    assert fallback["y"].tolist()[2:] == want.geometry.y.tolist()[2:]


def test_quality_from_distinct_rows_equals_the_summary_of_every_event(ingested):
    from pipeline.sources.quality import COUNT_COLUMN, quality_summary, unmapped_categories

    result, cfg = ingested
    st, weeks = result.store, sorted(result.state["weeks"])
    every = st.read_weeks(weeks, columns=store.QUALITY_COLUMNS)
    rows = store.quality_rows(st, weeks)
    assert len(rows) < len(every) and rows[COUNT_COLUMN].sum() == len(every)
    rejected = store.all_rejected(st, result.files)
    rows_read = {(f.partner, f.name): st.cached_meta(f.entry)["rows_read"] for f in result.files}

    def summary(events):
        return quality_summary(rows_read, events, rejected, unmapped_categories(events, cfg), cfg=cfg)

    want = summary(every)
    assert want["totals"]["duplicates_cross_partner"] > 0 and any(
        p["unmapped_categories"] for p in want["partners"].values()
    )
    assert summary(rows) == want


def test_published_quality_reads_only_what_may_be_withheld(ingested):
    from pipeline.privacy import public_quality, withheld_mask
    from pipeline.runner import WITHHELD_COLUMNS

    result, _ = ingested
    st, weeks = result.store, sorted(result.state["weeks"])
    every = st.read_weeks(weeks, columns=WITHHELD_COLUMNS)
    flagged = st.read_flagged(weeks, WITHHELD_COLUMNS)
    assert 0 < len(flagged) < len(every) / 5
    assert int(withheld_mask(flagged).sum()) == int(withheld_mask(every).sum()) > 0
    assert public_quality(result.quality, flagged) == public_quality(result.quality, every)


def test_the_id_index_lists_each_weeks_ids_and_skips_only_weeks_without_them(ingested):
    result, _ = ingested
    st, weeks = result.store, sorted(result.state["weeks"])
    for w in weeks:
        ids = pq.read_table(st.week_path(w), columns=["event_id"])["event_id"].to_pandas()
        assert np.array_equal(np.load(st.ids_path(w)), np.sort(store._id_hashes(ids)))
    week = weeks[len(weeks) // 2]
    some = set(pq.read_table(st.week_path(week), columns=["event_id"])["event_id"].to_pylist()[:3])
    found = st.ids_and_times(weeks, some | {"no such id"})
    assert set(found["event_id"]) == some and set(found["iso_week"]) == {week}
    assert not any(st._may_hold(w, np.unique(store._id_hashes(pd.Series(sorted(some))))) for w in weeks if w != week)


def test_a_cached_file_is_read_for_ids_only_when_its_index_may_hold_them(ingested, monkeypatch):
    result, _ = ingested
    st = result.store
    entries = [f["entry"] for f in result.state["files"]]
    for entry in entries:
        ids = pq.read_table(st.cache_dir(entry) / "events", columns=["event_id"])["event_id"].to_pandas()
        assert np.array_equal(np.load(st.cache_dir(entry) / "ids.npy"), np.unique(store._id_hashes(ids)))
    entry = max(entries, key=lambda e: len(st.cached_ids(e)))
    some = set(st.cached_ids(entry)[:5].tolist())
    assert set(st.cached_events(entry, ids=some)["event_id"]) == some
    reads = []
    real = pq.read_table
    monkeypatch.setattr("pipeline.io.store.pq.read_table", lambda *a, **k: reads.append(a) or real(*a, **k))
    assert len(st.cached_events(entry, ids={"no such id", "nor this"})) == 0
    assert reads == []  # the index answered: the file was not opened
    index = st.cache_dir(entry) / "ids.npy"
    index.rename(index.with_suffix(".off"))  # no index: the file itself is read, same answer
    try:
        assert len(st.cached_events(entry, ids={"no such id"})) == 0 and reads
        assert set(st.cached_events(entry, ids=some)["event_id"]) == some
    finally:
        index.with_suffix(".off").rename(index)
