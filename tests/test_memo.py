"""The products' memo of per-week results (pipeline/memo.py, pipeline/io/memo.py): a week built
with last week's memo equals the week built from nothing, and what the memo saved is used."""

from __future__ import annotations

import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from pipeline.analysis import forecast
from pipeline.analysis.weeks import previous_weeks
from pipeline.config import load_config
from pipeline.io import memo as memo_io
from pipeline.memo import Memo, digest
from pipeline.products.catalog import PRODUCTS
from pipeline.runner import Reference, build_products, run_ingest
from tests.conftest import DEMO_WEEK, NOW, copy_project


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("memo")
    cfg = load_config(copy_project(folder))
    result = run_ingest(cfg, now=NOW, echo=lambda _: None)
    return cfg, result.events, Reference.load(cfg), folder / "memo"


def _build(cfg, events, week, ref, memos=None, threads=None) -> list:
    forecast._RECENT.clear()  # the process's own forecast cache would hide the memo
    return build_products(cfg, events, week, ref, memos=memos, threads=threads)


def _same_layer(got, want) -> None:
    if isinstance(want, pd.DataFrame):
        assert list(got.columns) == list(want.columns) and len(got) == len(want)
        if isinstance(want, gpd.GeoDataFrame) and "geometry" in want.columns:
            assert got.geometry.to_wkb().tolist() == want.geometry.to_wkb().tolist()
            got, want = got.drop(columns="geometry"), want.drop(columns="geometry")
        pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want))
    else:  # a Surface
        assert got.grid == want.grid
        np.testing.assert_array_equal(got.values, want.values)


def _same_outputs(got: list, want: list) -> None:
    for product, a, b in zip(PRODUCTS, got, want):
        assert a.layers.keys() == b.layers.keys(), product.name
        for name in b.layers:
            _same_layer(a.layers[name], b.layers[name])
        assert a.info == b.info, product.name


def test_a_week_built_with_last_weeks_memo_equals_one_built_from_nothing(demo):
    cfg, events, ref, folder = demo
    last_week = previous_weeks(DEMO_WEEK, 1)[0]
    first = memo_io.ProductMemos(folder)
    _build(cfg, events, last_week, ref, first)
    first.save()
    assert {p.name for p in PRODUCTS if memo_io.memo_path(folder, p.name).is_file()} >= {"week", "prognos"}

    memos = memo_io.ProductMemos(folder)
    with_memo = _build(cfg, events, DEMO_WEEK, ref, memos)
    _same_outputs(with_memo, _build(cfg, events, DEMO_WEEK, ref))
    # last week's per-week results were used: the earlier weeks' footprints, NN scales, scores
    assert memos.for_product("week").hits >= 10
    prognos = memos.for_product("prognos")
    assert prognos.hits > 10 * prognos.misses > 0  # only the new target week is scored
    accuracy = memos.for_product("accuracy")
    assert accuracy.hits > accuracy.misses > 0  # last week's hotspot maps were scored last week


def test_the_same_week_again_is_all_hits_and_saves_only_what_it_used(demo):
    cfg, events, ref, folder = demo
    memos = memo_io.ProductMemos(folder / "again")
    _build(cfg, events, DEMO_WEEK, ref, memos)
    memos.save()
    again = memo_io.ProductMemos(folder / "again")
    _build(cfg, events, DEMO_WEEK, ref, again)
    prognos = again.for_product("prognos")
    assert prognos.misses == 0 and prognos.hits > 0
    before = pickle.loads(memo_io.memo_path(folder / "again", "prognos").read_bytes())["entries"]
    assert set(before) == set(prognos.used())


def test_a_memo_of_other_code_or_unreadable_is_empty(tmp_path, monkeypatch):
    memo = Memo()
    memo.get(digest("k"), lambda: np.arange(3))
    memo_io.save_memo(tmp_path, "p", memo)
    loaded = memo_io.load_memo(tmp_path, "p")
    np.testing.assert_array_equal(loaded.get(digest("k"), lambda: None), np.arange(3))
    assert loaded.misses == 0
    monkeypatch.setattr(memo_io, "source_digest", lambda: "other code")
    assert memo_io.load_memo(tmp_path, "p").get(digest("k"), lambda: "fresh") == "fresh"
    memo_io.memo_path(tmp_path, "p").write_bytes(b"not a pickle")
    assert memo_io.load_memo(tmp_path, "p").get(digest("k"), lambda: "fresh") == "fresh"


def test_digest_tells_texts_by_value_and_arrays_by_type():
    assert digest(np.array(["a", "b"], dtype=object)) != digest(np.array(["a", "c"], dtype=object))
    assert digest(np.array([1, 2])) != digest(np.array([1.0, 2.0]))
    assert digest(np.zeros((2, 3))) != digest(np.zeros((3, 2)))
    assert digest("a", "b") != digest("ab")


def test_products_built_two_at_a_time_equal_one_at_a_time(demo):
    cfg, events, ref, _ = demo
    _same_outputs(
        build_products(cfg, events, DEMO_WEEK, ref, threads=2), _build(cfg, events, DEMO_WEEK, ref, threads=1)
    )
