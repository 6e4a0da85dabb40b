"""Intervention statistics against hand-computed values and independent references.

DiD ratio with its Poisson interval, WDD (Wheeler & Ratcliffe; per week, scaled controls via
the delta method), WDQ (Bowers & Johnson), verdicts, windows across ISO-year ends, and the
counting in target, ring and comparison on a small hand-built town.
"""

from __future__ import annotations

import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats

from pipeline.config import Interventions, load_config
from pipeline.evaluation import interventions as ev
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config.yaml")


# -- DiD ratio -------------------------------------------------------------------------------


def test_did_ratio_hand_computed():
    # r = (20/40)/(400/400) = 0.5; se = sqrt(1/40 + 1/20 + 1/400 + 1/400) = sqrt(0.08) = 0.2828427
    # exp(log 0.5 ± 1.959964 * 0.2828427) = 0.5 * exp(±0.5543635) = 0.28722, 0.87041
    r = ev.did_ratio(40, 20, 400, 400)
    assert r.ratio == pytest.approx(0.5)
    assert (r.low, r.high) == (pytest.approx(0.28722, abs=1e-5), pytest.approx(0.87041, abs=1e-5))
    assert r.significant and not r.corrected
    # The control's change divides out: T halves while C falls by 20 % -> 0.625.
    # se = sqrt(1/40 + 1/20 + 1/400 + 1/320) = sqrt(0.080625) = 0.2839454
    r = ev.did_ratio(40, 20, 400, 320)
    assert r.ratio == pytest.approx(0.625)
    assert r.low == pytest.approx(0.625 * math.exp(-1.959964 * 0.2839454), rel=1e-5)
    assert r.high == pytest.approx(0.625 * math.exp(1.959964 * 0.2839454), rel=1e-5)


def test_did_ratio_zero_count_is_corrected_and_flagged():
    # Haldane-Anscombe: 0.5 on all four. r = (0.5/10.5)/(100.5/100.5) = 0.0476190
    # se = sqrt(1/10.5 + 1/0.5 + 1/100.5 + 1/100.5) = sqrt(2.1151375) = 1.4543512
    r = ev.did_ratio(10, 0, 100, 100)
    assert r.corrected
    assert r.ratio == pytest.approx(0.0476190, rel=1e-5)
    assert r.low == pytest.approx(0.0476190 * math.exp(-1.959964 * 1.4543512), rel=1e-5)
    assert r.high == pytest.approx(0.0476190 * math.exp(1.959964 * 1.4543512), rel=1e-5)
    assert math.isnan(ev.did_ratio(0, 0, 5, 5).ratio) and math.isnan(ev.did_ratio(3, 4, 0, 0).ratio)


def test_did_interval_covers_the_true_ratio_95_percent_of_the_time():
    # Independent check of the interval: Poisson counts with a known ratio of 0.6.
    rng = np.random.default_rng(12)
    n = 4000
    t0, t1 = rng.poisson(30, n), rng.poisson(30 * 0.6 * 0.9, n)
    c0, c1 = rng.poisson(600, n), rng.poisson(600 * 0.9, n)
    hits = 0
    for a, b, c, d in zip(t0, t1, c0, c1):
        r = ev.did_ratio(int(a), int(b), int(c), int(d))
        hits += r.low <= 0.6 <= r.high
    coverage = hits / n
    # Binomial sd at 4000 draws is 0.0034; the log-normal interval is slightly conservative.
    assert 0.935 <= coverage <= 0.965, coverage


def test_did_interval_equals_the_conditional_binomial_wald_interval():
    # Given T0+T1 and C0+C1, log((T1/T0)/(C1/C0)) is a difference of two binomial logits, whose
    # Wald variance 1/T0 + 1/T1 (+ 1/C0 + 1/C1) is exactly our formula; check with scipy's normal.
    t0, t1, c0, c1 = 25, 12, 300, 270
    se = math.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)
    lo, hi = stats.norm.interval(0.95, loc=math.log(t1 / t0) - math.log(c1 / c0), scale=se)
    r = ev.did_ratio(t0, t1, c0, c1)
    assert (math.log(r.low), math.log(r.high)) == (pytest.approx(lo), pytest.approx(hi))


# -- WDD ---------------------------------------------------------------------------------------


