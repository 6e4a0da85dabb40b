"""The weekly map (karta.html) and the index of archived weeks (index.html).

``render_map(ctx)`` builds a Folium map from the archive layers in a :class:`WeekContext` and
returns one self-contained HTML page: Leaflet and Leaflet.markercluster are inlined from the
XStatic packages (``pipeline.render.web_assets``), folium's CDN links (jQuery, Bootstrap, Font Awesome)
are dropped, and with no network every vector layer still draws. Geometries leave EPSG:3006
only here, for the web map. Every text from data is HTML-escaped before it reaches a popup.

Layers: one radio choice per time of day ("Hela dygnet" and each bin) holding that slice's
hotspot zones and clusters — the choice filters the event dots too — and check boxes for the
rolling window, the events (one dot per event, never grouped, so nothing looks like a
cluster that is not one), named areas filled by their tested change with permanent name
labels, place names at the week's zones, the boundary and the declared overlays.
On a phone the panels start collapsed and open on a tap (karta.js ``lbLayout``).

>>> html = render_map(ctx)                                  # doctest: +SKIP
>>> "Lägesbild vecka 47, 2026 – Mjölby kommun" in html      # doctest: +SKIP
True
"""

from __future__ import annotations

import html as _html
import itertools
import json
import re
from collections import OrderedDict

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from pipeline.render import format as fmt
from pipeline.render import web_assets as wa
from pipeline.render.overlays import OVERLAYS
from pipeline.render.palette import (
    AREA_COLOR,
    BOUNDARY_COLOR,
    CLUSTER_COLOR,
    CLUSTER_FILL,
    DOWN,
    OTHER_COLOR,
    ROLLING_COLOR,
    UP,
    zone_color,
)
from pipeline.render.summary import week_summary
from pipeline.schema import ALL_DAY, CRS, ROLLING_PERIOD, STATUS_SEEN_BEFORE, WEB_CRS, WEEK_PERIOD

#: Custom panes and their z-index: areas < hotspot zones < clusters < events (overlayPane 400).
PANES = (("lbOmraden", 360), ("lbZoner", 380), ("lbKluster", 390))
MJOLBY = (58.3245, 15.1316)  # fallback centre when a week has nothing to draw


# -- public API --------------------------------------------------------------------------------


def render_map(ctx) -> str:
    """The week's map as one self-contained HTML page (no http(s) scripts or styles).

    >>> render_map(ctx).count("<script src=")          # doctest: +SKIP
    0
    """
    cfg = ctx.cfg
    title = fmt.week_title(ctx.week, cfg.municipality.name)
    fig = Figure(title=_html.escape(title))
    m = folium.Map(location=MJOLBY, zoom_start=13, tiles=None, control_scale=True, max_zoom=19)
    fig.add_child(m)
    _Script(f"lbPanes(<MAP>, {_js(PANES)}); <MAP>.attributionControl.setPrefix('Leaflet'); lbLabels(<MAP>);").add_to(m)
    if cfg.map.tiles_url:
        folium.TileLayer(
            tiles=cfg.map.tiles_url,
            attr=cfg.map.tiles_attribution,
            name="Bakgrundskarta",
            overlay=True,
            control=True,
            max_zoom=19,
        ).add_to(m)
    _add_time_groups(m, ctx)
    _add_rolling(m, ctx)
    n_points, cell = _add_events(m, ctx)
    _add_areas(m, ctx)
    _add_places(m, ctx)
    _add_boundary(m, ctx)
    overlay_legend = _add_overlays(m, ctx)
    # Collapsed by construction so a phone can open it by a tap; lbLayout expands it on a wide
    # screen and keeps it open there.
    control = folium.LayerControl(collapsed=True, position="topright").add_to(m)
    _Script(f"lbLayout(<MAP>, <CONTROL>, {_js(_bounds(ctx))});", refs={"<CONTROL>": control}).add_to(m)
    _add_page(fig, ctx, title, n_points, overlay_legend, cell)
    _without_cdn(m)
    _stable_ids(m)
    return fig.render().replace("<html>", '<html lang="sv">', 1)


