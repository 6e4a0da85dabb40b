"""The printable weekly report (lagesbild.html): one self-contained A4 page in Swedish.

``render_report(ctx)`` reads only the archive layers in the :class:`WeekContext`, so every
number equals the archive's. Numbers carry data attributes (``data-key="group:vald"
data-n-week="5"``) so tests and QA scripts can read them back. Charts are inline SVG drawn by
matplotlib; the page makes no requests at all.

>>> html = render_report(ctx)                                # doctest: +SKIP
>>> 'data-key="group:vald"' in html                          # doctest: +SKIP
True
"""

from __future__ import annotations

import io
import json
import re

import matplotlib

matplotlib.use("Agg")  # no display on the server that runs the weekly job

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from markupsafe import Markup  # noqa: E402

from pipeline.analysis.recurrence import RECURRENCE_WINDOWS, rank_places
from pipeline.analysis.tables import weekday_hour_matrix
from pipeline.render import format as fmt
from pipeline.render import web_assets as wa  # noqa: E402
from pipeline.render.report_map import report_maps
from pipeline.render.sections import render_sections
from pipeline.render.sections.catalog import SECTIONS
from pipeline.render.summary import week_summary
from pipeline.schema import (
    ALL_DAY,
    REASONS,  # noqa: E402
    ROLLING_PERIOD,
    WEEK_PERIOD,
)

DIMENSIONS = ("group", "area", "time_of_day", "partner")
METHODS = {
    "coordinates": "koordinater i exporten",
    "exact": "exakt adress",
    "fuzzy": "ungefärlig adress (stavning)",
    "street_centroid": "gatans mittpunkt (okänt husnummer)",
    "place": "namngiven plats",
}
INFO_LABELS = {
    "week": "Vecka",
    "code_version": "Kodversion",
    "config_sha256": "Konfiguration (sha256)",
    "events_fingerprint": "Fingeravtryck för veckans underlag",
    "rows_read": "Inlästa rader (alla veckor)",
    "rows_accepted": "Godkända händelser (alla veckor)",
    "rows_rejected": "Avvisade rader (alla veckor)",
    "run_started": "Körningen startade",
    "run_seconds": "Körtid (sekunder)",
    "bandwidth_m": "Bandbredd KDE (m)",
    "cell_size_m": "Cellstorlek (m)",
    "kernel": "Kärna",
    "levels": "Zonnivåer (% av ytan)",
    "crs": "Koordinatsystem",
    "density_storage": "Lagring av täthetsytor",
    "bandwidth_config": "Bandbredd enligt konfigurationen (m)",
    "eps_m": "Klusteravstånd, DBSCAN eps (m)",
    "min_samples": "Minsta antal händelser i ett kluster",
    "buffer_m": "Buffert runt kluster (m)",
    "rolling_weeks": "Rullande fönster (veckor)",
    "privacy_min_count": "Minsta visade antal (känsliga kategorier)",
}
#: Prefixed run_info keys: prefix -> Swedish label of the part after the colon.
INFO_PREFIXES = {"rows": "Rader i arkivlagret"}
#: run_info keys shown elsewhere (quality has its own section; inputs their own table).
INFO_SKIP = {"quality", "input_sha256"}
_MONO = ("sha256", "fingerprint", "version")


