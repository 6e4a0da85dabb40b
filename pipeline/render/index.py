"""index.html: a dashboard of the archive — the latest week's *Veckans viktigaste*, a chart of
the weekly counts (every week of the data up to the newest archive, archived or not), and
every archived week with its count and links.

The counts come from the latest week's ``series`` layer (every week of the data up to it,
protected events never counted) when the archive has it, so the index reads one archive,
not all of them; weeks without a count show "–".
"""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from pipeline.render import format as fmt
from pipeline.render import web_assets as wa
from pipeline.render.report import chart_svg_line
from pipeline.render.summary import week_summary

#: ``area`` / ``group`` key of the series rows that total over every area / group.
ALL_KEY = "alla"


def render_index(weeks: list[str], cfg, maps_dir_rel: str = "", latest=None) -> str:
    """index.html: every archived week, newest first, with links to its map and report; with
    ``latest`` (the newest week's WeekContext) also its summary and the trend chart.

    ``maps_dir_rel`` is prefixed to the week folders (``""`` when index.html sits in maps/).

    >>> from types import SimpleNamespace as NS
    >>> html = render_index(["2026-W46", "2026-W47"], NS(municipality=NS(name="Mjölby kommun")))
    >>> html.index("2026-W47/karta.html") < html.index("2026-W46/karta.html")
    True
    """
    counts = week_counts(latest)
    rows = []
    for week in sorted(set(weeks), reverse=True):
        year, num = fmt.week_parts(week)
        n = counts.get(week)
        rows.append(
            {
                "week": week,
                "year": year,
                "number": num,
                "period": fmt.week_period(week),
                "n": "" if n is None else n,
                "n_text": "–" if n is None else fmt.sv_number(n),
                "map_href": f"{maps_dir_rel}{week}/karta.html",
                "report_href": f"{maps_dir_rel}{week}/lagesbild.html",
            }
        )
    # Every week of the data up to the newest archive: a fresh archive has a trend already.
    series = sorted(counts.items())
    highlight = latest.week if latest is not None else None
    chart = Markup(chart_svg_line(series, highlight=highlight)) if len(series) > 1 else ""
    summary = week_summary(latest) if latest is not None else []
    latest_view = None
    if latest is not None:
        year, num = fmt.week_parts(latest.week)
        latest_view = {
            "week": latest.week,
            "label": f"Vecka {num}, {year}",
            "period": fmt.week_period(latest.week),
            "map_href": f"{maps_dir_rel}{latest.week}/karta.html",
            "report_href": f"{maps_dir_rel}{latest.week}/lagesbild.html",
        }
    return wa.render_template(
        "index.html.j2",
        title=f"Lägesbild – {cfg.municipality.name}",
        rows=rows,
        summary=summary,
        chart=chart,
        latest=latest_view,
    )


def week_counts(ctx) -> dict[str, int]:
    """Events per ISO week (whole municipality) from ``ctx``'s series layer; {} without one."""
    if ctx is None:
        return {}
    series = ctx.layers.get("series")
    if series is None or len(series) == 0:
        kf = ctx.layers.get("key_figures")
        if kf is None or len(kf) == 0:
            return {}
        groups = kf[kf["dimension"].astype(str) == "group"]
        return {ctx.week: int(pd.to_numeric(groups["n_week"], errors="coerce").fillna(0).sum())}
    total = series[(series["area"].astype(str) == ALL_KEY) & (series["group"].astype(str) == ALL_KEY)]
    return {str(w): int(n) for w, n in zip(total["week"], total["n"])}
