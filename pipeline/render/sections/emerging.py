"""The emerging hot spot analysis in the report (a paragraph and a table) and on the map (cells
in ArcGIS's colours). Both read the archive's ``emerging`` layer and its run_info entries.

The paragraph names the places of the classes a coordinator acts on — new, consecutive and
intensifying hot spots — in that order; the table counts every class present. With fewer weeks
of data than the analysis needs, the section says so instead.
"""

from __future__ import annotations

import pandas as pd

from pipeline.analysis import emerging as eh
from pipeline.render import format as fmt
from pipeline.render.palette import EMERGING_COLORS
from pipeline.render.sections import ReportSection

#: The classes the paragraph names, with their Swedish lead-in (plural).
NAMED = ((eh.NEW, "Nya hot spots"), (eh.CONSECUTIVE, "Sammanhängande"), (eh.INTENSIFYING, "Intensifierande"))
#: At most this many places per class in the paragraph (the map and the archive have them all).
MAX_PLACES = 6
#: Table order: hot classes 1..8, cold -1..-8, no pattern last.
ORDER = [*range(1, 9), *range(-1, -9, -1), eh.NO_PATTERN]


def build(ctx) -> dict | None:
    """The section's values, or None for an archive without the analysis (built before it existed)."""
    info = ctx.run_info or {}
    status = info.get(eh.STATUS_KEY)
    if status is None:
        return None
    cfg = ctx.cfg.emerging
    n_weeks = int(info.get(eh.WEEKS_KEY) or 0)
    first = info.get(eh.FIRST_KEY) or ""
    base = {
        "week": ctx.week,
        "first": first,
        "n_weeks": n_weeks,
        "cell_m": fmt.sv_number(cfg.cell_m),
        "distance_m": fmt.sv_number(cfg.distance_m),
        "min_weeks": eh.MIN_WEEKS,
    }
    if status != eh.STATUS_OK:
        return {**base, "too_few": too_few_text(n_weeks, first, ctx.week)}
    layer = ctx.layers.get("emerging")
    layer = layer if layer is not None else eh.empty_layer()
    return {**base, "too_few": None, "sentences": named_sentences(layer), "rows": class_rows(layer)}


def too_few_text(n_weeks: int, first: str, week: str) -> str:
    """The sentence shown instead of the analysis when there are too few weeks of data.

    >>> too_few_text(5, "2026-W43", "2026-W47")
    'För få veckor med data för att klassa framväxande hot spots: 5 veckor (2026-W43–2026-W47), minst 8 behövs.'
    """
    lead = "För få veckor med data för att klassa framväxande hot spots"
    if n_weeks == 0:
        return f"{lead}: inga händelser de senaste veckorna, minst {eh.MIN_WEEKS} veckor behövs."
    weeks = "1 vecka" if n_weeks == 1 else f"{n_weeks} veckor"
    return f"{lead}: {weeks} ({first}–{week}), minst {eh.MIN_WEEKS} behövs."


def named_sentences(layer) -> list[str]:
    """ "Nya hot spots: Resecentrum (Mjölby centrum)." etc.; one sentence when there are none."""
    out = []
    for code, lead in NAMED:
        places = place_list(layer[layer["pattern_code"] == code])
        if places:
            out.append(f"{lead}: {places}.")
    return out or ["Inga nya, sammanhängande eller intensifierande hot spots."]


def place_list(cells) -> str:
    """Places of ``cells`` (rows of the layer), most events first, e.g. "Stora torget (Mjölby centrum, 2 rutor)"."""
    if not len(cells):
        return ""
    labels = pd.Series([place_label(r.place_name, r.area, r.cell_id) for r in cells.itertuples()], index=cells.index)
    groups = (
        pd.DataFrame({"label": labels, "n": cells["n_events"].astype(int)})
        .groupby("label", sort=False)
        .agg(cells=("n", "size"), events=("n", "sum"))
        .sort_values(["events", "cells"], ascending=False, kind="stable")
    )
    parts = [_with_count(label, int(g.cells)) for label, g in groups.head(MAX_PLACES).iterrows()]
    rest = len(groups) - MAX_PLACES
    if rest > 0:
        parts.append(f"ytterligare {rest} {'plats' if rest == 1 else 'platser'}")
    return ", ".join(parts)