def render_report(ctx) -> str:
    """The week's report as one HTML page (A4 print styles, inline SVG charts).

    >>> "Lägesbild vecka 47, 2026" in render_report(ctx)     # doctest: +SKIP
    True
    """
    cfg = ctx.cfg
    kf = key_figure_rows(ctx)
    view = {
        "title": fmt.week_title(ctx.week, cfg.municipality.name),
        "period": fmt.week_period(ctx.week),
        "generated": fmt.sv_datetime(ctx.run_info.get("run_started"), weekday=False),
        "partner_names": ", ".join(p.label for p in cfg.partners.values()),
        "weeks": cfg.analysis.rolling_weeks,
        "kf": kf,
        "kf_year": any(r["year"] for rows in kf.values() for r in rows),
        "trend_note": trend_note(ctx),
        "charts": {"groups": Markup(group_chart(kf["group"], cfg)), "hours": Markup(hour_chart(ctx))},
        "heat": heat_table(ctx),
        "level_text": " / ".join(fmt.level_text(v) for v in cfg.analysis.levels),
        "zone_blocks": zone_blocks(ctx),
        "top_zones": TOP_ZONES,
        "rolling_weeks": cfg.analysis.rolling_weeks,
        "min_zone_events": cfg.analysis.min_zone_events,
        "zone_share": zone_share(ctx),
        "zone_times": zone_times(ctx),
        "recurrence_weeks": RECURRENCE_WINDOWS,
        "clusters": cluster_rows(ctx),
        "top_clusters": TOP_CLUSTERS,
        "min_samples": cfg.analysis.dbscan.min_samples,
        "eps": fmt.sv_number(cfg.analysis.dbscan.eps_m),
        "area_table": area_table(ctx),
        "k": cfg.privacy.min_count,
        "quality": quality_table(partner_rows(ctx)),
        "inputs": input_rows(ctx.run_info),
        "params": param_rows(cfg),
        "info": info_rows(ctx.run_info),
        "sections": render_sections(ctx, SECTIONS),
        "summary": week_summary(ctx),
        "maps": [{**m, "svg": Markup(m["svg"])} for m in report_maps(ctx)],
        "glossary": glossary_rows(cfg),
    }
    # The stylesheet is ours, not data: Markup keeps its quotes (autoescape made them &#34;,
    # and the body font fell back to serif).
    css = Markup(wa.template_text("lagesbild.css"))
    return wa.render_template("lagesbild.html.j2", r=view, css=css).lstrip()


# -- key figures -------------------------------------------------------------------------------


def key_figure_rows(ctx) -> dict[str, list[dict]]:
    """Rows per dimension, formatted, with the raw values for data attributes.

    From the ``trends`` layer (tested changes: ▲/▼ only where significant) when the archive
    has it; an older archive's ``key_figures`` are shown without any verdict ("ej prövad").
    """
    trends = _layer(ctx, "trends")
    tested = len(trends) > 0
    kf = trends if tested else _layer(ctx, "key_figures")
    out: dict[str, list[dict]] = {d: [] for d in DIMENSIONS}
    for row in kf.itertuples(index=False):
        direction = getattr(row, "direction_prev", None) if tested else None
        arrow, css, text = fmt.change_verdict(row.change, direction)
        pct = getattr(row, "pct_change", None)
        if pct is None and not fmt.is_missing(row.mean_prev) and row.mean_prev:
            pct = (row.n_week - row.mean_prev) / row.mean_prev * 100
        out.setdefault(str(row.dimension), []).append(
            {
                "dimension": str(row.dimension),
                "key": str(row.key),
                "label": str(row.label),
                "n_week": fmt.count_text(row.n_week, ctx.cfg.privacy.min_count),
                "n_week_raw": _raw(row.n_week),
                "mean_prev": fmt.sv_number(row.mean_prev, 1),
                "mean_prev_raw": _raw(row.mean_prev),
                "change_raw": _raw(row.change),
                "arrow": arrow,
                "css": css,
                "change_text": text,
                "pct": fmt.change_percent(pct),
                "pct_raw": _raw(pct),
                "q_raw": _raw(getattr(row, "q_prev", None)),
                "direction_raw": _raw(direction),
                "year": _year_cells(row) if tested else None,
            }
        )
    return out


def _year_cells(row) -> dict | None:
    """The same-weeks-last-year comparison of a trends row; None where the data do not reach."""
    if fmt.is_missing(row.mean_year):
        return None
    arrow, css, text = fmt.change_verdict(row.n_week - row.mean_year, row.direction_year)
    return {
        "mean": fmt.sv_number(row.mean_year, 1),
        "mean_raw": _raw(row.mean_year),
        "pct": fmt.change_percent(row.pct_year),
        "q_raw": _raw(row.q_year),
        "direction_raw": _raw(row.direction_year),
        "arrow": arrow,
        "css": css,
        "text": text,
    }


