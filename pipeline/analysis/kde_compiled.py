"""The loops of :func:`pipeline.analysis.kde.kde`, compiled with numba: quadratic binning onto
a lattice (the FFT path) and exact neighbourhood sums (the direct path).

**Quadratic binning.** Each point spreads its weight over the 3 × 3 lattice nodes around its
nearest node with the tensor-product quadratic Lagrange weights: along x, for the offset ``u``
∈ [−½, ½) from the nearest node (in lattice steps), ``u(u − 1)/2``, ``1 − u²``, ``u(u + 1)/2``
to the nodes at −1, 0, +1 (likewise along y). So for every function ``f`` that is a polynomial
of degree ≤ 2 in each axis, ``Σ_nodes weight · f(node) = f(point)`` exactly: convolving the
lattice with a kernel sampled on it reproduces the exact kernel sum to third order. Linear
binning (two nodes per axis) is exact only to first order; its ``½ t(1 − t) s² K''`` bias is
what the oversampled lattice and second-moment corrections of earlier versions had to beat.
The weights can be negative (down to −1/8), so the lattice can hold small negative values;
they cancel in the convolution wherever the kernel is smooth.

One compiled pass over the points: about three random cache lines per point, against nine
``np.bincount`` passes for the same result in numpy.

**Direct sums.** Each point adds the kernel to every cell centre within its support, row by
row over exactly the centres in reach (under 10 ns a pair, against some 100 in numpy).

Each loop has a numpy twin, used for small inputs (where importing numba, half a second,
would cost more than it saves), without numba, and as the reference the compiled loops are
tested against.

>>> lat = bin_quadratic(np.array([[2.25, 2.0]]), None, origin=(0.0, 0.0), step=1.0, shape=(5, 5))
>>> float(lat.sum()), float((lat.sum(axis=0) * np.arange(5)).sum())   # mass and x-centre kept
(1.0, 2.25)
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Fewer points than this run on one thread: starting threads would cost more than it saves.
PARALLEL_MIN_POINTS = 200_000
#: Direct sums over fewer (point, cell) pairs than this run in numpy (no numba import). numpy
#: costs about 100 ns a pair against under 10 compiled, so at this size one call in numpy costs
#: ~30 ms and some twenty of them (the time-of-day bins and recurrence weeks of one large week)
#: the half second of the import; a municipality's week stays far below it.
COMPILED_MIN_PAIRS = 300_000


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
    loop = _compiled()[0]
    if loop is None:
        _bin_numpy(*args)
    else:
        _in_bands(loop, args, shape[0], threads if len(points) >= PARALLEL_MIN_POINTS else 1)
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


def direct_sum(
    points: np.ndarray, weights, grid, bandwidth: float, kernel: str, radius: float, threads: int = 1
) -> np.ndarray:
    """``Σ w K(c − p)`` (per m²) at every cell centre ``c`` of ``grid``, shape ``(ny, nx)``.

    ``kernel`` is ``"quartic"`` or ``"gaussian"`` (the latter cut at ``radius``, as the FFT path
    does); ``threads`` > 1 splits the rows into bands, as :func:`bin_quadratic` does.
    """
    out = np.zeros((grid.ny, grid.nx))
    w = np.empty(0) if weights is None else np.asarray(weights, dtype=np.float64)
    args = (
        points,
        w,
        float(grid.x0),
        float(grid.y0),
        float(grid.cell),
        float(bandwidth),
        kernel == "quartic",
        float(radius),
        out,
    )
    pairs = len(points) * (2 * radius / grid.cell + 1) ** 2
    loop = _compiled()[1] if pairs >= COMPILED_MIN_PAIRS else None
    if loop is None:
        _direct_numpy(*args)
    else:
        _in_bands(loop, args, grid.ny, threads if len(points) >= PARALLEL_MIN_POINTS else 1)
    return out


def _in_bands(loop, args, rows: int, threads: int) -> None:
    """Run ``loop(*args, row_lo, row_hi)`` over all rows, in ``threads`` bands of rows at once."""
    if threads <= 1 or rows < 2 * threads:
        loop(*args, 0, rows)
        return
    cuts = np.linspace(0, rows, threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:  # the compiled loops release the GIL (nogil)
        list(pool.map(lambda t: loop(*args, cuts[t], cuts[t + 1]), range(threads)))


def _direct_loop(points, w, x0, y0, cell, h, quartic, radius, out, row_lo, row_hi):
    """Each point adds K to the centres of rows ``row_lo`` ≤ r < ``row_hi`` within ``radius``."""
    ny, nx = out.shape
    unit = w.shape[0] == 0
    h2, r2 = h * h, radius * radius
    quartic_norm, gauss_norm, gauss_scale = 3.0 / (math.pi * h2), 1.0 / (2.0 * math.pi * h2), 0.5 / h2
    for i in range(points.shape[0]):
        px, py = points[i, 0], points[i, 1]
        wi = 1.0 if unit else w[i]
        # Centres c = origin + (index + ½)·cell with |c − p| <= radius; clipped as floats first,
        # because a far-away point's index may not fit an integer.
        lo_y = min(max(math.ceil((py - radius - y0) / cell - 0.5), row_lo), row_hi)
        hi_y = min(max(math.floor((py + radius - y0) / cell - 0.5) + 1, row_lo), row_hi)
        for r in range(int(lo_y), int(hi_y)):
            dy = y0 + (r + 0.5) * cell - py
            rest = r2 - dy * dy
            if rest < 0.0:
                continue
            half = math.sqrt(rest)
            lo_x = min(max(math.ceil((px - half - x0) / cell - 0.5), 0.0), nx)
            hi_x = min(max(math.floor((px + half - x0) / cell - 0.5) + 1, 0.0), nx)
            for c in range(int(lo_x), int(hi_x)):
                dx = x0 + (c + 0.5) * cell - px
                d2 = dx * dx + dy * dy
                if quartic:
                    if d2 < h2:
                        u = 1.0 - d2 / h2
                        out[r, c] += wi * quartic_norm * u * u
                elif d2 <= r2:
                    out[r, c] += wi * gauss_norm * math.exp(-d2 * gauss_scale)


def _direct_numpy(points, w, x0, y0, cell, h, quartic, radius, out):
    """The same sums as :func:`_direct_loop`, vectorised over each point's square of cells."""
    ny, nx = out.shape
    w = np.ones(len(points)) if w.shape[0] == 0 else w
    reach = int(math.ceil(radius / cell)) + 1
    col = np.floor((points[:, 0] - x0) / cell)
    row = np.floor((points[:, 1] - y0) / cell)
    near = (col >= -reach) & (col < nx + reach) & (row >= -reach) & (row < ny + reach)  # before the cast
    points, w, row, col = points[near], w[near], row[near].astype(np.int64), col[near].astype(np.int64)
    off = np.arange(-reach, reach + 1)
    dr, dc = (a.ravel() for a in np.meshgrid(off, off, indexing="ij"))
    flat = out.reshape(-1)
    chunk = max(1, 4_000_000 // dr.size)
    for i in range(0, len(points), chunk):
        r = row[i : i + chunk, None] + dr[None, :]
        c = col[i : i + chunk, None] + dc[None, :]
        ok = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
        p = np.broadcast_to(points[i : i + chunk, None, :], r.shape + (2,))[ok]
        d2 = (x0 + (c[ok] + 0.5) * cell - p[:, 0]) ** 2 + (y0 + (r[ok] + 0.5) * cell - p[:, 1]) ** 2
        if quartic:
            kv = np.where(d2 < h * h, 3.0 / (np.pi * h * h) * np.maximum(1.0 - d2 / (h * h), 0.0) ** 2, 0.0)
        else:
            kv = np.where(d2 <= radius * radius, np.exp(-d2 / (2.0 * h * h)) / (2.0 * np.pi * h * h), 0.0)
        wt = np.broadcast_to(w[i : i + chunk, None], r.shape)[ok]
        flat += np.bincount(r[ok] * nx + c[ok], kv * wt, flat.size)


@functools.cache
def _compiled():
    """The numba-compiled ``(_bin_loop, _direct_loop)``, or ``(None, None)`` without numba.

    Imported here, not at the top: importing numba takes about half a second, more than a small
    input costs in numpy. The machine code is cached on disk next to this file (``cache=True``):
    only the first run after an install compiles.
    """
    try:
        import numba  # noqa: PLC0415 - half a second to import, worth it only for large inputs
    except ImportError:  # no numba wheel for this Python yet: the numpy twins give the same result
        return None, None
    jit = numba.njit(cache=True, nogil=True)
    return jit(_bin_loop), jit(_direct_loop)
