"""The backtest: the rolling choice is the weekly forecast's own choice, the accuracy table holds
the same scores, and ``lagesbild backtest`` reads any city's CSV, writes its table and GeoTIFFs,
and reports mistakes in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from pyproj import Transformer

from pipeline.analysis import forecast as F
from pipeline.analysis.weeks import weeks_between
from pipeline.cli import main
from pipeline.config import ForecastConfig
from pipeline.evaluation import backtest as B
from tests.test_forecast import GRID, MASK, synthetic

OPTS = ForecastConfig(backtest_weeks=6, record_weeks=4, min_weeks=5, windows_weeks=[1, 4], half_lives_weeks=[4.0])


@pytest.fixture(scope="module")
def points():
    return synthetic(n_weeks=16, moving=True, seed=5)


@pytest.fixture(scope="module")
def result(points):
    return B.run_backtest(points, GRID, MASK, weeks_between("2026-W04", "2026-W16"), OPTS)


def test_rolling_choice_is_what_the_weekly_forecast_of_the_week_before_chose(points, result):
    for row in result.weekly.itertuples():
        made_in = weeks_between("2026-W01", row.week)[-2]
        F._RECENT.clear()
        fc = F.forecast_next_week(points, made_in, GRID, MASK, OPTS)
        assert fc.setting.label() == row.setting, row.week
        assert fc.chosen_by == row.chosen_by
    assert set(result.weekly["chosen_by"]) == {"default", "backtest"}  # W04, W05 have < 5 weeks before them


def test_rolling_scores_are_the_scores_of_the_weekly_forecast_surface(points, result):
    """Score the forecast surface made at week t-1 on week t by hand (top-k over every cell)."""
    for row in result.weekly.itertuples():
        made_in = weeks_between("2026-W01", row.week)[-2]
        F._RECENT.clear()
        fc = F.forecast_next_week(points, made_in, GRID, MASK, OPTS)
        vals = fc.values.ravel().astype(np.float64)
        nxt = points[points["iso_week"] == row.week]
        cells = (
            ((nxt["y"] - GRID.y0) // 100).astype(int) * GRID.nx + ((nxt["x"] - GRID.x0) // 100).astype(int)
        ).to_numpy()
        for level in (1, 5):
            k = round(level / 100 * vals.size)
            top = set(np.lexsort((np.arange(vals.size), -vals))[:k])
            hits = sum(c in top for c in cells)
            assert getattr(row, f"hits_{level}") == hits, (row.week, level)
            assert getattr(row, f"pai_{level}") == pytest.approx((hits / len(cells)) / (k / vals.size))


def test_table_has_every_candidate_the_chosen_one_and_the_rolling_row(result):
    t = result.table
    assert t["setting"].iloc[-1] == B.ROLLING and t["chosen"].sum() == 1
    cand = t[t["setting"] != B.ROLLING]
    assert len(cand) == len(result.candidates)
    assert cand.loc[cand["chosen"], "pai_5"].iloc[0] == cand["pai_5"].max()
    assert t.loc[t["setting"] == B.ROLLING, "pai_5"].iloc[0] == pytest.approx(result.weekly["pai_5"].mean())
    assert set(cand["rolling_weeks_chosen"]) <= set(range(14)) and cand["rolling_weeks_chosen"].sum() <= 13


def test_accuracy_rows_of_the_forecast_equal_its_backtest_record(points):
    from types import SimpleNamespace

    cfg = SimpleNamespace(
        forecast=OPTS, analysis=SimpleNamespace(bandwidth_m=200.0, cell_size_m=100.0, kernel="quartic", rolling_weeks=4)
    )
    fc = F.forecast_next_week(points, "2026-W16", GRID, MASK, OPTS)
    table = B.accuracy_table(fc.record, points, GRID, MASK, cfg)
    res = B.run_backtest(points, GRID, MASK, weeks_between("2026-W13", "2026-W16"), OPTS)
    mine = table[table["method"] == B.FORECAST_METHOD]
    for row in res.weekly.itertuples():
        for level in (1.0, 5.0):
            got = mine[(mine["week"] == row.week) & (mine["level"] == level)].iloc[0]
            assert got["hits"] == getattr(row, f"hits_{level:g}") and got["setting"] == row.setting
    assert set(table["method"]) == set(B.ACCURACY_METHODS)
    assert len(table) == len(table.drop_duplicates(["week", "method", "level"]))


# -- the command ------------------------------------------------------------------------------------
def _write_city_csv(path, points):
    """The synthetic town as another city's export: lon/lat in WGS 84, ISO local times."""
    lon, lat = Transformer.from_crs("EPSG:3006", "EPSG:4326", always_xy=True).transform(points["x"], points["y"])
    monday = pd.to_datetime([pd.Timestamp.fromisocalendar(int(w[:4]), int(w[6:]), 1) for w in points["iso_week"]])
    times = monday + pd.to_timedelta(np.arange(len(points)) % (7 * 24), unit="h")
    pd.DataFrame({"x": lon, "y": lat, "time": times.strftime("%Y-%m-%dT%H:%M")}).to_csv(path, index=False)


def test_command_on_another_citys_csv_writes_table_and_forecasts(tmp_path, points, capsys):
    csv = tmp_path / "city.csv"
    _write_city_csv(csv, points)
    out = tmp_path / "out"
    rc = main(["backtest", "--events", str(csv), "--crs", "EPSG:4326", "--weeks", "2026-W10:2026-W12",
               "--cell-size", "100", "--out", str(out), "--save-forecasts"])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert "chosen:" in printed and "rolling" in printed
    table = pd.read_csv(out / "backtest.csv", sep=";", encoding="utf-8-sig")
    assert {"setting", "pai_1", "pai_5", "pei_1", "pei_5", "chosen"} <= set(table.columns)
    assert table["setting"].iloc[-1] == "rolling"
    tifs = sorted(out.glob("prognos_*.tif"))
    assert [p.name for p in tifs] == ["prognos_2026-W10.tif", "prognos_2026-W11.tif", "prognos_2026-W12.tif"]
    with rasterio.open(tifs[0]) as src:
        assert src.crs.to_epsg() == 32633  # the UTM zone of the events (15.1° E)
        values = src.read(1)
    assert values.dtype == np.float32 and values.max() > 0 and np.isfinite(values).all()


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("x,y\n1,2\n", ["--crs", "EPSG:3006"], "line 1: missing column(s) time"),
        ("x,y,time\n500000,6400000,2026-01-05T10:00\n5e5,abc,2026-01-05T11:00\n", ["--crs", "EPSG:3006"],
         "line 3, column 'y': 'abc' is not a number"),
        ("x,y,time\n500000,6400000,2026-01-05T10:00\n500000,6400000,igår\n", ["--crs", "EPSG:3006"],
         "line 3, column 'time': 'igår' is not an ISO 8601 time"),
        ("x,y,time\n500000,6400000,2026-01-05T10:00\n", [], "--events needs --crs"),
        ("x,y,time\n500000,6400000,2026-01-05T10:00\n", ["--crs", "EPSG:999999"], "is not a known CRS"),
        ("x,y,time\n500000,6400000,2026-01-05T10:00\n", ["--crs", "EPSG:3006", "--weeks", "2026-W60"], "not an ISO week"),
    ],
)  # fmt: skip
def test_command_mistakes_are_one_line_exit_2(tmp_path, capsys, content, args, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(content, encoding="utf-8")
    rc = main(["backtest", "--events", str(csv), *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
