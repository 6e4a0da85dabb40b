"""Hit rate, PAI and PEI*: against brute-force references, and one real Chicago week by hand."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.evaluation.accuracy import Target, cells_at_level, score_cells, top_k_cells, top_k_scores

REPO = Path(__file__).resolve().parents[1]
REAL_DIRS = [REPO.parent / "shared" / "data" / "real", Path("/work/shared/data/real")]


def real_file(name: str) -> Path:
    for d in REAL_DIRS:
        if (d / name).is_file():
            return d / name
    pytest.skip(f"real data {name} not available")


def brute_force(values_full: np.ndarray, level: float, event_cells: np.ndarray):
    """Reference: sort every cell (value desc, position asc), take k, count events, best k."""
    n = len(values_full)
    k = max(1, int(round(level / 100 * n)))
    order = sorted(range(n), key=lambda c: (-values_full[c], c))[:k]
    chosen = set(order)
    hits = sum(1 for c in event_cells if c in chosen)
    counts = np.bincount(event_cells, minlength=n)
    best = np.sort(counts)[::-1][:k].sum()
    N = len(event_cells)
    return hits, (hits / N) / (k / n), hits / best


@pytest.mark.parametrize("seed", range(6))
def test_top_k_scores_match_brute_force_with_ties_and_absent_cells(seed):
    rng = np.random.default_rng(seed)
    n = 400
    # Coarse values make many ties; many cells are absent (value 0 by definition).
    full = np.zeros(n, dtype=np.float32)
    present = np.sort(rng.choice(n, size=150, replace=False))
    full[present] = rng.integers(0, 4, size=150).astype(np.float32)
    events = rng.integers(0, n, size=60)
    target = Target.from_positions(events)
    for level in (0.5, 1, 5, 20, 60):
        got = top_k_scores(full[present], present, n, [level], target)
        hits, pai, pei = brute_force(full, level, events)
        assert got["hits"][0] == hits, level
        assert got["pai"][0] == pytest.approx(pai)
        assert got["pei"][0] == pytest.approx(pei)
        # the same when every cell is given
        full_got = top_k_scores(full, None, n, [level], target)
        assert full_got["hits"][0] == hits


def test_cells_at_level_and_top_k_cells():
    assert cells_at_level(1000, 5) == 50 and cells_at_level(1000, 0.01) == 1
    with pytest.raises(ValueError):
        cells_at_level(10, 0)
    vals = np.array([3.0, 1.0, 3.0, 0.0, 2.0])
    assert top_k_cells(vals, 5, 60).tolist() == [0, 2, 4]


def test_week_without_events_has_no_score():
    s = top_k_scores(np.ones(10), None, 10, [10], Target.from_positions([]))
    assert np.isnan(s["pai"][0]) and np.isnan(s["pei"][0]) and s["hits"][0] == 0


def test_score_cells_counts_zone_cells_only():
    t = Target.from_positions([0, 0, 5, 9, 9, 9])
    s = score_cells([0, 9], 20, t)
    assert (s["hits"], s["k"], s["n_events"]) == (5, 2, 6)
    assert s["pai"] == pytest.approx((5 / 6) / (2 / 20))
    assert s["pei"] == pytest.approx(5 / 5)  # the best 2 cells hold 3 + 2


# -- one real week, by hand ------------------------------------------------------------------------
def _chicago_weeks(weeks):
    """Chicago aggravated assaults of ``weeks``, in UTM 16N metres (the reader of the bench)."""
    from pyproj import Transformer

    with gzip.open(real_file("chicago_aggravated_assaults.csv.gz"), "rt") as fh:
        df = pd.read_csv(fh)
    t = pd.to_datetime(df["date"])
    iso = t.dt.isocalendar()
    df["iso_week"] = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    df = df[df["iso_week"].isin(weeks)].copy()
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32616", always_xy=True).transform(
        df["longitude"].to_numpy(), df["latitude"].to_numpy()
    )
    df["x"], df["y"] = x, y
    return df


def test_one_weeks_zones_scored_on_the_next_real_chicago_week_against_a_hand_count():
    """Zones = the 5 % of cells with most events in 2019-W10 (a plain count map); scored on
    2019-W11. The hand count uses shapely polygons and point-in-polygon, not cell indices."""
    from pipeline.analysis.grid import Grid

    df = _chicago_weeks(["2019-W10", "2019-W11"])
    this, nxt = df[df["iso_week"] == "2019-W10"], df[df["iso_week"] == "2019-W11"]
    grid = Grid.anchored((df["x"].min(), df["y"].min(), df["x"].max() + 1, df["y"].max() + 1), 1000.0)
    n = grid.nx * grid.ny
    row, col, _ = grid.cell_index(this[["x", "y"]].to_numpy())
    values = np.bincount(row * grid.nx + col, minlength=n).astype(float)
    chosen = top_k_cells(values, n, 5)
    assert len(chosen) == round(0.05 * n)

    # -- by hand: polygons of the chosen cells, points of the next week, counted with shapely
    boxes = [
        shapely.box(
            grid.x0 + (c % grid.nx) * 1000,
            grid.y0 + (c // grid.nx) * 1000,
            grid.x0 + (c % grid.nx + 1) * 1000,
            grid.y0 + (c // grid.nx + 1) * 1000,
        )
        for c in chosen
    ]
    zone = shapely.union_all(boxes)
    x, y = nxt["x"].to_numpy(), nxt["y"].to_numpy()
    assert shapely.distance(zone.boundary, shapely.points(x, y)).min() > 1e-3  # no point on an edge
    inside = shapely.contains_xy(zone, x, y)
    hits_by_hand = int(inside.sum())
    N = len(nxt)
    area_share = zone.area / (n * 1000.0 * 1000.0)
    # the best any same-sized area could do: the busiest cells of the week itself
    cell_of = ((x - grid.x0) // 1000).astype(int) + ((y - grid.y0) // 1000).astype(int) * grid.nx
    best_by_hand = int(pd.Series(cell_of).value_counts().head(len(chosen)).sum())

    r2, c2, _ = grid.cell_index(nxt[["x", "y"]].to_numpy())
    got = score_cells(chosen, n, Target.from_positions(r2 * grid.nx + c2))
    assert got["hits"] == hits_by_hand
    assert (N, hits_by_hand, best_by_hand, len(chosen)) == (288, 80, 169, 66)  # counted once, pinned
    assert got["n_events"] == N
    assert got["hit_rate"] == pytest.approx(hits_by_hand / N)
    assert got["pai"] == pytest.approx((hits_by_hand / N) / area_share)
    assert got["pei"] == pytest.approx(hits_by_hand / best_by_hand)
    # and the top-k scorer on the same values agrees with the fixed-cell scorer
    topk = top_k_scores(values, None, n, [5], Target.from_positions(r2 * grid.nx + c2))
    assert topk["hits"][0] == hits_by_hand


@pytest.mark.parametrize("seed", range(4))
def test_a_threshold_hint_never_changes_the_result(seed):
    rng = np.random.default_rng(seed)
    vals = rng.gamma(0.5, size=3000).astype(np.float32)
    vals[rng.random(3000) < 0.3] = 0
    target = Target.from_positions(rng.integers(0, 3000, size=80))
    exact = top_k_scores(vals, None, 3000, [1, 5], target)
    for hint in (0.0, 1e-6, float(exact["threshold"].min()) * 0.5, float(exact["threshold"].min()), 10.0):
        got = top_k_scores(vals, None, 3000, [1, 5], target, hint=hint)
        np.testing.assert_array_equal(got["hits"], exact["hits"])
        np.testing.assert_array_equal(got["threshold"], exact["threshold"])


def test_study_positions_rank_cells_among_the_mask():
    from pipeline.analysis.grid import Grid
    from pipeline.evaluation.accuracy import study_positions

    grid = Grid(0, 0, 10, 4, 3)
    mask = np.zeros(grid.shape, dtype=bool)
    mask[0, 1] = mask[1, 2] = mask[2, 0] = True  # positions 0, 1, 2 in row-major order
    pts = np.array([[15.0, 5.0], [25.0, 15.0], [5.0, 25.0], [35.0, 25.0], [-5.0, 0.0]])
    assert study_positions(pts, grid, mask).tolist() == [0, 1, 2]
