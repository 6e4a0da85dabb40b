"""The corpus of bad input (issue "Reliability and data protection", part 1).

Every case has a defined outcome:

* **structural** problems (an unreadable export, a missing configured column, a broken
  gazetteer or config.yaml) -> ``python -m pipeline ingest`` exits 2 with ONE line on stderr
  that names the file (and line/column where meaningful) and no traceback;
* **row** problems -> the row is in ``rejected.csv`` with the right reason code (and the
  message names the column), or in ``events/`` when it is acceptable (with the
  expected occurred_at / geometry / geocode_method); for every file
  rows read = accepted + rejected.

Row cases are grouped: one project holds a few labelled exports per partner (all three
partners, written byte for byte here) and is ingested ONCE; each case is then looked up by
(file, source_line). Structural cases each get a tiny project and one CLI run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pyproj import Transformer
from shapely import Point

from pipeline.schema import REASONS, REJECTED_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
NOW = pd.Timestamp("2026-11-25 12:00", tz="Europe/Stockholm")

# Positions used below (SWEREF 99 TM), all from data/reference/gazetteer_demo.csv.
TORGET = (507240.0, 6465010.0)  # place "Stora torget" (alias "Torget"), Mjölby centre
RESECENTRUM = (507810.0, 6465090.0)  # place "Resecentrum"
STORGATAN_5 = (507209.4, 6465052.1)  # address Storgatan 5, Mjölby (Skänninge has one too)
VASAGATAN = {3: (507035.9, 6465220.1), 5: (507210.6, 6465223.2), 7: (507376.2, 6465219.9), 9: (507538.0, 6465224.5)}
VASAGATAN_ALL = [
    (506868.4, 6465221.7),
    (506872.1, 6465198.2),
    (507035.9, 6465220.1),
    (507041.9, 6465199.2),
    (507210.6, 6465223.2),
    (507202.5, 6465195.1),
    (507376.2, 6465219.9),
    (507369.0, 6465197.5),
    (507538.0, 6465224.5),
    (507532.2, 6465199.9),
]
LINKOPING = (536000.0, 6475000.0)  # outside Mjölby kommun

_TO_RT90 = Transformer.from_crs("EPSG:3006", "EPSG:3021", always_xy=True)
_TO_WGS = Transformer.from_crs("EPSG:3006", "EPSG:4326", always_xy=True)
_FROM_WGS = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
RT90_TORGET = tuple(round(v, 1) for v in _TO_RT90.transform(*TORGET))
LAT, LON = 58.32595, 15.12365  # WGS84 of Mjölby torget (rounded)
LL_TORGET = _FROM_WGS.transform(LON, LAT)
LINK_LON, LINK_LAT = (round(v, 6) for v in _TO_WGS.transform(*LINKOPING))


# ----------------------------------------------------------------------------------------------
# Case model
# ----------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One record of an export and its defined outcome.

    ``expect`` is ``"ok"`` (accepted) or a reason code (rejected). For rejected rows
    ``column`` must appear in the message; for accepted rows the other fields are checked.
    """

    label: str
    text: str
    expect: str = "ok"
    column: str | None = None
    at: str | None = None  # occurred_at, ISO with offset
    end: str | None = None  # occurred_end, ISO with offset
    method: str | None = None  # geocode_method
    xy: tuple[float, float] | None = None
    tol: float = 1.0  # metres
    category: str | None = None
    encoding: str | None = None  # override the file's encoding for this record
    marks: tuple = ()  # xfail marks for the message check
    outcome_marks: tuple = ()  # xfail marks for the outcome check
    # filled in by Export.build()
    file: str = ""
    line: int = 0


@dataclass
class Export:
    partner: str
    name: str
    header: str
    rows: list[Row]
    encoding: str = "utf-8"  # utf-8 | utf-8-sig | cp1252
    newline: str = "\n"
    final_newline: bool = True
    header_nfd: bool = False
    built: bytes = field(default=b"", repr=False)

    @property
    def rel(self) -> str:
        return f"data/raw/{self.partner}/{self.name}"

    def build(self) -> bytes:
        """Bytes of the export; sets each row's ``file`` and ``line`` (header = line 1)."""
        enc = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        header = unicodedata.normalize("NFD", self.header) if self.header_nfd else self.header
        out = bytearray(b"\xef\xbb\xbf" if self.encoding == "utf-8-sig" else b"")
        out += header.encode(enc)
        line = 1 + header.count("\n")
        for row in self.rows:
            out += self.newline.encode()
            line += 1
            row.file, row.line = self.rel, line
            # surrogateescape: a lone '\udcXX' in a row's text becomes the raw byte 0xXX
            out += row.text.encode(row.encoding or enc, errors="surrogateescape")
            line += row.text.count("\n")
        if self.final_newline:
            out += self.newline.encode()
        self.built = bytes(out)
        return self.built


POL_HEADER = "Diarienr;Brottskod;Brottsbenämning;Från datum;Från kl;Till datum;Till kl;Gatuadress;Ort;X-koord;Y-koord"
KOM_HEADER = "Ärendenr;Datum;Tid;Verksamhet;Händelsetyp;Plats;Beskrivning"
BB_HEADER = "arende_id,tidpunkt,kategori,adress,lat,lon,kommentar"


def pol(
    pid,
    cat="Skadegörelse",
    date="2026-11-16",
    time="21:40",
    addr="",
    ort="Mjölby",
    x="507240",
    y="6465010",
    kod="1201",
    tdate="",
    ttime="",
    sep=";",
):
    return sep.join([pid, kod, cat, date, time, tdate, ttime, addr, ort, x, y])


def kom(
    kid,
    date="2026-11-16",
    time="21:40",
    place="Stora torget",
    cat="Skadegörelse",
    unit="Fritidsförvaltningen",
    text="Sönderslagen bänk",
    sep=";",
):
    return sep.join([kid, date, time, unit, cat, place, text])


def bb(
    bid,
    when="2026-11-16T21:40:00",
    cat="klotter",
    addr="",
    lat=f"{LAT}",
    lon=f"{LON}",
    text="Klotter i trapphuset",
    sep=",",
):
    return sep.join([bid, when, cat, addr, lat, lon, text])


def _ok(label, text, **kw):
    return Row(label, text, "ok", **kw)


def _rej(label, text, reason, column=None, **kw):
    return Row(label, text, reason, column, **kw)


T2140 = "2026-11-16T21:40:00+01:00"

