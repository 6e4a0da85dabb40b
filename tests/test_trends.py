"""Weekly series and tested changes: E-test against a hand-written Krishnamoorthy & Thomson
(2004) double sum and scipy's documented value, BH against scipy.stats.false_discovery_control,
series and trend tables on planted counts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.analysis.trends import (
    ALL_KEY,
    TREND_COLUMNS,
    bh_qvalues,
    e_test,
    trend_table,
    weekly_series,
    year_window,
)
from pipeline.analysis.weeks import previous_weeks
from pipeline.config import load_config
from pipeline.schema import OUTSIDE_AREA

ROOT = Path(__file__).resolve().parents[1]
WEEK = "2026-W47"


def e_test_by_hand(k1, n1, k2, n2, upper=200):
    """K&T (2004) eq. (3.5) with d = 0, written out: pooled rate under H0, then the sum of
    Poisson probabilities of every (x1, x2) whose pivot |T| is at least the observed one.
    T = (x1/n1 - x2/n2) / sqrt(x1/n1² + x2/n2²); (0, 0) has no pivot (0/0) and is left out."""
    lam = (k1 + k2) / (n1 + n2)
    if lam <= 0:
        return 1.0

    def pivot(x1, x2):
        var = x1 / n1**2 + x2 / n2**2
        return None if var == 0 else (x1 / n1 - x2 / n2) / math.sqrt(var)

    def pmf(x, mu):
        return math.exp(x * math.log(mu) - mu - math.lgamma(x + 1))

    observed = abs(pivot(k1, k2))
    total = 0.0
    for x1 in range(upper):
        for x2 in range(upper):
            t = pivot(x1, x2)
            if t is not None and abs(t) >= observed - 1e-12:
                total += pmf(x1, n1 * lam) * pmf(x2, n2 * lam)
    return total


@pytest.mark.parametrize(
    "k1, n1, k2, n2",
    [
        (3, 1, 0, 4),
        (12, 1, 8, 4),
        (2, 1, 9, 4),
        (0, 1, 14, 4),
        (7, 1, 10, 5),
        (25, 1, 30, 4),
    ],
)
def test_e_test_equals_the_double_sum(k1, n1, k2, n2):
    assert e_test(k1, n1, k2, n2) == pytest.approx(e_test_by_hand(k1, n1, k2, n2), abs=1e-9)


def test_e_test_equals_scipy_from_a_town_to_a_nation():
    # the head-and-tail sums against scipy's full grid: small towns, national weeks, ties
    rng = np.random.default_rng(19)
    cases = [(0, 1, 0, 4), (0, 1, 1, 4), (1, 1, 0, 4), (4, 1, 16, 4), (3, 1, 12, 5), (0, 100, 3, 100)]
    cases += [(int(rng.integers(0, 60)), 1.0, int(rng.integers(0, 200)), float(rng.integers(1, 8))) for _ in range(150)]
    cases += [(int(k), 1.0, int(4 * k + rng.integers(-400, 400)), 4.0) for k in rng.integers(100, 30_000, 12)]
    for k1, n1, k2, n2 in cases:
        want = stats.poisson_means_test(k1, n1, k2, n2).pvalue
        assert e_test(k1, n1, k2, n2) == pytest.approx(want, abs=1e-12), (k1, n1, k2, n2)
    with pytest.raises(ValueError):
        e_test(-1, 1, 3, 4)


def test_e_test_known_values():
    # scipy's documented example (0 of 100 against 3 of 100): p = 0.0884
    assert e_test(0, 100, 3, 100) == pytest.approx(0.088379, abs=1e-5)
    # 3 this week after 4 empty weeks, by hand: pooled rate 3/5; the (x1, x2) with |T| >= sqrt(3)
    assert e_test(3, 1, 0, 4) == pytest.approx(e_test_by_hand(3, 1, 0, 4), abs=1e-12)
    assert e_test(0, 1, 0, 4) == 1.0
    # the "2 vs 2,2" is nowhere near significant; 20 against a mean of 2 is
    assert e_test(2, 1, 9, 4) > 0.5
    assert e_test(20, 1, 8, 4) < 0.01


def test_bh_equals_scipy():
    rng = np.random.default_rng(10)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=8), [0.02, 0.02, 1.0]])
    assert np.allclose(bh_qvalues(p), stats.false_discovery_control(p, method="bh"))


def test_bh_leaves_untested_rows_out():
    p = np.array([0.001, np.nan, 0.04, 0.03, np.nan, 0.5])
    q = bh_qvalues(p)
    tested = np.isfinite(p)
    assert np.isnan(q[~tested]).all()
    assert np.allclose(q[tested], stats.false_discovery_control(p[tested], method="bh"))
    assert np.isnan(bh_qvalues([np.nan])).all() and len(bh_qvalues([])) == 0


# -- series and trend tables on planted counts ---------------------------------------------------


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config.yaml")


AREAS = pd.DataFrame({"name": ["Centrum", "Norr"]})


def planted_events(counts: dict[tuple[str, str, str], int], partner="polisen", tod="kvall"):
    """Events from {(week, area, group): n}; one protected and one duplicate event each week too."""
    rows = []
    for (week, area, group), n in counts.items():
        rows += [
            dict(
                iso_week=week,
                area=area,
                category_group=group,
                source=partner,
                time_of_day=tod,
                sensitive=False,
                duplicate_of="",
            )
        ] * n
        rows.append(
            dict(
                iso_week=week,
                area=area,
                category_group=group,
                source=partner,
                time_of_day=tod,
                sensitive=True,
                duplicate_of="",
            )
        )
        rows.append(
            dict(
                iso_week=week,
                area=area,
                category_group=group,
                source="kommunen",
                time_of_day=tod,
                sensitive=False,
                duplicate_of="abc",
            )
        )
    return pd.DataFrame(rows)


def test_series_every_week_area_group_with_totals(cfg):
    ev = planted_events(
        {
            ("2026-W44", "Centrum", "vald"): 2,
            ("2026-W46", "Norr", "trafik"): 3,
            (WEEK, OUTSIDE_AREA, "vald"): 1,
            ("2026-W48", "Norr", "vald"): 9,
        }
    )
    s = weekly_series(ev, cfg, WEEK, AREAS)
    assert list(s.columns) == ["week", "area", "group", "n"]
    assert sorted(s["week"].unique()) == ["2026-W44", "2026-W45", "2026-W46", WEEK]  # later weeks never
    n_groups, n_areas = len(cfg.groups) + 1, 3 + 1
    assert len(s) == 4 * n_groups * n_areas  # zeros included
    get = s.set_index(["week", "area", "group"])["n"]
    assert get[("2026-W44", "Centrum", "vald")] == 2  # protected and duplicate not counted
    assert get[("2026-W45", ALL_KEY, ALL_KEY)] == 0
    assert get[("2026-W46", ALL_KEY, "trafik")] == 3 and get[("2026-W46", "Norr", ALL_KEY)] == 3
    assert get[(WEEK, OUTSIDE_AREA, "vald")] == 1
    assert (
        s[(s.area != ALL_KEY) & (s.group != ALL_KEY)]["n"].sum() == get.xs(ALL_KEY, level=1).xs(ALL_KEY, level=1).sum()
    )


def test_series_equals_a_direct_groupby_with_unlisted_areas_groups_and_nulls(cfg):
    """Counts per (week, area, group) and their totals, against pandas' groupby over the four
    ways of summing; an area or group with no row of its own still counts in the totals."""
    rng = np.random.default_rng(7)
    n = 5000
    weeks = previous_weeks(WEEK, 30) + [WEEK, "2026-W48", ""]
    areas = list(AREAS["name"]) + [OUTSIDE_AREA, "Okänt område", None]
    groups = list(cfg.groups) + ["okand_grupp", None]
    ev = pd.DataFrame(
        {
            "iso_week": pd.array(rng.choice(np.array(weeks, dtype=object), n), dtype="string"),
            "area": pd.array(rng.choice(np.array(areas, dtype=object), n), dtype="string"),
            "category_group": pd.array(rng.choice(np.array(groups, dtype=object), n), dtype="string"),
            "sensitive": rng.random(n) < 0.05,
            "duplicate_of": pd.array(np.where(rng.random(n) < 0.05, "e1", ""), dtype="string"),
        }
    )
    s = weekly_series(ev, cfg, WEEK, AREAS).set_index(["week", "area", "group"])["n"]
    kept = ev[~ev["sensitive"] & (ev["duplicate_of"] == "") & ev["iso_week"].isin(weeks[:-3] + [WEEK])]
    kept = kept.astype(str)
    for by, fixed in (
        (["area", "category_group"], {}),
        (["category_group"], {"area": ALL_KEY}),
        (["area"], {"group": ALL_KEY}),
        ([], {"area": ALL_KEY, "group": ALL_KEY}),
    ):
        want = kept.groupby(["iso_week", *by]).size() if by else kept.groupby("iso_week").size()
        for key, count in want.items():
            key = (key,) if not isinstance(key, tuple) else key
            row = dict(zip(["week", *[{"category_group": "group"}.get(b, b) for b in by]], key)) | fixed
            if row["area"] in {*AREAS["name"], OUTSIDE_AREA, ALL_KEY} and row["group"] in {*cfg.groups, ALL_KEY}:
                assert s[(row["week"], row["area"], row["group"])] == count, row
    assert s.xs(ALL_KEY, level=1).xs(ALL_KEY, level=1).sum() == len(kept)
    assert sorted(s.index.get_level_values(0).unique()) == weeks[:-3] + [WEEK]


def test_trends_mark_only_tested_changes(cfg):
    prev = previous_weeks(WEEK, 4)
    counts = {(w, "Centrum", "vald"): 2 for w in prev}  # 2 a week, then 20: a real rise
    counts.update({(w, "Norr", "trafik"): 2 for w in prev})  # 2 a week, then 3: noise
    counts.update({(WEEK, "Centrum", "vald"): 20, (WEEK, "Norr", "trafik"): 3})
    t = trend_table(planted_events(counts), cfg, WEEK, AREAS)
    assert list(t.columns) == TREND_COLUMNS
    row = t.set_index(["dimension", "key"])
    vald, trafik = row.loc[("group", "vald")], row.loc[("group", "trafik")]
    assert vald.n_week == 20 and vald.mean_prev == 2 and vald["pct_change"] == pytest.approx(900)
    assert vald.p_prev == pytest.approx(e_test_by_hand(20, 1, 8, 4), abs=1e-9)
    assert vald.direction_prev == 1 and trafik.direction_prev == 0
    assert trafik["pct_change"] == pytest.approx(50)
    # BH over the whole table (both comparisons pooled)
    p = np.concatenate([t["p_prev"], t["p_year"]])
    q = np.concatenate([t["q_prev"], t["q_year"]])
    tested = np.isfinite(p)
    assert np.allclose(q[tested], stats.false_discovery_control(p[tested], method="bh"))
    # no data a year back: no year comparison, never an arrow from it
    assert t["p_year"].isna().all() and (t["direction_year"] == 0).all()
    # a zero row: p = 1, no arrow, no percent (no base)
    zero = row.loc[("group", "narkotika")]
    assert zero.p_prev == 1.0 and zero.direction_prev == 0 and math.isnan(zero["pct_change"])


def test_year_comparison_where_data_cover_it(cfg):
    year = year_window(WEEK, cfg.trends.year_weeks)
    assert year == ["2025-W45", "2025-W46", "2025-W47", "2025-W48", "2025-W49"]
    counts = {(w, "Centrum", "vald"): 1 for w in year}
    counts[(WEEK, "Centrum", "vald")] = 30
    ev = planted_events(counts)
    ev = pd.concat([ev, planted_events({(year[0], "Norr", "trafik"): 1}, partner="kommunen")])
    t = trend_table(ev, cfg, WEEK, AREAS).set_index(["dimension", "key"])
    vald = t.loc[("group", "vald")]
    assert vald.mean_year == 1 and vald.pct_year == pytest.approx(2900)
    assert vald.p_year == pytest.approx(e_test_by_hand(30, 1, 5, 5), abs=1e-9)
    assert vald.direction_year == 1
    # partners: polisen and kommunen both have data from the window's first week on
    assert np.isfinite(t.loc[("partner", "polisen"), "p_year"])
    # a partner with no data then gets no year comparison
    assert not np.isfinite(t.loc[("partner", "bostadsbolaget"), "p_year"])


def test_products_series_and_trends(cfg):
    from types import SimpleNamespace

    from pipeline.analysis.trends import build_series, build_trends
    from pipeline.products import ProductInput
    from pipeline.products.catalog import PRODUCTS

    by_name = {p.name: p for p in PRODUCTS}
    assert by_name["series"].lookback(cfg) is None and by_name["series"].layers == ("series",)
    assert by_name["trends"].lookback(cfg) == 54 and by_name["trends"].layers == ("trends",)
    ev = planted_events({(w, "Centrum", "vald"): 2 for w in previous_weeks(WEEK, 4) + [WEEK]})
    inp = ProductInput(cfg=cfg, week=WEEK, events=ev, reference=SimpleNamespace(areas=AREAS))
    series = build_series(inp)
    assert set(series.layers) == {"series"} and series.info["series_weeks"] == "5"
    trends = build_trends(inp)
    assert set(trends.layers) == {"trends"}
    assert trends.info["trends_alpha"] == "0.05" and trends.info["trends_significant"] == "0"
    assert int(trends.info["trends_tests"]) == len(trends.layers["trends"])  # no year data

    # the product reads only the columns the table counts by (a year of weeks, held narrow)
    from pipeline.analysis.trends import trend_dimensions

    assert set(by_name["trends"].columns) == {col for _, col, _ in trend_dimensions(cfg, AREAS)}
    narrow = ev[[c for c in by_name["trends"].columns_read() if c in ev.columns]]
    assert trend_table(narrow, cfg, WEEK, AREAS).equals(trend_table(ev, cfg, WEEK, AREAS))


# -- the report shows tested changes and recurring places -----------------------------------------


@pytest.fixture(scope="module")
def tested_page():
    """The renderer fixture week with a trends layer (planted verdicts) and recurrence columns."""
    from pipeline.render.report import render_report
    from tests.fixtures_week import build_week_context

    ctx = build_week_context()
    kf = ctx.layers["key_figures"].reset_index(drop=True)
    direction = [1 if i == 0 else -1 if i == 1 else 0 for i in range(len(kf))]
    trends = kf.assign(
        pct_change=np.where(
            kf["mean_prev"] > 0, kf["change"] / kf["mean_prev"].where(kf["mean_prev"] > 0) * 100, np.nan
        ),
        p_prev=0.5,
        q_prev=[0.01 if d else 0.6 for d in direction],
        direction_prev=direction,
        mean_year=np.nan,
        pct_year=np.nan,
        p_year=np.nan,
        q_year=np.nan,
        direction_year=0,
    )
    trends.loc[2, "change"] = 0.0
    trends.loc[3, ["mean_year", "pct_year", "q_year", "direction_year"]] = [1.0, 300.0, 0.02, 1]
    hs = ctx.layers["hotspots"].reset_index(drop=True)
    rng = np.random.default_rng(3)
    hs["recurrence_4"] = rng.integers(0, 5, len(hs))
    hs["recurrence_12"] = hs["recurrence_4"] + rng.integers(0, 9, len(hs))
    layers = {**ctx.layers, "trends": trends, "hotspots": hs}
    import dataclasses

    ctx = dataclasses.replace(ctx, layers=layers)
    return ctx, trends, hs, render_report(ctx)


def test_report_marks_only_significant_changes(tested_page):
    from tests.fixtures_week import elements_with

    _, trends, _, page = tested_page
    cells = {a["data-key"]: (a, t) for a, t in elements_with(page, "data-direction")}
    assert len(cells) == len(trends)
    for row in trends.itertuples(index=False):
        attrs, text = cells[f"{row.dimension}:{row.key}"]
        if row.direction_prev == 1:
            assert text == "▲ ökning" and "lb-up" in attrs["class"].split()
        elif row.direction_prev == -1:
            assert text == "▼ minskning" and "lb-down" in attrs["class"].split()
        else:
            assert "▲" not in text and "▼" not in text
            assert text == ("oförändrat" if abs(row.change) < 0.05 else "ingen säker förändring")
    pct = {a["data-key"]: t for a, t in elements_with(page, "data-pct-change")}
    for row in trends.itertuples(index=False):
        text = pct[f"{row.dimension}:{row.key}"]
        if math.isnan(row.pct_change):
            assert text == "–"
        elif round(row.pct_change) != 0:
            sign = "+" if row.pct_change > 0 else "−"
            assert text == f"{sign}{abs(round(row.pct_change)):,}\u00a0%".replace(",", "\u00a0")
    assert "E-test" in page and "Benjamini–Hochberg" in page and "q &lt; 0,05" in page
    year = {a["data-key"]: t for a, t in elements_with(page, "data-direction-year")}
    fourth = trends.iloc[3]
    assert year[f"{fourth.dimension}:{fourth.key}"] == "▲ ökning (+300\u00a0%)"
    assert "Snitt samma veckor i fjol" in page


def test_report_ranks_zones_by_recurrence_and_says_what_they_hold(tested_page):
    from tests.fixtures_week import elements_with

    _, _, hs, page = tested_page
    rows = elements_with(page, "data-zone-id")
    n_zone_rows = len(rows)  # zone tables come before the cluster table
    rec4 = [int(a["data-recurrence-4"]) for a, _ in elements_with(page, "data-recurrence-4")[:n_zone_rows]]
    rec12 = [int(a["data-recurrence-12"]) for a, _ in elements_with(page, "data-recurrence-12")[:n_zone_rows]]
    shown = pd.DataFrame(
        {
            "p": [a["data-period"] for a, _ in rows],
            "t": [a["data-time-of-day"] for a, _ in rows],
            "r4": rec4[:n_zone_rows],
            "r12": rec12[:n_zone_rows],
        }
    )
    for (period, tod), part in shown.groupby(["p", "t"], sort=False):
        keys = list(zip(part["r4"], part["r12"]))
        assert keys == sorted(keys, reverse=True)  # most recurrent first
        broad = hs[(hs["period"] == period) & (hs["time_of_day"] == tod) & (hs["level"] == hs["level"].max())]
        best = sorted(zip(broad["recurrence_4"], broad["recurrence_12"]), reverse=True)[: len(part)]
        assert keys == best  # the most recurrent are the ones listed
    share = elements_with(page, "data-zone-events")
    week_all = hs[(hs["period"] == "vecka") & (hs["time_of_day"] == "alla")]
    for attrs, text in share:
        level = week_all[week_all["level"] == float(attrs["data-level"])]
        assert int(attrs["data-zone-events"]) == int(level["n_events"].sum())
        assert f"{int(level['n_events'].sum())} av {attrs['data-total-events']} händelser" in text
    assert len(share) == week_all["level"].nunique() >= 1


def test_report_trend_lines_from_the_series_table(cfg):
    import dataclasses

    from pipeline.render.report import render_report
    from pipeline.render.sections import trends as section
    from tests.fixtures_week import build_week_context, elements_with

    ctx = build_week_context()
    assert section.build(ctx) is None  # an archive without a series
    counts = {(w, "Centrum", "vald"): i + 1 for i, w in enumerate(previous_weeks(WEEK, 5) + [WEEK])}
    counts[("2026-W45", "Norr", "trafik")] = 4
    series = weekly_series(planted_events(counts), cfg, WEEK, AREAS)
    ctx = dataclasses.replace(ctx, cfg=cfg, layers={**ctx.layers, "series": series})
    page = render_report(ctx)
    assert 'id="utveckling"' in page and "Utveckling vecka för vecka" in page
    assert elements_with(page, "data-series-weeks")[0][0]["data-series-weeks"] == "6"
    rows = {a["data-group"]: a for a, _ in elements_with(page, "data-group")}
    assert set(rows) == {ALL_KEY, *cfg.groups}
    whole = series[series.area == ALL_KEY].groupby("group")["n"].sum()
    totals = [int(a["data-series-total"]) for a, _ in elements_with(page, "data-series-total")]
    assert totals == [int(whole[ALL_KEY])] + [int(whole[g]) for g in cfg.groups]
    assert int(whole["vald"]) == 21 and int(whole["trafik"]) == 4  # 1 + ... + 6, and 4
    week_cells = [int(a["data-series-n-week"]) for a, _ in elements_with(page, "data-series-n-week")]
    assert week_cells[0] == 6 and sum(week_cells[1:]) == 6  # total, then the groups (vald 6)
