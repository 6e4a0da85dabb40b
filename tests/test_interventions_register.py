"""The interventions register: every row accepted or rejected with a reason (conservation per
file), one-line structural errors naming file, line and column, Excel workbooks (date cells,
serial numbers, both epochs), and zone references resolved against an archive."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

from pipeline.config import Interventions, load_config
from pipeline.demo import REGISTER_COLUMNS
from pipeline.errors import ConfigError, InputError
from pipeline.io.reference import load_areas, municipality_boundary
from pipeline.sources import interventions as reg
from pipeline.sources.excel import read_xlsx, serial_to_date
from pipeline.sources.geocode import Gazetteer
from tests.conftest import ROOT

HEADER = REGISTER_COLUMNS  # the demo register's headers: one definition


class _Ref:
    def __init__(self, cfg):
        self.boundary = municipality_boundary(cfg)
        self.areas = load_areas(cfg)
        self.gazetteer = Gazetteer.read(cfg.path(cfg.geocoding.gazetteer))


@pytest.fixture(scope="module")
def base_cfg():
    return load_config(ROOT / "config.yaml")


@pytest.fixture(scope="module")
def ref(base_cfg):
    return _Ref(base_cfg)


def _cfg(base_cfg, folder: Path, **extra):
    icfg = Interventions(files=[str(folder / "*.csv"), str(folder / "*.xlsx")], **extra)
    return base_cfg.model_copy(update={"interventions": icfg, "base_dir": folder})


def _row(**values) -> list[str]:
    keys = dict(
        zip(
            [
                "id",
                "name",
                "type",
                "resp",
                "start",
                "end",
                "area",
                "place",
                "radius",
                "x",
                "y",
                "zone",
                "problem",
                "comment",
            ],
            [""] * 14,
        )
    )
    keys.update(values)
    return list(keys.values())


def _csv(path: Path, rows: list[list[str]], sep=";", encoding="utf-8-sig", header=HEADER) -> Path:
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


GOOD = dict(id="A1", name="Polis", type="polisnärvaro", start="2026-09-28", area="Sörby")

#: (row, reason, a piece of the message) -- one for every rejection reason.
BAD_ROWS = [
    (_row(**{**GOOD, "id": ""}), "missing_id", "kolumnen 'Insats-id' är tom"),
    (_row(**GOOD), "duplicate_id", "används redan i"),
    (_row(**{**GOOD, "id": "B1", "type": ""}), "missing_type", "kolumnen 'Typ' är tom"),
    (_row(**{**GOOD, "id": "B2", "type": "Ordningsvakter"}), "unknown_type", "'Ordningsvakter' är ingen känd typ"),
    (_row(**{**GOOD, "id": "B3", "start": ""}), "missing_start", "kolumnen 'Start' är tom"),
    (_row(**{**GOOD, "id": "B4", "start": "förra veckan"}), "bad_date", "'förra veckan' är inget datum"),
    (_row(**{**GOOD, "id": "B5", "end": "2026-13-01"}), "bad_date", "'Slut': '2026-13-01'"),
    (_row(**{**GOOD, "id": "B6", "end": "2026-09-01"}), "end_before_start", "är före starten 2026-09-28"),
    (
        _row(**{**GOOD, "id": "B7", "area": ""}),
        "missing_target",
        "inget mål: fyll i en av 'Område', 'Plats', 'X'/'Y', 'Zon'",
    ),
    (_row(**{**GOOD, "id": "B8", "place": "Resecentrum"}), "several_targets", "'Område' och 'Plats' är ifyllda"),
    (_row(**{**GOOD, "id": "B9", "area": "Sörbyy"}), "unknown_area", "menade du 'Sörby'"),
    (
        _row(**{**GOOD, "id": "B10", "area": "", "place": "Påhittade torget"}),
        "place_not_found",
        "finns inte i ortsregistret; kontrollera stavningen",
    ),
    (
        _row(**{**GOOD, "id": "B11", "area": "", "place": "Egeby"}),
        "place_not_found",
        "det är ett namngivet område: använd kolumnen 'Område'",
    ),
    (
        _row(**{**GOOD, "id": "B12", "area": "", "x": "507240", "y": "sexmiljoner"}),
        "bad_coordinates",
        "är inte två tal",
    ),
    (
        _row(**{**GOOD, "id": "B13", "area": "", "x": "536320", "y": "6474626"}),
        "outside_municipality",
        "utanför kommunen",
    ),
    (
        _row(**{**GOOD, "id": "B14", "area": "", "place": "Resecentrum", "radius": "-5"}),
        "bad_radius",
        "är ingen radie i meter",
    ),
    (_row(**{**GOOD, "id": "B15", "area": "", "place": "Resecentrum", "radius": "90000"}), "bad_radius", "≤ 3000"),
    (_row(**{**GOOD, "id": "B16", "area": "", "zone": "zon 3"}), "bad_zone", "är ingen zonreferens"),
    (
        _row(**{**GOOD, "id": "B17", "area": "", "zone": "2026-W40-vecka-alla-0.5-1"}),
        "unknown_zone",
        "vecka 2026-W40 har inget arkiv",
    ),
    (
        _row(**{**GOOD, "id": "B18", "problem": "klotter, graffiti"}),
        "unknown_problem",
        "'graffiti' är ingen kategori eller grupp",
    ),
    (_row(**{**GOOD, "id": "B19", "problem": "Våld i nära relation"}), "sensitive_problem", "är en skyddad kategori"),
]


def test_every_reason_once_with_conservation_and_messages(base_cfg, ref, tmp_path):
    good = [
        _row(**GOOD),
        _row(
            id="A2",
            name="",
            type="Väktare",
            start="14 sep 2026",
            end="28/10/2026",
            place="Resecentrum",
            radius="150",
            problem="Ordning och otrygghet, Våld, hot och rån",
        ),
        _row(
            id="A3",
            type="belysning",
            start="46293",
            x="507260",
            y="6463910",
            problem="Otrygg plats (belysning, vegetation)",
            comment="ring 070-123 45 67",
        ),
    ]
    path = _csv(tmp_path / "register.csv", good + [r for r, _, _ in BAD_ROWS])
    register, rejected, quality = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert quality["rows_read"] == len(good) + len(BAD_ROWS) == quality["accepted"] + quality["rejected"]
    assert quality["files"][0]["file"] == str(path) or quality["files"][0]["file"].endswith("register.csv")
    assert register["intervention_id"].tolist() == ["A1", "A2", "A3"]
    assert rejected["source_line"].tolist() == list(range(len(good) + 2, len(good) + len(BAD_ROWS) + 2))
    for (_, reason, piece), got in zip(BAD_ROWS, rejected.itertuples()):
        assert got.reason == reason, (reason, got.message)
        assert piece in got.message, (reason, got.message)
        assert got.source == "insatser" and got.raw.count(";") == len(HEADER) - 1
    assert set(reg.REASONS) - {"empty_row", "bad_field_count", "field_too_long"} == {r for _, r, _ in BAD_ROWS}
    assert sum(quality["rejected_by_reason"].values()) == len(BAD_ROWS)


def test_accepted_rows_are_located_typed_and_minimised(base_cfg, ref, tmp_path):
    rows = [
        _row(**GOOD, comment="Kontakt 070-123 45 67"),
        _row(
            id="A2",
            name="",
            type="VÄKTARE",
            start="14 sep 2026",
            end="28/10/2026",
            place="Resecentrum",
            radius="150",
            problem="Ordning och otrygghet, Våld, hot och rån",
        ),
        _row(
            id="A3",
            type="belysning",
            start="46293",
            x="507260",
            y="6463910",
            problem="Otrygg plats (belysning, vegetation)",
        ),
    ]
    _csv(tmp_path / "r.csv", rows)
    register, _, _ = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    a1, a2, a3 = (register.iloc[i] for i in range(3))
    assert (a1.target_kind, a1.target, a1.start, a1.end) == ("area", "Sörby", "2026-09-28", "")
    assert a1.geometry.equals(ref.areas.set_index("name").geometry["Sörby"].intersection(ref.boundary))
    assert a1.comment == ""  # free text dropped by default
    assert (a2["name"], a2.type, a2.start, a2.end) == ("väktare", "väktare", "2026-09-14", "2026-10-28")
    assert a2.target == "Resecentrum" and a2.radius_m == 150
    assert a2.geometry.area == pytest.approx(3.14159 * 150**2, rel=0.01)
    # Groups stand for their unprotected categories; a label with commas inside is one name.
    assert a2.problem.split(",") == sorted(["ordningsstorning", "samling", "vald", "hot", "ran", "incident_personal"])
    assert (a3.start, a3.target_kind, a3.radius_m, a3.problem) == ("2026-09-28", "point", 200.0, "otrygg_plats")
    assert register.crs.to_epsg() == 3006


def test_kept_free_text_is_redacted(base_cfg, ref, tmp_path):
    _csv(tmp_path / "r.csv", [_row(**GOOD, comment="Ring Kalle 070-123 45 67 eller kalle@example.se")])
    register, _, _ = reg.read_register(_cfg(base_cfg, tmp_path, keep_free_text=True), ref)
    assert register.iloc[0].comment == "Ring Kalle [telefon] eller [e-post]"


def test_ids_are_unique_across_files_first_file_wins(base_cfg, ref, tmp_path):
    _csv(tmp_path / "a.csv", [_row(**GOOD)])
    _csv(
        tmp_path / "b.csv",
        [_row(**{**GOOD, "name": "Samma id igen"}), _row(**{**GOOD, "id": "a1 "})],
        sep=",",
        encoding="cp1252",
    )
    register, rejected, quality = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert register["intervention_id"].tolist() == ["A1"]
    assert rejected["reason"].tolist() == ["duplicate_id", "duplicate_id"]
    assert "a.csv rad 2" in rejected["message"].iloc[0]
    assert [(f["encoding"], f["delimiter"]) for f in quality["files"]] == [("utf-8-sig", ";"), ("cp1252", ",")]
    assert [f["rows_read"] for f in quality["files"]] == [1, 2]


def test_structural_problems_stop_with_one_line(base_cfg, ref, tmp_path):
    _csv(tmp_path / "r.csv", [_row(**GOOD)], header=[h if h != "Slut" else "Slutdatum" for h in HEADER])
    with pytest.raises(InputError) as err:
        reg.read_register(_cfg(base_cfg, tmp_path), ref)
    msg = str(err.value)
    assert "r.csv, line 1, column 'Slut'" in msg and "['Slut']" in msg and "interventions.columns" in msg
    assert "\n" not in msg
    # The same register with the column mapped to its header reads fine.
    register, _, _ = reg.read_register(_cfg(base_cfg, tmp_path, columns={"end": "Slutdatum"}), ref)
    assert len(register) == 1
    (tmp_path / "r.csv").write_bytes(b"")
    with pytest.raises(InputError, match="no header"):
        reg.read_register(_cfg(base_cfg, tmp_path), ref)


def test_no_block_or_no_files_gives_an_empty_register(base_cfg, ref, tmp_path):
    register, rejected, quality = reg.read_register(base_cfg.model_copy(update={"interventions": None}), ref)
    assert len(register) == 0 and len(rejected) == 0 and quality["rows_read"] == 0
    register, _, quality = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert len(register) == 0 and quality["files"] == []
    assert list(register.columns) == list(reg.REGISTER_COLUMNS)


def test_unknown_comparison_area_is_a_config_error(base_cfg, ref, tmp_path):
    with pytest.raises(ConfigError, match="comparison_area.*not a named area"):
        reg.read_register(_cfg(base_cfg, tmp_path, comparison_area="Linköping"), ref)


def test_broken_csv_rows_are_rejected_not_lost(base_cfg, ref, tmp_path):
    path = tmp_path / "r.csv"
    text = ";".join(HEADER) + "\r\n" + ";".join(_row(**GOOD)) + "\r\nA9;kort rad\r\n;;;;;;;;;;;;;\r\n"
    path.write_bytes(text.encode("utf-8"))
    register, rejected, quality = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert (quality["rows_read"], len(register)) == (3, 1)
    assert rejected["reason"].tolist() == ["bad_field_count", "empty_row"]
    assert rejected["source_line"].tolist() == [3, 4]


# -- Excel -------------------------------------------------------------------------------------


def _workbook(
    path: Path, rows: list[list], *, start_row: int = 1, epoch_1904: bool = False, sheet="Insatser", header=HEADER
) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if epoch_1904:
        wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    for k, values in enumerate([header] + rows):
        for j, v in enumerate(values):
            if v not in ("", None):
                ws.cell(row=start_row + k, column=j + 1, value=v)
    wb.create_sheet("Anteckningar")["A1"] = "inte registret"
    wb.save(path)
    return path


def test_xlsx_dates_numbers_and_line_numbers(base_cfg, ref, tmp_path):
    rows = [
        _row(**{**GOOD, "start": dt.date(2026, 9, 28)}),  # a date cell
        _row(
            id="A2", type="väktare", start=46293, end=dt.datetime(2026, 10, 25, 0, 0), place="Resecentrum", radius=150
        ),  # a serial number
        [None] * len(HEADER),  # a blank row: not a record
        _row(id="A3", type="belysning", start="2026-10-05", x=507260.0, y=6463910.4),  # text and floats
        _row(id="A4", type="belysning", start="ej bestämt", area="Sörby"),
    ]
    path = _workbook(tmp_path / "register.xlsx", rows, start_row=3)
    register, rejected, quality = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert quality["files"][0]["encoding"] == "xlsx" and quality["rows_read"] == 4
    assert register["start"].tolist() == ["2026-09-28", "2026-09-28", "2026-10-05"]
    assert register["end"].tolist() == ["", "2026-10-25", ""]
    assert register.iloc[1].radius_m == 150 and register.iloc[2].target == "507260, 6463910"
    assert rejected["source_line"].tolist() == [8]  # the row number Excel shows
    assert rejected.iloc[0].reason == "bad_date" and "ej bestämt" in rejected.iloc[0].raw
    raw = read_xlsx(path, "register.xlsx", ["Insats-id"], {"file": "register.xlsx"})
    assert raw.frame["_line"].tolist() == [4, 5, 7, 8]
    assert raw.frame["Start"].tolist() == ["2026-09-28", "46293", "2026-10-05", "ej bestämt"]  # no date_columns
    assert raw.frame["X"].iloc[2] == "507260" and raw.frame["Y"].iloc[2] == "6463910.4"


def test_xlsx_1904_epoch_serials(base_cfg, ref, tmp_path):
    # A Mac workbook counts days from 1904-01-01: 44831 is 2026-09-28 there (46293 in 1900).
    assert serial_to_date(44831, dt.datetime(1904, 1, 1)) == dt.date(2026, 9, 28)
    _workbook(tmp_path / "mac.xlsx", [_row(**{**GOOD, "start": 44831})], epoch_1904=True)
    register, _, _ = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert register["start"].tolist() == ["2026-09-28"]


def test_xlsx_structural_problems(base_cfg, ref, tmp_path):
    where = {"file": "r.xlsx"}
    path = _workbook(tmp_path / "r.xlsx", [_row(**GOOD) + ["en lapp"]])
    with pytest.raises(InputError, match=r"line 1, column 'O': column O has values but no header"):
        read_xlsx(path, "r.xlsx", ["Insats-id"], where)
    path = _workbook(tmp_path / "r.xlsx", [_row(**GOOD)], header=[h.replace("Typ", "Insatstyp") for h in HEADER])
    with pytest.raises(InputError, match=r"file r.xlsx, line 1, column 'Typ': configured column\(s\) \['Typ'\] not in"):
        read_xlsx(path, "r.xlsx", HEADER, where)
    with pytest.raises(InputError, match="no worksheet named 'Blad1'.*Insatser"):
        read_xlsx(path, "r.xlsx", HEADER, where, sheet="Blad1")
    (tmp_path / "r.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InputError, match="cannot be read as an Excel workbook"):
        read_xlsx(tmp_path / "r.xlsx", "r.xlsx", HEADER, where)


def test_excel_lock_files_are_skipped(base_cfg, ref, tmp_path):
    _workbook(tmp_path / "register.xlsx", [_row(**GOOD)])
    (tmp_path / "~$register.xlsx").write_bytes(b"\x00" * 165)  # Excel's owner file while open
    register, _, quality = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert len(register) == 1 and len(quality["files"]) == 1


# -- zones ---------------------------------------------------------------------------------------


def test_zone_references_parse_and_format():
    assert reg.parse_zone_ref("2026-W47-vecka-kvall-1") == {
        "week": "2026-W47",
        "period": "vecka",
        "time_of_day": "kvall",
        "kind": "cluster",
        "cluster_id": "2026-W47-vecka-kvall-1",
    }
    hot = reg.parse_zone_ref(" 2026-w47-Rullande-alla-0,5-3 ")
    assert (hot["kind"], hot["period"], hot["level"], hot["zone_id"]) == ("hotspot", "rullande", 0.5, 3)
    assert reg.zone_ref("2026-W47", "vecka", "alla", 0.5, 3) == "2026-W47-vecka-alla-0.5-3"
    assert reg.parse_zone_ref(reg.zone_ref("2026-W47", "vecka", "natt", 1.0, 12))["level"] == 1.0
    for bad in ("zon 3", "2026-W47-vecka", "2026-W47-dag-alla-1", "W47-vecka-alla-0.5-3"):
        assert reg.parse_zone_ref(bad) is None, bad


def _layers():
    hot = gpd.GeoDataFrame(
        {"period": ["vecka", "vecka"], "time_of_day": ["alla", "alla"], "level": [0.5, 0.1], "zone_id": [3, 3]},
        geometry=[shapely.box(507000, 6465000, 507100, 6465100), shapely.box(0, 0, 1, 1)],
        crs="EPSG:3006",
    )
    clusters = gpd.GeoDataFrame(
        {"cluster_id": ["2026-W40-vecka-kvall-1"]},
        geometry=[shapely.box(507200, 6465000, 507300, 6465100)],
        crs="EPSG:3006",
    )
    return {"hotspots": hot, "clusters": clusters}


def test_zone_targets_resolve_against_the_archive_of_their_week(base_cfg, ref, tmp_path, monkeypatch):
    from pipeline.io import archive

    (tmp_path / "data/processed/archive").mkdir(parents=True)
    (tmp_path / "data/processed/archive/2026-W40.gpkg").write_bytes(b"")
    read = []
    monkeypatch.setattr(archive, "read_archive", lambda path: read.append(Path(path).name) or _layers())
    rows = [
        _row(id="Z1", type="väktare", start="2026-10-05", zone="2026-W40-vecka-alla-0.5-3"),
        _row(id="Z2", type="väktare", start="2026-10-05", zone="2026-W40-vecka-kvall-1"),
        _row(id="Z3", type="väktare", start="2026-10-05", zone="2026-W40-vecka-kvall-2"),
        _row(id="Z4", type="väktare", start="2026-10-05", zone="2026-W41-vecka-alla-0.5-3"),
    ]
    _csv(tmp_path / "r.csv", rows)
    register, rejected, _ = reg.read_register(_cfg(base_cfg, tmp_path), ref)
    assert read == ["2026-W40.gpkg"]  # each archive read once
    assert register["target"].tolist() == ["2026-W40-vecka-alla-0.5-3", "2026-W40-vecka-kvall-1"]
    assert register.geometry.iloc[0].equals(shapely.box(507000, 6465000, 507100, 6465100))
    assert "inget sådant kluster i arkivet för 2026-W40" in rejected["message"].iloc[0]
    assert "vecka 2026-W41 har inget arkiv" in rejected["message"].iloc[1]


def test_demo_register_reads_with_the_planted_rejections(base_cfg, ref):
    from pipeline import demo

    register, rejected, quality = reg.read_register(base_cfg, ref)
    assert quality["files"][0]["file"] == demo.REGISTER_PATH
    assert quality["rows_read"] == len(demo.PLANTED)
    assert rejected["reason"].tolist() == ["unknown_type", "end_before_start", "unknown_area"]
    assert register["intervention_id"].tolist() == [p.row["Insats-id"] for p in demo.PLANTED[:6]]
    assert (register["comment"] == "").all()
    assert pd.Series(register.geometry.area > 0).all()
