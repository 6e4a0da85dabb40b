"""normalise_partner on the three partner shapes of config.yaml, plus a partner added by config."""

from __future__ import annotations

import copy
import hashlib
import hmac
from pathlib import Path

import pandas as pd
import pytest
import shapely
import yaml

from pipeline.config import parse_config
from pipeline.errors import InputError
from pipeline.schema import EVENT_COLUMNS, REASONS, REJECTED_COLUMNS
from pipeline.sources.geocode import Gazetteer
from pipeline.sources.normalise import HELPER_COLUMNS, normalise_chunks, normalise_partner
from pipeline.sources.quality import format_summary, quality_summary, unmapped_categories
from pipeline.sources.read import read_export

ROOT = Path(__file__).resolve().parents[1]
NOW = pd.Timestamp("2026-11-25 12:00", tz="Europe/Stockholm")
TZ = "Europe/Stockholm"

# Mjölby kommun, simplified: a box around the town (EPSG:3006). Linköping (E 536 000) is outside.
BOUNDARY = shapely.box(490_000, 6_444_000, 521_000, 6_479_000)

GAZETTEER = pd.DataFrame(
    {
        "kind": ["address", "address", "place", "address"],
        "name": ["Storgatan 12", "Kungsgatan 3", "Resecentrum", "Ågatan 40"],
        "street": ["Storgatan", "Kungsgatan", "", "Ågatan"],
        "number": ["12", "3", "", "40"],
        "town": ["Mjölby", "Mjölby", "Mjölby", "Linköping"],
        "postcode": ["59530", "59530", "59532", "58228"],
        "x": ["507600", "507420", "507300", "536000"],
        "y": ["6465100", "6465250", "6464900", "6474000"],
        "aliases": ["", "", "Mjölby station|Stationen", ""],
    }
)

POLISEN = """\
Diarienr;Brottsbenämning;Från datum;Från kl;Till datum;Till kl;Gatuadress;Ort;X-koord;Y-koord
5000-K100-26;Klotter;2026-11-16;14:30;;15:00;Storgatan 12;Mjölby;507649,4;6465001,9
5000-K101-26; misshandel ;2026-03-29;02:30;;;Storgatan 12;Mjölby;;
5000-K102-26;Stöld;2026-10-25;02:30;;;Resecentrum;Mjölby;;
5000-K103-26;Bråk;2026-02-30;10:00;;;Storgatan 12;Mjölby;507649,4;6465001,9
5000-K104-26;Bråk;;;;;Storgatan 12;Mjölby;507649,4;6465001,9
5000-K105-26;Stöld;2027-01-10;12:00;;;Storgatan 12;Mjölby;;
5000-K106-26;Stöld;2024-01-01;12:00;;;Storgatan 12;Mjölby;;
5000-K107-26;Stöld;2026-11-17;09:00;;;;;abc;6465001
5000-K108-26;Stöld;2026-11-17;09:00;;;;;;
5000-K109-26;Stöld;2026-11-17;09:00;;;Okändgatan 99;Mjölby;;
5000-K110-26;Stöld;2026-11-17;09:00;;;;;536000;6474000
5000-K111-26;Stöld;2026-11-17;09:00;;;Storgatan 12;Mjölby;536000;6474000
5000-K112-26;Djurplågeri;2026-11-18;23:10;;;Kungsgatan 3;Mjölby;;
5000-K113-26;Stöld;2026-11-18;12:00;;;Ågatan 40;Linköping;;
5000-K114-26;Stöld;2026-11-18
5000-K115-26;Stöld;2026-11-19;25:00;;;Storgatan 12;Mjölby;;
;;;;;;;;;
"""
#: line -> expected reject reason (header = line 1)
POLISEN_REJECTS = {
    5: "bad_date",
    6: "missing_date",
    7: "future_date",
    8: "too_old",
    9: "bad_coordinates",
    10: "missing_location",
    11: "not_geocoded",
    12: "outside_municipality",
    15: "outside_municipality",
    16: "bad_field_count",
    17: "bad_date",
    18: "empty_row",
}