# -- folium elements -----------------------------------------------------------------------------


class _Raw(Element):
    """Literal HTML (never run through Jinja: inlined JS may contain '{{' or '{%')."""

    def __init__(self, text: str):
        super().__init__()
        self._text = text

    def render(self, **kwargs) -> str:
        return self._text


class _Script(MacroElement):
    """JS run in the map script; ``<PARENT>``/``<MAP>`` become the parent layer's and map's names.

    The placeholders contain '<', which ``_js`` always escapes, so data can never forge them.
    """

    _template = Template("{% macro script(this, kwargs) %}{{ this.code() }}{% endmacro %}")

    def __init__(self, code: str, refs: dict | None = None):
        super().__init__()
        self._name = "LbScript"
        self._code = code
        self._refs = refs or {}  # "<NAME>" -> element: its JS name, resolved at render time

    def code(self) -> str:
        parent = self._parent
        root = parent
        while root is not None and not isinstance(root, folium.Map):
            root = root._parent
        code = self._code.replace("<PARENT>", parent.get_name()).replace("<MAP>", root.get_name())
        for placeholder, element in self._refs.items():
            code = code.replace(placeholder, element.get_name())
        return code

    def render(self, **kwargs) -> None:
        # branca would wrap the code in an Element, i.e. compile it as a Jinja template: slow
        # for a national week's inlined data (megabytes), and wrong should the data hold '{{'
        self.get_root().script.add_child(_Raw(self.code()), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


def _vector_layer(parent, features: list[dict], pane: str, interactive: bool = True) -> None:
    if features:
        data = {"type": "FeatureCollection", "features": features}
        opts = {"pane": pane, "interactive": interactive}
        _Script(f"lbGeoJson({_js(data)}, {_js(opts)}).addTo(<PARENT>);").add_to(parent)


# -- layers --------------------------------------------------------------------------------------


def _add_time_groups(m, ctx) -> None:
    """One radio entry per time of day: that slice's hotspot zones and clusters."""
    hotspots, clusters = _layer(ctx, "hotspots"), _layer(ctx, "clusters")
    levels = _levels(ctx)
    for i, (key, label) in enumerate(_time_options(ctx.cfg)):
        group = folium.FeatureGroup(name=_html.escape(label), overlay=False, show=(i == 0)).add_to(m)
        # The choice filters the events too (lbLabels listens for baselayerchange).
        _Script(f"<PARENT>.lbTimeOfDay = {_js(key)};").add_to(group)
        zones = _select(hotspots, WEEK_PERIOD, key)
        _vector_layer(group, _hotspot_features(zones, ctx.cfg, levels), "lbZoner")
        _vector_layer(group, _cluster_features(_select(clusters, WEEK_PERIOD, key), ctx.cfg), "lbKluster")


def _add_rolling(m, ctx) -> None:
    weeks = ctx.cfg.analysis.rolling_weeks
    group = folium.FeatureGroup(name=f"Rullande {weeks} veckor: zoner och kluster", show=False).add_to(m)
    zones = _select(_layer(ctx, "hotspots"), ROLLING_PERIOD, ALL_DAY)
    _vector_layer(group, _hotspot_features(zones, ctx.cfg, _levels(ctx), rolling=True), "lbZoner")
    clusters = _select(_layer(ctx, "clusters"), ROLLING_PERIOD, ALL_DAY)
    _vector_layer(group, _cluster_features(clusters, ctx.cfg, rolling=True), "lbKluster")


def _add_events(m, ctx) -> tuple[int, float | None]:
    """The event dots; the number of drawable events and the cell size when they are drawn
    as counts per cell (None: one dot per event)."""
    events = _drawable_events(ctx)
    n_events = len(events)
    cell = None
    if n_events > ctx.cfg.map.max_points:
        # the analysis cell, doubled until the dots number at most max_points
        frame = _cell_frame(ctx, events)
        cell = ctx.cfg.analysis.cell_size_m
        table = _cell_table(frame, cell)
        while len(table) > ctx.cfg.map.max_points:
            cell *= 2
            table = _cell_table(frame, cell)
        rows = _aggregated_rows(ctx, table, cell)
    else:
        rows = _event_rows(ctx, events)
    colors = [g.color for g in ctx.cfg.groups.values()] + [OTHER_COLOR]
    # The count follows the time-of-day choice (karta.js updates .lb-event-count).
    name = f'Händelser (<span class="lb-event-count">{n_events}</span> st)'
    if cell is not None:
        name += f", antal per ruta om {fmt.sv_number(cell, 0)} m"
    # counts per cell cover the zones and clusters, which carry a national week: off at first
    group = folium.FeatureGroup(name=name, show=cell is None).add_to(m)
    _Script(f"lbEvents(<MAP>, {_js(rows)}, {_js(colors)}).addTo(<PARENT>);").add_to(group)
    return n_events, cell


def _add_areas(m, ctx) -> None:
    group = folium.FeatureGroup(name="Områden: namn och säkerställd förändring", show=True).add_to(m)
    _vector_layer(group, _area_features(ctx), "lbOmraden")
    labels = _area_labels(ctx)
    if labels:
        _Script(f"lbLabelLayer({_js(labels)}, 'lb-area-label').addTo(<PARENT>);").add_to(group)


def _add_places(m, ctx) -> None:
    """Names of the week's zones (whole day), shown when zoomed in close enough to read them."""
    labels = _place_labels(ctx)
    if labels:
        group = folium.FeatureGroup(name="Platsnamn vid veckans zoner", show=True).add_to(m)
        _Script(f"lbLabelLayer({_js(labels)}, 'lb-place-label').addTo(<PARENT>);").add_to(group)


def _add_overlays(m, ctx) -> list[dict]:
    """The declared overlays (pipeline/render/overlays.py), each an off-switchable layer;
    returns their legend blocks for the page's legend."""
    legend = []
    for overlay in OVERLAYS:
        feats = overlay.build(ctx)
        if feats is None:
            continue
        group = folium.FeatureGroup(name=_html.escape(overlay.label), show=overlay.show).add_to(m)
        _vector_layer(group, feats, overlay.pane)
        entries = overlay.legend(ctx) if overlay.legend is not None else []
        if entries:
            legend.append({"label": overlay.label, "entries": [{"color": c, "label": t} for c, t in entries]})
    return legend


def _add_boundary(m, ctx) -> None:
    group = folium.FeatureGroup(name="Kommungräns", show=True).add_to(m)
    style = {"color": BOUNDARY_COLOR, "weight": 3, "fill": False, "className": "lb-boundary"}
    feats = [feature(g, style) for g in to_web(ctx.boundary).geometry if g is not None and not g.is_empty]
    _vector_layer(group, feats, "lbOmraden", interactive=False)


# -- features ------------------------------------------------------------------------------------


def _hotspot_features(zones, cfg, levels: list[float], rolling: bool = False) -> list[dict]:
    # Draw the widest level first so the densest zones lie on top.
    zones = zones.sort_values("level", ascending=False) if len(zones) else zones
    feats = []
    for row, geom in zip(zones.itertuples(index=False), to_web(zones).geometry):
        color = zone_color(row.level, levels)
        style = {
            "color": ROLLING_COLOR if rolling else color,
            "weight": 2 if rolling else 1,
            "fillColor": color,
            "fillOpacity": 0.15 if rolling else 0.45,
            "dashArray": "6 4" if rolling else None,
            "className": "lb-hotspot lb-hotspot-rolling" if rolling else "lb-hotspot",
        }
        feats.append(
            feature(
                geom,
                style,
                popup=_hotspot_popup(row, cfg, rolling),
                tooltip=f"Hotspot-zon: tätaste {fmt.level_text(row.level)} av ytan",
            )
        )
    return feats


def _cluster_features(clusters, cfg, rolling: bool = False) -> list[dict]:
    feats = []
    for row, geom in zip(clusters.itertuples(index=False), to_web(clusters).geometry):
        cid = str(row.cluster_id)
        classes = ["lb-cluster", f"lb-cluster-{fmt.status_css(row.status)}", f"lb-cid-{_css_token(cid)}"] + (
            ["lb-cluster-rolling"] if rolling else []
        )
        style = {
            "color": CLUSTER_COLOR,
            "weight": 3,
            "fillColor": CLUSTER_FILL,
            "fillOpacity": 0.25,
            "dashArray": "8 5" if str(row.status) == STATUS_SEEN_BEFORE else None,
            "className": " ".join(classes),
        }
        place = fmt.text(row.place_name) or "Kluster"
        tip = f"{_html.escape(place)} – {_count(row.n_events)} händelser ({fmt.status_text(row.status)})"
        feats.append(feature(geom, style, popup=_cluster_popup(row, cfg), tooltip=tip, cid=cid))
    return feats


def _area_features(ctx) -> list[dict]:
    areas = ctx.areas
    if areas is None or len(areas) == 0:
        return []
    figures = _area_figures(ctx)
    feats = []
    for name, geom in zip(areas["name"], to_web(areas).geometry):
        fig = figures.get(str(name))
        direction = _direction(fig)
        fill, opacity, css = AREA_FILLS.get(direction, AREA_FILLS[0])
        style = {
            "color": AREA_COLOR,
            "weight": 1.5,
            "dashArray": "4 4",
            "fillColor": fill,
            "fillOpacity": opacity,
            "className": f"lb-area lb-area-{css}",
        }
        html, tip = _area_popup(str(name), fig, ctx.cfg)
        feats.append(feature(geom, style, popup=html, tooltip=tip))
    return feats


#: Area fill by the tested change of its count: +1 rise, -1 fall, 0 no (or no tested) change.
AREA_FILLS = {1: (UP, 0.28, "okning"), -1: (DOWN, 0.28, "minskning"), 0: (AREA_COLOR, 0.04, "oforandrad")}


def _area_figures(ctx) -> dict:
    """Area rows of the tested trend table when the archive has it, else of the key figures."""
    for name in ("trends", "key_figures"):
        kf = _layer(ctx, name)
        if len(kf):
            return {str(r.key): r for r in kf[kf["dimension"].astype(str) == "area"].itertuples(index=False)}
    return {}


def _direction(fig) -> int:
    """+1 / -1 for a tested, significant rise / fall of an area's count; 0 otherwise."""
    value = getattr(fig, "direction_prev", None) if fig is not None else None
    return 0 if value is None or fmt.is_missing(value) else int(np.sign(int(value)))


def _area_labels(ctx) -> list[list]:
    """[lat, lon, escaped name] at a point inside each named area, largest area first (the
    page hides a label that would overlap an earlier one)."""
    areas = ctx.areas
    if areas is None or len(areas) == 0:
        return []
    areas = areas.iloc[np.argsort(-areas.geometry.area.to_numpy(), kind="stable")]
    points = to_web(areas.assign(geometry=areas.geometry.representative_point()))
    return [
        [round(p.y, 6), round(p.x, 6), _html.escape(str(n))]
        for n, p in zip(areas["name"], points.geometry)
        if p is not None and not p.is_empty
    ]


def _place_labels(ctx) -> list[list]:
    """[lat, lon, escaped place name] of the week's whole-day zones (broadest level), one per name."""
    zones = _select(_layer(ctx, "hotspots"), WEEK_PERIOD, ALL_DAY)
    if len(zones) == 0 or "place_name" not in zones:
        return []
    zones = zones[zones["level"].astype(float) == zones["level"].astype(float).max()]
    zones = zones.sort_values("n_events", ascending=False, kind="stable")
    zones = zones[zones["place_name"].map(fmt.text) != ""].drop_duplicates("place_name")
    points = to_web(zones.assign(geometry=zones.geometry.representative_point()))
    return [
        [round(p.y, 6), round(p.x, 6), _html.escape(fmt.text(n))] for n, p in zip(zones["place_name"], points.geometry)
    ]


def _drawable_events(ctx):
    """The week's events a map may draw: not a duplicate, not a protected category, placed."""
    events = _layer(ctx, "events")
    if len(events) == 0:
        return events
    dup = events["duplicate_of"].fillna("").astype(str) if "duplicate_of" in events else ""
    keep = (dup == "") & ~events["category"].astype(str).isin(ctx.cfg.sensitive_categories())
    keep &= ~(events.geometry.isna() | events.geometry.is_empty)
    return events[keep]


def _cell_frame(ctx, events) -> pd.DataFrame:
    """x, y (EPSG:3006), time of day and group index (the config's groups, then "Övrigt") of
    the drawable events: what :func:`_cell_table` counts, at any cell size."""
    groups = list(ctx.cfg.groups)
    code = pd.Categorical(events["category_group"].astype(str), categories=groups).codes
    return pd.DataFrame(
        {
            "x": events.geometry.x.to_numpy(),
            "y": events.geometry.y.to_numpy(),
            "tod": events["time_of_day"].astype(str).to_numpy(),
            "group": np.where(code < 0, len(groups), code),
        }
    )


def _cell_table(frame: pd.DataFrame, cell: float) -> pd.DataFrame:
    """Counts of :func:`_cell_frame`'s events per cell (anchored to multiples of ``cell``) and
    time of day, and per cell for the whole day ("alla"): index (cx, cy, tod), one column per
    group index."""
    cells = pd.DataFrame(
        {
            "cx": np.floor(frame["x"].to_numpy() / cell).astype(np.int64),
            "cy": np.floor(frame["y"].to_numpy() / cell).astype(np.int64),
            "tod": frame["tod"].to_numpy(),
            "group": frame["group"].to_numpy(),
        }
    )
    both = pd.concat([cells.assign(tod=ALL_DAY), cells], ignore_index=True)
    return both.groupby(["cx", "cy", "tod", "group"]).size().unstack("group", fill_value=0)


def _aggregated_rows(ctx, table: pd.DataFrame, cell: float) -> list:
    """One dot per row of :func:`_cell_table`: [lat, lon, colour index of the cell's most
    common group, popup, time-of-day key, count]."""
    if not len(table):
        return []
    labels = [g.label for g in ctx.cfg.groups.values()] + ["Övrigt"]
    counts = table.to_numpy()
    columns = [int(c) for c in table.columns]
    cx, cy, tods = (table.index.get_level_values(k) for k in ("cx", "cy", "tod"))
    centres = gpd.GeoSeries(gpd.points_from_xy((cx + 0.5) * cell, (cy + 0.5) * cell), crs=CRS).to_crs(WEB_CRS)
    size = f"<p>Ruta {fmt.sv_number(cell, 0)} × {fmt.sv_number(cell, 0)} m</p>"
    rows = []
    for pt, tod, row in zip(centres.geometry, tods, counts):
        n = int(row.sum())
        best = columns[int(np.argmax(row))]  # the first of equal maxima: the groups' config order
        lines = [(labels[g], _count(v)) for g, v in zip(columns, row) if v]
        rows.append(
            [round(pt.y, 6), round(pt.x, 6), best, popup(f"{_count(n)} händelser i rutan", lines, size), tod, n]
        )
    return rows


def _event_rows(ctx, events) -> list:
    """[lat, lon, colour index, popup, time-of-day key] per drawable event."""
    groups = list(ctx.cfg.groups)
    if len(events) == 0:
        return []
    web = to_web(events)
    rows = []
    for row, pt in zip(events.itertuples(index=False), web.geometry):
        group = str(row.category_group)
        idx = groups.index(group) if group in groups else len(groups)
        rows.append([round(pt.y, 6), round(pt.x, 6), idx, _event_popup(row, ctx.cfg), str(row.time_of_day)])
    return rows


def feature(geom, style: dict, popup: str | None = None, tooltip: str | None = None, cid: str | None = None):
    """A GeoJSON feature (geometry in EPSG:4326) with its Leaflet style, popup HTML and tooltip.

    ``popup`` is HTML: escape every data text in it (``html.escape``); ``tooltip`` is text.
    """
    props = {"style": {k: v for k, v in style.items() if v is not None}}
    if popup:
        props["popup"] = popup
    if tooltip:
        props["tooltip"] = tooltip
    if cid:
        props["cid"] = cid
    geom = shapely.transform(geom, lambda c: np.round(c, 6))  # ~0.1 m: keeps the page small
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}


