"""Map images for the printed report, drawn offline from the archive with matplotlib.

The printout has to show *where* without a screen: the municipal boundary, the named areas
with their names, the week's hotspot zones and clusters, and — when those products are in
the archive — the forecast areas and the active interventions, with a scale bar. Besides the
overview, a close-up per place where the week's events concentrate (the busiest zones, at
least ``CLOSEUP_SPACING_M`` apart), since the towns are too small to read on the overview.

Everything is drawn in EPSG:3006, so the scale bar is exact metres; no tiles, no network.
The result is inline SVG (text stays text, prints sharp, no request).
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # no display on the server that runs the weekly job

import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.path import Path  # noqa: E402

from pipeline.render import format as fmt  # noqa: E402
from pipeline.render.palette import (  # noqa: E402
    AREA_COLOR,
    BOUNDARY_COLOR,
    CLUSTER_COLOR,
    HEAD,
    OTHER_COLOR,
    zone_color,
)
from pipeline.schema import ALL_DAY, WEEK_PERIOD  # noqa: E402

#: Width and height of a close-up window (m) and the least distance between two close-ups.
CLOSEUP_SIZE_M = 2400.0
CLOSEUP_SPACING_M = 3000.0
MAX_CLOSEUPS = 2
FORECAST_COLOR = "#6a3d9a"
INTERVENTION_COLOR = "#1b7837"
#: Simplification of outlines on the overview (m): far below what a printed page can show.
OVERVIEW_SIMPLIFY_M = 20.0
#: Height of the overview on the page (in): it shares the first page with the summary.
OVERVIEW_HEIGHT_IN = 3.6
#: Labels closer than this share of the map's width are left out (the first, largest area wins).
LABEL_SPACING = 0.07


def report_maps(ctx) -> list[dict]:
    """The overview and the close-ups: [{"key", "title", "svg"}] (close-ups may be none)."""
    maps = [{"key": "oversikt", "title": "Hela kommunen", "svg": overview_svg(ctx)}]
    for i, (title, window) in enumerate(closeup_windows(ctx)):
        maps.append({"key": f"narbild-{i + 1}", "title": f"Närbild: {title}", "svg": closeup_svg(ctx, window)})
    return maps


def overview_svg(ctx) -> str:
    extent = _extent(ctx)
    fig, ax = _axes(extent, width_in=6.9, max_height_in=OVERVIEW_HEIGHT_IN)
    _draw(ax, ctx, simplify=OVERVIEW_SIMPLIFY_M, label_size=6.5, events=False)
    scale_bar(ax, extent)
    _legend(ax, ctx)
    return _svg(fig)


def closeup_svg(ctx, window: tuple[float, float, float, float]) -> str:
    fig, ax = _axes(window, width_in=3.35)
    _draw(ax, ctx, simplify=0.0, label_size=6.5, events=True, window=window)
    scale_bar(ax, window)
    return _svg(fig)


def closeup_windows(ctx, n: int = MAX_CLOSEUPS) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Square windows on the busiest whole-day zones of the week, far enough apart to show
    different places; named after the named area the window's centre lies in."""
    zones = _week_zones(ctx)
    if len(zones) == 0:
        return []
    zones = zones.sort_values(["n_events", "zone_id"], ascending=[False, True], kind="stable")
    centres: list[shapely.Point] = []
    for geom in zones.geometry:
        c = geom.centroid
        if all(c.distance(o) >= CLOSEUP_SPACING_M for o in centres):
            centres.append(c)
        if len(centres) == n:
            break
    half = CLOSEUP_SIZE_M / 2
    return [(_area_name(ctx, c), (c.x - half, c.y - half, c.x + half, c.y + half)) for c in centres]


def scale_bar(ax, extent) -> None:
    """A scale bar of a round length (about a fifth of the width) in the lower left corner."""
    x0, y0, x1, y1 = extent
    length = nice_length((x1 - x0) / 5)
    pad_x, pad_y = (x1 - x0) * 0.04, (y1 - y0) * 0.05
    ax.plot(
        [x0 + pad_x, x0 + pad_x + length],
        [y0 + pad_y] * 2,
        color=BOUNDARY_COLOR,
        lw=3,
        solid_capstyle="butt",
        zorder=20,
    )
    text = f"{fmt.sv_number(length / 1000, 0 if length >= 1000 else 1)} km" if length >= 500 else f"{length:.0f} m"
    ax.text(
        x0 + pad_x + length / 2,
        y0 + pad_y * 1.4,
        text,
        ha="center",
        va="bottom",
        fontsize=7,
        zorder=20,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5},
    )


