"""render_report: one self-contained Swedish A4 page whose numbers equal the archive layers."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from pipeline.render.report import TOP_CLUSTERS, TOP_ZONES, info_label, render_report, weekday_hour_matrix
from pipeline.render.summary import week_summary
from pipeline.schema import REASONS
from tests.fixtures_week import XSS, build_week_context, elements_with, external_refs, resource_refs


@pytest.fixture(scope="module")
def ctx():
    return build_week_context()


@pytest.fixture(scope="module")
def page(ctx) -> str:
    return render_report(ctx)


def _num(text: str):
    return None if text == "" else float(text)


def test_self_contained_and_printable(page):
    assert external_refs(page) == [] and resource_refs(page) == []
    assert "http://" not in page and "https://" not in page  # not even SVG namespaces
    assert "@page { size: A4" in page and "@media print" in page
    assert page.startswith("<!DOCTYPE html>") and '<html lang="sv">' in page
    assert page.count("<svg") >= 2  # inline matplotlib charts


def test_title_and_swedish_sections(page):
    assert "<title>Lägesbild vecka 47, 2026 – Mjölby kommun</title>" in page
    assert "<h1>Lägesbild vecka 47, 2026 – Mjölby kommun</h1>" in page
    for heading in (
        "Veckans viktigaste",
        "Nyckeltal",
        "Heta tider",
        "Hotspot-zoner",
        "Kluster: händelser nära varandra",
        "Underlag och datakvalitet",
        "Körinformation",
        "16–22 nov 2026",
        "Snitt föregående 4 v.",
    ):
        assert heading in page, heading


def test_key_figures_equal_layer(ctx, page):
    kf = ctx.layers["key_figures"]
    shown = {a["data-key"]: a for a, _ in elements_with(page, "data-n-week")}
    means = {a["data-key"]: a for a, _ in elements_with(page, "data-mean-prev")}
    changes = {a["data-key"]: a for a, _ in elements_with(page, "data-change")}
    assert len(shown) == len(kf)
    for row in kf.itertuples(index=False):
        key = f"{row.dimension}:{row.key}"
        assert _num(shown[key]["data-n-week"]) == row.n_week
        assert _num(means[key]["data-mean-prev"]) == pytest.approx(row.mean_prev)
        assert _num(changes[key]["data-change"]) == pytest.approx(row.change)


def test_key_figure_text_and_change_marks(ctx, page):
    kf = ctx.layers["key_figures"]
    cells = {a["data-key"]: (a, t) for a, t in elements_with(page, "data-change")}
    for row in kf.itertuples(index=False):
        attrs, text = cells[f"{row.dimension}:{row.key}"]
        # issue 10: only a tested, significant change gets ▲/▼; this archive has no trends layer
        assert text == "ej prövad" and "lb-same" in attrs["class"].split() and "▲" not in text and "▼" not in text
    vald = kf[(kf.dimension == "group") & (kf.key == "vald")].iloc[0]
    n_cell = next(t for a, t in elements_with(page, "data-n-week") if a["data-key"] == "group:vald")
    assert n_cell == str(int(vald.n_week))


def test_weekday_hour_table_equals_layer(ctx, page):
    matrix = weekday_hour_matrix(ctx.layers["weekday_hour"])
    cells = elements_with(page, "data-hour")
    assert len(cells) == 7 * 24
    for attrs, text in cells:
        n = int(matrix.loc[int(attrs["data-weekday"]), int(attrs["data-hour"])])
        assert int(attrs["data-n"]) == n and text == (str(n) if n else "")
    assert f"Summa: {int(matrix.to_numpy().sum())} händelser" in page


def test_weekday_hour_accepts_wide_layer():
    wide = pd.DataFrame(0, index=range(1, 8), columns=range(24))
    wide.loc[5, 22] = 6
    assert weekday_hour_matrix(wide).loc[5, 22] == 6


def test_clusters_and_zones_equal_layers(ctx, page):
    cl = ctx.layers["clusters"]
    week = cl[cl["period"] == "vecka"]
    rows = {a["data-cluster-id"]: t for a, t in elements_with(page, "data-cluster-id")}
    assert set(rows) <= set(week["cluster_id"]) and len(rows) == min(TOP_CLUSTERS, len(week))
    assert ("alla finns på kartan" in page) == (len(week) > TOP_CLUSTERS)
    week = week[week["cluster_id"].isin(rows)]
    for row in week.itertuples(index=False):
        assert ("Kvarstående" if row.status == "kvarstående" else "Ny") in rows[row.cluster_id]
        assert str(row.n_events) in rows[row.cluster_id]
    zones = elements_with(page, "data-zone-id")
    hs = ctx.layers["hotspots"]
    broadest = hs["level"].astype(float).max()
    shown = [
        (a["data-period"], a["data-time-of-day"], float(a["data-level"]), int(a["data-zone-id"]), int(a_n))
        for (a, _), a_n in zip(zones, [z["data-n-events"] for z, _ in elements_with(page, "data-n-events")])
    ]
    assert shown, "the report lists the largest zones"
    by_key = {(r.period, r.time_of_day, float(r.level), int(r.zone_id)): int(r.n_events) for r in hs.itertuples()}
    for period, tod, level, zone_id, n in shown:
        assert by_key[(period, tod, level, zone_id)] == n  # every listed zone is the archive's, same count
        assert level == broadest and (period == "vecka" or tod == "alla")
    for (period, tod), group in pd.DataFrame(shown, columns=["p", "t", "l", "z", "n"]).groupby(["p", "t"]):
        pool = hs[(hs["period"] == period) & (hs["time_of_day"] == tod) & (hs["level"].astype(float) == broadest)]
        expected = sorted(pool["n_events"].astype(int), reverse=True)[: len(group)]
        assert sorted(group["n"], reverse=True) == expected and len(group) == min(TOP_ZONES, len(pool))
    # n_events cells in document order: zone tables (vecka, then rullande), then clusters.
    n_cells = [int(a["data-n-events"]) for a, _ in elements_with(page, "data-n-events")]
    assert sorted(n_cells) == sorted([n for *_k, n in shown] + list(week["n_events"]))


def test_suppressed_counts_show_as_less_than_k(ctx, page):
    k = ctx.cfg.privacy.min_count
    cells = elements_with(page, "data-suppressed")
    hidden = [(a, t) for a, t in cells if a["data-suppressed"] == "true"]
    n_suppressed = int(ctx.layers["area_summary"]["suppressed"].sum())
    assert len(hidden) == n_suppressed >= 1
    assert all(t == f"< {k}" and a["data-n"] == "" for a, t in hidden)
    shown = [(a, t) for a, t in cells if a["data-suppressed"] == "false" and a["data-n"] not in ("", "0")]
    total = ctx.layers["area_summary"]["n_events"].dropna().sum()
    assert sum(int(a["data-n"]) for a, _ in shown) == total


def test_partner_quality_in_swedish(ctx, page):
    partners = ctx.quality["partners"]
    cells = elements_with(page, "data-measure")
    read = {
        a["data-partner"]: int(a["data-n"])
        for a, _ in cells
        if a.get("data-measure") == "rows_read" and "data-partner" in a
    }
    assert read == {k: q["rows_read"] for k, q in partners.items()}
    for q in partners.values():
        for code in q["rejected_by_reason"]:
            assert REASONS[code] in page
    assert "Geokodning: gatans mittpunkt (okänt husnummer)" in page
    assert "Okänd händelse (2)" in page


def test_run_information(ctx, page):
    assert "data/raw/polisen/demo_polisen_2026_v35-v47.csv" in page and "cd" * 32 in page
    assert "0.1.0+g26ece58" in page and "ab" * 32 in page
    assert "Kärna (KDE)" in page and "quartic" in page


def test_xss_is_escaped(page):
    assert XSS not in page
    assert "Hagalund &lt;img src=x onerror=alert(1)&gt;" in page
    assert "Hagalundsskolan &lt;img src=x onerror=alert(1)&gt;" in page


def test_empty_week_renders(ctx):
    empty = {k: v.iloc[0:0] for k, v in ctx.layers.items()}
    html = render_report(dataclasses.replace(ctx, layers=empty, quality={}))
    assert "Inga kluster denna vecka" in html and "Ingen kvalitetssammanställning" in html
    assert external_refs(html) == []


def _main_part(page: str) -> str:
    return page[: page.index('id="bilaga"')]


def test_summary_leads_the_report(ctx, page):
    items = elements_with(page, "data-summary-key")
    expected = week_summary(ctx)
    assert [a["data-summary-key"] for a, _ in items] == [s.key for s in expected]
    assert [t for _, t in items] == [s.text for s in expected]
    assert page.index('id="viktigast"') < page.index('id="karta"') < page.index('id="nyckeltal"')


def test_map_images_inline(page):
    main = _main_part(page)
    figures = elements_with(main, "class")
    maps = [a for a, _ in figures if "lb-map" in a.get("class", "").split()]
    assert 1 <= len(maps) <= 3 and maps[0]["id"] == "karta-oversikt"
    assert "Närbild: " in main and "Hotspot-zon, tätaste" in main and "km" in main


def test_stylesheet_is_not_escaped(page):
    style = page[page.index("<style>") : page.index("</style>")]
    assert "&#34;" not in style and "&quot;" not in style
    assert 'font-family: "Segoe UI", "DejaVu Sans"' in style


def test_plain_words_in_main_part_technical_names_in_annex(page):
    main, annex = _main_part(page), page[page.index('id="bilaga"') :]
    assert "kernel density" not in main.lower() and "DBSCAN" not in main and "PAI" not in main
    assert "Kernel density estimation (KDE)" in annex and "DBSCAN" in annex and "PAI" in annex
    assert annex.index('id="omraden"') < annex.index('id="datakvalitet"') < annex.index('id="korning"')


def test_run_info_has_swedish_labels():
    assert info_label("eps_m") == "Klusteravstånd, DBSCAN eps (m)"
    assert info_label("bandwidth_config") == "Bandbredd enligt konfigurationen (m)"
    assert info_label("rows:events") == "Rader i arkivlagret events"
