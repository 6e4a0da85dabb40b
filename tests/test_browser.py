"""The map and report in headless Chromium (Debian's), with every network request blocked.

The test bodies take the ``site`` fixture: the WeekContext plus the written map, report and
index paths. It is built from the synthetic week in ``tests/fixtures_week.py``; to run the same
checks on real pipeline output, make ``site`` return the same dict from a weekly run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.render.index import render_index
from pipeline.render.maps import render_map
from pipeline.render.report import render_report
from tests.fixtures_week import XSS, build_week_context

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.fixture(scope="module", params=["synthetic", "demo"])
def site(request, tmp_path_factory) -> dict:
    """The pages of a synthetic week (with hostile texts) and of the real demo run."""
    if request.param == "demo":
        return _demo_site(request.getfixturevalue("weekly_run"))
    return _synthetic_site(tmp_path_factory)


def _demo_site(weekly_run) -> dict:
    """The real `lagesbild weekly` output for 2026-W47, with its archive read back."""
    from pipeline.runner import week_context

    result = weekly_run["result"]
    ctx = week_context(weekly_run["cfg"], result.week)
    return {"kind": "demo", "ctx": ctx, "map": result.map, "report": result.report, "index": result.index}


def _synthetic_site(tmp_path_factory) -> dict:
    """ctx and the three pages written like the runner does: maps/<week>/karta.html etc."""
    ctx = build_week_context()
    maps = tmp_path_factory.mktemp("site") / "maps"
    week_dir = maps / ctx.week
    week_dir.mkdir(parents=True)
    (week_dir / "karta.html").write_text(render_map(ctx), encoding="utf-8")
    (week_dir / "lagesbild.html").write_text(render_report(ctx), encoding="utf-8")
    (maps / "index.html").write_text(render_index(ctx.weeks, ctx.cfg), encoding="utf-8")
    return {
        "kind": "synthetic",
        "ctx": ctx,
        "map": week_dir / "karta.html",
        "report": week_dir / "lagesbild.html",
        "index": maps / "index.html",
    }


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip("Debian's chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page opened offline, recording page errors, console errors and dialogs."""

    def __init__(self, browser, path: Path, viewport=(1400, 900)):
        self.errors, self.console, self.dialogs, self.blocked = [], [], [], []
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.console.append(m) if m.type == "error" else None)
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def unexpected_console_errors(self) -> list[str]:
        # Blocked tile requests log "Failed to load resource"; anything else is a bug.
        return [m.text for m in self.console if "Failed to load resource" not in m.text]

    def close(self):
        self.page.close()


def _clusters(ctx, period="vecka", tod="alla"):
    cl = ctx.layers["clusters"]
    return cl[(cl["period"] == period) & (cl["time_of_day"] == tod)]


def _click(locator) -> None:
    """Click an SVG path at its centre by dispatching the event: another layer (an event dot or
    a marker-cluster bubble) may lie above the centre, which a real mouse click would hit."""
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    locator.dispatch_event("click", {"clientX": x, "clientY": y, "bubbles": True})


def test_map_offline_draws_default_layers(browser, site):
    ctx, view = site["ctx"], Page(browser, site["map"])
    try:
        page = view.page
        page.wait_for_selector("path.lb-boundary", state="attached")
        assert view.errors == []
        assert view.unexpected_console_errors() == []
        assert all(u.startswith("http") for u in view.blocked)  # only tiles were asked for
        # Default view: "Hela veckan" zones + clusters, events, areas, boundary; rolling off.
        assert page.locator("path.lb-cluster").count() == len(_clusters(ctx))
        hs = ctx.layers["hotspots"]
        assert page.locator("path.lb-hotspot").count() == int(
            ((hs.period == "vecka") & (hs.time_of_day == "alla")).sum()
        )
        assert page.locator("path.lb-area").count() == len(ctx.areas)
        assert page.locator("path.lb-hotspot-rolling").count() == 0
        assert page.locator(".leaflet-control-layers-base input:checked").count() == 1
        assert page.title() == "Lägesbild vecka 47, 2026 – Mjölby kommun"
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"karta_{site['kind']}.png"))
        assert view.dialogs == []
    finally:
        view.close()


