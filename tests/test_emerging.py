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
CHICAGO = next(
    (
        d / "chicago_aggravated_assaults.csv.gz"
        for d in REAL_DIRS
        if (d / "chicago_aggravated_assaults.csv.gz").exists()
    ),
    None,
)


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
        warnings.simplefilter("ignore")  # libpysal warns about islands / disconnected components
        w = libpysal.weights.W(neighbours, id_order=list(range(n_weeks * m)), silence_warnings=True)
        y = counts[:, rows, cols].astype(float).ravel()
        g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    return np.asarray(g.Zs).reshape(n_weeks, m)


def esda_space_time_z_sparse(counts: np.ndarray, cells: np.ndarray, grid: Grid, distance_m: float) -> np.ndarray:
    """As :func:`esda_space_time_z`, the weights as a sparse matrix (k-d tree pairs, Kronecker
    products for the weeks, the diagonal set) and a libpysal Graph: fast enough for real data."""
    import scipy.sparse as sp
    from libpysal.graph import Graph

    n_weeks = counts.shape[0]
    rows, cols = np.nonzero(cells)
    xs, ys = grid.centres()
    pts = np.column_stack([xs[cols], ys[rows]])
    m = len(pts)
    pairs = cKDTree(pts).query_pairs(distance_m * (1 + 1e-12), output_type="ndarray")
    i = np.r_[pairs[:, 0], pairs[:, 1], np.arange(m)]
    j = np.r_[pairs[:, 1], pairs[:, 0], np.arange(m)]
    space = sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(m, m))
    w = (sp.kron(sp.eye(n_weeks), space) + sp.kron(sp.eye(n_weeks, k=-1), space)).tocsr()
    y = counts[:, rows, cols].astype(float).ravel()
    g = esda.G_Local(y, Graph.from_sparse(w), transform="B", star=True, permutations=0)
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
    ref = esda_space_time_z_sparse(counts, cells, grid, 500)
    assert np.abs(ours - ref).max() < 1e-9


def test_the_two_esda_references_agree():
    counts, cells, grid = synthetic_cube(n_weeks=5)
    a = esda_space_time_z(counts, cells, grid, 500)
    assert np.abs(a - esda_space_time_z_sparse(counts, cells, grid, 500)).max() < 1e-12


def test_neighbourhood_sum_fft_path_is_exact():
    rng = np.random.default_rng(0)
    values = rng.poisson(3, size=(3, 40, 50))
    stencil = eh.disc_stencil(1_000, 100)  # 317 cells: the FFT path
    assert stencil.sum() > eh.DIRECT_STENCIL_MAX
    r = stencil.shape[0] // 2
    padded = np.pad(values, ((0, 0), (r, r), (r, r)))
    brute = np.zeros_like(values)
    for dy, dx in zip(*np.nonzero(stencil)):
        brute += padded[:, dy : dy + 40, dx : dx + 50]
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
    p[0, :10] = p[0, 0]  # ties
    ours = eh.fdr_adjust(p)
    for row, ref_row in zip(ours, p):
        assert np.allclose(row, stats.false_discovery_control(ref_row, method="bh"), rtol=0, atol=1e-15)