KOMMUNEN = """\
Ärendenr;Händelsetyp;Datum;Tid;Plats;Verksamhet;Beskrivning
K-2026-0001;Klotter;16.11.2026;kl 08.15;Mjölby station;Gata/park;Klotter på väggen, ring 070-123 45 67
K-2026-0002;Trasig belysning;17.11.2026;;  Storgatan   12 ;Gata/park;Lampan är trasig
K-2026-0003;Vattenläcka;18.11.2026;19:45;Kungsgatan 3;Fastighet;Läcka i källaren
K-2026-0004;Skadegörelse;18.11.2026;10:00;;Skola;Fönster krossat
K-2026-0005;Övrigt;19.11.2026;11:00;Storgatn 12;Fastighet;
K-2026-0006;Nedskräpning;19.11.2026;11:30;Storgatan 99;Gata/park;
"""

BOSTADSBOLAGET = """\
arende_id,kategori,tidpunkt,adress,lat,lon,kommentar
B-1,klotter,2026-11-16 10:00,Storgatan 12,58.3259,15.1306,
B-2,störning,2026-11-16 22:00,,15.1306,58.3259,granne stör
B-3,cykelstöld,2026-11-17 07:00,Resecentrum,,,
B-4,inbrott,2026-11-17 07:00,,,,
,klotter,2026-11-18 08:00,Kungsgatan 3,,,
"""


def base_dict() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


def make_cfg(data: dict | None = None):
    return parse_config(data or base_dict(), base_dir=ROOT)


@pytest.fixture(scope="module")
def cfg():
    return make_cfg()


@pytest.fixture(scope="module")
def gaz():
    return Gazetteer.from_frame(GAZETTEER)


def export(tmp_path: Path, name: str, text: str, encoding: str, partner: str, cfg):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return read_export(path, partner, cfg.partners[partner], f"data/raw/{partner}/{name}")


#: Installation secret of these tests (event ids are keyed with it, privacy.keyed_id).
KEY = b"test-installation-secret-0123456789abcdef"


def run(raw, partner, cfg, gaz, now=NOW):
    return normalise_partner(raw, partner, cfg, gaz, BOUNDARY, now, id_key=KEY)


def by_line(frame: pd.DataFrame, col: str) -> dict:
    return dict(zip(frame["source_line"].tolist(), frame[col].tolist()))


# -- polisen: SWEREF x/y with decimal commas, address fallback --------------------------------


@pytest.fixture
def polisen(tmp_path, cfg, gaz):
    raw = export(tmp_path, "polisen_v47.csv", POLISEN, "utf-8-sig", "polisen", cfg)
    events, rejected = run(raw, "polisen", cfg, gaz)
    return raw, events, rejected


def test_polisen_reject_reasons_name_the_column(polisen):
    raw, events, rejected = polisen
    assert by_line(rejected, "reason") == POLISEN_REJECTS
    assert set(rejected["reason"]) <= set(REASONS)
    msg = by_line(rejected, "message")
    assert msg[5] == "column 'Från datum': '2026-02-30' is not a date (use e.g. 2026-11-16)"
    assert "column 'Från kl': '25:00'" in msg[17]
    assert "'Gatuadress': 'Okändgatan 99'" in msg[11]
    assert "'536000'/'6474000'" in msg[12] and "outside Mjölby kommun" in msg[12]
    assert "'Ågatan 40'" in msg[15] and "outside" in msg[15]
    assert "'abc'/'6465001'" in msg[9]
    raws = by_line(rejected, "raw")
    assert raws[16] == "5000-K114-26;Stöld;2026-11-18"
    assert (rejected["source_file"] == "data/raw/polisen/polisen_v47.csv").all()


