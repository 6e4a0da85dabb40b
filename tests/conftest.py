"""Shared fixtures: a copy of the project (config + demo exports) in a temp folder, and one
full weekly run over it that the end-to-end, archive, QGIS and browser tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "real"
DEMO_WEEK = "2026-W47"
#: A fixed "now" so date-window checks do not depend on when the tests run.
NOW = pd.Timestamp("2026-11-25 12:00", tz="Europe/Stockholm")


def copy_project(dest: Path) -> Path:
    """Copy config.yaml, the demo exports and the reference data; return the config path."""
    shutil.copy(ROOT / "config.yaml", dest / "config.yaml")
    for sub in ("data/raw", "data/reference"):
        src = ROOT / sub
        for path in sorted(src.rglob("*")):
            if path.is_file() and ("demo" in path.name or sub == "data/reference"):
                target = dest / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
    return dest / "config.yaml"


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh project copy per test; returns its config path."""
    return copy_project(tmp_path)


@pytest.fixture(scope="session")
def weekly_run(tmp_path_factory):
    """One `lagesbild weekly` over the demo data for 2026-W47 (shared, read-only)."""
    from pipeline.config import load_config
    from pipeline.runner import run_weekly

    base = tmp_path_factory.mktemp("weekly")
    cfg = load_config(copy_project(base))
    lines: list[str] = []
    result = run_weekly(cfg, week=DEMO_WEEK, now=NOW, echo=lines.append)
    return {"cfg": cfg, "result": result, "output": "\n".join(lines), "base": base}
