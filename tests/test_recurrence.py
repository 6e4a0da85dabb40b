"""Recurring places and the minimum zone size: footprints, overlap by area, the 4- and 12-week
windows, ranking, and the week analysis on planted places (one that comes back every week,
one that is new, one too small to be a zone)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from pipeline.analysis.grid import Grid
from pipeline.analysis.recurrence import footprints, rank_places, recurrence
from pipeline.analysis.weekly import analyse_week
from pipeline.analysis.weeks import previous_weeks
from pipeline.analysis.zones import hotspot_zones
from tests.test_weekly import BOUNDARY, areas_frame, config, make_events

WEEK = "2026-W47"
CRS = "EPSG:3006"


def zones(rows):
    """rows: (level, time_of_day, (x0, y0, x1, y1))."""
    return gpd.GeoDataFrame(
        {"level": [r[0] for r in rows], "time_of_day": [r[1] for r in rows]},
        geometry=[box(*r[2]) for r in rows],
        crs=CRS,
    )


def test_footprint_is_the_broadest_level_per_time_of_day():
    fp = footprints(
        zones(
            [
                (0.1, "alla", (0, 0, 1, 1)),
                (0.5, "alla", (0, 0, 2, 2)),
                (0.5, "alla", (5, 5, 6, 6)),
                (0.5, "kvall", (9, 9, 10, 10)),
            ]
        )
    )
    assert set(fp) == {"alla", "kvall"}
    assert fp["alla"].area == pytest.approx(5.0) and fp["kvall"].area == pytest.approx(1.0)
    assert footprints(zones([])) == {}


def test_recurrence_counts_weeks_in_both_windows():
    weeks = previous_weeks(WEEK, 13)  # 2026-W34 .. 2026-W46
    place = (0, 0, 10, 10)
    history = {w: {"alla": box(*place)} for w in weeks}  # present in all 13 earlier weeks
    history[weeks[-2]] = {"kvall": box(*place)}  # W45: only in the evening
    history[weeks[-3]] = {"alla": box(10, 0, 20, 10)}  # W44: a neighbour touching the edge
    targets = zones([(0.5, "alla", place), (0.5, "kvall", place), (0.5, "natt", place)])
    r = recurrence(targets, history, WEEK)
    assert list(r.columns) == ["recurrence_4", "recurrence_12"]
    # alla: of W43..W46 present in W43 and W46 (W44 only touches, W45 is evening only);
    # of W35..W46 that is 12 - 2; W34 is outside both windows
    assert r.iloc[0].tolist() == [2, 10]
    assert r.iloc[1].tolist() == [1, 1]
    assert r.iloc[2].tolist() == [0, 0]
    assert recurrence(targets.iloc[:0], history, WEEK).shape == (0, 2)


def test_rank_by_recurrence_then_strength_not_size():
    f = pd.DataFrame(
        {
            "recurrence_4": [0, 4, 4, 2],
            "recurrence_12": [0, 6, 11, 11],
            "n_events": [60, 5, 5, 9],
            "pai": [50.0, 80.0, 90.0, 10.0],
        }
    )
    assert rank_places(f).index.tolist() == [2, 1, 3, 0]


def test_zones_below_the_minimum_are_not_zones():
    g = Grid(0.0, 0.0, 100.0, 10, 10)
    d = np.zeros(g.shape)
    d[2, 2], d[7, 7] = 5.0, 4.0
    pts = np.array([[250.0, 250.0]] * 3 + [[750.0, 750.0]])
    both = hotspot_zones(d, g, np.ones(g.shape, bool), [2.0], pts)
    assert both["n_events"].tolist() == [3, 1]
    kept = hotspot_zones(d, g, np.ones(g.shape, bool), [2.0], pts, min_events=3)
    assert kept["n_events"].tolist() == [3] and kept["zone_id"].tolist() == [1]
    assert kept["pai"].iloc[0] == both["pai"].iloc[0]  # shares keep the week's totals


# -- the week analysis on planted places -------------------------------------------------------

A = (505000.0, 6465000.0)  # comes back every week, in the evening
B = (507000.0, 6466500.0)  # new this week
C = (503000.0, 6463000.0)  # two events only: no zone


def _rows():
    rows = []
    monday = pd.Timestamp("2026-11-16")
    for k in range(12, -1, -1):  # W35 .. W47
        day = monday - pd.Timedelta(weeks=k)
        for i in range(4):
            rows.append(
                dict(
                    x=A[0] + 20 * i,
                    y=A[1],
                    at=f"{(day + pd.Timedelta(days=i)):%Y-%m-%d} 19:{10 + i}",
                    category="klotter",
                    source="kommunen",
                )
            )
    for i in range(5):
        rows.append(dict(x=B[0] + 15 * i, y=B[1], at=f"2026-11-{17 + i} 20:05", category="stold", source="polisen"))
    for i in range(2):
        rows.append(dict(x=C[0] + 10 * i, y=C[1], at=f"2026-11-{18 + i} 03:05", category="fordon", source="polisen"))
    return rows


@pytest.fixture(scope="module")
def week():
    cfg = config()
    areas = areas_frame()
    events = gpd.GeoDataFrame(make_events(_rows(), cfg, areas), geometry="geometry", crs=CRS)
    return cfg, analyse_week(events, cfg, WEEK, BOUNDARY, areas)


def _near(frame, point, tod, period="vecka"):
    sel = frame[(frame["period"] == period) & (frame["time_of_day"] == tod)]
    return sel[sel.geometry.distance(gpd.points_from_xy([point[0]], [point[1]])[0]) < 300]


def test_week_zones_hold_the_minimum_and_carry_recurrence(week):
    cfg, wa = week
    hs = wa.hotspots
    assert {"recurrence_4", "recurrence_12"} <= set(hs.columns)
    assert (hs["n_events"] >= cfg.analysis.min_zone_events).all()
    assert len(_near(hs, C, "alla")) == 0  # two events make no zone
    assert "natt" not in set(hs[hs["period"] == "vecka"]["time_of_day"])  # too few at night for one
    for tod in ("alla", "kvall"):
        a = _near(hs, A, tod)
        assert len(a) and (a["recurrence_4"] == 4).all() and (a["recurrence_12"] == 12).all()
        b = _near(hs, B, tod)
        assert len(b) and (b["recurrence_4"] == 0).all() and (b["recurrence_12"] == 0).all()


def test_clusters_carry_recurrence(week):
    _, wa = week
    cl = wa.clusters
    a, b = _near(cl, A, "alla"), _near(cl, B, "alla")
    assert len(a) == 1 and len(b) == 1
    assert a["recurrence_4"].iloc[0] == 4 and a["recurrence_12"].iloc[0] == 12
    assert b["recurrence_4"].iloc[0] == 0 and b["recurrence_12"].iloc[0] == 0
    assert cl["recurrence_4"].dtype == np.int64


def test_map_popups_say_how_often_the_place_came_back(week):
    from types import SimpleNamespace

    from pipeline.render import maps

    cfg, wa = week
    zone = next(wa.hotspots.itertuples(index=False))
    html = maps._hotspot_popup(zone, cfg, rolling=False)
    assert f"{zone.recurrence_4} av 4 och {zone.recurrence_12} av 12 föregående veckor" in html
    cluster = next(wa.clusters.itertuples(index=False))
    assert f"{cluster.recurrence_4} av 4 och" in maps._cluster_popup(cluster, cfg)
    old = SimpleNamespace(**{k: v for k, v in zone._asdict().items() if not k.startswith("recurrence")})
    assert "Återkommit:</b> –" in maps._hotspot_popup(old, cfg, rolling=False)  # archive from before
