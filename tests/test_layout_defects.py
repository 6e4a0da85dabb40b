"""Defects found reading the code as a newcomer (issue: one room per stage), each pinned here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

from pipeline.analysis.clusters import cluster_polygons, peak_time
from pipeline.analysis.dbscan import DBSCANResult, dbscan
from pipeline.config import parse_config
from pipeline.schema import SchemaError, empty_events, validate_events
from pipeline.sources.geocode import Gazetteer
from pipeline.sources.normalise import normalise_partner
from pipeline.sources.read import read_export

ROOT = Path(__file__).resolve().parents[1]
NOW = pd.Timestamp("2026-11-25 12:00", tz="Europe/Stockholm")
BOUNDARY = shapely.box(490_000, 6_444_000, 521_000, 6_479_000)

# Storgatan exists in Mjölby (E 507 600) and in Skänninge (E 505 000), 7 km apart.
TWO_TOWNS = pd.DataFrame(
    {
        "kind": ["address", "address"],
        "name": ["Storgatan 5", "Storgatan 5"],
        "street": ["Storgatan", "Storgatan"],
        "number": ["5", "5"],
        "town": ["Mjölby", "Skänninge"],
        "postcode": ["59530", "59630"],
        "x": ["507600", "505000"],
        "y": ["6465100", "6472600"],
        "aliases": ["", ""],
    }
)
EXPORT = "Ärendenr;Händelsetyp;Datum;Tid;Plats;Verksamhet;Beskrivning\nK-1;Klotter;2026-11-17;10:00;Storgatan 5;Gata;\n"


def _config(default_town: str):
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["geocoding"]["default_town"] = default_town
    return parse_config(data, base_dir=ROOT)


@pytest.mark.parametrize("town, x", [("Skänninge", 505000.0), ("Mjölby", 507600.0)])
def test_default_town_reaches_the_geocoder(tmp_path, town, x):
    # An address without a town resolves in the configured default town (it was validated
    # but never passed: "Storgatan 5" landed in Mjölby whatever the config said).
    cfg = _config(town)
    path = tmp_path / "kommunen.csv"
    path.write_bytes(EXPORT.encode("cp1252"))
    raw = read_export(path, "kommunen", cfg.partners["kommunen"], "data/raw/kommunen/kommunen.csv")
    events, rejected = normalise_partner(raw, "kommunen", cfg, Gazetteer.from_frame(TWO_TOWNS), BOUNDARY, NOW)
    assert len(rejected) == 0 and len(events) == 1
    assert events.geometry.x.iloc[0] == pytest.approx(x)


def test_peak_is_the_most_common_weekday_hour_cell_not_the_marginals():
    # Monday 09 ×2; Tuesday at 22, 09, 23. The marginals say Tuesday (3) at 09 (3): Tuesday 09
    # happened once. The most common cell is Monday 09 (twice).
    weekdays = pd.Series([1, 1, 2, 2, 2])
    hours = pd.Series([9, 9, 22, 9, 23])
    assert peak_time(weekdays, hours) == (1, 9)
    pts = [shapely.Point(500_000 + i, 6_460_000) for i in range(5)]
    ev = gpd.GeoDataFrame(
        {
            "category": ["klotter"] * 5,
            "source": ["polisen"] * 5,
            "occurred_at": pd.date_range("2026-11-16 09:00", periods=5, freq="h", tz="Europe/Stockholm"),
            "weekday": weekdays,
            "hour": hours,
        },
        geometry=pts,
        crs="EPSG:3006",
    )
    poly = cluster_polygons(
        ev, np.zeros(5, dtype=int), buffer_m=10, taxonomy_labels={}, partner_labels={}, id_prefix="x"
    )
    assert (poly.loc[0, "peak_weekday"], poly.loc[0, "peak_hour"]) == (1, 9)


def test_validate_events_raises_even_under_python_O():
    with pytest.raises(SchemaError, match="canonical columns"):
        validate_events(empty_events().drop(columns="area"))
    code = (
        "from pipeline.schema import empty_events, validate_events\n"
        "try:\n validate_events(empty_events().drop(columns='area'))\nexcept ValueError:\n print('raised')"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "raised", out.stderr


def test_dbscan_result_names_what_it_returns():
    res = dbscan(np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0]]), eps=1.5, min_samples=2)
    assert isinstance(res, DBSCANResult)
    assert res.labels.tolist() == [0, 0, -1] and res.core.tolist() == [True, True, False]
    labels, core = res  # still unpacks like a tuple
    assert labels is res.labels and core is res.core
