"""The demo knows the truth: each planted intervention effect is recovered from the shipped
demo exports, through the whole ingest (dirty rows, duplicates, geocoding) and the register."""

from __future__ import annotations

import geopandas as gpd
import pytest

from pipeline import demo
from pipeline.evaluation import interventions as ev
from pipeline.runner import Reference
from pipeline.sources.interventions import read_register
from tests.conftest import DEMO_WEEK

PLANTED = {p.row["Insats-id"]: p for p in demo.PLANTED if p.expected is not None}


@pytest.fixture(scope="module")
def evaluated(weekly_run):
    cfg = weekly_run["cfg"]
    events = gpd.read_parquet(weekly_run["base"] / "data/processed/events")
    ref = Reference.load(cfg)
    register, rejected, quality = read_register(cfg, ref)
    layer, weekly = ev.evaluate_interventions(register, events, DEMO_WEEK, cfg, ref.boundary, ref.areas)
    return layer.set_index("intervention_id"), weekly


def test_the_demo_plants_four_kinds_of_outcome():
    kinds = {p.effect for p in PLANTED.values()}
    verdicts = {p.expected for p in PLANTED.values()}
    assert {"reduce", "displace", "none"} <= kinds and len(PLANTED) >= 4
    assert (ev.TOO_FEW, "") in verdicts and (ev.NO_CHANGE, "") in verdicts and (ev.DECREASE, "") in verdicts


@pytest.mark.parametrize("iid", sorted(PLANTED))
def test_planted_outcome_is_recovered(evaluated, iid):
    layer, _ = evaluated
    row = layer.loc[iid]
    verdict, note = PLANTED[iid].expected
    if verdict is not None:
        assert row.verdict == verdict, (iid, row.t_before, row.t_under, row.ratio, row.ratio_low, row.ratio_high)
    assert row.ring_note == note, (iid, row.d_before, row.d_under, row.ring_ratio, row.ring_ratio_low)


def test_the_halved_target_is_estimated_near_one_half(evaluated):
    layer, _ = evaluated
    reduced = [iid for iid, p in PLANTED.items() if p.effect == "reduce"]
    for iid in reduced:
        row = layer.loc[iid]
        share = PLANTED[iid].share
        assert row.ratio_low < 1 - share < row.ratio_high  # the interval covers the planted ratio
        assert row.wdd < 0 and row.wdd_z < -1.96


def test_displacement_moves_events_into_the_ring(evaluated):
    layer, _ = evaluated
    for iid, p in PLANTED.items():
        if p.effect == "displace":
            row = layer.loc[iid]
            assert row.ring_ratio_low > 1 and row.t_under / row.weeks_under < row.t_before / row.weeks_before
            assert row.wdq < 0 if row.wdq == row.wdq else True  # B&J: displacement is negative


def test_statuses_and_windows_in_the_demo_week(evaluated):
    layer, weekly = evaluated
    status = layer["status"].to_dict()
    assert status["MJ-2026-01"] == ev.ACTIVE and status["MJ-2026-02"] == ev.FOLLOW_UP
    assert status["MJ-2026-05"] == ev.ENDED  # June: follow-up complete
    assert "MJ-2026-06" not in layer.index  # planned for December
    # June's före window reaches before the first week of data: only the weeks with data.
    assert layer.loc["MJ-2026-05", "weeks_before"] == 1
    sums = weekly.groupby(["intervention_id", "window"])["n_target"].sum()
    for iid, row in layer.iterrows():
        assert sums.get((iid, "före"), 0) == row.t_before and sums.get((iid, "under"), 0) == row.t_under
