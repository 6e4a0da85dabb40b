"""Grid DBSCAN against sklearn.cluster.DBSCAN: synthetic edge cases and real crime data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

import pipeline.analysis.dbscan as grid_dbscan
from pipeline.analysis.dbscan import dbscan

REAL = Path("/work/shared/data/real")


def _sklearn(points, eps, min_samples):
    # kd_tree compares squared distances with eps**2, exactly as we do; "auto" may pick brute
    # force for tiny inputs, whose |x|^2 - 2xy + |y|^2 formula rounds differently at d == eps.
    fit = DBSCAN(eps=eps, min_samples=min_samples, algorithm="kd_tree").fit(points)
    core = np.zeros(len(points), bool)
    core[fit.core_sample_indices_] = True
    return fit.labels_, core


def assert_same_as_sklearn(points, eps, min_samples):
    points = np.asarray(points, float)
    labels, core = dbscan(points, eps, min_samples)
    ref_labels, ref_core = _sklearn(points, eps, min_samples)
    assert labels.dtype == np.int64 and core.dtype == bool
    np.testing.assert_array_equal(core, ref_core)
    if core.any():
        assert adjusted_rand_score(ref_labels[core], labels[core]) == 1.0
    np.testing.assert_array_equal(labels < 0, ref_labels < 0)  # same noise
    _assert_borders_reachable(points, labels, core, eps)
    _assert_numbered_by_first_core(labels, core)
    # Border points reached by several clusters take the lowest label, as sklearn's
    # expansion order gives, so the labels match element for element.
    np.testing.assert_array_equal(labels, ref_labels)
    return labels, core


def _assert_borders_reachable(points, labels, core, eps):
    for i in np.flatnonzero(~core & (labels >= 0)):
        d2 = ((points[core & (labels == labels[i])] - points[i]) ** 2).sum(axis=1)
        assert (d2 <= eps * eps).any(), f"border point {i} has no core point of its cluster within eps"


def _assert_numbered_by_first_core(labels, core):
    firsts = [np.flatnonzero(core & (labels == k))[0] for k in range(labels.max() + 1)]
    assert firsts == sorted(firsts)


def _town_points(seed, n, n_towns=6, spread=6, size=80):
    """Integer points around a few centres (so distances like 5 = 3-4-5 are exact), with
    duplicates and a uniform background."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, size, (n_towns, 2))
    pts = centres[rng.integers(0, n_towns, n)] + np.rint(rng.normal(0, spread, (n, 2))).astype(int)
    pts[: n // 10] = rng.integers(0, size, (n // 10, 2))  # background
    pts[-n // 20 :] = pts[rng.integers(0, n, n // 20)]  # exact duplicates
    return pts.astype(float)


@pytest.mark.parametrize("eps", [1.0, 2.0, 2.5, 5.0, 8.0])
@pytest.mark.parametrize("min_samples", [1, 2, 3, 5, 12])
def test_matches_sklearn_on_clustered_integer_points(eps, min_samples):
    assert_same_as_sklearn(_town_points(int(eps * 10 + min_samples), 1500), eps, min_samples)


@pytest.mark.parametrize("seed", range(20))
def test_matches_sklearn_on_small_random_sets(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    pts = rng.integers(0, int(rng.integers(2, 60)), (n, 2)).astype(float)
    assert_same_as_sklearn(pts, float(rng.choice([1, 1.5, 3, 5])), int(rng.integers(1, 8)))


def test_distance_exactly_eps_counts_as_neighbour():
    # A chain with steps of exactly 5 (3-4-5 triangles): every point sees its neighbours.
    steps = np.array([[3, 4], [5, 0], [0, 5], [4, 3], [-3, 4]])
    pts = np.cumsum(np.vstack([[[100, 100]], steps]), axis=0).astype(float)
    labels, core = assert_same_as_sklearn(pts, 5.0, 3)
    assert core[1:-1].all() and not core[[0, -1]].any()  # ends have 2 neighbours (self + 1)
    assert (labels == 0).all()  # ends are border points
    # a hair less than 5 and nothing is connected
    labels, core = assert_same_as_sklearn(pts, 4.999999, 2)
    assert (labels == -1).all() and not core.any()


def test_points_exactly_eps_apart_across_grid_cells():
    # Points on a lattice of spacing eps: each sees its 4 lattice neighbours exactly at eps,
    # and diagonal ones (eps * sqrt 2) not; lattice lines fall on grid cell boundaries.
    xs, ys = np.meshgrid(np.arange(0, 50, 5), np.arange(0, 50, 5))
    pts = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    labels, core = assert_same_as_sklearn(pts, 5.0, 5)
    corners = [0, 9, 90, 99]
    assert not core[corners].any() and core.sum() == 100 - 4 * 8 - 4
    assert_same_as_sklearn(pts, 5.0, 4)
    assert_same_as_sklearn(np.vstack([pts, pts[:7]]), 5.0, 6)  # duplicates tip some points over


def test_duplicates_only():
    pts = np.zeros((7, 2))
    labels, core = assert_same_as_sklearn(pts, 0.5, 7)
    assert core.all() and (labels == 0).all()
    labels, core = assert_same_as_sklearn(pts, 0.5, 8)
    assert (labels == -1).all()


def test_two_clusters_compete_for_a_border_point():
    # The middle point is within eps of both clusters' core points but is not core itself:
    # it takes the cluster of the lowest core index, as sklearn does.
    left = [[0, 0], [0, 1], [1, 0], [0, -1], [-1, 0]]
    right = [[10, 0], [10, 1], [11, 0], [10, -1], [9, 0]]
    pts = np.array(right + left + [[5, 0]], float)
    labels, core = assert_same_as_sklearn(pts, 4.0, 5)
    assert not core[-1] and labels[-1] == 0 and labels[0] == 0 and labels[5] == 1


def test_empty_and_single_point():
    labels, core = dbscan(np.empty((0, 2)), 1.0, 1)
    assert labels.shape == (0,) and core.shape == (0,)
    assert dbscan([[3.0, 4.0]], 1.0, 1)[0].tolist() == [0]
    assert dbscan([[3.0, 4.0]], 1.0, 2)[0].tolist() == [-1]


def test_sweref_coordinates_and_large_extent():
    # SWEREF 99 TM magnitudes, country-wide extent, metre-scale eps.
    rng = np.random.default_rng(7)
    towns = np.column_stack([rng.uniform(3e5, 9e5, 40), rng.uniform(6.15e6, 7.6e6, 40)])
    pts = towns[rng.integers(0, 40, 4000)] + rng.normal(0, 150, (4000, 2))
    assert_same_as_sklearn(np.round(pts, 1), 60.0, 5)


def test_alternative_code_paths_agree(monkeypatch):
    """Force the per-pair cKDTree check, tiny batches, and the plain-tree fallback."""
    pts = _town_points(11, 1200, spread=4)
    monkeypatch.setattr(grid_dbscan, "_BIG_PAIR", 0)
    monkeypatch.setattr(grid_dbscan, "_BATCH_PAIRS", 50)
    assert_same_as_sklearn(pts, 3.0, 4)
    monkeypatch.setattr(grid_dbscan, "_MAX_CELLS_PER_AXIS", 0.0)
    assert_same_as_sklearn(pts, 3.0, 4)
    assert_same_as_sklearn(pts, 2.0, 1)


@pytest.mark.parametrize(
    "args",
    [
        (np.zeros((3, 2)), 0.0, 2),
        (np.zeros((3, 2)), -1.0, 2),
        (np.zeros((3, 2)), float("nan"), 2),
        (np.zeros((3, 2)), float("inf"), 2),
        (np.zeros((3, 2)), "1", 2),
        (np.zeros((3, 2)), True, 2),
        (np.zeros((3, 2)), 1.0, 0),
        (np.zeros((3, 2)), 1.0, 2.5),
        (np.zeros((3, 2)), 1.0, True),
        (np.zeros((3, 3)), 1.0, 2),
        (np.zeros(4), 1.0, 2),
        ([[0.0, np.nan]], 1.0, 2),
        ([[0.0, np.inf]], 1.0, 2),
        ([["a", "b"]], 1.0, 2),
    ],
)
def test_invalid_arguments_raise_value_error(args):
    with pytest.raises(ValueError):
        dbscan(*args)


# ---------------------------------------------------------------------------- real data


def _chicago_metres(n, seed=0):
    path = REAL / "chicago_aggravated_assaults.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} missing")
    from pyproj import Transformer

    df = pd.read_csv(path, usecols=["longitude", "latitude"]).dropna()
    df = df.sample(n=n, random_state=seed) if n else df
    x, y = Transformer.from_crs(4326, 26916, always_xy=True).transform(
        df["longitude"].to_numpy(), df["latitude"].to_numpy()
    )
    return np.column_stack([x, y])


def _vancouver_metres():
    path = REAL / "vancouver_thefts.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} missing")
    df = pd.read_csv(path, usecols=["X", "Y"]).dropna()
    df = df[(df["X"] > 0) & (df["Y"] > 0)]  # the export codes withheld locations as 0, 0
    return df[["X", "Y"]].to_numpy(float)


@pytest.mark.parametrize("eps, min_samples", [(150.0, 5), (200.0, 10), (300.0, 25)])
def test_matches_sklearn_on_chicago(eps, min_samples):
    pts = _chicago_metres(4000, seed=int(eps))
    labels, _ = assert_same_as_sklearn(pts, eps, min_samples)
    assert labels.max() >= 1  # a real clustering, not one blob or all noise


def test_matches_sklearn_on_vancouver_thefts():
    pts = _vancouver_metres()
    for eps, min_samples in [(50.0, 5), (100.0, 15)]:
        labels, _ = assert_same_as_sklearn(pts, eps, min_samples)
        assert labels.max() >= 1
