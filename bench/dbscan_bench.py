"""DBSCAN benchmark: our grid DBSCAN vs sklearn.cluster.DBSCAN vs the `dbscan` package.

Every measurement runs in a fresh subprocess (no warm caches, honest peak memory), with a
wall-clock timeout and a resident-memory cap. Datasets: Chicago aggravated assaults
projected to metres (148,636 points, eps 200 m, min_samples 10) and seeded synthetic
"towns" in SWEREF 99 TM of growing size. A method that fails (timeout, memory, error) is
not tried on larger sizes. When sklearn ran on the same data, the note says whether the
core points and clusters agree with it (adjusted Rand index on core points).

    .venv/bin/python bench/dbscan_bench.py                 # prints the rows as a table
    >>> from bench.dbscan_bench import run                 # doctest: +SKIP
    >>> rows = run(sizes=(100_000,), methods=("ours", "sklearn"))   # doctest: +SKIP
    >>> sorted(rows[0])                                    # doctest: +SKIP
    ['grid', 'max_rel_err', 'method', 'n', 'note', 'peak_mb', 'task', 'wall_s']
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHICAGO = ROOT.parent / "shared" / "data" / "real" / "chicago_aggravated_assaults.csv.gz"
if not CHICAGO.exists():  # the documented location, relative to the project root
    CHICAGO = Path("/work/shared/data/real/chicago_aggravated_assaults.csv.gz")

METHODS = {
    "ours": "lägesbild grid DBSCAN",
    "sklearn": "sklearn.cluster.DBSCAN",
    "dbscan_pkg": "dbscan (Wang, Gu & Shun 2020)",
}
EPS_M, MIN_SAMPLES = 200.0, 10
DEFAULT_SIZES = (100_000, 300_000, 1_500_000, 4_000_000)
CHICAGO_N = 148_636
_GRACE_S = 15.0  # imports and data loading happen in the child before the timed call


def run(sizes=DEFAULT_SIZES, methods=tuple(METHODS), timeout_s: float = 120.0,
        mem_limit_mb: float = 8192.0, chicago: bool = True) -> list[dict]:
    """Benchmark rows ``{"task": "dbscan", "method", "n", "grid": "", "wall_s", "peak_mb",
    "max_rel_err": None, "note"}``; ``wall_s``/``peak_mb`` are None when the run failed."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {sorted(METHODS)}")
    if timeout_s <= 0 or mem_limit_mb <= 0:
        raise ValueError("timeout_s and mem_limit_mb must be > 0")
    datasets = ([("chicago", None)] if chicago and CHICAGO.exists() else []) + \
               [("towns", int(n)) for n in sorted(sizes)]
    rows, failed = [], set()
    with tempfile.TemporaryDirectory(prefix="dbscan_bench_") as tmp:
        for dataset, n in datasets:
            results, these = {}, []
            for method in methods:
                if method in failed and dataset == "towns":
                    continue
                out = Path(tmp) / f"{dataset}-{n}-{method}.npz"
                res = _measure(method, dataset, n, out, timeout_s, mem_limit_mb)
                if res["ok"]:
                    results[method] = out
                elif dataset == "towns":
                    failed.add(method)
                these.append(_row(method, dataset, res))
            _add_agreement(these, results)
            rows.extend(these)
    return rows


# ---------------------------------------------------------------------------- parent side


