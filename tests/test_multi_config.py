"""Several municipalities in one command (``--config a.yaml --config b.yaml``): each runs in its
own process under its own lock, gives what a run of its own gives, and one failing does not
stop the others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

from pipeline.parallel import project_label
from tests.conftest import copy_project

WEEK = "2026-W47"


def lagesbild(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def features(config: Path) -> dict:
    path = config.parent / "data/processed/archive" / f"{WEEK}.gpkg"
    names = [n for n, _ in pyogrio.list_layers(path) if n not in ("run_info", "layer_styles")]
    return {n: _comparable(pyogrio.read_dataframe(path, layer=n)) for n in names}


def _comparable(frame):
    # ids are keyed with each installation's own secret: the one thing that must differ
    frame = frame.drop(columns="event_id", errors="ignore")
    if "duplicate_of" in frame:
        frame["duplicate_of"] = frame["duplicate_of"].fillna("") != ""
    return frame


def test_two_municipalities_run_in_parallel_and_each_equals_its_own_run(tmp_path):
    configs = []
    for name in ("mjolby", "boxholm", "alone"):
        (tmp_path / name).mkdir()
        configs.append(copy_project(tmp_path / name))
    both = lagesbild(
        "weekly", "--week", WEEK, "--config", "mjolby/config.yaml", "--config", "boxholm/config.yaml", cwd=tmp_path
    )
    assert both.returncode == 0, both.stdout[-2000:]
    lines = both.stdout.splitlines()
    assert lines and all(line.startswith(("[mjolby ] ", "[boxholm] ")) for line in lines), lines[:5]
    for label in ("mjolby ", "boxholm"):
        assert any(line.startswith(f"[{label}] Vecka 47, 2026:") for line in lines), label
    alone = lagesbild("weekly", "--week", WEEK, "--config", "alone/config.yaml", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    reference = features(configs[2])
    for config in configs[:2]:
        got = features(config)
        assert got.keys() == reference.keys()
        for name in reference:
            # the same inputs give the same features, whichever process built them
            assert got[name].equals(reference[name]), (config, name)


def test_a_failing_municipality_does_not_stop_the_others(tmp_path):
    (tmp_path / "good").mkdir()
    copy_project(tmp_path / "good")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.yaml").write_text("partners: 3\n", encoding="utf-8")
    run = lagesbild("ingest", "--config", "bad/config.yaml", "--config", "good/config.yaml", cwd=tmp_path)
    assert run.returncode == 2
    assert "Traceback" not in run.stdout + run.stderr
    assert any(line.startswith("[bad ] lagesbild: error:") for line in run.stdout.splitlines()), run.stdout
    assert "lagesbild: bad/config.yaml: failed (exit 2)" in run.stdout
    assert any((tmp_path / "good/data/processed/events").glob("*.parquet"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "nowhere.yaml", "--config", "good/config.yaml"], "config file not found: nowhere.yaml"),
        (["--config", "good/config.yaml", "--config", "./good/config.yaml"], "the same config is given twice"),
        (["--config", "good/config.yaml", "--config", "b.yaml", "--jobs", "0"], "--jobs must be at least 1"),
    ],
)
def test_bad_multi_config_arguments_get_one_line(tmp_path, args, message):
    (tmp_path / "good").mkdir()
    copy_project(tmp_path / "good")
    (tmp_path / "b.yaml").write_text("x: 1\n", encoding="utf-8")
    run = lagesbild("weekly", *args, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and message in run.stderr, run.stderr


def test_project_label():
    assert project_label("a/b/config.yaml") == "b"
    assert project_label("norrkoping.yaml") == "norrkoping"
