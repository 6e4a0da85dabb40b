"""*Insatser och uppföljning* in the report, and the interventions layer on the map.

Both read the archive's ``interventions`` layer (and ``interventions_weekly`` for the chart):
every running intervention and every one ended within ``after_weeks``, with its counts
before / during / after in the target, its ring and the comparison area, the change in plain
Swedish with its interval, and the verdict. Then where the analysis points and no
intervention is running (the week's hotspot zones, clusters and forecast zones that no
running intervention's target touches) as a list for the meeting, and what the register
held (rows read, accepted, rejected with reasons).
"""

from __future__ import annotations

import html
import io
import json
import re

import matplotlib

matplotlib.use("Agg")  # no display on the server that runs the weekly job

import geopandas as gpd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from markupsafe import Markup  # noqa: E402

from pipeline.analysis.weeks import next_weeks, previous_weeks  # noqa: E402
from pipeline.evaluation import interventions as ev  # noqa: E402
from pipeline.render import format as fmt  # noqa: E402
from pipeline.render.palette import DOWN, INTERVENTION_COLORS, MUTED, UP  # noqa: E402
from pipeline.render.sections import ReportSection  # noqa: E402
from pipeline.schema import ALL_DAY, WEEK_PERIOD  # noqa: E402
from pipeline.sources.interventions import REASONS, TARGET_KINDS, zone_ref  # noqa: E402

#: Verdict -> (css class, badge background, badge text colour).
VERDICT_STYLE = {
    ev.DECREASE: ("lb-down", "#e5f5e0", DOWN),
    ev.INCREASE: ("lb-up", "#fde0dd", UP),
    ev.NO_CHANGE: ("lb-same", "#f0f0f0", "#333333"),
    ev.TOO_FEW: ("lb-same", "#f7f7f7", MUTED),
}
STATUS_TEXT = {ev.ACTIVE: "Pågående", ev.FOLLOW_UP: "Avslutad – följs upp", ev.ENDED: "Avslutad"}
#: At most this many suggestions per kind of zone (the map shows them all).
MAX_SUGGESTIONS = 8


def build(ctx) -> dict | None:
    """The section's values; None when the archive has no register (an archive from before the
    product, or no ``interventions:`` block in the config)."""
    info = ctx.run_info or {}
    if info.get(ev.REGISTER_KEY) != "ok":
        return None
    layer = _layer(ctx, ev.LAYER)
    weekly = ctx.layers.get(ev.WEEKLY_LAYER)
    shown = layer[layer["status"].isin([ev.ACTIVE, ev.FOLLOW_UP])] if len(layer) else layer
    cards = [card(row, weekly, ctx) for _, row in shown.iterrows()]
    places = suggestions(ctx, layer)
    return {
        "week": ctx.week,
        "cards": cards,
        "lead": lead_text(shown),
        "method": method_text(ctx.cfg),
        "suggestions": places,
        "suggestion_text": suggestion_sentence(places),
        "register": register_summary(info),
    }


def lead_text(shown) -> str:
    """The sentence the section opens with.

    >>> lead_text(pd.DataFrame({"status": ["pågående", "uppföljning", "pågående"]}))
    'Två pågående insatser och en avslutad som fortfarande följs upp.'
    """
    n_active = int((shown["status"] == ev.ACTIVE).sum()) if len(shown) else 0
    n_follow = int((shown["status"] == ev.FOLLOW_UP).sum()) if len(shown) else 0
    if not n_active and not n_follow:
        return "Inga pågående insatser och inga nyligen avslutade att följa upp denna vecka."
    parts = []
    if n_active:
        parts.append(f"{fmt.sv_small(n_active).capitalize()} pågående {'insats' if n_active == 1 else 'insatser'}")
    if n_follow:
        word = "avslutad som fortfarande följs upp" if n_follow == 1 else "avslutade som fortfarande följs upp"
        parts.append(f"{fmt.sv_small(n_follow) if parts else fmt.sv_small(n_follow).capitalize()} {word}")
    return " och ".join(parts) + "."


