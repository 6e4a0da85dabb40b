"""Benchmark harness: each method several times in one process, alternating, after a warm-up.

A :class:`Problem` is a data set plus the methods that solve it. :func:`measure` runs, per
problem:

1. a **probe** of each method alone in a fresh child process: the time of its own imports and
   set-up, its first call (cold: caches, compilation), the resident memory that first call
   added at its peak (``VmHWM`` − ``VmRSS`` before the call, from ``/proc/self/status``, with
   the high-water mark reset just before), and its output, kept for the accuracy check. A probe
   is stopped past a wall-clock timeout or a resident-memory cap; a method whose probe failed
   is not timed;
2. one **timing** child process for all the methods that passed: a warm-up call each, then
   ``repeats`` rounds that call every method once, the order rotated every round, so that a
   change of load on the machine (other jobs share its cores) hits every method alike. The
   result per method is the median and the min–max of its rounds.

Bench modules describe problems and turn the measurements into rows; ``bench/run.py`` prints
them. Children rebuild a problem from its module and name (``module.problem(name)``), so every
problem must be constructible from its name alone, and its data loaded in the child (not timed).
"""

from __future__ import annotations

import ctypes
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
#: Probe limits: a method past either is reported as stopped, not timed.
PROBE_TIMEOUT_S = 300.0
PROBE_MEMORY_MB = 8192.0


@dataclass(frozen=True)
class Method:
    """One way of solving a problem.

    ``make(data)`` does the method's imports and set-up and returns a zero-argument call that
    solves the problem once (its return value is the method's output). ``threads`` is how many
    threads the method computes with; ``params`` states what it computes (kernel, bandwidth,
    lattice, tolerance...).
    """

    label: str
    threads: int
    make: Callable[[Any], Callable[[], Any]]
    params: str = ""


@dataclass(frozen=True)
class Problem:
    name: str
    load: Callable[[], Any]
    methods: dict[str, Method]
    #: Rounds for the timing child; fewer when one round would take too long (``budget_s``).
    repeats: int = 7
    budget_s: float = 90.0


@dataclass
class Measurement:
    """What the harness measured for one method; times in seconds, memory in MB."""

    ok: bool
    note: str = ""
    import_s: float | None = None
    first_s: float | None = None
    peak_mb: float | None = None
    base_mb: float | None = None
    times: list[float] = field(default_factory=list)
    output: Any = None

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def min_s(self) -> float | None:
        return min(self.times) if self.times else None

    @property
    def max_s(self) -> float | None:
        return max(self.times) if self.times else None

    def timing(self) -> dict:
        """The row fields bench/run.py prints."""
        return {
            "median_s": self.median_s,
            "min_s": self.min_s,
            "max_s": self.max_s,
            "repeats": len(self.times) or None,
            "first_s": self.first_s,
            "import_s": self.import_s,
            "peak_mb": self.peak_mb,
        }


def measure(module: str, problem: Problem, only: tuple[str, ...] | None = None) -> dict[str, Measurement]:
    """Probe every method of ``problem`` (defined in bench module ``module``), then time them."""
    keys = [k for k in problem.methods if only is None or k in only]
    results: dict[str, Measurement] = {}
    with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
        for key in keys:
            results[key] = _probe(module, problem.name, key, Path(tmp) / f"{key}.pkl")
    timed = [k for k in keys if results[k].ok]
    if timed:
        round_s = sum(results[k].first_s for k in timed)
        repeats = max(3, min(problem.repeats, int(problem.budget_s / max(round_s, 1e-9))))
        times, note = _time(module, problem.name, timed, repeats, round_s)
        for key in timed:
            results[key].times = times.get(key, [])
            if note:
                results[key].note = note
    return results


