"""Emerging hot spot analysis against independent references.

- Gi\\*: PySAL esda's ``G_Local(star=True)`` with binary weights built here by a k-d tree (not
  by the module's stencil), on one week and on a whole space-time cube, synthetic and real.
- Mann-Kendall: pymannkendall's ``original_test``.
- FDR: ``scipy.stats.false_discovery_control``.
- Classes: series planted for each of the 17 patterns, and planted point patterns end to end.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats
from scipy.spatial import cKDTree

from pipeline.analysis import emerging as eh
from pipeline.analysis.grid import Grid

esda = pytest.importorskip("esda")
libpysal = pytest.importorskip("libpysal")
mk = pytest.importorskip("pymannkendall")

ROOT = Path(__file__).resolve().parents[1]
REAL_DIRS = (ROOT.parent / "shared" / "data" / "real", Path("/work/shared/data/real"))
CHICAGO = next((d / "chicago_aggravated_assaults.csv.gz" for d in REAL_DIRS
                if (d / "chicago_aggravated_assaults.csv.gz").exists()), None)


# -- references --------------------------------------------------------------------------------------
def esda_space_time_z(counts: np.ndarray, cells: np.ndarray, grid: Grid, distance_m: float) -> np.ndarray:
    """esda Gi* z-scores [T, m] over the space-time cube, weights built from a k-d tree.

    Bin id = t * m + k. Neighbours of (k, t): cells within distance_m in week t and in week t-1
    (the bin itself and its own cell in t-1 included; esda adds the self-weight for star=True).
    """
    n_weeks = counts.shape[0]
    rows, cols = np.nonzero(cells)
    xs, ys = grid.centres()
    pts = np.column_stack([xs[cols], ys[rows]])
    m = len(pts)
    near = cKDTree(pts).query_ball_point(pts, r=distance_m * (1 + 1e-12))
    neighbours = {}
    for t in range(n_weeks):
        for k in range(m):
            same = [t * m + j for j in near[k] if j != k]
            prev = [(t - 1) * m + j for j in near[k]] if t > 0 else []
            neighbours[t * m + k] = same + prev
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # libpysal warns about islands / disconnected components
        w = libpysal.weights.W(neighbours, id_order=list(range(n_weeks * m)), silence_warnings=True)
        y = counts[:, rows, cols].astype(float).ravel()
        g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    return np.asarray(g.Zs).reshape(n_weeks, m)


def synthetic_cube(seed=3, n_weeks=6, ny=9, nx=11):
    """Clustered Poisson counts with a ragged study area (some cells are not bins)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:ny, 0:nx]
    lam = 0.3 + 4 * np.exp(-((xx - 3) ** 2 + (yy - 5) ** 2) / 4)
    counts = rng.poisson(lam[None] * (1 + 0.2 * np.arange(n_weeks))[:, None, None])
    cells = (xx + yy) % 7 != 0
    cells[0, :3] = False
    return counts.astype(np.int64), cells, Grid(500_000.0, 6_400_000.0, 250.0, nx, ny)


# -- Gi* -----------------------------------------------------------------------------------------------
def test_gi_star_one_week_equals_esda():
    counts, cells, grid = synthetic_cube(n_weeks=1)
    ours = eh.gi_star(counts, cells, eh.disc_stencil(500, grid.cell))
    ref = esda_space_time_z(counts, cells, grid, 500)
    assert np.abs(ours - ref).max() < 1e-9


@pytest.mark.parametrize("distance", [250, 500, 600])
def test_gi_star_space_time_cube_equals_esda(distance):
    counts, cells, grid = synthetic_cube(n_weeks=6)
    ours = eh.gi_star(counts, cells, eh.disc_stencil(distance, grid.cell))
    ref = esda_space_time_z(counts, cells, grid, distance)
    assert np.abs(ours - ref).max() < 1e-9


@pytest.mark.skipif(CHICAGO is None, reason="real data folder (shared/data/real) not present")
def test_gi_star_real_chicago_equals_esda():
    """12 weeks of Chicago at 250 m, every cell with data: ~2,000 cells x 12 weeks of bins."""
    pts, weeks = chicago_weeks(n_weeks=12)
    grid = Grid.anchored((pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()), cell=250)
    counts = eh.bin_counts(pts, weeks, 12, grid)
    cells = eh.analysed_cells(grid, counts)
    assert cells.sum() > 1_000
    ours = eh.gi_star(counts, cells, eh.disc_stencil(500, 250))
    ref = esda_space_time_z(counts, cells, grid, 500)
    assert np.abs(ours - ref).max() < 1e-9


