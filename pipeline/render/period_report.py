"""The quarter's or the year's report (``maps/<period>/lagesbild.html``) from the weekly archives.

``render_period_report`` takes the archive layers of the period's weeks (read by the runner)
and shows pipeline/analysis/period.py's results in the steering group's words.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.analysis.period import (
    parse_period,
    period_trends,
    period_weeks,
    previous_period,
    priority_areas,
    recurring_places,
    seasonal_tables,
    year_before,
)
from pipeline.analysis.trends import area_names
from pipeline.render import format as fmt
from pipeline.render import web_assets as wa
from pipeline.schema import WEEKDAY_NAMES

#: Interventions layer columns shown in the period report, with their Swedish headings.
INTERVENTION_COLUMNS = {
    "name": "Insats",
    "type": "Typ",
    "target": "Plats",
    "start": "Start",
    "end": "Slut",
    "status": "Status",
    "verdict": "Bedömning",
    "ring_note": "Närområdet",
}


def period_label(period: str) -> str:
    """``2026-Q3`` -> "kvartal 3, 2026"; ``2026`` -> "år 2026".

    >>> period_label("2026-Q3"), period_label("2025")
    ('kvartal 3, 2026', 'år 2025')
    """
    p = parse_period(period)
    return f"år {p.year}" if p.quarter is None else f"kvartal {p.quarter}, {p.year}"


def render_period_report(period: str, weekly_layers: dict[str, dict], cfg, areas) -> str:
    """HTML of the period report. ``weekly_layers``: archived week -> its layers (read back);
    the latest one's ``series`` covers the history the comparisons need."""
    weeks = [w for w in period_weeks(period) if w in weekly_layers]
    latest = weekly_layers[max(weekly_layers)]
    series = latest.get("series")
    labels = {"group": {k: g.label for k, g in cfg.groups.items()}, "area": {n: n for n in area_names(areas)}}
    trends = period_trends(series, period, cfg, labels) if series is not None and len(series) else None
    places = recurring_places({w: weekly_layers[w].get("hotspots") for w in weeks}, areas)
    events = pd.concat([weekly_layers[w]["events"] for w in weeks if "events" in weekly_layers[w]] or [pd.DataFrame()])
    events = events[events["duplicate_of"].fillna("").astype(str) == ""] if len(events) else events
    seasonal = seasonal_tables(events, cfg)
    view = {
        "title": f"Lägesbild {period_label(period)} – {cfg.municipality.name}",
        "first_week": weeks[0] if weeks else "–",
        "last_week": weeks[-1] if weeks else "–",
        "n_weeks": len(weeks),
        "n_period_weeks": len(period_weeks(period)),
        "partner_names": ", ".join(p.label for p in cfg.partners.values()),
        "prev_label": period_label(previous_period(period)),
        "year_label": period_label(year_before(period)),
        "alpha": fmt.sv_percent(cfg.trends.alpha),
        "trend_dims": _trend_dims(trends),
        "places": places.head(10).to_dict("records"),
        "priorities": priority_areas(trends, places, len(weeks)) if trends is not None else [],
        "seasonal": _seasonal_view(seasonal, cfg),
        "interventions": _interventions(weekly_layers[weeks[-1]].get("interventions") if weeks else None),
    }
    return wa.render_template("period.html.j2", r=view, css=wa.template_text("lagesbild.css")).lstrip()


def _trend_dims(trends) -> list[dict]:
    if trends is None:
        return []
    out = []
    for dim, title in (("group", "Kategorigrupp"), ("area", "Område")):
        part = trends[trends["dimension"] == dim].sort_values(["direction_prev", "n_now"], ascending=[False, False])
        rows = [
            {
                "key": r.key,
                "label": r.label,
                "n": fmt.sv_number(r.n_now),
                "rate": fmt.sv_number(r.n_now / r.weeks_now, 1) if r.weeks_now else "–",
                "prev": _change(r.pct_prev, r.direction_prev, r.weeks_prev),
                "year": _change(r.pct_year, r.direction_year, r.weeks_year),
            }
            for r in part.itertuples()
        ]
        out.append({"title": title, "rows": rows})
    return out


def _change(pct: float, direction: int, weeks: int) -> dict:
    """The cell text of a tested change: arrow and percent only when significant."""
    if not weeks:
        return {"css": "lb-same", "text": "inget underlag"}
    pct_text = "" if not math.isfinite(pct) else f" ({'+' if pct > 0 else '−'}{fmt.sv_number(abs(pct))} %)"
    if direction > 0:
        return {"css": "lb-up", "text": f"▲ ökning{pct_text}"}
    if direction < 0:
        return {"css": "lb-down", "text": f"▼ minskning{pct_text}"}
    return {"css": "lb-same", "text": f"ingen säker förändring{pct_text}"}


def _seasonal_view(tables: dict, cfg) -> list[dict]:
    columns = [b.label for b in cfg.time_of_day.values()]
    out = []
    for key, title, names in (
        ("month", "Per månad och tid på dygnet", None),
        ("weekday", "Per veckodag och tid på dygnet", WEEKDAY_NAMES),
    ):
        t = tables[key]
        rows = [
            {
                "label": (names[int(i) - 1] if names else str(i)).capitalize(),
                "counts": [int(v) for v in t.loc[i]],
                "total": int(t.loc[i].sum()),
            }
            for i in t.index
        ]
        out.append({"title": title, "columns": columns, "rows": rows})
    return out


def _interventions(layer) -> dict | None:
    if layer is None or len(layer) == 0:
        return None
    cols = [c for c in INTERVENTION_COLUMNS if c in layer.columns]
    if not cols:
        return None
    rows = [[fmt.text(v) or "–" for v in row] for row in layer[cols].itertuples(index=False)]
    return {"columns": [INTERVENTION_COLUMNS[c] for c in cols], "rows": rows}
