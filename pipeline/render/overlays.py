"""Declared map overlays: one entry per layer a product adds to the week's map.

Each :class:`MapOverlay` becomes an off-switchable layer in karta.html. ``build(ctx)`` returns
GeoJSON features made with ``pipeline.render.maps.feature`` (geometries reprojected with
``pipeline.render.maps.to_web``), or None to leave the overlay out that week. A product that
adds a map layer adds one entry to ``OVERLAYS``; render/maps.py never changes for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pipeline.render.sections import emerging, interventions
from pipeline.render.sections import forecast as forecast_maps


@dataclass(frozen=True)
class MapOverlay:
    key: str  # CSS/JS-safe identifier
    label: str  # Swedish name in the layer control
    build: Callable[[object], list[dict] | None]
    pane: str = "lbZoner"  # lbOmraden < lbZoner < lbKluster (z-order)
    show: bool = False  # on when the map opens
    legend: Callable[[object], list[tuple[str, str]]] | None = None  # [(colour, Swedish label)]


#: The overlays, in layer-control order.
OVERLAYS: tuple[MapOverlay, ...] = (
    MapOverlay("framvaxande", "Framväxande hot spots", build=emerging.map_features, legend=emerging.map_legend),
    MapOverlay(
        "insatser",
        "Riktade insatser",
        build=interventions.map_features,
        pane="lbOmraden",
        show=True,
        legend=interventions.map_legend,
    ),
    MapOverlay("prognos", "Prognos nästa vecka", build=forecast_maps.map_features, legend=forecast_maps.map_legend),
)