def test_neighbourhood_sum_fft_path_is_exact():
    rng = np.random.default_rng(0)
    values = rng.poisson(3, size=(3, 40, 50))
    stencil = eh.disc_stencil(1_000, 100)                  # 317 cells: the FFT path
    assert stencil.sum() > eh.DIRECT_STENCIL_MAX
    r = stencil.shape[0] // 2
    padded = np.pad(values, ((0, 0), (r, r), (r, r)))
    brute = np.zeros_like(values)
    for dy, dx in zip(*np.nonzero(stencil)):
        brute += padded[:, dy:dy + 40, dx:dx + 50]
    assert np.array_equal(eh.neighbourhood_sum(values, stencil), brute)


def test_disc_stencil_includes_the_distance_itself():
    s = eh.disc_stencil(500, 250)
    assert s.shape == (5, 5) and s.sum() == 13 and s[2, 0] and not s[0, 0]


def test_degenerate_cube_gives_zero_z():
    counts = np.zeros((8, 4, 4), dtype=np.int64)
    z = eh.gi_star(counts, np.ones((4, 4), bool), eh.disc_stencil(500, 250))
    assert np.all(z == 0)


def test_fdr_equals_scipy():
    rng = np.random.default_rng(5)
    p = rng.uniform(size=(4, 300)) ** 3
    p[0, :10] = p[0, 0]                                    # ties
    ours = eh.fdr_adjust(p)
    for row, ref_row in zip(ours, p):
        assert np.allclose(row, stats.false_discovery_control(ref_row, method="bh"), rtol=0, atol=1e-15)


# -- Mann-Kendall --------------------------------------------------------------------------------------
def test_mann_kendall_equals_pymannkendall():
    rng = np.random.default_rng(11)
    series = [rng.normal(size=12), np.arange(12.0), np.arange(12.0)[::-1], rng.integers(0, 3, 12).astype(float),
              np.r_[np.zeros(6), np.ones(6)], rng.normal(size=52) + np.linspace(0, 2, 52), np.full(12, 2.5)]
    for x in series:
        z, p, s = eh.mann_kendall(x[None, :])
        with np.errstate(all="ignore"):
            ref = mk.original_test(x)
        ref_z = 0.0 if not np.isfinite(ref.z) else ref.z
        ref_p = 1.0 if not np.isfinite(ref.p) else ref.p
        assert s[0] == ref.s
        assert abs(z[0] - ref_z) < 1e-12 and abs(p[0] - ref_p) < 1e-12


def test_mann_kendall_many_rows_at_once():
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(size=(50, 10)), 1)             # rounding makes ties
    z, p, s = eh.mann_kendall(x)
    for i in range(50):
        ref = mk.original_test(x[i])
        assert s[i] == ref.s and abs(z[i] - ref.z) < 1e-12 and abs(p[i] - ref.p) < 1e-12


# -- the 17 classes from planted series ----------------------------------------------------------------
T = 12
HOT, COLD, OFF = 3.0, -3.0, 0.0


def _series(hot_weeks=(), cold_weeks=(), base=OFF):
    z = np.full(T, base)
    z[list(hot_weeks)] = HOT
    z[list(cold_weeks)] = COLD
    return z


