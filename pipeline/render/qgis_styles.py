"""Default QGIS styles (QML) for the archive's vector layers, stored in its ``layer_styles`` table.

QML is generated rather than kept as static files because the event colours come from the
config's ``groups`` and the hotspot classes from ``analysis.levels``. The XML follows what
QGIS 3.22 writes (``<prop k v>`` symbol properties, still read by newer versions).

``STYLES`` maps an archive layer name to ``(title, function(cfg) -> QML)``; the archive writes
the style of every layer it writes that has one. A new spatial layer adds its entry here.

>>> 'type="RuleRenderer"' in hotspots_qml([0.1, 0.5])
True
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from pipeline.analysis.emerging import PATTERN_LABELS
from pipeline.analysis.zones import DENSITY_BREAKS
from pipeline.render import palette
from pipeline.render.palette import CLUSTER_COLOR, EMERGING_COLORS, INTERVENTION_COLORS, zone_color
from pipeline.schema import ALL_DAY, ROLLING_PERIOD, WEEK_PERIOD

#: Swedish field aliases shown in QGIS attribute tables and forms.
ALIASES = {
    "event_id": "Händelse-id",
    "source": "Partner",
    "category": "Kategori",
    "category_label": "Kategori (text)",
    "category_group": "Kategorigrupp",
    "occurred_at": "Tidpunkt",
    "iso_week": "Vecka",
    "weekday": "Veckodag",
    "hour": "Timme",
    "time_of_day": "Tid på dygnet",
    "area": "Område",
    "geocode_method": "Lägesbestämning",
    "duplicate_of": "Dubblett av",
    "period": "Period",
    "level": "Nivå (% av ytan)",
    "zone_id": "Zon",
    "n_events": "Antal händelser",
    "share_events": "Andel av händelserna (0–1)",
    "area_km2": "Yta (km²)",
    "share_area": "Andel av ytan (0–1)",
    "pai": "PAI (träffsäkerhet)",
    "density_min": "Lägsta täthet (händelser/km²)",
    "cluster_id": "Kluster-id",
    "top_categories": "Vanligaste kategorier",
    "categories": "Kategorier",
    "partners": "Partner",
    "first_at": "Första händelse",
    "last_at": "Senaste händelse",
    "peak_weekday": "Vanligaste veckodag (nr)",
    "peak_weekday_name": "Vanligaste veckodag",
    "peak_hour": "Vanligaste timme",
    "status": "Status",
    "place_name": "Plats",
    "cell_id": "Ruta",
    "pattern": "Mönster",
    "pattern_code": "Mönsterkod (ArcGIS)",
    "hot_weeks": "Veckor som hot spot",
    "cold_weeks": "Veckor som kall fläck",
    "trend_z": "Trend (Mann-Kendall z)",
    "trend_p": "Trend (p-värde)",
    "final_z": "Gi* z senaste veckan",
}

_HEADER = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def events_qml(cfg) -> str:
    """Points categorised by ``category_group`` in the configured group colours."""
    cats, syms = [], []
    for i, (key, group) in enumerate(cfg.groups.items()):
        cats.append(_category(key, group.label, i))
        syms.append(
            _symbol(
                "marker",
                str(i),
                "SimpleMarker",
                {
                    "name": "circle",
                    "color": _rgba(group.color),
                    "outline_color": "255,255,255,255",
                    "outline_width": "0.3",
                    "size": "2.6",
                },
            )
        )
    renderer = _categorized("category_group", cats, syms)
    return _document(renderer, fields=ALIASES, extra=temporal_xml("occurred_at"))


def hotspots_qml(levels, times=()) -> str:
    """Zones by slice (period × time of day) and ``level`` in the palette's fixed fills.

    The layer stacks every slice's zones on top of each other, so a rule-based style shows only
    this week's whole-day zones when opened; the other slices are rules switched off in the
    layer panel, one tick away (``times``: the config's time-of-day keys and labels).
    """
    ordered = sorted(float(v) for v in levels)
    symbols, rules = [], []
    slices = [(WEEK_PERIOD, ALL_DAY, "Denna vecka, hela dygnet")]
    slices += [(WEEK_PERIOD, key, f"Denna vecka, {label.lower()}") for key, label in times]
    slices += [(ROLLING_PERIOD, ALL_DAY, "Rullande fönster, hela dygnet")]
    for i, (period, tod, title) in enumerate(slices):
        children = []
        for level in ordered:
            n = len(symbols)
            color = zone_color(level, ordered)
            symbols.append(
                _symbol(
                    "fill",
                    str(n),
                    "SimpleFill",
                    {
                        "color": _rgba(color, 60 if period == ROLLING_PERIOD else 140),
                        "outline_color": _rgba(color),
                        "outline_width": "0.4",
                        "style": "solid",
                        "outline_style": "dash" if period == ROLLING_PERIOD else "solid",
                    },
                )
            )
            label = f"Tätaste {str(level).replace('.', ',')} % av ytan"
            level_filter = quoteattr(f'abs("level" - {level!r}) < 1e-9')
            children.append(f'<rule key="r{i}-{n}" symbol="{n}" label={quoteattr(label)} filter={level_filter}/>')
        flt = f""""period" = '{period}' AND "time_of_day" = '{tod}'"""
        rules.append(
            f'<rule key="r{i}" label={quoteattr(title)} filter={quoteattr(flt)} '
            f'checkstate="{1 if i == 0 else 0}">{"".join(children)}</rule>'
        )
    renderer = (
        f'<renderer-v2 type="RuleRenderer" symbollevels="0" forceraster="0" enableorderby="0">'
        f'<rules key="root">{"".join(rules)}</rules><symbols>{"".join(symbols)}</symbols></renderer-v2>'
    )
    return _document(renderer, fields=ALIASES)


def density_qml() -> str:
    """Density rasters on the fixed legend classes (pipeline.analysis.zones.DENSITY_BREAKS),
    light to dark, the lowest class and nodata transparent: never a black rectangle."""
    lowest = quoteattr(f"under {_sv(DENSITY_BREAKS[0])}")
    items = [f'<item alpha="0" value="{DENSITY_BREAKS[0]!r}" label={lowest} color="#ffffff"/>']
    for lo, hi, color in zip(DENSITY_BREAKS, [*DENSITY_BREAKS[1:], None], palette.DENSITY_COLORS):
        label = f"{_sv(lo)}–{_sv(hi)}" if hi is not None else f"{_sv(lo)} och mer"
        value = "inf" if hi is None else repr(float(hi))
        items.append(f'<item alpha="255" value="{value}" label={quoteattr(label + " händelser/km²")} color="{color}"/>')
    top = DENSITY_BREAKS[-1]
    return (
        f'{_HEADER}<qgis version="3.22.0" styleCategories="AllStyleCategories">\n<pipe>'
        f'<rasterrenderer type="singlebandpseudocolor" band="1" opacity="0.75" alphaBand="-1" '
        f'classificationMin="0" classificationMax="{top!r}" nodataColor="">'
        f"<rasterTransparency/><minMaxOrigin><limits>None</limits><extent>WholeRaster</extent>"
        f"<statAccuracy>Estimated</statAccuracy></minMaxOrigin>"
        f'<rastershader><colorrampshader colorRampType="DISCRETE" classificationMode="3" clip="0" '
        f'minimumValue="0" maximumValue="{top!r}">{"".join(items)}</colorrampshader></rastershader>'
        f'</rasterrenderer><brightnesscontrast brightness="0" contrast="0" gamma="1"/>'
        f'<huesaturation saturation="0" grayscaleMode="0" colorizeOn="0"/><rasterresampler maxOversampling="2"/>'
        f"</pipe>\n<blendMode>0</blendMode>\n</qgis>\n"
    )


def _sv(value: float) -> str:
    return f"{float(value):g}".replace(".", ",")


def clusters_qml() -> str:
    """Outlined cluster polygons (no fill) labelled with their number of events."""
    sym = _symbol(
        "fill",
        "0",
        "SimpleFill",
        {
            "color": "0,0,0,0",
            "style": "no",
            "outline_color": _rgba(CLUSTER_COLOR),
            "outline_width": "0.6",
            "outline_style": "dash",
        },
    )
    renderer = (
        f'<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
        f"<symbols>{sym}</symbols></renderer-v2>"
    )
    return _document(renderer, fields=ALIASES, labeling=_labeling("n_events"), labels_enabled=True)


def _pattern_order(item) -> tuple[int, int]:
    """Hot classes 1..8, then cold -1..-8, then no pattern (the legend's order)."""
    code = item[0]
    return (0 if code > 0 else 1 if code < 0 else 2, abs(code))


def emerging_qml() -> str:
    """Emerging hot spot cells categorised by ArcGIS's pattern code, in the palette's colours."""
    cats, syms = [], []
    for i, (code, label) in enumerate(sorted(PATTERN_LABELS.items(), key=_pattern_order)):
        fill, edge = EMERGING_COLORS[code]
        cats.append(_category(str(code), label, i))
        syms.append(
            _symbol(
                "fill",
                str(i),
                "SimpleFill",
                {
                    "color": _rgba(fill, 0 if code == 0 else 200),
                    "outline_color": _rgba(edge),
                    "outline_width": "0.6" if code in (1, 2, -1, -2) else "0.26",
                    "style": "solid",
                    "outline_style": "solid",
                },
            )
        )
    return _document(_categorized("pattern_code", cats, syms), fields=ALIASES)


#: Swedish aliases of the ``interventions`` layer's fields.
INTERVENTION_ALIASES = {
    "intervention_id": "Insats-id",
    "name": "Insats",
    "type": "Typ",
    "responsible": "Ansvarig",
    "start": "Start",
    "end": "Slut",
    "status": "Status",
    "target_kind": "Typ av mål",
    "target": "Mål",
    "radius_m": "Radie (m)",
    "problem": "Problem (nycklar)",
    "problem_label": "Problem",
    "ring_m": "Närområdets bredd (m)",
    "comparison": "Jämförelseområde",
    "start_week": "Startvecka",
    "end_week": "Slutvecka",
    "weeks_before": "Veckor före",
    "weeks_under": "Veckor under",
    "weeks_after": "Veckor efter",
    "t_before": "Målområde före",
    "t_under": "Målområde under",
    "t_after": "Målområde efter",
    "d_before": "Närområde före",
    "d_under": "Närområde under",
    "d_after": "Närområde efter",
    "c_before": "Jämförelse före",
    "c_under": "Jämförelse under",
    "c_after": "Jämförelse efter",
    "ratio": "Kvot mot jämförelse (under/före)",
    "ratio_low": "Kvot, 95 % lägre",
    "ratio_high": "Kvot, 95 % övre",
    "wdd": "WDD (händelser/vecka)",
    "wdd_z": "WDD z",
    "wdq": "WDQ",
    "verdict": "Bedömning",
    "ring_note": "Närområdet",
}


def interventions_qml() -> str:
    """Intervention targets outlined by status (faint fill), labelled with the intervention's name."""
    cats, syms = [], []
    for i, (status, color) in enumerate(INTERVENTION_COLORS.items()):
        cats.append(_category(status, status.capitalize(), i))
        syms.append(
            _symbol(
                "fill",
                str(i),
                "SimpleFill",
                {
                    "color": _rgba(color, 30),
                    "style": "solid",
                    "outline_color": _rgba(color),
                    "outline_width": "0.8" if i == 0 else "0.5",
                    "outline_style": "solid" if i == 0 else "dash",
                },
            )
        )
    return _document(
        _categorized("status", cats, syms),
        fields={**ALIASES, **INTERVENTION_ALIASES},
        labeling=_labeling("name"),
        labels_enabled=True,
    )


def prognos_zones_qml(levels) -> str:
    """Forecast zones categorised by ``level``: the smallest share of the area darkest, hatched."""
    cats, syms = [], []
    for i, level in enumerate(sorted(float(v) for v in levels)):
        color = palette.FORECAST_COLORS[min(i, len(palette.FORECAST_COLORS) - 1)]
        cats.append(_category(repr(level), f"Prognos nästa vecka, tätaste {str(level).replace('.', ',')} % av ytan", i))
        syms.append(
            _symbol(
                "fill",
                str(i),
                "SimpleFill",
                {
                    "color": _rgba(color, 90),
                    "outline_color": _rgba(color),
                    "outline_width": "0.6" if i == 0 else "0.3",
                    "style": "solid",
                    "outline_style": "solid" if i == 0 else "dash",
                },
            )
        )
    return _document(
        _categorized("level", cats, syms),
        fields={**ALIASES, **FORECAST_ALIASES},
        labeling=_labeling("place_name"),
        labels_enabled=True,
    )


#: Swedish aliases of the forecast zones' own fields.
FORECAST_ALIASES = {
    "n_cells": "Rutor",
    "n_expected": "Förväntade händelser nästa vecka",
    "share_expected": "Andel av förväntade",
    "busiest_time_of_day": "Mest händelser (tid på dygnet)",
    "busiest_share": "Andel då",
    "n_events_week": "Händelser denna vecka",
}


#: Archive layer -> (title shown in QGIS, QML builder taking the config). Add new layers here.
STYLES = {
    "events": ("Händelser per kategorigrupp", events_qml),
    "hotspots": (
        "Hotspot-zoner per period, tid på dygnet och nivå",
        lambda cfg: hotspots_qml(cfg.analysis.levels, [(k, b.label) for k, b in cfg.time_of_day.items()]),
    ),
    "density": ("Täthet denna vecka (händelser/km²)", lambda cfg: density_qml()),
    "density_rolling": ("Täthet rullande fönster (händelser/km²)", lambda cfg: density_qml()),
    "clusters": ("Kluster med antal händelser", lambda cfg: clusters_qml()),
    "emerging": ("Framväxande hot spots (ArcGIS-klasser)", lambda cfg: emerging_qml()),
    "interventions": ("Riktade insatser per status", lambda cfg: interventions_qml()),
    "prognos_zones": ("Prognos nästa vecka per nivå", lambda cfg: prognos_zones_qml(cfg.forecast.levels)),
}


# -- XML pieces --------------------------------------------------------------------------------


def _document(renderer: str, *, fields: dict, labeling: str = "", labels_enabled: bool = False, extra: str = "") -> str:
    aliases = "".join(
        f'<alias field={quoteattr(f)} index="{i}" name={quoteattr(a)}/>' for i, (f, a) in enumerate(fields.items())
    )
    return (
        f'{_HEADER}<qgis version="3.22.0" styleCategories="AllStyleCategories" '
        f'labelsEnabled="{int(labels_enabled)}">\n{extra}{renderer}\n{labeling}\n'
        f"<aliases>{aliases}</aliases>\n<layerOpacity>1</layerOpacity>\n</qgis>\n"
    )


def temporal_xml(start_field: str, minutes: int = 60) -> str:
    """Temporal properties for QGIS's Temporal Controller: each feature lasts ``minutes`` from
    its timestamp. The archive keeps timestamps as ISO 8601 text with the UTC offset (local
    time stays exact in every reader), so QGIS parses them with ``to_datetime``."""
    start = f'to_datetime("{start_field}")'
    end = f"{start} + make_interval(minutes:={minutes})"
    return (
        f'<temporal enabled="1" mode="4" startExpression={quoteattr(start)} endExpression={quoteattr(end)} '
        f'accumulate="0" durationUnit="min" fixedDuration="{minutes}" limitMode="0" '
        f'startField="" endField="" durationField="">'
        f"<fixedRange><start></start><end></end></fixedRange></temporal>\n"
    )


def _categorized(attr: str, categories: list[str], symbols: list[str]) -> str:
    return (
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" '
        f'forceraster="0" enableorderby="0"><categories>{"".join(categories)}</categories>'
        f"<symbols>{''.join(symbols)}</symbols></renderer-v2>"
    )


def _category(value: str, label: str, symbol: int) -> str:
    return f'<category value={quoteattr(value)} label={quoteattr(label)} symbol="{symbol}" render="true"/>'


def _symbol(kind: str, name: str, cls: str, props: dict) -> str:
    body = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return (
        f'<symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{cls}" enabled="1" locked="0" pass="0">{body}</layer></symbol>'
    )


def _labeling(field: str) -> str:
    return (
        f'<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(field)} isExpression="0" fontSize="10" fontWeight="75" '
        f'textColor="20,20,20,255" textOpacity="1" fontSizeUnit="Point">'
        f'<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferColor="255,255,255,255" '
        f'bufferOpacity="1"/></text-style>'
        f'<placement placement="0" centroidWhole="0" centroidInside="1"/>'
        f'<rendering drawLabels="1" obstacle="1"/></settings></labeling>'
    )


def _rgba(hex_color: str, alpha: int = 255) -> str:
    """'#8c510a' -> '140,81,10,255' (QGIS colour notation)."""
    h = hex_color.lstrip("#")
    return ",".join(str(int(h[i : i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"