def test_polisen_locations_and_categories(polisen):
    _, events, _ = polisen
    ev = events.set_index("source_line")
    assert ev.loc[2, "geocode_method"] == "coordinates" and ev.loc[2, "geocode_score"] == 100
    assert (ev.loc[2, "geometry"].x, ev.loc[2, "geometry"].y) == (507649.4, 6465001.9)
    assert ev.loc[3, "geocode_method"] == "exact"  # no coords -> address
    assert ev.loc[4, "geocode_method"] == "place"
    assert ev.loc[13, "geocode_method"] == "exact"  # coords outside -> address inside
    assert ev.loc[13, "geometry"].x == pytest.approx(507600)
    assert ev.loc[3, "category"] == "vald" and ev.loc[3, "source_category"] == "misshandel"
    assert ev.loc[14, "category"] == "ovrigt" and ev.loc[14, "category_group"] == "ovrigt"
    assert ev.loc[2, "category_group"] == "skadegorelse" and not ev.loc[2, "sensitive"]
    assert ev.loc[2, "location_text"] == "Storgatan 12"
    assert (events["description"] == "").all()  # polisen has no free text
    assert str(ev.loc[2, "occurred_end"]) == "2026-11-16 15:00:00+01:00"
    assert pd.isna(ev.loc[3, "occurred_end"])


def test_polisen_dst_and_time_fields(polisen):
    _, events, _ = polisen
    ev = events.set_index("source_line")
    assert str(ev.loc[3, "occurred_at"]) == "2026-03-29 03:30:00+02:00"  # spring gap: forward 1 h
    assert str(ev.loc[4, "occurred_at"]) == "2026-10-25 02:30:00+02:00"  # ambiguous: summer time
    assert (ev.loc[2, "iso_week"], ev.loc[2, "weekday"], ev.loc[2, "hour"]) == ("2026-W47", 1, 14)
    assert ev.loc[2, "time_of_day"] == "eftermiddag"
    assert (ev.loc[3, "hour"], ev.loc[3, "time_of_day"]) == (3, "natt")
    assert ev.loc[14, "time_of_day"] == "kvall"


def test_schema_columns_and_dtypes(polisen):
    _, events, rejected = polisen
    assert list(events.columns) == [*EVENT_COLUMNS, *HELPER_COLUMNS]
    assert events.crs.to_epsg() == 3006
    for col, (dtype, _) in EVENT_COLUMNS.items():
        if col != "geometry":
            assert str(events[col].dtype) == dtype, col
    assert (events["area"] == "").all() and (events["duplicate_of"] == "").all()
    assert list(rejected.columns) == list(REJECTED_COLUMNS)
    assert str(rejected["source_line"].dtype) == "int64"


def test_conservation_per_file(polisen):
    raw, events, rejected = polisen
    assert raw.rows_read == 17
    assert len(events) + len(rejected) == raw.rows_read
    assert sorted([*events["source_line"], *rejected["source_line"]]) == list(range(2, 19))