def _alternating(a, b):
    return np.array([a, b] * (T // 2))


PLANTED = {
    # name: (z-series, expected code)
    "new hot": (_series([11]), eh.NEW),
    "consecutive hot": (_series([8, 9, 10, 11]), eh.CONSECUTIVE),
    "intensifying hot": (np.linspace(2.5, 6.0, T), eh.INTENSIFYING),
    "persistent hot": (_alternating(3.0, 3.5), eh.PERSISTENT),
    "diminishing hot": (np.linspace(6.0, 2.5, T), eh.DIMINISHING),
    "sporadic hot": (_series([2, 5, 8, 11]), eh.SPORADIC),
    "oscillating hot": (_series([5, 11], cold_weeks=[2]), eh.OSCILLATING),
    "historical hot": (_series(range(11)), eh.HISTORICAL),
    "new cold": (-_series([11]), -eh.NEW),
    "consecutive cold": (-_series([9, 10, 11]), -eh.CONSECUTIVE),
    "intensifying cold": (-np.linspace(2.5, 6.0, T), -eh.INTENSIFYING),
    "persistent cold": (-_alternating(3.0, 3.5), -eh.PERSISTENT),
    "diminishing cold": (-np.linspace(6.0, 2.5, T), -eh.DIMINISHING),
    "sporadic cold": (-_series([0, 4, 11]), -eh.SPORADIC),
    "oscillating cold": (-_series([3, 11], cold_weeks=[7]), -eh.OSCILLATING),
    "historical cold": (-_series(range(11)), -eh.HISTORICAL),
    "no pattern": (_series(), eh.NO_PATTERN),
    # the edges of the rules
    "consecutive run then quiet": (_series([4, 5, 6, 7]), eh.NO_PATTERN),
    "hot 10 of 12 but not the last": (_series(range(10)), eh.NO_PATTERN),
    "first hot after cold weeks is new": (_series([11], cold_weeks=[1, 2]), eh.NEW),
    "first hot run after cold weeks is consecutive": (_series([10, 11], cold_weeks=[3]), eh.CONSECUTIVE),
    "every week hot, no trend": (np.full(T, 3.0), eh.PERSISTENT),
    "11 of 12 hot incl. last, trend up": (np.r_[0.0, np.linspace(2.5, 6.0, T - 1)], eh.INTENSIFYING),
    "11 of 12 hot, last not hot, trend": (np.r_[np.linspace(2.5, 6.0, T - 1), 0.0], eh.HISTORICAL),
    "two single hot weeks is sporadic": (_series([3, 11]), eh.SPORADIC),
    "run interrupted is sporadic": (_series([7, 8, 10, 11]), eh.SPORADIC),
    "cold last then hot history": (_series(range(10), cold_weeks=[11]), -eh.NEW),
}


def _classify_series(z: np.ndarray) -> int:
    zs = z[:, None]
    sig = np.abs(zs) >= 1.96
    tz, tp, _ = eh.mann_kendall(zs.T)
    return int(eh.classify(sig & (zs > 0), sig & (zs < 0), tz, tp)[0])


@pytest.mark.parametrize("name", list(PLANTED))
def test_planted_series_is_classified_exactly(name):
    z, expected = PLANTED[name]
    assert _classify_series(z) == expected, (name, eh.PATTERN_NAMES[_classify_series(z)])


def test_all_17_classes_are_planted():
    assert {code for _, code in PLANTED.values()} == set(eh.PATTERN_LABELS) and len(eh.PATTERN_LABELS) == 17


def test_classify_vectorised_equals_one_by_one():
    z = np.column_stack([v[0] for v in PLANTED.values()])
    sig = np.abs(z) >= 1.96
    tz, tp, _ = eh.mann_kendall(z.T)
    codes = eh.classify(sig & (z > 0), sig & (z < 0), tz, tp)
    assert codes.tolist() == [v[1] for v in PLANTED.values()]


def test_swedish_labels():
    assert eh.PATTERN_LABELS[eh.NEW] == "ny hot spot"
    assert eh.PATTERN_LABELS[-eh.PERSISTENT] == "ihållande kall fläck"
    assert eh.PATTERN_LABELS[eh.HISTORICAL] == "historisk hot spot"
    assert eh.PATTERN_LABELS[0] == "inget mönster"


# -- planted point patterns, end to end ---------------------------------------------------------------
def planted_points():
    """Background: one event per cell per week on a 40 x 40 grid of 250 m cells, plus planted
    bursts at cells far apart (> 2 x 500 m), and one empty block (a cold spot)."""
    grid = Grid(0.0, 0.0, 250.0, 40, 40)
    xs, ys = grid.centres()
    gx, gy = np.meshgrid(xs, ys)
    empty = (np.abs(gx - 8_625) <= 900) & (np.abs(gy - 8_625) <= 900)
    base = np.column_stack([gx[~empty], gy[~empty]])
    pts, wk = [], []
    for t in range(T):
        pts.append(base)
        wk.append(np.full(len(base), t))

    def plant(cell, weeks, n):
        """``n[i]`` extra events in week ``weeks[i]`` in each of the 3 x 3 cells around ``cell``."""
        for t, k in zip(weeks, n):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    pts.append(np.tile([[xs[cell[1] + dc], ys[cell[0] + dr]]], (k, 1)))
                    wk.append(np.full(k, t))

    plant((5, 5), [11], [10])                                   # new
    plant((5, 20), [9, 10, 11], [10] * 3)                       # consecutive
    plant((5, 34), range(T), [10] * T)                          # persistent
    plant((20, 5), range(T), [4 + 2 * t for t in range(T)])     # intensifying
    plant((20, 20), range(T), [26 - 2 * t for t in range(T)])   # diminishing
    plant((34, 5), range(10), [10] * 10)                        # historical (week 10 hot by the time lag)
    plant((34, 20), [1, 5, 8, 11], [10] * 4)                    # sporadic
    return np.vstack(pts), np.concatenate(wk), grid


def test_planted_points_end_to_end():
    pts, wk, grid = planted_points()
    res = eh.emerging_hot_spots(pts, wk, T, grid, distance_m=500, study_area=shapely.box(*grid.bounds))
    where = {(r, c): k for k, (r, c) in enumerate(zip(res.rows, res.cols))}
    expected = {(5, 5): eh.NEW, (5, 20): eh.CONSECUTIVE, (5, 34): eh.PERSISTENT, (20, 5): eh.INTENSIFYING,
                (20, 20): eh.DIMINISHING, (34, 5): eh.HISTORICAL, (34, 20): eh.SPORADIC, (34, 34): eh.PERSISTENT * -1}
    got = {cell: int(res.pattern[where[cell]]) for cell in expected}
    assert got == expected, {c: eh.PATTERN_NAMES[v] for c, v in got.items()}
    # nothing lost: every event inside the grid and the weeks is in some cell's count
    assert res.n_events.sum() == len(pts)


def test_too_few_weeks_is_a_clear_error():
    with pytest.raises(eh.TooFewWeeks, match="at least 8 weeks"):
        eh.emerging_hot_spots(np.zeros((1, 2)), [0], 7, Grid(0, 0, 250, 2, 2), 500)


def test_study_area_cells_and_cells_with_data():
    grid = Grid(0.0, 0.0, 250.0, 10, 10)
    counts = np.zeros((8, 10, 10), dtype=np.int64)
    counts[3, 9, 9] = 2                                     # an event outside the area
    cells = eh.analysed_cells(grid, counts, shapely.box(0, 0, 1_000, 1_000))
    assert cells.sum() == 16 + 1 and cells[9, 9]
    assert eh.analysed_cells(grid, counts).sum() == 1


# -- real data -----------------------------------------------------------------------------------------
def chicago_weeks(n_weeks: int, last_week: str = "2019-W26"):
    """Chicago events of the ``n_weeks`` ISO weeks up to ``last_week``: (points in UTM 16N, week index)."""
    from pyproj import Transformer

    df = pd.read_csv(CHICAGO, usecols=["date", "longitude", "latitude"]).dropna()
    when = pd.to_datetime(df["date"], errors="coerce", format="mixed")
    iso = when.dt.isocalendar()
    week = iso["year"].astype(int).astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    from pipeline.analysis.weeks import rolling_window

    weeks = rolling_window(last_week, n_weeks)
    index = week.map({w: i for i, w in enumerate(weeks)})
    keep = index.notna().to_numpy()
    x, y = Transformer.from_crs(4326, 32616, always_xy=True).transform(
        df["longitude"].to_numpy()[keep], df["latitude"].to_numpy()[keep])
    return np.column_stack([x, y]), index.to_numpy()[keep].astype(int)


@pytest.mark.skipif(CHICAGO is None, reason="real data folder (shared/data/real) not present")
def test_real_chicago_52_weeks_is_consistent():
    pts, wk = chicago_weeks(52)
    grid = Grid.anchored((pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()), cell=250)
    res = eh.emerging_hot_spots(pts, wk, 52, grid, distance_m=500)
    assert res.n_events.sum() == len(pts)
    assert set(np.unique(res.pattern)) <= set(eh.PATTERN_LABELS)
    # Hot bins and classes agree: a persistent/intensifying/diminishing hot spot is hot in the
    # final week and in >= 90 % of the weeks; a new one only in the final week.
    mostly = res.hot_weeks >= 0.9 * 52
    for code in (eh.PERSISTENT, eh.INTENSIFYING, eh.DIMINISHING):
        sel = res.pattern == code
        assert np.all(res.hot[-1, sel]) and np.all(mostly[sel])
    assert np.all(res.hot_weeks[res.pattern == eh.NEW] == 1)
    assert (res.pattern > 0).sum() > 50                    # assaults cluster: hot classes exist
