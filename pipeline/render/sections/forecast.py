"""The forecast in the report and on the map, and how last week's maps did.

Two report sections read the archive's ``prognos_zones`` and ``accuracy`` layers and the
``forecast_*`` run_info entries (pipeline/analysis/forecast.py, pipeline/evaluation/backtest.py):

- *Var bör vi vara nästa vecka?* — the largest forecast zones of the smallest level with
  their place, the time of day with most of their events and the expected number of events,
  how the settings were chosen, and how the forecast has done lately;
- *Hur träffade förra veckans kartor?* — this week's events caught by last week's forecast
  zones, last week's hotspot map and the rolling map, on equal shares of the area, with the
  last weeks as a small trend table.

The map gets the forecast zones as one overlay (off when the map opens).
"""

from __future__ import annotations

import html
import json

import pandas as pd

from pipeline.evaluation.backtest import FORECAST_METHOD
from pipeline.render import format as fmt
from pipeline.render.palette import FORECAST_COLORS
from pipeline.render.sections import ReportSection
from pipeline.schema import ROLLING_PERIOD, WEEK_PERIOD

#: At most this many zones in the report's list (the map and the archive have them all).
MAX_ZONES = 8
#: The maps scored each week, in the report's order, with their Swedish names (definite form).
METHOD_NAMES = {
    FORECAST_METHOD: "Förra veckans prognosområden",
    WEEK_PERIOD: "Förra veckans hotspot-karta",
    ROLLING_PERIOD: "Den rullande kartan",
}
METHOD_SHORT = {FORECAST_METHOD: "Prognos", WEEK_PERIOD: "Veckans karta", ROLLING_PERIOD: "Rullande karta"}


# -- "Var bör vi vara nästa vecka?" ----------------------------------------------------------------
def build_forecast(ctx) -> dict | None:
    """The section's values; None for an archive built before the forecast existed."""
    info = ctx.run_info or {}
    if "forecast_setting" not in info:
        return None
    zones = _layer(ctx, "prognos_zones")
    levels = sorted(float(v) for v in json.loads(info.get("forecast_levels") or "[]")) or sorted(
        float(v) for v in ctx.cfg.forecast.levels
    )
    level = levels[0]
    shown = zones[zones["level"].astype(float) == level] if len(zones) else zones
    rows = [zone_row(r, ctx.cfg) for r in shown.head(MAX_ZONES).itertuples()]
    next_week = info.get("forecast_for_week", "")
    return {
        "for_week": fmt.week_parts(next_week)[1] if next_week else "",
        "for_period": fmt.week_period(next_week) if next_week else "",
        "level_text": fmt.level_text(level),
        "n_zones": len(shown),
        "rows": rows,
        "expected": fmt.sv_number(float(info.get("forecast_n_expected") or 0), 0),
        "how": setting_text(info, ctx.cfg.analysis.cell_size_m),
        "lately": lately_text(_layer(ctx, "accuracy"), levels),
    }


def zone_row(r, cfg) -> dict:
    busiest = str(r.busiest_time_of_day or "")
    share = r.busiest_share
    return {
        "zone_id": int(r.zone_id),
        "place": fmt.text(r.place_name) or "namnlös plats",
        "busiest": (f"{fmt.time_label(busiest, cfg)} ({fmt.sv_percent(share)})" if busiest else "–"),
        "expected": fmt.sv_number(r.n_expected, 1),
        "area": fmt.sv_number(r.area_km2, 2),
        "this_week": fmt.sv_number(r.n_events_week),
    }