# -- polisen: ';' UTF-8 with BOM, SWEREF 99 TM -----------------------------------------------
POLISEN_MAIN = Export(
    "polisen",
    "polisen_v47.csv",
    POL_HEADER,
    encoding="utf-8-sig",
    final_newline=False,
    rows=[
        _ok(
            "pol-sweref-ok", pol("5000-K900001-26"), at=T2140, method="coordinates", xy=TORGET, category="skadegorelse"
        ),
        _ok(
            "pol-decimal-comma",
            pol("5000-K900002-26", x="507240,5", y="6465010,25"),
            method="coordinates",
            xy=(507240.5, 6465010.25),
            tol=0.01,
        ),
        _ok(
            "pol-decimal-comma-space-thousands",
            pol("5000-K900003-26", x="507 240,5", y="6 465 010,5"),
            method="coordinates",
            xy=(507240.5, 6465010.5),
            tol=0.01,
        ),
        _ok("pol-xy-swapped", pol("5000-K900004-26", x="6465010", y="507240"), method="coordinates", xy=TORGET),
        _ok(
            "pol-rt90-in-sweref-column",
            pol("5000-K900005-26", x=f"{RT90_TORGET[0]}", y=f"{RT90_TORGET[1]}"),
            method="coordinates",
            xy=TORGET,
            tol=2.0,
        ),
        _ok(
            "pol-rt90-swapped",
            pol("5000-K900037-26", x=f"{RT90_TORGET[1]}", y=f"{RT90_TORGET[0]}"),
            method="coordinates",
            xy=TORGET,
            tol=2.0,
        ),
        _rej(
            "pol-negative-coordinates", pol("5000-K900038-26", x="-507240", y="-6465010"), "bad_coordinates", "Y-koord"
        ),
        _rej(
            "pol-outside-municipality-linkoping",
            pol("5000-K900006-26", x="536000", y="6475000", ort="Linköping"),
            "outside_municipality",
            "X-koord",
        ),
        _ok(
            "pol-linkoping-coords-but-known-address",
            pol("5000-K900007-26", x="536000", y="6475000", addr="Storgatan 5"),
            method="exact",
            xy=STORGATAN_5,
        ),
        _rej("pol-outside-sweden", pol("5000-K900008-26", x="100000", y="5000000"), "bad_coordinates", "X-koord"),
        _ok(
            "pol-nan-coords-known-address",
            pol("5000-K900009-26", x="NaN", y="NaN", addr="Vasagatan 5"),
            method="exact",
            xy=VASAGATAN[5],
        ),
        _rej("pol-nan-coords-no-address", pol("5000-K900010-26", x="NaN", y="NaN"), "missing_location", "Gatuadress"),
        _rej(
            "pol-blank-strings",
            pol("5000-K900011-26", x="   ", y=" ", addr="  ", ort=" "),
            "missing_location",
            "X-koord",
        ),
        _rej(
            "pol-unknown-address",
            pol("5000-K900012-26", x="", y="", addr="Påhittade vägen 99"),
            "not_geocoded",
            "Gatuadress",
        ),
        _ok("pol-named-place", pol("5000-K900013-26", x="", y="", addr="Resecentrum"), method="place", xy=RESECENTRUM),
        _ok("pol-date-dotted", pol("5000-K900014-26", date="16.11.2026"), at=T2140),
        _ok("pol-date-slashed", pol("5000-K900015-26", date="16/11/2026"), at=T2140),
        _ok("pol-date-compact", pol("5000-K900016-26", date="20261116"), at=T2140),
        _ok("pol-date-iso-offset-no-time", pol("5000-K900017-26", date="2026-11-16T21:40:00+01:00", time=""), at=T2140),
        _ok("pol-date-iso-utc-z", pol("5000-K900018-26", date="2026-11-16T20:40:00Z", time=""), at=T2140),
        _rej("pol-impossible-date", pol("5000-K900019-26", date="2026-02-30"), "bad_date", "Från datum"),
        _rej("pol-impossible-time", pol("5000-K900020-26", time="25:61"), "bad_date", "Från kl"),
        _rej("pol-future-date", pol("5000-K900021-26", date="2027-06-01"), "future_date", "Från datum"),
        _rej("pol-decades-old", pol("5000-K900022-26", date="1996-11-16"), "too_old", "Från datum"),
        _rej("pol-date-all-zeros", pol("5000-K900039-26", date="0000-00-00"), "bad_date", "Från datum"),
        _rej("pol-time-am-pm", pol("5000-K900040-26", time="9:40 PM"), "bad_date", "Från kl"),
        _rej("pol-coordinate-overflow", pol("5000-K900041-26", x="1e308", y="1e308"), "bad_coordinates", "X-koord"),
        _rej("pol-coordinate-infinity", pol("5000-K900042-26", x="inf", y="-inf"), "bad_coordinates", "X-koord"),
        _ok("pol-blank-id-first", pol("", time="08:00"), at="2026-11-16T08:00:00+01:00"),
        _ok("pol-blank-id-second-other-time", pol("", time="08:05"), at="2026-11-16T08:05:00+01:00"),
        _rej("pol-missing-date", pol("5000-K900023-26", date=""), "missing_date", "Från datum"),
        _ok("pol-dst-gap", pol("5000-K900024-26", date="2026-03-29", time="02:30"), at="2026-03-29T03:30:00+02:00"),
        _ok("pol-dst-overlap", pol("5000-K900025-26", date="2026-10-25", time="02:30"), at="2026-10-25T02:30:00+02:00"),
        _ok(
            "pol-end-time-next-day",
            pol("5000-K900026-26", time="23:00", ttime="01:00"),
            at="2026-11-16T23:00:00+01:00",
            end="2026-11-17T01:00:00+01:00",
        ),
        _ok("pol-quoted-newline-and-semicolon", pol("5000-K900027-26", kod='"1201;\nobs: två rader"'), at=T2140),
        _ok("pol-line-after-multiline-record", pol("5000-K900028-26", cat="Klotter"), category="klotter"),
        _rej("pol-only-delimiters", ";" * 10, "empty_row"),
        _rej("pol-comma-row-in-semicolon-file", pol("5000-K900030-26", sep=","), "bad_field_count"),
        _rej("pol-extra-nonempty-field", pol("5000-K900031-26") + ";överbliven", "bad_field_count"),
        _rej(
            "pol-formula-injection",
            pol('=HYPERLINK("http://evil.example/x")', x="", y="", addr="Okänd gata 1"),
            "not_geocoded",
            "Gatuadress",
        ),
        _ok("pol-unmapped-category", pol("5000-K900033-26", cat="Olaga intrång"), category="ovrigt"),
        _rej("pol-100kB-field", pol("5000-K900034-26", kod="9" * 100_000), "field_too_long", "Brottskod"),
        _ok("pol-revised-case-current", pol("5000-K900050-26", cat="Klotter"), category="klotter"),
        _ok(
            "pol-cross-partner-duplicate",
            pol("5000-K900060-26", date="2026-11-18", time="22:10", x="507250", y="6465020"),
            at="2026-11-18T22:10:00+01:00",
        ),
        _rej("pol-unbalanced-quote", pol("5000-K900035-26", cat='"Skadegörelse'), "bad_field_count"),
        _ok("pol-row-after-unbalanced-quote", pol("5000-K900036-26"), at=T2140),
        _rej("pol-truncated-last-line", "5000-K900099-26;1201;Skadegör", "bad_field_count"),
    ],
)

POLISEN_OTHER = [
    Export(
        "polisen",
        "polisen_v46.csv",
        POL_HEADER,
        encoding="utf-8-sig",
        rows=[
            _rej("pol-revised-case-older", pol("5000-K900050-26", date="2026-11-15"), "duplicate_source_id"),
        ],
    ),
    Export(
        "polisen",
        "polisen_utan_bom_crlf.csv",
        POL_HEADER,
        encoding="utf-8",
        newline="\r\n",
        rows=[
            _ok(
                "pol-no-bom-crlf",
                pol("5000-K900101-26", cat="Skadegörelse"),
                category="skadegorelse",
                at=T2140,
                xy=TORGET,
            ),
        ],
    ),
    Export(
        "polisen",
        "polisen_komma_extra_kolumner.csv",
        "Diarienr,Brottskod,Brottsbenämning,Från datum,Från kl,Till datum,Till kl,Ort,Gatuadress,"
        "X-koord,Y-koord,Handläggare,Status",
        rows=[
            _ok(
                "pol-comma-delimited-extra-columns-decimal-comma",
                '5000-K900201-26,1201,Skadegörelse,2026-11-16,21:40,,,Mjölby,,"507240,5","6465010,5",Anna,Öppen',
                category="skadegorelse",
                xy=(507240.5, 6465010.5),
                tol=0.01,
                method="coordinates",
            ),
        ],
    ),
    Export(
        "polisen",
        "polisen_blandad_kodning.csv",
        POL_HEADER,
        encoding="utf-8-sig",
        rows=[
            _ok("pol-mixed-encoding-utf8-line", pol("5000-K900301-26", cat="Skadegörelse"), category="skadegorelse"),
            _ok(
                "pol-mixed-encoding-cp1252-line",
                pol("5000-K900302-26", cat="Skadegörelse", addr="Vasagatan 7", x="", y=""),
                category="skadegorelse",
                encoding="cp1252",
                method="exact",
                xy=VASAGATAN[7],
            ),
        ],
    ),
    Export(
        "polisen",
        "polisen_mac_nfd.csv",
        POL_HEADER,
        encoding="utf-8",
        header_nfd=True,
        rows=[
            _ok(
                "pol-nfd-header-and-category",
                pol("5000-K900401-26", cat=unicodedata.normalize("NFD", "Skadegörelse")),
                category="skadegorelse",
            ),
        ],
    ),
    Export(
        "polisen",
        "polisen_avslutande_semikolon.csv",
        POL_HEADER + ";",
        rows=[
            _ok("pol-trailing-delimiter", pol("5000-K900501-26") + ";", category="skadegorelse", xy=TORGET),
        ],
    ),
    Export(
        "polisen",
        "polisen_tabb.csv",
        POL_HEADER.replace(";", "\t"),
        rows=[
            _ok("pol-tab-delimited", pol("5000-K900801-26", sep="\t"), category="skadegorelse", xy=TORGET, at=T2140),
        ],
    ),
    # Two exports concatenated into one file: the second header (with its BOM) is a data row.
    Export(
        "polisen",
        "polisen_ihopslagna_exporter.csv",
        POL_HEADER,
        encoding="utf-8-sig",
        rows=[
            _ok("pol-concatenated-first-export-row", pol("5000-K900701-26", time="12:00")),
            _rej("pol-concatenated-second-header", "\ufeff" + POL_HEADER, "bad_date", "Från datum"),
            _rej(
                "pol-concatenated-repeated-row",
                pol("5000-K900701-26", time="12:00"),
                "duplicate_row",
                "polisen_ihopslagna_exporter.csv",
            ),
        ],
    ),
    Export("polisen", "polisen_bara_rubrik.csv", POL_HEADER, encoding="utf-8-sig", rows=[]),
    Export(
        "polisen",
        "export_a.csv",
        POL_HEADER,
        encoding="utf-8-sig",
        rows=[
            _ok("pol-export-twice-original-1", pol("5000-K900601-26", time="10:00")),
            _ok("pol-export-twice-original-2", pol("5000-K900602-26", time="11:00")),
        ],
    ),
    Export(
        "polisen",
        "export_a_kopia.csv",
        POL_HEADER,
        encoding="utf-8-sig",
        rows=[
            _rej("pol-export-twice-copy-1", pol("5000-K900601-26", time="10:00"), "duplicate_row", "export_a.csv"),
            _rej("pol-export-twice-copy-2", pol("5000-K900602-26", time="11:00"), "duplicate_row", "export_a.csv"),
        ],
    ),
]