def trend_note(ctx) -> str:
    """How the changes were tested, in one paragraph (Swedish)."""
    t = ctx.cfg.trends
    if len(_layer(ctx, "trends")) == 0:
        return "Förändringarna i det här arkivet är inte prövade statistiskt; skillnaderna visas utan bedömning."
    alpha = fmt.sv_percent(t.alpha, 0 if float(t.alpha * 100).is_integer() else 1)
    return (
        f"▲/▼ visas bara för en statistiskt säker förändring: veckans antal prövas mot snittet "
        f"för de {t.recent_weeks} föregående veckorna (och mot samma {t.year_weeks} veckor i fjol "
        f"där data finns) med E-test för två Poisson-antal, och hela tabellen korrigeras med "
        f"Benjamini–Hochberg så att högst {alpha} av de markerade förändringarna väntas vara "
        f"slumpen (q < {fmt.sv_number(t.alpha, 2)}). Övriga rader är oförändrade eller visar "
        f"ingen säker förändring. Skillnad = förändring i procent av snittet."
    )


# -- hot times ---------------------------------------------------------------------------------


def heat_table(ctx) -> dict:
    matrix = weekday_hour_matrix(_layer(ctx, "weekday_hour"))
    top = max(int(matrix.to_numpy().max()), 1)
    cmap = matplotlib.colormaps["YlOrRd"]
    rows = []
    for wd in range(1, 8):
        cells = []
        for h in range(24):
            n = int(matrix.loc[wd, h])
            t = n / top
            bg = matplotlib.colors.to_hex(cmap(0.08 + 0.92 * t)) if n else "#f7f7f7"
            cells.append({"hour": h, "n": n, "bg": bg, "fg": "#ffffff" if t > 0.6 else "#1d1d1d"})
        rows.append({"weekday": wd, "day": fmt.WEEKDAYS_SHORT[wd - 1], "cells": cells})
    return {"hours": list(range(24)), "rows": rows, "total": int(matrix.to_numpy().sum())}


# -- hotspots and clusters ----------------------------------------------------------------------

#: Zones listed per time of day in the report; every zone is in the map and the archive.
TOP_ZONES = 3
#: Clusters listed in the report (whole day first); the map and the archive have every one.
TOP_CLUSTERS = 8


def zone_blocks(ctx) -> list[dict]:
    """The most recurrent hotspot zones at the broadest level: this week per time of day, then
    the rolling window for the whole day. A meeting needs the few places that keep coming back,
    not the largest."""
    hs = _layer(ctx, "hotspots")
    weeks = ctx.cfg.analysis.rolling_weeks
    blocks = []
    for period, title in ((WEEK_PERIOD, "Denna vecka"), (ROLLING_PERIOD, f"Rullande {weeks} veckor")):
        part = top_zones(hs, period, ALL_DAY if period == ROLLING_PERIOD else None)
        blocks.append(
            {
                "title": title,
                "rows": [
                    _zone_row(r, ctx.cfg)
                    for r in _sorted_by_time(
                        part, ctx.cfg, [*_rank_keys(part), "zone_id"], [*[False] * len(_rank_keys(part)), True]
                    )
                ],
            }
        )
    return blocks


def top_zones(hotspots, period: str, time_of_day: str | None = None, n: int = TOP_ZONES):
    """The ``n`` first zones per time of day at the broadest level of ``period``, ranked by
    recurrence (last 4, then 12 weeks), then events and PAI (pipeline.analysis.recurrence)."""
    if len(hotspots) == 0:
        return hotspots
    part = hotspots[
        (hotspots["period"].astype(str) == period)
        & (hotspots["level"].astype(float) == hotspots["level"].astype(float).max())
    ]
    if time_of_day is not None:
        part = part[part["time_of_day"].astype(str) == time_of_day]
    part = rank_places(part.sort_values("zone_id", kind="stable"))
    return part.groupby("time_of_day", sort=False).head(n)


