"""Benchmark harness: ``python -m bench.run`` (``make bench``).

Collects rows from bench/kde_bench.py and bench/dbscan_bench.py (if present), times the whole
``lagesbild weekly`` on the demo data (if the console script exists), prints an aligned table
and writes bench/results.json. Row keys: task, method, n, grid, wall_s, peak_mb, max_rel_err, note.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("task", "method", "n", "grid", "wall_s", "warm_s", "peak_mb", "max_rel_err", "note")


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
from pathlib import Path
from bench.dbscan_bench import status_mb
from pipeline.cli import main
rc = main(["weekly", "--config", sys.argv[1]])
print("PEAK_MB", status_mb("VmHWM"), flush=True)
sys.exit(rc)
"""


def _weekly_row() -> list[dict]:
    """The whole `lagesbild weekly` on the demo data, in a fresh process (its own peak RSS)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WEEKLY, str(ROOT / "config.yaml")], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak = next((float(l.split()[1]) for l in proc.stdout.splitlines() if l.startswith("PEAK_MB")), None)
    note = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-120:]}"
    return [{"task": "pipeline", "method": "lagesbild weekly (demo data)", "n": None, "grid": None,
             "wall_s": wall, "warm_s": None, "peak_mb": peak, "max_rel_err": None,
             "note": note + "; wall time includes interpreter start and imports"}]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def table(rows: list[dict]) -> str:
    """Aligned text table of the rows."""
    cells = [list(KEYS)] + [[_fmt(r.get(k)) for k in KEYS] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(KEYS))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(KEYS))).rstrip() for c in cells)


def main() -> int:
    rows = (_module_rows("bench.kde_bench") + _module_rows("bench.dbscan_bench")
            + _module_rows("bench.emerging_bench") + _weekly_row())
    print(table(rows))
    (ROOT / "bench/results.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