def method_text(cfg) -> str:
    i = cfg.interventions
    if i is None:
        return ""
    comparison = i.comparison_area or "resten av kommunen"
    return (
        f"Händelserna räknas per vecka i målområdet, i ett närområde {fmt.sv_number(i.ring_m)} m runt det "
        f"(dit problemen kan flytta) och i ett jämförelseområde ({comparison}, utan andra pågående insatsers "
        f"områden). Före = de {i.before_weeks} veckorna före starten, under = startveckan till slutet (eller till "
        f"denna vecka), efter = upp till {i.after_weeks} veckor efter slutet. Förändringen är målområdets "
        "utveckling jämförd med jämförelseområdets (kvoten (T₁/T₀)/(C₁/C₀)) med 95 % konfidensintervall; "
        "den räknas som säker bara när hela intervallet ligger under eller över 0 %. Med färre än "
        f"{i.min_events} händelser i målområdet före och under görs ingen bedömning. WDD (Wheeler & Ratcliffe) "
        "är nettoförändringen i händelser per vecka i mål- och närområdet tillsammans; WDQ (Bowers & Johnson) "
        "visas när målområdet minskat. Känsliga kategorier ingår aldrig."
    )


def card(row, weekly, ctx) -> dict:
    """One intervention as the template shows it."""
    verdict = fmt.text(row["verdict"])
    css, bg, color = VERDICT_STYLE.get(verdict, VERDICT_STYLE[ev.NO_CHANGE])
    return {
        "id": fmt.text(row["intervention_id"]),
        "name": fmt.text(row["name"]),
        "type": fmt.text(row["type"]),
        "responsible": fmt.text(row["responsible"]),
        "status": STATUS_TEXT.get(fmt.text(row["status"]), fmt.text(row["status"])),
        "status_key": fmt.text(row["status"]),
        "place": place_text(row),
        "period": fmt.date_range_text(row["start"], row["end"]),
        "problem": fmt.text(row["problem_label"]),
        "rows": count_rows(row),
        "cells": window_cells(row),
        "windows": window_text(row),
        "change": change_text(row),
        "change_after": (
            fmt.ratio_change_text(row["ratio_after"], row["ratio_after_low"], row["ratio_after_high"])
            if int(row["weeks_after"] or 0) and verdict != ev.TOO_FEW
            else ""
        ),
        "corrected": bool(row["ratio_corrected"]) and verdict != ev.TOO_FEW,
        "verdict": verdict,
        "verdict_css": css,
        "verdict_bg": bg,
        "verdict_color": color,
        "ring_note": fmt.text(row["ring_note"]),
        "wdd": wdd_text(row) if verdict != ev.TOO_FEW else "",
        "wdq": "" if fmt.is_missing(row["wdq"]) or verdict == ev.TOO_FEW else _signed(row["wdq"], 2),
        "chart": Markup(chart_svg(_series(weekly, row["intervention_id"]), row)) if weekly is not None else "",
    }


def change_text(row) -> str:
    """The change against the comparison with its interval; not shown without a verdict (too
    few events make any percentage noise)."""
    if fmt.text(row["verdict"]) == ev.TOO_FEW:
        return "visas inte (för få händelser)"
    return fmt.ratio_change_text(row["ratio"], row["ratio_low"], row["ratio_high"])


def _signed(value, decimals: int) -> str:
    """A number with a true minus sign ("−0,24")."""
    return ("−" if float(value) < 0 else "") + fmt.sv_number(abs(float(value)), decimals)


def place_text(row) -> str:
    """Where: "Mjölby centrum (område)", "200 m runt Resecentrum", "250 m runt 507260, 6463910"."""
    kind, target = fmt.text(row["target_kind"]), fmt.text(row["target"])
    if kind in ("place", "point") and not fmt.is_missing(row["radius_m"]):
        return f"{fmt.sv_number(row['radius_m'])} m runt {target}"
    return f"{target} ({TARGET_KINDS.get(kind, kind)})"


