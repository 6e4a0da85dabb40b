"""KDE vs exact summation, grid anchoring, bandwidth rules, validation."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.analysis import kde as kde_module
from pipeline.analysis import kde_compiled
from pipeline.analysis.grid import Grid
from pipeline.analysis.kde import exact_kde, kde, resolve_bandwidth, silverman_bandwidth

REAL = Path("/work/shared/data/real")


def max_rel_err(approx, exact):
    keep = exact > 0.01 * exact.max()
    return float(np.max(np.abs(approx[keep] - exact[keep]) / exact[keep]))


def clustered(seed=1):
    rng = np.random.default_rng(seed)
    return np.r_[
        rng.normal(1500, 100, (300, 2)), rng.normal([700, 2200], 60, (100, 2)), rng.uniform(0, 3000, (60, 2))
    ] + [507_000, 6_464_000]


def grid_for(pts, cell):
    return Grid.anchored((*pts.min(0), *pts.max(0)), cell)


@pytest.fixture(scope="module")
def chicago():
    path = REAL / "chicago_aggravated_assaults.csv.gz"
    if not path.exists():
        pytest.skip("real Chicago data not available")
    import pandas as pd
    from pyproj import Transformer

    df = pd.read_csv(path)
    d = df[df.district == df.district.mode()[0]].iloc[:3000]
    x, y = Transformer.from_crs(4326, 26916, always_xy=True).transform(d.longitude.values, d.latitude.values)
    return np.column_stack((x, y))


@pytest.fixture(scope="module")
def vancouver():
    path = REAL / "vancouver_thefts.csv.gz"
    if not path.exists():
        pytest.skip("real Vancouver data not available")
    import pandas as pd

    df = pd.read_csv(path)
    return df.loc[df.X > 0, ["X", "Y"]].to_numpy()[:3000]


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
@pytest.mark.parametrize("h_cells", [2, 3, 5, 8])
@pytest.mark.parametrize("method", ["fft", "direct"])
def test_clustered_matches_exact(kernel, h_cells, method):
    pts = clustered()
    g = grid_for(pts, 50)
    xs, ys = g.centres()
    exact = exact_kde(pts, xs, ys, h_cells * 50, kernel)
    assert max_rel_err(kde(pts, g, h_cells * 50, kernel, method=method), exact) < 0.01


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
@pytest.mark.parametrize("cell,h_cells", [(50, 3), (50, 5), (50, 8), (100, 2), (100, 5)])
def test_chicago_matches_exact(chicago, kernel, cell, h_cells):
    g = grid_for(chicago, cell)
    exact = exact_kde(chicago, *g.centres(), h_cells * cell, kernel)
    for method in ("fft", "auto"):
        assert max_rel_err(kde(chicago, g, h_cells * cell, kernel, method=method), exact) < 0.01


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
@pytest.mark.parametrize("cell,h_cells", [(200, 2), (200, 3), (100, 5)])
def test_vancouver_matches_exact(vancouver, kernel, cell, h_cells):
    g = grid_for(vancouver, cell)
    exact = exact_kde(vancouver, *g.centres(), h_cells * cell, kernel)
    assert max_rel_err(kde(vancouver, g, h_cells * cell, kernel, method="fft"), exact) < 0.01


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
@pytest.mark.parametrize("method", ["fft", "direct"])
def test_integrates_to_n_events(kernel, method):
    pts = clustered()
    g = Grid.anchored((*pts.min(0), *pts.max(0)), 25, pad=6 * 150)
    dens = kde(pts, g, 150, kernel, method=method)
    assert dens.sum() * (g.cell / 1000) ** 2 == pytest.approx(len(pts), rel=0.01)


def test_weights_scale_density():
    pts = clustered()
    g = grid_for(pts, 50)
    assert np.allclose(kde(pts, g, 200, weights=np.full(len(pts), 2.0)), 2 * kde(pts, g, 200))


@pytest.mark.parametrize("method", ["fft", "direct"])
def test_points_outside_grid_contribute(method):
    pts = clustered()
    full = Grid.anchored((*pts.min(0), *pts.max(0)), 50)
    part = Grid(full.x0 + 20 * 50, full.y0 + 20 * 50, 50, 20, 20)  # interior window
    whole = kde(pts, full, 250, method=method)
    assert np.allclose(kde(pts, part, 250, method=method), whole[20:40, 20:40], rtol=1e-6, atol=1e-9)
    # A point just beyond the grid's edge still reaches the edge cells, farther ones don't.
    g = Grid(0, 0, 10, 10, 10)
    near = kde(np.array([[-30.0, 50.0]]), g, 100, method=method)
    far = kde(np.array([[-200.0, 50.0]]), g, 100, method=method)
    exact = exact_kde([[-30.0, 50.0]], *g.centres(), 100)
    assert near[:, 0].min() > 0 and max_rel_err(near, exact) < 0.01
    assert not far.any()


def test_grid_anchoring_is_comparable():
    a = Grid.anchored((507_013, 6_464_988, 512_777, 6_470_001), 50, pad=100)
    b = Grid.anchored((505_501, 6_460_049, 509_999, 6_466_321), 50)
    for g in (a, b):
        assert g.x0 % 50 == 0 and g.y0 % 50 == 0
    # The same physical cell has the same centre in both grids.
    ax, ay = a.centres()
    bx, by = b.centres()
    common_x = np.intersect1d(ax, bx)
    assert len(common_x) > 0 and np.all((common_x - 25) % 50 == 0)
    assert a.bounds[0] <= 507_013 - 100 and a.bounds[2] >= 512_777 + 100
    assert Grid.anchored((0, 0, 100, 100), 50) == Grid(0.0, 0.0, 50.0, 2, 2)


def test_transform_is_north_up():
    g = Grid(1000, 2000, 10, 4, 3)
    t = g.transform
    assert (t.c, t.f, t.a, t.e) == (1000, 2030, 10, -10)
    vals = np.arange(12).reshape(3, 4)
    assert g.to_north_up(vals)[0].tolist() == [8, 9, 10, 11]  # computation row 2 = north


def test_silverman_by_hand():
    pts = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 40.0], [300.0, 400.0], [10.0, 10.0]])
    mc = pts.mean(axis=0)
    d = np.sqrt(((pts - mc) ** 2).sum(axis=1))
    sd = np.sqrt(np.mean(d**2))
    dm = np.median(d) * np.sqrt(1 / np.log(2))
    expected = 0.9 * min(sd, dm) * 5**-0.2
    assert silverman_bandwidth(pts) == pytest.approx(expected)
    assert min(sd, dm) == dm  # the outlier makes the robust median term win


def test_silverman_degenerate():
    with pytest.raises(ValueError, match="at least 2"):
        silverman_bandwidth(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="same location"):
        silverman_bandwidth(np.array([[1.0, 2.0]] * 5))


def test_resolve_bandwidth():
    pts = clustered()
    assert resolve_bandwidth(pts, "auto", 50) == pytest.approx(max(silverman_bandwidth(pts), 100))
    assert resolve_bandwidth(pts, 30, 50) == 100  # never below 2 cells
    assert resolve_bandwidth(pts, 500, 50) == 500
    assert resolve_bandwidth(np.empty((0, 2)), "auto", 50, minimum=300) == 300
    with pytest.raises(ValueError):
        resolve_bandwidth(pts, "wide", 50)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda g: kde(np.zeros((3, 3)), g, 100), r"\(n, 2\)"),
        (lambda g: kde([[np.nan, 0]], g, 100), "NaN"),
        (lambda g: kde([[0, 0]], g, -1), "positive"),
        (lambda g: kde([[0, 0]], g, 100, kernel="epanechnikov"), "kernel"),
        (lambda g: kde([[0, 0]], g, 5), "below"),
        (lambda g: kde([[0, 0]], g, 100, weights=[1, 2]), "weights"),
        (lambda g: kde([[0, 0]], g, 100, oversample=0), "integer >= 1"),
        (lambda g: kde([[0, 0]], g, 100, method="magic"), "method"),
        (lambda g: Grid.anchored((10, 0, 0, 10), 10), "bounds"),
        (lambda g: Grid(0, 0, 0, 1, 1), "cell"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call(Grid(0, 0, 10, 10, 10))


def test_empty_points_give_zero_surface():
    g = Grid(0, 0, 10, 5, 4)
    assert kde(np.empty((0, 2)), g, 50).shape == (4, 5) and not kde(np.empty((0, 2)), g, 50).any()


# -- quadratic binning (the FFT path's lattice) ------------------------------------------------------
def _binning_input(n=500, seed=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(2.0, 38.0, (n, 2)), rng.uniform(0.5, 2.0, n)


@pytest.mark.parametrize("compiled", [True, False])
def test_quadratic_binning_is_exact_for_quadratics(compiled, monkeypatch):
    """Σ lattice · f(nodes) = Σ w · f(points) for f of degree ≤ 2 per axis (x²y² included)."""
    if not compiled:
        monkeypatch.setattr(kde_compiled, "_compiled", lambda: (None, None))
    pts, w = _binning_input()
    lattice = kde_compiled.bin_quadratic(pts, w, origin=(0.5, -0.25), step=0.75, shape=(60, 56))
    ny, nx = lattice.shape
    gx, gy = np.meshgrid(0.5 + 0.75 * np.arange(nx), -0.25 + 0.75 * np.arange(ny))
    for f in (
        lambda x, y: 1.0 + 0 * x,
        lambda x, y: x,
        lambda x, y: y,
        lambda x, y: x * x,
        lambda x, y: x * y,
        lambda x, y: y * y,
        lambda x, y: x * x * y * y,
    ):
        exact = float(np.sum(w * f(pts[:, 0], pts[:, 1])))
        assert float(np.sum(lattice * f(gx, gy))) == pytest.approx(exact, rel=1e-12)


def test_compiled_binning_matches_numpy(monkeypatch):
    pts, w = _binning_input(2000)
    pts = np.r_[pts, [[-1e300, 5.0], [1e18, 1e18], [0.0, 0.0]]]  # off the lattice: skipped
    w = np.r_[w, 1.0, 1.0, 1.0]
    args = dict(origin=(0.0, 0.0), step=0.5, shape=(80, 84))
    compiled = kde_compiled.bin_quadratic(pts, w, **args)
    monkeypatch.setattr(kde_compiled, "PARALLEL_MIN_POINTS", 0)
    banded = kde_compiled.bin_quadratic(pts, w, **args, threads=3)  # three bands of rows
    assert np.array_equal(banded, compiled)
    monkeypatch.setattr(kde_compiled, "_compiled", lambda: (None, None))
    assert np.allclose(compiled, kde_compiled.bin_quadratic(pts, w, **args), rtol=0, atol=1e-12)
    assert compiled.sum() == pytest.approx(w[:-3].sum(), rel=1e-12)


@pytest.mark.parametrize("h_cells", [2, 5, 10])
def test_isolated_point_worst_case(h_cells):
    """The lattice step h / MIN_STEPS keeps one point's kernel within 1 % wherever it is above
    1 % of its peak, for any position of the point inside its cell (the quartic's edge, where
    K'' jumps, is the hard part: linear binning needs a far finer lattice there)."""
    rng = np.random.default_rng(h_cells)
    g = Grid(0, 0, 10.0, 6 * h_cells, 6 * h_cells)
    for _ in range(12):
        p = np.array([[30 * h_cells + rng.uniform(0, 10), 30 * h_cells + rng.uniform(0, 10)]])
        exact = exact_kde(p, *g.centres(), 10.0 * h_cells)
        assert max_rel_err(kde(p, g, 10.0 * h_cells, method="fft"), exact) < 0.01


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_compiled_direct_sums_match_numpy(kernel, monkeypatch):
    """The compiled direct sums (rows in bands too) equal the numpy twin and the exact sum."""
    pts = np.r_[clustered(), [[-1e300, 0.0], [1e18, 6.4e6]]]  # far away: no contribution
    g = grid_for(pts[:-2], 50)
    h = 150.0
    radius = kde_module.support_radius(h, kernel)
    monkeypatch.setattr(kde_compiled, "COMPILED_MIN_PAIRS", 0)
    monkeypatch.setattr(kde_compiled, "PARALLEL_MIN_POINTS", 0)
    compiled = kde_compiled.direct_sum(pts, None, g, h, kernel, radius)
    banded = kde_compiled.direct_sum(pts, None, g, h, kernel, radius, threads=3)
    monkeypatch.setattr(kde_compiled, "_compiled", lambda: (None, None))
    numpy_twin = kde_compiled.direct_sum(pts, None, g, h, kernel, radius)
    assert np.allclose(banded, compiled, rtol=1e-12, atol=0)
    assert np.allclose(numpy_twin, compiled, rtol=1e-12, atol=1e-20)
    if kernel == "quartic":  # untruncated: the exact reference itself
        assert np.allclose(compiled * 1e6, exact_kde(pts[:-2], *g.centres(), h), rtol=1e-10, atol=1e-12)