# -- kommunen: ';' cp1252, CRLF, place/address text only ------------------------------------
BIG = "x" * 100_000
KOMMUNEN_MAIN = Export(
    "kommunen",
    "kommunen_v47.csv",
    KOM_HEADER,
    encoding="cp1252",
    newline="\r\n",
    rows=[
        _ok("kom-cp1252-place", kom("MK-2026-90001"), at=T2140, method="place", xy=TORGET, category="skadegorelse"),
        _ok("kom-place-alias", kom("MK-2026-90002", place="Torget"), method="place", xy=TORGET),
        _ok(
            "kom-address-with-town", kom("MK-2026-90003", place="Vasagatan 5, Mjölby"), method="exact", xy=VASAGATAN[5]
        ),
        _ok("kom-address-exact", kom("MK-2026-90004", place="Vasagatan 3"), method="exact", xy=VASAGATAN[3]),
        _ok(
            "kom-address-case-and-spaces",
            kom("MK-2026-90005", place="  vasagatan   7 "),
            method="exact",
            xy=VASAGATAN[7],
        ),
        _ok("kom-address-fuzzy", kom("MK-2026-90006", place="Vasagtan 9"), method="fuzzy", xy=VASAGATAN[9]),
        _ok(
            "kom-street-centroid",
            kom("MK-2026-90007", place="Vasagatan 99"),
            method="street_centroid",
            xy=tuple(np.mean(VASAGATAN_ALL, axis=0)),
            tol=400.0,
        ),
        _rej("kom-unknown-address", kom("MK-2026-90008", place="Påhittade vägen 12"), "not_geocoded", "Plats"),
        _rej("kom-blank-place", kom("MK-2026-90009", place=""), "missing_location", "Plats"),
        _ok("kom-unmapped-category", kom("MK-2026-90010", cat="Vattenläcka"), category="ovrigt"),
        _ok("kom-category-case-and-spaces", kom("MK-2026-90011", cat="  KLOTTER "), category="klotter"),
        _ok("kom-date-dotted-time-dotted", kom("MK-2026-90012", date="16.11.2026", time="21.40"), at=T2140),
        _ok("kom-time-2400", kom("MK-2026-90013", time="24:00"), at="2026-11-17T00:00:00+01:00"),
        _ok("kom-blank-time", kom("MK-2026-90014", time=""), at="2026-11-16T00:00:00+01:00"),
        _ok("kom-quoted-newline-and-semicolon", kom("MK-2026-90015", text='"Två rader;\r\nmed semikolon"'), at=T2140),
        _ok("kom-line-after-multiline-record", kom("MK-2026-90016", cat="Klotter"), category="klotter"),
        _rej("kom-100kB-field", kom("MK-2026-90017", text=BIG), "field_too_long", "Beskrivning"),
        _rej("kom-unquoted-semicolon-in-text", kom("MK-2026-90018", text="bänk; papperskorg"), "bad_field_count"),
        _rej("kom-comma-row", kom("MK-2026-90019", sep=","), "bad_field_count"),
        _rej("kom-formula-injection", kom("@SUM(1+1)*cmd|' /C calc'!A0", place="Okänd plats"), "not_geocoded", "Plats"),
        _rej("kom-impossible-date", kom("MK-2026-90021", date="2026-02-30"), "bad_date", "Datum"),
        _ok("kom-date-weekday-words-time-kl", kom("MK-2026-90024", date="mån 16 nov 2026", time="kl 21.40"), at=T2140),
        _rej("kom-date-ambiguous-two-digit-year", kom("MK-2026-90025", date="26-11-16"), "bad_date", "Datum"),
        _rej("kom-date-is-text", kom("MK-2026-90026", date="igår kväll"), "bad_date", "Datum"),
        _ok("kom-dst-gap", kom("MK-2026-90022", date="2026-03-29", time="02:30"), at="2026-03-29T03:30:00+02:00"),
        _ok("kom-undefined-cp1252-byte", kom("MK-2026-90023", text="tecken \x81 okänt"), encoding="latin-1", at=T2140),
        _rej("kom-only-delimiters", ";;;;;;", "empty_row"),
        _ok(
            "kom-cross-partner-duplicate",
            kom("MK-2026-90099", date="2026-11-18", time="22:00"),
            at="2026-11-18T22:00:00+01:00",
        ),
    ],
)

KOMMUNEN_OTHER = [
    Export(
        "kommunen",
        "kommunen_utf8_bom.csv",
        KOM_HEADER,
        encoding="utf-8-sig",
        rows=[
            _ok(
                "kom-resaved-as-utf8-bom",
                kom("MK-2026-90101", cat="Skadegörelse", place="Vasagatan 3"),
                category="skadegorelse",
                method="exact",
                xy=VASAGATAN[3],
            ),
        ],
    ),
]

# -- bostadsbolaget: ',' UTF-8, WGS84 lat/lon, one date-time column --------------------------
BB_MAIN = Export(
    "bostadsbolaget",
    "bostadsbolaget_v47.csv",
    BB_HEADER,
    encoding="utf-8",
    rows=[
        _ok("bb-wgs84-ok", bb("BB26-90001"), at=T2140, method="coordinates", xy=LL_TORGET, category="klotter"),
        _ok("bb-lat-lon-swapped", bb("BB26-90002", lat=f"{LON}", lon=f"{LAT}"), method="coordinates", xy=LL_TORGET),
        _ok(
            "bb-decimal-comma-quoted",
            bb("BB26-90003", lat='"58,32595"', lon='"15,12365"'),
            method="coordinates",
            xy=LL_TORGET,
        ),
        _ok("bb-iso-offset", bb("BB26-90004", when="2026-11-16T21:40:00+01:00"), at=T2140),
        _ok("bb-iso-utc-z", bb("BB26-90005", when="2026-11-16T20:40:00Z"), at=T2140),
        _ok("bb-iso-space", bb("BB26-90006", when="2026-11-16 21:40"), at=T2140),
        _ok("bb-dotted", bb("BB26-90007", when="16.11.2026 21:40"), at=T2140),
        _ok("bb-slashed", bb("BB26-90008", when="16/11/2026 21:40"), at=T2140),
        _ok("bb-compact-date-only", bb("BB26-90009", when="20261116"), at="2026-11-16T00:00:00+01:00"),
        _ok("bb-dst-gap", bb("BB26-90010", when="2026-03-29T02:30:00"), at="2026-03-29T03:30:00+02:00"),
        _ok("bb-dst-overlap", bb("BB26-90011", when="2026-10-25T02:30:00"), at="2026-10-25T02:30:00+02:00"),
        _ok(
            "bb-dst-overlap-explicit-winter-offset",
            bb("BB26-90012", when="2026-10-25T02:30:00+01:00"),
            at="2026-10-25T02:30:00+01:00",
        ),
        _ok(
            "bb-fractional-seconds-compact-offset", bb("BB26-90034", when="2026-11-16T21:40:00.123+0100"), at=T2140
        ),  # fractions of a second are dropped
        _rej("bb-unix-timestamp", bb("BB26-90035", when="1763325600"), "bad_date", "tidpunkt"),
        _rej(
            "bb-degrees-minutes-seconds",
            bb("BB26-90036", lat="58°19'33\"N", lon="15°07'25\"E"),
            "bad_coordinates",
            "lat",
        ),
        _rej("bb-impossible-date", bb("BB26-90013", when="2026-02-30T12:00:00"), "bad_date", "tidpunkt"),
        _rej("bb-future-date", bb("BB26-90014", when="2027-01-15T12:00:00"), "future_date", "tidpunkt"),
        _rej("bb-decades-old", bb("BB26-90015", when="1990-06-01T12:00:00"), "too_old", "tidpunkt"),
        _rej("bb-outside-sweden-paris", bb("BB26-90016", lat="48.8566", lon="2.3522"), "bad_coordinates", "lat"),
        _rej(
            "bb-outside-municipality-linkoping",
            bb("BB26-90017", lat=f"{LINK_LAT}", lon=f"{LINK_LON}"),
            "outside_municipality",
            "lat",
        ),
        _ok(
            "bb-nan-coords-known-address",
            bb("BB26-90018", lat="NaN", lon="nan", addr="Vasagatan 5"),
            method="exact",
            xy=VASAGATAN[5],
        ),
        _rej("bb-blank-everything-location", bb("BB26-90019", lat="", lon="", addr=" "), "missing_location", "adress"),
        _rej("bb-half-coordinate-pair", bb("BB26-90020", lat=f"{LAT}", lon=""), "bad_coordinates", "lat"),
        _rej(
            "bb-garbage-coords-unknown-address",
            bb("BB26-90021", lat="abc", lon="def", addr="Påhittade vägen 3"),
            "not_geocoded",
            "adress",
        ),
        _ok("bb-unmapped-category", bb("BB26-90022", cat="vattenskada"), category="ovrigt"),
        _rej("bb-only-delimiters", ",,,,,,", "empty_row"),
        _rej("bb-semicolon-row", bb("BB26-90024", sep=";"), "bad_field_count"),
        _rej("bb-too-few-fields", "BB26-90025,2026-11-16T21:40:00,klotter", "bad_field_count"),
        _ok("bb-quoted-newline-and-comma", bb("BB26-90026", text='"Två rader,\nmed komma"'), at=T2140),
        _ok("bb-line-after-multiline-record", bb("BB26-90027", cat="störning"), category="ordningsstorning"),
        _rej(
            "bb-formula-injection",
            bb('=HYPERLINK("http://evil.example/bb")', lat="", lon=""),
            "missing_location",
            "adress",
        ),
        _ok("bb-exact-duplicate-first", bb("BB26-90029", when="2026-11-17T09:00:00")),
        _rej(
            "bb-exact-duplicate-second",
            bb("BB26-90029", when="2026-11-17T09:00:00"),
            "duplicate_row",
            "bostadsbolaget_v47.csv",
        ),
        _rej(
            "bb-same-id-older-content",
            bb("BB26-90030", cat="klotter", when="2026-11-17T10:00:00"),
            "duplicate_source_id",
            "BB26-90030",
        ),
        _ok(
            "bb-same-id-newer-content",
            bb("BB26-90030", cat="skadegörelse", when="2026-11-17T10:00:00"),
            category="skadegorelse",
        ),
        _rej(
            "bb-null-markers-everywhere-location",
            bb("BB26-90033", lat="-", lon="NA", addr="saknas"),
            "missing_location",
            "adress",
        ),
        _ok("bb-null-id-first", bb("NULL", when="2026-11-17T11:00:00", cat="klotter")),
        _ok("bb-null-id-second-other-event", bb("NULL", when="2026-11-17T12:00:00", cat="störning")),
        _ok(
            "bb-nan-literal-address-and-coords",
            bb("BB26-90032", addr="NaN", lat=f"{LAT}", lon=f"{LON}"),
            method="coordinates",
            xy=LL_TORGET,
        ),
    ],
)