def window_text(row) -> str:
    """ "före v. 29–36 · under v. 37–47 · efter –" """

    def span(first, n):
        if not n:
            return "–"
        last = next_weeks(first, n - 1)[-1] if n > 1 else first
        a, b = fmt.week_parts(first)[1], fmt.week_parts(last)[1]
        return f"v. {a}" if n == 1 else f"v. {a}–{b}"

    n_before, n_under, n_after = (int(row[c] or 0) for c in ("weeks_before", "weeks_under", "weeks_after"))
    start = fmt.text(row["start_week"])
    first_before = previous_weeks(start, n_before)[0] if n_before else start
    after_first = next_weeks(fmt.text(row["end_week"]), 1)[0] if n_after else start
    return f"före {span(first_before, n_before)} · under {span(start, n_under)} · efter {span(after_first, n_after)}"


def window_cells(row) -> list[dict]:
    """Före / under / efter for the report's table: the target's events per week (and in the
    window), and the comparison area's below.

    >>> window_cells({"weeks_before": 8, "weeks_under": 2, "weeks_after": 0, "t_before": 16,
    ...               "t_under": 1, "t_after": 0, "c_before": 400, "c_under": 90, "c_after": 0})[0]
    {'t': '2,0/v. (16)', 'c': 'jmf 50,0/v.'}
    """
    out = []
    for window in ("before", "under", "after"):
        n_weeks = int(row[f"weeks_{window}"] or 0)
        if not n_weeks:
            out.append({"t": "–", "c": ""})
            continue
        t, c = int(row[f"t_{window}"]), int(row[f"c_{window}"])
        out.append(
            {
                "t": f"{fmt.sv_number(t / n_weeks, 1)}/v. ({fmt.sv_number(t)})",
                "c": f"jmf {fmt.sv_number(c / n_weeks, 1)}/v.",
            }
        )
    return out


def count_rows(row) -> list[dict]:
    """Target, ring and comparison: counts and per-week rates before / during / after."""
    weeks = [int(row[c] or 0) for c in ("weeks_before", "weeks_under", "weeks_after")]
    out = []
    for label, prefix in (("Målområdet", "t"), ("Närområdet", "d"), ("Jämförelseområdet", "c")):
        cells = []
        for n_weeks, window in zip(weeks, ("before", "under", "after")):
            n = row[f"{prefix}_{window}"]
            cells.append("–" if not n_weeks else f"{fmt.sv_number(n)} ({fmt.sv_number(int(n) / n_weeks, 1)}/v.)")
        out.append({"label": label, "cells": cells})
    return out


def wdd_text(row) -> str:
    if fmt.is_missing(row["wdd"]):
        return ""
    sign = "−" if row["wdd"] < 0 else "+"
    z = "" if fmt.is_missing(row["wdd_z"]) else f", z = {_signed(row['wdd_z'], 1)}"
    return f"{sign}{fmt.sv_number(abs(row['wdd']), 1)} händelser per vecka{z}"


def _series(weekly, iid) -> pd.DataFrame:
    if weekly is None or not len(weekly):
        return pd.DataFrame(columns=ev.WEEKLY_COLUMNS)
    return weekly[weekly["intervention_id"].astype(str) == str(iid)]


def chart_svg(series: pd.DataFrame, row) -> str:
    """Weekly events in the target, and what the comparison area's development predicts for it
    (its weekly counts scaled to the target's level before the start); the start marked."""
    if not len(series):
        return ""
    weeks = series["iso_week"].astype(str).tolist()
    t = series["n_target"].astype(int).to_numpy()
    c = series["n_comparison"].astype(int).to_numpy()
    before = (series["window"].astype(str) == ev.BEFORE).to_numpy()
    scale = t[before].sum() / c[before].sum() if before.any() and c[before].sum() else None
    with plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "lagesbild",
            "text.parse_math": False,
            "font.size": 5.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        fig, ax = plt.subplots(figsize=(2.5, 1.35))
        x = list(range(len(weeks)))
        ax.bar(x, t, color=INTERVENTION_COLORS[ev.ACTIVE], alpha=0.75, width=0.7, label="målområdet")
        if scale is not None:
            ax.plot(x, c * scale, color=MUTED, linewidth=1.0, label="förväntat enl. jämförelse")
        start = weeks.index(fmt.text(row["start_week"])) if fmt.text(row["start_week"]) in weeks else None
        if start is not None:
            ax.axvline(start - 0.5, color="#1d1d1d", linewidth=0.8, linestyle="--")
        end = fmt.text(row["end_week"])
        if end in weeks:
            ax.axvline(weeks.index(end) + 0.5, color="#1d1d1d", linewidth=0.8, linestyle=":")
        step = max(1, len(weeks) // 5)
        ax.set_xticks(x[::step], [f"v{fmt.week_parts(w)[1]}" for w in weeks[::step]])
        ax.set_title(fmt.text(row["name"])[:42], fontsize=6, loc="left")
        ax.legend(loc="upper right", fontsize=4.5, frameon=False, borderaxespad=0.1)
        return _svg(fig)


def _svg(fig) -> str:
    """Inline SVG without prolog, metadata or namespace URLs (as the other report charts)."""
    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)