def _rank_keys(frame) -> list[str]:
    """The ranking columns of rank_places present in ``frame``."""
    return [c for c in (*[f"recurrence_{n}" for n in RECURRENCE_WINDOWS], "n_events", "pai") if c in frame.columns]


def zone_share(ctx) -> list[dict]:
    """Per level, how many of the week's events (whole day) its zones hold together, and the share.

    Zones of one level are disjoint, so their counts add up; every zone of the slice has the
    same denominator (``n_events / share_events`` = the slice's events).
    """
    hs = _layer(ctx, "hotspots")
    if len(hs) == 0:
        return []
    week = hs[(hs["period"].astype(str) == WEEK_PERIOD) & (hs["time_of_day"].astype(str) == ALL_DAY)]
    out = []
    for level, part in week.groupby(week["level"].astype(float), sort=True):
        first = part.iloc[0]
        total = round(float(first["n_events"]) / float(first["share_events"])) if first["share_events"] else 0
        held = int(part["n_events"].sum())
        out.append(
            {
                "level": fmt.level_text(level),
                "level_raw": _raw(level),
                "n_zones": len(part),
                "held": held,
                "total": total,
                "share": fmt.sv_percent(held / total if total else None),
            }
        )
    return out


def zone_times(ctx) -> list[dict]:
    """Per time of day this week: the zones at the broadest level, or why there are none."""
    cfg = ctx.cfg
    hs = _layer(ctx, "hotspots")
    kf = _layer(ctx, "key_figures")
    per_tod = (
        {str(r.key): r.n_week for r in kf.itertuples(index=False) if str(r.dimension) == "time_of_day"}
        if len(kf)
        else {}
    )
    week = hs[hs["period"].astype(str) == WEEK_PERIOD] if len(hs) else hs
    broad = week[week["level"].astype(float) == week["level"].astype(float).max()] if len(week) else week
    counts = broad["time_of_day"].astype(str).value_counts() if len(broad) else {}
    out = []
    for tod in [ALL_DAY, *cfg.time_of_day]:
        n_zones = int(counts.get(tod, 0)) if len(broad) else 0
        n_events = per_tod.get(tod)
        too_few = n_events is not None and not fmt.is_missing(n_events) and int(n_events) < cfg.analysis.min_zone_events
        out.append(
            {
                "tod": tod,
                "label": fmt.time_label(tod, cfg).capitalize(),
                "n_zones": n_zones,
                "too_few": bool(too_few and not n_zones),
                "n_events": "" if n_events is None or fmt.is_missing(n_events) else int(n_events),
            }
        )
    return out


def _zone_row(row, cfg) -> dict:
    status = str(getattr(row, "status", "") or "")
    return {
        "period": str(row.period),
        "tod": str(row.time_of_day),
        "tod_label": fmt.time_label(str(row.time_of_day), cfg),
        "level_raw": _raw(row.level),
        "level": fmt.level_text(row.level),
        "zone_id": _raw(row.zone_id),
        "place": fmt.text(getattr(row, "place_name", "")) or "namnlös plats",
        "status": fmt.status_text(status) if status else "–",
        "status_css": fmt.status_css(status),
        "n_raw": _raw(row.n_events),
        "n": fmt.count_text(row.n_events, cfg.privacy.min_count),
        "share": fmt.sv_percent(row.share_events),
        "pai": fmt.sv_number(row.pai, 0),
        "area": fmt.sv_number(row.area_km2, 2),
        **_recurrence_cells(row),
    }


def _recurrence_cells(row) -> dict:
    """recurrence_<n> as "3 av 4" texts plus raw values (missing in archives from before it)."""
    cells = []
    for n in RECURRENCE_WINDOWS:
        value = getattr(row, f"recurrence_{n}", None)
        cells.append(
            {
                "weeks": n,
                "raw": _raw(value),
                "text": fmt.recurrence_text(value, n),
                "count": "–" if fmt.is_missing(value) else str(int(value)),
            }
        )
    return {"recurrence": cells}