BB_OTHER = [
    Export(
        "bostadsbolaget",
        "bostadsbolaget_semikolon.csv",
        BB_HEADER.replace(",", ";"),
        encoding="utf-8-sig",
        rows=[
            _ok(
                "bb-semicolon-file-decimal-comma",
                bb("BB26-90101", lat="58,32595", lon="15,12365", sep=";"),
                method="coordinates",
                xy=LL_TORGET,
                at=T2140,
            ),
        ],
    ),
]

# -- issue 9: rows the corpus did not have (each failed before the fix) --------------------------
ISSUE9_EXPORTS = [
    # Mac Roman with CR line ends (a classic Mac export): decided from the whole file.
    Export(
        "kommunen",
        "kommunen_mac_roman_cr.csv",
        KOM_HEADER,
        encoding="mac_roman",
        newline="\r",
        rows=[
            _ok(
                "kom-mac-roman-cr-category",
                kom("MK-2026-90901", cat="Skadegörelse", place="Vasagatan 5, Mjölby"),
                category="skadegorelse",
                method="exact",
                xy=VASAGATAN[5],
                at=T2140,
            ),
            _ok(
                "kom-mac-roman-cr-place-with-a-ring",
                kom("MK-2026-90902", cat="Nedskräpning", place="Stora torget", unit="Tekniska förvaltningen"),
                category="nedskrapning",
                method="place",
                xy=TORGET,
            ),
        ],
    ),
    # UTF-8 with one stray Windows byte (0x96, an en dash) on a line that also holds UTF-8:
    # only that byte is read as cp1252, the UTF-8 "ö" on the same line stays "ö".
    Export(
        "polisen",
        "polisen_utf8_med_lost_byte.csv",
        POL_HEADER,
        encoding="utf-8",
        rows=[
            _ok("pol-utf8-line-before-stray-byte", pol("5000-K900901-26", cat="Skadegörelse"), category="skadegorelse"),
            _ok(
                "pol-utf8-stray-cp1252-byte-same-line",
                pol("5000-K900902-26", cat="Skadegörelse", kod="1201\udc96"),
                category="skadegorelse",
                at=T2140,
            ),
            _ok(
                "pol-utf8-line-after-stray-byte",
                pol("5000-K900903-26", cat="Klotter", ort="Mjölby"),
                category="klotter",
            ),
        ],
    ),
    # A file that proves month-first dates (11/16/2026) is read month first throughout.
    Export(
        "bostadsbolaget",
        "bostadsbolaget_us_datum.csv",
        BB_HEADER,
        encoding="utf-8",
        rows=[
            _ok("bb-us-date-proves-month-first", bb("BB26-90901", when="11/16/2026 21:40"), at=T2140),
            _ok(
                "bb-us-date-read-month-first-throughout",
                bb("BB26-90902", when="11/5/2026 21:40"),
                at="2026-11-05T21:40:00+01:00",
            ),
        ],
    ),
    # Unmapped categories that look sensitive are sensitive, never "Övrigt" points.
    Export(
        "polisen",
        "polisen_omappade_kansliga.csv",
        POL_HEADER,
        encoding="utf-8-sig",
        rows=[
            _ok(
                "pol-unmapped-equals-sensitive-label",
                pol("5000-K900911-26", cat="Våld i nära relation"),
                category="vald_nara_relation",
            ),
            _ok(
                "pol-unmapped-sensitive-word",
                pol("5000-K900913-26", cat="Grov kvinnofridskränkning"),
                category="ovrigt_kansligt",
            ),
        ],
    ),
    Export(
        "kommunen",
        "kommunen_omappade_kansliga.csv",
        KOM_HEADER,
        encoding="utf-8",
        rows=[
            _ok(
                "kom-unmapped-sensitive-word",
                kom("MK-2026-90911", cat="Sexuellt ofredande"),
                category="ovrigt_kansligt",
            ),
            _ok(
                "kom-unmapped-raw-name-another-partner-maps-sensitive",
                kom("MK-2026-90913", cat="VÅLDTÄKT"),
                category="sexualbrott",
            ),
            _ok(
                "kom-personnummer-in-category",
                kom("MK-2026-90912", cat="Oro 850101-1234 ring 070-123 45 67"),
                category="ovrigt",
            ),
        ],
    ),
]

EXPORTS = [POLISEN_MAIN, *POLISEN_OTHER, KOMMUNEN_MAIN, *KOMMUNEN_OTHER, BB_MAIN, *BB_OTHER, *ISSUE9_EXPORTS]
ROWS = [r for e in EXPORTS for r in e.rows]
assert len({r.label for r in ROWS}) == len(ROWS), "row labels must be unique"
for _e in EXPORTS:
    _e.build()  # sets file/line of every row at import time (ids below need them)


# ----------------------------------------------------------------------------------------------
# Project harness
# ----------------------------------------------------------------------------------------------


def base_config(partners: list[str] | None = None) -> dict:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    if partners is not None:
        data["partners"] = {k: v for k, v in data["partners"].items() if k in partners}
    return data