# -- popups (every data value escaped) ----------------------------------------------------------------


def popup(title: str, lines: list[tuple[str, object]], extra: str = "") -> str:
    """Popup HTML: a title and "label: value" lines, every text escaped; ``extra`` is trusted HTML."""
    body = "".join(f"<p><b>{_html.escape(k)}:</b> {_html.escape(fmt.text(v))}</p>" for k, v in lines)
    return f'<div class="lb-popup"><h3>{_html.escape(title)}</h3>{extra}{body}</div>'


def _cluster_popup(row, cfg) -> str:
    badge = (
        f'<p><span class="lb-status lb-status-{fmt.status_css(row.status)}">{fmt.status_text(row.status)}</span></p>'
    )
    return popup(
        f"Kluster: {fmt.text(row.place_name) or 'namnlös plats'}",
        [
            ("Antal händelser", _count(row.n_events)),
            ("Vanligaste kategorier", fmt.text(row.top_categories) or "–"),
            ("Partner", fmt.text(row.partners) or "–"),
            ("Mest aktiv", fmt.row_peak(row)),
            ("Tid på dygnet", fmt.time_label(str(row.time_of_day), cfg)),
            ("Första händelse", fmt.sv_datetime(row.first_at)),
            ("Senaste händelse", fmt.sv_datetime(row.last_at)),
            ("Zon på platsen", fmt.row_recurrence(row)),
        ],
        extra=badge,
    )


