"""Quadratic binning of weighted points onto a lattice, for the FFT path of :func:`kde`.

Each point spreads its weight over the 3 × 3 lattice nodes around its nearest node with the
tensor-product quadratic Lagrange weights: along x, for the offset ``u`` ∈ [−½, ½) from the
nearest node (in lattice steps), ``u(u − 1)/2``, ``1 − u²``, ``u(u + 1)/2`` to the nodes at
−1, 0, +1 (likewise along y). So for every function ``f`` that is a polynomial of degree ≤ 2
in each axis, ``Σ_nodes weight · f(node) = f(point)`` exactly: convolving the lattice with a
kernel sampled on it reproduces the exact kernel sum to third order. Linear binning (two nodes
per axis) is exact only to first order; its ``½ t(1 − t) s² K''`` bias is what the oversampled
lattice and second-moment corrections of earlier versions had to beat.

The weights can be negative (down to −1/8), so the lattice can hold small negative values;
they cancel in the convolution wherever the kernel is smooth.

One compiled pass over the points (numba): about three random cache lines per point, against
nine ``np.bincount`` passes for the same result in numpy. The numpy version is kept for
machines without numba and as the reference the compiled one is tested against.

>>> lat = bin_quadratic(np.array([[2.25, 2.0]]), None, origin=(0.0, 0.0), step=1.0, shape=(5, 5))
>>> float(lat.sum()), float((lat.sum(axis=0) * np.arange(5)).sum())   # mass and x-centre kept
(1.0, 2.25)
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Fewer points than this are binned on one thread: starting threads would cost more than it saves.
PARALLEL_MIN_POINTS = 200_000


def bin_quadratic(
    points: np.ndarray, weights, origin: tuple[float, float], step: float, shape: tuple[int, int], threads: int = 1
) -> np.ndarray:
    """Lattice of ``shape`` (NY, NX), float64, node ``(J, I)`` at ``origin + (I, J) · step``.

    ``points`` is a finite ``(n, 2)`` float64 array, ``weights`` None (all 1) or ``(n,)``.
    Points whose 3 × 3 stencil would leave the lattice are skipped: callers pad the lattice
    beyond the kernel's reach, where such points contribute nothing. ``threads`` > 1 splits
    the lattice into bands of rows, one thread each (every thread reads all points and writes
    only its own rows, so no two threads write the same node and nothing needs merging).
    """
    out = np.zeros(shape)
    w = np.empty(0) if weights is None else np.asarray(weights, dtype=np.float64)
    args = (points, w, float(origin[0]), float(origin[1]), 1.0 / float(step), out)
    compiled = _compiled()
    if compiled is None:
        _bin_numpy(*args)
    elif threads <= 1 or len(points) < PARALLEL_MIN_POINTS or shape[0] < 2 * threads:
        compiled(*args, 0, shape[0])
    else:
        cuts = np.linspace(0, shape[0], threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:  # the compiled loop releases the GIL (nogil)
            list(pool.map(lambda t: compiled(*args, cuts[t], cuts[t + 1]), range(threads)))
    return out


def _bin_loop(points, w, ox, oy, inv_step, out, row_lo, row_hi):
    """One pass: each point adds its 3 × 3 quadratic weights to rows ``row_lo`` ≤ r < ``row_hi``
    of ``out`` (compiled by numba)."""
    ny, nx = out.shape
    unit = w.shape[0] == 0
    for i in range(points.shape[0]):
        x = (points[i, 0] - ox) * inv_step
        y = (points[i, 1] - oy) * inv_step
        # Compare before casting: a far-away point's coordinate may not fit an integer.
        if not (x >= 0.5 and x < nx - 1.5 and y >= 0.5 and y < ny - 1.5):
            continue
        if not (y >= row_lo - 1.5 and y < row_hi + 0.5):  # no stencil row in this band
            continue
        col = int(x + 0.5)  # x, y >= 0.5 here: truncation is the floor
        row = int(y + 0.5)
        u = x - col
        v = y - row
        wi = 1.0 if unit else w[i]
        x0, x1, x2 = 0.5 * u * (u - 1.0), 1.0 - u * u, 0.5 * u * (u + 1.0)
        y0, y1, y2 = 0.5 * v * (v - 1.0) * wi, (1.0 - v * v) * wi, 0.5 * v * (v + 1.0) * wi
        for r, wy in ((row - 1, y0), (row, y1), (row + 1, y2)):
            if row_lo <= r < row_hi:
                out[r, col - 1] += x0 * wy
                out[r, col] += x1 * wy
                out[r, col + 1] += x2 * wy


def _bin_numpy(points, w, ox, oy, inv_step, out):
    """The same lattice as :func:`_bin_loop` with nine bincounts (several times slower)."""
    ny, nx = out.shape
    fx = (points[:, 0] - ox) * inv_step
    fy = (points[:, 1] - oy) * inv_step
    keep = (fx >= 0.5) & (fx < nx - 1.5) & (fy >= 0.5) & (fy < ny - 1.5)
    fx, fy = fx[keep], fy[keep]
    col, row = np.floor(fx + 0.5).astype(np.int64), np.floor(fy + 0.5).astype(np.int64)
    u, v = fx - col, fy - row
    wx = (0.5 * u * (u - 1.0), 1.0 - u * u, 0.5 * u * (u + 1.0))
    wy = (0.5 * v * (v - 1.0), 1.0 - v * v, 0.5 * v * (v + 1.0))
    if w.shape[0]:
        wy = tuple(a * w[keep] for a in wy)
    flat = out.reshape(-1)
    centre = row * nx + col
    for b in (-1, 0, 1):
        for a in (-1, 0, 1):
            flat += np.bincount(centre + b * nx + a, wx[a + 1] * wy[b + 1], flat.size)


@functools.cache
def _compiled():
    """The numba-compiled :func:`_bin_loop`, or None without numba.

    Imported here, not at the top: importing numba takes about half a second, and only large
    inputs take the FFT path (a municipality's week is summed directly). The machine code is
    cached on disk next to this file (``cache=True``): only the first run after an install
    compiles.
    """
    try:
        import numba  # noqa: PLC0415 - half a second to import, needed only by large inputs
    except ImportError:  # no numba wheel for this Python yet: the numpy path gives the same lattice
        return None
    return numba.njit(cache=True, nogil=True)(_bin_loop)