def cluster_rows(ctx) -> list[dict]:
    """This week's clusters, whole week first, then per time of day, largest first."""
    cl = _layer(ctx, "clusters")
    part = cl[cl["period"].astype(str) == WEEK_PERIOD] if len(cl) else cl
    keys = _rank_keys(part)
    rows = []
    for row in _sorted_by_time(part, ctx.cfg, keys, [False] * len(keys)):
        rows.append(
            {
                "cluster_id": str(row.cluster_id),
                "place": fmt.text(row.place_name) or "namnlös plats",
                "tod_label": fmt.time_label(str(row.time_of_day), ctx.cfg),
                "n_raw": _raw(row.n_events),
                "n": fmt.count_text(row.n_events, ctx.cfg.privacy.min_count),
                "top": fmt.text(row.top_categories) or "–",
                "partners": fmt.text(row.partners) or "–",
                "peak": fmt.row_peak(row),
                "status": fmt.status_text(row.status),
                "status_css": fmt.status_css(row.status),
                **_recurrence_cells(row),
            }
        )
    return rows


def _sorted_by_time(frame, cfg, by: list[str], ascending: list[bool]):
    """Rows in time-of-day order ('alla' first, then the config's bins), then by ``by``."""
    if len(frame) == 0:
        return []
    order = {k: i for i, k in enumerate([ALL_DAY, *cfg.time_of_day])}
    frame = frame.assign(_t=frame["time_of_day"].astype(str).map(order).fillna(len(order)))
    return list(frame.sort_values(["_t", *by], ascending=[True, *ascending], kind="stable").itertuples(index=False))


# -- areas × categories -------------------------------------------------------------------------


def area_table(ctx) -> dict:
    """Area × category rows with one column per time of day present in ``area_summary``."""
    summary = _layer(ctx, "area_summary")
    cfg = ctx.cfg
    if len(summary) == 0:
        return {"columns": [], "rows": []}
    present = set(summary["time_of_day"].astype(str))
    tods = [t for t in [ALL_DAY, *cfg.time_of_day] if t in present] + sorted(present - {ALL_DAY, *cfg.time_of_day})
    columns = [{"key": t, "label": fmt.time_label(t, cfg).capitalize()} for t in tods]
    cells = {(str(r.area), str(r.category), str(r.time_of_day)): r for r in summary.itertuples(index=False)}
    pairs = summary[["area", "category"]].astype(str).drop_duplicates()
    visible = pd.to_numeric(summary["n_events"], errors="coerce").fillna(0)
    weight = summary.assign(_n=visible).astype({"area": str, "category": str}).groupby(["area", "category"])["_n"].sum()
    pairs = pairs.assign(_n=[weight.get((a, c), 0) for a, c in zip(pairs["area"], pairs["category"])])
    pairs = pairs.sort_values(["area", "_n"], ascending=[True, False], kind="stable")
    rows = []
    for area, cat in zip(pairs["area"], pairs["category"]):
        label = cfg.taxonomy[cat].label if cat in cfg.taxonomy else cat
        rows.append(
            {
                "area": area,
                "category": cat,
                "category_label": label,
                "cells": [_area_cell(cells.get((area, cat, t)), t, cfg.privacy.min_count) for t in tods],
            }
        )
    return {"columns": columns, "rows": rows}


def _area_cell(row, tod: str, k: int) -> dict:
    if row is None:
        return {"tod": tod, "raw": "0", "text": "", "suppressed": False}
    suppressed = bool(row.suppressed) if not fmt.is_missing(row.suppressed) else False
    if suppressed or fmt.is_missing(row.n_events):
        return {"tod": tod, "raw": "", "text": f"< {k}", "suppressed": True}
    return {"tod": tod, "raw": str(int(row.n_events)), "text": str(int(row.n_events)), "suppressed": False}


# -- data quality and run information -------------------------------------------------------------


