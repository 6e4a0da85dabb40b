"""Exact DBSCAN for 2-D points on a grid, with scikit-learn's semantics.

Semantics (identical to ``sklearn.cluster.DBSCAN(eps, min_samples)``):
the neighbourhood of a point is every point at distance ``<= eps``, itself included;
a point is *core* when its neighbourhood holds ``>= min_samples`` points; core points
within ``eps`` of each other share a cluster; a non-core point within ``eps`` of a core
point is a *border* point; everything else is noise (label -1). Clusters are numbered
0..k-1 in order of their lowest core point index, and a border point reached by several
clusters takes the lowest-numbered one -- exactly what sklearn's expansion order yields,
so labels match sklearn's element for element.

Algorithm (Gunawan / Gan & Tao grid DBSCAN, vectorised with NumPy):

1. Points go into square cells of side just under ``eps/sqrt(2)``: any two points of one
   cell are within ``eps``. A cell holding ``>= min_samples`` points is therefore all core,
   with no counting; only points of sparser cells are counted (cKDTree, in C).
2. All core points of a cell are connected for free, so the connectivity graph has one
   node per cell with a core point. Two such cells (at most 2 cells apart) get an edge if
   *any* pair of their core points is within ``eps``. A cheap sufficient test (the cells'
   extreme points facing each other) settles most pairs; pairs whose cells are already in
   one component are skipped; only the rest get an exact bichromatic check.
3. Border points take the lowest cluster label among their core neighbours; a non-core
   point has fewer than ``min_samples`` neighbours, so listing them stays cheap.

Memory stays O(n): no neighbour lists are materialised for dense data (sklearn's are,
which is where its time and gigabytes go).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = ["DBSCANResult", "dbscan"]


class DBSCANResult(NamedTuple):
    """What :func:`dbscan` returns: sklearn's ``labels_`` and a core-point mask.

    ``labels``: int64, -1 = noise, clusters 0..k-1 numbered by their lowest core point index
    (``sklearn.cluster.DBSCAN.labels_``); ``core``: bool mask, True where sklearn's
    ``core_sample_indices_`` holds the point. A NamedTuple, so ``labels, core = dbscan(...)``
    unpacks too.
    """

    labels: np.ndarray
    core: np.ndarray


# Cell offsets (dx, dy) of every cell that can hold a point within eps of a point in cell
# (0, 0) when the side is just under eps/sqrt(2); only the "forward" half, each unordered
# pair of cells once. Adjacent cells first: they are the likeliest to connect, and every
# early connection lets later pairs be skipped.
_FORWARD_OFFSETS = sorted(
    ((dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if (dx, dy) > (0, 0)),
    key=lambda o: (max(abs(o[0]), abs(o[1])), abs(o[0]) + abs(o[1])),
)
# Beyond this extent/eps ratio float64 cell indices lose the precision the grid relies on.
_MAX_CELLS_PER_AXIS = 1e9
# Point pairs checked per vectorised batch (bounds memory: ~40 bytes per pair).
_BATCH_PAIRS = 2_000_000
# A cell pair with more point pairs than this is checked with a cKDTree instead.
_BIG_PAIR = 200_000


def dbscan(points, eps: float, min_samples: int) -> DBSCANResult:
    """Cluster 2-D points exactly as ``sklearn.cluster.DBSCAN`` does, but fast.

    Returns a :class:`DBSCANResult` ``(labels, core)``: the labels sklearn's ``labels_`` holds,
    and the core-point mask sklearn's ``core_sample_indices_`` describes.

    >>> pts = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [50, 50]], dtype=float)
    >>> result = dbscan(pts, eps=1.5, min_samples=3)
    >>> result.labels.tolist(), result.core.tolist()
    ([0, 0, 0, -1, -1], [True, True, True, False, False])
    """
    pts, eps, min_samples = _validate(points, eps, min_samples)
    n = len(pts)
    if n == 0:
        return DBSCANResult(np.empty(0, np.int64), np.zeros(0, bool))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = float((hi - lo).max())
    if extent / eps > _MAX_CELLS_PER_AXIS:
        return DBSCANResult(*_dbscan_tree(pts, eps, min_samples))
    return DBSCANResult(*_dbscan_grid(pts, eps, min_samples, lo, extent))


# ---------------------------------------------------------------------------- validation


def _validate(points, eps, min_samples) -> tuple[np.ndarray, float, int]:
    """Check the arguments at the boundary; return float64 points, eps and min_samples."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise ValueError(f"eps must be a number, got {eps!r}")
    eps = float(eps)
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    if isinstance(min_samples, bool) or not isinstance(min_samples, numbers.Integral):
        raise ValueError(f"min_samples must be an integer, got {min_samples!r}")
    if min_samples < 1:
        raise ValueError(f"min_samples must be >= 1, got {min_samples!r}")
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"points must be numeric: {exc}") from None
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or infinite coordinates")
    return np.ascontiguousarray(pts), eps, int(min_samples)


