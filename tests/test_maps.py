"""render_map / render_index: self-contained, Swedish, escaped, complete."""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import pytest

from pipeline.config import MapConfig
from pipeline.render.index import render_index
from pipeline.render.maps import neighbour_weeks, render_map
from tests.fixtures_week import XSS, XSS_AREA, build_week_context, external_refs, resource_refs

MAX_BYTES = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def ctx():
    return build_week_context()


@pytest.fixture(scope="module")
def page(ctx) -> str:
    return render_map(ctx)


def _geojson_calls(page: str) -> list[dict]:
    """The FeatureCollections passed to lbGeoJson(...) in the map script."""
    out = []
    for match in re.finditer(r"lbGeoJson\((\{.*?\}), \{\"pane\"", page):
        out.append(json.loads(match.group(1)))
    return out


def test_no_external_scripts_or_styles(page):
    assert external_refs(page) == []
    assert resource_refs(page) == []  # everything inline
    for cdn in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com", "bootstrapcdn", "fontawesome"):
        assert cdn not in page
    assert "L.markerClusterGroup" in page and "leaflet-control-layers" in page  # inlined assets
    assert "url(images/" not in page  # leaflet.css images became data: URIs


def test_title_language_and_swedish_labels(page):
    assert "<title>Lägesbild vecka 47, 2026 – Mjölby kommun</title>" in page
    assert '<html lang="sv">' in page
    assert "<h1>Lägesbild vecka 47, 2026 – Mjölby kommun</h1>" in page
    for label in (
        "Hela dygnet",
        "Natt 00\\u201306",
        "Kommungr\\u00e4ns",
        "Teckenförklaring",
        "Tätaste 0,1\u00a0% av ytan",
        "Kvarstående kluster",
        "Skadegörelse och brand",
    ):
        assert label in page, label


def test_xss_is_escaped(page):
    assert XSS not in page
    assert "onerror=alert(1)" in page  # it is there, but only as escaped text
    assert "\\u003cimg" not in page  # not even as a JSON-escaped raw tag
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in page


def test_size_limit(page):
    assert len(page.encode("utf-8")) < MAX_BYTES


def test_every_cluster_drawn_with_its_id_and_count(ctx, page):
    feats = [f for fc in _geojson_calls(page) for f in fc["features"] if "cid" in f["properties"]]
    clusters = ctx.layers["clusters"]
    assert sorted(f["properties"]["cid"] for f in feats) == sorted(clusters["cluster_id"])
    by_id = dict(zip(clusters["cluster_id"], clusters["n_events"]))
    for f in feats:
        props = f["properties"]
        assert "lb-cluster" in props["style"]["className"].split()
        assert f"Antal händelser:</b> {by_id[props['cid']]}<" in props["popup"]
        assert ("Kvarstående" in props["popup"]) or ("Ny<" in props["popup"])


def test_hotspot_zones_per_level_colour(ctx, page):
    zones = [
        f
        for fc in _geojson_calls(page)
        for f in fc["features"]
        if "lb-hotspot" in f["properties"]["style"].get("className", "")
    ]
    assert len(zones) == len(ctx.layers["hotspots"])
    fills = {f["properties"]["style"]["fillColor"] for f in zones}
    assert fills == {"#b10026", "#fc4e2a"}  # one fixed colour per configured level


def test_geometries_are_wgs84_near_mjolby(page):
    for fc in _geojson_calls(page):
        for f in fc["features"]:
            lon, lat = (
                f["geometry"]["coordinates"][0][0][:2]
                if f["geometry"]["type"] == "Polygon"
                else f["geometry"]["coordinates"][0][0][0][:2]
            )
            assert 14.5 < lon < 15.8 and 58.0 < lat < 58.6


def test_events_without_duplicates_or_free_text(ctx, page):
    events = ctx.layers["events"]
    expected = int((events["duplicate_of"] == "").sum())
    assert f'H\\u00e4ndelser (\\u003cspan class=\\"lb-event-count\\"\\u003e{expected}' in page
    rows = json.loads(re.search(r"lbEvents\([^,]+, (\[.*?\]), \[\"#", page).group(1))
    assert len(rows) == expected
    assert all(set(r[3]) and "event_id" not in r[3] for r in rows)
    assert not any(eid in page for eid in events["event_id"])  # ids never leave the archive


def test_area_counts_and_change(ctx, page):
    kf = ctx.layers["key_figures"]
    row = kf[(kf["dimension"] == "area") & (kf["key"] == "Mjölby centrum")].iloc[0]
    areas = _area_features(page)
    assert len(areas) == len(ctx.areas)
    popup = next(f["properties"]["popup"] for f in areas if "Mjölby centrum" in f["properties"]["popup"])
    assert f"Händelser denna vecka (hela dygnet):</b> {int(row.n_week)}<" in popup
    assert "▲" not in popup and "ej prövad" in popup  # an untested table never marks a change
    assert any("Hagalund &lt;img" in f["properties"]["tooltip"] for f in areas)
    assert {f["properties"]["style"]["className"] for f in areas} == {"lb-area lb-area-oforandrad"}


def _area_features(page):
    return [
        f
        for fc in _geojson_calls(page)
        for f in fc["features"]
        if f["properties"]["style"].get("className", "").startswith("lb-area ")
    ]