def partner_rows(ctx) -> list[dict]:
    """Per partner: rows read, accepted, rejected by reason (Swedish), geocoded by method."""
    quality = ctx.quality or {}
    partners = quality.get("partners", quality) if isinstance(quality, dict) else {}
    out = []
    for key, q in partners.items():
        if not isinstance(q, dict):
            continue
        reasons = {str(c): int(n) for c, n in (q.get("rejected_by_reason") or {}).items() if int(n)}
        methods = {str(m): int(n) for m, n in (q.get("geocoded_by_method") or {}).items() if int(n)}
        rejected = sum(reasons.values())
        label = q.get("label") or (ctx.cfg.partners[key].label if key in ctx.cfg.partners else key)
        out.append(
            {
                "key": key,
                "label": label,
                "rows_read": _int(q.get("rows_read")),
                "rows_read_text": fmt.sv_number(q.get("rows_read")),
                "accepted": _int(q.get("accepted")),
                "accepted_text": fmt.sv_number(q.get("accepted")),
                "rejected": rejected,
                "rejected_text": fmt.sv_number(rejected),
                "reasons": [
                    {"code": c, "text": REASONS.get(c, c), "n": n}
                    for c, n in sorted(reasons.items(), key=lambda x: -x[1])
                ],
                "methods": [{"code": m, "text": METHODS.get(m, m), "n": n} for m, n in methods.items()],
                "unmapped": [{"raw": r, "n": n} for r, n in (q.get("unmapped_categories") or {}).items()],
                "files": [_file_name(f) for f in q.get("files") or []],
            }
        )
    return out


def quality_table(partners: list[dict]) -> dict:
    """One table, partners as columns: rows read, accepted, rejected (+ per reason), geocoding."""
    reasons = list(dict.fromkeys(r["code"] for p in partners for r in p["reasons"]))
    methods = list(dict.fromkeys(m["code"] for p in partners for m in p["methods"]))
    measures = [
        ("total", "rows_read", "Inlästa rader", lambda p: p["rows_read"]),
        ("total", "accepted", "Godkända", lambda p: p["accepted"]),
        ("total", "rejected", "Avvisade", lambda p: p["rejected"]),
    ]
    measures += [("reason", f"reason:{c}", f"– {REASONS.get(c, c)}", _lookup("reasons", c)) for c in reasons]
    measures += [("method", f"method:{m}", f"Geokodning: {METHODS.get(m, m)}", _lookup("methods", m)) for m in methods]
    rows = []
    for kind, measure, label, get in measures:
        cells = []
        for p in partners:
            n = get(p)
            cells.append({"partner": p["key"], "n": n, "text": fmt.sv_number(n) if n != "" else "–"})
        rows.append({"kind": kind, "measure": measure, "label": label, "cells": cells})
    details = [p for p in partners if p["files"] or p["unmapped"]]
    return {"partners": partners, "rows": rows, "details": details}


def _lookup(field: str, code: str):
    return lambda p: next((x["n"] for x in p[field] if x["code"] == code), 0)


def input_rows(run_info: dict) -> list[dict]:
    """Input files with their sha256, from run_info['input_sha256'] (JSON object or list)."""
    raw = run_info.get("input_sha256")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return [{"path": "indata", "sha256": str(raw)}]
    if isinstance(data, dict):
        return [
            {"path": str(k), "sha256": str(v.get("sha256", "")) if isinstance(v, dict) else str(v)}
            for k, v in sorted(data.items())
        ]
    if isinstance(data, list):
        return [
            {"path": str(d.get("path", d.get("file", ""))), "sha256": str(d.get("sha256", ""))}
            if isinstance(d, dict)
            else {"path": str(d), "sha256": ""}
            for d in data
        ]
    return []