def make_project(
    dest: Path,
    exports: dict[str, dict[str, bytes]],
    config: dict | None = None,
    config_bytes: bytes | None = None,
    reference: dict[str, bytes] | None = None,
) -> Path:
    """A project in ``dest``: config.yaml (only the partners in ``exports`` unless ``config``
    is given), data/reference copied from the repo (files in ``reference`` overwritten), and
    the given export bytes under data/raw/<partner>/<name>. Returns the config path."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "data" / "reference", dest / "data" / "reference", dirs_exist_ok=True)
    for name, data in (reference or {}).items():
        (dest / "data" / "reference" / name).write_bytes(data)
    for partner, files in exports.items():
        folder = dest / "data" / "raw" / partner
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    path = dest / "config.yaml"
    if config_bytes is not None:
        path.write_bytes(config_bytes)
    else:
        cfg = config if config is not None else base_config(list(exports))
        path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_cli(cfg_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "ingest", "--config", str(cfg_path)],
        capture_output=True,
        text=True,
        cwd=cfg_path.parent,
        env=env,
        timeout=120,
    )


# ----------------------------------------------------------------------------------------------
# Row cases: one ingest over every export above
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    from pipeline.config import load_config
    from pipeline.runner import run_ingest

    base = tmp_path_factory.mktemp("bad_rows")
    files: dict[str, dict[str, bytes]] = {}
    for e in EXPORTS:
        files.setdefault(e.partner, {})[e.name] = e.built
    cfg = load_config(make_project(base, files))
    # Beside kommunen's CSVs: files its `*.csv` pattern does not read (issue 9: named as not read).
    kom_dir = base / "data" / "raw" / "kommunen"
    (kom_dir / "kommunen_v48.xlsx").write_bytes(_xlsx_bytes([KOM_HEADER.split(";"), kom("MK-2026-99999").split(";")]))
    (kom_dir / "anteckningar.txt").write_text("inte en export\n", encoding="utf-8")
    (kom_dir / "gammal_export.csv").symlink_to(base / "finns_inte.csv")
    summary: list[str] = []
    result = run_ingest(cfg, now=NOW, echo=summary.append)
    processed = base / "data" / "processed"
    import geopandas as gpd

    events = gpd.read_parquet(processed / "events")
    rejected = pd.read_csv(processed / "rejected.csv", sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    raw_csv = (processed / "rejected.csv").read_bytes()
    quality = json.loads((processed / "quality.json").read_text(encoding="utf-8"))
    return {
        "events": events,
        "rejected": rejected,
        "quality": quality,
        "raw_csv": raw_csv,
        "base": base,
        "result": result,
        "summary": "\n".join(summary),
        "cfg": cfg,
    }


def _lookup(ingested, row: Row):
    ev, rj = ingested["events"], ingested["rejected"]
    e = ev[(ev["source_file"] == row.file) & (ev["source_line"] == row.line)]
    r = rj[(rj["source_file"] == row.file) & (rj["source_line"].astype(int) == row.line)]
    return e, r


def _iso(ts) -> str:
    return pd.Timestamp(ts).isoformat()


@pytest.mark.parametrize("row", [pytest.param(r, id=r.label, marks=r.outcome_marks) for r in ROWS])
def test_row_outcome(ingested, row: Row):
    """Each row lands exactly once, in events or rejected, with the defined reason."""
    e, r = _lookup(ingested, row)
    assert len(e) + len(r) == 1, f"{row.file} line {row.line}: {len(e)} events, {len(r)} rejected rows"
    if row.expect == "ok":
        assert len(e) == 1, f"rejected instead: {r[['reason', 'message']].to_dict('records')}"
        ev = e.iloc[0]
        if row.at:
            assert _iso(ev["occurred_at"]) == row.at
        if row.end:
            assert _iso(ev["occurred_end"]) == row.end
        if row.method:
            assert ev["geocode_method"] == row.method
        if row.category:
            assert ev["category"] == row.category
        if row.xy:
            assert ev.geometry.distance(Point(*row.xy)) <= row.tol, (ev.geometry.x, ev.geometry.y)
    else:
        assert row.expect in REASONS
        assert len(r) == 1, f"accepted instead (method {e['geocode_method'].tolist()})"
        assert r.iloc[0]["reason"] == row.expect, r.iloc[0]["message"]


_MESSAGE_ROWS = [pytest.param(r, id=r.label, marks=r.marks) for r in ROWS if r.expect != "ok" and r.column]


@pytest.mark.parametrize("row", _MESSAGE_ROWS)
def test_rejected_message_names_the_column(ingested, row: Row):
    _, r = _lookup(ingested, row)
    assert len(r) == 1
    assert row.column in r.iloc[0]["message"], r.iloc[0]["message"]


def test_every_file_conserves_rows(ingested):
    """rows read = accepted + rejected per file, and rows read = the records written here."""
    q = ingested["quality"]
    per_file = {f["file"]: f for p in q["partners"].values() for f in p["files"]}
    ev, rj = ingested["events"], ingested["rejected"]
    for e in EXPORTS:
        got = per_file.get(e.rel)
        assert got is not None, f"{e.rel} missing from quality.json"
        assert got["rows_read"] == len(e.rows), e.rel
        assert got["accepted"] + got["rejected"] == got["rows_read"], e.rel
        assert (ev["source_file"] == e.rel).sum() == got["accepted"], e.rel
        assert (rj["source_file"] == e.rel).sum() == got["rejected"], e.rel
    for p in q["partners"].values():
        assert p["rows_read"] == p["accepted"] + p["rejected"]


def test_no_unexpected_rows(ingested):
    """Nothing in the outputs that was not written (e.g. a multi-line record split in two)."""
    written = {(r.file, r.line) for r in ROWS}
    ev, rj = ingested["events"], ingested["rejected"]
    seen = list(zip(ev["source_file"], ev["source_line"].astype(int))) + list(
        zip(rj["source_file"], rj["source_line"].astype(int))
    )
    assert sorted(set(seen) - written) == []
    assert len(seen) == len(written)


def test_detected_encodings(ingested):
    files = {f["file"]: f for p in ingested["quality"]["partners"].values() for f in p["files"]}
    assert files[KOMMUNEN_MAIN.rel]["encoding"] == "cp1252"
    assert files[POLISEN_MAIN.rel]["encoding"] == "utf-8-sig"
    assert files["data/raw/polisen/polisen_blandad_kodning.csv"]["encoding"] == "mixed"
    assert files["data/raw/polisen/polisen_komma_extra_kolumner.csv"]["delimiter"] == ","
    assert files["data/raw/bostadsbolaget/bostadsbolaget_semikolon.csv"]["delimiter"] == ";"


def test_header_only_file_is_zero_rows(ingested):
    files = {f["file"]: f for p in ingested["quality"]["partners"].values() for f in p["files"]}
    got = files["data/raw/polisen/polisen_bara_rubrik.csv"]
    assert (got["rows_read"], got["accepted"], got["rejected"]) == (0, 0, 0)


def test_unmapped_categories_counted(ingested):
    q = ingested["quality"]["partners"]
    assert q["polisen"]["unmapped_categories"] == {"Olaga intrång": 1}
    assert q["kommunen"]["unmapped_categories"] == {"Oro 850101-1234 ring 070-123 45 67": 1, "Vattenläcka": 1}
    assert q["bostadsbolaget"]["unmapped_categories"] == {"vattenskada": 1}


# -- issue 9: row-level checks beyond the outcome of each row -----------------------------------


def _xlsx_bytes(rows: list[list[str]]) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_encoding_decided_from_the_whole_file(ingested):
    files = {f["file"]: f for p in ingested["quality"]["partners"].values() for f in p["files"]}
    assert files["data/raw/kommunen/kommunen_mac_roman_cr.csv"]["encoding"] == "mac_roman"
    assert files["data/raw/polisen/polisen_utf8_med_lost_byte.csv"]["encoding"] == "mixed"


def test_unmapped_sensitive_categories_are_said_so(ingested):
    q = ingested["quality"]["partners"]
    assert q["polisen"]["unmapped_sensitive"] == {"Grov kvinnofridskränkning": 1, "Våld i nära relation": 1}
    assert q["kommunen"]["unmapped_sensitive"] == {"Sexuellt ofredande": 1, "VÅLDTÄKT": 1}
    assert "behandlas som känsliga" in ingested["summary"] and "Sexuellt ofredande" in ingested["summary"]
    ev = ingested["events"]
    sens = ev[
        ev["source_category"].isin(
            ["Våld i nära relation", "Grov kvinnofridskränkning", "Sexuellt ofredande", "VÅLDTÄKT"]
        )
    ]
    assert len(sens) == 4 and sens["sensitive"].all()


def test_files_not_read_are_named_in_the_summary(ingested):
    not_read = {f["file"]: f["reason"] for f in ingested["result"].quality["partners"]["kommunen"]["not_read"]}
    assert set(not_read) == {
        "data/raw/kommunen/kommunen_v48.xlsx",
        "data/raw/kommunen/anteckningar.txt",
        "data/raw/kommunen/gammal_export.csv",
    }
    assert "Excel" in not_read["data/raw/kommunen/kommunen_v48.xlsx"]
    assert "trasig länk" in not_read["data/raw/kommunen/gammal_export.csv"]
    assert "matchar inte" in not_read["data/raw/kommunen/anteckningar.txt"]
    line = next(ln for ln in ingested["summary"].splitlines() if "inte lästa" in ln)
    assert "kommunen_v48.xlsx" in line and "anteckningar.txt" in line and "gammal_export.csv" in line


def test_published_quality_redacts_and_leaves_sensitive_out(ingested):
    from pipeline.privacy import public_quality

    q, ev = ingested["quality"], ingested["events"]
    public = public_quality(q, ev)
    text = json.dumps(public, ensure_ascii=False)
    assert "850101-1234" not in text and "070-123 45 67" not in text and "[personnummer]" in text
    n_sensitive = int(ev["sensitive"].sum())
    assert n_sensitive >= 4
    assert public["totals"]["accepted"] <= q["totals"]["accepted"] - n_sensitive
    assert public["totals"]["rows_read"] - public["totals"]["accepted"] == q["totals"]["rejected"]
    assert "Sexuellt ofredande" not in text and "kvinnofrid" not in text  # would tell when one arrived


def test_xlsx_partner_export_is_read(tmp_path):
    """Partners send Excel: an .xlsx export named by the partner's files patterns is read."""
    from pipeline.config import load_config
    from pipeline.runner import run_ingest

    data = base_config(["polisen"])
    data["partners"]["polisen"]["files"] = ["data/raw/polisen/*.csv", "data/raw/polisen/*.xlsx"]
    cfg = load_config(make_project(tmp_path, {"polisen": {"v47.csv": OK_POL}}, config=data))
    rows = [POL_HEADER.split(";"), pol("5000-K990001-26").split(";"), pol("5000-K990002-26", cat="Klotter").split(";")]
    (tmp_path / "data" / "raw" / "polisen" / "v48.xlsx").write_bytes(_xlsx_bytes(rows))
    result = run_ingest(cfg, now=NOW, echo=lambda s: None)
    ev = result.events
    xl = ev[ev["source_file"] == "data/raw/polisen/v48.xlsx"].sort_values("source_line")
    assert xl["source_line"].tolist() == [2, 3]
    assert xl["category"].tolist() == ["skadegorelse", "klotter"]
    assert xl["occurred_at"].map(_iso).tolist() == [T2140, T2140]


def test_formula_cells_neutralised_in_rejected_csv(ingested):
    for label, start in (
        ("pol-formula-injection", "'=HYPERLINK("),
        ("kom-formula-injection", "'@SUM("),
        ("bb-formula-injection", "'=HYPERLINK("),
    ):
        row = next(r for r in ROWS if r.label == label)
        _, r = _lookup(ingested, row)
        assert r.iloc[0]["raw"].startswith(start), r.iloc[0]["raw"][:40]
    # No cell in the file starts a formula: every field of every record is checked.
    import csv
    import io

    assert ingested["raw_csv"].startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Swedish Excel
    text = ingested["raw_csv"].decode("utf-8-sig")
    assert text.splitlines()[0] == ";".join(REJECTED_COLUMNS)
    for rec in csv.reader(io.StringIO(text, newline=""), delimiter=";"):
        for cell in rec:
            assert not cell.startswith(("=", "+", "-", "@")), cell[:60]


def test_same_export_twice_is_rejected_as_duplicate_rows(ingested):
    ev = ingested["events"]
    assert (ev["source_file"] == "data/raw/polisen/export_a_kopia.csv").sum() == 0
    assert (ev["source_file"] == "data/raw/polisen/export_a.csv").sum() == 2


