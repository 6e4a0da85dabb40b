"""Where the follow-up shows: the product's layers survive the GeoPackage, the report section
*Insatser och uppföljning* (cards, verdicts, suggestions, the register's rejected rows) and the
map overlay (outline, popup with the same figures), with every data text escaped."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from pipeline import demo
from pipeline.evaluation import interventions as ev
from pipeline.io.archive import read_archive, write_archive
from pipeline.products import ProductInput, ProductOutput
from pipeline.products.catalog import PRODUCTS
from pipeline.render import overlays
from pipeline.render.qgis_styles import STYLES
from pipeline.render.sections import interventions as section
from pipeline.render.sections import render_sections
from pipeline.render.sections.catalog import SECTIONS
from pipeline.runner import Reference
from pipeline.schema import LAYERS
from pipeline.sources.interventions import load_register
from tests.conftest import DEMO_WEEK


@pytest.fixture(scope="module")
def built(weekly_run, tmp_path_factory):
    """The product built for the demo week from the demo register, written and read back."""
    cfg = weekly_run["cfg"]
    events = gpd.read_parquet(weekly_run["base"] / "data/processed/events")
    ref = Reference.load(cfg)
    register = load_register(cfg, ref)
    product = next(p for p in PRODUCTS if p.name == "interventions")
    out = product.build(
        ProductInput(
            cfg=cfg,
            week=DEMO_WEEK,
            events=events[events["iso_week"] <= DEMO_WEEK],
            reference=ref,
            interventions=register,
        )
    )
    week = read_archive(weekly_run["result"].archive)
    # An archive always holds the week's density rasters; written beside ours as the runner does.
    rasters = ProductOutput({name: week[name] for name in ("density", "density_rolling")})
    path = write_archive(tmp_path_factory.mktemp("iv") / f"{DEMO_WEEK}.gpkg", [rasters, out], {"week": DEMO_WEEK}, cfg)
    # The week's other layers (zones, clusters, forecast) from the shared run, ours on top.
    layers = {**week, **read_archive(path)}
    info = dict(zip(layers["run_info"]["key"], layers["run_info"]["value"]))
    ctx = SimpleNamespace(week=DEMO_WEEK, cfg=cfg, layers=layers, run_info=info, areas=ref.areas, weeks=[DEMO_WEEK])
    return {"out": out, "layers": layers, "ctx": ctx, "path": path}


def test_declared_once_everywhere():
    product = next(p for p in PRODUCTS if p.name == "interventions")
    assert set(product.layers) == {"interventions", "interventions_weekly"} <= set(LAYERS)
    assert "interventions" in product.inputs and product.lookback(None) is None
    assert "interventions" in STYLES and section.SECTION in SECTIONS
    assert any(o.key == "insatser" for o in overlays.OVERLAYS)


def test_layers_survive_the_geopackage(built):
    written, read = built["out"].layers["interventions"], built["layers"]["interventions"]
    assert list(read.columns) == list(written.columns)
    assert read.crs.to_epsg() == 3006 and len(read) == len(written) == 5
    pd.testing.assert_frame_equal(
        pd.DataFrame(read.drop(columns="geometry")),
        pd.DataFrame(written.drop(columns="geometry")).reset_index(drop=True),
        check_dtype=False,
    )
    assert read.geometry.area.sum() == pytest.approx(written.geometry.area.sum(), rel=1e-6)
    assert (read["comment"] == "").all()  # free text never leaves data/processed
    assert len(built["layers"]["interventions_weekly"]) == len(built["out"].layers["interventions_weekly"])
    quality = json.loads(built["ctx"].run_info[ev.QUALITY_KEY])
    assert quality["rows_read"] == quality["accepted"] + quality["rejected"] == len(demo.PLANTED)
    assert all("raw" not in r for r in quality["rejected_rows"])


def test_the_archive_has_a_qgis_style_for_the_layer(built):
    import sqlite3

    con = sqlite3.connect(built["path"])
    try:
        (qml,) = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'interventions'").fetchone()
    finally:
        con.close()
    assert 'attr="status"' in qml and 'fieldName="name"' in qml and "Bedömning" in qml


def _section_html(ctx) -> str:
    (rendered,) = [s for s in render_sections(ctx, SECTIONS) if s["key"] == "insatser"]
    return str(rendered["html"])


def test_report_section_shows_active_and_followed_up_interventions(built):
    ctx = built["ctx"]
    page = _section_html(ctx)
    layer = built["layers"]["interventions"].set_index("intervention_id")
    shown = re.findall(r'data-intervention-id="([^"]+)" data-verdict="([^"]+)"', page)
    assert [i for i, _ in shown] == ["MJ-2026-01", "MJ-2026-03", "MJ-2026-02", "MJ-2026-04"]
    assert all(layer.loc[i, "verdict"] == v for i, v in shown)  # the archive's verdicts, not recomputed
    assert "MJ-2026-05" not in page  # follow-up complete: not shown
    assert "Två pågående insatser och två avslutade som fortfarande följs upp." in page
    assert "Mjölby centrum (område)" in page and "250 m runt 507260, 6463910" in page
    assert "Tecken på förflyttning till närområdet" in page
    assert "visas inte (för få händelser)" in page
    mjolby = layer.loc["MJ-2026-01"]
    assert f"({mjolby.t_before})" in page and f"({mjolby.t_under})" in page and "95\u00a0% KI" in page
    assert page.count("<svg") == 4  # one chart per card


def test_report_section_lists_unattended_places_and_rejected_rows(built):
    page = _section_html(built["ctx"])
    assert "Där analysen pekar men ingen insats pågår" in page
    assert re.search(r"2026-W47-vecka-alla-0\.1-\d+", page)  # a reference the register accepts
    assert "Insatsregistret: 9 rader lästa, 6 godkända, 3 avvisade" in page
    assert "rad 8: okänd typ av insats" in page and "okänt område" in page and "slutdatum före startdatum" in page


def test_section_escapes_register_text_and_is_left_out_without_the_product(built):
    ctx = built["ctx"]
    layer = built["layers"]["interventions"].copy()
    layer.loc[0, "name"] = '<script>alert("x")</script>'
    layer.loc[0, "target"] = "<img src=x onerror=alert(1)>"
    evil = SimpleNamespace(**{**vars(ctx), "layers": {**ctx.layers, "interventions": layer}})
    page = _section_html(evil)
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    features = section.map_features(evil)
    assert all("<script>alert" not in f["properties"]["popup"] for f in features)
    assert all("<script" not in f["properties"].get("tooltip", "") for f in features)
    assert section.build(SimpleNamespace(**{**vars(ctx), "run_info": {}})) is None  # an older archive
    assert section.build(SimpleNamespace(**{**vars(ctx), "run_info": {ev.REGISTER_KEY: "none"}})) is None


def test_map_overlay_outlines_running_and_followed_up_interventions(built):
    ctx = built["ctx"]
    features = section.map_features(ctx)
    assert len(features) == 4
    for f in features:
        lon, lat = shapely.geometry.shape(f["geometry"]).centroid.coords[0]
        assert 14.5 < lon < 15.6 and 58.1 < lat < 58.5  # EPSG:4326 in Mjölby kommun
        assert "Förändring mot jämförelseområdet" in f["properties"]["popup"]
    styles = {f["properties"]["style"]["color"] for f in features}
    assert len(styles) == 2  # running and followed up differ
    assert [label for _, label in section.map_legend(ctx)] == ["Pågående", "Avslutad – följs upp"]


def test_an_empty_register_still_lists_where_the_analysis_points(built):
    ctx = built["ctx"]
    empty = ev.empty_layer()
    bare = SimpleNamespace(**{**vars(ctx), "layers": {**ctx.layers, "interventions": empty}})
    values = section.build(bare)
    assert values["cards"] == [] and values["suggestions"]
    assert values["lead"].startswith("Inga pågående insatser")
    assert section.map_features(bare) is None


def test_no_register_configured_gives_empty_typed_layers(built):
    cfg = built["ctx"].cfg.model_copy(update={"interventions": None})
    product = next(p for p in PRODUCTS if p.name == "interventions")
    ref = SimpleNamespace(boundary=shapely.box(0, 0, 1, 1), areas=None, gazetteer=None)
    out = product.build(ProductInput(cfg=cfg, week=DEMO_WEEK, events=None, reference=ref, interventions=None))
    assert out.info == {ev.REGISTER_KEY: "none"}
    layer = out.layers["interventions"]
    assert len(layer) == 0 and layer["t_before"].dtype == "int64" and layer["ratio"].dtype == "float64"
