"""Trend lines in the report: every taxonomy group and the municipality total, week by week.

Drawn from the archive's ``series`` layer (one table of every week in the data, so no earlier
archive is read). Each panel marks the built week; ▲/▼ in the key figures say whether this
week's change is significant — the lines only show the history behind it.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # no display on the server that runs the weekly job

import matplotlib.pyplot as plt  # noqa: E402
from markupsafe import Markup  # noqa: E402

from pipeline.analysis.trends import ALL_KEY  # noqa: E402
from pipeline.render.sections import ReportSection  # noqa: E402

#: Weeks drawn (the archive's series holds them all).
MAX_WEEKS = 52
TOTAL_COLOR = "#222222"


def build(ctx) -> dict | None:
    """The section's values; None without a series layer (an archive from before it)."""
    series = ctx.layers.get("series")
    if series is None or len(series) == 0:
        return None
    weeks = sorted(w for w in set(series["week"].astype(str)) if w <= ctx.week)[-MAX_WEEKS:]
    if not weeks:
        return None
    panels = group_panels(series, ctx.cfg, weeks)
    return {
        "chart": Markup(panels_svg(panels, weeks, ctx.week)),
        "first": weeks[0],
        "week": ctx.week,
        "n_weeks": len(weeks),
        "panels": [
            {"key": p["key"], "label": p["label"], "n_week": p["values"][-1], "total": sum(p["values"])} for p in panels
        ],
    }


def group_panels(series, cfg, weeks: list[str]) -> list[dict]:
    """One panel per group plus the total (all areas): key, label, colour, weekly counts."""
    whole = series[series["area"].astype(str) == ALL_KEY]
    counts = whole.groupby([whole["group"].astype(str), whole["week"].astype(str)])["n"].sum()
    out = [{"key": ALL_KEY, "label": "Alla händelser", "color": TOTAL_COLOR}]
    out += [{"key": k, "label": g.label, "color": g.color} for k, g in cfg.groups.items()]
    for p in out:
        p["values"] = [int(counts.get((p["key"], w), 0)) for w in weeks]
    return out


def panels_svg(panels: list[dict], weeks: list[str], week: str) -> str:
    """Small multiples (3 per row): weekly counts, the built week marked."""
    ncols = 3
    nrows = -(-len(panels) // ncols)
    x = list(range(len(weeks)))
    ticks = [
        i for i, w in enumerate(weeks) if i == 0 or i == len(weeks) - 1 or w.endswith(("W01", "W14", "W27", "W40"))
    ]
    with plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "lagesbild",
            "text.parse_math": False,
            "font.size": 7,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        fig, axes = plt.subplots(nrows, ncols, figsize=(7.2, 1.45 * nrows + 0.3), squeeze=False)
        for ax, p in zip(axes.ravel(), panels):
            ax.plot(x, p["values"], color=p["color"], linewidth=1.2)
            if week in weeks:
                i = weeks.index(week)
                ax.plot([i], [p["values"][i]], "o", color=p["color"], markersize=3.5)
            ax.set_title(p["label"], fontsize=7.5, loc="left")
            ax.set_ylim(bottom=0)
            ax.set_xticks(ticks, [f"v. {int(weeks[i].split('-W')[1])}" for i in ticks])
        for ax in axes.ravel()[len(panels) :]:
            ax.set_visible(False)
        return _svg(fig)


def _svg(fig) -> str:
    """Inline SVG without prolog, metadata or namespace URLs (the report makes no requests)."""
    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)


SECTION = ReportSection("utveckling", "Utveckling vecka för vecka", "trends.html.j2", build, order=150)