# -- parent side ---------------------------------------------------------------------------------
def _probe(module: str, problem: str, key: str, out: Path) -> Measurement:
    cmd = [sys.executable, "-m", "bench.harness", "probe", module, problem, key, str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reason = _watch(proc, PROBE_TIMEOUT_S, PROBE_MEMORY_MB)
    if reason:
        return Measurement(ok=False, note=reason)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        last = (stderr.strip().splitlines() or ["?"])[-1]
        return Measurement(ok=False, note=f"failed: {last[:200]}")
    res = json.loads(stdout.strip().splitlines()[-1])
    output = pickle.loads(out.read_bytes())
    return Measurement(ok=True, output=output, **res)


def _time(module: str, problem: str, keys: list[str], repeats: int, round_s: float):
    """Times per method from one child; ({}, reason) when the child failed."""
    cmd = [sys.executable, "-m", "bench.harness", "time", module, problem, str(repeats), *keys]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Cold first calls bound a warm round; the load of the other jobs may slow it a few times over.
    reason = _watch(proc, 60.0 + 5.0 * round_s * (repeats + 1), PROBE_MEMORY_MB * 1.5)
    if reason:
        return {}, f"timing stopped: {reason}"
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        last = (stderr.strip().splitlines() or ["?"])[-1]
        return {}, f"timing failed: {last[:200]}"
    return json.loads(stdout.strip().splitlines()[-1]), ""


def _watch(proc: subprocess.Popen, timeout_s: float, memory_mb: float) -> str:
    """Wait for ``proc``; kill it past the timeout or the resident-memory cap (reason, or "")."""
    try:
        import psutil

        ps = psutil.Process(proc.pid)
    except Exception:  # psutil missing: the timeout alone guards
        ps = None
    start = time.monotonic()
    while proc.poll() is None:
        reason = ""
        if time.monotonic() - start > timeout_s:
            reason = f"stopped after {timeout_s:.0f} s"
        elif ps is not None:
            try:
                if ps.memory_info().rss / 2**20 > memory_mb:
                    reason = f"stopped above {memory_mb / 1024:.0f} GB resident"
            except Exception:
                pass
        if reason:
            proc.kill()
            proc.communicate()
            return reason
        time.sleep(0.05)
    return ""


# -- child side ----------------------------------------------------------------------------------
def status_mb(field_name: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MB.

    Not getrusage's ru_maxrss: on Linux a forked child inherits its parent's high-water mark.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field_name)


def _reset_peak() -> None:
    """Hand freed heap back to the system, then reset VmHWM to the current RSS.

    Without the trim, memory that loading the data allocated and freed stays resident, counts
    in the baseline and is reused by the method: its peak would look smaller than it is.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the baseline may then include freed memory
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0
    except OSError:
        pass


def _problem(module: str, name: str) -> Problem:
    import importlib

    return importlib.import_module(module).problem(name)


def _child_probe(module: str, name: str, key: str, out: str) -> None:
    prob = _problem(module, name)
    data = prob.load()
    t = time.perf_counter()
    call = prob.methods[key].make(data)
    import_s = time.perf_counter() - t
    _reset_peak()
    base = status_mb("VmRSS")
    t = time.perf_counter()
    output = call()
    first_s = time.perf_counter() - t
    peak = status_mb("VmHWM") - base
    Path(out).write_bytes(pickle.dumps(output, protocol=pickle.HIGHEST_PROTOCOL))
    print(json.dumps({"import_s": import_s, "first_s": first_s, "peak_mb": max(peak, 0.0), "base_mb": base}))


def _child_time(module: str, name: str, repeats: int, keys: list[str]) -> None:
    prob = _problem(module, name)
    data = prob.load()
    calls = {key: prob.methods[key].make(data) for key in keys}
    for call in calls.values():
        call()  # warm-up: caches filled, code compiled
    times: dict[str, list[float]] = {key: [] for key in keys}
    for r in range(repeats):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            t = time.perf_counter()
            calls[key]()
            times[key].append(time.perf_counter() - t)
    print(json.dumps(times))


def machine() -> dict:
    """Where and when the figures were measured."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": model,
        "cores": os.cpu_count(),
        "load_avg_1_5_15": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        _child_probe(*sys.argv[2:6])
    elif sys.argv[1] == "time":
        _child_time(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
    else:
        raise SystemExit("usage: python -m bench.harness probe|time ...")