def test_wdd_is_the_published_statistic_with_equal_windows():
    # Wheeler & Ratcliffe: WDD = ΔT − ΔCt + ΔD − ΔCd; Var = the sum of the eight counts.
    w = ev.wdd((10, 5), (20, 20), (6, 9), (12, 12))
    assert w.wdd == pytest.approx((5 - 10) - (20 - 20) + (9 - 6) - (12 - 12))  # -2
    assert w.var == pytest.approx(10 + 5 + 20 + 20 + 6 + 9 + 12 + 12)  # 94
    assert w.z == pytest.approx(-2 / math.sqrt(94))
    assert (w.local, w.ring) == (pytest.approx(-5), pytest.approx(3))


def test_wdd_per_week_matches_wheelers_different_windows_example():
    # Wheeler (2021, "The WDD test with different pre/post time periods"): 2 years before,
    # 1 year after, treated 80 -> 20, control 100 -> 50: per year (20 − 40) − (50 − 50) = −20,
    # variance 20/1 + 80/4 + 50/1 + 100/4 = 115.
    w = ev.wdd((80, 20), (100, 50), weeks=(2, 1))
    assert (w.wdd, w.var) == (pytest.approx(-20), pytest.approx(115))


def test_wdd_with_a_shared_control_counts_its_variance_twice_over():
    # The same control for T and D: WDD = ΔT + ΔD − 2ΔC, so Var(C) enters with (−2)² = 4.
    w = ev.wdd((10, 5), (20, 24), (6, 9), shared=True)
    assert w.wdd == pytest.approx(-5 + 3 - 2 * 4)
    assert w.var == pytest.approx(10 + 5 + 6 + 9 + 4 * (20 + 24))


def test_scaled_wdd_hand_computed():
    # Control scaled to the baselines, 8 weeks each, control shared:
    # local = 20/8 − 40·360/(400·8) = 2.5 − 4.5 = −2.0; ring = 36/8 − 30·360/(400·8) = 1.125
    # Var = Σ g²n: t1 (1/8)²·20 = .3125, t0 (.1125)²·40 = .50625, d1 (1/8)²·36 = .5625,
    # d0 (.1125)²·30 = .3796875, c1 (70/3200)²·360 = .172265625, c0 (70·360/1280000)²·400 = .1550390625
    w = ev.wdd((40, 20), (400, 360), (30, 36), weeks=(8, 8), scaled=True, shared=True)
    assert (w.local, w.ring, w.wdd) == (pytest.approx(-2.0), pytest.approx(1.125), pytest.approx(-0.875))
    assert w.var == pytest.approx(2.0882421875)


def test_scaled_wdd_variance_is_the_delta_method_of_its_formula():
    # Independent of the hand-written gradients: numerical derivatives of the estimate.
    counts = dict(t0=33.0, t1=21.0, c0=510.0, c1=470.0, d0=18.0, d1=29.0, e0=260.0, e1=250.0)
    weeks = (8, 11)

    def est(k):
        return ev.wdd(
            (k["t0"], k["t1"]), (k["c0"], k["c1"]), (k["d0"], k["d1"]), (k["e0"], k["e1"]), weeks=weeks, scaled=True
        ).wdd

    var = 0.0
    for name, n in counts.items():
        h = 1e-4
        up, down = dict(counts, **{name: n + h}), dict(counts, **{name: n - h})
        var += ((est(up) - est(down)) / (2 * h)) ** 2 * n
    got = ev.wdd((33, 21), (510, 470), (18, 29), (260, 250), weeks=weeks, scaled=True)
    assert got.var == pytest.approx(var, rel=1e-6)


def test_wdd_variance_matches_simulated_poisson_counts():
    # Monte Carlo reference for both forms: the spread of WDD over Poisson draws.
    rng = np.random.default_rng(7)
    n = 20000
    mean = dict(t0=40, t1=25, c0=500, c1=450, d0=30, d1=30)
    draws = {k: rng.poisson(v, n) for k, v in mean.items()}
    for scaled in (False, True):
        values = [
            ev.wdd((a, b), (c, d), (e, f), weeks=(8, 8), scaled=scaled, shared=True).wdd
            for a, b, c, d, e, f in zip(*(draws[k] for k in mean))
        ]
        predicted = ev.wdd((40, 25), (500, 450), (30, 30), weeks=(8, 8), scaled=scaled, shared=True).var
        assert np.var(values) == pytest.approx(predicted, rel=0.05), scaled


