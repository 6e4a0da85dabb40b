"""index.html: every archived week, newest first, with links to its map and report."""

from __future__ import annotations

from pipeline.render import format as fmt
from pipeline.render import web_assets as wa

def render_index(weeks: list[str], cfg, maps_dir_rel: str = "") -> str:
    """index.html: every archived week, newest first, with links to its map and report.

    ``maps_dir_rel`` is prefixed to the week folders (``""`` when index.html sits in maps/).

    >>> from types import SimpleNamespace as NS
    >>> html = render_index(["2026-W46", "2026-W47"], NS(municipality=NS(name="Mjölby kommun")))
    >>> html.index("2026-W47/karta.html") < html.index("2026-W46/karta.html")
    True
    """
    rows = []
    for week in sorted(set(weeks), reverse=True):
        year, num = fmt.week_parts(week)
        rows.append({"week": week, "year": year, "number": num, "period": fmt.week_period(week),
                     "map_href": f"{maps_dir_rel}{week}/karta.html",
                     "report_href": f"{maps_dir_rel}{week}/lagesbild.html"})
    return wa.render_template("index.html.j2", title=f"Lägesbild – {cfg.municipality.name}", rows=rows)