def test_time_of_day_choice_switches_clusters(browser, site):
    ctx, view = site["ctx"], Page(browser, site["map"])
    try:
        page = view.page
        page.wait_for_selector("path.lb-boundary", state="attached")
        for key, b in ctx.cfg.time_of_day.items():
            page.locator(".leaflet-control-layers-base label", has_text=b.label).click()
            assert page.locator("path.lb-cluster").count() == len(_clusters(ctx, tod=key)), key
        page.locator(".leaflet-control-layers-overlays label", has_text="Rullande").click()
        assert page.locator("path.lb-hotspot-rolling").count() > 0
        assert page.locator("path.lb-cluster-rolling").count() == len(_clusters(ctx, period="rullande"))
        assert view.errors == []
    finally:
        view.close()


def test_cluster_popups_show_event_count(browser, site):
    ctx, view = site["ctx"], Page(browser, site["map"])
    try:
        page = view.page
        page.wait_for_selector("path.lb-cluster", state="attached")
        expected = dict(zip(_clusters(ctx)["cluster_id"], _clusters(ctx)["n_events"]))
        paths = page.locator("path.lb-cluster")
        seen = set()
        for i in range(paths.count()):
            path = paths.nth(i)
            cid = path.get_attribute("data-cluster-id")
            _click(path)
            content = page.locator(".leaflet-popup-content").last
            text = content.inner_text()
            assert f"Antal händelser: {expected[cid]}" in text
            assert ("Ny" in text) or ("Kvarstående" in text)
            assert content.locator("img").count() == 0
            if not seen:
                SCREENSHOTS.mkdir(exist_ok=True)
                page.wait_for_timeout(400)  # let the popup fade-in finish: screenshot only, not a check
                page.screenshot(path=str(SCREENSHOTS / f"karta_popup_{site['kind']}.png"))
            seen.add(cid)
            page.keyboard.press("Escape")
        assert seen == set(expected)
        assert view.dialogs == [] and view.errors == []
    finally:
        view.close()


def test_xss_texts_stay_text(browser, site):
    view = Page(browser, site["map"])
    try:
        page = view.page
        page.wait_for_selector("path.lb-area", state="attached")
        texts = []
        for locator in (page.locator("path.lb-area"), page.locator("path.lb-cluster")):
            for i in range(locator.count()):
                _click(locator.nth(i))
                texts.append(page.locator(".leaflet-popup-content").last.inner_text())
        if site["kind"] == "synthetic":
            assert any(XSS in t for t in texts)  # shown literally ...
        assert page.locator(".leaflet-popup-content img, .leaflet-tooltip img").count() == 0  # ... never as markup
        # Open event popups too (zoom in until the marker cluster lets single dots go).
        page.evaluate("document.querySelectorAll('.marker-cluster').forEach(e => e.click())")
        dots = page.locator("path.lb-event")
        for i in range(min(dots.count(), 40)):
            dots.nth(i).dispatch_event("click")
        assert view.dialogs == []
        assert view.errors == []
    finally:
        view.close()


def test_report_in_browser_matches_layers(browser, site):
    ctx, view = site["ctx"], Page(browser, site["report"], viewport=(1000, 1400))
    try:
        page = view.page
        assert view.errors == [] and view.unexpected_console_errors() == [] and view.blocked == []
        cells = page.eval_on_selector_all(
            "[data-n-week]", "els => els.map(e => [e.dataset.key, e.dataset.nWeek, e.textContent.trim()])"
        )
        kf = ctx.layers["key_figures"]
        assert len(cells) == len(kf)
        shown = {k: (n, t) for k, n, t in cells}
        for row in kf.itertuples(index=False):
            n, text = shown[f"{row.dimension}:{row.key}"]
            assert int(n) == row.n_week and text == str(int(row.n_week))
        heat = page.eval_on_selector_all("td[data-hour]", "els => els.reduce((s, e) => s + Number(e.dataset.n), 0)")
        assert heat == int(ctx.layers["weekday_hour"]["n"].sum())
        suppressed = int(ctx.layers["area_summary"]["suppressed"].sum())
        assert (
            page.locator("td.lb-suppressed", has_text="< 3").count()
            == (suppressed if site["kind"] == "demo" else max(suppressed, 1))
            or suppressed == 0
        )
        assert page.locator("svg").count() >= 2
        assert view.dialogs == []
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"lagesbild_{site['kind']}.png"), full_page=True)
    finally:
        view.close()