def test_event_ids_stable_across_runs_and_renamed_files(tmp_path, cfg, gaz, polisen):
    _, first, _ = polisen
    again = export(tmp_path, "2026-11-23 export (kopia).csv", POLISEN, "utf-8-sig", "polisen", cfg)
    second, _ = run(again, "polisen", cfg, gaz)
    assert first["event_id"].tolist() == second["event_id"].tolist()
    assert (second["source_file"] == "data/raw/polisen/2026-11-23 export (kopia).csv").all()
    expected = hmac.new(KEY, b"polisen|5000-K100-26", hashlib.sha256).hexdigest()[:16]
    assert first["event_id"].iloc[0] == expected
    assert first["event_id"].iloc[0] != hashlib.sha1(b"polisen|5000-K100-26").hexdigest()[:16]  # keyed, not enumerable
    assert first["event_id"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_missing_configured_column_is_a_user_error(cfg, gaz):
    frame = pd.DataFrame({"Diarienr": ["1"], "Brottsbenämning": ["Stöld"], "Från datum": ["2026-11-16"]})
    frame.attrs["display_name"] = "data/raw/polisen/v47.csv"
    with pytest.raises(InputError, match=r"partner polisen, file data/raw/polisen/v47.csv, column 'Från kl'"):
        run(frame, "polisen", cfg, gaz)


def test_null_markers_are_blank(cfg, gaz):
    frame = pd.DataFrame(
        {
            "arende_id": ["NULL", "-", "B-9"],
            "kategori": ["klotter", "störning", "klotter"],
            "tidpunkt": ["2026-11-16 10:00", "2026-11-16 11:00", "2026-11-16 12:00"],
            "adress": ["saknas", "Storgatan 12", "NaN"],
            "lat": ["NaN", "NA", "58.3259"],
            "lon": ["NaN", "-", "15.1306"],
            "kommentar": [""] * 3,
        }
    )
    events, rejected = run(frame, "bostadsbolaget", cfg, gaz)
    assert rejected["reason"].tolist() == ["missing_location"]  # not bad_coordinates
    # "NULL" / "-" ids are no ids: the two rows must not collapse into one case
    assert events["source_id"].tolist() == ["", "B-9"]
    assert events["event_id"].iloc[0] != hashlib.sha1(b"bostadsbolaget|").hexdigest()[:16]
    assert events["geocode_method"].tolist() == ["exact", "coordinates"]


def test_field_too_long_names_the_column(tmp_path, cfg, gaz):
    row = "5000-K1-26;Klotter;2026-11-16;14:30;;;Storgatan 12;" + "x" * 20_000 + ";;"
    text = POLISEN.splitlines()[0] + "\n" + row + "\n"
    raw = export(tmp_path, "lang.csv", text, "utf-8", "polisen", cfg)
    _, rejected = run(raw, "polisen", cfg, gaz)
    assert rejected["reason"].tolist() == ["field_too_long"]
    assert rejected["message"].iloc[0].startswith("column 'Ort' has 20000 characters")


# -- kommunen: address/place text, cp1252 ----------------------------------------------------


def test_kommunen_cp1252_text_locations(tmp_path, cfg, gaz):
    raw = export(tmp_path, "kommunen_v47.csv", KOMMUNEN, "cp1252", "kommunen", cfg)
    events, rejected = run(raw, "kommunen", cfg, gaz)
    assert by_line(rejected, "reason") == {5: "missing_location"}
    ev = events.set_index("source_line")
    assert ev.loc[2, "geocode_method"] == "place" and ev.loc[2, "location_text"] == "Mjölby station"
    assert str(ev.loc[2, "occurred_at"]) == "2026-11-16 08:15:00+01:00"
    assert ev.loc[3, "location_text"] == "Storgatan 12" and ev.loc[3, "category"] == "otrygg_plats"
    assert ev.loc[3, "hour"] == 0  # blank time -> 00:00
    assert ev.loc[4, "category"] == "ovrigt" and ev.loc[4, "source_category"] == "Vattenläcka"
    assert (events["description"] == "").all()  # keep_free_text: false
    # The export's own "Övrigt" is not an unknown category; "Vattenläcka" is.
    assert ev.loc[6, "category"] == "ovrigt"
    assert unmapped_categories(events, cfg) == {"kommunen": {"Vattenläcka": 1}}
    assert (ev.loc[6, "geocode_method"], ev.loc[6, "geocode_score"]) == ("fuzzy", pytest.approx(94.1, abs=3))
    assert ev.loc[7, "geocode_method"] == "street_centroid"
    assert "column 'Plats' is empty" in rejected["message"].iloc[0]


def test_free_text_kept_only_when_configured_and_redacted(tmp_path, gaz):
    data = base_dict()
    data["partners"]["kommunen"]["keep_free_text"] = True
    cfg = make_cfg(data)
    raw = export(tmp_path, "kommunen_v47.csv", KOMMUNEN, "cp1252", "kommunen", cfg)
    events, _ = run(raw, "kommunen", cfg, gaz)
    text = events.set_index("source_line")["description"]
    assert "070-123 45 67" not in text[2] and text[2].startswith("Klotter på väggen")
    assert text[3] == "Lampan är trasig"


# -- bostadsbolaget: WGS84 lat/lon, a swapped pair and a missing pair ------------------------


def test_bostadsbolaget_wgs84(tmp_path, cfg, gaz):
    raw = export(tmp_path, "bb.csv", BOSTADSBOLAGET, "utf-8", "bostadsbolaget", cfg)
    events, rejected = run(raw, "bostadsbolaget", cfg, gaz)
    assert by_line(rejected, "reason") == {5: "missing_location"}
    ev = events.set_index("source_line")
    assert ev.loc[2, "geocode_method"] == ev.loc[3, "geocode_method"] == "coordinates"
    assert ev.loc[3, "geometry"].distance(ev.loc[2, "geometry"]) < 0.01  # swapped lat/lon repaired
    assert ev.loc[2, "geometry"].x == pytest.approx(507649, abs=2)
    assert ev.loc[4, "geocode_method"] == "place"  # missing pair -> text
    # No case id: the id hashes the stripped raw row, so it survives a re-export unchanged.
    row = "klotter,2026-11-18 08:00,Kungsgatan 3,,,"
    assert ev.loc[6, "event_id"] == hmac.new(KEY, f"bostadsbolaget|,{row}".encode(), hashlib.sha256).hexdigest()[:16]
    assert ev.loc[6, "source_id"] == ""


# -- time fields across the ISO year boundary --------------------------------------------------


def test_iso_week_across_year_boundary(cfg, gaz):
    frame = pd.DataFrame(
        {
            "arende_id": ["Y-1", "Y-2", "Y-3"],
            "kategori": ["klotter"] * 3,
            "tidpunkt": ["2026-12-31 23:59", "2027-01-03 12:00", "2027-01-04 00:00"],
            "adress": ["Storgatan 12"] * 3,
            "lat": [""] * 3,
            "lon": [""] * 3,
            "kommentar": [""] * 3,
        }
    )
    events, rejected = run(frame, "bostadsbolaget", cfg, gaz, now=pd.Timestamp("2027-01-05", tz=TZ))
    assert rejected.empty
    assert events["iso_week"].tolist() == ["2026-W53", "2026-W53", "2027-W01"]
    assert events["weekday"].tolist() == [4, 7, 1]
    assert events["source_file"].tolist() == ["bostadsbolaget"] * 3  # plain frame: partner name


# -- a new partner, added purely by configuration --------------------------------------------

RADDNING = """\
Insatsnr;Händelsetyp;Larmtid;Adress;Östkoord;Nordkoord;Larmcentral
R-26-0101;Brand i byggnad;2026-11-19 21:47;Storgatan 12;1460473,0;6467149,0;SOS Norrköping
R-26-0102;Brand ej i byggnad;2026-11-20 03:05;;;;SOS Norrköping
R-26-0103;Trafikolycka;2026-11-21 16:20;Kungsgatan 3;;;SOS Norrköping
"""


def test_new_partner_by_config_only(tmp_path, gaz):
    data = copy.deepcopy(base_dict())
    data["partners"]["raddningstjansten"] = {
        "label": "Räddningstjänsten Östra Götaland",
        "files": "data/raw/raddningstjansten/*.csv",
        "encoding": "cp1252",
        "delimiter": ";",
        "decimal": ",",
        "crs": "EPSG:3021",
        "columns": {
            "source_id": "Insatsnr",
            "category": "Händelsetyp",
            "datetime": "Larmtid",
            "address": "Adress",
            "x": "Östkoord",
            "y": "Nordkoord",
        },
        "categories": {"Brand i byggnad": "brand", "Brand ej i byggnad": "brand", "Trafikolycka": "fordon"},
    }
    cfg = make_cfg(data)
    raw = export(tmp_path, "insatser.csv", RADDNING, "cp1252", "raddningstjansten", cfg)
    events, rejected = run(raw, "raddningstjansten", cfg, gaz)
    assert by_line(rejected, "reason") == {3: "missing_location"}
    ev = events.set_index("source_line")
    assert ev.loc[2, "geocode_method"] == "coordinates"
    assert ev.loc[2, "geometry"].x == pytest.approx(507649, abs=2)  # RT90 -> SWEREF 99 TM
    assert ev.loc[2, "geometry"].y == pytest.approx(6465002, abs=2)
    assert ev.loc[2, "category"] == "brand" and ev.loc[4, "category_group"] == "trafik"
    assert (events["source"] == "raddningstjansten").all()
    q = quality_summary(
        {("raddningstjansten", raw.display_name): raw.rows_read},
        events,
        rejected,
        unmapped_categories(events, cfg),
        cfg=cfg,
        exports={("raddningstjansten", raw.display_name): raw},
    )
    part = q["partners"]["raddningstjansten"]
    assert part["label"] == "Räddningstjänsten Östra Götaland"
    assert part["files"][0]["encoding"] == "cp1252" and part["files"][0]["delimiter"] == ";"


# -- quality summary -----------------------------------------------------------------------------


def test_quality_summary_counts_and_conservation(polisen, cfg):
    raw, events, rejected = polisen
    key = ("polisen", raw.display_name)
    q = quality_summary({key: raw.rows_read}, events, rejected, unmapped_categories(events, cfg), cfg=cfg)
    p = q["partners"]["polisen"]
    assert (p["rows_read"], p["accepted"], p["rejected"]) == (17, 5, 12)
    assert p["rejected_by_reason"]["outside_municipality"] == 2
    assert p["geocoded_by_method"] == {"exact": 3, "coordinates": 1, "place": 1}
    assert p["unmapped_categories"] == {"Djurplågeri": 1}
    # located 5; failed to locate: bad_coordinates 1 + not_geocoded 1 + outside 2
    assert p["geocoded_share"] == pytest.approx(5 / 9, abs=1e-4)
    assert q["totals"]["rows_read"] == 17
    text = format_summary(q)
    assert "Polismyndigheten" in text and "Djurplågeri" in text
    with pytest.raises(AssertionError, match="conservation"):
        quality_summary({key: raw.rows_read + 1}, events, rejected, {}, cfg=cfg)


# -- in pieces: a national export is normalised a chunk of rows at a time ----------------------

#: Month-first slashed dates whose only proof (13/...) is in the last rows: the file's order
#: must be decided on the whole file, not chunk by chunk.
SLASHED = "\n".join(
    ["Diarienr;Brottsbenämning;Från datum;Från kl;Till datum;Till kl;Gatuadress;Ort;X-koord;Y-koord"]
    + [f"5000-K2{i:02d}-26;Stöld;11/{1 + i % 9}/2026;10:00;;;Storgatan 12;Mjölby;;" for i in range(8)]
    + ["5000-K299-26;Stöld;11/13/2026;10:00;;;Storgatan 12;Mjölby;;"]
)


@pytest.mark.parametrize("text", [POLISEN, SLASHED], ids=["rejects", "month-first-proved-late"])
def test_normalise_chunks_concatenated_equal_the_whole_file(tmp_path, cfg, gaz, text):
    raw = export(tmp_path, "polisen_v47.csv", text, "utf-8", "polisen", cfg)
    events, rejected = run(raw, "polisen", cfg, gaz)
    pieces = list(normalise_chunks(raw, "polisen", cfg, gaz, BOUNDARY, NOW, id_key=KEY, rows=4))
    assert len(pieces) == -(-raw.rows_read // 4) > 2
    assert sum(len(e) + len(r) for e, r in pieces) == raw.rows_read
    pd.testing.assert_frame_equal(
        pd.concat([e for e, _ in pieces], ignore_index=True).drop(columns="geometry"), events.drop(columns="geometry")
    )
    assert pd.concat([e.geometry for e, _ in pieces]).to_wkb().tolist() == events.geometry.to_wkb().tolist()
    pd.testing.assert_frame_equal(pd.concat([r for _, r in pieces], ignore_index=True), rejected)
    if text is SLASHED:
        assert events["occurred_at"].dt.month.eq(11).all() and len(events) == 9
