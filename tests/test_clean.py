"""finalise: same-case duplicates, areas, cross-partner duplicates, output schema."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.config import load_config
from pipeline.schema import EVENT_COLUMNS, OUTSIDE_AREA, REJECTED_COLUMNS, empty_rejected, validate_events
from pipeline.sources.clean import cross_partner_duplicates, finalise
from pipeline.sources.geocode import Gazetteer
from pipeline.sources.normalise import normalise_partner

ROOT = Path(__file__).resolve().parents[1]
NOW = pd.Timestamp("2026-11-25 12:00", tz="Europe/Stockholm")
BOUNDARY = shapely.box(490_000, 6_444_000, 521_000, 6_479_000)
CENTRE = (507_650.0, 6_465_000.0)
AREAS = gpd.GeoDataFrame(
    {"name": ["Mjölby centrum", "Resecentrum/stationsområdet"]},
    geometry=[
        shapely.box(507_000, 6_464_500, 508_000, 6_465_500),
        shapely.box(507_900, 6_464_500, 508_500, 6_465_500),
    ],  # overlaps centrum 507 900–508 000
    crs="EPSG:3006",
)


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config.yaml")  # duplicates: 150 m, 60 min


@pytest.fixture(scope="module")
def gaz():
    return Gazetteer.from_frame(
        pd.DataFrame(
            {
                "kind": ["address"],
                "name": ["Storgatan 12"],
                "street": ["Storgatan"],
                "number": ["12"],
                "town": ["Mjölby"],
                "postcode": ["59530"],
                "x": ["507600"],
                "y": ["6465100"],
                "aliases": [""],
            }
        )
    )


def make_events(rows: list[dict]) -> gpd.GeoDataFrame:
    """Canonical events from short dicts: source, at (local time), dx/dy (m from CENTRE), group."""
    n = len(rows)
    at = pd.to_datetime([r["at"] for r in rows], format="ISO8601").tz_localize("Europe/Stockholm").as_unit("ns")
    data = {
        "event_id": [r.get("id", f"{i:016x}") for i, r in enumerate(rows)],
        "source": [r["source"] for r in rows],
        "source_id": [""] * n,
        "source_file": [f"{r['source']}.csv" for r in rows],
        "source_line": np.arange(2, n + 2),
        "category": [r.get("group", "skadegorelse") for r in rows],
        "category_group": [r.get("group", "skadegorelse") for r in rows],
        "sensitive": [False] * n,
        "source_category": ["x"] * n,
        "occurred_at": at,
        "occurred_end": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, Europe/Stockholm]"),
        "iso_week": ["2026-W47"] * n,
        "weekday": [1] * n,
        "hour": at.hour,
        "time_of_day": ["natt"] * n,
        "location_text": [""] * n,
        "geocode_method": ["coordinates"] * n,
        "geocode_score": [100.0] * n,
        "area": [""] * n,
        "duplicate_of": [""] * n,
        "description": [""] * n,
    }
    geometry = gpd.points_from_xy(
        [CENTRE[0] + r.get("dx", 0) for r in rows], [CENTRE[1] + r.get("dy", 0) for r in rows], crs="EPSG:3006"
    )
    frame = pd.DataFrame(data).astype({c: t for c, (t, _) in EVENT_COLUMNS.items() if c != "geometry"})
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:3006")


def dup_of(rows: list[dict], cfg) -> dict[str, str]:
    events, _ = finalise(make_events(rows), empty_rejected(), cfg, AREAS)
    return dict(zip(events["event_id"], events["duplicate_of"]))


# -- same-case duplicates ---------------------------------------------------------------------------


def polisen_frame(rows: list[list[str]], name: str) -> pd.DataFrame:
    cols = [
        "Diarienr",
        "Brottsbenämning",
        "Från datum",
        "Från kl",
        "Till datum",
        "Till kl",
        "Gatuadress",
        "Ort",
        "X-koord",
        "Y-koord",
    ]
    frame = pd.DataFrame(rows, columns=cols, dtype="string")
    frame["_raw"] = frame.agg(";".join, axis=1)
    frame.attrs["display_name"] = name
    return frame


ROW_A = ["5000-K1-26", "Klotter", "2026-11-16", "14:30", "", "", "Storgatan 12", "Mjölby", "", ""]
ROW_B = ["5000-K2-26", "Stöld", "2026-11-17", "09:00", "", "", "Storgatan 12", "Mjölby", "", ""]
NO_ID = ["", "Bråk", "2026-11-18", "22:00", "", "", "Storgatan 12", "Mjölby", "", ""]


def ingest_files(files: dict[str, list[list[str]]], cfg, gaz):
    parts = [
        normalise_partner(polisen_frame(rows, name), "polisen", cfg, gaz, BOUNDARY, NOW) for name, rows in files.items()
    ]
    events = gpd.GeoDataFrame(pd.concat([p[0] for p in parts], ignore_index=True), crs="EPSG:3006")
    return finalise(events, pd.concat([p[1] for p in parts], ignore_index=True), cfg, AREAS)


def test_exact_duplicate_rows_keep_the_first(cfg, gaz):
    events, rejected = ingest_files({"v47.csv": [ROW_A, NO_ID, NO_ID], "v48.csv": [ROW_A, ROW_B]}, cfg, gaz)
    assert sorted(events["source_id"]) == ["", "5000-K1-26", "5000-K2-26"]
    kept = events.set_index("source_id")
    assert (kept.loc["5000-K1-26", "source_file"], kept.loc["5000-K1-26", "source_line"]) == ("v47.csv", 2)
    rej = rejected.set_index(["source_file", "source_line"])
    assert rej.loc[("v47.csv", 4), "reason"] == "duplicate_row"  # same raw row, no case id
    assert rej.loc[("v47.csv", 4), "message"] == "same as v47.csv line 3"
    assert rej.loc[("v48.csv", 2), "reason"] == "duplicate_row"
    assert rej.loc[("v48.csv", 2), "message"] == "same as v47.csv line 2"
    assert rej.loc[("v48.csv", 2), "raw"].startswith("5000-K1-26;Klotter")
    assert len(events) + len(rejected) == 5  # conservation


def test_revised_case_keeps_the_latest_file(cfg, gaz):
    revised = ROW_A.copy()
    revised[1] = "Skadegörelse"
    # natural order: v9 before v10, although "v10" < "v9" as plain strings
    events, rejected = ingest_files({"v10.csv": [ROW_B, revised], "v9.csv": [ROW_A]}, cfg, gaz)
    kept = events.set_index("source_id").loc["5000-K1-26"]
    assert (kept["source_file"], kept["source_line"], kept["category"]) == ("v10.csv", 3, "skadegorelse")
    assert rejected["reason"].tolist() == ["duplicate_source_id"]
    assert rejected["source_file"].tolist() == ["v9.csv"]
    assert "v10.csv line 3" in rejected["message"].iloc[0]


def test_output_schema_and_order(cfg, gaz):
    events, rejected = ingest_files({"v47.csv": [ROW_B, ROW_A, NO_ID]}, cfg, gaz)
    validate_events(events)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert list(rejected.columns) == list(REJECTED_COLUMNS)
    assert events["occurred_at"].is_monotonic_increasing
    assert str(events["area"].dtype) == "string"


# -- areas --------------------------------------------------------------------------------------------


def test_area_join_first_area_wins_and_outside(cfg):
    rows = [
        {"source": "polisen", "at": "2026-11-16 10:00", "dx": 0},
        {"source": "polisen", "at": "2026-11-16 11:00", "dx": 300},  # in the overlap
        {"source": "polisen", "at": "2026-11-16 12:00", "dx": 600},
        {"source": "polisen", "at": "2026-11-16 13:00", "dx": 5000},
    ]
    events, _ = finalise(make_events(rows), empty_rejected(), cfg, AREAS)
    assert events["area"].tolist() == ["Mjölby centrum", "Mjölby centrum", "Resecentrum/stationsområdet", OUTSIDE_AREA]


def test_no_areas_configured(cfg):
    empty = gpd.GeoDataFrame({"name": pd.Series(dtype="string")}, geometry=[], crs="EPSG:3006")
    events, _ = finalise(make_events([{"source": "polisen", "at": "2026-11-16 10:00"}]), empty_rejected(), cfg, empty)
    assert events["area"].tolist() == [OUTSIDE_AREA]


# -- cross-partner duplicates ----------------------------------------------------------------------


def test_cross_partner_within_distance_and_time(cfg):
    rows = [
        {"id": "a" * 16, "source": "polisen", "at": "2026-11-16 22:00"},
        {"id": "b" * 16, "source": "kommunen", "at": "2026-11-16 22:40", "dx": 100, "dy": 100},  # 141 m
        {"id": "c" * 16, "source": "bostadsbolaget", "at": "2026-11-16 23:00", "dx": 150},
    ]  # 150 m, 60 min
    assert dup_of(rows, cfg) == {"a" * 16: "", "b" * 16: "a" * 16, "c" * 16: "a" * 16}


def test_cross_partner_just_outside(cfg):
    rows = [
        {"id": "a" * 16, "source": "polisen", "at": "2026-11-16 22:00"},
        {"id": "b" * 16, "source": "kommunen", "at": "2026-11-16 22:10", "dx": 150.5},
        {"id": "c" * 16, "source": "kommunen", "at": "2026-11-16 23:00:01", "dx": 10},
    ]
    assert dup_of(rows, cfg) == {"a" * 16: "", "b" * 16: "", "c" * 16: ""}


def test_cross_partner_needs_same_group_and_other_partner(cfg):
    rows = [
        {"id": "a" * 16, "source": "polisen", "at": "2026-11-16 22:00"},
        {"id": "b" * 16, "source": "kommunen", "at": "2026-11-16 22:05", "group": "ordning"},
        {"id": "c" * 16, "source": "polisen", "at": "2026-11-16 22:06"},
    ]
    assert dup_of(rows, cfg) == {"a" * 16: "", "b" * 16: "", "c" * 16: ""}


def test_cross_partner_points_to_earliest_and_earlier_in_time(cfg):
    # Out of input order on purpose: finalise orders by occurred_at, then event_id.
    rows = [
        {"id": "3" * 16, "source": "kommunen", "at": "2026-11-16 22:30"},
        {"id": "2" * 16, "source": "bostadsbolaget", "at": "2026-11-16 22:10"},
        {"id": "1" * 16, "source": "polisen", "at": "2026-11-16 22:10"},
    ]
    # 22:10 tie -> "111..." is earlier by event_id; the later one in the tie points to it
    assert dup_of(rows, cfg) == {"1" * 16: "", "2" * 16: "1" * 16, "3" * 16: "1" * 16}


def test_cross_partner_across_dst_change(cfg):
    # 02:50+02:00 and then 02:10+01:00 (the repeated hour): 20 minutes apart in real time,
    # although the wall clock says -40 minutes.
    ts = pd.Series(
        pd.DatetimeIndex(["2026-10-25 00:50:00+00:00", "2026-10-25 01:10:00+00:00"]).tz_convert("Europe/Stockholm")
    )
    ev = make_events(
        [
            {"id": "a" * 16, "source": "polisen", "at": "2026-10-25 12:00"},
            {"id": "b" * 16, "source": "kommunen", "at": "2026-10-25 12:00"},
        ]
    )
    ev["occurred_at"] = ts.to_numpy()
    assert cross_partner_duplicates(ev, 150, 60).tolist() == ["", "a" * 16]
    assert cross_partner_duplicates(ev, 150, 19).tolist() == ["", ""]


def test_cross_partner_scales(cfg):
    rng = np.random.default_rng(7)
    n = 100_000
    start = pd.Timestamp("2025-01-01", tz="Europe/Stockholm")
    minutes = np.sort(rng.integers(0, 700 * 24 * 60, n))
    ev = gpd.GeoDataFrame(
        {
            "event_id": [f"{i:016x}" for i in range(n)],
            "source": rng.choice(["polisen", "kommunen", "bostadsbolaget"], n),
            "category_group": rng.choice(["skadegorelse", "ordning", "vald"], n),
            "occurred_at": start + pd.to_timedelta(minutes, unit="min"),
        },
        geometry=gpd.points_from_xy(rng.normal(507_650, 800, n), rng.normal(6_465_000, 800, n)),
        crs="EPSG:3006",
    )
    dup = cross_partner_duplicates(ev, 150, 60)
    assert 0 < (dup != "").sum() < n
    # Spot-check one hit against the definition.
    i = int(np.flatnonzero(dup.to_numpy() != "")[0])
    j = int(np.flatnonzero(ev["event_id"].to_numpy() == dup.iloc[i])[0])
    assert j < i and ev["source"].iat[j] != ev["source"].iat[i]
    assert ev["category_group"].iat[j] == ev["category_group"].iat[i]
    assert ev.geometry.iat[j].distance(ev.geometry.iat[i]) <= 150
