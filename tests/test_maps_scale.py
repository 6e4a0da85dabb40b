"""A national week on the map: above ``map.max_points`` drawable events the dots are counts per
analysis cell (doubled until they fit), each cell's count equals the events in it, and the
time-of-day choice still filters them."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest

from pipeline.config import MapConfig
from pipeline.render.maps import render_map
from tests.fixtures_week import build_week_context

N_EVENTS = 4000


@pytest.fixture(scope="module")
def big():
    ctx = build_week_context(n_events=N_EVENTS, seed=14)
    cfg = ctx.cfg.model_copy(update={"map": MapConfig(tiles_url=None, max_points=300)})
    return dataclasses.replace(ctx, cfg=cfg)


def _rows(page: str) -> list:
    return json.loads(re.search(r"lbEvents\([^,]+, (\[.*?\]), \[\"#", page).group(1))


def _cell(page: str) -> float:
    """The cell size the layer's name states (JSON-escaped, a no-break space in thousands)."""
    return float(re.search(r"antal per ruta om (\d+) m", page.replace("\\u00a0", "")).group(1))


def _drawable(ctx) -> pd.DataFrame:
    ev = ctx.layers["events"]
    keep = (ev["duplicate_of"].fillna("") == "") & ~ev["category"].isin(ctx.cfg.sensitive_categories())
    return ev[keep]


def test_counts_per_cell_add_up_per_time_of_day(big):
    page = render_map(big)
    rows = _rows(page)
    drawable = _drawable(big)
    assert len(drawable) > big.cfg.map.max_points  # the case under test
    assert 0 < len(rows) <= big.cfg.map.max_points
    assert all(len(r) == 6 and r[5] >= 1 for r in rows)
    by_tod = pd.DataFrame([{"tod": r[4], "n": r[5]} for r in rows]).groupby("tod")["n"].sum()
    assert by_tod["alla"] == len(drawable)
    expected = drawable["time_of_day"].astype(str).value_counts()
    for tod, n in expected.items():
        assert by_tod[tod] == n, tod
    # the layer names the total and the cell size
    assert _cell(page) >= big.cfg.analysis.cell_size_m, "the layer says the dots are counts per cell"
    assert f'lb-event-count\\"\\u003e{len(drawable)}' in page
    assert "Händelser (en prick per ruta om" in page and "en prick per händelse" not in page  # the legend


def test_each_cell_count_is_the_events_in_that_cell(big):
    page = render_map(big)
    rows = [r for r in _rows(page) if r[4] == "alla"]
    cell = _cell(page)
    drawable = _drawable(big)
    cx = np.floor(drawable.geometry.x.to_numpy() / cell)
    cy = np.floor(drawable.geometry.y.to_numpy() / cell)
    hand = pd.Series(1, index=pd.MultiIndex.from_arrays([cx, cy])).groupby(level=[0, 1]).size()
    assert sorted(r[5] for r in rows) == sorted(hand.tolist())
    # the doubling stopped at the first size that fits: at half of it the dots would not
    if cell > big.cfg.analysis.cell_size_m:
        assert _dots(drawable, cell / 2) > big.cfg.map.max_points
    assert _dots(drawable, cell) == len(_rows(page))


def _dots(events, cell: float) -> int:
    """Dots at ``cell``: one per occupied cell (whole day) plus one per cell and time of day."""
    frame = pd.DataFrame(
        {
            "cx": np.floor(events.geometry.x.to_numpy() / cell),
            "cy": np.floor(events.geometry.y.to_numpy() / cell),
            "tod": events["time_of_day"].astype(str).to_numpy(),
        }
    )
    return len(frame[["cx", "cy"]].drop_duplicates()) + len(frame.drop_duplicates())


def test_a_small_week_keeps_one_dot_per_event(big):
    small = dataclasses.replace(big, cfg=big.cfg.model_copy(update={"map": MapConfig(tiles_url=None)}))
    rows = _rows(render_map(small))
    assert len(rows) == len(_drawable(big)) and all(len(r) == 5 for r in rows)
    assert "antal per ruta" not in render_map(small)
    assert "Händelser (en prick per händelse)" in render_map(small)
