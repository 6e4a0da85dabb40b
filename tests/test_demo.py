"""Demo data for Mjölby kommun: deterministic, correctly encoded, realistic and inside the kommun."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from pipeline import demo
from pipeline.config import load_config
from pipeline.io.reference import municipality_boundary

ROOT = Path(__file__).resolve().parents[1]
POLISEN = demo.POLISEN_PATHS
KOMMUNEN, BOSTAD = demo.KOMMUNEN_PATH, demo.BOSTAD_PATH


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config.yaml")


@pytest.fixture(scope="module")
def out(cfg, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("demo")
    demo.write_demo_data(cfg, out_dir=base)
    return base


@pytest.fixture(scope="module")
def boundary(cfg):
    return municipality_boundary(cfg)


def _rows(path: Path, encoding: str, delimiter: str) -> list[dict]:
    text = path.read_bytes().decode(encoding)
    return [r for r in csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter) if any(r.values())]


@pytest.fixture(scope="module")
def polisen(out):
    return [r for rel in POLISEN for r in _rows(out / rel, "utf-8-sig", ";")]


@pytest.fixture(scope="module")
def kommunen(out):
    return _rows(out / KOMMUNEN, "cp1252", ";")


@pytest.fixture(scope="module")
def bostad(out):
    return _rows(out / BOSTAD, "utf-8", ",")


@pytest.fixture(scope="module")
def gazetteer(out):
    return pd.read_csv(out / demo.GAZETTEER_PATH, dtype=str, keep_default_na=False)


def _parse_date(text: str):
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    return None


def _weeks(polisen, kommunen, bostad) -> Counter:
    dates = [_parse_date(r["Från datum"]) for r in polisen] + [_parse_date(r["Datum"]) for r in kommunen]
    dates += [_parse_date(r["tidpunkt"][:10]) for r in bostad]
    return Counter(f"{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in dates if d)


# -- determinism and files ---------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(cfg, out, tmp_path):
    paths = demo.write_demo_data(cfg, seed=586, out_dir=tmp_path)
    assert len(paths) == 7
    for p in paths:
        rel = p.relative_to(tmp_path)
        assert p.read_bytes() == (out / rel).read_bytes(), rel
        assert "demo" in p.name


def test_other_seed_gives_other_events():
    a, b = demo.render_demo_files(586), demo.render_demo_files(587)
    assert a[KOMMUNEN] != b[KOMMUNEN]


def test_committed_demo_files_match_the_generator(out):
    # The files in the repository are exactly what `lagesbild demo-data` writes.
    for rel in [demo.GAZETTEER_PATH, demo.AREAS_PATH, *POLISEN, KOMMUNEN, BOSTAD, demo.REGISTER_PATH]:
        assert (ROOT / rel).read_bytes() == (out / rel).read_bytes(), f"{rel} is stale: run `lagesbild demo-data`"


# -- encodings and columns --------------------------------------------------------------------


def test_encodings(out):
    for rel in POLISEN:
        assert (out / rel).read_bytes().startswith(b"\xef\xbb\xbfDiarienr;")
    raw = (out / KOMMUNEN).read_bytes()
    assert raw.decode("cp1252").startswith("Ärendenr;Datum;Tid;")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    raw = (out / BOSTAD).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert "skadegörelse" in raw.decode("utf-8")


def test_headers_match_the_config_column_mapping(cfg, out):
    files = {
        "polisen": (out / POLISEN[0], "utf-8-sig", ";"),
        "kommunen": (out / KOMMUNEN, "cp1252", ";"),
        "bostadsbolaget": (out / BOSTAD, "utf-8", ","),
    }
    for partner, (path, enc, sep) in files.items():
        header = path.read_bytes().decode(enc).splitlines()[0].split(sep)
        assert set(cfg.partners[partner].columns.values()) <= set(header), partner


def test_every_row_has_the_header_field_count(out):
    for rel, enc, sep in [
        (POLISEN[0], "utf-8-sig", ";"),
        (POLISEN[1], "utf-8-sig", ";"),
        (KOMMUNEN, "cp1252", ";"),
        (BOSTAD, "utf-8", ","),
    ]:
        records = list(csv.reader(io.StringIO((out / rel).read_bytes().decode(enc), newline=""), delimiter=sep))
        widths = Counter(len(r) for r in records)
        assert set(widths) == {len(records[0]), 0}, rel  # 0 = the deliberate blank line


# -- time structure ---------------------------------------------------------------------------


def test_weeks_span_w22_to_w47_with_plausible_counts(polisen, kommunen, bostad):
    weeks = _weeks(polisen, kommunen, bostad)
    assert min(weeks) == "2026-W22" and max(weeks) == "2026-W47"
    assert len(weeks) == 26
    assert all(60 <= n <= 200 for n in weeks.values()), weeks


def test_polisen_files_split_by_week(out):
    for rel, (lo, hi) in zip(POLISEN, [(22, 34), (35, 47)]):
        weeks = {
            d.isocalendar().week for r in _rows(out / rel, "utf-8-sig", ";") if (d := _parse_date(r["Från datum"]))
        }
        assert min(weeks) == lo and max(weeks) == hi


def test_summer_evenings_are_busier_than_november():
    incidents = demo.generate_demo().incidents
    july = sum(1 for i in incidents if i.when.month == 7 and i.when.hour >= 18)
    november = sum(1 for i in incidents if i.when.month == 11 and i.when.day <= 22 and i.when.hour >= 18)
    assert july > november * 31 / 22 * 1.2


def test_dst_repeated_hour_has_an_event(polisen, kommunen):
    times = [(r["Från datum"], r["Från kl"]) for r in polisen] + [(r["Datum"], r["Tid"]) for r in kommunen]
    assert any(d == "2026-10-25" and t.startswith("02") for d, t in times)


# -- places and coordinates -------------------------------------------------------------------


def test_gazetteer_format_and_content(gazetteer):
    assert list(gazetteer.columns) == ["kind", "name", "street", "number", "town", "postcode", "x", "y", "aliases"]
    addresses = gazetteer[gazetteer["kind"] == "address"]
    assert 300 <= len(addresses) <= 1000
    assert 40 <= addresses.groupby(["street", "town"]).ngroups <= 80
    assert addresses["number"].str.fullmatch(r"\d+[A-Z]?").all()
    assert addresses["number"].str.contains("[AB]$").any()
    assert (addresses["name"] == addresses["street"] + " " + addresses["number"]).all()
    # The same street name in two towns: matching must use the town.
    assert set(addresses.loc[addresses["street"] == "Storgatan", "town"]) == {"Mjölby", "Skänninge"}
    places = gazetteer[gazetteer["kind"] == "place"].set_index("name")
    assert {
        "Stora torget",
        "Resecentrum",
        "Mantorps resecentrum",
        "Stora torget Skänninge",
        "Kungshögaskolan",
        "Fritidsgården Ungdomens hus",
    } <= set(places.index)
    assert "Mjölby station" in places.loc["Resecentrum", "aliases"].split("|")


def test_gazetteer_points_and_areas_inside_the_boundary(gazetteer, out, boundary):
    pts = gpd.points_from_xy(gazetteer["x"].astype(float), gazetteer["y"].astype(float), crs="EPSG:3006")
    assert pts.within(boundary).all()
    areas = gpd.read_file(out / demo.AREAS_PATH)
    assert areas.crs.to_epsg() == 4326 and "namn" in areas.columns
    areas = areas.to_crs("EPSG:3006")
    assert areas.within(boundary).all()
    # Every gazetteer point lies in exactly one named area.
    hits = gpd.sjoin(gpd.GeoDataFrame(geometry=pts), areas, predicate="within")
    assert hits.index.is_unique and len(hits) == len(gazetteer)


def test_police_coordinates_agree_with_the_address(polisen, gazetteer):
    where = {(r.name, r.town): (float(r.x), float(r.y)) for r in gazetteer.itertuples()}
    checked = 0
    for r in polisen:
        key = (r["Gatuadress"], r["Ort"])
        if key in where and r["X-koord"]:
            x, y = (float(v.replace(",", ".")) for v in (r["X-koord"], r["Y-koord"]))
            assert math.dist((x, y), where[key]) < 80, r
            checked += 1
    assert checked > 300


def test_bostadsbolaget_lat_lon_mostly_inside(bostad, boundary):
    pts = [(float(r["lon"]), float(r["lat"])) for r in bostad if r["lat"]]
    frame = gpd.GeoSeries([Point(p) for p in pts], crs="EPSG:4326").to_crs("EPSG:3006")
    inside = frame.within(boundary)
    assert inside.mean() > 0.97
    assert 1 <= (~inside).sum() <= 8  # Linköping rows and the swapped lat/lon rows
    assert any(not r["lat"] and r["adress"] for r in bostad)


# -- realistic structure ----------------------------------------------------------------------


def test_resecentrum_is_a_friday_saturday_night_hotspot(gazetteer):
    res = gazetteer.set_index("name").loc["Resecentrum"]
    near = [i for i in demo.generate_demo().incidents if math.dist((i.x, i.y), (float(res.x), float(res.y))) < 80]
    weekend_nights = [
        i for i in near if (i.when - timedelta(hours=6)).weekday() in (4, 5) and (i.when.hour >= 21 or i.when.hour < 3)
    ]
    assert len(near) > 100 and len(weekend_nights) / len(near) > 0.6


def test_cross_partner_twins_are_close_in_space_and_time(cfg):
    incidents = demo.generate_demo().incidents
    police = [i for i in incidents if i.partner == "polisen"]
    twins = [i for i in incidents if i.twin]
    assert len(twins) >= 20
    group = {p: {raw: cfg.taxonomy[key].group for raw, key in cfg.partners[p].categories.items()} for p in cfg.partners}
    for t in twins:
        assert any(
            math.dist((t.x, t.y), (p.x, p.y)) < 50
            and abs(t.when - p.when) <= timedelta(minutes=30)
            and group[t.partner][t.category] == group["polisen"].get(p.category)
            for p in police
        ), t


def test_categories_use_the_mapped_vocabulary_plus_a_few_unmapped(cfg, polisen, kommunen, bostad):
    for partner, rows, col in [
        ("polisen", polisen, "Brottsbenämning"),
        ("kommunen", kommunen, "Händelsetyp"),
        ("bostadsbolaget", bostad, "kategori"),
    ]:
        counts = Counter(r[col] for r in rows)
        unmapped = sum(n for c, n in counts.items() if c not in cfg.partners[partner].categories)
        assert 0 < unmapped < 0.05 * len(rows), partner
    assert {"Våldtäkt", "Misshandel i nära relation", "Misshandel, grov"} <= {r["Brottsbenämning"] for r in polisen}


# -- dirt ---------------------------------------------------------------------------------------


def test_dirty_rows_are_present_but_rare(out, polisen, kommunen, bostad):
    dates = [r["Från datum"] for r in polisen] + [r["Datum"] for r in kommunen]
    bad_dates = [d for d in dates if _parse_date(d) is None]
    assert "" in bad_dates and "igår" in bad_dates and "32/13/2026" in bad_dates
    assert any(r["Plats"] == "Påhittade vägen 99" for r in kommunen)
    assert any(r["Ort"] == "Linköping" and r["X-koord"] for r in polisen)
    total = len(polisen) + len(kommunen) + len(bostad)
    assert len(bad_dates) < 0.02 * total
    for rel, enc in [(POLISEN[0], "utf-8-sig"), (KOMMUNEN, "cp1252"), (BOSTAD, "utf-8")]:
        lines = (out / rel).read_bytes().decode(enc).splitlines()
        assert "" in lines, rel  # a blank line
        assert any(a == b for a, b in zip(lines, lines[1:]) if a), rel  # a row repeated verbatim


def test_kommunen_has_messy_formats_and_fake_personal_data(kommunen):
    dates = Counter(re.sub(r"\d", "9", r["Datum"]) for r in kommunen)
    assert {"9999-99-99", "99.99.9999", "99999999"} <= set(dates)
    times = {re.sub(r"\d", "9", r["Tid"]) for r in kommunen}
    assert {"99:99", "99.99", "9999"} <= times
    places = [r["Plats"] for r in kommunen]
    assert any(re.fullmatch(r"\w+g\.? \d+\w?", p) for p in places)  # "Vasag. 12"
    assert any(re.search(r", \d{3} \d{2} Mjölby$", p) for p in places)
    text = " ".join(r["Beskrivning"] for r in kommunen)
    assert re.search(r"07\d-\d{3} \d{2} \d{2}", text) or re.search(r"\d{8}-\d{4}", text)
