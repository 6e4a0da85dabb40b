"""KDE benchmark: ours against KDEpy ``FFTKDE`` and scikit-learn ``KernelDensity``, like for like.

Problems (each measured by bench/harness.py: probe per method, then alternating timed rounds):

- ``national-quartic``: 1.5 M synthetic events over Sweden (SWEREF 99 TM), a 500 × 500 grid of
  3.2 km cells, quartic kernel of radius h = 32 km (10 cells);
- ``national-gaussian``: the same events and grid, Gaussian kernel with σ = 32 km;
- ``chicago-quartic``: the 148,636 real Chicago aggravated assaults (UTM 16N), 100 m cells,
  quartic h = 500 m (5 cells).

Methods, all returning the density at the same cells:

- ``limit``: the physical limit: one ``np.bincount`` of the points into the grid's cells plus
  one real FFT convolution with the kernel sampled at cell centres (what any binned FFT method
  must at least do; its error is the price of nearest-cell binning);
- ours as the pipeline calls it (``method="auto"``: exact sums where the cost model finds them
  cheaper, else the FFT path on the odd lattice with step ≤ h / 30 for the quartic), on every
  core and on one, and the FFT path on forced lattices to line up with KDEpy's;
- KDEpy ``FFTKDE`` (linear binning, one FFT, one thread) on the grid's cell centres and on
  finer lattices whose nodes include the cell centres (odd factors): same grid, same lattice,
  and a lattice fine enough to reach the accuracy of ours;
- scikit-learn ``KernelDensity`` (a tree; Gaussian only: it has no quartic/biweight kernel)
  with its tolerance stated, timed on a sample of cells and scaled to the whole grid.

Accuracy: max relative error against :func:`exact_kde_at` (direct summation, untruncated) on
the same sample of cells, drawn among those whose density is above 1 % of the maximum.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from bench.harness import Method, Problem, measure
from pipeline.analysis import kde as kde_module
from pipeline.analysis.grid import Grid
from pipeline.analysis.kde import exact_kde_at, kde, oversampling, support_radius

ROOT = Path(__file__).resolve().parents[1]
REAL = next(
    (
        d
        for d in (ROOT.parent / "shared" / "data" / "real", Path("/work/shared/data/real"))
        if (d / "chicago_aggravated_assaults.csv.gz").exists()
    ),
    None,
)
#: Cells where the accuracy is checked (a seeded sample of those above 1 % of the maximum); fewer
#: for the Gaussian, whose exact sum at a cell takes every point.
CHECK_CELLS = {"quartic": 1000, "gaussian": 200}
#: scikit-learn is evaluated on this many of the check cells; its time is scaled to the grid.
SKLEARN_CELLS = 100


# -- data --------------------------------------------------------------------------------------------
def national_points():
    """1.5 M seeded events around 300 towns of Zipf-like sizes, and the 500 × 500 grid."""
    rng = np.random.default_rng(2026)
    n, towns = 1_500_000, 300
    centres = np.column_stack((rng.uniform(320e3, 880e3, towns), rng.uniform(6.16e6, 7.55e6, towns)))
    size = rng.pareto(1.2, towns) + 1
    idx = rng.choice(towns, n, p=size / size.sum())
    spread = rng.choice([400.0, 1500.0, 6000.0], n, p=[0.5, 0.35, 0.15])
    pts = centres[idx] + rng.normal(size=(n, 2)) * spread[:, None]
    cell = 3200.0
    lo = np.floor(pts.min(0) / cell) * cell - 10 * cell
    grid = Grid(float(lo[0]), float(lo[1]), cell, 500, 500)
    inside = (pts[:, 0] < grid.bounds[2] - 10 * cell) & (pts[:, 1] < grid.bounds[3] - 10 * cell)
    return np.ascontiguousarray(pts[inside]), grid


def chicago_points():
    import pandas as pd
    from pyproj import Transformer

    df = pd.read_csv(REAL / "chicago_aggravated_assaults.csv.gz", usecols=["longitude", "latitude"]).dropna()
    x, y = Transformer.from_crs(4326, 26916, always_xy=True).transform(df.longitude.to_numpy(), df.latitude.to_numpy())
    pts = np.column_stack((x, y))
    return pts, Grid.anchored((*pts.min(0), *pts.max(0)), 100.0, pad=1000.0)


CASES = {
    # name: (points loader, kernel, bandwidth m, KDEpy lattice factors, forced lattices of ours)
    "national-quartic": (national_points, "quartic", 32_000.0, (1, 3, 5), (1,)),
    "national-gaussian": (national_points, "gaussian", 32_000.0, (1, 3), ()),
    "chicago-quartic": (chicago_points, "quartic", 500.0, (1, 7), (1,)),
}


def load(name: str) -> dict:
    """Points, grid, kernel, bandwidth and the seeded check cells (flat indices) of a case."""
    loader, kernel, h, _, _ = CASES[name]
    pts, grid = loader()
    dens = kde(pts, grid, h, kernel, method="fft")
    hot = np.flatnonzero(dens.ravel() > 0.01 * dens.max())
    cells = np.random.default_rng(0).choice(hot, min(CHECK_CELLS[kernel], len(hot)), replace=False)
    return {"points": pts, "grid": grid, "kernel": kernel, "h": h, "cells": cells}


def cell_centres(grid: Grid, cells: np.ndarray) -> np.ndarray:
    xs, ys = grid.centres()
    return np.column_stack((xs[cells % grid.nx], ys[cells // grid.nx]))


# -- methods -----------------------------------------------------------------------------------------
def _limit(d):
    """Nearest-cell bincount + one rfft2/irfft2 with the kernel sampled at cell centres."""
    from scipy import fft as sfft

    pts, grid, h, kernel = d["points"], d["grid"], d["h"], d["kernel"]
    pad = int(math.ceil(support_radius(h, kernel) / grid.cell)) + 2
    ny, nx = (sfft.next_fast_len(n + 2 * pad, real=True) for n in (grid.ny, grid.nx))
    spectrum = kde_module._phase_spectra(h, kernel, grid.cell, 1, ny, nx)[0, 0]  # set-up, not timed

    def call():
        col = ((pts[:, 0] - grid.x0) / grid.cell).astype(np.int64) + pad
        row = ((pts[:, 1] - grid.y0) / grid.cell).astype(np.int64) + pad
        counts = np.bincount(row * nx + col, minlength=ny * nx).reshape(ny, nx)
        dens = sfft.irfft2(sfft.rfft2(counts, workers=-1) * spectrum, s=(ny, nx), workers=-1)
        return dens[pad : pad + grid.ny, pad : pad + grid.nx].ravel()[d["cells"]] * 1e6

    return call


def _ours(oversample=None, threads=-1, method="auto"):
    def make(d):
        from pipeline.analysis import kde_compiled

        kde_compiled._compiled()  # imports numba (compiling happens, or is loaded, in the first call)

        def call():
            saved, kde_module.THREADS = kde_module.THREADS, threads
            try:
                dens = kde(d["points"], d["grid"], d["h"], d["kernel"], oversample=oversample, method=method)
            finally:
                kde_module.THREADS = saved
            return dens.ravel()[d["cells"]]

        return call

    return make


def _kdepy(factor: int):
    """KDEpy FFTKDE on the lattice of ``factor`` × ``factor`` nodes per cell (odd: centres are nodes)."""

    def make(d):
        from KDEpy import FFTKDE

        grid, h, kernel = d["grid"], d["h"], d["kernel"]
        step = grid.cell / factor
        xs = grid.x0 + (np.arange(grid.nx * factor) + 0.5) * step
        ys = grid.y0 + (np.arange(grid.ny * factor) + 0.5) * step
        nodes = np.column_stack([a.ravel() for a in np.meshgrid(xs, ys, indexing="ij")]) / 1000  # x-major
        # KDEpy scales every kernel to unit 1-D standard deviation, also in 2-D: its biweight with
        # bw = 1 has radius √7. So the quartic of radius h is bw = h/√7; the Gaussian's bw is σ.
        # In km: KDEpy's numeric support solver fails for the Gaussian at bw ~ 1e4 (metres).
        bw = (h / math.sqrt(7.0) if kernel == "quartic" else h) / 1000
        name = "biweight" if kernel == "quartic" else "gaussian"
        points_km = d["points"] / 1000
        centre = (factor - 1) // 2
        cells = d["cells"]
        flat = (cells % grid.nx * factor + centre) * (grid.ny * factor) + cells // grid.nx * factor + centre

        def call():
            dens = FFTKDE(kernel=name, bw=bw).fit(points_km).evaluate(nodes)
            return dens[flat] * len(points_km)  # per km² already

        return call

    return make


def _sklearn(rtol: float):
    """The tree is built in the set-up (its time is returned with the output); the call evaluates
    ``SKLEARN_CELLS`` cells, so its time scales to the grid by ``cells / SKLEARN_CELLS``."""

    def make(d):
        import time

        from sklearn.neighbors import KernelDensity

        centres = cell_centres(d["grid"], d["cells"][:SKLEARN_CELLS])
        t = time.perf_counter()
        est = KernelDensity(kernel="gaussian", bandwidth=d["h"], rtol=rtol).fit(d["points"])
        fit_s = time.perf_counter() - t

        def call():
            return {"values": np.exp(est.score_samples(centres)) * len(d["points"]) * 1e6, "fit_s": fit_s}

        return call

    return make


def _methods(name: str) -> dict[str, Method]:
    _, kernel, h, kdepy_factors, forced = CASES[name]
    peer_kernel = "biweight" if kernel == "quartic" else "gaussian"
    methods = {"limit": Method("physical limit: bincount + one FFT", 2, _limit, f"{kernel}, nearest cell")}
    methods["ours"] = Method("lägesbild kde (method auto)", 2, _ours(), kernel)
    methods["ours-1t"] = Method("lägesbild kde (method auto), 1 thread", 1, _ours(threads=1), kernel)
    if _direct_is_cheaper(name):
        methods["ours-fft"] = Method("lägesbild kde, FFT path", 2, _ours(method="fft"), kernel)
    for k in forced:
        methods[f"ours-k{k}"] = Method(f"lägesbild kde, FFT path, lattice ×{k}", 2, _ours(k, method="fft"), kernel)
    for f in kdepy_factors:
        methods[f"kdepy-k{f}"] = Method(
            f"KDEpy FFTKDE {peer_kernel}, lattice ×{f}",
            1,
            _kdepy(f),
            f"{peer_kernel} = {kernel}" + (" (bw = h/√7)" if kernel == "quartic" else ""),
        )
    if kernel == "gaussian":
        for rtol in (1e-3, 1e-4):
            methods[f"sklearn-{rtol:g}"] = Method(
                f"scikit-learn KernelDensity gaussian, rtol={rtol:g}",
                1,
                _sklearn(rtol),
                f"kd_tree, atol=0, rtol={rtol:g}",
            )
    return methods


def problem(name: str) -> Problem:
    return Problem(name, lambda: load(name), _methods(name), repeats=7, budget_s=90.0)


# -- rows ----------------------------------------------------------------------------------------------
@functools.cache
def _direct_is_cheaper(name: str) -> bool:
    """Does ``method="auto"`` sum exactly on this case (the cost model in kde.py)?"""
    loader, kernel, h, _, _ = CASES[name]
    pts, grid = loader()
    return kde_module._direct_is_cheaper(len(pts), grid, h, kernel, oversampling(h, grid.cell, kernel))


def _lattice(name: str, key: str, grid: Grid, h: float, kernel: str) -> str:
    """What a method computes on: the cells, a lattice ×k, or exact sums."""
    if key in ("ours", "ours-1t") and _direct_is_cheaper(name):
        return "exact sums"
    if key.startswith(("ours-k", "kdepy-k")):
        k = int(key.rsplit("k", 1)[1])
    elif key.startswith("ours"):
        k = oversampling(h, grid.cell, kernel, grid.nx * grid.ny)
    else:
        k = 1
    return f"×{k} ({grid.nx * k}×{grid.ny * k})" if k > 1 else "cells"


def run(cases=tuple(CASES)) -> list[dict]:
    rows = []
    for name in cases:
        if name.startswith("chicago") and REAL is None:
            continue
        d = load(name)
        grid, h, kernel = d["grid"], d["h"], d["kernel"]
        exact = exact_kde_at(d["points"], cell_centres(grid, d["cells"]), h, kernel)
        results = measure("bench.kde_bench", problem(name))
        for key, m in results.items():
            method = problem(name).methods[key]
            k = _lattice(name, key, grid, h, kernel)
            err, note = None, m.note
            scale = 1.0
            fit_s = 0.0
            if m.ok and key.startswith("sklearn"):
                fit_s, m.output = m.output["fit_s"], m.output["values"]
                scale = grid.nx * grid.ny / SKLEARN_CELLS
                note = (
                    f"tree built once ({fit_s:.2f} s, added); evaluated on {SKLEARN_CELLS} cells, "
                    f"times ×{scale:,.0f} to the whole grid; error on those cells"
                ) + (f"; {note}" if note else "")
            if m.ok:
                got = np.asarray(m.output)
                err = float(np.max(np.abs(got - exact[: len(got)]) / exact[: len(got)]))
            timing = {
                key_: (fit_s + v * scale if key_ in ("median_s", "min_s", "max_s", "first_s") and v is not None else v)
                for key_, v in m.timing().items()
            }
            rows.append(
                {
                    "task": f"kde {name}",
                    "method": method.label,
                    "n": len(d["points"]),
                    "grid": f"{grid.nx}×{grid.ny} @ {grid.cell:g} m",
                    "lattice": k,
                    "params": f"{method.params}, h = {h:g} m",
                    "threads": method.threads,
                    **timing,
                    "max_rel_err": err,
                    "note": note,
                }
            )
    return rows


if __name__ == "__main__":
    import sys

    from bench.run import table

    print(table(run(tuple(sys.argv[1:]) or tuple(CASES))))
