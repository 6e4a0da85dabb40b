"""End to end over the shipped demo data: conservation, geocoding rate, idempotence,
a partner added by config alone, and stale weeks rebuilt when a new export arrives."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import yaml

from pipeline.config import load_config
from pipeline.runner import run_ingest, run_weekly
from tests.conftest import DEMO_WEEK, NOW


def _records_in(path: Path, encoding: str, delimiter: str) -> int:
    """Independent count of data records: csv records that are not blank lines."""
    text = path.read_bytes().decode(encoding)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return sum(1 for r in rows[1:] if r)


def test_weekly_prints_summary_and_output_paths(weekly_run):
    out, result = weekly_run["output"], weekly_run["result"]
    assert "Polismyndigheten" in out and "Bostadsbolaget i Mjölby" in out
    for path in (result.archive, result.map, result.report, result.index):
        assert str(path) in out and path.is_file()
    assert result.archive.name == f"{DEMO_WEEK}.gpkg"


def test_every_row_is_accepted_or_rejected_per_file(weekly_run):
    base = weekly_run["base"]
    events = gpd.read_parquet(base / "data/processed/events")
    rejected = pd.read_csv(base / "data/processed/rejected.csv", sep=";", encoding="utf-8-sig", dtype=str)
    quality = json.loads((base / "data/processed/quality.json").read_text(encoding="utf-8"))
    formats = {"polisen": ("utf-8-sig", ";"), "kommunen": ("cp1252", ";"), "bostadsbolaget": ("utf-8", ",")}
    checked = 0
    for partner, (encoding, delimiter) in formats.items():
        for path in sorted((base / "data/raw" / partner).glob("*.csv")):
            name = str(path.relative_to(base))
            expected = _records_in(path, encoding, delimiter)
            accepted = int((events["source_file"] == name).sum())
            refused = int((rejected["source_file"] == name).sum())
            assert accepted + refused == expected, name
            files = {f["file"]: f for f in quality["partners"][partner]["files"]}
            assert files[name]["rows_read"] == expected
            assert refused > 0, f"the demo export {name} has dirty rows that must be rejected"
            checked += 1
    assert checked == 4
    assert set(rejected["reason"]) >= {"duplicate_row", "bad_date", "not_geocoded", "missing_date"}


def test_geocoding_rate_and_reasons(weekly_run):
    quality = json.loads((weekly_run["base"] / "data/processed/quality.json").read_text(encoding="utf-8"))
    for partner, summary in quality["partners"].items():
        assert summary["geocoded_share"] >= 0.95, partner
        assert sum(summary["rejected_by_reason"].values()) == summary["rejected"]
    methods = set()
    for summary in quality["partners"].values():
        methods |= set(summary["geocoded_by_method"])
    assert {"coordinates", "exact", "place"} <= methods


def test_reingest_is_idempotent_and_a_copied_export_adds_nothing(project):
    cfg = load_config(project)
    first = run_ingest(cfg, now=NOW, echo=lambda s: None)
    second = run_ingest(cfg, now=NOW, echo=lambda s: None)
    pd.testing.assert_frame_equal(first.events.drop(columns="geometry"), second.events.drop(columns="geometry"))
    raw = project.parent / "data/raw/bostadsbolaget"
    shutil.copy(raw / "demo_bostadsbolaget_2026.csv", raw / "demo_bostadsbolaget_2026_kopia.csv")
    third = run_ingest(cfg, now=NOW, echo=lambda s: None)
    assert sorted(third.events["event_id"]) == sorted(first.events["event_id"])
    copied = third.rejected[third.rejected["source_file"].str.endswith("_kopia.csv")]
    assert len(copied) == third.quality["partners"]["bostadsbolaget"]["files"][1]["rows_read"]
    assert set(copied["reason"]) <= {
        "duplicate_row",
        "bad_date",
        "missing_date",
        "not_geocoded",
        "outside_municipality",
    }


def test_new_partner_by_config_alone(project):
    """Räddningstjänsten: a new block and a new export (';', cp1252, RT90) — no code change."""
    data = yaml.safe_load(project.read_text(encoding="utf-8"))
    data["partners"]["raddningstjansten"] = {
        "label": "Räddningstjänsten Östra Götaland",
        "files": "data/raw/raddningstjansten/*.csv",
        "crs": "EPSG:3021",
        "columns": {
            "source_id": "Insatsnr",
            "category": "Händelse",
            "datetime": "Larmtid",
            "address": "Adress",
            "x": "Y_RT90",
            "y": "X_RT90",
        },
        "categories": {"Brand i sophus": "brand", "Anlagd brand": "brand"},
    }
    project.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    from pyproj import Transformer

    e, n = Transformer.from_crs(3006, 3021, always_xy=True).transform(507240.0, 6465010.0)
    export = project.parent / "data/raw/raddningstjansten/insatser.csv"
    export.parent.mkdir(parents=True)
    export.write_bytes(
        (
            "Insatsnr;Larmtid;Händelse;Adress;Y_RT90;X_RT90\r\n"
            f"R-1;2026-11-20 22:15;Anlagd brand;Stora torget;{e:.0f};{n:.0f}\r\n"
            "R-2;2026-11-21 01:05;Brand i sophus;Blåklintsvägen 4;;\r\n"
            "R-3;2026-11-21 03:00;Trafikolycka;Påhittade vägen 99;;\r\n"
        ).encode("cp1252")
    )
    result = run_ingest(load_config(project), now=NOW, echo=lambda s: None)
    mine = result.events[result.events["source"] == "raddningstjansten"].set_index("source_id")
    assert list(mine.index) == ["R-1", "R-2"]
    assert mine.loc["R-1", "geocode_method"] == "coordinates"
    assert mine.loc["R-1", "geometry"].distance(gpd.points_from_xy([507240], [6465010])[0]) < 2
    assert mine.loc["R-2", "geocode_method"] == "exact" and mine.loc["R-2", "category"] == "brand"
    assert result.quality["partners"]["raddningstjansten"]["rejected_by_reason"] == {"not_geocoded": 1}


def _features(path: Path) -> dict[str, pd.DataFrame]:
    layers = [name for name, _ in pyogrio.list_layers(path) if name not in ("run_info", "layer_styles")]
    return {name: pyogrio.read_dataframe(path, layer=name) for name in layers}


def test_same_week_twice_gives_same_features_and_new_export_updates_old_week(project):
    cfg = load_config(project)
    quiet = lambda s: None  # noqa: E731
    run_weekly(cfg, week="2026-W46", now=NOW, echo=quiet)
    first = run_weekly(cfg, week=DEMO_WEEK, now=NOW, echo=quiet)
    before = _features(first.archive)
    map_before = first.map.read_text(encoding="utf-8")
    archive_bytes = first.archive.read_bytes()
    same = run_weekly(cfg, week=DEMO_WEEK, now=NOW, echo=quiet)
    assert same.rebuilt == [], "nothing changed: no week is rebuilt, not even the requested one"
    assert same.archive.read_bytes() == archive_bytes and same.map == first.map
    again = run_weekly(cfg, week=DEMO_WEEK, now=NOW, echo=quiet, rebuild=True)
    assert again.rebuilt == [DEMO_WEEK], "rebuild builds the week; an unchanged older week is not rebuilt"
    after = _features(again.archive)
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)
    assert _strip_volatile(map_before) == _strip_volatile(again.map.read_text(encoding="utf-8"))

    late = project.parent / "data/raw/kommunen/kommunen_efterslapande.csv"
    late.write_bytes(
        (
            "Ärendenr;Datum;Tid;Verksamhet;Händelsetyp;Plats;Beskrivning\r\n"
            "MK-LATE-1;2026-11-11;21:10;Tekniska förvaltningen;Klotter;Stora torget;Sent inrapporterat\r\n"
        ).encode("cp1252")
    )
    old = pyogrio.read_dataframe(project.parent / "data/processed/archive/2026-W46.gpkg", layer="events")
    updated = run_weekly(cfg, week=DEMO_WEEK, now=NOW, echo=quiet)
    assert "2026-W46" in updated.rebuilt
    new = pyogrio.read_dataframe(project.parent / "data/processed/archive/2026-W46.gpkg", layer="events")
    assert len(new) == len(old) + 1


def test_a_new_week_relinks_its_neighbour_as_a_full_render_would(project):
    from pipeline.render.maps import render_map
    from pipeline.runner import week_context

    cfg = load_config(project)
    quiet = lambda s: None  # noqa: E731
    older = run_weekly(cfg, week="2026-W46", now=NOW, echo=quiet)
    report_bytes = older.report.read_bytes()
    assert "Ingen senare vecka" in older.map.read_text(encoding="utf-8")
    newer = run_weekly(cfg, week=DEMO_WEEK, now=NOW, echo=quiet)
    relinked = older.map.read_text(encoding="utf-8")
    assert "../2026-W47/karta.html" in relinked and "Ingen senare vecka" not in relinked
    assert "../2026-W46/karta.html" in newer.map.read_text(encoding="utf-8")
    assert older.report.read_bytes() == report_bytes, "the neighbour's archive, so its report, did not change"
    full = render_map(week_context(cfg, "2026-W46"))
    assert _strip_volatile(relinked) == _strip_volatile(full)


def test_backfill_builds_missing_earlier_weeks_and_links_them(project):
    cfg = load_config(project)
    result = run_weekly(cfg, week="2026-W24", now=NOW, echo=lambda s: None, backfill=True)
    assert result.rebuilt == ["2026-W22", "2026-W23", "2026-W24"]
    archive = project.parent / "data/processed/archive"
    assert sorted(p.stem for p in archive.glob("*.gpkg")) == result.rebuilt
    middle = (project.parent / "maps/2026-W23/karta.html").read_text(encoding="utf-8")
    assert "../2026-W22/karta.html" in middle and "../2026-W24/karta.html" in middle
    index = result.index.read_text(encoding="utf-8")
    assert index.index("2026-W24") < index.index("2026-W22")  # newest first


def _strip_volatile(html: str) -> str:
    """Folium gives map elements random ids; compare the rest."""
    import re

    return re.sub(r"[0-9a-f]{32}", "ID", html)


def test_cli_errors_are_one_line_without_traceback(project):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=300)

    bad_week = run("weekly", "--week", "2026-47", "--config", str(project))
    assert bad_week.returncode == 2 and "not an ISO week" in bad_week.stderr and "Traceback" not in bad_week.stderr
    missing = run("ingest", "--config", str(project.parent / "nope.yaml"))
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_shared_outputs_keep_sensitive_events_aggregate_only(project):
    """Sensitive categories count in aggregates but are never points, and no free text or
    case id leaves data/processed."""
    extra = project.parent / "data/raw/polisen/demo_polisen_extra.csv"
    extra.write_bytes(
        (
            "\ufeffDiarienr;Brottskod;Brottsbenämning;Från datum;Från kl;Till datum;Till kl;Gatuadress;Ort;X-koord;Y-koord\r\n"
            "5000-K999001-26;0210;Våldtäkt;2026-11-19;23:10;;;Vasagatan 3;Mjölby;;\r\n"
            "5000-K999002-26;9320;Misshandel i nära relation;2026-11-20;21:40;;;Blåklintsvägen 6;Mjölby;;\r\n"
        ).encode("utf-8")
    )
    cfg = load_config(project)
    result = run_weekly(cfg, week=DEMO_WEEK, now=NOW, echo=lambda s: None)
    events = gpd.read_parquet(project.parent / "data/processed/events")
    week = events[(events["iso_week"] == DEMO_WEEK) & (events["duplicate_of"] == "")]
    sensitive = week[week["sensitive"]]
    assert set(sensitive["source_id"]) == {"5000-K999001-26", "5000-K999002-26"}
    layer = pyogrio.read_dataframe(result.archive, layer="events")
    assert not set(layer["event_id"]) & set(sensitive["event_id"])
    assert not {"source_id", "location_text", "description"} & set(layer.columns)
    html, report = result.map.read_text(encoding="utf-8"), result.report.read_text(encoding="utf-8")
    for key in cfg.sensitive_categories():
        assert cfg.taxonomy[key].label not in html
    for case_id in week["source_id"].dropna():
        assert case_id not in html and case_id not in report
    summary = pyogrio.read_dataframe(result.archive, layer="area_summary")
    shown = summary[summary["category"].isin(cfg.sensitive_categories())]
    assert len(shown) == 2 and shown["suppressed"].all() and shown["n_events"].isna().all()
    assert report.count("&lt; 3") >= 2 or report.count("< 3") >= 2


def test_week_map_is_small_and_self_contained(weekly_run):
    html = weekly_run["result"].map.read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) < 5 * 2**20
    assert "<script src=" not in html and '<link href="http' not in html
    assert "Lägesbild vecka 47, 2026 – Mjölby kommun" in html