def _measure(method, dataset, n, out, timeout_s, mem_limit_mb) -> dict:
    """Run one child; kill it on timeout or when its resident memory exceeds the cap."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", method, dataset, str(n or 0), str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    start, peak_seen, reason = time.monotonic(), 0.0, None
    try:
        import psutil

        ps = psutil.Process(proc.pid)
    except Exception:  # psutil missing: rely on the timeout alone
        ps = None
    while proc.poll() is None:
        if time.monotonic() - start > timeout_s + _GRACE_S:
            reason = f"timeout > {timeout_s:.0f} s"
        elif ps is not None:
            try:
                peak_seen = max(peak_seen, ps.memory_info().rss / 2**20)
            except Exception:
                pass
            if peak_seen > mem_limit_mb:
                reason = f"memory > {mem_limit_mb / 1024:.0f} GB"
        if reason:
            proc.kill()
            proc.wait()
            return {"ok": False, "n": n, "note": reason, "peak_mb": peak_seen}
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        last = (stderr.strip().splitlines() or ["?"])[-1]
        return {"ok": False, "n": n, "note": f"failed: {last[:160]}", "peak_mb": peak_seen}
    res = json.loads(stdout.strip().splitlines()[-1])
    if res["wall_s"] > timeout_s:
        return {**res, "ok": False, "note": f"timeout > {timeout_s:.0f} s"}
    return {**res, "ok": True}


def _row(method, dataset, res) -> dict:
    params = f"eps {EPS_M:g} m, min_samples {MIN_SAMPLES}"
    what = "Chicago aggravated assaults (EPSG:26916)" if dataset == "chicago" else "synthetic towns (SWEREF 99 TM)"
    note = f"{what}; {params}"
    if res["ok"]:
        note += f"; {res['n_clusters']} clusters, {res['n_core']} core, {res['n_noise']} noise" \
                f"; data+imports {res['base_mb']:.0f} MB before the call"
    else:
        note += f"; {res['note']}"
    n = res.get("n") or (CHICAGO_N if dataset == "chicago" else 0)
    return {"task": "dbscan", "method": METHODS[method], "n": int(n), "grid": "",
            "wall_s": round(res["wall_s"], 3) if res["ok"] else None,
            "peak_mb": round(res["peak_mb"], 1) if res["ok"] else None,
            "max_rel_err": None, "note": note}


def _add_agreement(rows, results) -> None:
    """Append agreement with sklearn (or, without sklearn, with ours) to each row's note."""
    ref_key = "sklearn" if "sklearn" in results else ("ours" if "ours" in results else None)
    if ref_key is None:
        return
    from sklearn.metrics import adjusted_rand_score

    ref = np.load(results[ref_key])
    for row in rows:
        key = next((k for k, v in METHODS.items() if v == row["method"]), None)
        if key not in results or key == ref_key:
            continue
        got = np.load(results[key])
        same_core = bool(np.array_equal(got["core"], ref["core"]))
        core = ref["core"]
        ari = adjusted_rand_score(ref["labels"][core], got["labels"][core]) if core.any() else 1.0
        same = bool(np.array_equal(got["labels"], ref["labels"]))
        row["note"] += (f"; vs {METHODS[ref_key]}: core mask {'identical' if same_core else 'DIFFERENT'}, "
                        f"ARI on core points {ari:.6f}, labels {'identical' if same else 'differ'}")


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
        df["longitude"].to_numpy(), df["latitude"].to_numpy())
    return np.column_stack([x, y])


# ---------------------------------------------------------------------------- child side


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MB.

    Not getrusage's ru_maxrss: on Linux that keeps the high-water mark a forked child
    inherited from its parent, so every child reported the harness's own peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _child(method: str, dataset: str, n: int, out: str) -> None:
    sys.path.insert(0, str(ROOT))
    pts = chicago_points() if dataset == "chicago" else town_points(n)
    fit = _method(method)
    base_mb = status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    t0 = time.perf_counter()
    labels, core = fit(pts)
    wall = time.perf_counter() - t0
    peak_mb = status_mb("VmHWM")
    labels, core = np.asarray(labels, np.int64), np.asarray(core, bool)
    np.savez(out, labels=labels, core=core)
    print(json.dumps({"n": len(pts), "wall_s": wall, "peak_mb": peak_mb, "base_mb": base_mb,
                      "n_clusters": int(labels.max() + 1), "n_core": int(core.sum()),
                      "n_noise": int((labels < 0).sum())}))


def _method(method: str):
    """A function points -> (labels, core), with its imports done (not timed)."""
    if method == "ours":
        from pipeline.analysis.dbscan import dbscan

        return lambda p: dbscan(p, EPS_M, MIN_SAMPLES)
    if method == "sklearn":
        from sklearn.cluster import DBSCAN

        def fit(p):
            est = DBSCAN(eps=EPS_M, min_samples=MIN_SAMPLES).fit(p)
            core = np.zeros(len(p), bool)
            core[est.core_sample_indices_] = True
            return est.labels_, core
        return fit
    if method == "dbscan_pkg":
        from dbscan import DBSCAN as pkg_dbscan  # raises ImportError when not installed

        return lambda p: pkg_dbscan(np.ascontiguousarray(p, np.float64), eps=EPS_M, min_samples=MIN_SAMPLES)
    raise ValueError(method)


def _format(rows) -> str:
    lines = [f"{'method':32} {'n':>10} {'wall_s':>8} {'peak_mb':>8}  note"]
    for r in rows:
        wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.2f}"
        peak = "-" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
        lines.append(f"{r['method']:32} {r['n']:>10,} {wall:>8} {peak:>8}  {r['note']}")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sizes = tuple(int(s) for s in sys.argv[1:]) or DEFAULT_SIZES
        print(_format(run(sizes=sizes)))
