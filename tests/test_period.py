"""Quarter and year reports: period arithmetic, tested trends against scipy, priorities, and the
report written from the demo week's archive."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.analysis.period import (
    period_trends,
    period_weeks,
    previous_period,
    priority_areas,
    recurring_places,
    year_before,
)
from pipeline.analysis.trends import ALL_KEY
from pipeline.config import load_config
from pipeline.errors import LagesbildError
from pipeline.runner import run_period_report
from tests.test_weekly import config


def test_periods_follow_iso_weeks():
    # 2026-12-31 is a Thursday: ISO week 53 belongs to 2026 and to its fourth quarter.
    q4 = period_weeks("2026-Q4")
    assert q4[0] == "2026-W40" and q4[-1] == "2026-W53" and len(q4) == 14
    assert period_weeks("2027-Q1")[0] == "2027-W01"
    assert len(period_weeks("2025")) == 52 and len(period_weeks("2026")) == 53
    quarters = sum((period_weeks(f"2026-Q{q}") for q in range(1, 5)), [])
    assert quarters == period_weeks("2026")  # the quarters tile the year exactly
    assert previous_period("2026-Q1") == "2025-Q4" and year_before("2026") == "2025"
    with pytest.raises(LagesbildError, match="2026-Q3"):
        period_weeks("2026-Q5")


def _series(counts: dict[tuple[str, str], dict[str, int]]) -> pd.DataFrame:
    """A series table: {(area, group): {week: n}} plus the ALL_KEY totals the archive carries."""
    rows = []
    for (area, group), by_week in counts.items():
        rows += [{"week": w, "area": area, "group": group, "n": n} for w, n in by_week.items()]
    frame = pd.DataFrame(rows)
    by_area = frame.groupby(["week", "area"], as_index=False)["n"].sum().assign(group=ALL_KEY)
    by_group = frame.groupby(["week", "group"], as_index=False)["n"].sum().assign(area=ALL_KEY)
    return pd.concat([frame, by_area, by_group], ignore_index=True)


def test_period_trends_match_scipy_e_test_and_bh():
    cfg = config()
    q2, q3 = period_weeks("2026-Q2"), period_weeks("2026-Q3")
    # Centrum: 2 a week in Q2, 5 a week in Q3 (a real rise); Norr: 3 a week in both.
    # Q2 is only half covered (the data start in week 20): exposure must be the covered weeks.
    covered_q2 = q2[q2.index("2026-W20") :]
    series = _series(
        {
            ("Centrum", "skadegorelse"): {**{w: 2 for w in covered_q2}, **{w: 5 for w in q3}},
            ("Norr", "tillgrepp"): {**{w: 3 for w in covered_q2}, **{w: 3 for w in q3}},
        }
    )
    labels = {
        "group": {"skadegorelse": "Skadegörelse", "tillgrepp": "Tillgrepp"},
        "area": {"Centrum": "Centrum", "Norr": "Norr"},
    }
    t = period_trends(series, "2026-Q3", cfg, labels).set_index(["dimension", "key"])
    c = t.loc[("area", "Centrum")]
    assert (c.n_now, c.weeks_now, c.n_prev, c.weeks_prev, c.weeks_year) == (
        5 * 13,
        13,
        2 * len(covered_q2),
        len(covered_q2),
        0,
    )
    assert c.p_prev == pytest.approx(stats.poisson_means_test(65, 13, 2 * len(covered_q2), len(covered_q2)).pvalue)
    assert c.pct_prev == pytest.approx((5 - 2) / 2 * 100)
    assert np.isnan(c.p_year)  # no data a year earlier: not a test
    p = np.concatenate([t["p_prev"].to_numpy(float), t["p_year"].to_numpy(float)])
    tested = np.isfinite(p)
    expected_q = stats.false_discovery_control(p[tested])
    got_q = np.concatenate([t["q_prev"].to_numpy(float), t["q_year"].to_numpy(float)])[tested]
    np.testing.assert_allclose(got_q, expected_q)
    assert c.direction_prev == 1 and t.loc[("area", "Norr")].direction_prev == 0


def test_priorities_combine_recurrence_rise_and_volume():
    trends = pd.DataFrame(
        [
            {
                "dimension": "area",
                "key": "Centrum",
                "n_now": 40,
                "direction_prev": 0,
                "direction_year": 0,
                "pct_prev": 5.0,
                "pct_year": np.nan,
            },
            {
                "dimension": "area",
                "key": "Norr",
                "n_now": 20,
                "direction_prev": 1,
                "direction_year": 0,
                "pct_prev": 80.0,
                "pct_year": np.nan,
            },
            {
                "dimension": "area",
                "key": "Söder",
                "n_now": 0,
                "direction_prev": 0,
                "direction_year": 0,
                "pct_prev": np.nan,
                "pct_year": np.nan,
            },
            {
                "dimension": "area",
                "key": "Utanför namngivet område",
                "n_now": 99,
                "direction_prev": 1,
                "direction_year": 1,
                "pct_prev": 50.0,
                "pct_year": 50.0,
            },
        ]
    )
    places = pd.DataFrame([{"place": "Torget", "area": "Centrum", "weeks": 12, "n_events": 30}])
    top = priority_areas(trends, places, n_weeks=13)
    # Centrum: zones 12 of 13 weeks + 2/3 of the events (1.59) beats Norr's tested rise + 1/3
    # (1.33); Söder had no events, and "outside every named area" is never a candidate.
    assert [d["area"] for d in top] == ["Centrum", "Norr"]
    assert "hotspot-zon vid Torget 12 av 13 veckor" in top[0]["reasons"]
    assert any("säker ökning mot föregående period (+80 %)" in r for r in top[1]["reasons"])


def test_recurring_places_with_no_zones_is_empty():
    assert recurring_places({"2026-W01": None}, None).empty


@pytest.mark.parametrize("period", ["2026-Q4", "2026"])
def test_period_report_from_the_demo_archive(weekly_run, tmp_path, period):
    base = tmp_path / "project"
    shutil.copytree(weekly_run["base"], base)
    cfg = load_config(base / "config.yaml")
    out = run_period_report(cfg, period, echo=lambda *_: None)
    html = out.read_text(encoding="utf-8")
    assert out == base / "maps" / period / "lagesbild.html"
    for heading in (
        "Förslag på prioriterade områden",
        "Platser som återkommer",
        "Per månad och tid på dygnet",
        "Insatser och deras utfall",
    ):
        assert heading in html
    assert ("kvartal 4, 2026" if period == "2026-Q4" else "år 2026") in html
    with pytest.raises(LagesbildError, match="no archived week"):
        run_period_report(cfg, "2024-Q1")
