"""KDE benchmark: ours (binning + FFT) vs KDEpy.FFTKDE vs sklearn KernelDensity.

Each method runs in a fresh subprocess (``python -m bench.kde_bench METHOD DATASET OUT``) so
its peak memory (tracemalloc peak of the method's allocations, numpy buffers included) is not
polluted by the others.
Accuracy: max relative error vs :func:`exact_kde_at` on ~500 cells above 1 % of the max.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from pipeline.analysis.kde import Grid, exact_kde_at, kde

REAL = Path(__file__).resolve().parents[1].parent / "shared/data/real"
SK_SAMPLE = 2000  # sklearn: cells actually evaluated, time extrapolated to the whole grid


def load(dataset: str):
    """(points, grid, bandwidth) for a dataset name."""
    if dataset == "chicago":
        import pandas as pd
        from pyproj import Transformer

        df = pd.read_csv(REAL / "chicago_aggravated_assaults.csv.gz")
        x, y = Transformer.from_crs(4326, 26916, always_xy=True).transform(df.longitude.values, df.latitude.values)
        pts = np.column_stack((x, y))
        return pts, Grid.anchored((*pts.min(0), *pts.max(0)), 100, pad=1000), 500.0
    rng = np.random.default_rng(2026)  # synthetic national year, SWEREF 99 TM
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
    return pts[inside], grid, 32_000.0


def _kdepy(pts, grid, h, kernel):
    from KDEpy import FFTKDE

    xs, ys = grid.centres()
    gp = np.column_stack([a.ravel() for a in np.meshgrid(xs, ys, indexing="ij")])  # x-major, as KDEpy wants
    # KDEpy scales every kernel by its 1-D standard deviation, also in 2-D: its biweight with
    # bw = 1 has radius √7 (checked: the support of one point ends at 2.65). So the quartic of
    # radius h is bw = h/√7; the Gaussian's bw is its standard deviation, h.
    bw = h / math.sqrt(7.0) if kernel == "quartic" else h
    name = "biweight" if kernel == "quartic" else "gaussian"
    # In km: KDEpy's numeric support solver fails for the Gaussian at bw ~ 1e4 (metres).
    dens = FFTKDE(kernel=name, bw=bw / 1000).fit(pts / 1000).evaluate(gp / 1000)
    return dens.reshape(len(xs), len(ys)).T * len(pts)  # per km² already


def _sklearn(pts, grid, h, cells):
    from sklearn.neighbors import KernelDensity

    kd = KernelDensity(kernel="gaussian", bandwidth=h).fit(pts)
    return np.exp(kd.score_samples(cells)) * len(pts) * 1e6


def child(method: str, dataset: str, out: str) -> None:
    """Run one method in this (fresh) process; write density values + stats to ``out``."""
    pts, grid, h = load(dataset)
    cells = np.load(out + ".cells.npy") if Path(out + ".cells.npy").exists() else None
    # tracemalloc sees numpy's buffers: the method's own peak, not the loaded data's.
    run = _method(method, pts, grid, h, cells)
    tracemalloc.start()
    t = time.perf_counter()
    vals = run()
    wall = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    # Warm: the same call again in the same process (ours caches the kernel spectra, as a
    # pipeline run does across time-of-day bins); best of three.
    warm = None
    if not method.startswith("sklearn"):
        warm = min(_timed(run) for _ in range(3))
    np.save(out + ".vals.npy", np.asarray(vals))
    Path(out + ".json").write_text(json.dumps({"wall_s": wall, "warm_s": warm, "peak_mb": peak}))


def _method(method, pts, grid, h, cells):
    """A zero-argument callable running one method."""
    if method.startswith("ours"):
        kernel, _, k = method.split(":", 1)[1].partition("@")  # "ours:quartic@1"
        return lambda: kde(pts, grid, h, kernel, oversample=int(k) if k else None, method="fft")
    if method.startswith("kdepy"):
        return lambda: _kdepy(pts, grid, h, method.split(":")[1])
    return lambda: _sklearn(pts, grid, h, cells)


def _timed(run) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def _spawn(method, dataset, out):
    subprocess.run([sys.executable, "-m", "bench.kde_bench", method, dataset, out], check=True,
                   cwd=Path(__file__).resolve().parents[1])
    stats = json.loads(Path(out + ".json").read_text())
    return stats, np.load(out + ".vals.npy")


def run(datasets=("chicago", "national")) -> list[dict]:
    rows = []
    for dataset in datasets:
        if dataset == "chicago" and not (REAL / "chicago_aggravated_assaults.csv.gz").exists():
            continue
        pts, grid, h = load(dataset)
        ncell = grid.nx * grid.ny
        gname = f"{grid.nx}x{grid.ny}@{grid.cell:g}m"
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            ref = {}
            for kernel in ("quartic", "gaussian"):
                stats, ours = _spawn(f"ours:{kernel}", dataset, f"{tmp}/ours_{kernel}")
                hot = np.flatnonzero(ours.ravel() > 0.01 * ours.max())
                pick = rng.choice(hot, min(500, len(hot)), replace=False)
                xs, ys = grid.centres()
                cells = np.column_stack((xs[pick % grid.nx], ys[pick // grid.nx]))
                exact = exact_kde_at(pts, cells, h, kernel)
                ref[kernel] = (pick, cells, exact)
                err = lambda v: float(np.max(np.abs(v - exact) / exact))  # noqa: E731
                rows.append(_row("kde", f"ours {kernel} (auto oversample)", len(pts), gname, stats,
                                 err(ours.ravel()[pick]), f"h={h:g} m, FFT path"))
                stats1, ours1 = _spawn(f"ours:{kernel}@1", dataset, f"{tmp}/ours1_{kernel}")
                rows.append(_row("kde", f"ours {kernel} (oversample=1)", len(pts), gname, stats1,
                                 err(ours1.ravel()[pick]), f"h={h:g} m, no sub-cell lattice"))
                try:
                    stats2, kp = _spawn(f"kdepy:{kernel}", dataset, f"{tmp}/kdepy_{kernel}")
                    rows.append(_row("kde", f"KDEpy FFTKDE {'biweight' if kernel == 'quartic' else 'gaussian'}",
                                     len(pts), gname, stats2, err(kp.ravel()[pick]),
                                     "bw = h/√7 (KDEpy scales by the 1-D std): same kernel" if kernel == "quartic"
                                     else "bw = h (standard deviation): same kernel"))
                except subprocess.CalledProcessError as exc:
                    rows.append(_row("kde", "KDEpy FFTKDE", len(pts), gname, {"wall_s": None, "peak_mb": None},
                                     None, f"failed: {exc}"))
            pick, cells, exact = ref["gaussian"]
            extra = rng.choice(ncell, max(0, SK_SAMPLE - len(cells)), replace=False)
            xs, ys = grid.centres()
            allc = np.vstack((cells, np.column_stack((xs[extra % grid.nx], ys[extra // grid.nx]))))
            np.save(f"{tmp}/sk.cells.npy", allc)
            stats, sk = _spawn("sklearn", dataset, f"{tmp}/sk")
            scale = ncell / len(allc)
            stats = {"wall_s": stats["wall_s"] * scale, "peak_mb": stats["peak_mb"]}
            rows.append(_row("kde", "sklearn KernelDensity gaussian", len(pts), gname, stats,
                             float(np.max(np.abs(sk[:len(cells)] - exact) / exact)),
                             f"timed on {len(allc)} cells, extrapolated x{scale:.0f} to the grid"))
    return rows


def _row(task, method, n, grid, stats, err, note):
    return {"task": task, "method": method, "n": int(n), "grid": grid, "wall_s": stats["wall_s"],
            "warm_s": stats.get("warm_s"), "peak_mb": stats["peak_mb"], "max_rel_err": err, "note": note}


if __name__ == "__main__":
    child(*sys.argv[1:4])