# ---------------------------------------------------------------------------- grid DBSCAN


class _Cells:
    """Points grouped by grid cell: ``order`` sorts points by cell; cell ``c`` holds
    ``order[start[c]:start[c] + count[c]]``; ``key`` is the sorted cell key
    ``ix * stride + iy``, so the cell at offset (dx, dy) has key ``key + dx*stride + dy``."""

    def __init__(self, pts: np.ndarray, lo: np.ndarray, side: float):
        self.lo, self.side = lo, side
        # +2 keeps ix-2, iy-2 >= 0, and stride leaves room for iy+2, so neighbour keys
        # never wrap into another column.
        ij = np.floor((pts - lo) / side).astype(np.int64) + 2
        self.stride = int(ij[:, 1].max()) + 5
        key = ij[:, 0] * self.stride + ij[:, 1]
        self.order = np.argsort(key)
        skey = key[self.order]
        first = np.empty(len(skey), bool)
        first[0] = True
        np.not_equal(skey[1:], skey[:-1], out=first[1:])
        self.start = np.flatnonzero(first)
        self.count = np.diff(np.append(self.start, len(skey)))
        self.key = skey[self.start]
        #: cell index of each point, in sorted order
        self.cell_sorted = np.cumsum(first) - 1

    def count_at(self, keys: np.ndarray) -> np.ndarray:
        """Number of points in the cells with these keys (0 for empty cells)."""
        pos = np.minimum(np.searchsorted(self.key, keys), len(self.key) - 1)
        return np.where(self.key[pos] == keys, self.count[pos], 0)


def _dbscan_grid(pts: np.ndarray, eps: float, min_samples: int, lo: np.ndarray, extent: float):
    # Shrink the side a hair below eps/sqrt(2) so that rounding in the cell computation
    # can never put two points farther apart than eps into one cell; the slack grows with
    # extent/eps because the rounding error of (x - xmin)/side does.
    slack = 1e-9 + 1e-15 * extent / eps
    cells = _Cells(pts, lo, eps / np.sqrt(2.0) * (1.0 - slack))
    core, maybe_border, tree = _core_mask(pts, cells, eps, min_samples, slack)
    comp, core_idx = _core_components(pts, core, cells, eps)
    labels = _number_clusters(len(pts), core_idx, comp)
    _assign_border(pts, labels, core, maybe_border, tree, eps)
    return labels, core


def _core_mask(pts, cells: _Cells, eps: float, min_samples: int, slack: float):
    """Core mask, mask of non-core points that may have a core neighbour, and the cKDTree
    used (or None).

    Points in cells with >= min_samples points are core without counting. For the others,
    cell counts bound the neighbourhood size from above (all 5 x 5 cells around) and from
    below (own cell plus the adjacent cells that lie entirely within eps of the point);
    only points the bounds cannot settle are counted exactly."""
    n = len(pts)
    core = np.zeros(n, bool)
    maybe_border = np.zeros(n, bool)
    dense_cell = cells.count >= min_samples
    core[cells.order[np.repeat(dense_cell, cells.count)]] = True
    sparse_cell = np.flatnonzero(~dense_cell)
    if len(sparse_cell) == 0:
        return core, maybe_border, None
    upper = np.zeros(len(sparse_cell), np.int64)
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            upper += cells.count_at(cells.key[sparse_cell] + dx * cells.stride + dy)
    # Cells with upper < min_samples hold only non-core points; they may be border points
    # if they have any neighbour at all.
    flag = np.zeros(len(cells.key), np.int8)
    flag[sparse_cell[(upper < min_samples) & (upper > 1)]] = 1
    flag[sparse_cell[upper >= min_samples]] = 2
    flag_sorted = flag[cells.cell_sorted]
    maybe_border[cells.order[flag_sorted == 1]] = True
    todo_sorted = np.flatnonzero(flag_sorted == 2)
    idx = cells.order[todo_sorted]
    lower = _lower_bound(pts[idx], cells, cells.cell_sorted[todo_sorted], eps * (1.0 - 8.0 * slack))
    core[idx[lower >= min_samples]] = True
    idx = idx[lower < min_samples]
    tree = None
    if len(idx):
        tree = cKDTree(pts, leafsize=32, balanced_tree=False, compact_nodes=False)
        counts = tree.query_ball_point(pts[idx], eps, return_length=True, workers=-1)
        core[idx] = counts >= min_samples
        maybe_border[idx] = (counts < min_samples) & (counts > 1)
    return core, maybe_border, tree


