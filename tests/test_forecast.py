"""The forecast: surfaces against independent references (scipy convolution, brute-force sums),
never reading later weeks, the documented default, and a selection that follows the data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.signal import convolve2d

from pipeline.analysis import forecast as F
from pipeline.analysis.grid import Grid
from pipeline.analysis.weeks import next_weeks, weeks_between
from pipeline.config import ForecastConfig

FIRST = "2026-W01"
GRID = Grid(500_000.0, 6_400_000.0, 100.0, nx=60, ny=50)


def synthetic(n_weeks=30, per_week=60, moving=False, seed=0, first=FIRST) -> pd.DataFrame:
    """Events around a few centres: fixed for the whole period, or (``moving``) a new place
    every second week. Columns x, y, iso_week, time_of_day."""
    rng = np.random.default_rng(seed)
    weeks = weeks_between(first, _week_after(first, n_weeks - 1))
    fixed = rng.uniform([500_800, 6_400_800], [505_200, 6_404_200], size=(4, 2))
    rows, centres = [], fixed
    for i, w in enumerate(weeks):
        if moving and i % 2 == 0:  # a new pair of places, kept for two weeks
            centres = rng.uniform([500_800, 6_400_800], [505_200, 6_404_200], size=(2, 2))
        n = rng.poisson(per_week)
        c = centres[rng.integers(0, len(centres), n)]
        xy = c + rng.normal(0, 120, size=(n, 2))
        tod = rng.choice(["natt", "formiddag", "eftermiddag", "kvall"], n, p=[0.1, 0.2, 0.3, 0.4])
        rows.append(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "iso_week": w, "time_of_day": tod}))
    out = pd.concat(rows, ignore_index=True)
    inside = (out.x > GRID.x0) & (out.x < GRID.bounds[2]) & (out.y > GRID.y0) & (out.y < GRID.bounds[3])
    return out[inside].reset_index(drop=True)


def _week_after(week: str, n: int) -> str:
    return next_weeks(week, n)[-1] if n else week


def opts(**kw) -> ForecastConfig:
    return ForecastConfig(**kw)


MASK = np.ones(GRID.shape, dtype=bool)


def quartic_kernel(h: float, cell: float) -> np.ndarray:
    """Independent reference: quartic sampled at cell offsets, normalised to sum 1."""
    r = int(h // cell)
    off = np.arange(-r, r + 1) * cell
    d2 = off[:, None] ** 2 + off[None, :] ** 2
    k = np.clip(1 - d2 / h**2, 0, None) ** 2 * (d2 < h**2)
    return k / k.sum()


def reference_surface(points: pd.DataFrame, week_index: int, weeks: list[str], s: F.Setting) -> np.ndarray:
    """Brute force on the whole grid: per-event weights, bincount, scipy convolve2d, mix."""
    idx = points["iso_week"].map({w: i for i, w in enumerate(weeks)}).to_numpy()
    row = ((points["y"] - GRID.y0) // GRID.cell).astype(int).to_numpy()
    col = ((points["x"] - GRID.x0) // GRID.cell).astype(int).to_numpy()

    def part(window, half_life, h):
        age = (week_index - 1) - idx
        w = np.where((age >= 0) & ((age < window) if window else True), 1.0, 0.0)
        if half_life:
            w = w * 0.5 ** (age / half_life)
        grid = np.zeros(GRID.shape)
        np.add.at(grid, (row, col), w)
        out = convolve2d(grid, quartic_kernel(h, GRID.cell), mode="same") if h > GRID.cell else grid
        return out / w.sum()

    long = part(s.window_weeks, s.half_life_weeks, s.bandwidth_m)
    if s.short_share == 0:
        return long
    return (1 - s.short_share) * long + s.short_share * part(s.short_weeks, None, s.short_h)


@pytest.mark.parametrize(
    "setting",
    [
        F.Setting(100.0, 4),
        F.Setting(150.0, None, 13.0),
        F.Setting(300.0, 1),  # sparse: spread directly
        F.Setting(300.0, None),  # dense: FFT
        F.Setting(250.0, 13, 4.0, 0.25, 4, 500.0),
    ],
)
def test_surface_equals_brute_force_reference(setting):
    pts = synthetic(n_weeks=20)
    h = F.History(pts[["x", "y"]].to_numpy(), pts["iso_week"].to_numpy(), GRID, MASK, reach_m=600)
    for i in (5, 12, len(h.weeks)):
        got, _ = h.surface(i, setting)
        want = reference_surface(pts, i, h.weeks, setting)
        np.testing.assert_allclose(h.full_grid(got), want, atol=2e-6 * want.max(), rtol=1e-4)


def test_history_orders_any_input_by_week_and_takes_a_store_read_as_it_is():
    pts = synthetic(n_weeks=8)
    xy, weeks = pts[["x", "y"]].to_numpy(), pts["iso_week"].to_numpy()
    order = np.argsort(weeks, kind="stable")
    in_order = np.ascontiguousarray(xy[order])
    ordered = F.History(in_order, weeks[order], GRID, MASK, reach_m=600)
    assert np.shares_memory(ordered.event_xy, in_order)  # complete and in week order: not copied
    shuffled = np.random.default_rng(3).permutation(len(xy))
    outside = np.array([[0.0, 0.0]])  # off the grid: dropped, which takes the gathering path
    mixed = F.History(np.vstack([xy[shuffled], outside]), np.append(weeks[shuffled], weeks[0]), GRID, MASK, 600)
    assert mixed.n_dropped == 1 and ordered.n_dropped == 0
    assert np.array_equal(mixed.event_week, ordered.event_week)  # week order, whatever came in
    for i in range(len(ordered.weeks)):
        a, b = (h.event_week == i for h in (ordered, mixed))
        key = lambda h, m: sorted(map(tuple, np.column_stack([h.event_xy[m], h.event_row[m], h.event_col[m]])))  # noqa: E731
        assert key(ordered, a) == key(mixed, b)
    for i in (3, len(ordered.weeks)):
        np.testing.assert_allclose(ordered.surface(i, F.Setting(300.0, 4))[0], mixed.surface(i, F.Setting(300.0, 4))[0])


def test_sparse_and_fft_paths_agree():
    pts = synthetic(n_weeks=6)
    h = F.History(pts[["x", "y"]].to_numpy(), pts["iso_week"].to_numpy(), GRID, MASK, reach_m=600)
    counts, _ = h.binned(6, None, None)
    sparse = h.smooth(counts, 400.0)
    old, F.SPARSE_PAIRS = F.SPARSE_PAIRS, 0
    try:
        fft = h.smooth(counts, 400.0)
    finally:
        F.SPARSE_PAIRS = old
    np.testing.assert_allclose(sparse, fft, atol=1e-5 * sparse.max())


def test_forecast_for_week_t_never_reads_week_t_plus_1_or_later():
    pts = synthetic(n_weeks=30)
    t = "2026-W20"
    o = opts(backtest_weeks=8, record_weeks=3, windows_weeks=[1, 4], half_lives_weeks=[4.0], short_shares=[0.25])
    base = F.forecast_next_week(pts, t, GRID, MASK, o)
    later = pts["iso_week"] > t
    rng = np.random.default_rng(1)
    variants = {
        "moved": pts.assign(x=np.where(later, rng.uniform(500_000, 506_000, len(pts)), pts.x)),
        "dropped": pts[~later],
        "tripled": pd.concat([pts, pts[later], pts[later]], ignore_index=True),
        "garbage": pts.assign(y=np.where(later, 0.0, pts.y)),
    }
    for name, variant in variants.items():
        F._RECENT.clear()
        got = F.forecast_next_week(variant, t, GRID, MASK, o)
        assert got.setting == base.setting, name
        np.testing.assert_array_equal(got.values, base.values, err_msg=name)
        pd.testing.assert_frame_equal(got.backtest, base.backtest)
        pd.testing.assert_frame_equal(got.record, base.record)
    # and week t itself does count
    F._RECENT.clear()
    changed = F.forecast_next_week(pts[pts["iso_week"] != t], t, GRID, MASK, o)
    assert not np.array_equal(changed.values, base.values)


def test_a_weeks_backtest_surface_reads_only_earlier_weeks():
    pts = synthetic(n_weeks=12)
    h = F.History(pts[["x", "y"]].to_numpy(), pts["iso_week"].to_numpy(), GRID, MASK, reach_m=600)
    s = F.Setting(200.0, None, 4.0, 0.25, 4, 400.0)
    before, _ = h.surface(8, s)
    moved = pts.assign(x=np.where(pts["iso_week"] >= h.weeks[8], 500_050.0, pts.x))
    h2 = F.History(moved[["x", "y"]].to_numpy(), moved["iso_week"].to_numpy(), GRID, MASK, reach_m=600)
    after, _ = h2.surface(8, s)
    np.testing.assert_array_equal(h.full_grid(before), h2.full_grid(after))


def test_too_little_history_says_so_and_uses_the_documented_default():
    pts = synthetic(n_weeks=5)
    fc = F.forecast_next_week(pts, pts["iso_week"].max(), GRID, MASK, opts(), default_bandwidth_m=200.0)
    assert fc.chosen_by == "default" and fc.history_weeks == 5
    assert fc.setting == F.Setting(200.0, None, None, 0.0, 4) and fc.backtest.empty
    info = F.forecast_info(fc, opts())
    assert info["forecast_chosen_by"] == "default" and info["forecast_min_weeks"] == "8"
    # expected events per km²: sums to the mean of the last 4 weeks' counts
    counts = pts.groupby("iso_week").size().iloc[-4:].mean()
    assert fc.values.sum() * (GRID.cell / 1000) ** 2 == pytest.approx(counts, rel=1e-4)


def test_the_selection_follows_the_data():
    """Fixed hotspots: a long memory wins. Hotspots that move every second week: a short one."""
    o = opts(backtest_weeks=16, short_shares=[0.0], half_lives_weeks=[2.0, 26.0], windows_weeks=[1, 2, 13])
    stable = F.forecast_next_week(synthetic(moving=False), "2026-W30", GRID, MASK, o)
    F._RECENT.clear()
    moving = F.forecast_next_week(synthetic(moving=True, seed=3), "2026-W30", GRID, MASK, o)
    assert stable.chosen_by == moving.chosen_by == "backtest"
    memory = lambda s: s.window_weeks or (s.half_life_weeks or math.inf)  # noqa: E731
    assert memory(stable.setting) >= 13, stable.setting
    assert memory(moving.setting) <= 2, moving.setting


def test_candidates_come_from_the_data_scales():
    o = opts()
    c50 = F.candidate_settings(o, 50.0, 140.0, history_weeks=25)
    assert sorted({s.bandwidth_m for s in c50}) == [50.0, 75.0, 100.0, 150.0]  # 0.5·NN = 70 -> 75 ~ 1.5 cells
    assert {s.window_weeks for s in c50} == {1, 4, 13, None}  # 26, 52, 104 >= history: same as "all"
    assert {s.half_life_weeks for s in c50} == {None, 13.0}
    c100 = F.candidate_settings(o, 100.0, 573.0, history_weeks=470)
    assert sorted({s.bandwidth_m for s in c100}) == [100.0, 150.0, 200.0, 300.0, 550.0]


def test_zones_are_the_top_cells_with_their_busiest_time_of_day():
    pts = synthetic(n_weeks=12)
    o = opts(levels=[1, 5], select_level=5)
    fc = F.forecast_next_week(pts, "2026-W12", GRID, MASK, o)
    zones = F.forecast_zones(fc, MASK, o.levels, pts, ["natt", "formiddag", "eftermiddag", "kvall"])
    n = GRID.nx * GRID.ny
    for level in (1.0, 5.0):
        z = zones[zones["level"] == level]
        assert z["n_cells"].sum() == round(level / 100 * n)
        assert z["zone_id"].tolist() == list(range(1, len(z) + 1))
        assert (z["n_expected"].diff().dropna() <= 0).all()
    # busiest time of day of the largest zone, by hand (point in polygon, weights of the setting)
    top = zones.iloc[0]
    inside = shapely.contains_xy(top.geometry, pts["x"].to_numpy(), pts["y"].to_numpy())
    w = pts["iso_week"].map(fc.weights).fillna(0)
    by_bin = w[inside].groupby(pts["time_of_day"][inside]).sum()
    assert top["busiest_time_of_day"] == by_bin.idxmax()
    assert top["busiest_share"] == pytest.approx(by_bin.max() / by_bin.sum())


# -- report section and map overlay -----------------------------------------------------------------
class _Gazetteer:
    """Names every place after a markup-laden street, to prove the report and map escape it."""

    def nearest_names(self, xs, ys):
        return ["<b>Storgatan</b>" for _ in xs]


@pytest.fixture(scope="module")
def rendered_ctx():
    from types import SimpleNamespace

    from pipeline.evaluation.backtest import accuracy_table
    from tests.test_weekly import config

    cfg = config()
    pts = synthetic(n_weeks=14)
    o = ForecastConfig(levels=[1, 5], select_level=5, backtest_weeks=6, record_weeks=4)
    fc = F.forecast_next_week(pts, "2026-W14", GRID, MASK, o)
    cfg = cfg.model_copy(update={"forecast": o})
    zones = F.forecast_zones(fc, MASK, o.levels, pts, list(cfg.time_of_day), _Gazetteer())
    layers = {"prognos_zones": zones, "accuracy": accuracy_table(fc.record, pts, GRID, MASK, cfg)}
    return SimpleNamespace(week="2026-W14", cfg=cfg, layers=layers, run_info=F.forecast_info(fc, o), fc=fc)


def test_report_sections_in_plain_swedish(rendered_ctx):
    from pipeline.render.sections import render_sections
    from pipeline.render.sections.forecast import ACCURACY_SECTION, FORECAST_SECTION

    html_parts = {s["key"]: s["html"] for s in render_sections(rendered_ctx, [FORECAST_SECTION, ACCURACY_SECTION])}
    forecast = str(html_parts["prognos"]).replace("\xa0", " ")
    assert "Prognosen för vecka 15 (6–12 apr 2026)" in forecast
    assert "Förra veckans prognosområden, 1 % av ytan, fångade" in forecast
    assert "valdes automatiskt" in forecast
    assert "&lt;b&gt;Storgatan&lt;/b&gt;" in forecast and "<b>Storgatan" not in forecast
    acc = rendered_ctx.layers["accuracy"]
    last = acc[(acc["week"] == "2026-W14") & (acc["method"] == "prognos") & (acc["level"] == 5.0)].iloc[0]
    accuracy = str(html_parts["traffsakerhet"]).replace("\xa0", " ")
    assert f"På 5 % av ytan fångade förra veckans prognosområden {round(100 * last.hit_rate)} %" in accuracy
    assert accuracy.count("<tr") == 2 + 4  # two header rows, four weeks


def test_too_short_history_is_said_in_the_report():
    from types import SimpleNamespace

    from pipeline.render.sections.forecast import build_forecast
    from tests.test_weekly import config

    pts = synthetic(n_weeks=4)
    o = ForecastConfig()
    fc = F.forecast_next_week(pts, "2026-W04", GRID, MASK, o, default_bandwidth_m=200.0)
    ctx = SimpleNamespace(week="2026-W04", cfg=config(), run_info=F.forecast_info(fc, o),
                          layers={"prognos_zones": F.forecast_zones(fc, MASK, o.levels, pts, [])})  # fmt: skip
    text = build_forecast(ctx)["how"]
    assert "Historiken är för kort för att välja inställningar (4 veckor, minst 8 behövs)" in text


def test_map_overlay_draws_the_zones_with_escaped_text(rendered_ctx):
    from pipeline.render.overlays import OVERLAYS

    overlay = next(o for o in OVERLAYS if o.key == "prognos")
    feats = overlay.build(rendered_ctx)
    assert len(feats) == len(rendered_ctx.layers["prognos_zones"])
    assert all("<b>" not in f["properties"]["tooltip"] and "&lt;b&gt;" in f["properties"]["tooltip"] for f in feats)
    assert all("&lt;b&gt;Storgatan" in f["properties"]["popup"] for f in feats)
    assert [label for _, label in overlay.legend(rendered_ctx)] == [
        "Prognos nästa vecka, tätaste 1\xa0%",
        "Prognos nästa vecka, tätaste 5\xa0%",
    ]


def test_qgis_style_of_the_forecast_zones_is_valid_xml():
    import xml.etree.ElementTree as ET

    from pipeline.render.qgis_styles import STYLES
    from tests.test_weekly import config

    title, qml = STYLES["prognos_zones"]
    root = ET.fromstring(qml(config()).split("?>", 1)[-1])
    assert [c.get("value") for c in root.iter("category")] == ["1.0", "5.0"]
    assert title.startswith("Prognos")