def setting_text(info: dict, cell_m: float) -> str:
    """How the forecast was built and why, in plain Swedish.

    >>> setting_text({"forecast_chosen_by": "backtest", "forecast_bandwidth_m": "100", "forecast_window_weeks": "",
    ...               "forecast_half_life_weeks": "13", "forecast_short_share": "0", "forecast_candidates": "40",
    ...               "forecast_backtest_weeks": "25", "forecast_first_week": "2026-W22"}, 50)
    'Prognosen väger samman alla veckor sedan 2026-W22, där en händelse väger hälften så mycket efter 13 veckor, utjämnat med 100 m radie. Inställningarna valdes automatiskt: av 40 provade inställningar träffade den här bäst de senaste 25 veckorna, när varje vecka förutsades bara från veckorna före den.'
    """  # noqa: E501
    h = float(info.get("forecast_bandwidth_m") or 0)
    window = info.get("forecast_window_weeks") or ""
    half_life = info.get("forecast_half_life_weeks") or ""
    first = info.get("forecast_first_week") or ""
    when = f"de senaste {window} veckorna" if window else (f"alla veckor sedan {first}" if first else "alla veckor")
    if window == "1":
        when = "förra veckan"
    parts = [f"Prognosen väger samman {when}"]
    if half_life:
        parts.append(f", där en händelse väger hälften så mycket efter {fmt.sv_number(float(half_life))} veckor")
    if h > cell_m:
        parts.append(f", utjämnat med {fmt.sv_number(h)} m radie")
    else:
        parts.append(f", räknat ruta för ruta ({fmt.sv_number(cell_m)} m)")
    share = float(info.get("forecast_short_share") or 0)
    if share > 0:
        parts.append(
            f", och till {fmt.sv_percent(share)} av de senaste {info.get('forecast_short_weeks', '4')} veckorna "
            f"utjämnat med {fmt.sv_number(float(info.get('forecast_short_bandwidth_m') or h))} m radie"
        )
    text = "".join(parts) + "."
    if info.get("forecast_chosen_by") == "backtest":
        text += (
            f" Inställningarna valdes automatiskt: av {info.get('forecast_candidates', '')} provade inställningar "
            f"träffade den här bäst de senaste {info.get('forecast_backtest_weeks', '')} veckorna, när varje vecka "
            "förutsades bara från veckorna före den."
        )
    else:
        text += (
            f" Historiken är för kort för att välja inställningar ({info.get('forecast_history_weeks', '')} veckor, "
            f"minst {info.get('forecast_min_weeks', '')} behövs), så standardinställningen används."
        )
    return text


def lately_text(accuracy: pd.DataFrame, levels) -> str:
    """How the forecast did last week and on average over the recorded weeks.

    >>> acc = pd.DataFrame({"week": ["2026-W46", "2026-W47"] * 2, "method": "prognos",
    ...                     "level": [1.0, 1.0, 5.0, 5.0], "hit_rate": [0.3, 0.38, 0.6, 0.7]})
    >>> lately_text(acc, [1.0, 5.0]).replace("\xa0", " ")
    'Förra veckans prognosområden, 1 % av ytan, fångade 38 % av veckans händelser; på 5 % av ytan fångade de 70 %. De senaste 2 veckorna fångade prognosen i snitt 34 % (1 % av ytan) och 65 % (5 % av ytan).'
    """  # noqa: E501
    if accuracy is None or not len(accuracy):
        return ""
    mine = accuracy[accuracy["method"] == FORECAST_METHOD]
    last = mine["week"].max() if len(mine) else None
    rates = []
    for lv in levels:
        row = mine[(mine["week"] == last) & (mine["level"].astype(float) == lv)]
        if len(row) and not fmt.is_missing(row["hit_rate"].iloc[0]):
            rates.append((lv, row["hit_rate"].iloc[0]))
    if not rates:
        return ""
    (lv0, r0), rest = rates[0], rates[1:]
    text = f"Förra veckans prognosområden, {fmt.level_text(lv0)} av ytan, fångade {fmt.sv_percent(r0)}"
    text += " av veckans händelser"
    text += "".join(f"; på {fmt.level_text(lv)} av ytan fångade de {fmt.sv_percent(r)}" for lv, r in rest) + "."
    n_weeks = mine["week"].nunique()
    if n_weeks > 1:
        level = mine["level"].astype(float)
        means = [
            f"{fmt.sv_percent(mine[level == lv]['hit_rate'].mean())} ({fmt.level_text(lv)} av ytan)" for lv, _ in rates
        ]
        text += f" De senaste {n_weeks} veckorna fångade prognosen i snitt {' och '.join(means)}."
    return text


