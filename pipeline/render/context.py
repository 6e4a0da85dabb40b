"""What the map and report renderers get: the week's archive read back, plus context."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Config


@dataclass
class WeekContext:
    week: str  # "2026-W47"
    cfg: Config
    layers: dict[str, Any]  # read_archive(): layer name -> (Geo)DataFrame; "density" -> DensitySurface
    run_info: dict[str, Any]
    quality: dict[str, Any]  # per-partner summary (quality.json)
    boundary: Any  # GeoDataFrame, EPSG:3006, one row
    areas: Any  # GeoDataFrame, EPSG:3006, columns name, geometry
    weeks: list[str] = field(default_factory=list)  # every archived week, sorted ascending
    map_path: Path | None = None
    report_path: Path | None = None