def test_areas_filled_by_tested_change(ctx):
    kf = ctx.layers["key_figures"].assign(direction_prev=0, q_prev=0.5)
    kf.loc[(kf["dimension"] == "area") & (kf["key"] == "Sörby"), "direction_prev"] = 1
    kf.loc[(kf["dimension"] == "area") & (kf["key"] == "Egeby"), "direction_prev"] = -1
    feats = _area_features(render_map(dataclasses.replace(ctx, layers={**ctx.layers, "key_figures": kf})))
    by_class = {}
    for f in feats:
        by_class.setdefault(f["properties"]["style"]["className"], []).append(f["properties"]["popup"])
    assert len(by_class["lb-area lb-area-okning"]) == 1 and "Sörby" in by_class["lb-area lb-area-okning"][0]
    assert "säkerställd ökning" in by_class["lb-area lb-area-okning"][0]
    assert len(by_class["lb-area lb-area-minskning"]) == 1 and "Egeby" in by_class["lb-area lb-area-minskning"][0]
    assert len(by_class["lb-area lb-area-oforandrad"]) == len(ctx.areas) - 2


def test_area_and_place_labels_escaped(ctx, page):
    labels = json.loads(re.search(r"lbLabelLayer\((\[.*?\]), 'lb-area-label'\)", page).group(1))
    assert len(labels) == len(ctx.areas)
    assert "Hagalund &lt;img src=x onerror=alert(1)&gt;" in {r[2] for r in labels}
    assert "Partner" in page and "K\\u00e4lla" not in page and "Källa" not in page


def test_week_links(ctx, page):
    assert 'href="../2026-W46/karta.html"' in page
    assert "2026-W48" not in page
    assert 'href="lagesbild.html"' in page and 'href="../index.html"' in page
    later = dataclasses.replace(ctx, weeks=[*ctx.weeks, "2026-W48"])
    assert 'href="../2026-W48/karta.html"' in render_map(later)


def test_neighbour_weeks_skip_gaps():
    assert neighbour_weeks("2026-W47", ["2026-W40", "2026-W47", "2027-W02"]) == ("2026-W40", "2027-W02")
    assert neighbour_weeks("2026-W47", []) == (None, None)


def test_tiles_from_config_or_none(ctx, page):
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page
    assert "OpenStreetMap-bidragsgivare" in page
    cfg = ctx.cfg.model_copy(update={"map": MapConfig(tiles_url=None)})
    offline = render_map(dataclasses.replace(ctx, cfg=cfg))
    assert "L.tileLayer" not in offline and "lbGeoJson(" in offline


def test_rendering_is_deterministic(ctx, page):
    assert render_map(ctx) == page


def test_empty_week_renders(ctx):
    empty = {k: v.iloc[0:0] for k, v in ctx.layers.items()}
    html = render_map(dataclasses.replace(ctx, layers=empty))
    assert "Inga händelser att visa" in html and external_refs(html) == []


def test_index_lists_weeks_newest_first(ctx):
    html = render_index(["2026-W45", "2026-W47", "2026-W46"], ctx.cfg)
    weeks = re.findall(r'data-week="([^"]+)"', html)
    assert weeks == ["2026-W47", "2026-W46", "2026-W45"]
    assert 'href="2026-W47/karta.html"' in html and 'href="2026-W47/lagesbild.html"' in html
    assert "Vecka 47, 2026" in html and "16–22 nov 2026" in html and "Lägesbild – Mjölby kommun" in html
    assert external_refs(html) == []
    assert 'href="maps/2026-W45/karta.html"' in render_index(["2026-W45"], ctx.cfg, maps_dir_rel="maps/")
    assert "Inga arkiverade veckor" in render_index([], ctx.cfg)
    assert XSS_AREA not in html


def _series(weeks_counts):
    return pd.DataFrame(
        {"week": [w for w, _ in weeks_counts], "area": "alla", "group": "alla", "n": [n for _, n in weeks_counts]}
    )


def test_index_dashboard_summary_chart_and_counts(ctx):
    from pipeline.render.summary import week_summary

    counts = [("2026-W45", 120), ("2026-W46", 131), ("2026-W47", 156)]
    latest = dataclasses.replace(ctx, layers={**ctx.layers, "series": _series(counts)})
    html = render_index(ctx.weeks, ctx.cfg, latest=latest)
    assert html.index('id="viktigast"') < html.index('id="trend-alla-veckor"') < html.index('class="lb-week')
    summary = re.findall(r'<li data-summary-key="([^"]+)">', html)
    assert summary == [s.key for s in week_summary(latest)]
    assert week_summary(latest)[0].text.split(",")[0] in html
    shown = dict(
        re.findall(r'data-week="(\d{4}-W\d\d)">\s*<td>[^<]*</td><td>[^<]*</td><td class="num" data-n="(\d*)"', html)
    )
    assert shown == {w: str(n) for w, n in counts}
    assert html.count("<svg") == 1 and "v. 47: 156" in html and external_refs(html) == []


def test_index_without_series_counts_the_latest_week_only(ctx):
    html = render_index(ctx.weeks, ctx.cfg, latest=ctx)
    kf = ctx.layers["key_figures"]
    n = int(kf[kf["dimension"] == "group"]["n_week"].sum())
    assert f'data-n="{n}"' in html and html.count('data-n=""') == len(ctx.weeks) - 1
    assert "<svg" not in html  # one week is no trend