def test_same_event_from_two_partners_is_marked_duplicate(ingested):
    pol_row = next(r for r in ROWS if r.label == "pol-cross-partner-duplicate")
    kom_row = next(r for r in ROWS if r.label == "kom-cross-partner-duplicate")
    p, _ = _lookup(ingested, pol_row)
    k, _ = _lookup(ingested, kom_row)
    assert p.iloc[0]["duplicate_of"] == k.iloc[0]["event_id"]
    assert k.iloc[0]["duplicate_of"] in ("", None)


def test_run_with_only_a_header_only_export(tmp_path):
    """No rows at all is not an error: empty outputs with the canonical columns."""
    import geopandas as gpd

    from pipeline.config import load_config
    from pipeline.runner import run_ingest

    cfg = load_config(make_project(tmp_path, {"polisen": {"v47.csv": (POL_HEADER + "\r\n").encode("utf-8-sig")}}))
    run_ingest(cfg, now=NOW, echo=lambda s: None)
    processed = tmp_path / "data" / "processed"
    events = gpd.read_parquet(processed / "events")
    rejected = pd.read_csv(processed / "rejected.csv", sep=";", encoding="utf-8-sig")
    quality = json.loads((processed / "quality.json").read_text(encoding="utf-8"))
    assert len(events) == 0 and len(rejected) == 0
    assert list(rejected.columns) == list(REJECTED_COLUMNS)
    assert quality["partners"]["polisen"]["rows_read"] == 0


def test_description_dropped_by_default(ingested):
    ev = ingested["events"]
    assert (ev["description"].fillna("") == "").all()
    assert not ev["description"].fillna("").str.contains("x" * 100).any()


# ----------------------------------------------------------------------------------------------
# Structural cases: the CLI exits 2 with one line naming the file
# ----------------------------------------------------------------------------------------------


def _pol_bytes(*rows: str, header: str = POL_HEADER, encoding: str = "utf-8-sig") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode(encoding, errors="surrogateescape")


OK_POL = _pol_bytes(pol("5000-K1-26"))
GAZ_HEADER = "kind,name,street,number,town,postcode,x,y,aliases\n"


def _cfg(mutate) -> dict:
    data = base_config(["polisen"])
    mutate(data)
    return data


def _set(path: str, value):
    def apply(d):
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return apply


def _del(path: str):
    def apply(d):
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]

    return apply


def _rename_key(path: str, new: str):
    def apply(d):
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node[k]
        node[new] = node.pop(keys[-1])

    return apply


@dataclass
class Structural:
    label: str
    export: bytes | None = OK_POL  # polisen/case.csv (None: no file at all)
    config: dict | None = None
    config_bytes: bytes | None = None
    reference: dict | None = None
    must_name: tuple[str, ...] = ()  # substrings of the stderr line
    marks: tuple = ()
    setup: object = None  # callable(project folder) run after make_project
    must_not: tuple[str, ...] = ()  # substrings the stderr line must not contain


_raw_cfg_text = (ROOT / "config.yaml").read_text(encoding="utf-8")

STRUCTURAL = [
    # exports
    Structural("export-empty-file", export=b"", must_name=("case.csv", "empty")),
    Structural("export-bom-only", export=b"\xef\xbb\xbf", must_name=("case.csv", "empty")),
    Structural("export-blank-lines-only", export=b"\r\n  \r\n\r\n", must_name=("case.csv", "empty")),
    Structural(
        "export-missing-configured-column",
        export=_pol_bytes(";".join(pol("5000-K1-26").split(";")[:-1]), header=POL_HEADER.replace(";Y-koord", "")),
        must_name=("case.csv", "Y-koord", "line 1"),
    ),
    Structural(
        "export-duplicate-column-names",
        export=_pol_bytes(pol("5000-K1-26") + ";x", header=POL_HEADER + ";Ort"),
        must_name=("case.csv", "Ort", "line 1"),
    ),
    Structural(
        "export-xlsx-saved-as-csv",
        export=b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb6\x8a\xd8\x9b\x00\x00[Content_Types].xml\xad\x92",
        must_name=("case.csv",),
    ),
    Structural(
        "export-utf16-excel-unicode-text",
        export=("\r\n".join([POL_HEADER.replace(";", "\t"), pol("5000-K1-26", sep="\t")]) + "\r\n").encode("utf-16"),
        must_name=("case.csv", "line 1"),
    ),
    Structural(
        "export-forced-utf8-but-cp1252",
        export=_pol_bytes(pol("5000-K1-26"), encoding="cp1252"),
        config=_cfg(_set("partners.polisen.encoding", "utf-8")),
        must_name=("case.csv", "line 1", "utf-8"),
    ),
    Structural(
        "export-forced-semicolon-but-commas",
        export=_pol_bytes(pol("5000-K1-26", sep=","), header=POL_HEADER.replace(";", ",")),
        config=_cfg(_set("partners.polisen.delimiter", ";")),
        must_name=("case.csv", "line 1"),
    ),
    Structural("export-no-file-matches", export=None, must_name=("polisen", "data/raw/polisen/*.csv")),
    # gazetteer
    Structural("gazetteer-empty-file", reference={"gazetteer_demo.csv": b""}, must_name=("gazetteer_demo.csv",)),
    Structural(
        "gazetteer-header-only-wrong-columns",
        reference={"gazetteer_demo.csv": b"namn;x;y\n"},
        must_name=("gazetteer_demo.csv",),
    ),
    Structural(
        "gazetteer-header-only",
        reference={"gazetteer_demo.csv": GAZ_HEADER.encode()},
        must_name=("gazetteer_demo.csv",),
    ),
    Structural(
        "gazetteer-binary-garbage",
        reference={"gazetteer_demo.csv": bytes(range(256)) * 4},
        must_name=("gazetteer_demo.csv",),
    ),
    Structural(
        "gazetteer-non-numeric-coordinate",
        reference={
            "gazetteer_demo.csv": (
                GAZ_HEADER + "address,Storgatan 1,Storgatan,1,Mjölby,595 30,"
                "506869.7,6465054.9,\naddress,Storgatan 2,Storgatan,2,Mjölby,"
                "595 30,femhundra,6465029.0,\n"
            ).encode()
        },
        must_name=("gazetteer_demo.csv", "line 3", "'x'"),
    ),
    Structural(
        "gazetteer-missing",
        config=_cfg(_set("geocoding.gazetteer", "data/reference/finns_inte.csv")),
        must_name=("finns_inte.csv",),
    ),
    Structural(
        "areas-corrupt",
        reference={"areas_demo.geojson": b'{"type": "FeatureCollection", "features": [ {'},
        must_name=("areas_demo.geojson",),
    ),
    # config.yaml
    Structural(
        "config-yaml-syntax-error",
        config_bytes=b"municipality:\n  name: [Mj\xc3\xb6lby\n  kommunkod: '0586'\n",
        must_name=("config.yaml", "line"),
    ),
    Structural("config-empty", config_bytes=b"", must_name=("config.yaml",)),
    Structural("config-top-level-list", config_bytes=b"- municipality\n- partners\n", must_name=("config.yaml",)),
    Structural(
        "config-not-utf8",
        config_bytes=_raw_cfg_text.encode("cp1252", errors="replace"),
        must_name=("config.yaml", "UTF-8"),
    ),
    Structural(
        "config-wrong-type-cell-size",
        config=_cfg(_set("analysis.cell_size_m", "femtio")),
        must_name=("config.yaml", "analysis.cell_size_m"),
    ),
    Structural(
        "config-wrong-type-levels",
        config=_cfg(_set("analysis.levels", "0.1, 0.5")),
        must_name=("config.yaml", "analysis.levels"),
    ),
    Structural(
        "config-wrong-type-min-count",
        config=_cfg(_set("privacy.min_count", "tre")),
        must_name=("config.yaml", "privacy.min_count"),
    ),
    Structural(
        "config-unknown-key", config=_cfg(_rename_key("analysis.kernel", "kernal")), must_name=("config.yaml", "kernal")
    ),
    Structural("config-unknown-top-level-key", config=_cfg(_set("partnrs", {})), must_name=("config.yaml", "partnrs")),
    Structural(
        "config-taxonomy-typo-in-partner-mapping",
        config=_cfg(_set("partners.polisen.categories.Klotter", "kloter")),
        must_name=("config.yaml", "kloter"),
    ),
    Structural(
        "config-taxonomy-group-typo",
        config=_cfg(_set("taxonomy.klotter.group", "skadegörelse")),
        must_name=("config.yaml", "taxonomy.klotter"),
    ),
    Structural(
        "config-taxonomy-without-ovrigt", config=_cfg(_del("taxonomy.ovrigt")), must_name=("config.yaml", "ovrigt")
    ),
    Structural(
        "config-unknown-canonical-column",
        config=_cfg(_rename_key("partners.polisen.columns.address", "adress")),
        must_name=("config.yaml", "adress"),
    ),
    Structural(
        "config-time-bins-gap", config=_cfg(_set("time_of_day.natt.end", 5)), must_name=("config.yaml", "time_of_day")
    ),
    Structural(
        "config-unknown-crs", config=_cfg(_set("partners.polisen.crs", "EPSG:999999")), must_name=("config.yaml", "crs")
    ),
    Structural(
        "config-bad-kommunkod", config=_cfg(_set("municipality.kommunkod", 586)), must_name=("config.yaml", "kommunkod")
    ),
    Structural("config-missing-partners", config=_cfg(_del("partners")), must_name=("config.yaml", "partners")),
]