def _hotspot_popup(row, cfg, rolling: bool) -> str:
    period = f"rullande {cfg.analysis.rolling_weeks} veckor" if rolling else "veckan"
    place = fmt.text(getattr(row, "place_name", ""))
    status = getattr(row, "status", None)
    badge = (
        ""
        if fmt.is_missing(status) or not fmt.text(status)
        else (f'<p><span class="lb-status lb-status-{fmt.status_css(status)}">{fmt.status_text(status)}</span></p>')
    )
    return popup(
        f"Hotspot-zon: {place}" if place else f"Hotspot-zon: tätaste {fmt.level_text(row.level)} av ytan",
        [
            ("Nivå", f"tätaste {fmt.level_text(row.level)} av ytan"),
            ("Period", period),
            ("Tid på dygnet", fmt.time_label(str(row.time_of_day), cfg)),
            ("Antal händelser", _count(row.n_events)),
            ("Andel av händelserna", fmt.sv_percent(row.share_events)),
            ("Yta", f"{fmt.sv_number(row.area_km2, 2)} km²"),
            ("Koncentration (gånger tätare än i kommunen som helhet)", fmt.sv_number(row.pai, 0)),
            ("Återkommit", fmt.row_recurrence(row)),
        ],
        extra=badge,
    )


def _area_popup(name: str, fig, cfg) -> tuple[str, str]:
    if fig is None:
        return popup(name, [("Händelser denna vecka (hela dygnet)", "–")]), _html.escape(name)
    direction = _direction(fig)
    tested = getattr(fig, "direction_prev", None) is not None
    arrow, css, text = AREA_VERDICTS[direction] if tested else ("", "lb-same", "ej prövad")
    weeks = getattr(getattr(cfg, "trends", None), "recent_weeks", None) or cfg.analysis.rolling_weeks
    change = f'<p class="{css}">{arrow} {_html.escape(text)}</p>'
    html = popup(
        name,
        [
            ("Händelser denna vecka (hela dygnet)", _count(fig.n_week)),
            (f"Snitt föregående {weeks} veckor", fmt.sv_number(fig.mean_prev, 1)),
        ],
        extra=change,
    )
    tip = f'{_html.escape(name)}: {_count(fig.n_week)} händelser <span class="{css}">{arrow}</span>'
    return html, tip


