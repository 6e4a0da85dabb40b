"""Veckans viktigaste: sentences drawn only from the archive layers that are there."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from pipeline.render.summary import MAX_SENTENCES, week_summary
from tests.fixtures_week import build_week_context


@pytest.fixture(scope="module")
def base():
    return build_week_context()


def _with(ctx, **layers):
    return dataclasses.replace(ctx, layers={**ctx.layers, **layers})


def _texts(lines):
    return {s.key: s.text for s in lines}


def test_total_equals_key_figures_and_length(base):
    lines = week_summary(base)
    kf = base.layers["key_figures"]
    groups = kf[kf["dimension"] == "group"]
    n = int(groups["n_week"].sum())
    assert 3 <= len(lines) <= MAX_SENTENCES
    assert lines[0].key == "total" and f"registrerades {n} händelser" in lines[0].text
    assert "vecka 47 (16–22 nov 2026)" in lines[0].text.lower()
    mean = groups["mean_prev"].sum()
    assert f"{mean:.1f}".replace(".", ",") in lines[0].text


def test_untested_table_never_claims_a_change(base):
    text = " ".join(s.text for s in week_summary(base))
    assert "äkerställd" not in text  # no direction columns: nothing is called significant
    assert "Prognos" not in text and "Insats" not in text and "Framväxande" not in text


def test_tested_changes_named_with_place_and_numbers(base):
    kf = base.layers["key_figures"].copy()
    kf["q_prev"] = 0.5
    kf["direction_prev"] = 0
    sorby = (kf["dimension"] == "area") & (kf["key"] == "Sörby")
    kf.loc[sorby, ["n_week", "mean_prev", "q_prev", "direction_prev"]] = [15, 6.0, 0.01, 1]
    lines = _texts(week_summary(_with(base, key_figures=kf)))
    assert "change" in lines and "quiet" not in lines
    assert "ökning i Sörby: 15 händelser mot 6,0" in lines["change"]
    assert lines["change"].startswith("Säkerställd")


def test_quiet_tested_week_says_so(base):
    kf = base.layers["key_figures"].assign(q_prev=0.9, direction_prev=0)
    hs = base.layers["hotspots"].assign(status="kvarstående")
    lines = _texts(week_summary(_with(base, key_figures=kf, hotspots=hs)))
    assert lines["quiet"].startswith("En lugn vecka")
    assert "recurring" in lines and "Resecentrum" not in lines["quiet"]


def test_new_zone_sentence_has_place_count_and_time(base):
    hs = base.layers["hotspots"].copy()
    hs["status"] = "kvarstående"
    hs["place_name"] = "Resecentrum"
    week_all = (hs["period"] == "vecka") & (hs["time_of_day"] == "alla") & (hs["level"] == 0.5)
    first = hs.index[week_all][0]
    hs.loc[first, ["status", "place_name", "n_events"]] = ["ny", "Stora torget", 12]
    lines = _texts(week_summary(_with(base, hotspots=hs)))
    assert "Ny hotspot-zon denna vecka: Stora torget (12 händelser" in lines["zones"]


def test_small_new_zone_is_not_news(base):
    hs = base.layers["hotspots"].assign(status="ny", n_events=1)
    assert "zones" not in _texts(week_summary(_with(base, hotspots=hs)))


def test_emerging_forecast_and_interventions_when_present(base):
    cells = gpd.GeoDataFrame(
        {
            "pattern": ["intensifierande", "ny", "inget mönster"],
            "place_name": ["Resecentrum", "Sörby centrum", "Egeby"],
        },
        geometry=[box(0, 0, 250, 250)] * 3,
        crs="EPSG:3006",
    )
    prognos = gpd.GeoDataFrame(
        {"place_name": ["Stora torget", "Resecentrum"]}, geometry=[Point(0, 0).buffer(100)] * 2, crs="EPSG:3006"
    )
    iv = gpd.GeoDataFrame(
        {
            "name": ["Trygghetsvandring", "Belysning"],
            "target": ["Sörby", "Egeby"],
            "start_week": ["2026-W47", "2026-W30"],
            "end_week": ["", "2026-W47"],
            "verdict": ["för få händelser för att säga något", "minskning"],
            "status": ["pågående", "uppföljning"],
        },
        geometry=[Point(0, 0).buffer(100)] * 2,
        crs="EPSG:3006",
    )
    lines = _texts(week_summary(_with(base, emerging=cells, prognos_zones=prognos, interventions=iv)))
    assert "intensifierande vid Resecentrum (1 ruta)" in lines["emerging"]
    assert "inget mönster" not in lines["emerging"]
    assert lines["forecast"] == "Prognosen för vecka 48 (23–29 nov 2026) pekar mot Stora torget och Resecentrum."
    assert "startade Trygghetsvandring (Sörby)" in lines["interventions"]
    assert "avslutades Belysning (Egeby)" in lines["interventions"]


def test_empty_week():
    ctx = build_week_context()
    kf = ctx.layers["key_figures"].assign(n_week=0)
    lines = week_summary(_with(ctx, key_figures=kf))
    assert [s.key for s in lines] == ["quiet"] and "Inga händelser" in lines[0].text