def param_rows(cfg) -> list[dict]:
    a = cfg.analysis
    rows = [
        ("Koordinatsystem", a.crs),
        ("Kärna (KDE)", a.kernel),
        ("Bandbredd (m)", "automatisk (Silverman)" if a.bandwidth_m == "auto" else fmt.sv_number(a.bandwidth_m)),
        ("Cellstorlek (m)", fmt.sv_number(a.cell_size_m)),
        ("Zonnivåer", ", ".join(fmt.level_text(v) for v in a.levels) + " av ytan"),
        ("Rullande fönster", f"{a.rolling_weeks} veckor"),
        (
            "DBSCAN",
            f"eps {fmt.sv_number(a.dbscan.eps_m)} m, minst {a.dbscan.min_samples} händelser, "
            f"buffert {fmt.sv_number(a.dbscan.buffer_m)} m",
        ),
        (
            "Dubbletter mellan partner",
            f"inom {fmt.sv_number(cfg.duplicates.distance_m)} m och {fmt.sv_number(cfg.duplicates.minutes)} min",
        ),
        ("Minsta visade antal (känsliga kategorier)", str(cfg.privacy.min_count)),
        (
            "Känsliga kategorier",
            "räknas bara i områdestabellen (hela veckan och dygnet); de ingår inte i "
            "nyckeltal, zoner, kluster, täthet eller kartans punkter",
        ),
    ]
    return [{"label": k, "value": v} for k, v in rows]


def info_label(key: str) -> str:
    """Swedish label of a run_info key; a key no one has labelled yet is shown as it is.

    >>> info_label("eps_m"), info_label("rows:hotspots")
    ('Klusteravstånd, DBSCAN eps (m)', 'Rader i arkivlagret hotspots')
    """
    if key in INFO_LABELS:
        return INFO_LABELS[key]
    prefix, _, rest = key.partition(":")
    if rest and prefix in INFO_PREFIXES:
        return f"{INFO_PREFIXES[prefix]} {rest}"
    return key


def glossary_rows(cfg) -> list[dict]:
    """The technical names behind the plain words of the main part (annex)."""
    a = cfg.analysis
    return [
        {
            "term": "Hotspot-zon",
            "technical": "Kernel density estimation (KDE), kärna "
            f"{a.kernel}, bandbredd {a.bandwidth_m} m, celler {a.cell_size_m} m",
            "text": "Tätheten av händelser räknas ut i ett rutnät; en zon är de tätaste rutorna som "
            "tillsammans täcker en viss andel av kommunens yta.",
        },
        {
            "term": "Kluster",
            "technical": f"DBSCAN, eps {fmt.sv_number(a.dbscan.eps_m)} m, minst {a.dbscan.min_samples} händelser",
            "text": "En grupp händelser där var och en ligger nära minst några andra; ensamma händelser "
            "hör inte till något kluster.",
        },
        {
            "term": "Koncentration",
            "technical": "PAI (Predictive Accuracy Index) = andel av händelserna / andel av ytan",
            "text": "Hur många gånger tätare än i kommunen som helhet händelserna ligger i zonen.",
        },
        {
            "term": "Säkerställd förändring",
            "technical": "E-test för två Poisson-antal, Benjamini–Hochberg över tabellen",
            "text": "En förändring som är för stor för att vara slumpens variation mellan veckor.",
        },
    ]


def info_rows(run_info: dict) -> list[dict]:
    rows = []
    for key, value in run_info.items():
        if key in INFO_SKIP or fmt.is_missing(value):
            continue
        rows.append({"key": key, "label": info_label(key), "value": str(value), "mono": any(m in key for m in _MONO)})
    return rows


# -- charts -----------------------------------------------------------------------------------------