# -- WDQ ---------------------------------------------------------------------------------------


def test_wdq_hand_computed_and_undefined_cases():
    # (Da/Ca − Db/Cb) / (Ta/Ca − Tb/Cb) = (36/400 − 30/400) / (20/400 − 40/400) = 0.015 / −0.05
    assert ev.wdq((40, 20), (30, 36), (400, 400)) == pytest.approx(-0.3)
    # Diffusion of benefit: the ring falls too -> positive.
    assert ev.wdq((40, 20), (30, 20), (400, 400)) == pytest.approx((20 / 400 - 30 / 400) / (20 / 400 - 40 / 400))
    assert math.isnan(ev.wdq((20, 40), (30, 36), (400, 400)))  # no success to weigh against
    assert math.isnan(ev.wdq((40, 20), (30, 36), (0, 400)))  # control empty before


# -- verdicts ------------------------------------------------------------------------------------


def test_verdicts_read_the_interval_and_the_minimum():
    assert ev.verdict(40, 20, ev.did_ratio(40, 20, 400, 400), 10) == ev.DECREASE
    assert ev.verdict(20, 40, ev.did_ratio(20, 40, 400, 400), 10) == ev.INCREASE
    assert ev.verdict(30, 25, ev.did_ratio(30, 25, 400, 400), 10) == ev.NO_CHANGE
    assert ev.verdict(6, 3, ev.did_ratio(6, 3, 400, 400), 10) == ev.TOO_FEW
    # Exactly the minimum is enough; one fewer is not.
    assert ev.verdict(9, 1, ev.did_ratio(9, 1, 400, 400), 10) != ev.TOO_FEW
    assert ev.verdict(8, 1, ev.did_ratio(8, 1, 400, 400), 10) == ev.TOO_FEW


def test_ring_notes():
    up, down, flat = ev.did_ratio(20, 45, 400, 400), ev.did_ratio(45, 15, 400, 400), ev.did_ratio(20, 22, 400, 400)
    assert ev.ring_note(20, 45, up, 10) == ev.DISPLACEMENT
    assert ev.ring_note(45, 15, down, 10) == ev.DIFFUSION
    assert ev.ring_note(20, 22, flat, 10) == ""
    assert ev.ring_note(2, 7, ev.did_ratio(2, 7, 400, 400), 10) == ""


# -- windows -------------------------------------------------------------------------------------


def test_windows_of_an_ongoing_intervention():
    w = ev.intervention_windows(dt.date(2026, 9, 30), None, "2026-W47", 8, 8, "2026-W22")
    assert (w.start_week, w.end_week, w.status) == ("2026-W40", "", ev.ACTIVE)
    assert w.before == [f"2026-W{k}" for k in range(32, 40)]
    assert w.under == [f"2026-W{k}" for k in range(40, 48)] and w.after == []


def test_windows_after_the_end_and_status_changes():
    start, end = dt.date(2026, 9, 14), dt.date(2026, 10, 25)
    w = ev.intervention_windows(start, end, "2026-W47", 8, 8, "2026-W22")
    assert (w.start_week, w.end_week, w.status) == ("2026-W38", "2026-W43", ev.FOLLOW_UP)
    assert w.under == [f"2026-W{k}" for k in range(38, 44)]
    assert w.after == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert ev.intervention_windows(start, end, "2026-W43", 8, 8, None).status == ev.ACTIVE
    assert ev.intervention_windows(start, end, "2026-W51", 8, 8, None).status == ev.FOLLOW_UP
    late = ev.intervention_windows(start, end, "2026-W52", 8, 8, None)
    assert late.status == ev.ENDED and len(late.after) == 8
    assert ev.intervention_windows(dt.date(2026, 12, 7), None, "2026-W47", 8, 8, None) is None


def test_windows_across_an_iso_year_with_53_weeks_and_before_the_data():
    # 2026 has a week 53; 2027-01-04 is the Monday of 2027-W01.
    w = ev.intervention_windows(dt.date(2027, 1, 4), dt.date(2027, 1, 17), "2027-W05", 3, 2, "2026-W52")
    assert w.before == ["2026-W52", "2026-W53"]  # 2026-W51 has no data: left out, not zero
    assert w.under == ["2027-W01", "2027-W02"] and w.after == ["2027-W03", "2027-W04"]