# -- "Hur träffade förra veckans kartor?" ------------------------------------------------------------
def build_accuracy(ctx) -> dict | None:
    """Sentences for last week's maps and the trend table; None without the accuracy layer."""
    acc = _layer(ctx, "accuracy")
    if acc is None or not len(acc):
        return None
    levels = sorted(set(acc["level"].astype(float)))
    last = acc["week"].max()
    sentences = []
    for lv in levels:
        now = acc[(acc["week"] == last) & (acc["level"].astype(float) == lv)]
        parts = [_caught(now, m, i == 0) for i, m in enumerate(m for m in METHOD_NAMES if (now["method"] == m).any())]
        if parts:
            sentences.append(f"På {fmt.level_text(lv)} av ytan fångade {_join(parts)}.")
    weeks = sorted(set(acc["week"]))
    table = []
    for w in weeks:
        row = {"week": fmt.week_parts(w)[1], "cells": []}
        for lv in levels:
            for m in METHOD_NAMES:
                sel = (acc["week"] == w) & (acc["method"] == m) & (acc["level"].astype(float) == lv)
                hit = acc.loc[sel, "hit_rate"]
                row["cells"].append(
                    fmt.sv_percent(hit.iloc[0]) if len(hit) and not fmt.is_missing(hit.iloc[0]) else "–"
                )
        table.append(row)
    header = [(fmt.level_text(lv), [METHOD_SHORT[m] for m in METHOD_NAMES]) for lv in levels]
    return {
        "sentences": sentences,
        "header": header,
        "table": table,
        "rolling_weeks": ctx.cfg.analysis.rolling_weeks,
        "last_week": fmt.week_parts(last)[1],
    }


def _caught(now: pd.DataFrame, method: str, first: bool) -> str:
    """ "förra veckans prognosområden 38 % av veckans händelser (PAI 7,6)" """
    r = now[now["method"] == method].iloc[0]
    what = " av veckans händelser" if first else ""
    return f"{METHOD_NAMES[method].lower()} {fmt.sv_percent(r['hit_rate'])}{what} (PAI {fmt.sv_number(r['pai'], 1)})"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " och " + parts[-1]


def _layer(ctx, name):
    layer = (ctx.layers or {}).get(name)
    return layer if layer is not None else pd.DataFrame()


FORECAST_SECTION = ReportSection(
    "prognos", "Var bör vi vara nästa vecka?", "forecast.html.j2", build_forecast, order=200
)
ACCURACY_SECTION = ReportSection(
    "traffsakerhet", "Hur träffade förra veckans kartor?", "accuracy.html.j2", build_accuracy, order=210
)


# -- the map ------------------------------------------------------------------------------------------
def map_features(ctx) -> list[dict] | None:
    """The forecast zones, the smallest level darkest; None without them this week."""
    # maps imports the overlay registry, which imports this module: import it when drawing.
    from pipeline.render import maps  # noqa: PLC0415 - import cycle maps -> overlays -> here

    zones = _layer(ctx, "prognos_zones")
    if not len(zones):
        return None
    levels = sorted(set(zones["level"].astype(float)))
    next_week = (ctx.run_info or {}).get("forecast_for_week", "")
    feats = []
    # largest level first, so the smaller (denser) zones are drawn on top
    ordered = zones.sort_values(["level", "zone_id"], ascending=[False, True], kind="stable")
    for row, geom in zip(ordered.itertuples(index=False), maps.to_web(ordered).geometry):
        rank = levels.index(float(row.level))
        color = FORECAST_COLORS[min(rank, len(FORECAST_COLORS) - 1)]
        style = {"color": color, "weight": 2 if rank == 0 else 1, "fillColor": color, "fillOpacity": 0.35,
                 "dashArray": None if rank == 0 else "4 3", "className": f"lb-prognos lb-prognos-{rank}"}  # fmt: skip
        place = fmt.text(row.place_name) or "namnlös plats"
        busiest = str(row.busiest_time_of_day or "")
        lines = [
            ("Del av ytan", f"tätaste {fmt.level_text(row.level)} av kommunen"),
            ("Förväntade händelser", fmt.sv_number(row.n_expected, 1)),
            ("Mest händelser", fmt.time_label(busiest, ctx.cfg) if busiest else "–"),
            ("Händelser denna vecka", fmt.sv_number(row.n_events_week)),
            ("Yta", f"{fmt.sv_number(row.area_km2, 2)} km²"),
        ]
        title = f"Prognos {('vecka ' + str(fmt.week_parts(next_week)[1])) if next_week else 'nästa vecka'}: {place}"
        feats.append(maps.feature(geom, style, popup=maps.popup(title, lines), tooltip=html.escape(title)))
    return feats


def map_legend(ctx) -> list[tuple[str, str]]:
    zones = _layer(ctx, "prognos_zones")
    levels = sorted(set(zones["level"].astype(float))) if len(zones) else []
    return [
        (FORECAST_COLORS[min(i, len(FORECAST_COLORS) - 1)], f"Prognos nästa vecka, tätaste {fmt.level_text(lv)}")
        for i, lv in enumerate(levels)
    ]