AREA_VERDICTS = {
    1: ("▲", "lb-up", "säkerställd ökning"),
    -1: ("▼", "lb-down", "säkerställd minskning"),
    0: ("", "lb-same", "ingen säkerställd förändring"),
}


def _event_popup(row, cfg) -> str:
    partner = cfg.partners[row.source].label if str(row.source) in cfg.partners else fmt.text(row.source)
    return popup(
        fmt.text(row.category_label) or "Händelse",
        [
            ("Tid", fmt.sv_datetime(row.occurred_at)),
            ("Partner", partner),
            ("Område", fmt.text(row.area) or "–"),
        ],
    )


# -- page chrome ---------------------------------------------------------------------------------


def _add_page(
    fig, ctx, title: str, n_points: int, overlay_legend: list[dict] | None = None, cell: float | None = None
) -> None:
    fig.header.add_child(_Raw('<meta charset="utf-8">'), name="lb_charset")
    fig.header.add_child(_Raw(wa.head_html()), name="lb_assets")
    fig.header.add_child(_Raw(f"<style>\n{wa.template_text('karta.css')}\n</style>"), name="lb_css")
    fig.header.add_child(_Raw(f"<script>\n{wa.template_text('karta.js')}\n</script>"), name="lb_js")
    levels = _levels(ctx)
    chrome = wa.render_template(
        "karta_chrome.html.j2",
        title=title,
        **_week_links(ctx.week, ctx.weeks),
        n_points=n_points,
        event_cell=None if cell is None else fmt.sv_number(cell, 0),
        zones=[{"color": zone_color(lv, levels), "label": f"Tätaste {fmt.level_text(lv)} av ytan"} for lv in levels],
        rolling_color=ROLLING_COLOR,
        rolling_weeks=ctx.cfg.analysis.rolling_weeks,
        cluster_color=CLUSTER_COLOR,
        cluster_fill=CLUSTER_FILL,
        groups=[{"color": g.color, "label": g.label} for g in ctx.cfg.groups.values()],
        up_color=UP,
        down_color=DOWN,
        area_color=AREA_COLOR,
        overlays=overlay_legend or [],
        summary=[s.text for s in week_summary(ctx)],
    )
    fig.html.add_child(_Raw(chrome), name="lb_chrome")


