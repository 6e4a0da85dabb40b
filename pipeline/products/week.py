"""The week analysis as a product: hotspot zones, clusters, densities and the week's tables."""

from __future__ import annotations

from pipeline.analysis.weekly import WeekAnalysis, analyse_week
from pipeline.products import ProductInput, ProductOutput


def week_output(analysis: WeekAnalysis, cfg) -> ProductOutput:
    """A WeekAnalysis as a product output: its archive layers and run_info entries."""
    return ProductOutput(analysis.layers(cfg), analysis.info(cfg))


def build_week(inp: ProductInput) -> ProductOutput:
    ref = inp.reference
    analysis = analyse_week(
        inp.events, inp.cfg, inp.week, ref.boundary, ref.areas, gazetteer=ref.gazetteer, memo=inp.memo
    )
    return week_output(analysis, inp.cfg)