# -- where the analysis points and nobody acts ---------------------------------------------------


def suggestions(ctx, layer) -> list[dict]:
    """Places where the week's densest hotspot zones, its clusters and next week's forecast
    zones lie and no running intervention's target touches: one row per place, what points
    there, and a reference the register's ``Zon`` column accepts (zone, else cluster)."""
    found: dict[str, dict] = {}

    def add(place, what: str, ref: str = "") -> None:
        entry = found.setdefault(fmt.text(place) or "namnlös plats", {"what": [], "ref": ""})
        entry["what"].append(what)
        entry["ref"] = entry["ref"] or ref

    hot = _week_rows(_layer(ctx, "hotspots"))
    if len(hot):
        hot = hot[hot["level"].astype(float) == hot["level"].astype(float).min()]
        for r in _uncovered(hot, layer, "n_events").itertuples(index=False):
            add(
                r.place_name,
                f"hotspot-zon {fmt.sv_number(r.n_events)} händelser",
                zone_ref(ctx.week, WEEK_PERIOD, ALL_DAY, r.level, r.zone_id),
            )
    for r in _uncovered(_week_rows(_layer(ctx, "clusters")), layer, "n_events").itertuples(index=False):
        add(r.place_name, f"kluster {fmt.sv_number(r.n_events)} händelser", fmt.text(r.cluster_id))
    forecast = _layer(ctx, "prognos_zones")
    if len(forecast) and {"level", "n_expected"} <= set(forecast.columns):
        forecast = forecast[forecast["level"].astype(float) == forecast["level"].astype(float).min()]
        for r in _uncovered(forecast, layer, "n_expected").itertuples(index=False):
            add(r.place_name, f"prognos {fmt.sv_number(r.n_expected, 1)} väntade nästa vecka")
    rows = [{"place": place, "what": ", ".join(e["what"]), "ref": e["ref"]} for place, e in found.items()]
    return rows[: MAX_SUGGESTIONS * 2]


def suggestion_sentence(places: list[dict], n: int = 5) -> str:
    """The suggestions as one sentence for the printed report (the table is on screen).

    >>> zone = {"place": "Resecentrum", "what": "hotspot-zon 8 händelser", "ref": "2026-W47-vecka-alla-0.1-1"}
    >>> suggestion_sentence([zone])
    'Resecentrum: hotspot-zon 8 händelser (Zon 2026-W47-vecka-alla-0.1-1).'
    """
    if not places:
        return ""
    parts = [f"{p['place']}: {p['what']}{' (Zon ' + p['ref'] + ')' if p['ref'] else ''}" for p in places[:n]]
    rest = len(places) - n
    tail = f"; ytterligare {rest} {'plats' if rest == 1 else 'platser'}" if rest > 0 else ""
    return "; ".join(parts) + tail + "."


def _week_rows(frame):
    """The week's own zones or clusters for the whole day."""
    if not len(frame) or "period" not in frame:
        return frame
    return frame[(frame["period"].astype(str) == WEEK_PERIOD) & (frame["time_of_day"].astype(str) == ALL_DAY)]