def group_chart(rows: list[dict], cfg) -> str:
    """Horizontal bars: this week per group (group colour) against the earlier mean (outline)."""
    if not rows:
        return ""
    labels = [r["label"] for r in rows][::-1]
    now = [_num(r["n_week_raw"]) for r in rows][::-1]
    prev = [_num(r["mean_prev_raw"]) for r in rows][::-1]
    colors = [cfg.groups[r["key"]].color if r["key"] in cfg.groups else "#999999" for r in rows][::-1]
    with _chart_style():
        fig, ax = plt.subplots(figsize=(4.2, 0.32 * len(rows) + 0.9))
        y = range(len(rows))
        ax.barh(y, now, color=colors, height=0.6, label="Denna vecka")
        ax.barh(
            y,
            prev,
            fill=False,
            edgecolor="#222222",
            linewidth=1.1,
            height=0.8,
            label=f"Snitt föregående {cfg.analysis.rolling_weeks} v.",
        )
        ax.set_yticks(list(y), labels)
        ax.set_xlabel("Antal händelser")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        return _svg(fig)


def hour_chart(ctx) -> str:
    """Events per hour of day (all weekdays), bars coloured by time-of-day bin."""
    matrix = weekday_hour_matrix(_layer(ctx, "weekday_hour"))
    per_hour = matrix.sum(axis=0)
    bins = ctx.cfg.time_bin_of_hour()
    palette = ["#3f4d7a", "#7fb3d5", "#f0b27a", "#c0392b", "#7d3c98", "#229954"]
    keys = list(ctx.cfg.time_of_day)
    with _chart_style():
        fig, ax = plt.subplots(figsize=(4.2, 2.6))
        for key in keys:
            hours = [h for h in range(24) if bins[h] == key]
            ax.bar(
                hours,
                [per_hour[h] for h in hours],
                color=palette[keys.index(key) % len(palette)],
                width=0.85,
                label=ctx.cfg.time_of_day[key].label,
            )
        ax.set_xticks(range(0, 24, 3))
        ax.set_xlabel("Timme")
        ax.set_ylabel("Antal händelser")
        ax.legend(fontsize=6.5, frameon=False, ncol=2, loc="upper left")
        return _svg(fig)


def chart_svg_line(series: list[tuple[str, int]], highlight: str | None = None) -> str:
    """Weekly counts as a line (ISO weeks in order), the ``highlight`` week marked; inline SVG.

    Weeks missing from ``series`` are gaps in the x axis only by position, so pass every week.
    """
    if not series:
        return ""
    weeks = [w for w, _ in series]
    values = [n for _, n in series]
    with _chart_style():
        fig, ax = plt.subplots(figsize=(7.0, 2.3))
        x = range(len(weeks))
        ax.plot(x, values, color="#1f3b57", linewidth=1.6, marker="o", markersize=2.5)
        if highlight in weeks:
            i = weeks.index(highlight)
            ax.plot([i], [values[i]], marker="o", markersize=6, color="#b2182b", zorder=5)
            ax.annotate(
                f"v. {fmt.week_parts(highlight)[1]}: {values[i]}",
                (i, values[i]),
                textcoords="offset points",
                xytext=(-6, 8),
                ha="right",
                fontsize=7.5,
                color="#b2182b",
            )
        step = max(1, len(weeks) // 12)
        ticks = list(range(0, len(weeks), step))
        ax.set_xticks(ticks, [f"v. {fmt.week_parts(weeks[i])[1]}" for i in ticks], fontsize=7)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("Händelser per vecka")
        ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
        return _svg(fig)


def _chart_style():
    return plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "lagesbild",
            "text.parse_math": False,
            "font.size": 8,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def _svg(fig) -> str:
    """Inline SVG: no XML prolog, DOCTYPE, metadata or namespace URLs (none needed in HTML)."""
    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    return svg


# -- small helpers ---------------------------------------------------------------------------------


def _layer(ctx, name: str) -> pd.DataFrame:
    frame = ctx.layers.get(name)
    return frame if frame is not None else pd.DataFrame()


def _raw(value) -> str:
    """Machine-readable value for a data attribute: '' when missing, ints without '.0'."""
    if fmt.is_missing(value):
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _num(raw: str) -> float:
    return float(raw) if raw else 0.0


def _int(value) -> int | str:
    return "" if fmt.is_missing(value) else int(value)


def _file_name(value) -> str:
    if isinstance(value, dict):
        return str(value.get("path") or value.get("file") or value.get("name") or value)
    return str(value)