def _lower_bound(p, cells: _Cells, cell, radius):
    """Own cell count plus the counts of the 4 adjacent cells that lie entirely within
    ``radius`` of each point (diagonal cells never do: side < eps/sqrt(2))."""
    s = cells.side
    key = cells.key[cell]
    ix = key // cells.stride
    u = p[:, 0] - (cells.lo[0] + (ix - 2) * s)
    v = p[:, 1] - (cells.lo[1] + (key - ix * cells.stride - 2) * s)
    wu, wv = np.maximum(u, s - u), np.maximum(v, s - v)
    r2 = radius * radius
    lower = cells.count[cell].astype(np.int64)
    for (dx, dy), far2 in (
        ((1, 0), (2 * s - u) ** 2 + wv**2),
        ((-1, 0), (s + u) ** 2 + wv**2),
        ((0, 1), (2 * s - v) ** 2 + wu**2),
        ((0, -1), (s + v) ** 2 + wu**2),
    ):
        covered = far2 <= r2
        lower[covered] += cells.count_at(key[covered] + dx * cells.stride + dy)
    return lower


def _core_components(pts, core, cells: _Cells, eps: float):
    """Connected components of the core points.

    Returns ``(comp, core_idx)``: component id of each core point and the original
    indices of the core points (both in cell order)."""
    core_sorted = core[cells.order]
    core_idx = cells.order[core_sorted]
    if len(core_idx) == 0:
        return np.empty(0, np.int64), core_idx
    pcell = cells.cell_sorted[core_sorted]
    first = np.empty(len(pcell), bool)
    first[0] = True
    np.not_equal(pcell[1:], pcell[:-1], out=first[1:])
    start = np.flatnonzero(first)
    count = np.diff(np.append(start, len(pcell)))
    key = cells.key[pcell[start]]
    cxy = pts[core_idx]
    comp = _connect_cells(cxy, start, count, key, cells.stride, eps)
    return np.repeat(comp, count), core_idx


def _connect_cells(cxy, start, count, key, stride, eps):
    """Component id of each core cell (cells given by start/count into ``cxy``)."""
    eps2 = eps * eps
    a, b, ok = _candidate_pairs(cxy, start, count, key, stride, eps2)
    comp = _merge(np.arange(len(start)), a[ok], b[ok])
    rest = ~ok & (comp[a] != comp[b])
    a, b = a[rest], b[rest]
    # Exact checks, cheapest first, skipping pairs already connected through others.
    work = count[a].astype(np.int64) * count[b]
    o = np.argsort(work, kind="stable")
    a, b, work = a[o], b[o], work[o]
    while len(a):
        take = max(1, int(np.searchsorted(np.cumsum(work), _BATCH_PAIRS, side="right")))
        hit = _cells_within(cxy, start, count, a[:take], b[:take], eps2)
        comp = _merge(comp, a[:take][hit], b[:take][hit])
        keep = comp[a[take:]] != comp[b[take:]]
        a, b, work = a[take:][keep], b[take:][keep], work[take:][keep]
    return comp


# The eight compass directions; a cell's extreme point in direction d maximises p . d.
_DIRECTIONS = [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)]


def _candidate_pairs(cxy, start, count, key, stride, eps2):
    """All pairs (a, b) of core cells close enough on the grid to hold points within eps,
    and a sufficient test of each: are the cells' extreme points facing each other within
    eps? (True means connected, False means unknown.)"""
    extremes = _extreme_points(cxy, start, count)
    a_parts, b_parts, ok_parts = [], [], []
    idx = np.arange(len(key))
    for dx, dy in _FORWARD_OFFSETS:
        target = key + dx * stride + dy
        pos = np.minimum(np.searchsorted(key, target), len(key) - 1)
        found = key[pos] == target
        a, b = idx[found], pos[found]
        toward = _DIRECTIONS.index((int(np.sign(dx)), int(np.sign(dy))))
        d = cxy[extremes[toward, a]] - cxy[extremes[(toward + 4) % 8, b]]
        a_parts.append(a)
        b_parts.append(b)
        ok_parts.append(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] <= eps2)
    return np.concatenate(a_parts), np.concatenate(b_parts), np.concatenate(ok_parts)


def _extreme_points(cxy, start, count):
    """(8, m) array: index into cxy of each cell's extreme core point in each direction."""
    cell = np.repeat(np.arange(len(start)), count)
    out = np.empty((len(_DIRECTIONS), len(start)), np.int64)
    for k, (dx, dy) in enumerate(_DIRECTIONS):
        proj = cxy[:, 0] * dx + cxy[:, 1] * dy
        best = np.maximum.reduceat(proj, start)
        at_best = np.flatnonzero(proj == best[cell])
        first = np.ones(len(at_best), bool)
        first[1:] = cell[at_best[1:]] != cell[at_best[:-1]]
        out[k] = at_best[first]
    return out


