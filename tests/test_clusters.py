"""Cluster polygons: attributes on a hand-made week, polygon shapes, and new vs persistent."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from pipeline.analysis.clusters import CLUSTER_POLYGON_COLUMNS, cluster_polygons, mark_persistent
from pipeline.schema import EVENT_COLUMNS

TAXONOMY = {"skadegorelse": "Skadegörelse", "klotter": "Klotter", "stold": "Stöld", "hot": "Hot"}
PARTNERS = {"polisen": "Polismyndigheten", "kommunen": "Mjölby kommun", "bostadsbolaget": "Bostadsbolaget i Mjölby"}


def _events(rows):
    """Canonical-looking events from (category, source, local time, x, y) tuples."""
    times = pd.to_datetime([r[2] for r in rows]).tz_localize("Europe/Stockholm")
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:03d}" for i in range(len(rows))],
            "source": [r[1] for r in rows],
            "category": [r[0] for r in rows],
            "occurred_at": times,
            "weekday": times.day_of_week + 1,
            "hour": times.hour,
            "time_of_day": "kvall",
        }
    )
    geometry = [Point(r[3], r[4]) for r in rows]
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:3006")


# Week 2026-W47: Monday 16 Nov .. Sunday 22 Nov 2026.
ROWS = [
    # cluster 0: 9 events around (507200, 6465000)
    ("skadegorelse", "polisen", "2026-11-17 21:10", 507200, 6465000),
    ("skadegorelse", "kommunen", "2026-11-17 21:40", 507230, 6465010),
    ("skadegorelse", "polisen", "2026-11-18 22:05", 507210, 6465040),
    ("skadegorelse", "bostadsbolaget", "2026-11-18 21:55", 507190, 6465020),
    ("skadegorelse", "polisen", "2026-11-19 20:00", 507250, 6465030),
    ("klotter", "kommunen", "2026-11-17 22:30", 507220, 6464990),
    ("klotter", "kommunen", "2026-11-18 21:00", 507205, 6465060),
    ("klotter", "polisen", "2026-11-22 23:59", 507240, 6465050),
    ("stold", "polisen", "2026-11-16 18:00", 507215, 6465015),
    # cluster 1: a single event (min_samples=1 style)
    ("hot", "polisen", "2026-11-20 19:15", 510000, 6470000),
    # noise
    ("stold", "kommunen", "2026-11-21 12:00", 520000, 6480000),
    # cluster 2: two events on a line
    ("stold", "bostadsbolaget", "2026-11-21 18:30", 505000, 6472000),
    ("klotter", "polisen", "2026-11-22 19:30", 505040, 6472000),
]
LABELS = np.array([0] * 9 + [1, -1, 2, 2])


@pytest.fixture()
def polys():
    return cluster_polygons(
        _events(ROWS),
        LABELS,
        buffer_m=25,
        taxonomy_labels=TAXONOMY,
        partner_labels=PARTNERS,
        id_prefix="2026-W47-vecka-kvall",
    )


def test_one_row_per_cluster_with_ids_and_counts(polys):
    assert list(polys.columns) == CLUSTER_POLYGON_COLUMNS + ["geometry"]
    assert polys["cluster_id"].tolist() == [f"2026-W47-vecka-kvall-{k}" for k in (1, 2, 3)]
    assert polys["n_events"].tolist() == [9, 1, 2]
    assert polys.crs.to_epsg() == 3006


def test_category_texts(polys):
    assert polys.loc[0, "top_categories"] == "Skadegörelse (5), Klotter (3), Stöld (1)"
    assert json.loads(polys.loc[0, "categories"]) == {"skadegorelse": 5, "klotter": 3, "stold": 1}
    # equal counts: ordered by label
    assert polys.loc[2, "top_categories"] == "Klotter (1), Stöld (1)"
    assert polys.loc[1, "top_categories"] == "Hot (1)"


def test_partners_sorted_labels(polys):
    assert polys.loc[0, "partners"] == "Bostadsbolaget i Mjölby, Mjölby kommun, Polismyndigheten"
    assert polys.loc[1, "partners"] == "Polismyndigheten"


def test_time_span_is_local_iso_with_offset(polys):
    assert polys.loc[0, "first_at"] == "2026-11-16T18:00:00+01:00"
    assert polys.loc[0, "last_at"] == "2026-11-22T23:59:00+01:00"
    assert pd.Timestamp(polys.loc[2, "first_at"]) < pd.Timestamp(polys.loc[2, "last_at"])


def test_peaks_and_swedish_weekday_names(polys):
    # cluster 0: Tuesday and Wednesday both have 3 events -> the smaller (Tuesday) wins;
    # hours 21 (x4) beat 22 (x2).
    assert polys.loc[0, "peak_weekday"] == 2
    assert polys.loc[0, "peak_weekday_name"] == "tisdag"
    assert polys.loc[0, "peak_hour"] == 21
    # cluster 2: Saturday 18h and Sunday 19h once each -> smallest values.
    assert polys.loc[2, ["peak_weekday", "peak_weekday_name", "peak_hour"]].tolist() == [6, "lördag", 18]
    assert polys.loc[1, "peak_weekday_name"] == "fredag"


def test_geometry_is_buffered_hull(polys):
    assert (polys.geom_type == "Polygon").all()
    assert (polys.area > 0).all()
    # one point: a disc of radius 25 m (polygonal approximation)
    assert polys.area[1] == pytest.approx(np.pi * 25**2, rel=0.01)
    # two points 40 m apart: a stadium 40 x 50 m plus two half discs
    assert polys.area[2] == pytest.approx(40 * 50 + np.pi * 25**2, rel=0.01)
    # every member point lies inside its polygon, ~25 m from the edge (arcs are chords)
    events = _events(ROWS)
    for k, poly in enumerate(polys.geometry):
        pts = events.geometry[LABELS == k]
        assert all(poly.contains(p) and poly.exterior.distance(p) >= 24.5 for p in pts)


def test_row_order_does_not_matter(polys):
    order = np.random.default_rng(3).permutation(len(ROWS))
    shuffled = _events([ROWS[i] for i in order])
    again = cluster_polygons(
        shuffled,
        LABELS[order],
        buffer_m=25,
        taxonomy_labels=TAXONOMY,
        partner_labels=PARTNERS,
        id_prefix="2026-W47-vecka-kvall",
    )
    pd.testing.assert_frame_equal(again.drop(columns="geometry"), polys.drop(columns="geometry"))
    assert all(a.equals(b) for a, b in zip(again.geometry, polys.geometry))


def test_canonical_schema_frame_and_unknown_labels_fall_back_to_keys():
    rows = [("ovrigt", "okand", "2026-11-16 01:00", 0, 0), ("ovrigt", "okand", "2026-11-16 01:30", 3, 4)]
    ev = _events(rows)
    for c in EVENT_COLUMNS:  # the full canonical columns do not disturb anything
        if c not in ev.columns:
            ev[c] = ""
    out = cluster_polygons(ev, [0, 0], buffer_m=10, taxonomy_labels={}, partner_labels={}, id_prefix="x")
    assert out.loc[0, ["cluster_id", "top_categories", "partners"]].tolist() == ["x-1", "ovrigt (2)", "okand"]
    assert out.loc[0, "peak_weekday_name"] == "måndag"


def test_no_clusters_gives_empty_frame_with_columns():
    ev = _events(ROWS[:2])
    for out in (
        cluster_polygons(ev, [-1, -1], buffer_m=25, taxonomy_labels=TAXONOMY, partner_labels=PARTNERS, id_prefix="p"),
        cluster_polygons(
            ev.iloc[:0], [], buffer_m=25, taxonomy_labels=TAXONOMY, partner_labels=PARTNERS, id_prefix="p"
        ),
    ):
        assert len(out) == 0
        assert list(out.columns) == CLUSTER_POLYGON_COLUMNS + ["geometry"]
        assert out.crs.to_epsg() == 3006


@pytest.mark.parametrize(
    "kwargs, labels",
    [
        ({"buffer_m": 0}, LABELS),
        ({"buffer_m": -5}, LABELS),
        ({"buffer_m": float("nan")}, LABELS),
        ({"buffer_m": 25}, LABELS[:-1]),
        ({"buffer_m": 25}, LABELS.astype(float)),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, labels):
    with pytest.raises(ValueError):
        cluster_polygons(
            _events(ROWS), labels, taxonomy_labels=TAXONOMY, partner_labels=PARTNERS, id_prefix="p", **kwargs
        )


def test_wrong_crs_raises():
    with pytest.raises(ValueError, match="EPSG:3006"):
        cluster_polygons(
            _events(ROWS).set_crs("EPSG:3857", allow_override=True),
            LABELS,
            buffer_m=25,
            taxonomy_labels=TAXONOMY,
            partner_labels=PARTNERS,
            id_prefix="p",
        )


# ---------------------------------------------------------------------------- mark_persistent


def _polys(boxes, tods=None):
    frame = pd.DataFrame({"cluster_id": [f"c{i}" for i in range(len(boxes))]})
    if tods is not None:
        frame["time_of_day"] = tods
    return gpd.GeoDataFrame(frame, geometry=[box(*b) for b in boxes], crs="EPSG:3006")


def test_overlapping_previous_cluster_is_persistent():
    current = _polys([(0, 0, 100, 100), (500, 500, 600, 600), (1000, 0, 1100, 100)])
    previous = _polys([(50, 50, 150, 150), (1100, 100, 1200, 200)])  # second one only touches
    out = mark_persistent(current, previous)
    assert out["status"].tolist() == ["kvarstående", "ny", "kvarstående"]
    assert "status" not in current.columns  # input left alone
    assert out["cluster_id"].tolist() == current["cluster_id"].tolist()


def test_persistence_needs_the_same_time_of_day_bin():
    current = _polys([(0, 0, 100, 100), (0, 0, 100, 100)], ["kvall", "natt"])
    previous = _polys([(50, 50, 150, 150)], ["kvall"])
    assert mark_persistent(current, previous)["status"].tolist() == ["kvarstående", "ny"]
    # without the column on one side, any bin counts
    assert mark_persistent(current, previous.drop(columns="time_of_day"))["status"].tolist() == [
        "kvarstående",
        "kvarstående",
    ]


def test_no_previous_week_means_all_new_and_empty_stays_empty():
    current = _polys([(0, 0, 1, 1)], ["kvall"])
    assert mark_persistent(current, None)["status"].tolist() == ["ny"]
    assert mark_persistent(current, current.iloc[:0])["status"].tolist() == ["ny"]
    empty = mark_persistent(current.iloc[:0], current)
    assert len(empty) == 0 and list(empty.columns) == ["cluster_id", "time_of_day", "geometry", "status"]
