"""Week analysis on synthetic canonical events: periods × time of day, new/persistent
clusters, privacy suppression, duplicate exclusion, ISO-week arithmetic.

The helpers below (``synthetic`` etc.) are shared with tests/test_archive.py and test_qgis.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from pipeline.config import load_config
from pipeline.schema import EVENT_COLUMNS, OUTSIDE_AREA

ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:3006"
WEEK = "2026-W47"
A = (505000.0, 6465000.0)  # persistent hotspot (Centrum)
B = (507000.0, 6466500.0)  # new hotspot (Norr)
BOUNDARY = box(502000, 6462000, 510000, 6469000)


def config():
    return load_config(ROOT / "config.yaml")


def areas_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["Centrum", "Norr"]},
        geometry=[box(504000, 6464000, 506000, 6466000), box(506000, 6466000, 508000, 6467500)],
        crs=CRS,
    )


def make_events(rows, cfg, areas) -> gpd.GeoDataFrame:
    """rows: dicts with x, y, at (local 'YYYY-MM-DD HH:MM'), category, source[, duplicate_of]."""
    bins = cfg.time_bin_of_hour()
    out = []
    for i, r in enumerate(rows):
        at = pd.Timestamp(r["at"], tz="Europe/Stockholm")
        year, week, weekday = at.isocalendar()
        cat = cfg.taxonomy[r["category"]]
        pt = Point(r["x"], r["y"])
        hit = areas[areas.contains(pt)]
        out.append(
            {
                "event_id": hashlib.sha1(f"{r['source']}-{i}".encode()).hexdigest()[:16],
                "source": r["source"],
                "source_id": f"ID-{i}",
                "source_file": f"data/raw/{r['source']}/x.csv",
                "source_line": i + 2,
                "category": r["category"],
                "category_group": cat.group,
                "sensitive": cat.sensitive,
                "source_category": r["category"],
                "occurred_at": at,
                "occurred_end": pd.NaT,
                "iso_week": f"{year}-W{week:02d}",
                "weekday": weekday,
                "hour": at.hour,
                "time_of_day": bins[at.hour],
                "location_text": "Storgatan 1",
                "geocode_method": "coordinates",
                "geocode_score": 100.0,
                "area": hit["name"].iloc[0] if len(hit) else OUTSIDE_AREA,
                "duplicate_of": r.get("duplicate_of", ""),
                "description": "hemlig text",
                "geometry": pt,
            }
        )
    frame = pd.DataFrame(out)
    frame["occurred_end"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, Europe/Stockholm]")
    frame["occurred_at"] = frame["occurred_at"].astype("datetime64[ns, Europe/Stockholm]")
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=CRS)
    return gdf[list(EVENT_COLUMNS)]


def _around(centre, n, rng, spread=20.0):
    return [(centre[0] + dx, centre[1] + dy) for dx, dy in rng.normal(0, spread, size=(n, 2))]


def synthetic_rows(seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    # Hotspot A: evenings in W46 and W47 (kvall), both partners.
    for k, (x, y) in enumerate(_around(A, 6, rng)):
        rows.append(
            dict(
                x=x,
                y=y,
                at=f"2026-11-{10 + k % 5} 2{k % 3}:15",
                category="skadegorelse",
                source="polisen" if k % 2 else "kommunen",
            )
        )  # W46
    for k, (x, y) in enumerate(_around(A, 6, rng)):
        rows.append(
            dict(
                x=x,
                y=y,
                at=f"2026-11-{17 + k % 5} 2{k % 3}:30",
                category="klotter",
                source="polisen" if k % 2 else "kommunen",
            )
        )  # W47
    # Hotspot B: mornings in W47 only.
    for k, (x, y) in enumerate(_around(B, 5, rng)):
        rows.append(dict(x=x, y=y, at=f"2026-11-{16 + k} 0{7 + k % 3}:05", category="stold", source="polisen"))
    # Background: scattered, W44–W47.
    for k, (x, y) in enumerate(rng.uniform([503000, 6463000], [509000, 6468000], size=(12, 2))):
        day = pd.Timestamp("2026-10-26") + pd.Timedelta(days=int(k * 2.3))
        rows.append(
            dict(
                x=x,
                y=y,
                at=f"{day:%Y-%m-%d} 1{k % 10}:00",
                category="ordningsstorning",
                source="kommunen" if k % 3 else "polisen",
            )
        )
    # One sensitive event in W47, right inside hotspot B.
    rows.append(dict(x=B[0] + 5, y=B[1] - 5, at="2026-11-18 08:40", category="vald_nara_relation", source="polisen"))
    return rows


def synthetic(cfg=None, with_duplicate: bool = True):
    """(events, boundary, areas); the last W47 hotspot-A event is duplicated by the other partner."""
    cfg = cfg or config()
    areas = areas_frame()
    rows = synthetic_rows()
    events = make_events(rows, cfg, areas)
    if with_duplicate:
        original = events[(events["iso_week"] == WEEK) & (events["category"] == "klotter")].iloc[0]
        dup = dict(
            x=original.geometry.x + 10,
            y=original.geometry.y,
            category="klotter",
            at=original["occurred_at"].strftime("%Y-%m-%d %H:%M"),
            source="bostadsbolaget",
        )
        extra = make_events(rows + [dup], cfg, areas).iloc[[-1]].copy()
        extra["duplicate_of"] = original["event_id"]
        events = pd.concat([events, extra], ignore_index=True)
    return gpd.GeoDataFrame(events, geometry="geometry", crs=CRS), BOUNDARY, areas


# -- tests -------------------------------------------------------------------------------------

from pipeline.analysis.weekly import analyse_week, countable  # noqa: E402
from pipeline.analysis.weeks import latest_complete_week, previous_weeks, weeks_present  # noqa: E402
from pipeline.privacy import spatial_events


@pytest.fixture(scope="module")
def cfg():
    return config()


@pytest.fixture(scope="module")
def data(cfg):
    return synthetic(cfg)


@pytest.fixture(scope="module")
def wa(cfg, data):
    events, boundary, areas = data
    return analyse_week(events, cfg, WEEK, boundary, areas)


def test_previous_weeks_cross_iso_year_with_53_weeks():
    assert previous_weeks("2027-W01", 1) == ["2026-W53"]
    assert previous_weeks("2027-W02", 3) == ["2026-W52", "2026-W53", "2027-W01"]
    assert previous_weeks("2026-W02", 3) == ["2025-W51", "2025-W52", "2026-W01"]  # 2025 has 52
    assert previous_weeks("2026-W47", 0) == []


def test_weeks_present_sorted(data):
    assert weeks_present(data[0]) == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]


def test_latest_complete_week_turns_at_sunday_midnight_stockholm(data):
    events = data[0]
    tz = "Europe/Stockholm"
    assert latest_complete_week(events, pd.Timestamp("2026-11-22 23:59:59", tz=tz)) == "2026-W46"
    assert latest_complete_week(events, pd.Timestamp("2026-11-23 00:00:00", tz=tz)) == "2026-W47"
    # 23:30 UTC on Sunday is already Monday 00:30 in Stockholm (CET, UTC+1).
    assert latest_complete_week(events, pd.Timestamp("2026-11-22 23:30", tz="UTC")) == "2026-W47"
    assert latest_complete_week(events, pd.Timestamp("2026-11-22 22:59", tz="UTC")) == "2026-W46"
    assert latest_complete_week(events, pd.Timestamp("2026-10-30 12:00", tz=tz)) is None


def test_week_events_include_duplicates_but_counts_do_not(wa, data):
    events = data[0]
    week_all = events[events["iso_week"] == WEEK]
    counted = spatial_events(week_all)  # publication rule: no duplicate and no sensitive event in a total
    assert len(wa.events) == len(week_all) and (wa.events["duplicate_of"] != "").sum() == 1
    assert int(wa.weekday_hour.to_numpy().sum()) == len(counted) == len(week_all) - 2
    partners = wa.key_figures[wa.key_figures["dimension"] == "partner"].set_index("key")
    assert partners.loc["bostadsbolaget", "n_week"] == 0  # its only event is a duplicate


def test_weekday_hour_shape_and_cells(wa, data):
    counted = countable(data[0][data[0]["iso_week"] == WEEK])
    assert wa.weekday_hour.shape == (7, 24)
    assert list(wa.weekday_hour.index) == list(range(1, 8))
    assert list(wa.weekday_hour.columns) == list(range(24))
    row = counted.iloc[0]
    expected = ((counted["weekday"] == row["weekday"]) & (counted["hour"] == row["hour"])).sum()
    assert wa.weekday_hour.loc[row["weekday"], row["hour"]] == expected


def test_density_grid_is_the_municipality_grid_and_integrates_to_counts(wa, data, cfg):
    from pipeline.analysis.grid import Grid

    grid = Grid.anchored(BOUNDARY.bounds, cfg.analysis.cell_size_m)
    assert wa.density.grid == grid and wa.density_rolling.grid == grid
    assert wa.density.values.shape == (grid.ny, grid.nx) and wa.density.values.dtype == np.float32
    cell_km2 = (grid.cell / 1000) ** 2
    n_week = len(spatial_events(data[0][data[0]["iso_week"] == WEEK]))
    n_roll = len(spatial_events(data[0]))  # the four synthetic weeks are the rolling window
    assert wa.density.values.sum() * cell_km2 == pytest.approx(n_week, rel=0.03)
    assert wa.density_rolling.values.sum() * cell_km2 == pytest.approx(n_roll, rel=0.03)
    assert wa.bandwidth_m > 0 and wa.cell_size_m == 50 and wa.kernel == cfg.analysis.kernel


def test_hotspots_per_period_and_time_of_day(wa, cfg):
    hs = wa.hotspots
    assert hs.crs.to_epsg() == 3006
    assert set(hs["period"]) == {"vecka", "rullande"}
    assert set(hs["level"]) <= set(cfg.analysis.levels)
    combos = set(zip(hs["period"], hs["time_of_day"]))
    assert ("vecka", "alla") in combos and ("rullande", "kvall") in combos
    assert ("vecka", "natt") not in combos  # no night events that week: skipped, not an error
    top = hs[(hs["period"] == "vecka") & (hs["time_of_day"] == "alla")]
    assert top.union_all().distance(Point(A)) < 100 or top.union_all().distance(Point(B)) < 100


def test_clusters_new_and_persistent(wa):
    cl = wa.clusters
    week_all = cl[(cl["period"] == "vecka") & (cl["time_of_day"] == "alla")]
    near_a = week_all[week_all.distance(Point(A)) < 60]
    near_b = week_all[week_all.distance(Point(B)) < 60]
    assert len(near_a) == 1 and near_a["status"].iloc[0] == "kvarstående"
    assert len(near_b) == 1 and near_b["status"].iloc[0] == "ny"
    assert near_a["n_events"].iloc[0] == 6  # the duplicate is not counted
    assert near_b["n_events"].iloc[0] == 5  # the sensitive event is not in a cluster
    assert near_a["cluster_id"].iloc[0].startswith(f"{WEEK}-vecka-alla")
    kvall = cl[(cl["period"] == "vecka") & (cl["time_of_day"] == "kvall")]
    assert list(kvall["status"]) == ["kvarstående"]
    assert set(cl["place_name"]) == {""}  # no gazetteer passed
    assert cl["cluster_id"].is_unique


def test_clusters_place_name_from_gazetteer(cfg, data):
    class Gaz:
        def nearest_names(self, xs, ys):
            return ["Nära A" if abs(x - A[0]) < 200 else "Annan" for x in xs]

    events, boundary, areas = data
    wa = analyse_week(events, cfg, WEEK, boundary, areas, gazetteer=Gaz())
    near_a = wa.clusters[wa.clusters.distance(Point(A)) < 60]
    assert set(near_a["place_name"]) == {"Nära A"}


def test_area_summary_suppresses_small_sensitive_counts(wa, cfg):
    s = wa.area_summary
    assert list(s.columns) == ["area", "category", "time_of_day", "n_events", "suppressed"]
    sens = s[s["category"] == "vald_nara_relation"]
    assert len(sens) == 1 and bool(sens["suppressed"].iloc[0]) and pd.isna(sens["n_events"].iloc[0])
    assert set(sens["time_of_day"]) == {"alla"}  # no per-bin breakdown to subtract from
    assert not s.loc[s["category"] != "vald_nara_relation", "suppressed"].any()
    assert (s["n_events"].dropna() > 0).all()
    klotter = s[(s["category"] == "klotter") & (s["area"] == "Centrum") & (s["time_of_day"] == "alla")]
    assert int(klotter["n_events"].iloc[0]) == 6  # duplicate excluded


def test_key_figures_every_key_with_rolling_mean(wa, cfg, data):
    kf = wa.key_figures
    assert list(kf.columns) == ["dimension", "key", "label", "n_week", "mean_prev", "change"]
    by = {d: g.set_index("key") for d, g in kf.groupby("dimension")}
    assert list(by["group"].index) == list(cfg.groups)
    assert list(by["time_of_day"].index) == list(cfg.time_of_day)
    assert list(by["partner"].index) == list(cfg.partners)
    assert set(by["area"].index) == {"Centrum", "Norr", OUTSIDE_AREA}
    assert by["group"].loc["skadegorelse", "label"] == "Skadegörelse och brand"
    assert by["group"].loc["narkotika", "n_week"] == 0
    # skadegorelse group: 6 klotter in W47; 6 skadegorelse in W46 over 4 previous weeks -> 1.5
    assert by["group"].loc["skadegorelse", "n_week"] == 6
    assert by["group"].loc["skadegorelse", "mean_prev"] == pytest.approx(1.5)
    assert by["group"].loc["skadegorelse", "change"] == pytest.approx(4.5)
    counted = spatial_events(data[0])
    for tod, row in by["time_of_day"].iterrows():
        assert row["n_week"] == ((counted["iso_week"] == WEEK) & (counted["time_of_day"] == tod)).sum()


def test_rolling_uses_previous_weeks_only_within_window(cfg, data):
    """A week with no events still analyses (empty zones), and its rolling window carries on."""
    events, boundary, areas = data
    wa = analyse_week(events, cfg, "2026-W48", boundary, areas)
    assert len(wa.events) == 0 and int(wa.weekday_hour.to_numpy().sum()) == 0
    assert set(wa.hotspots["period"]) <= {"rullande"}
    assert float(wa.density.values.sum()) == 0.0 and wa.density_rolling.values.sum() > 0
    assert (wa.key_figures["n_week"] == 0).all()
