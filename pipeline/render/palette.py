"""The one palette: the web map, the report and the QGIS styles take every colour from here.

Hotspot zones are coloured by the rank of their level among the configured levels (smallest
share of area = densest = darkest), so every week's map and every archive in QGIS read the
same and a legend never changes meaning.
"""

from __future__ import annotations

import math

#: Hotspot zone fill by level rank, densest first.
ZONE_COLORS = ("#b10026", "#fc4e2a", "#feb24c", "#ffeda0")
#: Colour of the standard levels (% of area), for code that has no level list at hand.
LEVEL_COLORS = {0.1: ZONE_COLORS[0], 0.5: ZONE_COLORS[1], 1.0: ZONE_COLORS[2], 5.0: ZONE_COLORS[3]}
LEVEL_FALLBACK_COLOR = "#e34a33"
#: Fixed density legend classes (see pipeline.analysis.zones.DENSITY_BREAKS), light to dark.
DENSITY_COLORS = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")

ROLLING_COLOR = "#67000d"
CLUSTER_COLOR = "#08306b"
CLUSTER_FILL = "#6baed6"
AREA_COLOR = "#444444"
BOUNDARY_COLOR = "#222222"
OTHER_COLOR = "#999999"
INK = "#1d1d1d"
MUTED = "#5a5a5a"
HEAD = "#1f3b57"
#: A tested rise / fall (report arrows, map area fills).
UP = "#b2182b"
DOWN = "#1b7837"
#: Emerging hot spot classes (pipeline.analysis.emerging codes: 1..8 hot, -1..-8 cold, 0 none)
#: -> (fill, outline), after ArcGIS Pro's renderer: reds for hot, blues for cold, the strongest
#: trend darkest; new and consecutive spots keep a dark outline, historical ones are pale.
EMERGING_COLORS = {
    1: ("#fcbba1", "#67000d"),
    2: ("#fb6a4a", "#67000d"),
    3: ("#a50f15", "#67000d"),
    4: ("#de2d26", "#a50f15"),
    5: ("#fc9272", "#a50f15"),
    6: ("#fee0d2", "#de2d26"),
    7: ("#fdae6b", "#a63603"),
    8: ("#e8d3cc", "#a58a80"),
    -1: ("#c6dbef", "#08306b"),
    -2: ("#6baed6", "#08306b"),
    -3: ("#08519c", "#08306b"),
    -4: ("#3182bd", "#08519c"),
    -5: ("#9ecae1", "#08519c"),
    -6: ("#deebf7", "#3182bd"),
    -7: ("#bcbddc", "#54278f"),
    -8: ("#d3dbe3", "#8a96a3"),
    0: ("#f0f0f0", "#bdbdbd"),
}

#: Status badges: background, text.
STATUS_NEW_COLORS = ("#fde0dd", "#7a0177")
STATUS_SEEN_BEFORE_COLORS = ("#deebf7", "#08306b")
#: Targeted interventions by status (pipeline.evaluation.interventions): outline colour, for the
#: web map, the report and QGIS. Running ones stand out; those still followed up are paler.
INTERVENTION_COLORS = {"pågående": "#006d2c", "uppföljning": "#41ab5d", "avslutad": "#969696"}

#: Forecast (prognos) zones by level rank, the smallest share of the area darkest: map and QGIS.
FORECAST_COLORS = ("#6a3d9a", "#b294c7")


def zone_color(level, levels) -> str:
    """Fill of a zone of ``level`` given the configured ``levels`` (rank colour).

    >>> zone_color(0.5, [0.1, 0.5]), zone_color(0.1, [0.5, 0.1])
    ('#fc4e2a', '#b10026')
    """
    ranked = sorted(float(v) for v in levels)
    for i, v in enumerate(ranked):
        if math.isclose(float(level), v):
            return ZONE_COLORS[min(i, len(ZONE_COLORS) - 1)]
    return LEVEL_FALLBACK_COLOR


def level_color(level: float) -> str:
    """Colour of a standard level (``LEVEL_COLORS``); unknown -> ``LEVEL_FALLBACK_COLOR``.

    >>> level_color(0.1), level_color(7.3)
    ('#b10026', '#e34a33')
    """
    for key, color in LEVEL_COLORS.items():
        if math.isclose(float(level), key):
            return color
    return LEVEL_FALLBACK_COLOR