# -- issue 9: cases the corpus did not have (each failed before the fix) ------------------------


def _cfg_text_with(after: str, insert: str) -> tuple[bytes, int, int]:
    """The shipped config with ``insert`` (one line) added after the first line equal to
    ``after``; returns the bytes and the line numbers of ``after`` and of the inserted line."""
    lines = _raw_cfg_text.splitlines()
    i = lines.index(after)
    lines.insert(i + 1, insert)
    return ("\n".join(lines) + "\n").encode("utf-8"), i + 1, i + 2


def _alias_bomb() -> bytes:
    levels = ["&a [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"&{c} [" + ", ".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi")]
    text, _, _ = _cfg_text_with("  polisen:", "    date_formats: [" + ", ".join(levels) + "]")
    return text


_DUP_KEY, _DUP_A, _DUP_B = _cfg_text_with(
    '  min_count: 3                 # aggregates of sensitive categories below this are shown as "< 3"',
    "  min_count: 5",
)
_DUP_CAT, _DUP_CAT_A, _DUP_CAT_B = _cfg_text_with("      Klotter: klotter", "      Klotter: skadegorelse")
_FOLD_CAT, _FOLD_CAT_A, _FOLD_CAT_B = _cfg_text_with("      Klotter: klotter", '      "KLOTTER ": skadegorelse')

STRUCTURAL += [
    Structural("config-yaml-alias-bomb", config_bytes=_alias_bomb(), must_name=("config.yaml", "line", "aliases")),
    Structural(
        "config-duplicate-key",
        config_bytes=_DUP_KEY,
        must_name=("config.yaml", f"line {_DUP_A}", f"line {_DUP_B}", "min_count"),
    ),
    Structural(
        "config-duplicate-category-key",
        config_bytes=_DUP_CAT,
        must_name=("config.yaml", f"line {_DUP_CAT_A}", f"line {_DUP_CAT_B}", "Klotter"),
    ),
    Structural(
        "config-category-names-collide-after-casefold",
        config_bytes=_FOLD_CAT,
        must_name=("config.yaml", f"line {_FOLD_CAT_A}", f"line {_FOLD_CAT_B}", "KLOTTER"),
    ),
    Structural(
        "config-tiles-url-javascript",
        config=_cfg(_set("map.tiles_url", "javascript:alert(document.cookie)//{z}/{x}/{y}")),
        must_name=("config.yaml", "map.tiles_url", "http(s)"),
    ),
    Structural(
        "config-tiles-url-not-a-template",
        config=_cfg(_set("map.tiles_url", "https://tile.example.org/")),
        must_name=("config.yaml", "map.tiles_url"),
    ),
    Structural(
        "config-attribution-script",
        config=_cfg(_set("map.tiles_attribution", "<script>alert(1)</script>")),
        must_name=("config.yaml", "map.tiles_attribution", "<script>"),
    ),
    Structural(
        "config-attribution-img-onerror",
        config=_cfg(_set("map.tiles_attribution", "OSM <img src=x onerror=alert(1)>")),
        must_name=("config.yaml", "map.tiles_attribution", "<img>"),
    ),
    Structural(
        "config-attribution-javascript-link",
        config=_cfg(_set("map.tiles_attribution", '<a href="javascript:alert(1)">OSM</a>')),
        must_name=("config.yaml", "map.tiles_attribution", "href"),
    ),
    Structural(
        "config-maps-is-the-project-folder",
        config=_cfg(_set("paths.maps", ".")),
        must_name=("config.yaml", "paths.maps", "paths.raw"),
    ),
    Structural(
        "config-processed-inside-raw",
        config=_cfg(_set("paths.processed", "data/raw/ut")),
        must_name=("config.yaml", "paths.processed", "paths.raw"),
    ),
    Structural(
        "config-maps-is-reference-folder",
        config=_cfg(_set("paths.maps", "data/reference")),
        must_name=("config.yaml", "paths.maps", "geocoding.gazetteer"),
    ),
    Structural(
        "config-secret-inside-published-maps",
        config=_cfg(_set("paths.secret", "maps/installation.key")),
        must_name=("config.yaml", "paths.secret", "paths.maps"),
    ),
]


# -- issue 9: structural cases for exports, reference files and paths -------------------------

#: Text in a file outside the project that a run must never read, let alone quote.
OUTSIDE_SECRET = "HEMLIGT-INNEHÅLL 19850101-1234"


def _outside_file(project: Path) -> Path:
    """A file beside the project (outside it), with a header an export check would quote."""
    target = project.parent / f"{project.name}_utanfor" / "hemlig.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"{OUTSIDE_SECRET};kolumn\n1;2\n", encoding="utf-8")
    return target


def _link_outside(project: Path) -> None:
    (project / "data" / "raw" / "polisen" / "lank.csv").symlink_to(_outside_file(project))


def _link_folder_outside(project: Path) -> None:
    (project / "data" / "raw" / "polisen" / "delad").symlink_to(_outside_file(project).parent)


def _glob_outside(project: Path) -> None:
    _outside_file(project)


def _mac_roman_export() -> bytes:
    return ("\r".join([POL_HEADER, pol("5000-K1-26", cat="Skadegörelse", ort="Mjölby")]) + "\r").encode("mac_roman")


def _gazetteer_with_conflict() -> tuple[bytes, int, int]:
    text = (ROOT / "data" / "reference" / "gazetteer_demo.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("address,Storgatan 5,Storgatan,5,Mjölby,"))
    lines.append("address,Storgatan 5,Storgatan,5,Mjölby,595 30,507900.0,6465600.0,")
    return ("\n".join(lines) + "\n").encode("utf-8"), first + 1, len(lines)


def _areas_in_metres_without_crs() -> bytes:
    import geopandas as gpd

    areas = gpd.read_file(ROOT / "data" / "reference" / "areas_demo.geojson").to_crs("EPSG:3006")
    data = json.loads(areas.to_json())
    data.pop("crs", None)
    return json.dumps(data).encode("utf-8")


_GAZ_CONFLICT, _GAZ_A, _GAZ_B = _gazetteer_with_conflict()

STRUCTURAL += [
    Structural(
        "export-symlink-to-a-file-outside-the-project",
        setup=_link_outside,
        must_name=("lank.csv", "outside"),
        must_not=(OUTSIDE_SECRET, "HEMLIGT"),
    ),
    Structural(
        "export-folder-symlink-outside-the-project",
        setup=_link_folder_outside,
        config=_cfg(_set("partners.polisen.files", "data/raw/polisen/**/*.csv")),
        must_name=("hemlig.csv", "outside"),
        must_not=("HEMLIGT",),
    ),
    Structural(
        "export-files-glob-outside-the-project",
        setup=_glob_outside,
        config=_cfg(_set("partners.polisen.files", "../*_utanfor/*.csv")),
        must_name=("partners.polisen.files", "outside"),
        must_not=("HEMLIGT",),
    ),
    Structural(
        "export-files-absolute-path-outside",
        setup=_glob_outside,
        config=_cfg(_set("partners.polisen.files", "/etc/*.conf")),
        must_name=("partners.polisen.files", "outside"),
    ),
    Structural(
        "export-utf8-double-encoded-mojibake",
        export=_pol_bytes(pol("5000-K1-26", cat="Skadegörelse".encode("utf-8").decode("cp1252"))),
        must_name=("case.csv", "line 2", "Brottsbenämning", "encoding"),
    ),
    Structural(
        "export-mac-roman-forced-as-cp1252",
        export=_mac_roman_export(),
        config=_cfg(_set("partners.polisen.encoding", "cp1252")),
        must_name=("case.csv", "line 1", "Brottsbenämning", "wrong encoding"),
    ),
    Structural(
        "export-undefined-byte-in-mapped-column",
        export=_pol_bytes(pol("5000-K1-26", cat="Skadeg\udc81relse"), encoding="utf-8"),
        must_name=("case.csv", "line 2", "Brottsbenämning"),
    ),
    Structural(
        "export-dates-ambiguous-day-or-month",
        export=_pol_bytes(pol("5000-K1-26", date="05/11/2026"), pol("5000-K2-26", date="06/11/2026")),
        must_name=("case.csv", "Från datum", "date_formats"),
    ),
    Structural(
        "export-dates-mix-day-first-and-month-first",
        export=_pol_bytes(pol("5000-K1-26", date="16/11/2026"), pol("5000-K2-26", date="11/17/2026")),
        must_name=("case.csv", "Från datum", "16/11/2026", "11/17/2026"),
    ),
    Structural(
        "gazetteer-same-address-two-positions",
        reference={"gazetteer_demo.csv": _GAZ_CONFLICT},
        must_name=("gazetteer_demo.csv", f"line {_GAZ_A}", f"line {_GAZ_B}", "Storgatan 5"),
    ),
    Structural(
        "areas-geojson-in-sweref-metres-without-crs",
        reference={"areas_demo.geojson": _areas_in_metres_without_crs()},
        must_name=("areas_demo.geojson", "SWEREF 99 TM", "crs"),
    ),
]


def run_cli_in_process(cfg_path: Path) -> subprocess.CompletedProcess:
    """``lagesbild ingest`` through ``pipeline.cli.main`` in this process: the same code path as
    the console script (its one-line errors and exit codes), without a new interpreter and its
    imports per case. An exception escaping main() is recorded as its traceback, exit 1."""
    import contextlib
    import io
    import traceback

    from pipeline.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["ingest", "--config", str(cfg_path)])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - a traceback is what the test must never see
            err.write(traceback.format_exc())
            code = 1
    return subprocess.CompletedProcess(["lagesbild", "ingest"], code, out.getvalue(), err.getvalue())


