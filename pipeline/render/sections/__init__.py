"""Declared report sections: one entry per part of lagesbild.html that a product adds.

A :class:`ReportSection` has a Swedish ``title``, a partial template
(``pipeline/render/templates/sections/<key>.html.j2``) and ``build(ctx) -> dict | None``, the
values the partial shows (None leaves the section out that week). The partial also gets
``fmt`` (pipeline.render.format) and ``title``. Sections are placed by ``order`` (lower first;
the week's own tables use 100–199); a product adds one module here and one entry in
``catalog.SECTIONS``; render/report.py never changes for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from markupsafe import Markup

from pipeline.render import format as fmt
from pipeline.render import web_assets as wa


@dataclass(frozen=True)
class ReportSection:
    key: str
    title: str
    template: str
    build: Callable[[object], dict | None]
    order: int = 500


def render_sections(ctx, sections) -> list[dict]:
    """Each section that has something to show this week: key, title, order and its HTML."""
    out = []
    for section in sorted(sections, key=lambda s: s.order):
        values = section.build(ctx)
        if values is None:
            continue
        html = wa.render_template(f"sections/{section.template}", fmt=fmt, title=section.title, **values)
        out.append({"key": section.key, "title": section.title, "order": section.order, "html": Markup(html)})
    return out