# -- counting on a hand-built town ---------------------------------------------------------------

TARGET = (500_000.0, 6_460_000.0)


def _events(points: list[tuple[float, float, str, str]], **extra) -> gpd.GeoDataFrame:
    """(x, y, iso_week, category) -> canonical-looking events."""
    n = len(points)
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "iso_week": [p[2] for p in points],
            "category": [p[3] for p in points],
            "sensitive": extra.get("sensitive", [False] * n),
            "duplicate_of": extra.get("duplicate_of", [""] * n),
        }
    )
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy([p[0] for p in points], [p[1] for p in points]), crs="EPSG:3006"
    )


def _register(rows: list[dict]) -> gpd.GeoDataFrame:
    base = {
        "name": "x",
        "type": "väktare",
        "responsible": "",
        "end": "",
        "target_kind": "point",
        "target": "",
        "radius_m": 100.0,
        "problem": "",
        "problem_text": "",
        "comment": "",
        "source_file": "r.csv",
        "source_line": 2,
    }
    frame = pd.DataFrame([{**base, **{k: v for k, v in r.items() if k != "geometry"}} for r in rows])
    return gpd.GeoDataFrame(frame, geometry=[r["geometry"] for r in rows], crs="EPSG:3006")


def _at(dx: float, week: str, cat: str = "skadegorelse", dy: float = 0.0):
    return (TARGET[0] + dx, TARGET[1] + dy, week, cat)


def _config(cfg, **icfg):
    return cfg.model_copy(update={"interventions": Interventions(**icfg)})


def test_counts_per_window_and_area(cfg):
    boundary = shapely.box(TARGET[0] - 5000, TARGET[1] - 5000, TARGET[0] + 5000, TARGET[1] + 5000)
    target = shapely.Point(TARGET).buffer(100, quad_segs=64)
    pts = []
    pts += [_at(10, "2026-W10")] * 6 + [_at(-20, "2026-W11")] * 6  # target, före: 12
    pts += [_at(0, "2026-W12")] * 3 + [_at(5, "2026-W13")] * 2  # target, under: 5
    pts += [_at(200, "2026-W10")] * 4 + [_at(-250, "2026-W13")] * 9  # ring (100–350 m): 4, 9
    pts += [_at(2000, "2026-W10")] * 50 + [_at(-3000, "2026-W12")] * 45  # comparison: 50, 45
    pts += [_at(10, "2026-W12", "vald_nara_relation")] * 7  # protected: never counted
    pts += [_at(10, "2026-W14")] * 9  # after the analysed week
    events = _events(pts, sensitive=[p[3] == "vald_nara_relation" for p in pts])
    dup = _events([_at(10, "2026-W12")], duplicate_of=["e0"])
    dup["event_id"] = "dup"
    events = pd.concat([events, dup], ignore_index=True)
    register = _register([{"intervention_id": "A", "start": "2026-03-16", "geometry": target}])
    c = _config(cfg, before_weeks=2, ring_m=250, min_events=10, wdd_control="raw")
    layer, weekly = ev.evaluate_interventions(register, events, "2026-W13", c, boundary)
    row = layer.iloc[0]
    assert (row.start_week, row.weeks_before, row.weeks_under) == ("2026-W12", 2, 2)
    assert (row.t_before, row.t_under, row.t_after) == (12, 5, 0)
    assert (row.d_before, row.d_under) == (4, 9)
    assert (row.c_before, row.c_under) == (50, 45) and (row.e_before, row.e_under) == (50, 45)
    r = ev.did_ratio(12, 5, 50, 45)
    assert (row.ratio, row.ratio_low, row.ratio_high) == (
        pytest.approx(r.ratio),
        pytest.approx(r.low),
        pytest.approx(r.high),
    )
    # raw WDD, 2 weeks each, shared control: per week ((5−12) − (45−50) + (9−4) − (45−50)) / 2 = 4
    assert row.wdd == pytest.approx(((5 - 12) - (45 - 50) + (9 - 4) - (45 - 50)) / 2)
    assert row.wdd_se == pytest.approx(math.sqrt((12 + 5 + 4 + 9 + 4 * (50 + 45)) / 4))
    assert row.verdict == ev.verdict(12, 5, r, 10) and row.status == ev.ACTIVE
    assert weekly["n_target"].tolist() == [6, 6, 3, 2] and weekly["window"].tolist() == ["före"] * 2 + ["under"] * 2