def _week_links(week: str, weeks: list[str]) -> dict:
    prev_week, next_week = neighbour_weeks(week, weeks)
    return {
        "prev_week": prev_week,
        "next_week": next_week,
        "prev_label": _week_label(prev_week),
        "next_label": _week_label(next_week),
    }


_WEEK_LINKS = re.compile(r"<!-- lb-weeklinks -->.*?<!-- /lb-weeklinks -->", re.DOTALL)


def relink_map(html: str, week: str, weeks: list[str]) -> str | None:
    """``html`` (a written karta.html of ``week``) with its previous/next-week links pointing at
    the neighbours in ``weeks``; None when the page has no marked links (re-render it).

    When a new week is archived, the week before it changes only in its "next week" link:
    rewriting that fragment costs microseconds, re-rendering the page reads its whole archive.

    >>> links = _week_links("2026-W46", ["2026-W46"])
    >>> page = "<nav>" + wa.render_template("karta_weeklinks.html.j2", **links) + "</nav>"
    >>> "2026-W47/karta.html" in relink_map(page, "2026-W46", ["2026-W46", "2026-W47"])
    True
    """
    links = wa.render_template("karta_weeklinks.html.j2", **_week_links(week, weeks)).rstrip("\n")
    out, found = _WEEK_LINKS.subn(lambda _: links, html)
    return out if found == 1 else None


