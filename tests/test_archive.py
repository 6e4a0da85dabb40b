"""The week's GeoPackage: every layer present and equal to the analysis, minimised events,
a readable EPSG:3006 raster, deterministic features, QGIS styles, and atomic replacement."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio

import pipeline
from pipeline.analysis.tables import EVENT_LAYER_COLUMNS, weekday_hour_matrix
from pipeline.analysis.weekly import analyse_week
from pipeline.io import archive
from pipeline.io.archive import read_archive, run_info_dict, write_archive
from pipeline.products.week import week_output
from tests.test_weekly import WEEK, config, synthetic

VECTOR_LAYERS = {
    "events",
    "hotspots",
    "clusters",
    "area_summary",
    "key_figures",
    "weekday_hour",
    "run_info",
    "layer_styles",
}
RUN_INFO = {
    "week": WEEK,
    "input_sha256": json.dumps({"data/raw/polisen/p.csv": "ab" * 32}),
    "quality": json.dumps({"partners": {"polisen": {"rows_read": 10}}}, ensure_ascii=False),
    "events_fingerprint": "f" * 64,
    "run_started": "2026-11-23T07:30:00+01:00",
}


@pytest.fixture(scope="module")
def cfg():
    return config()


@pytest.fixture(scope="module")
def analysis(cfg):
    events, boundary, areas = synthetic(cfg)
    return analyse_week(events, cfg, WEEK, boundary, areas)


@pytest.fixture(scope="module")
def written(tmp_path_factory, analysis, cfg):
    path = tmp_path_factory.mktemp("archive") / f"{WEEK}.gpkg"
    assert write_archive(path, week_output(analysis, cfg), dict(RUN_INFO), cfg) == path
    return path


def test_archive_path(cfg):
    assert archive.archive_path(cfg, WEEK) == cfg.path(cfg.paths.archive) / "2026-W47.gpkg"


def test_all_layers_present(written):
    names = {str(n) for n, _ in pyogrio.list_layers(written)}
    assert VECTOR_LAYERS <= names
    with sqlite3.connect(written) as con:
        kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
    assert kinds["density"] == kinds["density_rolling"] == "2d-gridded-coverage"
    assert kinds["layer_styles"] == "attributes" and kinds["run_info"] == "attributes"
    assert kinds["events"] == kinds["hotspots"] == kinds["clusters"] == "features"


def test_counts_equal_the_analysis(written, analysis):
    layers = read_archive(written)
    public = analysis.events[~analysis.events["sensitive"]]
    assert len(layers["events"]) == len(public) < len(analysis.events)
    assert set(layers["events"]["event_id"]) == set(public["event_id"])
    assert len(layers["hotspots"]) == len(analysis.hotspots) > 0
    assert len(layers["clusters"]) == len(analysis.clusters) > 0
    assert sorted(layers["clusters"]["cluster_id"]) == sorted(analysis.clusters["cluster_id"])
    assert layers["clusters"]["n_events"].sum() == analysis.clusters["n_events"].sum()
    assert set(layers["clusters"]["status"]) == {"ny", "kvarstående"}
    pd.testing.assert_frame_equal(
        layers["area_summary"].reset_index(drop=True),
        analysis.area_summary.sort_values(["area", "category", "time_of_day"]).reset_index(drop=True),
        check_dtype=False,
        check_column_type=False,
    )
    assert layers["area_summary"]["n_events"].isna().sum() == 1  # the suppressed cell
    pd.testing.assert_frame_equal(
        layers["key_figures"], analysis.key_figures.reset_index(drop=True), check_dtype=False, check_column_type=False
    )
    pd.testing.assert_frame_equal(
        weekday_hour_matrix(layers["weekday_hour"]), analysis.weekday_hour, check_dtype=False, check_names=False
    )
    assert list(layers["weekday_hour"].columns) == ["weekday", "hour", "n"]
    assert len(layers["weekday_hour"]) == 168


def test_events_layer_is_minimised(written):
    ev = pyogrio.read_dataframe(written, layer="events")
    assert [c for c in ev.columns if c != "geometry"] == EVENT_LAYER_COLUMNS
    assert not {"source_id", "location_text", "description", "source_file", "source_category"} & set(ev.columns)
    assert ev.crs.to_epsg() == 3006
    assert ev["occurred_at"].str.match(r"^2026-11-\d\dT\d\d:\d\d:\d\d\+01:00$").all()
    assert ev["category_label"].eq("").sum() == 0 and "Klotter" in set(ev["category_label"])
    raw = written.read_bytes()
    assert b"hemlig text" not in raw and b"Storgatan 1" not in raw and b"ID-1" not in raw


def test_density_raster(written, analysis):
    grid = analysis.density.grid
    with rasterio.open(f"GPKG:{written}:density") as src:
        assert src.crs.to_epsg() == 3006
        assert src.transform.almost_equals(grid.transform)
        assert (src.height, src.width) == (grid.ny, grid.nx) and src.dtypes[0] == "float32"
        np.testing.assert_allclose(src.read(1), np.flipud(analysis.density.values))
    back = read_archive(written)
    assert back["density"].grid == grid
    np.testing.assert_allclose(back["density"].values, analysis.density.values)
    np.testing.assert_allclose(back["density_rolling"].values, analysis.density_rolling.values)


def test_run_info(written, analysis, cfg):
    info = run_info_dict(written)
    assert info["kernel"] == cfg.analysis.kernel
    assert float(info["bandwidth_m"]) == pytest.approx(analysis.bandwidth_m, abs=1e-3)
    assert info["cell_size_m"] == "50" and json.loads(info["levels"]) == [0.1, 0.5]
    assert info["eps_m"] == "150" and info["min_samples"] == "4" and info["rolling_weeks"] == "4"
    assert info["config_sha256"] == cfg.sha256
    assert info["code_version"].startswith(pipeline.__version__)
    assert json.loads(info["input_sha256"]) == {"data/raw/polisen/p.csv": "ab" * 32}
    assert json.loads(info["quality"])["partners"]["polisen"]["rows_read"] == 10
    assert info["run_started"] == RUN_INFO["run_started"] and info["density_storage"] == "gpkg"
    assert info["rows:events"] == str(int((~analysis.events["sensitive"]).sum()))


def test_layer_styles_table(written, cfg):
    with sqlite3.connect(written) as con:
        rows = con.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles ORDER BY f_table_name"
        ).fetchall()
    assert [r[0] for r in rows] == ["clusters", "events", "hotspots"]
    geoms = {str(n): pyogrio.read_info(written, layer=n)["geometry_name"] for n in ("events", "clusters")}
    by = {r[0]: r for r in rows}
    assert by["events"][1] == geoms["events"] and all(r[2] == 1 for r in rows)
    events = ET.fromstring(by["events"][3].split("\n", 1)[1])
    renderer = events.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "category_group"
    assert [c.get("value") for c in renderer.iter("category")] == list(cfg.groups)
    assert "Skadegörelse och brand" in by["events"][3] and "140,81,10,255" in by["events"][3]
    clusters = ET.fromstring(by["clusters"][3].split("\n", 1)[1])
    assert clusters.find("labeling/settings/text-style").get("fieldName") == "n_events"
    assert clusters.find(".//alias[@field='n_events']").get("name") == "Antal händelser"


def _features(path):
    out = {}
    for name in ("events", "hotspots", "clusters", "area_summary", "key_figures", "weekday_hour"):
        frame = pyogrio.read_dataframe(path, layer=name)
        plain = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
        if "geometry" in frame.columns:
            plain["wkb"] = frame.geometry.to_wkb()
        out[name] = plain
    return out


def test_writing_twice_gives_identical_features(tmp_path, analysis, cfg):
    first = write_archive(
        tmp_path / "a.gpkg", week_output(analysis, cfg), {"run_started": "2026-11-23T07:00:00+01:00"}, cfg
    )
    second = write_archive(
        tmp_path / "b.gpkg", week_output(analysis, cfg), {"run_started": "2026-11-30T09:00:00+01:00"}, cfg
    )
    a, b = _features(first), _features(second)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    with rasterio.open(f"GPKG:{first}:density") as s1, rasterio.open(f"GPKG:{second}:density") as s2:
        assert np.array_equal(s1.read(1), s2.read(1))


def test_crash_mid_write_leaves_previous_archive_intact(tmp_path, analysis, cfg, monkeypatch):
    path = write_archive(tmp_path / f"{WEEK}.gpkg", week_output(analysis, cfg), {"run_started": "x"}, cfg)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("crash while writing")

    monkeypatch.setattr(archive, "_write_layer_styles", boom)
    with pytest.raises(RuntimeError, match="crash while writing"):
        write_archive(path, week_output(analysis, cfg), {"run_started": "y"}, cfg)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_geotiff_fallback_when_gpkg_raster_fails(tmp_path, analysis, cfg, monkeypatch):
    real = archive._write_raster

    def no_gpkg(path, surface, **options):
        if options.get("driver") == "GPKG":
            raise rasterio.errors.RasterioIOError("no GPKG raster support")
        return real(path, surface, **options)

    monkeypatch.setattr(archive, "_write_raster", no_gpkg)
    path = write_archive(tmp_path / f"{WEEK}.gpkg", week_output(analysis, cfg), {}, cfg)
    tif = tmp_path / f"{WEEK}_density.tif"
    assert run_info_dict(path)["density_storage"] == tif.name and tif.is_file()
    layers = read_archive(path)
    np.testing.assert_allclose(layers["density"].values, analysis.density.values)
    assert VECTOR_LAYERS <= set(layers)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, tif.name])


def test_week_without_events_still_archives(tmp_path, cfg):
    events, boundary, areas = synthetic(cfg)
    empty = analyse_week(events, cfg, "2026-W52", boundary, areas)  # nothing in W49–W52
    path = write_archive(tmp_path / "2026-W52.gpkg", week_output(empty, cfg), {}, cfg)
    layers = read_archive(path)
    assert VECTOR_LAYERS <= set(layers)
    assert len(layers["events"]) == len(layers["clusters"]) == len(layers["area_summary"]) == 0
    assert len(layers["weekday_hour"]) == 168 and layers["weekday_hour"]["n"].sum() == 0
    assert float(layers["density"].values.sum()) == 0.0
