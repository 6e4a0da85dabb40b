"""Crashes and re-runs: SIGKILL at several points leaves the previous outputs intact, the next
run completes, and two runs at once are refused with a clear message."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

PREVIOUS, CURRENT = "2026-W46", "2026-W47"
KILL_POINTS = [
    "after-ingest",
    f"before-rename:{CURRENT}.gpkg",  # the new archive is complete but not yet in place
    f"after-archive:{CURRENT}",
    "before-rename:karta.html",  # a map half-way through rendering
    "before-rename:index.html",
]


def lagesbild(config: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def snapshot(base: Path, week: str) -> dict[str, str]:
    """sha256 of a week's archive and rendered files."""
    files = [base / "data/processed/archive" / f"{week}.gpkg", *sorted((base / "maps" / week).glob("*.html"))]
    return {str(f.relative_to(base)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.fixture(scope="module")
def crashed_project(tmp_path_factory):
    base = tmp_path_factory.mktemp("crash")
    config = copy_project(base)
    done = lagesbild(config, "weekly", "--week", PREVIOUS)
    assert done.returncode == 0, done.stderr
    return config


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_leaves_previous_week_intact_and_next_run_completes(crashed_project, point):
    base = crashed_project.parent
    before = snapshot(base, PREVIOUS)
    # --rebuild: the week is current after the previous case's re-run, and must be built again
    # to reach the kill point
    killed = lagesbild(crashed_project, "weekly", "--week", CURRENT, "--rebuild", env={"LAGESBILD_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-2000:])
    # The previous week is byte-identical unless the run legitimately re-rendered its map
    # (its "next week" link); its archive is never touched by a crash.
    after = snapshot(base, PREVIOUS)
    assert after[f"data/processed/archive/{PREVIOUS}.gpkg"] == before[f"data/processed/archive/{PREVIOUS}.gpkg"]
    for name, digest in after.items():
        assert (base / name).stat().st_size > 0
    leftovers = [p for p in base.rglob(".*.tmp*")]
    assert leftovers == [] or point.startswith("before-rename"), leftovers
    rerun = lagesbild(crashed_project, "weekly", "--week", CURRENT)
    assert rerun.returncode == 0, rerun.stderr
    assert [p for p in base.rglob(".*.tmp*")] == [], "the next run cleans up temp files"
    assert (base / "data/processed/archive" / f"{CURRENT}.gpkg").is_file()
    assert (base / "maps" / CURRENT / "karta.html").read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_second_concurrent_run_is_refused_with_clear_message(project):
    """While one run holds the lock, another stops at once with one line and exit code 2."""
    from filelock import FileLock

    lock_path = project.parent / "data/processed/.lagesbild.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path):
        refused = lagesbild(project, "weekly", "--week", CURRENT)
    assert refused.returncode == 2
    assert "another lagesbild run is in progress" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (project.parent / "data/processed/archive").exists()