def neighbour_weeks(week: str, weeks: list[str]) -> tuple[str | None, str | None]:
    """The archived weeks just before and after ``week``.

    >>> neighbour_weeks("2026-W47", ["2026-W45", "2026-W46", "2026-W47"])
    ('2026-W46', None)
    """
    earlier = [w for w in weeks if w < week]
    later = [w for w in weeks if w > week]
    return (max(earlier) if earlier else None, min(later) if later else None)


def _week_label(week: str | None) -> str:
    if not week:
        return ""
    year, num = fmt.week_parts(week)
    return f"{num}, {year}"


def _without_cdn(root) -> None:
    """Drop folium's CDN links (Leaflet, jQuery, Bootstrap, Font Awesome): Leaflet is inlined and
    nothing here needs the rest. Instance attributes shadow the class lists, so no global state."""
    for el in _walk(root):
        if hasattr(el, "default_js"):
            el.default_js = []
            el.default_css = []


def _stable_ids(root) -> None:
    """Number the elements in build order so the same week renders to the same bytes."""
    counter = itertools.count(1)
    for el in _walk(root):
        el._id = str(next(counter))
    for el in _walk(root):
        el._children = OrderedDict((child.get_name(), child) for child in el._children.values())


def _walk(root):
    yield root
    for child in list(root._children.values()):
        yield from _walk(child)