def _cells_within(cxy, start, count, a, b, eps2):
    """Exact test per cell pair: is any core point of a within eps of one of b?"""
    hit = np.zeros(len(a), bool)
    work = count[a].astype(np.int64) * count[b]
    big = work > _BIG_PAIR
    for i in np.flatnonzero(big):
        hit[i] = _cells_within_tree(cxy, start, count, a[i], b[i], eps2)
    small = np.flatnonzero(~big)
    if len(small):
        hit[small] = _cells_within_brute(cxy, start, count, a[small], b[small], eps2)
    return hit


def _cells_within_brute(cxy, start, count, a, b, eps2):
    """All point pairs of each cell pair at once (callers keep the total bounded)."""
    na, nb = count[a].astype(np.int64), count[b].astype(np.int64)
    work = na * nb
    pair = np.repeat(np.arange(len(a)), work)
    local = np.arange(len(pair)) - np.repeat(np.cumsum(work) - work, work)
    ia = start[a][pair] + local // nb[pair]
    ib = start[b][pair] + local % nb[pair]
    d = cxy[ia] - cxy[ib]
    within = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] <= eps2
    return np.bincount(pair[within], minlength=len(a)) > 0


def _cells_within_tree(cxy, start, count, a, b, eps2):
    pa = cxy[start[a] : start[a] + count[a]]
    pb = cxy[start[b] : start[b] + count[b]]
    _, j = cKDTree(pb).query(pa, k=1)
    d = pa - pb[j]
    return bool((d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] <= eps2).any())


def _merge(comp, a, b):
    """Component ids after adding edges (a, b) between nodes with ids ``comp``."""
    if len(a) == 0:
        return comp
    m = int(comp.max()) + 1
    graph = coo_matrix((np.ones(len(a), np.int8), (comp[a], comp[b])), shape=(m, m))
    _, merged = connected_components(graph, directed=False)
    return merged[comp]


# ---------------------------------------------------------------------------- labelling


def _number_clusters(n, core_idx, comp):
    """Labels for all points: core points get their component, numbered 0..k-1 by the
    component's lowest core point index; others -1 for now."""
    labels = np.full(n, -1, np.int64)
    if len(core_idx) == 0:
        return labels
    first = np.full(int(comp.max()) + 1, n, np.int64)
    np.minimum.at(first, comp, core_idx)
    present = np.flatnonzero(first < n)
    rank = np.empty(len(first), np.int64)
    rank[present[np.argsort(first[present])]] = np.arange(len(present))
    labels[core_idx] = rank[comp]
    return labels


def _assign_border(pts, labels, core, maybe_border, tree, eps):
    """Give each candidate non-core point with a core neighbour the lowest label among
    those neighbours (in place). Non-core points have < min_samples neighbours, so the
    neighbour pairs listed here stay few."""
    cand = np.flatnonzero(maybe_border)
    if len(cand) == 0:
        return
    if tree is None:
        tree = cKDTree(pts)
    pairs = cKDTree(pts[cand]).sparse_distance_matrix(tree, eps, output_type="ndarray")
    i, j = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    is_core = core[j]
    i, lab = i[is_core], labels[j[is_core]]
    if len(i) == 0:
        return
    best = np.full(len(cand), np.iinfo(np.int64).max)
    np.minimum.at(best, i, lab)
    reached = best != np.iinfo(np.int64).max
    labels[cand[reached]] = best[reached]


# ---------------------------------------------------------------------------- fallback


def _dbscan_tree(pts: np.ndarray, eps: float, min_samples: int):
    """Plain cKDTree DBSCAN for inputs whose extent is > 1e9 eps, where a float64 grid
    would be unreliable. Lists all core-core pairs, so memory grows with density."""
    tree = cKDTree(pts)
    counts = tree.query_ball_point(pts, eps, return_length=True).astype(np.int64)
    core = counts >= min_samples
    core_idx = np.flatnonzero(core)
    comp = np.empty(0, np.int64)
    if len(core_idx):
        pairs = cKDTree(pts[core_idx]).query_pairs(eps, output_type="ndarray")
        comp = _merge(np.arange(len(core_idx)), pairs[:, 0], pairs[:, 1])
    labels = _number_clusters(len(pts), core_idx, comp)
    _assign_border(pts, labels, core, ~core & (counts > 1), tree, eps)
    return labels, core