# -- Mann-Kendall --------------------------------------------------------------------------------------
def test_mann_kendall_equals_pymannkendall():
    rng = np.random.default_rng(11)
    series = [
        rng.normal(size=12),
        np.arange(12.0),
        np.arange(12.0)[::-1],
        rng.integers(0, 3, 12).astype(float),
        np.r_[np.zeros(6), np.ones(6)],
        rng.normal(size=52) + np.linspace(0, 2, 52),
        np.full(12, 2.5),
    ]
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
    x = np.round(rng.normal(size=(50, 10)), 1)  # rounding makes ties
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
    bursts at cells far apart (> 2 x 500 m), and a block with one event per cell in week 0 and
    none after (a cold spot: cells with data, far fewer than elsewhere)."""
    grid = Grid(0.0, 0.0, 250.0, 40, 40)
    xs, ys = grid.centres()
    gx, gy = np.meshgrid(xs, ys)
    empty = (np.abs(gx - 8_625) <= 900) & (np.abs(gy - 8_625) <= 900)
    base = np.column_stack([gx[~empty], gy[~empty]])
    pts, wk = [], []
    for t in range(T):
        pts.append(base)
        wk.append(np.full(len(base), t))
    pts.append(np.column_stack([gx[empty], gy[empty]]))
    wk.append(np.zeros(int(empty.sum()), dtype=int))

    def plant(cell, weeks, n):
        """``n[i]`` extra events in week ``weeks[i]`` in each of the 3 x 3 cells around ``cell``."""
        for t, k in zip(weeks, n):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    pts.append(np.tile([[xs[cell[1] + dc], ys[cell[0] + dr]]], (k, 1)))
                    wk.append(np.full(k, t))

    plant((5, 5), [11], [10])  # new
    plant((5, 20), [9, 10, 11], [10] * 3)  # consecutive
    plant((5, 34), range(T), [10] * T)  # persistent
    plant((20, 5), range(T), [4 + 2 * t for t in range(T)])  # intensifying
    plant((20, 20), range(T), [26 - 2 * t for t in range(T)])  # diminishing
    plant((34, 5), range(10), [10] * 10)  # historical (week 10 hot by the time lag)
    plant((34, 20), [1, 5, 8, 11], [10] * 4)  # sporadic
    return np.vstack(pts), np.concatenate(wk), grid


def test_planted_points_end_to_end():
    pts, wk, grid = planted_points()
    res = eh.emerging_hot_spots(pts, wk, T, grid, distance_m=500)
    where = {(r, c): k for k, (r, c) in enumerate(zip(res.rows, res.cols))}
    expected = {
        (5, 5): eh.NEW,
        (5, 20): eh.CONSECUTIVE,
        (5, 34): eh.PERSISTENT,
        (20, 5): eh.INTENSIFYING,
        (20, 20): eh.DIMINISHING,
        (34, 5): eh.HISTORICAL,
        (34, 20): eh.SPORADIC,
        # the block's own week-0 events (and their time lag) keep weeks 0-1 from being cold:
        # cold in weeks 2-11 only, 10 of 12 (< 90 %), one final run
        (34, 34): -eh.CONSECUTIVE,
    }
    got = {cell: int(res.pattern[where[cell]]) for cell in expected}
    assert got == expected, {c: eh.PATTERN_NAMES[v] for c, v in got.items()}
    # nothing lost: every event inside the grid and the weeks is in some cell's count
    assert res.n_events.sum() == len(pts)


def test_too_few_weeks_is_a_clear_error():
    with pytest.raises(eh.TooFewWeeks, match="at least 8 weeks"):
        eh.emerging_hot_spots(np.zeros((1, 2)), [0], 7, Grid(0, 0, 250, 2, 2), 500)


def test_analysed_cells_are_cells_with_data_touching_the_study_area():
    grid = Grid(0.0, 0.0, 250.0, 10, 10)
    counts = np.zeros((8, 10, 10), dtype=np.int64)
    counts[3, 9, 9] = 2  # outside the area
    counts[0, 4, 4] = 1  # centre outside, but the cell touches it
    counts[7, 1, 1] = 1  # inside
    cells = eh.analysed_cells(grid, counts, shapely.box(0, 0, 1_010, 1_010))
    assert np.argwhere(cells).tolist() == [[1, 1], [4, 4]]
    assert eh.analysed_cells(grid, counts).sum() == 3


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
        df["longitude"].to_numpy()[keep], df["latitude"].to_numpy()[keep]
    )
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
    assert (res.pattern > 0).sum() > 50  # assaults cluster: hot classes exist


# -- the product, report section, map overlay and archive ----------------------------------------------
PRODUCT_WEEK = "2026-W47"
RESECENTRUM = (507810.0, 6465090.0)  # a named place in the demo gazetteer


def _product_inputs(extra=(), burst=True):
    """12 weeks of canonical events (the columns the product reads) in Mjölby: one event per
    250 m cell per week on a 3 x 3 km patch, and (``burst``) 10 events in each of the 3 x 3 cells
    around Resecentrum in the final week. ``extra``: (x, y, week, sensitive, duplicate_of) rows."""
    from types import SimpleNamespace

    import geopandas as gpd

    from pipeline.analysis.weeks import rolling_window
    from pipeline.sources.geocode import Gazetteer
    from tests.test_weekly import config

    cfg = config()
    weeks = rolling_window(PRODUCT_WEEK, cfg.emerging.weeks)
    gx, gy = np.meshgrid(np.arange(506_125.0, 509_000.0, 250.0), np.arange(6_464_125.0, 6_467_000.0, 250.0))
    rows = [(x, y, w, False, "") for w in weeks for x, y in zip(gx.ravel(), gy.ravel())]
    if burst:
        cx, cy = (np.floor(np.array(RESECENTRUM) / 250) * 250 + 125).tolist()
        rows += [
            (cx + dx, cy + dy, weeks[-1], False, "")
            for dx in (-250, 0, 250)
            for dy in (-250, 0, 250)
            for _ in range(10)
        ]
    rows += list(extra)
    x, y, week, sensitive, dup = zip(*rows)
    events = gpd.GeoDataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "iso_week": pd.array(week, dtype="string"),
            "sensitive": np.array(sensitive, dtype=bool),
            "duplicate_of": pd.array(dup, dtype="string"),
        },
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:3006",
    )
    ref = SimpleNamespace(
        boundary=shapely.box(502_000, 6_462_000, 512_000, 6_470_000),
        areas=gpd_areas(),
        gazetteer=Gazetteer.read(ROOT / "data/reference/gazetteer_demo.csv"),
    )
    return cfg, events, ref


def gpd_areas():
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"name": ["Mjölby centrum"]}, geometry=[shapely.box(506_500, 6_464_500, 508_500, 6_466_000)], crs="EPSG:3006"
    )


def _build(cfg, events, ref):
    from pipeline.products import ProductInput

    return eh.build_emerging(ProductInput(cfg=cfg, week=PRODUCT_WEEK, events=events, reference=ref))


@pytest.fixture(scope="module")
def product():
    cfg, events, ref = _product_inputs()
    return cfg, events, ref, _build(cfg, events, ref)


def test_product_names_the_planted_new_hot_spot(product):
    cfg, events, ref, out = product
    layer = out.layers["emerging"]
    assert out.info[eh.STATUS_KEY] == eh.STATUS_OK and out.info[eh.WEEKS_KEY] == "12"
    assert out.info[eh.FIRST_KEY] == "2026-W36"
    assert list(layer.columns) == eh.LAYER_COLUMNS + ["geometry"] and layer.crs == "EPSG:3006"
    centre = layer[layer.contains(shapely.Point(*RESECENTRUM))].iloc[0]
    assert centre["pattern"] == "ny hot spot" and centre["place_name"] == "Resecentrum"
    assert centre["area"] == "Mjölby centrum" and centre["hot_weeks"] == 1
    # every counted event is in some cell of the layer
    assert layer["n_events"].sum() == len(events)


def test_product_ignores_protected_and_duplicate_events(product):
    cfg, events, ref, out = product
    # 40 protected events in one spot in the final week, and 40 duplicates of counted events:
    # they must not shape the published cells
    extra = [(506_300.0, 6_466_700.0, PRODUCT_WEEK, True, "") for _ in range(40)]
    extra += [(506_300.0, 6_466_700.0, PRODUCT_WEEK, False, "e1") for _ in range(40)]
    cfg2, events2, ref2 = _product_inputs(extra=extra)
    assert len(events2) == len(events) + 80
    again = _build(cfg2, events2, ref2).layers["emerging"]
    pd.testing.assert_frame_equal(again.drop(columns="geometry"), out.layers["emerging"].drop(columns="geometry"))


def test_product_with_too_few_weeks_says_so(product):
    cfg, events, ref, _ = product
    late = events[events["iso_week"] >= "2026-W43"]  # 5 weeks of data
    out = _build(cfg, late, ref)
    assert out.info[eh.STATUS_KEY] == eh.STATUS_TOO_FEW and out.info[eh.WEEKS_KEY] == "5"
    assert len(out.layers["emerging"]) == 0 and list(out.layers["emerging"].columns)[:-1] == eh.LAYER_COLUMNS
    html = _section_html(cfg, out)
    assert "För få veckor med data" in html and "5 veckor (2026-W43–2026-W47), minst 8 behövs" in html


def _ctx(cfg, out):
    from types import SimpleNamespace

    return SimpleNamespace(cfg=cfg, week=PRODUCT_WEEK, layers=dict(out.layers), run_info=dict(out.info))


def _section_html(cfg, out) -> str:
    from pipeline.render.sections import render_sections
    from pipeline.render.sections.emerging import SECTION

    (section,) = render_sections(_ctx(cfg, out), [SECTION])
    return str(section["html"])


def test_report_paragraph_names_places(product):
    cfg, _, _, out = product
    html = _section_html(cfg, out)
    assert "Nya hot spots: Resecentrum (Mjölby centrum" in html
    assert 'data-pattern-code="1"' in html and "2026-W36–2026-W47" in html


def test_report_section_left_out_for_an_archive_without_the_analysis(product):
    from pipeline.render.sections.emerging import build

    cfg, _, _, out = product
    assert build(SimpleCtx(cfg)) is None


class SimpleCtx:
    def __init__(self, cfg):
        self.cfg, self.week, self.layers, self.run_info = cfg, PRODUCT_WEEK, {}, {}


def test_map_overlay_features_are_escaped(product):
    from pipeline.render.overlays import OVERLAYS
    from pipeline.render.sections.emerging import map_features, map_legend

    cfg, _, _, out = product
    layer = out.layers["emerging"].copy()
    layer["place_name"] = layer["place_name"].where(layer["pattern_code"] == 0, "<b>Torget</b>")
    ctx = _ctx(cfg, out)
    ctx.layers["emerging"] = layer
    feats = map_features(ctx)
    assert feats and len(feats) == int((layer["pattern_code"] != 0).sum())
    popup = feats[0]["properties"]["popup"]
    assert "&lt;b&gt;Torget&lt;/b&gt;" in popup and "<b>Torget" not in popup
    assert ("#fcbba1", "ny hot spot") in map_legend(ctx)
    assert any(o.build is map_features for o in OVERLAYS)


def test_archive_round_trip_and_qgis_style(product, tmp_path):
    import sqlite3

    from pipeline.io.archive import read_archive, write_archive

    cfg, _, _, out = product
    path = write_archive(tmp_path / f"{PRODUCT_WEEK}.gpkg", [out], {"week": PRODUCT_WEEK}, cfg)
    back = read_archive(path)["emerging"]
    assert len(back) == len(out.layers["emerging"])
    assert back["pattern"].tolist() == out.layers["emerging"]["pattern"].tolist()
    with sqlite3.connect(path) as con:
        qml = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'emerging'").fetchone()[0]
    assert qml.count("<category ") == 17 and 'attr="pattern_code"' in qml


def test_config_needs_at_least_8_weeks():
    import yaml

    from pipeline.config import parse_config
    from pipeline.errors import ConfigError

    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["emerging"]["weeks"] = 6
    with pytest.raises(ConfigError, match="emerging.weeks.*at least 8 weeks"):
        parse_config(data, ROOT)