def _uncovered(frame, layer, by: str):
    """Rows no running intervention touches, largest first, at most MAX_SUGGESTIONS."""
    if not len(frame):
        return frame
    frame = frame[ev.uncovered(frame, layer)]
    return frame.sort_values(by, ascending=False, kind="stable").head(MAX_SUGGESTIONS)


# -- the register ------------------------------------------------------------------------------


def register_summary(info: dict) -> dict:
    """Rows read / accepted / rejected, per file, and each rejected row's reason (Swedish)."""
    quality = json.loads(info.get(ev.QUALITY_KEY) or "{}")
    rejected = [
        {"file": r["file"], "line": r["line"], "reason": REASONS.get(r["reason"], r["reason"]), "message": r["message"]}
        for r in quality.get("rejected_rows", [])
    ]
    return {
        "rows_read": quality.get("rows_read", 0),
        "accepted": quality.get("accepted", 0),
        "rejected": quality.get("rejected", 0),
        "files": [
            {"file": f["file"], "rows_read": f["rows_read"], "accepted": f["accepted"], "rejected": f["rejected"]}
            for f in quality.get("files", [])
        ],
        "rejected_rows": rejected,
    }


def _layer(ctx, name: str):
    frame = ctx.layers.get(name)
    return frame if frame is not None else gpd.GeoDataFrame()


SECTION = ReportSection("insatser", "Insatser och uppföljning", "interventions.html.j2", build, order=400)


# -- the map -----------------------------------------------------------------------------------------


def map_features(ctx) -> list[dict] | None:
    """Running interventions and those still followed up: outline, label, and a popup with the
    same figures as the report. None when there are none this week."""
    from pipeline.render import maps  # noqa: PLC0415 - import cycle maps -> overlays -> here

    layer = _layer(ctx, ev.LAYER)
    if not len(layer):
        return None
    shown = layer[layer["status"].isin([ev.ACTIVE, ev.FOLLOW_UP])]
    if not len(shown):
        return None
    feats = []
    for (_, row), geom in zip(shown.iterrows(), maps.to_web(shown).geometry):
        if geom is None or geom.is_empty:
            continue
        status = fmt.text(row["status"])
        color = INTERVENTION_COLORS.get(status, MUTED)
        style = {
            "color": color,
            "weight": 3 if status == ev.ACTIVE else 2,
            "fillColor": color,
            "fillOpacity": 0.06,
            "dashArray": None if status == ev.ACTIVE else "6 4",
            "className": "lb-insats",
        }
        feats.append(
            maps.feature(geom, style, popup=popup_html(row), tooltip=html.escape(f"Insats: {fmt.text(row['name'])}"))
        )
    return feats or None


def popup_html(row) -> str:
    """The figures of the report's card, every data text escaped."""
    from pipeline.render import maps  # noqa: PLC0415

    c = count_rows(row)
    lines = [
        ("Status", STATUS_TEXT.get(fmt.text(row["status"]), fmt.text(row["status"]))),
        ("Typ", fmt.text(row["type"])),
        ("Ansvarig", fmt.text(row["responsible"]) or "–"),
        ("Plats", place_text(row)),
        ("Period", fmt.date_range_text(row["start"], row["end"])),
        ("Problem", fmt.text(row["problem_label"])),
        ("Veckor", window_text(row)),
        *((r["label"] + " före / under / efter", " / ".join(r["cells"])) for r in c),
        ("Förändring mot jämförelseområdet", change_text(row)),
        ("Bedömning", fmt.text(row["verdict"])),
    ]
    if fmt.text(row["ring_note"]):
        lines.append(("Närområdet", fmt.text(row["ring_note"])))
    return maps.popup(f"Insats: {fmt.text(row['name'])}", lines)


def map_legend(ctx) -> list[tuple[str, str]]:
    layer = _layer(ctx, ev.LAYER)
    present = set(layer["status"].astype(str)) if len(layer) else set()
    return [(INTERVENTION_COLORS[s], STATUS_TEXT[s]) for s in (ev.ACTIVE, ev.FOLLOW_UP) if s in present]