def _structural_project(case: Structural, dest: Path) -> Path:
    exports = {"polisen": {"case.csv": case.export}} if case.export is not None else {}
    cfg = make_project(
        dest,
        exports,
        config=case.config if case.config is not None else base_config(["polisen"]),
        config_bytes=case.config_bytes,
        reference=case.reference,
    )
    if case.setup is not None:
        case.setup(dest)
    return cfg


def _run_structural(case: Structural, dest: Path) -> tuple[subprocess.CompletedProcess, Path]:
    return run_cli_in_process(_structural_project(case, dest)), dest


@pytest.fixture(scope="module")
def structural_runs(request, tmp_path_factory):
    """Run the CLI entry point for every *selected* structural case, in this process (a fresh
    interpreter per case cost several seconds each; `test_structural_cli_subprocess` keeps the
    real console-script path covered)."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_structural_problem_exits_2_with_one_line"
    ]
    base = tmp_path_factory.mktemp("structural")
    return {c.label: _run_structural(c, base / c.label) for c in selected}


#: Cases also run as a real subprocess (`python -m pipeline ingest`): exit code and stderr as a user sees them.
SUBPROCESS_CASES = (
    "export-missing-configured-column",
    "config-yaml-alias-bomb",
    "export-symlink-to-a-file-outside-the-project",
)


@pytest.mark.parametrize("label", SUBPROCESS_CASES)
def test_structural_cli_subprocess(tmp_path, label):
    case = next(c for c in STRUCTURAL if c.label == label)
    proc = run_cli(_structural_project(case, tmp_path / label))
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr and proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1 and all(part in lines[0] for part in case.must_name), proc.stderr


@pytest.mark.parametrize("case", [pytest.param(c, id=c.label, marks=c.marks) for c in STRUCTURAL])
def test_structural_problem_exits_2_with_one_line(structural_runs, case: Structural):
    proc, project = structural_runs[case.label]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lagesbild: error: ")
    for part in case.must_name:
        assert part in lines[0], lines[0]
    for part in case.must_not:
        assert part not in proc.stderr, proc.stderr
    assert not (project / "data" / "processed" / "events").exists()


# ----------------------------------------------------------------------------------------------
# Issue 9: a bad day ends in one clear line, and the run never deletes outside its own places
# ----------------------------------------------------------------------------------------------

BAD_DAY_WEEK = "2026-W47"
#: Files a run must never touch: look like our temp files, but lie in the inputs.
DECOYS = (
    "data/raw/polisen/.demo_polisen_2026_v35-v47.csv.abcd1234.tmp.csv",
    "data/reference/.gazetteer_demo.csv.k2j4h6g8.tmp.csv",
)
#: A stale temp file of a killed run (removed), and a user's file in maps/ that only looks like one.
STALE_TEMP, USER_FILE = "maps/2026-W47/.karta.html.abcd1234.tmp.html", "maps/.anteckningar.tmp"


def _drop_root_powers():
    """As root, chmod does not stop writes: drop the capabilities that override file permissions
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) from the child before it starts."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _file_size_limit(n_bytes: int):
    """A full disk, as the writer sees it: every write past ``n_bytes`` fails (EFBIG)."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))

    return apply


def _cli(cfg_path: Path, *args: str, preexec=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--config", str(cfg_path)],
        capture_output=True,
        text=True,
        cwd=cfg_path.parent,
        env=env,
        timeout=600,
        preexec_fn=preexec,
    )


def _one_error_line(proc: subprocess.CompletedProcess, *must: str) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("lagesbild: error: "), proc.stderr
    for part in must:
        assert part in lines[0], lines[0]
    return lines[0]


def _digests(base: Path) -> dict[str, str]:
    import hashlib

    files = [
        *sorted((base / "data/processed/events").glob("*.parquet")),
        base / f"data/processed/archive/{BAD_DAY_WEEK}.gpkg",
        *sorted((base / "maps").rglob("*.html")),
    ]
    return {str(f.relative_to(base)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _chmod_tree(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | 0o200 if writable else mode & ~0o222)


@pytest.fixture(scope="module")
def bad_day(tmp_path_factory):
    """A small project (one partner) after one successful weekly run, with decoy files in the
    inputs and a stale temp file in maps/ planted before it."""
    base = tmp_path_factory.mktemp("bad_day")
    src = ROOT / "data" / "raw" / "polisen" / "demo_polisen_2026_v35-v47.csv"
    cfg = make_project(base, {"polisen": {src.name: src.read_bytes()}})
    for rel in (*DECOYS, STALE_TEMP, USER_FILE):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text("får inte röras\n", encoding="utf-8")
    first = _cli(cfg, "weekly", "--week", BAD_DAY_WEEK)
    assert first.returncode == 0, first.stderr[-3000:]
    return cfg


def test_temp_cleanup_removes_only_its_own_temp_files(bad_day):
    base = bad_day.parent
    assert not (base / STALE_TEMP).exists()  # a killed run's temp file: removed
    for rel in (*DECOYS, USER_FILE):  # inputs and a user's file: untouched
        assert (base / rel).read_text(encoding="utf-8") == "får inte röras\n", rel


def test_ingest_takes_the_weekly_lock(bad_day):
    from filelock import FileLock

    lock = FileLock(bad_day.parent / "data" / "processed" / ".lagesbild.lock", timeout=0)
    with lock:
        proc = _cli(bad_day, "ingest")
    _one_error_line(proc, "another lagesbild run")


@pytest.mark.parametrize("folder", ["data/processed", "maps"])
def test_read_only_output_folder_is_one_line(bad_day, folder):
    base = bad_day.parent
    before = _digests(base)
    _chmod_tree(base / folder, writable=False)
    try:
        # --rebuild: the week is current, and the run must try to write it again
        proc = _cli(bad_day, "weekly", "--week", BAD_DAY_WEEK, "--rebuild", preexec=_drop_root_powers)
    finally:
        _chmod_tree(base / folder, writable=True)
    line = _one_error_line(proc, "permission denied", folder)
    assert "writable" in line
    after = _digests(base)
    assert {k: v for k, v in after.items() if k.startswith(folder)} == {
        k: v for k, v in before.items() if k.startswith(folder)
    }


def test_full_disk_while_writing_the_archive_is_one_line(bad_day):
    base = bad_day.parent
    before = _digests(base)
    proc = _cli(bad_day, "weekly", "--week", BAD_DAY_WEEK, "--rebuild", preexec=_file_size_limit(256 * 1024))
    _one_error_line(proc, "disk is full", f"{BAD_DAY_WEEK}.gpkg")
    assert _digests(base) == before  # the previous archive, event table and pages are intact


def test_full_disk_while_writing_the_event_table_is_one_line(bad_day):
    base = bad_day.parent
    export = base / "data" / "raw" / "polisen" / "demo_polisen_2026_v35-v47.csv"
    original = export.read_bytes()
    before = _digests(base)
    newline = b"" if original.endswith(b"\n") else b"\n"
    export.write_bytes(original + newline + pol("5000-K999999-26", date="2026-11-20").encode("utf-8") + b"\n")
    try:
        proc = _cli(bad_day, "weekly", "--week", BAD_DAY_WEEK, preexec=_file_size_limit(4096))
    finally:
        export.write_bytes(original)
    _one_error_line(proc, "disk is full", "data/processed")
    assert _digests(base) == before


# -- issue 9: config text is markup too --------------------------------------------------------

CONFIG_XSS = '<img src=x onerror="alert(1)">'


def test_config_labels_with_markup_stay_text_in_map_and_report():
    """Every label from config.yaml that reaches a page (municipality, groups, categories,
    partners, times of day) is escaped; the attribution is validated when the config loads."""
    from pipeline.config import Group, Partner, TimeBin
    from pipeline.render.maps import render_map
    from pipeline.render.report import render_report
    from tests.fixtures_week import build_week_context

    ctx = build_week_context()
    cfg = ctx.cfg
    update = {
        "municipality": cfg.municipality.model_copy(update={"name": f"Mjölby {CONFIG_XSS}"}),
        "groups": {k: Group(label=f"{g.label} {CONFIG_XSS}", color=g.color) for k, g in cfg.groups.items()},
        "partners": {k: p.model_copy(update={"label": f"{p.label} {CONFIG_XSS}"}) for k, p in cfg.partners.items()},
        "time_of_day": {
            k: TimeBin(label=f"{b.label} {CONFIG_XSS}", start=b.start, end=b.end) for k, b in cfg.time_of_day.items()
        },
    }
    ctx.cfg = cfg.model_copy(update=update)
    assert isinstance(next(iter(ctx.cfg.partners.values())), Partner)
    for html in (render_map(ctx), render_report(ctx)):
        assert CONFIG_XSS not in html
        assert "<img src=x" not in html  # never a tag: escaped as text (&lt;img ...) wherever shown