def test_report_prints_on_a4(browser, site, tmp_path):
    view = Page(browser, site["report"])
    try:
        pdf = view.page.pdf(path=str(tmp_path / "lagesbild.pdf"), prefer_css_page_size=True)
        assert pdf[:4] == b"%PDF" and pdf.count(b"/Type /Page") >= 2
        # A4 portrait is 595 × 842 points.
        assert b"/MediaBox [0 0 595" in pdf or b"/MediaBox [0 0 594" in pdf
    finally:
        view.close()


def test_index_links_to_written_pages(browser, site):
    view = Page(browser, site["index"], viewport=(900, 600))
    try:
        page = view.page
        links = page.eval_on_selector_all("a", "els => els.map(a => a.href)")
        week = site["ctx"].week
        assert site["map"].as_uri() in links and site["report"].as_uri() in links
        assert page.locator("tr.lb-week").first.get_attribute("data-week") == max(site["ctx"].weeks)
        assert f"Vecka {int(week[-2:])}" in page.locator("body").inner_text()
        page.screenshot(path=str(SCREENSHOTS / f"index_{site['kind']}.png")) if SCREENSHOTS.exists() else None
        assert view.errors == [] and view.blocked == []
    finally:
        view.close()


def test_hostile_export_text_is_escaped_end_to_end(browser, project):
    """An export whose category and place hold markup: after a real weekly run the report
    shows the text literally (unmapped categories are listed), and no script runs."""
    from pipeline.config import load_config
    from pipeline.runner import run_weekly
    from tests.conftest import NOW

    hostile = "<img src=x onerror=alert(1)>"
    export = project.parent / "data/raw/kommunen/kommunen_elak.csv"
    export.write_bytes(
        (
            "Ärendenr;Datum;Tid;Verksamhet;Händelsetyp;Plats;Beskrivning\r\n"
            f"MK-X-1;2026-11-18;20:15;<script>alert(2)</script>;{hostile};Stora torget;{hostile}\r\n"
            f"MK-X-2;2026-11-18;20:20;Fritid;Klotter;{hostile};text\r\n"
        ).encode("cp1252")
    )
    result = run_weekly(load_config(project), week="2026-W47", now=NOW, echo=lambda s: None)
    for path in (result.report, result.map):
        view = Page(browser, path)
        try:
            view.page.wait_for_load_state("load")
            if path == result.report:
                assert hostile in view.page.locator("body").inner_text()
            assert view.page.locator("img[src=x]").count() == 0
            assert view.dialogs == [] and view.errors == []
        finally:
            view.close()


# -- issue 13: the map on a phone and a desktop, the summary, the printout ---------------------

PHONE = (390, 844)
DESKTOP = (1366, 900)


def _drawn_events(ctx):
    ev = ctx.layers["events"]
    keep = (ev["duplicate_of"].fillna("") == "") & ~ev["category"].isin(ctx.cfg.sensitive_categories())
    return ev[keep]


def test_time_of_day_filters_event_dots(browser, site):
    ctx, view = site["ctx"], Page(browser, site["map"], viewport=DESKTOP)
    try:
        page = view.page
        page.wait_for_selector("path.lb-boundary", state="attached")
        events = _drawn_events(ctx)
        assert page.locator("path.lb-event").count() == len(events)
        assert page.locator(".marker-cluster").count() == 0  # no numbered bubbles that look like clusters
        for key, b in ctx.cfg.time_of_day.items():
            page.locator(".leaflet-control-layers-base label", has_text=b.label).click()
            n = int((events["time_of_day"] == key).sum())
            assert page.locator("path.lb-event").count() == n, key
            assert page.locator(f"path.lb-event:not(.lb-event-{key})").count() == 0
            assert page.locator(".lb-event-count").first.inner_text() == str(n)
        page.locator(".leaflet-control-layers-base label", has_text="Hela dygnet").click()
        assert page.locator("path.lb-event").count() == len(events)
        assert view.errors == []
    finally:
        view.close()


