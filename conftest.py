"""Doctest namespace: the docstring examples in pipeline/ run in `make test` on small real
inputs (the synthetic two-hotspot town of tests/test_weekly.py and the shipped config)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _doctest_inputs(doctest_namespace):
    from tests.test_weekly import WEEK, config, synthetic

    cfg = config()
    events, boundary, areas = synthetic(cfg)
    doctest_namespace.update(
        cfg=cfg,
        events=events,
        boundary=boundary,
        areas=areas,
        week_events=events[events["iso_week"] == WEEK],
    )
