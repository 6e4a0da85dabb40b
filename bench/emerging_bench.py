"""Emerging hot spot benchmark: 52 ISO weeks of the real Chicago data at 250 m.

Every measurement runs in a fresh subprocess (honest peak memory: the child's own VmHWM).
Rows:

- ours, 52 weeks × 250 m (the issue's target: under 5 s), also 100 m cells and all ten years:
  the first call in the fresh process (``first_s``) and the median, min and max of REPEATS warm
  calls; ``import_s`` is imports and loading the data, ``peak_mb`` the memory the first call added;
- the peers on the same 52-week cube: esda ``G_Local(star=True)`` with the space-time weights
  as a sparse matrix (Gi* only), and pymannkendall's ``original_test`` per cell (trend only);
  ``max_rel_err`` is the largest |z_ours − z_peer| / max |z_peer|.

    .venv/bin/python -m bench.emerging_bench            # prints the rows as a table
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REAL = next(
    (
        d
        for d in (ROOT.parent / "shared" / "data" / "real", Path("/work/shared/data/real"))
        if (d / "chicago_aggravated_assaults.csv.gz").exists()
    ),
    None,
)
LAST_WEEK = "2019-W52"
DISTANCE_M = 500.0
#: Warm rounds after the first call (ours only; the peers run once, they take seconds).
REPEATS = 5
CASES = {
    # key: (method, weeks, cell_m)
    "ours_52_250": ("lägesbild emerging_hot_spots", 52, 250.0),
    "ours_52_100": ("lägesbild emerging_hot_spots", 52, 100.0),
    "ours_all_250": ("lägesbild emerging_hot_spots", None, 250.0),
    "esda_52_250": ("esda G_Local(star=True), Gi* only", 52, 250.0),
    "mk_52_250": ("pymannkendall original_test per cell, trend only", 52, 250.0),
}


def run(cases=tuple(CASES)) -> list[dict]:
    """Benchmark rows in bench/run.py's format; [] without the real data."""
    if REAL is None:
        return []
    rows = []
    for key in cases:
        cmd = [sys.executable, "-m", "bench.emerging_bench", "--child", key]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
        method, weeks, cell = CASES[key]
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            rows.append(_row(method, {"n": None, "grid": "", "note": f"failed: {last[:160]}"}))
            continue
        rows.append(_row(method, json.loads(proc.stdout.strip().splitlines()[-1])))
    return rows


def _row(method: str, res: dict) -> dict:
    keys = (
        "n",
        "grid",
        "params",
        "median_s",
        "min_s",
        "max_s",
        "repeats",
        "first_s",
        "import_s",
        "peak_mb",
        "max_rel_err",
        "note",
    )
    return {"task": "emerging hot spots", "method": method, **{k: res.get(k) for k in keys}}


# -- child side ----------------------------------------------------------------------------------------
def load_chicago(n_weeks: int | None):
    """Chicago aggravated assaults of the ``n_weeks`` ISO weeks up to LAST_WEEK (None = all):
    points in UTM 16N metres, week index 0.. (oldest first), and the number of weeks."""
    from pyproj import Transformer

    from pipeline.analysis.weeks import iso_week_of, rolling_window, weeks_between

    df = pd.read_csv(REAL / "chicago_aggravated_assaults.csv.gz", usecols=["date", "longitude", "latitude"]).dropna()
    when = pd.to_datetime(df["date"], errors="coerce", format="mixed")
    df, when = df[when.notna()], when[when.notna()]
    iso = when.dt.isocalendar()
    week = iso["year"].astype(int).astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    first = iso_week_of(when.min().date())
    weeks = weeks_between(first, LAST_WEEK) if n_weeks is None else rolling_window(LAST_WEEK, n_weeks)
    index = week.map({w: i for i, w in enumerate(weeks)})
    keep = index.notna().to_numpy()
    x, y = Transformer.from_crs(4326, 32616, always_xy=True).transform(
        df["longitude"].to_numpy()[keep], df["latitude"].to_numpy()[keep]
    )
    return np.column_stack([x, y]), index.to_numpy()[keep].astype(int), len(weeks)


