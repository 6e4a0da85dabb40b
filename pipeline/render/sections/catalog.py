"""The report's declared sections (see pipeline/render/sections/__init__.py)."""

from __future__ import annotations

from pipeline.render.sections import ReportSection
from pipeline.render.sections.emerging import SECTION as EMERGING

SECTIONS: tuple[ReportSection, ...] = (EMERGING,)
