"""Kernel density on an anchored grid (EPSG:3006 metres), fast and accurate.

Density is in **events per km²** at cell centres: ``1e6 · Σ wᵢ K(|c − pᵢ|)``.

Kernels (bandwidth ``h`` in metres, each integrates to 1 over the plane):

- ``quartic`` (biweight, as ArcGIS / crime analysis): ``3/(π h²) · (1 − d²/h²)²`` for ``d < h``;
- ``gaussian``: ``1/(2π h²) · exp(−d²/(2h²))`` (``h`` = standard deviation), truncated at
  ``GAUSS_TRUNCATE · h`` in the convolution (5h: the dropped tail is < 4e-6 of the peak; 4h
  gave ~1 % errors in sparse tails).

Method (:func:`kde`): *quadratic* binning of the points onto a lattice of spacing
``s = cell/k`` (:mod:`pipeline.analysis.kde_compiled`: each point spreads over the 3 × 3 nodes
around it with Lagrange weights, exact for every polynomial of degree ≤ 2 per axis, so the
binned sum matches the exact one to third order — linear binning is exact only to first order
and leaves a ``½ t(1 − t) s² K''`` bias), then FFT convolution with the kernel sampled on the
lattice, evaluated only at the cell centres: the lattice is split into its k² sub-cell phases,
each convolved on the coarse grid with the kernel sampled at that phase's offsets (cached
spectra), and the spectra summed before one inverse FFT. One pass over the points and k²
coarse FFTs; ``THREADS`` sets the threads of both.

The Gaussian is smooth, so ``h ≥ 3 s`` suffices. The quartic's second derivative jumps at
``d = h``: where a point's 3 × 3 stencil straddles that edge no polynomial binning is exact,
and the error there shrinks only with the step. ``k`` is the smallest *odd* integer with
``h / s ≥ MIN_STEPS[kernel]``. Odd, so that cell centres are lattice nodes: for a bandwidth
of a whole number of cells (the usual configuration) the quartic's edge then passes through
nodes along the axes. Even ``k`` puts it midway between nodes, and on real Chicago data that
doubled or tripled the worst errors at the same step (h = 3 cells: 2.95 % at k = 10, 0.89 %
at k = 11). With 30 nodes per bandwidth an isolated point's kernel stays within 0.75 % (any
position in its cell) wherever it is above 1 % of its peak.

``method="auto"`` (default) sums the kernel exactly over each point's neighbourhood when that
costs less than the FFT path by a simple cost model (pairs in reach against points binned and
lattice nodes: a municipality's week, or a city's year at a small bandwidth), and uses the FFT
path otherwise.

FFT accuracy promise (tested against :func:`exact_kde` on clustered synthetic data, real
Chicago/Vancouver data and single points anywhere in a cell): max relative error < 1 % in
every cell whose exact density is above 1 % of the maximum, for ``h ≥ 2`` cells. Caveat: a
heavy point-like cluster whose quartic edge runs through cells held just above 1 % by *other*
events can exceed that there (the edge error is a fraction of a per cent of the cluster's
own peak); pass ``oversample=`` to buy more accuracy.

Rows: ``values[0]`` is the **southernmost** row (y grows with the row index, like the maths);
rasters are stored north-up, so write ``grid.to_north_up(values)`` with ``grid.transform``.

Example
-------
>>> import numpy as np
>>> pts = np.array([[507_240.0, 6_465_010.0], [507_300.0, 6_465_050.0]])
>>> g = Grid.anchored((507_000, 6_464_800, 507_500, 6_465_300), cell=50, pad=500)
>>> d = kde(pts, g, bandwidth=200)
>>> round(float(d.sum() * (g.cell / 1000) ** 2), 2)   # integrates to n events
2.0
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np
from scipy import fft as sfft

from pipeline.analysis.grid import Grid
from pipeline.analysis.grid import as_points as _as_points
from pipeline.analysis.kde_compiled import bin_quadratic, direct_sum

KERNELS = ("quartic", "gaussian")
#: Gaussian kernel truncation radius in bandwidths (see module docstring).
GAUSS_TRUNCATE = 5.0
#: Minimum lattice nodes per bandwidth (h / s) for the accuracy promise; sets oversampling.
MIN_STEPS = {"quartic": 30.0, "gaussian": 3.0}
#: Never oversample into a lattice larger than this many nodes (memory: the lattice and the cached
#: kernel spectra, 8 bytes a node each).
MAX_FINE_NODES = 2**25
#: Cost model of ``method="auto"``, in nanoseconds on one core of the bench machine (compiled
#: loops): an exact direct sum per (point, cell centre) pair in reach; the FFT path per point
#: binned and per lattice node (zeroing, FFT and spectral sum). Only the ratios matter.
DIRECT_NS_PER_PAIR = 8.0
FFT_NS_PER_POINT = 25.0
FFT_NS_PER_NODE = 20.0
#: Smallest accepted bandwidth in cells; below one cell a density surface is meaningless.
MIN_BANDWIDTH_CELLS = 1.0
#: Threads for the FFT path's binning and FFTs (-1 = every core).
THREADS = -1


# -- validation helpers ------------------------------------------------------------------------


def _as_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and >= 0")
    return w


def _check_kernel(kernel: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")


def _check_bandwidth(bandwidth) -> float:
    h = float(bandwidth)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"bandwidth must be a positive number of metres, got {bandwidth!r}")
    return h


def support_radius(bandwidth: float, kernel: str) -> float:
    """Distance beyond which the kernel is (treated as) zero, in metres."""
    _check_kernel(kernel)
    return bandwidth if kernel == "quartic" else GAUSS_TRUNCATE * bandwidth


# -- kernels -----------------------------------------------------------------------------------
def kernel_value(d2: np.ndarray, bandwidth: float, kernel: str) -> np.ndarray:
    """K at squared distance ``d2`` (m²), per m² (integrates to 1). No truncation."""
    h2 = bandwidth * bandwidth
    if kernel == "quartic":
        u = d2 / h2
        return np.where(u < 1.0, 3.0 / (np.pi * h2) * (1.0 - u) ** 2, 0.0)
    return np.exp(-d2 / (2.0 * h2)) / (2.0 * np.pi * h2)


def oversampling(bandwidth: float, cell: float, kernel: str, n_cells: int = 1) -> int:
    """Odd sub-cell factor k (lattice step ``cell / k``) so that ``bandwidth / step >= MIN_STEPS[kernel]``.

    Odd: cell centres are lattice nodes (see the module docstring). Capped so the lattice stays
    under ``MAX_FINE_NODES`` (accuracy then degrades gracefully rather than running out of memory).

    >>> oversampling(100, 50, "quartic"), oversampling(500, 50, "quartic"), oversampling(150, 50, "gaussian")
    (15, 3, 1)
    """
    k = max(1, math.ceil(MIN_STEPS[kernel] * cell / bandwidth))
    k += (k + 1) % 2
    while k > 1 and n_cells * k * k > MAX_FINE_NODES:
        k -= 2
    return k


# -- binning + FFT -----------------------------------------------------------------------------
# The lattice (spacing s = cell/k, k² nodes per cell) is FFT-convolved in *phase layout*:
# a[py, px, qy, qx] is node (qy·k + py, qx·k + px). The density at a cell centre is the sum over
# the k² phases of an ordinary coarse-grid convolution of that phase's mass with the kernel
# sampled at that phase's offsets from the centre: k² small FFTs, summed in the spectrum before
# one inverse FFT, and nothing is computed at nodes that are not read back.


@functools.lru_cache(maxsize=8)
def _phase_spectra(bandwidth: float, kernel: str, cell: float, k: int, ny: int, nx: int) -> np.ndarray:
    """rfft2 of the kernel sampled for each phase, wrapped on the (ny, nx) coarse torus.

    Cached: every time-of-day bin of a run shares the grid and bandwidth.
    """
    step = cell / k
    reach = int(math.ceil(support_radius(bandwidth, kernel) / cell)) + 1  # lags with a nonzero sample
    m = np.arange(-reach, reach + 1)
    # offsets[p, j]: a cell centre minus the node of phase p in the coarse cell m[j] cells behind
    offsets = m[None, :] * cell + ((k - 1) / 2 - np.arange(k))[:, None] * step
    x, y = offsets[None, :, None, :], offsets[:, None, :, None]
    d2 = x * x + y * y
    samples = kernel_value(d2, bandwidth, kernel)  # (k, k, 2r+1, 2r+1)
    if kernel == "gaussian":  # the same truncation as the direct path
        samples = np.where(d2 <= (GAUSS_TRUNCATE * bandwidth) ** 2, samples, 0.0)
    lattice = np.zeros((k, k, ny, nx))
    lattice[:, :, (m % ny)[:, None], (m % nx)[None, :]] = samples
    return sfft.rfft2(lattice, axes=(-2, -1), workers=THREADS)


def kde(
    points,
    grid: Grid,
    bandwidth: float,
    kernel: str = "quartic",
    weights=None,
    oversample: int | None = None,
    method: str = "auto",
) -> np.ndarray:
    """Kernel density at the cell centres of ``grid``, events/km², shape ``(ny, nx)``, row 0 south.

    ``method``: ``"fft"`` (binning + FFT), ``"direct"`` (exact neighbourhood sums) or
    ``"auto"`` (direct where it is cheaper, see :func:`_direct_is_cheaper`).
    ``oversample`` (int >= 1, FFT only) overrides the automatic sub-cell factor (see :func:`oversampling`).
    Points outside the grid contribute to every centre within the kernel's reach.

    >>> g = Grid(0, 0, 10, 40, 40)
    >>> d = kde(np.array([[200.0, 200.0]]), g, bandwidth=100)
    >>> round(float(d.max()), 1), round(3e6 / (np.pi * 100**2), 1)   # peak of one quartic kernel
    (94.5, 95.5)
    """
    pts = _as_points(points)
    w = None if weights is None else _as_weights(weights, len(pts))
    _check_kernel(kernel)
    h = _check_bandwidth(bandwidth)
    if not isinstance(grid, Grid):
        raise ValueError(f"grid must be a Grid, got {type(grid).__name__}")
    if h < MIN_BANDWIDTH_CELLS * grid.cell:
        raise ValueError(
            f"bandwidth {h:g} m is below {MIN_BANDWIDTH_CELLS:g} cell ({grid.cell:g} m); "
            "use resolve_bandwidth() or a smaller cell_size_m"
        )
    if method not in ("auto", "fft", "direct"):
        raise ValueError(f"method must be 'auto', 'fft' or 'direct', got {method!r}")
    k = oversampling(h, grid.cell, kernel, grid.nx * grid.ny) if oversample is None else oversample
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"oversample must be an integer >= 1, got {oversample!r}")
    if len(pts) == 0:
        return np.zeros(grid.shape)
    if method == "direct" or (method == "auto" and _direct_is_cheaper(len(pts), grid, h, kernel, k)):
        radius = support_radius(h, kernel)
        return direct_sum(pts, w, grid, h, kernel, radius, threads=_threads()) * 1e6
    return _fft(pts, w, grid, h, kernel, k)


def _direct_is_cheaper(n: int, grid: Grid, h: float, kernel: str, k: int) -> bool:
    """The cost model of ``method="auto"``: pairs in reach against points binned and lattice nodes."""
    pairs = n * math.pi * (support_radius(h, kernel) / grid.cell) ** 2
    pad = 2 * (math.ceil(support_radius(h, kernel) / grid.cell) + 2)
    nodes = k * k * (grid.nx + pad) * (grid.ny + pad)
    return pairs * DIRECT_NS_PER_PAIR <= n * FFT_NS_PER_POINT + nodes * FFT_NS_PER_NODE


def _threads() -> int:
    return (os.cpu_count() or 1) if THREADS == -1 else THREADS


def _fft(pts, w, grid: Grid, h: float, kernel: str, k: int) -> np.ndarray:
    """Quadratic binning on a lattice of spacing cell/k, one FFT convolution per sub-cell phase."""
    step = grid.cell / k
    pad = int(math.ceil(support_radius(h, kernel) / grid.cell)) + 2  # coarse cells
    # Cyclic convolution of this size never wraps into the cells we read back (pad > reach).
    ny = sfft.next_fast_len(grid.ny + 2 * pad, real=True)
    nx = sfft.next_fast_len(grid.nx + 2 * pad, real=True)
    # Node (J, I) is the centre of sub-cell (J mod k, I mod k) of padded coarse cell (J // k, I // k).
    origin = (grid.x0 - pad * grid.cell + 0.5 * step, grid.y0 - pad * grid.cell + 0.5 * step)
    if w is not None and np.all(w == 1.0):
        w = None
    lattice = bin_quadratic(pts, w, origin, step, (ny * k, nx * k), threads=_threads())
    by_phase = lattice.reshape(ny, k, nx, k)  # [qy, py, qx, px]
    spectra = _phase_spectra(h, kernel, grid.cell, k, ny, nx)
    spectrum = 0
    for py in range(k):  # one row of phases at a time: a k-th of the spectra in memory at once
        phases = sfft.rfft2(by_phase[:, py].transpose(2, 0, 1), axes=(-2, -1), workers=THREADS)
        spectrum = spectrum + np.einsum("aij,aij->ij", phases, spectra[py])
    dens = sfft.irfft2(spectrum, s=(ny, nx), workers=THREADS)
    out = dens[pad : pad + grid.ny, pad : pad + grid.nx] * 1e6
    # FFT round-off leaves ~1e-16·max noise where the density is 0, and the quadratic weights'
    # negative lobes tiny negatives just beyond a kernel's edge: both are zero in the exact sum.
    out[out < 1e-12 * max(out.max(), 0.0)] = 0.0
    return np.ascontiguousarray(out)


# -- reference ---------------------------------------------------------------------------------
def exact_kde_at(
    points, centres, bandwidth: float, kernel: str = "quartic", weights=None, chunk: int = 2_000_000
) -> np.ndarray:
    """Exact density (events/km²) at arbitrary ``centres`` (m, 2) by direct summation.

    The Gaussian is *not* truncated here, so this is the reference :func:`kde` is measured against.

    >>> round(float(exact_kde_at([[0, 0]], [[0, 0]], 100)[0]), 2)
    95.49
    """
    pts = _as_points(points)
    cen = _as_points(centres)
    w = _as_weights(weights, len(pts))
    _check_kernel(kernel)
    h = _check_bandwidth(bandwidth)
    out = np.zeros(len(cen))
    if len(pts) == 0 or len(cen) == 0:
        return out
    # Brute force, ``chunk`` pairs at a time, for the Gaussian (no finite reach) and for few points
    # (vectorised over many centres at once, it beats per-centre look-ups).
    if kernel == "gaussian" or len(pts) <= 20_000:
        step = max(1, chunk // len(pts))
        for i in range(0, len(cen), step):
            c = cen[i : i + step]
            d2 = (c[:, None, 0] - pts[None, :, 0]) ** 2 + (c[:, None, 1] - pts[None, :, 1]) ** 2
            out[i : i + step] = kernel_value(d2, h, kernel) @ w
        return out * 1e6
    # Quartic, many pairs: only points within h in x can reach a centre; sorted by x, they are a slice.
    order = np.argsort(pts[:, 0], kind="stable")
    xs, ys, ws = pts[order, 0], pts[order, 1], w[order]
    lo = np.searchsorted(xs, cen[:, 0] - h, side="left")
    hi = np.searchsorted(xs, cen[:, 0] + h, side="right")
    for i, (cx, cy) in enumerate(cen):
        d2 = (xs[lo[i] : hi[i]] - cx) ** 2 + (ys[lo[i] : hi[i]] - cy) ** 2
        out[i] = kernel_value(d2, h, kernel) @ ws[lo[i] : hi[i]]
    return out * 1e6


def exact_kde(points, xs, ys, bandwidth: float, kernel: str = "quartic", weights=None) -> np.ndarray:
    """Exact density on the lattice ``xs × ys`` (1-D axes), shape ``(len(ys), len(xs))``.

    >>> exact_kde([[0, 0]], np.array([0.0, 50.0]), np.array([0.0]), 100).round(2).tolist()
    [[95.49, 53.71]]
    """
    xs = np.asarray(xs, dtype=np.float64).ravel()
    ys = np.asarray(ys, dtype=np.float64).ravel()
    gx, gy = np.meshgrid(xs, ys)
    vals = exact_kde_at(points, np.column_stack((gx.ravel(), gy.ravel())), bandwidth, kernel, weights)
    return vals.reshape(len(ys), len(xs))


# -- bandwidth ---------------------------------------------------------------------------------
def silverman_bandwidth(points) -> float:
    """Spatial Silverman rule as ArcGIS uses it, in metres.

    ``0.9 · min(SD, sqrt(1/ln 2) · Dm) · n^-0.2`` with SD the standard distance and Dm the
    median distance to the mean centre (the median makes it robust to outliers). If more than
    half the points share one location (Dm = 0: common when many events are geocoded to the
    same place) SD is used alone. Raises ValueError when n < 2 or all points coincide; the
    caller then falls back to a minimum (see :func:`resolve_bandwidth`).

    >>> round(silverman_bandwidth([[0, 0], [100, 0], [0, 100], [100, 100]]), 2)  # 0.9·70.71·4^-0.2
    48.23
    """
    pts = _as_points(points)
    n = len(pts)
    if n < 2:
        raise ValueError(f"the Silverman bandwidth needs at least 2 points, got {n}")
    dist = np.hypot(*(pts - pts.mean(axis=0)).T)
    sd = math.sqrt(float(np.mean(dist**2)))
    dm = math.sqrt(1.0 / math.log(2.0)) * float(np.median(dist))
    spread = min(sd, dm) if dm > 0 else sd
    if spread <= 0:
        raise ValueError("all points are at the same location; the Silverman bandwidth is undefined")
    return 0.9 * spread * n**-0.2


def resolve_bandwidth(points, configured, cell_size: float, minimum: float | None = None) -> float:
    """Bandwidth in metres from config (a number or ``"auto"``), never below 2 cells or ``minimum``.

    ``"auto"`` uses :func:`silverman_bandwidth`; when that is undefined (fewer than 2 distinct
    locations) the floor is used.

    >>> resolve_bandwidth([[0, 0]], "auto", 50), resolve_bandwidth([], 300, 50, minimum=400)
    (100.0, 400.0)
    """
    cell = _check_bandwidth(cell_size)
    floor = 2.0 * cell
    if minimum is not None:
        floor = max(floor, _check_bandwidth(minimum))
    if configured == "auto":
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        try:
            h = silverman_bandwidth(pts)
        except ValueError:
            h = floor
    elif isinstance(configured, str):
        raise ValueError(f"bandwidth must be a number of metres or 'auto', got {configured!r}")
    else:
        h = _check_bandwidth(configured)
    return float(max(h, floor))
