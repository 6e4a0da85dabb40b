"""Several municipalities in one command: ``lagesbild weekly --config a.yaml --config b.yaml``.

Each configuration is its own project (exports, archive, lock), so each runs in its own
process, ``jobs`` at a time; this module only starts them, prefixes their output with the
project's name and reports which failed. No state is shared: the result is exactly what
running the commands one after another would give.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.errors import LagesbildError


def project_label(config: str) -> str:
    """A short name for a project's output lines: the config file's folder, or its stem.

    >>> project_label("kommuner/mjolby/config.yaml")
    'mjolby'
    >>> project_label("boxholm.yaml")
    'boxholm'
    """
    path = Path(config)
    return path.parent.name if path.name == "config.yaml" and path.parent.name else path.stem


def run_configs(command: str, configs: list[str], extra: list[str], jobs: int | None = None, echo=print) -> int:
    """Run ``lagesbild <command> --config C <extra>`` for every C, ``jobs`` processes at once
    (default: one per core); 0 when all succeeded, else the highest exit code."""
    missing = [c for c in configs if not Path(c).is_file()]
    if missing:
        raise LagesbildError(f"config file not found: {missing[0]} (check the --config paths)")
    if len(set(map(os.path.realpath, configs))) < len(configs):
        raise LagesbildError("the same config is given twice with --config: give each municipality once")
    if jobs is not None and jobs < 1:
        raise LagesbildError(f"--jobs must be at least 1, got {jobs}")
    jobs = min(jobs or os.cpu_count() or 1, len(configs))
    labels = [project_label(c) for c in configs]
    prefixes = [f"[{label:<{max(map(len, labels))}}] " for label in labels]
    lock = threading.Lock()  # one output line at a time
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = pool.map(lambda c, p: _run_one(command, c, extra, p, echo, lock), configs, prefixes)
        codes = dict(zip(configs, runs))
    failed = [c for c in configs if codes[c]]
    for config in failed:
        echo(f"lagesbild: {config}: failed (exit {codes[config]}); the other municipalities are unaffected")
    return max(codes.values(), default=0)


def _run_one(command: str, config: str, extra: list[str], prefix: str, echo, lock) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", command, "--config", config, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    for line in proc.stdout:
        with lock:
            echo(prefix + line.rstrip("\n"))
    return proc.wait()