# -- helpers ---------------------------------------------------------------------------------------


def _layer(ctx, name: str):
    frame = ctx.layers.get(name)
    return frame if frame is not None else pd.DataFrame()


def _select(frame, period: str, tod: str):
    if len(frame) == 0:
        return frame
    mask = (frame["period"].astype(str) == period) & (frame["time_of_day"].astype(str) == tod)
    return frame[mask]


def to_web(frame) -> gpd.GeoDataFrame:
    """``frame`` (EPSG:3006) reprojected for the web map; an empty frame when there is none."""
    if frame is None or len(frame) == 0 or not isinstance(frame, gpd.GeoDataFrame):
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=WEB_CRS))
    if frame.crs is None:
        frame = frame.set_crs("EPSG:3006")
    return frame.to_crs(WEB_CRS)


def _bounds(ctx):
    """[[south, west], [north, east]] to open on: the week's events, else its zones and
    clusters, else the municipal boundary."""
    focus = [_select(_layer(ctx, n), WEEK_PERIOD, ALL_DAY) for n in ("hotspots", "clusters")]
    focus = [f for f in focus if len(f)]
    candidates = [pd.concat(focus)] if focus else []
    for frame in [_layer(ctx, "events"), *candidates, ctx.boundary]:
        web = to_web(frame)
        if len(web) and not web.geometry.is_empty.all():
            w, s, e, n = web.total_bounds
            if np.isfinite([w, s, e, n]).all():
                return [[float(s), float(w)], [float(n), float(e)]]
    return None


def _time_options(cfg) -> list[tuple[str, str]]:
    return [(ALL_DAY, "Hela dygnet")] + [(k, b.label) for k, b in cfg.time_of_day.items()]


def _levels(ctx) -> list[float]:
    hs = _layer(ctx, "hotspots")
    found = {float(x) for x in hs["level"]} if len(hs) else set()
    return sorted(found | {float(x) for x in ctx.cfg.analysis.levels})


def _count(n) -> str:
    return "–" if fmt.is_missing(n) else str(int(n))


def _css_token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _js(obj) -> str:
    """JSON for inline <script>: '<', '>' and '&' escaped so data can never close the tag."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