def test_problem_categories_filter_and_other_interventions_leave_the_comparison(cfg):
    boundary = shapely.box(TARGET[0] - 5000, TARGET[1] - 5000, TARGET[0] + 5000, TARGET[1] + 5000)
    here = shapely.Point(TARGET).buffer(100)
    there = shapely.Point(TARGET[0] + 2000, TARGET[1]).buffer(100)
    pts = [_at(0, "2026-W10", "klotter")] * 5 + [_at(0, "2026-W10", "stold")] * 7
    pts += [_at(2000, "2026-W10", "klotter")] * 20 + [_at(-2000, "2026-W10", "klotter")] * 3
    pts += [_at(-2000, "2026-W11", "klotter")] * 4
    register = _register(
        [
            {"intervention_id": "A", "start": "2026-03-09", "problem": "klotter", "geometry": here},
            {"intervention_id": "B", "start": "2026-03-09", "geometry": there},
        ]
    )
    layer, _ = ev.evaluate_interventions(register, _events(pts), "2026-W11", _config(cfg, before_weeks=1), boundary)
    a = layer.set_index("intervention_id").loc["A"]
    assert a.t_before == 5  # stöld is not A's problem
    # B is treated at the same time: its 20 klotter events are not A's comparison.
    assert (a.c_before, a.c_under) == (3, 4)
    assert a.problem_label == "Klotter"
    b = layer.set_index("intervention_id").loc["B"]
    assert b.t_before == 20 and b.problem_label == "alla kategorier"


def test_comparison_area_from_config(cfg):
    boundary = shapely.box(TARGET[0] - 5000, TARGET[1] - 5000, TARGET[0] + 5000, TARGET[1] + 5000)
    areas = gpd.GeoDataFrame(
        {"name": ["Väster", "Öster"]},
        geometry=[
            shapely.box(TARGET[0] - 5000, TARGET[1] - 5000, TARGET[0] - 1000, TARGET[1] + 5000),
            shapely.box(TARGET[0] + 1000, TARGET[1] - 5000, TARGET[0] + 5000, TARGET[1] + 5000),
        ],
        crs="EPSG:3006",
    )
    pts = [_at(-2000, "2026-W11")] * 8 + [_at(2000, "2026-W11")] * 30
    register = _register(
        [{"intervention_id": "A", "start": "2026-03-16", "geometry": shapely.Point(TARGET).buffer(100)}]
    )
    c = _config(cfg, before_weeks=1, comparison_area="Väster", ring_comparison_area="Öster")
    row = ev.evaluate_interventions(register, _events(pts), "2026-W12", c, boundary, areas)[0].iloc[0]
    assert (row.c_before, row.e_before) == (8, 30)
    assert row.comparison == "Väster; närområdet mot Öster"


def test_no_register_and_no_started_intervention_give_empty_layers(cfg):
    boundary = shapely.box(0, 0, 10, 10)
    events = _events([(5, 5, "2026-W10", "klotter")])
    register = _register([{"intervention_id": "A", "start": "2026-12-07", "geometry": shapely.box(0, 0, 1, 1)}])
    layer, weekly = ev.evaluate_interventions(register, events, "2026-W47", _config(cfg), boundary)
    assert len(layer) == 0 and len(weekly) == 0
    assert {"verdict", "ratio", "intervention_id"} <= set(layer.columns)


def test_uncovered_zones(cfg):
    zones = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 10, 10), shapely.box(100, 100, 110, 110)], crs="EPSG:3006")
    layer = gpd.GeoDataFrame(
        {"status": [ev.ACTIVE, ev.FOLLOW_UP]},
        geometry=[shapely.box(5, 5, 20, 20), shapely.box(100, 100, 120, 120)],
        crs="EPSG:3006",
    )
    assert ev.uncovered(zones, layer).tolist() == [False, True]  # an ended intervention covers nothing