def test_desktop_panels_open_labels_and_summary(browser, site):
    ctx, view = site["ctx"], Page(browser, site["map"], viewport=DESKTOP)
    try:
        page = view.page
        page.wait_for_selector("path.lb-boundary", state="attached")
        page.wait_for_timeout(300)
        assert page.locator(".leaflet-control-layers-expanded").count() == 1
        assert page.locator("details.lb-legend[open]").count() == 1
        summary = page.locator("details.lb-summary")
        assert summary.get_attribute("open") is not None
        from pipeline.render.summary import week_summary

        assert week_summary(ctx)[0].text in summary.inner_text()
        # the open summary and legend never cover each other
        top = page.locator("details.lb-summary").bounding_box()
        bottom = page.locator("details.lb-legend").bounding_box()
        assert top["y"] + top["height"] <= bottom["y"], (top, bottom)
        labels = page.locator(".lb-area-label")
        assert labels.count() == len(ctx.areas)
        visible = page.eval_on_selector_all(
            ".lb-area-label",
            "els => els.filter(e => getComputedStyle(e).visibility !== 'hidden' "
            "&& e.getBoundingClientRect().width > 0).length",
        )
        assert visible >= 1

        # labels grow with the zoom
        def size():
            return page.eval_on_selector(".lb-area-label", "e => parseFloat(getComputedStyle(e).fontSize)")

        before = size()
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(400)
        assert size() >= before
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"karta_desktop_{site['kind']}.png"))
        assert view.errors == []
    finally:
        view.close()


def test_phone_title_navigation_map_and_collapsed_panels(browser, site):
    view = Page(browser, site["map"], viewport=PHONE)
    try:
        page = view.page
        page.wait_for_selector("path.lb-boundary", state="attached")
        page.wait_for_timeout(300)
        third = PHONE[1] / 3
        h1 = page.locator(".lb-bar h1").bounding_box()
        assert h1["x"] >= 0 and h1["x"] + h1["width"] <= PHONE[0] and h1["y"] >= 0
        for link in (".lb-report", ".lb-index"):
            box = page.locator(link).bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE[0] and box["y"] + box["height"] <= 140
        bar = page.locator(".lb-bar").bounding_box()
        mapbox = page.locator(".folium-map").bounding_box()
        assert mapbox["y"] >= bar["y"] + bar["height"] - 1 and mapbox["height"] >= PHONE[1] * 0.7
        # every panel starts collapsed and small
        assert page.locator("details.lb-panel[open]").count() == 0
        assert page.locator(".leaflet-control-layers-expanded").count() == 0
        for sel in ("details.lb-legend", "details.lb-summary", ".leaflet-control-layers"):
            assert page.locator(sel).bounding_box()["height"] <= third, sel
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"karta_phone_{site['kind']}.png"))
        # a tap opens each, and no open panel covers more than a third of the screen
        page.locator("details.lb-legend > summary").click()
        legend = page.locator("details.lb-legend").bounding_box()
        assert page.locator("details.lb-legend[open]").count() == 1 and legend["height"] <= third + 1
        page.locator("details.lb-legend > summary").click()
        # a tap is a click without a hover first (a mouse would expand it by hovering)
        page.locator(".leaflet-control-layers-toggle").dispatch_event("click")
        assert page.locator(".leaflet-control-layers-expanded").count() == 1
        assert page.locator(".leaflet-control-layers").bounding_box()["height"] <= third + 1
        page.screenshot(path=str(SCREENSHOTS / f"karta_phone_layers_{site['kind']}.png"))
        assert view.errors == []
    finally:
        view.close()


def test_report_main_part_fits_four_a4_pages(browser, site, tmp_path):
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("poppler's pdftotext is not installed")
    import subprocess

    view = Page(browser, site["report"])
    try:
        path = tmp_path / "lagesbild.pdf"
        view.page.pdf(path=str(path), prefer_css_page_size=True)
        text = subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
        pages = text.split("\f")
        annex = next(i for i, p in enumerate(pages) if "Bilaga: underlag, metod och körinformation" in p)
        assert annex <= 4, f"the main part takes {annex} pages"
        assert "Veckans viktigaste" in pages[0]
        for page_text in pages[:annex]:
            lines = [ln.strip() for ln in page_text.splitlines() if ln.strip()]
            # no heading alone at the bottom of a page
            assert lines and not lines[-1].startswith(("Hotspot-zoner:", "Kluster:", "Heta tider", "Nyckeltal"))
    finally:
        view.close()


def test_index_shows_latest_summary(browser, site):
    view = Page(browser, site["index"], viewport=PHONE)
    try:
        page = view.page
        body = page.locator("body").inner_text()
        assert "Vecka" in body and view.errors == []
        if site["kind"] == "demo":
            assert page.locator("#viktigast li").count() >= 3
            assert page.locator("#trend-alla-veckor svg").count() == 1
    finally:
        view.close()
