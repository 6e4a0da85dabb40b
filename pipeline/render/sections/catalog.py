"""The report's declared sections (see pipeline/render/sections/__init__.py)."""

from __future__ import annotations

from pipeline.render.sections import ReportSection
from pipeline.render.sections.emerging import SECTION as EMERGING
from pipeline.render.sections.forecast import ACCURACY_SECTION, FORECAST_SECTION
from pipeline.render.sections.interventions import SECTION as INTERVENTIONS
from pipeline.render.sections.trends import SECTION as TRENDS

SECTIONS: tuple[ReportSection, ...] = (EMERGING, TRENDS, INTERVENTIONS, FORECAST_SECTION, ACCURACY_SECTION)
