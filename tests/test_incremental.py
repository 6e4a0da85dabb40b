"""Incremental ingest (pipeline/io/store.py): after adding, changing and removing an export,
the store gives exactly what a cold run over the same files gives — the same events, the same
rejected rows, the same quality summary and the same archive features — while reading only
the exports that changed and rewriting only the weeks they touch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.io import store
from pipeline.io.archive import read_archive
from pipeline.io.store import window_unchanged
from pipeline.runner import run_ingest, run_weekly
from pipeline.schema import LAYERS
from pipeline.sources import normalise
from tests.conftest import DEMO_WEEK, NOW, copy_project

POLICE_OLD = "data/raw/polisen/demo_polisen_2026_v22-v34.csv"
POLICE_NEW = "data/raw/polisen/demo_polisen_2026_v35-v47.csv"
KOMMUNEN = "data/raw/kommunen/demo_kommunen_2026.csv"
ADDED = "data/raw/polisen/demo_polisen_2026_v48.csv"


@pytest.fixture(autouse=True)
def _fixed_code_version(monkeypatch):
    """The code hash is part of every cache key; pin it, so an edit of the source stages made
    while the test runs (a shared working tree) cannot turn it into a cold run."""
    monkeypatch.setattr(store, "code_hash", lambda: "test-code")


def _quiet(_):
    return None


def _ingest(config: Path):
    return run_ingest(load_config(config), now=NOW, echo=_quiet)


def _cold_copy(src: Path, dest: Path) -> Path:
    """A fresh project holding exactly ``src``'s exports, reference data and installation
    secret (the keyed ids depend on it), but no store."""
    for sub in ("data/raw", "data/reference", "data/secret"):
        shutil.copytree(src / sub, dest / sub)
    shutil.copy(src / "config.yaml", dest / "config.yaml")
    return dest / "config.yaml"


def _assert_same_tables(inc: Path, cold: Path) -> None:
    a, b = inc / "data/processed", cold / "data/processed"
    ea, eb = gpd.read_parquet(a / "events"), gpd.read_parquet(b / "events")
    assert len(ea) > 0
    pd.testing.assert_frame_equal(ea.drop(columns="geometry"), eb.drop(columns="geometry"))
    assert ea.geometry.to_wkb().tolist() == eb.geometry.to_wkb().tolist()
    assert (a / "rejected.csv").read_bytes() == (b / "rejected.csv").read_bytes()
    assert json.loads((a / "quality.json").read_text()) == json.loads((b / "quality.json").read_text())


def _police_lines(base: Path, rel: str) -> tuple[str, list[str]]:
    lines = (base / rel).read_text(encoding="utf-8-sig").splitlines()
    return lines[0], lines[1:]


def _added_export(base: Path) -> str:
    """A late police export: exact copies, a revised case, cases moved, and a new week."""
    header, rows = _police_lines(base, POLICE_NEW)
    copies = rows[-5:]  # exact duplicates of W47 rows
    revised = rows[-10].split(";")
    revised[4] = "23:59" if revised[4] != "23:59" else "00:01"  # same case id, new time
    moved = rows[3].split(";")  # a case from August moved into W48
    moved[3], moved[5] = "2026-11-23", ""
    new_week = []
    for i, row in enumerate(rows[-20:-12]):
        f = row.split(";")
        f[0] = f"5000-K9{i:05d}-26"
        f[3], f[5] = "2026-11-24", ""
        new_week.append(";".join(f))
    return "\n".join([header, *copies, ";".join(revised), ";".join(moved), *new_week]) + "\n"


def _change_kommunen(base: Path) -> None:
    """Edit the municipality's cp1252 export in place: a row dropped near the end, a date
    moved, a category changed (bytes, so its encoding stays as it is)."""
    path = base / KOMMUNEN
    lines = path.read_bytes().split(b"\n")
    del lines[-8]
    f = lines[40].split(b";")
    f[1] = b"2026-11-20"
    lines[40] = b";".join(f)
    g = lines[50].split(b";")
    g[4] = b"Klotter"
    lines[50] = b";".join(g)
    path.write_bytes(b"\n".join(lines))


def test_incremental_ingest_equals_a_cold_run_after_add_change_remove(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    config = copy_project(inc)
    first = _ingest(config)
    assert len(first.read_files) == 4

    again = _ingest(config)
    assert again.read_files == [] and again.rebuilt_weeks == []
    pd.testing.assert_frame_equal(first.events.drop(columns="geometry"), again.events.drop(columns="geometry"))

    steps = [
        ("add", lambda: (inc / ADDED).write_text(_added_export(inc), encoding="utf-8"), [ADDED]),
        ("change", lambda: _change_kommunen(inc), [KOMMUNEN]),
        ("remove", lambda: (inc / POLICE_OLD).unlink(), []),
    ]
    all_weeks = len(first.stored.weeks)
    for i, (label, edit, read) in enumerate(steps):
        edit()
        result = _ingest(config)
        assert result.read_files == read, label
        assert 0 < len(result.rebuilt_weeks), label
        if label == "change":
            assert len(result.rebuilt_weeks) < all_weeks, label
        cold_root = tmp_path / f"cold{i}"
        cold_root.mkdir()
        cold = _ingest(_cold_copy(inc, cold_root))
        assert len(cold.read_files) == len(result.files)
        _assert_same_tables(inc, cold_root)
        assert result.stored.hashes == cold.stored.hashes, label

    removed = result.events
    assert not removed["source_file"].eq(POLICE_OLD).any()
    assert not (inc / "data/processed/rejected.csv").read_text().count(POLICE_OLD)


def test_incremental_weekly_archive_equals_a_cold_weekly(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    config = copy_project(inc)
    run_weekly(load_config(config), week=DEMO_WEEK, now=NOW, echo=_quiet)
    (inc / ADDED).write_text(_added_export(inc), encoding="utf-8")
    run_weekly(load_config(config), week=DEMO_WEEK, now=NOW, echo=_quiet)
    cold_root = tmp_path / "cold"
    cold_root.mkdir()
    run_weekly(load_config(_cold_copy(inc, cold_root)), week=DEMO_WEEK, now=NOW, echo=_quiet)

    a = read_archive(inc / "data/processed/archive" / f"{DEMO_WEEK}.gpkg")
    b = read_archive(cold_root / "data/processed/archive" / f"{DEMO_WEEK}.gpkg")
    assert set(a) == set(b)
    for name in a:
        if name == "run_info":
            continue
        assert name in LAYERS or name == "layer_styles"  # QGIS's own styles table
        x, y = a[name], b[name]
        if hasattr(x, "values") and hasattr(x, "grid"):  # a raster Surface
            np.testing.assert_array_equal(x.values, y.values)
            continue
        if isinstance(x, gpd.GeoDataFrame):
            assert x.geometry.to_wkb().tolist() == y.geometry.to_wkb().tolist(), name
            x, y = x.drop(columns=x.geometry.name), y.drop(columns=y.geometry.name)
        pd.testing.assert_frame_equal(x, y, obj=name)
    info_a = dict(zip(a["run_info"]["key"], a["run_info"]["value"])) if "run_info" in a else {}
    info_b = dict(zip(b["run_info"]["key"], b["run_info"]["value"])) if "run_info" in b else {}
    assert info_a.get("events_fingerprint") == info_b.get("events_fingerprint")


@pytest.mark.parametrize("days, expected", [(0, True), (3, True), (40, False)])
def test_cached_file_is_reused_only_while_the_date_window_gives_the_same_verdicts(days, expected):
    cfg = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    then = NOW
    # dates from 725 days before `then` (5 days inside the window's old edge) to `then`
    dates = pd.DatetimeIndex([then - pd.Timedelta(days=725), then - pd.Timedelta(days=1), then]).as_unit("ns")
    assert window_unchanged(dates.asi8, then, then + pd.Timedelta(days=days), cfg, future_rows=0) is expected


def test_future_date_messages_keep_the_cache_only_on_the_same_limit_day():
    cfg = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    dates = np.array([NOW.value - 10**12], dtype="int64")
    assert window_unchanged(dates, NOW, NOW + pd.Timedelta(hours=1), cfg, future_rows=1)
    assert not window_unchanged(dates, NOW, NOW + pd.Timedelta(days=1), cfg, future_rows=1)
    assert window_unchanged(dates, NOW, NOW + pd.Timedelta(days=1), cfg, future_rows=0)


def test_a_cold_ingest_in_small_pieces_equals_one_in_a_single_piece(tmp_path, monkeypatch):
    """A national export is normalised, cached and rebuilt in pieces (rows per chunk, rows per
    row group, weeks read from the cache per chunk of weeks); the pieces must not show."""
    whole = tmp_path / "whole"
    whole.mkdir()
    config = copy_project(whole)
    (whole / ADDED).write_text(_added_export(whole), encoding="utf-8")  # repeated and revised cases
    _ingest(config)
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    cold_config = _cold_copy(whole, pieces)
    monkeypatch.setattr(normalise, "CHUNK_ROWS", 50)
    monkeypatch.setattr(store, "_CACHE_ROW_GROUP", 16)
    result = _ingest(cold_config)
    _assert_same_tables(whole, pieces)
    assert result.stored.hashes == _ingest(config).stored.hashes
    folder = max(
        (pieces / "data/processed/store/files").iterdir(), key=lambda p: len(list((p / "events").glob("*.parquet")))
    )
    parts = sorted((folder / "events").glob("part-*.parquet"))
    assert len(parts) > 5
    meta = pq.ParquetFile(parts[0]).metadata
    column = meta.schema.names.index("iso_week")
    stats = [meta.row_group(i).column(column).statistics for i in range(meta.num_row_groups)]
    assert meta.num_row_groups > 2
    # the rows of a piece are in week order, so a week is read from the row groups that hold it
    assert all(a.max <= b.min for a, b in zip(stats, stats[1:]))
