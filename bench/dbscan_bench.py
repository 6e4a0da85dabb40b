"""DBSCAN benchmark: our grid DBSCAN vs sklearn.cluster.DBSCAN vs the `dbscan` package.

All three run on both cores (``threads`` = 2): ours counts neighbours with a ``cKDTree`` on
every core, scikit-learn with ``n_jobs=2``, the `dbscan` package (parlaylib) on every hardware
thread. Datasets: the Chicago aggravated assaults projected to metres (148,636 points, eps
200 m, min_samples 10) and seeded synthetic "towns" in SWEREF 99 TM of growing size. Each
method is probed alone in a fresh process (cold call, peak memory, under a timeout and an
8 GB cap), then timed in alternating rounds (bench/harness.py). A method stopped at one size
is not tried at larger ones. Each row's note says whether the core points and clusters agree
with scikit-learn's (or, where it did not run, with ours): adjusted Rand index on core points.

    .venv/bin/python -m bench.dbscan_bench              # prints the rows as a table
    .venv/bin/python -m bench.dbscan_bench 100000       # only these synthetic sizes
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.harness import Method, Problem, measure, status_mb  # noqa: F401  (status_mb: used by other benches)

ROOT = Path(__file__).resolve().parents[1]
CHICAGO = next(
    (
        d / "chicago_aggravated_assaults.csv.gz"
        for d in (ROOT.parent / "shared" / "data" / "real", Path("/work/shared/data/real"))
        if (d / "chicago_aggravated_assaults.csv.gz").exists()
    ),
    None,
)
EPS_M, MIN_SAMPLES = 200.0, 10
THREADS = 2
DEFAULT_SIZES = (100_000, 300_000, 1_500_000, 4_000_000)


# ---------------------------------------------------------------------------- data
def town_points(n: int, seed: int = 0, n_towns: int = 300) -> np.ndarray:
    """``n`` points (SWEREF 99 TM metres, 0.1 m precision) around ``n_towns`` seeded town
    centres in Sweden's bounding box; town sizes follow Zipf's law, 5 % rural background.

    >>> town_points(1000).shape
    (1000, 2)
    """
    if n < 1 or n_towns < 1:
        raise ValueError("n and n_towns must be >= 1")
    rng = np.random.default_rng(seed)
    cx = rng.uniform(300_000, 900_000, n_towns)
    cy = rng.uniform(6_150_000, 7_600_000, n_towns)
    weight = 1.0 / np.arange(1, n_towns + 1) ** 1.1
    weight /= weight.sum()
    sigma = 400 + 4000 * np.sqrt(weight / weight.max())  # big towns sprawl more
    n_bg = n // 20
    town = rng.choice(n_towns, n - n_bg, p=weight)
    pts = np.column_stack([cx[town], cy[town]]) + rng.normal(size=(n - n_bg, 2)) * sigma[town, None]
    bg = np.column_stack([rng.uniform(270_000, 920_000, n_bg), rng.uniform(6_130_000, 7_670_000, n_bg)])
    return np.round(np.vstack([pts, bg]), 1)


def chicago_points() -> np.ndarray:
    import pandas as pd
    from pyproj import Transformer

    df = pd.read_csv(CHICAGO, usecols=["longitude", "latitude"]).dropna()
    x, y = Transformer.from_crs(4326, 26916, always_xy=True).transform(
        df["longitude"].to_numpy(), df["latitude"].to_numpy()
    )
    return np.column_stack([x, y])


def load(name: str) -> np.ndarray:
    """Points of a problem: ``chicago`` or ``towns-<n>``."""
    return chicago_points() if name == "chicago" else town_points(int(name.split("-")[1]))


# ---------------------------------------------------------------------------- methods
def _ours(pts):
    from pipeline.analysis.dbscan import dbscan

    def call():
        labels, core = dbscan(pts, EPS_M, MIN_SAMPLES)
        return np.asarray(labels, np.int64), np.asarray(core, bool)

    return call


def _sklearn(pts):
    from sklearn.cluster import DBSCAN

    def call():
        est = DBSCAN(eps=EPS_M, min_samples=MIN_SAMPLES, n_jobs=THREADS).fit(pts)
        core = np.zeros(len(pts), bool)
        core[est.core_sample_indices_] = True
        return np.asarray(est.labels_, np.int64), core

    return call


def _dbscan_pkg(pts):
    from dbscan import DBSCAN as pkg_dbscan  # raises ImportError when not installed

    data = np.ascontiguousarray(pts, np.float64)

    def call():
        labels, core = pkg_dbscan(data, eps=EPS_M, min_samples=MIN_SAMPLES)
        return np.asarray(labels, np.int64), np.asarray(core, bool)

    return call


PARAMS = f"eps {EPS_M:g} m, min_samples {MIN_SAMPLES}"
METHODS = {
    "ours": Method("lägesbild grid DBSCAN", THREADS, _ours, PARAMS + "; cKDTree counts on every core"),
    "sklearn": Method("sklearn.cluster.DBSCAN", THREADS, _sklearn, PARAMS + f"; n_jobs={THREADS}"),
    "dbscan_pkg": Method("dbscan (Wang, Gu & Shun 2020)", THREADS, _dbscan_pkg, PARAMS + "; parlay, every core"),
}


def problem(name: str) -> Problem:
    return Problem(name, lambda: load(name), METHODS, repeats=5, budget_s=100.0)


# ---------------------------------------------------------------------------- rows
def run(sizes=DEFAULT_SIZES, methods=tuple(METHODS), chicago: bool = True) -> list[dict]:
    names = (["chicago"] if chicago and CHICAGO is not None else []) + [f"towns-{int(n)}" for n in sorted(sizes)]
    rows, stopped = [], set()
    for name in names:
        todo = tuple(m for m in methods if not (name != "chicago" and m in stopped))
        results = measure("bench.dbscan_bench", problem(name), only=todo)
        ref_key = "sklearn" if results.get("sklearn") and results["sklearn"].ok else "ours"
        for key, m in results.items():
            if not m.ok and name != "chicago":
                stopped.add(key)
            rows.append(
                {
                    "task": "dbscan",
                    "method": METHODS[key].label,
                    "n": _size(name),
                    "params": METHODS[key].params,
                    "threads": METHODS[key].threads,
                    **m.timing(),
                    "note": _note(name, key, m, results, ref_key),
                }
            )
    return rows


def _size(name: str) -> int:
    return 148_636 if name == "chicago" else int(name.split("-")[1])


def _note(name, key, m, results, ref_key) -> str:
    what = "Chicago aggravated assaults (EPSG:26916)" if name == "chicago" else "synthetic towns (SWEREF 99 TM)"
    if not m.ok:
        return f"{what}; {m.note}"
    labels, core = m.output
    note = f"{what}; {labels.max() + 1} clusters, {core.sum()} core, {(labels < 0).sum()} noise"
    ref = results.get(ref_key)
    if key != ref_key and ref is not None and ref.ok:
        from sklearn.metrics import adjusted_rand_score

        ref_labels, ref_core = ref.output
        ari = adjusted_rand_score(ref_labels[ref_core], labels[ref_core]) if ref_core.any() else 1.0
        note += (
            f"; vs {METHODS[ref_key].label}: core mask {'identical' if np.array_equal(core, ref_core) else 'DIFFERENT'}"
            f", ARI on core points {ari:.6f}, labels {'identical' if np.array_equal(labels, ref_labels) else 'differ'}"
        )
    return note + (f"; {m.note}" if m.note else "")


if __name__ == "__main__":
    import sys

    from bench.run import table

    sizes = tuple(int(s) for s in sys.argv[1:]) or DEFAULT_SIZES
    print(table(run(sizes=sizes)))