def nice_length(target: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above ``target`` (metres).

    >>> nice_length(3700), nice_length(480), nice_length(1999)
    (2000.0, 200.0, 1000.0)
    """
    exp = 10 ** np.floor(np.log10(max(target, 1.0)))
    return float(max(m * exp for m in (1, 2, 5) if m * exp <= target))


# -- drawing -----------------------------------------------------------------------------------


def _draw(ax, ctx, simplify: float, label_size: float, events: bool, window=None) -> None:
    boundary = _geoms(ctx.boundary, simplify)
    for g in boundary:
        _outline(ax, g, color=BOUNDARY_COLOR, lw=1.4, zorder=3)
    areas = ctx.areas
    if areas is not None and len(areas):
        geoms = [g.simplify(simplify) if simplify else g for g in areas.geometry if g is not None and not g.is_empty]
        _fill(ax, geoms, face="#f2f2f2", edge=AREA_COLOR, lw=0.6, ls=(0, (3, 2)), zorder=1)
    _draw_zones(ax, ctx, window)
    _draw_clusters(ax, ctx, window)
    _draw_layer_outline(ax, ctx, "prognos_zones", FORECAST_COLOR, hatch="////", window=window)
    _draw_layer_outline(ax, ctx, "interventions", INTERVENTION_COLOR, hatch="\\\\", active_only=True, window=window)
    if events:
        _draw_events(ax, ctx, window)
    _label_areas(ax, ctx, label_size, window)


def _draw_zones(ax, ctx, window=None) -> None:
    zones = _week_zones(ctx, broadest=False)
    if not len(zones):
        return
    levels = sorted({float(v) for v in ctx.cfg.analysis.levels} | {float(v) for v in zones.get("level", [])})
    zones = _in_window(zones.sort_values("level", ascending=False), window)
    colors = [zone_color(v, levels) for v in zones["level"]]
    _fill(ax, zones.geometry, face=colors, edge=colors, lw=0.6, zorder=5, alpha=0.75)


def _draw_clusters(ax, ctx, window=None) -> None:
    cl = ctx.layers.get("clusters")
    if cl is None or len(cl) == 0:
        return
    part = cl[(cl["period"].astype(str) == WEEK_PERIOD) & (cl["time_of_day"].astype(str) == ALL_DAY)]
    _fill(ax, _in_window(part, window).geometry, face="none", edge=CLUSTER_COLOR, lw=1.2, zorder=6)


def _draw_layer_outline(ax, ctx, name: str, color: str, hatch: str, active_only: bool = False, window=None) -> None:
    frame = ctx.layers.get(name)
    if frame is None or len(frame) == 0 or not hasattr(frame, "geometry"):
        return
    if active_only and "status" in frame:
        frame = frame[frame["status"].astype(str) != "avslutad"]
    _fill(ax, _in_window(frame, window).geometry, face="none", edge=color, lw=1.3, zorder=7, hatch=hatch)


def _in_window(frame, window):
    """The rows whose geometry meets the close-up's window (all rows for the overview): a
    national week has thousands of clusters, and a close-up shows a few."""
    if window is None or len(frame) == 0:
        return frame
    return frame[shapely.intersects(np.asarray(frame.geometry.values), shapely.box(*window))]


def _draw_events(ax, ctx, window=None) -> None:
    ev = ctx.layers.get("events")
    if ev is None or len(ev) == 0:
        return
    ev = _in_window(ev, window)
    if "duplicate_of" in ev:
        ev = ev[ev["duplicate_of"].fillna("").astype(str) == ""]
    colors = {k: g.color for k, g in ctx.cfg.groups.items()}
    c = [colors.get(str(g), OTHER_COLOR) for g in ev["category_group"]]
    ax.scatter(ev.geometry.x, ev.geometry.y, s=7, c=c, edgecolors="white", linewidths=0.3, zorder=8)


def _label_areas(ax, ctx, size: float, window) -> None:
    areas = ctx.areas
    if areas is None or len(areas) == 0:
        return
    x0, x1 = ax.get_xlim()
    spacing = (x1 - x0) * LABEL_SPACING
    placed: list = []
    by_size = sorted(zip(areas["name"], areas.geometry), key=lambda ng: -(ng[1].area if ng[1] is not None else 0))
    for name, geom in by_size:
        if geom is None or geom.is_empty:
            continue
        if window is not None:
            geom = geom.intersection(shapely.box(*window))
            if geom.is_empty or geom.area < (window[2] - window[0]) ** 2 * 0.01:
                continue
        p = geom.representative_point()
        if any(p.distance(q) < spacing for q in placed):
            continue
        placed.append(p)
        ax.text(
            p.x,
            p.y,
            str(name),
            fontsize=size,
            ha="center",
            va="center",
            color=HEAD,
            zorder=15,
            fontweight="bold",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.65, "pad": 0.6},
        )


def _legend(ax, ctx) -> None:
    levels = sorted(float(v) for v in ctx.cfg.analysis.levels)
    handles = [
        mpatches.Patch(
            facecolor=zone_color(v, levels), edgecolor="none", label=f"Hotspot-zon, tätaste {fmt.level_text(v)} av ytan"
        )
        for v in levels
    ]
    handles.append(mpatches.Patch(facecolor="none", edgecolor=CLUSTER_COLOR, label="Kluster"))
    if _has(ctx, "prognos_zones"):
        handles.append(
            mpatches.Patch(facecolor="none", edgecolor=FORECAST_COLOR, hatch="////", label="Prognos nästa vecka")
        )
    if _has(ctx, "interventions"):
        handles.append(
            mpatches.Patch(facecolor="none", edgecolor=INTERVENTION_COLOR, hatch="\\\\", label="Pågående insats")
        )
    handles += [
        mpatches.Patch(facecolor="#f2f2f2", edgecolor=AREA_COLOR, linestyle="--", label="Namngivet område"),
        Line2D([], [], color=BOUNDARY_COLOR, lw=1.4, label="Kommungräns"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=6.5, framealpha=0.9, edgecolor="#cccccc")


def _outline(ax, geom, **kw) -> None:
    for poly in _polygons(geom):
        for ring in [poly.exterior, *poly.interiors]:
            xs, ys = ring.xy
            ax.plot(xs, ys, **kw)
    for line in _lines(geom):
        xs, ys = line.xy
        ax.plot(xs, ys, **kw)


def _fill(ax, geoms, face, edge, lw, zorder, ls="-", alpha=1.0, hatch=None) -> None:
    """Every polygon of ``geoms`` as one collection (one artist, not one patch per polygon:
    thousands of clusters draw in a fraction of the time); ``face`` and ``edge`` are a colour
    or one colour per geometry."""
    paths, faces, edges = [], [], []
    for i, geom in enumerate(geoms):
        for poly in _polygons(geom):
            paths.append(_path(poly))
            faces.append(face[i] if isinstance(face, list) else face)
            edges.append(edge[i] if isinstance(edge, list) else edge)
    if not paths:
        return
    coll = PathCollection(
        paths, facecolors=faces, edgecolors=edges, linewidths=lw, linestyles=ls, alpha=alpha, zorder=zorder
    )
    if hatch:
        coll.set_hatch(hatch)
    ax.add_collection(coll, autolim=False)


def _path(poly):
    verts, codes = [], []
    for ring in [poly.exterior, *poly.interiors]:
        coords = np.asarray(ring.coords)
        verts.extend(coords)
        codes.extend([Path.MOVETO] + [Path.LINETO] * (len(coords) - 2) + [Path.CLOSEPOLY])
    return Path(np.asarray(verts), codes)


def _polygons(geom) -> list:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def _lines(geom) -> list:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type in ("LineString", "LinearRing"):
        return [geom]
    if geom.geom_type.startswith("Multi") or geom.geom_type == "GeometryCollection":
        return [ln for g in geom.geoms for ln in _lines(g)]
    return []


# -- helpers -------------------------------------------------------------------------------------


def _axes(extent, width_in: float, max_height_in: float = 9.0):
    x0, y0, x1, y1 = extent
    ratio = (y1 - y0) / max(x1 - x0, 1.0)
    height = width_in * ratio
    if height > max_height_in:
        height, width_in = max_height_in, max_height_in / ratio
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(width_in, max(height, 1.5)))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1)
    return fig, ax


_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "lagesbild-karta",
    "text.parse_math": False,
    "font.size": 7,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "hatch.linewidth": 0.6,
}


def _extent(ctx) -> tuple[float, float, float, float]:
    """The boundary's bounds with a small margin (the named areas' if there is no boundary)."""
    frames = [f for f in (ctx.boundary, ctx.areas) if f is not None and len(f)]
    if not frames:
        return (0.0, 0.0, 1000.0, 1000.0)
    x0, y0, x1, y1 = frames[0].total_bounds
    pad = max(x1 - x0, y1 - y0) * 0.03
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _geoms(frame, simplify: float) -> list:
    if frame is None or len(frame) == 0:
        return []
    return [g.simplify(simplify) if simplify else g for g in frame.geometry if g is not None and not g.is_empty]


def _week_zones(ctx, broadest: bool = True):
    hs = ctx.layers.get("hotspots")
    if hs is None or len(hs) == 0:
        return pd.DataFrame(columns=["level", "n_events", "zone_id", "geometry"])
    part = hs[(hs["period"].astype(str) == WEEK_PERIOD) & (hs["time_of_day"].astype(str) == ALL_DAY)]
    if broadest and len(part):
        part = part[part["level"].astype(float) == part["level"].astype(float).max()]
    return part


def _area_name(ctx, point) -> str:
    areas = ctx.areas
    if areas is not None and len(areas):
        for name, geom in zip(areas["name"], areas.geometry):
            if geom is not None and geom.contains(point):
                return str(name)
        dists = [geom.distance(point) if geom is not None else np.inf for geom in areas.geometry]
        return str(areas["name"].iloc[int(np.argmin(dists))])
    return "zon"


def _has(ctx, name: str) -> bool:
    frame = ctx.layers.get(name)
    return frame is not None and len(frame) > 0


def _svg(fig) -> str:
    """Inline SVG without prolog, metadata or namespace URLs (the report makes no requests)."""
    buf = io.StringIO()
    with plt.rc_context(_STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