def _child(key: str) -> None:
    t0 = time.perf_counter()
    from bench.dbscan_bench import status_mb
    from pipeline.analysis import emerging as eh
    from pipeline.analysis.grid import Grid

    method, n_weeks, cell = CASES[key]
    pts, wk, n_weeks = load_chicago(n_weeks)
    grid = Grid.anchored((*pts.min(axis=0), *pts.max(axis=0)), cell=cell)
    out = {
        "n": int(len(pts)),
        "grid": f"{grid.nx}x{grid.ny} cells x {n_weeks} weeks",
        "params": f"cell {cell:g} m, distance {DISTANCE_M:g} m",
        "import_s": round(time.perf_counter() - t0, 2),
    }
    base_mb = _reset_peak(status_mb)
    if key.startswith("ours"):
        t = time.perf_counter()
        res = eh.emerging_hot_spots(pts, wk, n_weeks, grid, DISTANCE_M)
        out["first_s"] = round(time.perf_counter() - t, 3)
        out["peak_mb"] = round(status_mb("VmHWM") - base_mb, 1)
        warm = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            eh.emerging_hot_spots(pts, wk, n_weeks, grid, DISTANCE_M)
            warm.append(time.perf_counter() - t)
        warm.sort()
        out.update(
            median_s=round(warm[len(warm) // 2], 3), min_s=round(warm[0], 3), max_s=round(warm[-1], 3), repeats=REPEATS
        )
        codes, n = np.unique(res.pattern, return_counts=True)
        top = ", ".join(f"{eh.PATTERN_LABELS[int(c)]} {k}" for c, k in sorted(zip(codes, n), key=lambda p: -p[1]) if c)
        out["note"] = f"{len(res.rows)} cells with data; {top}; process peak {status_mb('VmHWM'):.0f} MB"
    else:
        counts = eh.bin_counts(pts, wk, n_weeks, grid)
        cells = eh.analysed_cells(grid, counts)
        ours = eh.gi_star(counts, cells, eh.disc_stencil(DISTANCE_M, cell))
        if key.startswith("esda"):
            ref, out["first_s"] = _esda(counts, cells, grid)
            out["max_rel_err"] = float(np.abs(ours - ref).max() / np.abs(ref).max())
            dz = np.abs(ours - ref).max()
            out["note"] = f"{int(cells.sum())} cells; weights built outside the timing; max |dz| {dz:.2e}"
        else:
            ref_z, out["first_s"] = _pymannkendall(ours)
            mine = eh.mann_kendall(ours.T)[0]
            out["max_rel_err"] = float(np.abs(mine - ref_z).max() / np.abs(ref_z).max())
            t = time.perf_counter()
            eh.mann_kendall(ours.T)
            out["note"] = (
                f"{int(cells.sum())} cells; ours (vectorised) {time.perf_counter() - t:.3f} s on the same series"
            )
        out["peak_mb"] = round(status_mb("VmHWM") - base_mb, 1)
    print(json.dumps(out))


def _reset_peak(status_mb) -> float:
    """Reset this process's peak RSS to the current one (Linux ``clear_refs``); the baseline in MB.

    Without the reset (old kernels), the baseline is the peak so far, and what the call added is
    only visible when it exceeds that."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return status_mb("VmRSS")
    except OSError:
        return status_mb("VmHWM")


def _esda(counts, cells, grid):
    """esda Gi* z [T, m] with the space-time weights as a sparse matrix (k-d tree pairs)."""
    import esda
    import scipy.sparse as sp
    from libpysal.weights import WSP
    from scipy.spatial import cKDTree

    n_weeks = counts.shape[0]
    rows, cols = np.nonzero(cells)
    xs, ys = grid.centres()
    pts = np.column_stack([xs[cols], ys[rows]])
    m = len(pts)
    a = cKDTree(pts).sparse_distance_matrix(cKDTree(pts), DISTANCE_M * (1 + 1e-12), output_type="coo_matrix")
    a = sp.csr_matrix((np.ones(a.nnz), (a.row, a.col)), shape=(m, m)) + sp.eye(m, format="csr")  # + self
    lag = sp.eye(n_weeks, k=-1, format="csr")  # week t reads week t-1
    w = (sp.kron(sp.eye(n_weeks), a) + sp.kron(lag, a)).tocsr()
    w.data[:] = 1.0
    wsp = WSP(w).to_W(silence_warnings=True)
    y = counts[:, rows, cols].astype(float).ravel()
    t = time.perf_counter()
    g = esda.G_Local(y, wsp, transform="B", star=True, permutations=0)
    return np.asarray(g.Zs).reshape(n_weeks, m), round(time.perf_counter() - t, 3)


def _pymannkendall(gi_z):
    import pymannkendall as mk

    t = time.perf_counter()
    z = np.array([mk.original_test(gi_z[:, k]).z for k in range(gi_z.shape[1])])
    return np.nan_to_num(z), round(time.perf_counter() - t, 3)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        from bench.run import table

        print(table(run(tuple(sys.argv[1:]) or tuple(CASES))))