def place_label(place, area, cell_id) -> str:
    """A cell's name: the nearest place and its area, e.g. "Resecentrum (Mjölby centrum)".

    >>> place_label("Stora torget", "Mjölby centrum", "E1N2"), place_label("", "Egeby", "E1N2")
    ('Stora torget (Mjölby centrum)', 'Egeby')
    >>> place_label("", "", "E506750N6465000")
    'rutan E506750N6465000'
    """
    place, area = fmt.text(place), fmt.text(area)
    if place and area and place.casefold() not in area.casefold() and area.casefold() not in place.casefold():
        return f"{place} ({area})"
    return place or area or f"rutan {cell_id}"


def _with_count(label: str, n_cells: int) -> str:
    if n_cells == 1:
        return label
    if label.endswith(")"):
        return f"{label[:-1]}, {n_cells} rutor)"
    return f"{label} ({n_cells} rutor)"


def class_rows(layer) -> list[dict]:
    """One row per class present: label, colour, cells, events, the top places."""
    rows = []
    codes = layer["pattern_code"].astype(int) if len(layer) else pd.Series(dtype=int)
    for code in ORDER:
        cells = layer[codes == code]
        if not len(cells):
            continue
        rows.append(
            {
                "code": code,
                "label": eh.PATTERN_LABELS[code],
                "color": EMERGING_COLORS[code][0],
                "edge": EMERGING_COLORS[code][1],
                "cells": fmt.sv_number(len(cells)),
                "events": fmt.sv_number(int(cells["n_events"].sum())),
                "places": place_list(cells) if code != eh.NO_PATTERN else "",
            }
        )
    return rows


SECTION = ReportSection("framvaxande", "Framväxande hot spots", "emerging.html.j2", build, order=300)


# -- the map ------------------------------------------------------------------------------------------
def map_features(ctx) -> list[dict] | None:
    """Cells with a pattern, filled in ArcGIS's colours; None without the analysis this week."""
    # maps imports the overlay registry, which imports this module: import it when drawing.
    from pipeline.render import maps  # noqa: PLC0415 - import cycle maps -> overlays -> here

    layer = ctx.layers.get("emerging")
    if layer is None or not len(layer):
        return None
    cells = layer[layer["pattern_code"].astype(int) != eh.NO_PATTERN]
    if not len(cells):
        return None
    n_weeks = (ctx.run_info or {}).get(eh.WEEKS_KEY, "")
    feats = []
    for row, geom in zip(cells.itertuples(index=False), maps.to_web(cells).geometry):
        code = int(row.pattern_code)
        fill, edge = EMERGING_COLORS[code]
        style = {
            "color": edge,
            "weight": 2.5 if abs(code) in (eh.NEW, eh.CONSECUTIVE) else 1,
            "fillColor": fill,
            "fillOpacity": 0.6,
            "className": f"lb-emerging lb-emerging-{code}",
        }
        label = eh.PATTERN_LABELS[code]
        lines = [
            ("Plats", place_label(row.place_name, row.area, row.cell_id)),
            (f"Veckor som hot spot (av {n_weeks})", int(row.hot_weeks)),
            (f"Veckor som kall fläck (av {n_weeks})", int(row.cold_weeks)),
            ("Trend (Mann-Kendall)", f"z = {fmt.sv_number(row.trend_z, 2)}, p = {fmt.sv_number(row.trend_p, 3)}"),
            ("Händelser i rutan", int(row.n_events)),
        ]
        feats.append(
            maps.feature(
                geom,
                style,
                popup=maps.popup(label.capitalize(), lines),
                tooltip=f"{label}: {place_label(row.place_name, row.area, row.cell_id)}",
            )
        )
    return feats


def map_legend(ctx) -> list[tuple[str, str]]:
    """(colour, Swedish label) of the classes on this week's map."""
    layer = ctx.layers.get("emerging")
    present = set(layer["pattern_code"].astype(int)) if layer is not None and len(layer) else set()
    return [(EMERGING_COLORS[c][0], eh.PATTERN_LABELS[c]) for c in ORDER if c in present and c != eh.NO_PATTERN]
