"""``python -m bench.run`` (``make bench``): every bench module, one table per task, bench/results.json.

``python -m bench.run --markdown`` prints the last results.json as the README's table.

Each module in ``MODULES`` has ``run() -> list[dict]`` (a module that is not there is skipped).
Rows share the keys in ``COLUMNS``; a row leaves out what does not apply. Times are seconds:
``median_s`` and ``min_s``–``max_s`` over ``repeats`` warm rounds (bench/harness.py), ``first_s``
the first call in a fresh process (after ``import_s`` of imports and set-up); ``peak_mb`` is the
resident memory the first call added at its peak; ``max_rel_err`` is against an exact reference.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import machine

ROOT = Path(__file__).resolve().parents[1]
MODULES = (
    "bench.kde_bench",
    "bench.dbscan_bench",
    "bench.emerging_bench",
    "bench.forecast_bench",
    "bench.national_bench",  # 3 M-row police history; LAGESBILD_NATIONAL=0 skips it
)
COLUMNS = (
    "method",
    "n",
    "grid",
    "lattice",
    "params",
    "threads",
    "median_s",
    "min_s",
    "max_s",
    "repeats",
    "first_s",
    "import_s",
    "wall_s",
    "warm_s",
    "peak_mb",
    "max_rel_err",
    "note",
)
WEEKLY_REPEATS = 3


def _module_rows(name: str) -> list[dict]:
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return []
        raise
    return list(mod.run())


WEEKLY = """
import sys
from bench.harness import status_mb
from pipeline.cli import main
rc = main(["weekly", "--config", sys.argv[1]])
print("PEAK_MB", status_mb("VmHWM"), flush=True)
sys.exit(rc)
"""


def _weekly_once() -> tuple[float, float | None, str]:
    """One `lagesbild weekly` on the demo data in a fresh copy (never the shared outputs)."""
    with tempfile.TemporaryDirectory(prefix="bench_weekly_") as tmp:
        shutil.copy(ROOT / "config.yaml", tmp)
        for sub in ("data/raw", "data/reference"):
            shutil.copytree(ROOT / sub, Path(tmp) / sub)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", WEEKLY, str(Path(tmp) / "config.yaml")],
            cwd=tmp,
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - t
    peak = next((float(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("PEAK_MB")), None)
    ok = "" if proc.returncode == 0 else f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-160:]}"
    return wall, peak, ok


def weekly_rows(repeats: int = WEEKLY_REPEATS) -> list[dict]:
    """The whole `lagesbild weekly` on the demo data, ``repeats`` fresh processes and copies."""
    runs = [_weekly_once() for _ in range(repeats)]
    failed = next((r[2] for r in runs if r[2]), "")
    walls = sorted(r[0] for r in runs)
    return [
        {
            "task": "pipeline",
            "method": "lagesbild weekly (demo data)",
            "threads": os.cpu_count(),
            "median_s": None if failed else walls[len(walls) // 2],
            "min_s": walls[0],
            "max_s": walls[-1],
            "repeats": repeats,
            "peak_mb": max((r[1] or 0.0) for r in runs) or None,
            "note": failed
            or "fresh process and copy of config + data each run; interpreter start and imports included",
        }
    ]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v == 0:
            return "0"
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def table(rows: list[dict]) -> str:
    """Aligned text tables, one per task, with the columns that task's rows fill."""
    out = []
    for task in dict.fromkeys(r.get("task", "") for r in rows):
        these = [r for r in rows if r.get("task", "") == task]
        cols = [c for c in COLUMNS if any(r.get(c) is not None for r in these)]
        cells = [cols] + [[_fmt_cell(c, r.get(c)) for c in cols] for r in these]
        widths = [max(len(line[i]) for line in cells) for i in range(len(cols))]
        out.append(f"== {task}")
        out += ["  ".join(line[i].ljust(widths[i]) for i in range(len(cols))).rstrip() for line in cells]
        out.append("")
    return "\n".join(out)


def _fmt_cell(col: str, v) -> str:
    if col == "max_rel_err" and isinstance(v, float):
        return f"{100 * v:.3g} %"
    return _fmt(v)


def _seconds(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if v < 1000 else f"{v:,.0f}"


def markdown(results: dict) -> str:
    """The rows of a results.json as one Markdown table (the README quotes it)."""
    m = results["machine"]
    head = (
        f"Measured by `make bench` on {m['date']}: {m['cpu']}, {m['cores']} cores, load average "
        f"{m['load_avg_1_5_15'][0]} at the start and {m.get('load_avg_after', ['?'])[0]} at the end.\n\n"
    )
    lines = [
        "| task | method | n | grid / lattice | threads | median (min–max) s | first call s | peak MB | max rel. error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        median = r.get("median_s", r.get("warm_s"))
        spread = f" ({_seconds(r.get('min_s'))}–{_seconds(r.get('max_s'))})" if r.get("min_s") is not None else ""
        grid = " ".join(str(v) for v in (r.get("grid"), r.get("lattice")) if v)
        err = r.get("max_rel_err")
        cells = [
            r.get("task", ""),
            r.get("method", ""),
            f"{r['n']:,}" if r.get("n") else "",
            grid,
            str(r.get("threads") or ""),
            _seconds(median) + spread,
            _seconds(r.get("first_s", r.get("wall_s"))),
            f"{r['peak_mb']:,.0f}" if r.get("peak_mb") is not None else "-",
            "-" if err is None else f"{100 * err:.2g} %",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--markdown"]:  # the README table of the last run
        print(markdown(json.loads((ROOT / "bench/results.json").read_text())))
        return 0
    info = machine()
    print(
        f"make bench, {info['date']}, {info['cpu']}, {info['cores']} cores, load {info['load_avg_1_5_15']}", flush=True
    )
    rows = []
    for name in MODULES:
        these = _module_rows(name)
        rows += these
        if these:
            print(table(these), flush=True)
    these = weekly_rows()
    rows += these
    print(table(these))
    info["load_avg_after"] = machine()["load_avg_1_5_15"]
    (ROOT / "bench/results.json").write_text(
        json.dumps({"machine": info, "rows": rows}, indent=2, ensure_ascii=False) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
