"""Seeded demo data for Mjölby kommun: gazetteer, named areas and three partner exports.

Street positions and events are invented, but placed inside the real towns Mjölby, Mantorp and
Skänninge, with realistic structure (persistent hotspots, weekday and time-of-day rhythm, a few
one-off clusters, cross-partner duplicates) and realistic dirt (bad dates, unknown addresses,
coordinates outside the municipality, exact duplicate rows, blank lines, three encodings).

Same seed -> byte-identical files; nothing depends on the wall clock.

>>> from pipeline.config import load_config
>>> paths = write_demo_data(load_config("config.yaml"))       # doctest: +SKIP
>>> [p.name for p in paths][:2]                              # doctest: +SKIP
['gazetteer_demo.csv', 'areas_demo.geojson']
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from pyproj import Transformer

from pipeline.io.atomic import write_bytes

SEED = 586
FIRST_DAY = date(2026, 5, 25)  # Monday of 2026-W22
N_DAYS = 26 * 7  # .. Sunday 2026-11-22 (2026-W47)
PERIOD_START = datetime(2026, 5, 25)
PERIOD_END = datetime(2026, 11, 23)  # exclusive
SPLIT_WEEK = 35  # polisen: v22–v34 and v35–v47 in two files

# Relative output paths (below the output base dir).
GAZETTEER_PATH = "data/reference/gazetteer_demo.csv"
AREAS_PATH = "data/reference/areas_demo.geojson"
POLISEN_PATHS = ("data/raw/polisen/demo_polisen_2026_v22-v34.csv", "data/raw/polisen/demo_polisen_2026_v35-v47.csv")
KOMMUNEN_PATH = "data/raw/kommunen/demo_kommunen_2026.csv"
BOSTAD_PATH = "data/raw/bostadsbolaget/demo_bostadsbolaget_2026.csv"
REGISTER_PATH = "data/raw/insatser/demo_insatser_2026.csv"

POLISEN_COLUMNS = [
    "Diarienr",
    "Brottskod",
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
KOMMUNEN_COLUMNS = ["Ärendenr", "Datum", "Tid", "Verksamhet", "Händelsetyp", "Plats", "Beskrivning"]
BOSTAD_COLUMNS = ["arende_id", "tidpunkt", "kategori", "adress", "lat", "lon", "kommentar"]
GAZETTEER_COLUMNS = ["kind", "name", "street", "number", "town", "postcode", "x", "y", "aliases"]
REGISTER_COLUMNS = [
    "Insats-id",
    "Insats",
    "Typ",
    "Ansvarig",
    "Start",
    "Slut",
    "Område",
    "Plats",
    "Radie (m)",
    "X",
    "Y",
    "Zon",
    "Problem",
    "Kommentar",
]

# -- geography (invented positions around the real town centres, SWEREF 99 TM) ---------------

TOWN_CENTRES = {"Mjölby": (507240, 6465010), "Mantorp": (516580, 6467700), "Skänninge": (505060, 6472610)}
TOWN_WEIGHTS = {"Mjölby": 0.64, "Mantorp": 0.18, "Skänninge": 0.18}

#: Named areas: (name, town, (x0, x1, y0, y1) offsets in metres from the town centre, multiples of 50).
AREAS = [
    ("Mjölby centrum", "Mjölby", (-500, 400, -350, 450)),
    ("Resecentrum/stationsområdet", "Mjölby", (400, 900, -350, 450)),
    ("Kungshöga", "Mjölby", (-500, 900, 450, 1500)),
    ("Egeby", "Mjölby", (-1800, -500, 450, 1500)),
    ("Hagalund", "Mjölby", (-1800, -500, -800, 450)),
    ("Sörby", "Mjölby", (-500, 900, -1600, -350)),
    ("Lundby", "Mjölby", (900, 2000, -1600, 1500)),
    ("Mantorp centrum", "Mantorp", (-700, 700, -600, 600)),
    ("Mantorp norra", "Mantorp", (-700, 700, 600, 1400)),
    ("Skänninge centrum", "Skänninge", (-600, 600, -500, 500)),
    ("Skänninge södra", "Skänninge", (-600, 600, -1300, -500)),
]

#: Streets: (name, town, postcode, start offset, end offset). Storgatan and Kyrkogatan exist in
#: both Mjölby and Skänninge so matching has to use the town.
STREETS = [
    ("Storgatan", "Mjölby", "595 30", (-450, 30), (380, 30)),
    ("Vasagatan", "Mjölby", "595 30", (-450, 200), (380, 200)),
    ("Kyrkogatan", "Mjölby", "595 30", (-450, 350), (380, 350)),
    ("Drottninggatan", "Mjölby", "595 30", (-450, -150), (380, -150)),
    ("Burensköldsvägen", "Mjölby", "595 30", (-100, -330), (-100, 430)),
    ("Kungsvägen", "Mjölby", "595 30", (150, -330), (150, 430)),
    ("Repslagaregatan", "Mjölby", "595 30", (-350, -330), (-350, 430)),
    ("Västra Järnvägsgatan", "Mjölby", "595 31", (420, -330), (420, 430)),
    ("Östra Järnvägsgatan", "Mjölby", "595 31", (720, -330), (720, 430)),
    ("Kungshögavägen", "Mjölby", "595 52", (-450, 900), (850, 900)),
    ("Ringvägen", "Mjölby", "595 52", (-450, 560), (850, 560)),
    ("Skolgatan", "Mjölby", "595 52", (200, 500), (200, 1450)),
    ("Björkvägen", "Mjölby", "595 52", (-300, 1250), (600, 1250)),
    ("Egebyvägen", "Mjölby", "595 53", (-1750, 900), (-550, 900)),
    ("Lärkvägen", "Mjölby", "595 53", (-1500, 500), (-1500, 1450)),
    ("Tallvägen", "Mjölby", "595 53", (-1700, 620), (-600, 620)),
    ("Granvägen", "Mjölby", "595 53", (-1100, 1300), (-550, 1300)),
    ("Hagalundsgatan", "Mjölby", "595 50", (-1750, 0), (-550, 0)),
    ("Västra vägen", "Mjölby", "595 50", (-1250, -750), (-1250, 400)),
    ("Eriksbergsgatan", "Mjölby", "595 50", (-1750, -400), (-550, -400)),
    ("Smedjegatan", "Mjölby", "595 50", (-800, -750), (-800, 400)),
    ("Sörbyvägen", "Mjölby", "595 34", (-450, -800), (850, -800)),
    ("Blåklintsvägen", "Mjölby", "595 34", (-300, -1100), (500, -1100)),
    ("Prästgårdsgatan", "Mjölby", "595 34", (0, -400), (0, -1550)),
    ("Vallmovägen", "Mjölby", "595 34", (-300, -1400), (600, -1400)),
    ("Klockarvägen", "Mjölby", "595 34", (520, -450), (520, -1000)),
    ("Lundbyvägen", "Mjölby", "595 51", (950, 0), (1950, 0)),
    ("Industrigatan", "Mjölby", "595 51", (1400, -1500), (1400, 1400)),
    ("Vallavägen", "Mjölby", "595 51", (950, 700), (1950, 700)),
    ("Södra Lundbyvägen", "Mjölby", "595 51", (950, -800), (1950, -800)),
    ("Centralgatan", "Mantorp", "595 41", (-650, 0), (650, 0)),
    ("Stationsvägen", "Mantorp", "595 41", (200, -550), (200, 550)),
    ("Hallebyvägen", "Mantorp", "595 41", (-650, 300), (650, 300)),
    ("Östgötagatan", "Mantorp", "595 41", (-650, -300), (650, -300)),
    ("Skolvägen", "Mantorp", "595 42", (-300, -550), (-300, 550)),
    ("Sjögatan", "Mantorp", "595 42", (500, -550), (500, 550)),
    ("Vifolkavägen", "Mantorp", "595 44", (-650, 900), (650, 900)),
    ("Ekvägen", "Mantorp", "595 44", (0, 650), (0, 1350)),
    ("Lindvägen", "Mantorp", "595 44", (-600, 1200), (600, 1200)),
    ("Storgatan", "Skänninge", "596 31", (-550, 0), (550, 0)),
    ("Kyrkogatan", "Skänninge", "596 31", (-550, 200), (550, 200)),
    ("Väderkvarnsgatan", "Skänninge", "596 31", (-550, 400), (550, 400)),
    ("Borgmästaregatan", "Skänninge", "596 32", (-550, -250), (550, -250)),
    ("Hospitalsgatan", "Skänninge", "596 31", (-200, -450), (-200, 450)),
    ("Järnvägsgatan", "Skänninge", "596 32", (300, -450), (300, 450)),
    ("Södra vägen", "Skänninge", "596 34", (0, -550), (0, -1250)),
    ("Bjälbovägen", "Skänninge", "596 34", (-550, -900), (550, -900)),
    ("Vallbyvägen", "Skänninge", "596 34", (-450, -1200), (450, -1200)),
]

#: Named places: (name, town, postcode, offset, aliases, kind of place).
PLACES = [
    ("Stora torget", "Mjölby", "595 30", (0, 0), "Torget|Mjölby torg", "torg"),
    ("Resecentrum", "Mjölby", "595 31", (570, 80), "Mjölby resecentrum|Mjölby station|Stationen", "station"),
    ("Kungshögaskolan", "Mjölby", "595 52", (320, 1060), "Kungshöga skola", "skola"),
    ("Västra skolan", "Mjölby", "595 50", (-900, 250), "", "skola"),
    ("Egebyskolan", "Mjölby", "595 53", (-1150, 1100), "Egeby skola", "skola"),
    ("Fritidsgården Ungdomens hus", "Mjölby", "595 30", (-250, -250), "Ungdomens hus|Fritidsgården", "fritidsgard"),
    ("Sörbyparken", "Mjölby", "595 34", (250, -950), "", "park"),
    ("Svartåparken", "Mjölby", "595 30", (-300, 420), "Parken vid Svartån", "park"),
    ("Vallahallen", "Mjölby", "595 51", (1600, 600), "Valla sporthall|Sporthallen", "sporthall"),
    ("Mantorps resecentrum", "Mantorp", "595 41", (300, 100), "Mantorp station|Stationen Mantorp", "station"),
    ("Vifolkaskolan", "Mantorp", "595 44", (-150, 1000), "Vifolka skola", "skola"),
    ("Mantorpsparken", "Mantorp", "595 41", (-450, 180), "", "park"),
    ("Stora torget Skänninge", "Skänninge", "596 31", (20, 100), "Torget i Skänninge|Skänninge torg", "torg"),
    ("Lagmansskolan", "Skänninge", "596 34", (-350, -700), "Lagmansskolan Skänninge", "skola"),
    ("Skänninge sporthall", "Skänninge", "596 34", (300, -1000), "Sporthallen Skänninge", "sporthall"),
]

#: Streets where the housing company has its blocks (its reports come from these).
HOUSING_STREETS = {
    ("Mjölby", s)
    for s in (
        "Blåklintsvägen",
        "Vallmovägen",
        "Sörbyvägen",
        "Hagalundsgatan",
        "Eriksbergsgatan",
        "Egebyvägen",
        "Lärkvägen",
        "Tallvägen",
    )
} | {
    ("Mantorp", "Hallebyvägen"),
    ("Mantorp", "Lindvägen"),
    ("Skänninge", "Borgmästaregatan"),
    ("Skänninge", "Vallbyvägen"),
}

LINKOPING = (536320, 6474626)  # a point well outside Mjölby kommun

# -- categories ----------------------------------------------------------------------------------

#: raw category -> (weight in background noise, time profile, plausible brottskod)
POLISEN_CATEGORIES = {
    "Skadegörelse": (14, "night", "1201"),
    "Stöld": (11, "any", "0866"),
    "Stöld/inbrott": (5, "night", "0857"),
    "Inbrott": (5, "night", "0817"),
    "Misshandel": (8, "night", "0375"),
    "Misshandel, grov": (1.5, "night", "0393"),
    "Rån": (1, "night", "0898"),
    "Olaga hot": (5, "any", "0401"),
    "Narkotikabrott": (6, "night", "5011"),
    "Bråk": (5, "night", "9601"),
    "Ordningslagen": (3, "night", "9604"),
    "Fylleri/LOB": (5, "night", "9701"),
    "Brand": (3, "night", "1208"),
    "Olovlig körning": (4, "any", "3201"),
    "Våld/hot mot tjänsteman": (1.5, "night", "1701"),
    "Ofredande/förargelse": (3, "night", "0403"),
    "Våldtäkt": (0.5, "night", "0661"),
    "Misshandel i nära relation": (1.5, "night", "0390"),
    "Bedrägeri": (2, "day", "0901"),
    "Olaga intrång": (1, "any", "0416"),
}
KOMMUNEN_CATEGORIES = {
    "Skadegörelse": (14, "day"),
    "Klotter": (12, "day"),
    "Brand": (2, "night"),
    "Nedskräpning": (10, "day"),
    "Ordningsstörning": (6, "night"),
    "Samling av ungdomar": (6, "night"),
    "Misstänkt narkotikahantering": (3, "night"),
    "Hot mot personal": (2, "day"),
    "Buskörning": (4, "night"),
    "Trasig belysning": (6, "day"),
    "Igenväxt vegetation": (4, "day"),
    "Fel på lekutrustning": (1.5, "day"),
    "Övrigt": (1, "day"),
}
BOSTAD_CATEGORIES = {
    "skadegörelse": (12, "night"),
    "klotter": (6, "day"),
    "brand i soprum": (3, "night"),
    "nedskräpning": (6, "day"),
    "störning": (8, "night"),
    "ungdomar i trapphus": (5, "night"),
    "misstänkt narkotika": (2, "night"),
    "inbrott förråd": (5, "night"),
    "cykelstöld": (4, "any"),
    "hot mot personal": (1, "day"),
    "trasig belysning": (4, "day"),
    "vattenskada": (1, "day"),
}
#: A police report of this kind may also be reported by the municipality / housing company.
TWIN_KOMMUNEN = {
    "Skadegörelse": "Skadegörelse",
    "Bråk": "Ordningsstörning",
    "Brand": "Brand",
    "Narkotikabrott": "Misstänkt narkotikahantering",
    "Ordningslagen": "Ordningsstörning",
    "Våld/hot mot tjänsteman": "Hot mot personal",
    "Olovlig körning": "Buskörning",
}
TWIN_BOSTAD = {
    "Skadegörelse": "skadegörelse",
    "Brand": "brand i soprum",
    "Stöld/inbrott": "inbrott förråd",
    "Inbrott": "inbrott förråd",
    "Stöld": "cykelstöld",
    "Narkotikabrott": "misstänkt narkotika",
}

_HOURLY = {
    "night": [3, 2.5, 2, 1.2, 0.6, 0.4, 0.4, 0.6, 0.8, 1, 1, 1.2, 1.4, 1.5, 1.6, 1.8, 2, 2.4, 3, 3.5, 4, 4.2, 4, 3.5],
    "day": [0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3, 4, 4, 3.5, 3, 3, 3, 3, 2.5, 1.5, 0.8, 0.6, 0.5, 0.4, 0.3, 0.3, 0.2],
    "any": [
        1,
        0.8,
        0.6,
        0.4,
        0.3,
        0.4,
        0.8,
        1.5,
        2,
        2.2,
        2.2,
        2.2,
        2.3,
        2.3,
        2.4,
        2.5,
        2.6,
        2.6,
        2.6,
        2.5,
        2.3,
        2,
        1.6,
        1.2,
    ],
}
_WEEKDAY = [0.9, 0.9, 0.95, 1.0, 1.2, 1.35, 1.05]  # Monday .. Sunday
#: Background events per day before weekday and season factors.
DAILY_RATE = {"polisen": 5.2, "kommunen": 3.3, "bostadsbolaget": 2.6}

# -- free text -----------------------------------------------------------------------------------

KOMMUNEN_TEXT = {
    "Skadegörelse": [
        "Krossad ruta",
        "Sönderslagen papperskorg",
        "Bänk sönderbruten",
        "Skadad dörr vid entrén",
        "Sparkad cykelställ, böjt",
    ],
    "Klotter": ["Klotter på fasad", "Taggar på elskåp", "Klotter i gångtunnel", "Klotter på skylt"],
    "Brand": ["Brand i papperskorg", "Anlagd brand i container", "Brandrester på lekplatsen"],
    "Nedskräpning": ["Mycket skräp efter helgen", "Glas och burkar på gräsytan", "Dumpade sopsäckar"],
    "Ordningsstörning": ["Högljudda personer sent på kvällen", "Bråk mellan ungdomar", "Störande musik"],
    "Samling av ungdomar": [
        "Grupp ungdomar samlas varje kväll",
        "Ca 15 ungdomar, upplevs otryggt",
        "Ungdomar samlade med mopeder",
    ],
    "Misstänkt narkotikahantering": ["Misstänkt langning", "Hittat sprutor", "Lukt av cannabis"],
    "Hot mot personal": ["Personal hotad vid stängning", "Verbalt hot mot vaktmästare", "Elev hotade personal"],
    "Buskörning": ["Mopedbuskörning på gång- och cykelväg", "A-traktorer kör runt i hög fart"],
    "Trasig belysning": ["Gatlyktan släckt", "Belysning ur funktion i gångtunneln", "Flera lampor trasiga"],
    "Igenväxt vegetation": ["Buskage skymmer sikten", "Igenväxt gångväg, mörkt"],
    "Fel på lekutrustning": ["Gunga trasig", "Rutschkana skadad"],
    "Övrigt": ["Övergiven cykel", "Medborgare hör av sig om otrygghet"],
}
BOSTAD_TEXT = {
    "skadegörelse": ["Sönderslagen dörr i trapphus", "Skadad porttelefon", "Trasig ruta i tvättstugan"],
    "klotter": ["Klotter i trapphuset", "Klotter på soprumsdörren"],
    "brand i soprum": ["Brand i soprum, räddningstjänsten på plats", "Brandrök i soprummet"],
    "nedskräpning": ["Skräp i källargången", "Grovsopor ställda utanför soprum"],
    "störning": ["Störande fest, grannar klagar", "Högljudda personer i trapphuset"],
    "ungdomar i trapphus": ["Ungdomar sitter i trapphuset, röker", "Ungdomar i trapphus, upplevs otryggt"],
    "misstänkt narkotika": ["Misstänkt langning vid entrén", "Hittat påsar, misstänkt narkotika"],
    "inbrott förråd": ["Uppbrutet förråd, källare", "Inbrott i flera förråd"],
    "cykelstöld": ["Cykel stulen ur cykelrum", "Cykelrummet uppbrutet"],
    "hot mot personal": ["Bovärd hotad", "Hot mot fastighetsskötare"],
    "trasig belysning": ["Belysning trasig på gården", "Lampa ur funktion vid entrén"],
    "vattenskada": ["Vattenläcka i källare"],
}
#: Fake personal data that privacy.redact() must remove.
PII_TEXTS = [
    "Anmälare nås på 070-123 45 67",
    "Gärningsperson 19900101-1234 känd sedan tidigare",
    "Kontakt: anna.svensson@example.se",
    "Bil med reg.nr ABC 123 stod parkerad",
    "Ring Kalle 073-987 65 43",
    "Uppgiftslämnare 200101011234 vill vara anonym",
    "Mejla bovard.sorby@example.com vid frågor",
    "Moped med reg DEF 45G inblandad",
]

_TO_WGS84 = Transformer.from_crs("EPSG:3006", "EPSG:4326", always_xy=True)


# -- data model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """One gazetteer entry (an address point or a named place)."""

    kind: str
    name: str
    street: str
    number: str
    town: str
    postcode: str
    x: float
    y: float
    aliases: str = ""
    place_kind: str = ""


@dataclass
class Incident:
    """One generated incident, before it is written in a partner's format."""

    partner: str
    category: str
    loc: Place
    when: datetime
    x: float
    y: float
    end: datetime | None = None
    unit: str = ""
    twin: bool = False


@dataclass
class Demo:
    """Everything generated, plus a tally of injected dirt (for the report)."""

    gazetteer: list[Place]
    incidents: list[Incident] = field(default_factory=list)
    dirty: Counter = field(default_factory=Counter)


# -- public API ---------------------------------------------------------------------------------


def write_demo_data(cfg, seed: int = SEED, out_dir: str | Path | None = None) -> list[Path]:
    """Write the demo gazetteer, areas and partner exports below ``out_dir`` (default cfg.base_dir).

    >>> write_demo_data(cfg, out_dir="/tmp/demo")[-1].name   # doctest: +SKIP
    'demo_bostadsbolaget_2026.csv'
    """
    base = Path(out_dir) if out_dir is not None else Path(cfg.base_dir)
    files = render_demo_files(seed)
    written = []
    for rel, data in files.items():
        written.append(write_bytes(base / rel, data))
    return written


generate = write_demo_data  # the name used in docs/ARCHITECTURE.md


def render_demo_files(seed: int = SEED) -> dict[str, bytes]:
    """All demo files as {relative path: bytes}; pure and deterministic.

    >>> sorted(render_demo_files())[0]
    'data/raw/bostadsbolaget/demo_bostadsbolaget_2026.csv'
    """
    demo = generate_demo(seed)
    rng = np.random.default_rng([seed, 2])  # separate stream for formatting and dirt
    files = {GAZETTEER_PATH: gazetteer_csv(demo.gazetteer), AREAS_PATH: areas_geojson()}
    polisen = polisen_rows(demo, rng)
    for rel, part in zip(POLISEN_PATHS, _split_by_week(polisen)):
        files[rel] = _csv_bytes(POLISEN_COLUMNS, part, ";", "\r\n", "utf-8-sig")
    files[KOMMUNEN_PATH] = _csv_bytes(KOMMUNEN_COLUMNS, kommunen_rows(demo, rng), ";", "\r\n", "cp1252")
    files[BOSTAD_PATH] = _csv_bytes(BOSTAD_COLUMNS, bostad_rows(demo, rng), ",", "\n", "utf-8")
    # As Excel saves "CSV UTF-8" on a Swedish Windows: BOM, semicolons, CRLF.
    files[REGISTER_PATH] = _csv_bytes(REGISTER_COLUMNS, register_rows(), ";", "\r\n", "utf-8-sig")
    return files


def generate_demo(seed: int = SEED) -> Demo:
    """Gazetteer + incidents (not yet formatted); deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    demo = Demo(gazetteer=build_gazetteer(np.random.default_rng([seed, 1])))
    demo.incidents += background_incidents(demo.gazetteer, rng)
    demo.incidents += hotspot_incidents(demo.gazetteer, rng)
    demo.incidents += oneoff_clusters(demo.gazetteer, rng)
    demo.incidents += dst_incidents(demo.gazetteer, rng)
    # The planted intervention effects change what happened, so they come before the other
    # partners' reports of the same incidents (twins); their own stream keeps them reproducible.
    demo.incidents = planted_effects(demo.incidents, demo.gazetteer, np.random.default_rng([seed, 3]))
    demo.incidents += cross_partner_twins(demo.incidents, rng)
    # Late-night hotspots and twin time shifts can spill over the period's edges; drop those.
    demo.incidents = [i for i in demo.incidents if PERIOD_START <= i.when < PERIOD_END]
    demo.incidents.sort(key=lambda i: (i.when, i.partner, i.category, i.x))
    return demo


# -- gazetteer and areas -----------------------------------------------------------------------


def build_gazetteer(rng: np.random.Generator) -> list[Place]:
    """Address points along every street (odd numbers left, even right) and the named places."""
    out: list[Place] = []
    for name, town, postcode, a, b in STREETS:
        out += _street_addresses(name, town, postcode, a, b, rng)
    for name, town, postcode, (dx, dy), aliases, place_kind in PLACES:
        cx, cy = TOWN_CENTRES[town]
        out.append(Place("place", name, "", "", town, postcode, cx + dx, cy + dy, aliases, place_kind))
    return out


def _street_addresses(name, town, postcode, a, b, rng) -> list[Place]:
    cx, cy = TOWN_CENTRES[town]
    (ax, ay), (bx, by) = a, b
    length = math.hypot(bx - ax, by - ay)
    ux, uy = (bx - ax) / length, (by - ay) / length
    pairs = max(2, int(length // 160))
    out = []
    for i in range(pairs):
        along = (i + 0.5) * length / pairs
        for number, side in ((2 * i + 1, 1), (2 * i + 2, -1)):
            # Houses are not perfectly lined up: a few metres of noise along and across the street.
            wobble, setback = rng.uniform(-6, 6), 12 + rng.uniform(-3, 3)
            x = cx + ax + ux * (along + wobble) - uy * setback * side
            y = cy + ay + uy * (along + wobble) + ux * setback * side
            # Some houses are split into lettered entrances (12A, 12B) a few metres apart.
            letters = ["A", "B"] if rng.random() < 0.08 else [""]
            for k, letter in enumerate(letters):
                shift = 8 * k
                num = f"{number}{letter}"
                out.append(Place("address", f"{name} {num}", name, num, town, postcode, x + ux * shift, y + uy * shift))
    return out


def gazetteer_csv(gazetteer: list[Place]) -> bytes:
    """The gazetteer in the documented format (UTF-8, ',')."""
    rows = [
        [p.kind, p.name, p.street, p.number, p.town, p.postcode, f"{p.x:.1f}", f"{p.y:.1f}", p.aliases]
        for p in gazetteer
    ]
    return _csv_bytes(GAZETTEER_COLUMNS, rows, ",", "\n", "utf-8")


def area_polygons_3006() -> list[tuple[str, list[tuple[int, int]]]]:
    """Area rings in SWEREF 99 TM with a vertex every 50 m, so neighbours share exact vertices.

    >>> area_polygons_3006()[0][0]
    'Mjölby centrum'
    """
    out = []
    for name, town, (x0, x1, y0, y1) in AREAS:
        cx, cy = TOWN_CENTRES[town]
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        ring = []
        for (ax, ay), (bx, by) in zip(corners, corners[1:]):
            steps = max(abs(bx - ax), abs(by - ay)) // 50
            ring += [(cx + ax + (bx - ax) * k // steps, cy + ay + (by - ay) * k // steps) for k in range(steps)]
        out.append((name, ring + [ring[0]]))
    return out


def areas_geojson() -> bytes:
    """The named areas as an EPSG:4326 GeoJSON FeatureCollection with property ``namn``."""
    features = []
    for name, ring in area_polygons_3006():
        lon, lat = _TO_WGS84.transform([p[0] for p in ring], [p[1] for p in ring])
        coords = [[round(a, 7), round(b, 7)] for a, b in zip(lon, lat)]
        features.append(
            {"type": "Feature", "properties": {"namn": name}, "geometry": {"type": "Polygon", "coordinates": [coords]}}
        )
    doc = {"type": "FeatureCollection", "name": "areas_demo", "features": features}
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


# -- incident generation ------------------------------------------------------------------------


def _days() -> list[date]:
    return [FIRST_DAY + timedelta(days=i) for i in range(N_DAYS)]


def season_factor(day: date) -> float:
    """More incidents in high summer (peak mid-July), fewer towards late November.

    >>> season_factor(date(2026, 7, 15)) > season_factor(date(2026, 11, 20))
    True
    """
    doy = day.timetuple().tm_yday
    return 0.85 + 0.45 * math.exp(-(((doy - 196) / 40) ** 2))


def _pick(rng, items, weights):
    w = np.asarray(weights, dtype=float)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def _time_on(day: date, profile: str, rng, summer: float = 1.0) -> datetime:
    hourly = np.asarray(_HOURLY[profile], dtype=float)
    if profile == "night":
        hourly[18:] *= summer  # summer evenings are busier
    hour = int(rng.choice(24, p=hourly / hourly.sum()))
    minute = int(rng.integers(0, 60))
    if rng.random() < 0.4:  # people round to five minutes
        minute -= minute % 5
    return datetime(day.year, day.month, day.day, hour, minute)


def _jitter(p: Place, rng, sd: float) -> tuple[float, float]:
    dx, dy = np.clip(rng.normal(0, sd, 2), -2.5 * sd, 2.5 * sd)
    return round(p.x + float(dx), 1), round(p.y + float(dy), 1)


def _incident(partner, category, p: Place, when, rng, end=None, unit="") -> Incident:
    x, y = _jitter(p, rng, 18 if p.kind == "place" else 6)
    return Incident(partner, category, p, when, x, y, end, unit)


def _index(gazetteer):
    places = {p.name: p for p in gazetteer if p.kind == "place"}
    addresses = {p.name + "|" + p.town: p for p in gazetteer if p.kind == "address"}
    return places, addresses


def _random_location(gazetteer, partner, category, rng) -> Place:
    town = _pick(rng, list(TOWN_WEIGHTS), list(TOWN_WEIGHTS.values()))
    in_town = [p for p in gazetteer if p.town == town]
    if partner == "bostadsbolaget":
        pool = [p for p in in_town if (p.town, p.street) in HOUSING_STREETS]
    elif category in ("Misshandel i nära relation", "Våldtäkt", "Inbrott"):
        pool = [p for p in in_town if p.kind == "address"]
    else:
        place_share = 0.45 if partner == "kommunen" else 0.2
        kind = "place" if rng.random() < place_share else "address"
        pool = [p for p in in_town if p.kind == kind]
    return pool[int(rng.integers(len(pool)))]


def _unit_for(partner, p: Place, rng) -> str:
    if partner != "kommunen":
        return ""
    if p.place_kind in ("skola", "fritidsgard"):
        return p.name
    return _pick(
        rng,
        ["Tekniska förvaltningen", "Samhällsbyggnadsförvaltningen", "Kultur- och fritidsförvaltningen"],
        [0.6, 0.25, 0.15],
    )


def _end_time(partner, category, start, rng):
    """Police burglaries/thefts/damage are often reported as an interval (found in the morning)."""
    if (
        partner == "polisen"
        and category in ("Inbrott", "Stöld/inbrott", "Stöld", "Skadegörelse")
        and rng.random() < 0.4
    ):
        return start + timedelta(hours=int(rng.integers(1, 15)), minutes=int(rng.integers(0, 4)) * 15)
    return None


def background_incidents(gazetteer, rng) -> list[Incident]:
    """Diffuse incidents everywhere, with weekday, time-of-day and seasonal rhythm."""
    catalogues = {
        "polisen": {k: v[:2] for k, v in POLISEN_CATEGORIES.items()},
        "kommunen": KOMMUNEN_CATEGORIES,
        "bostadsbolaget": BOSTAD_CATEGORIES,
    }
    out = []
    for day in _days():
        season = season_factor(day)
        for partner, rate in DAILY_RATE.items():
            cats = catalogues[partner]
            for _ in range(int(rng.poisson(rate * _WEEKDAY[day.weekday()] * season))):
                category = _pick(rng, list(cats), [w for w, _ in cats.values()])
                when = _time_on(day, cats[category][1], rng, summer=season)
                p = _random_location(gazetteer, partner, category, rng)
                out.append(
                    _incident(
                        partner,
                        category,
                        p,
                        when,
                        rng,
                        _end_time(partner, category, when, rng),
                        _unit_for(partner, p, rng),
                    )
                )
    return out


def _school_day(day: date) -> bool:
    summer_break = date(2026, 6, 12) <= day <= date(2026, 8, 18)
    autumn_break = date(2026, 10, 26) <= day <= date(2026, 10, 30)  # höstlov, W44
    return day.weekday() < 5 and not (summer_break or autumn_break)


def hotspot_incidents(gazetteer, rng) -> list[Incident]:
    """The persistent hotspots: Resecentrum Fri/Sat nights, Stora torget evenings,
    Kungshögaskolan weekday afternoons, and the housing blocks on Blåklintsvägen in Sörby."""
    places, _ = _index(gazetteer)
    blocks = [p for p in gazetteer if p.street == "Blåklintsvägen" and p.number.rstrip("AB") in ("2", "4", "6", "8")]
    out = []
    for day in _days():
        out += _resecentrum_night(day, places["Resecentrum"], rng)
        out += _torget_evening(day, places["Stora torget"], rng)
        out += _school_afternoon(day, places["Kungshögaskolan"], rng)
        out += _sorby_blocks(day, blocks, rng)
    return out


def _at(day: date, hour: int, rng) -> datetime:
    """A time in [hour, hour+1) on ``day``; hours >= 24 fall on the next day."""
    return datetime(day.year, day.month, day.day) + timedelta(hours=hour, minutes=int(rng.integers(0, 60)))


def _resecentrum_night(day, p, rng):
    if day.weekday() not in (4, 5):
        return []
    out = []
    for _ in range(int(rng.poisson(2.4 * season_factor(day)))):
        when = _at(day, int(rng.choice([21, 22, 23, 24, 25, 26])), rng)
        if rng.random() < 0.6:
            cat = _pick(
                rng,
                ["Bråk", "Misshandel", "Fylleri/LOB", "Ordningslagen", "Narkotikabrott", "Olaga hot"],
                [4, 3, 3, 2, 2, 1],
            )
            out.append(_incident("polisen", cat, p, when, rng))
        else:
            cat = _pick(rng, ["Ordningsstörning", "Samling av ungdomar", "Skadegörelse", "Nedskräpning"], [3, 3, 2, 1])
            out.append(_incident("kommunen", cat, p, when, rng, unit="Tekniska förvaltningen"))
    return out


def _torget_evening(day, p, rng):
    out = []
    for _ in range(int(rng.poisson(0.5 * season_factor(day)))):
        when = _at(day, int(rng.integers(18, 24)), rng)
        if rng.random() < 0.5:
            cat = _pick(rng, ["Bråk", "Skadegörelse", "Ofredande/förargelse", "Narkotikabrott"], [3, 2, 2, 1])
            out.append(_incident("polisen", cat, p, when, rng))
        else:
            cat = _pick(rng, ["Samling av ungdomar", "Ordningsstörning", "Klotter", "Nedskräpning"], [3, 2, 2, 2])
            out.append(_incident("kommunen", cat, p, when, rng, unit="Tekniska förvaltningen"))
    return out


def _school_afternoon(day, p, rng):
    if not _school_day(day):
        return []
    out = []
    for _ in range(int(rng.poisson(0.7))):
        when = _at(day, int(rng.integers(12, 17)), rng)
        cat = _pick(
            rng,
            ["Skadegörelse", "Klotter", "Hot mot personal", "Samling av ungdomar", "Misstänkt narkotikahantering"],
            [4, 3, 1, 2, 1],
        )
        out.append(_incident("kommunen", cat, p, when, rng, unit=p.name))
    return out


def _sorby_blocks(day, blocks, rng):
    out = []
    for _ in range(int(rng.poisson(0.55))):
        p = blocks[int(rng.integers(len(blocks)))]
        when = _at(day, int(rng.choice([17, 18, 19, 20, 21, 22, 23, 24, 25])), rng)
        cat = _pick(
            rng, ["skadegörelse", "klotter", "brand i soprum", "ungdomar i trapphus", "nedskräpning"], [4, 2, 2, 3, 1]
        )
        out.append(_incident("bostadsbolaget", cat, p, when, rng))
    return out


#: One-off clusters: (place, first day, days spanned, count, hours, [(partner, category), ...]).
ONEOFF = [
    (
        "Mantorps resecentrum",
        date(2026, 7, 15),
        3,
        8,
        (19, 24),
        [
            ("polisen", "Skadegörelse"),
            ("polisen", "Bråk"),
            ("kommunen", "Klotter"),
            ("kommunen", "Samling av ungdomar"),
        ],
    ),
    (
        "Stora torget Skänninge",
        date(2026, 9, 19),
        1,
        7,
        (20, 26),
        [("polisen", "Bråk"), ("polisen", "Fylleri/LOB"), ("kommunen", "Ordningsstörning")],
    ),
    (
        "Vallahallen",
        date(2026, 11, 2),
        6,
        9,
        (17, 23),
        [("kommunen", "Skadegörelse"), ("kommunen", "Samling av ungdomar"), ("polisen", "Narkotikabrott")],
    ),
    (
        "Egebyskolan",
        date(2026, 11, 17),
        5,
        7,
        (18, 23),
        [("kommunen", "Skadegörelse"), ("kommunen", "Brand"), ("kommunen", "Klotter"), ("polisen", "Skadegörelse")],
    ),
]


def oneoff_clusters(gazetteer, rng) -> list[Incident]:
    """A few short-lived clusters, e.g. a new hotspot at Egebyskolan in the last week (2026-W47)."""
    places, _ = _index(gazetteer)
    out = []
    for name, first, span, count, (h0, h1), kinds in ONEOFF:
        p = places[name]
        for _ in range(count):
            day = first + timedelta(days=int(rng.integers(span)))
            partner, cat = kinds[int(rng.integers(len(kinds)))]
            unit = (
                (p.name if p.place_kind == "skola" else "Kultur- och fritidsförvaltningen")
                if partner == "kommunen"
                else ""
            )
            out.append(_incident(partner, cat, p, _at(day, int(rng.integers(h0, h1)), rng), rng, unit=unit))
    return out


def dst_incidents(gazetteer, rng) -> list[Incident]:
    """Two incidents in the repeated hour 02:00–03:00 on 2026-10-25 (end of summer time)."""
    places, _ = _index(gazetteer)
    p = places["Resecentrum"]
    return [
        _incident("polisen", "Bråk", p, datetime(2026, 10, 25, 2, 20), rng),
        _incident("kommunen", "Skadegörelse", p, datetime(2026, 10, 25, 2, 45), rng, unit="Tekniska förvaltningen"),
    ]


def cross_partner_twins(incidents, rng, share: float = 0.07) -> list[Incident]:
    """Some police incidents are also reported by the municipality or the housing company:
    same kind, within ~30 m (< 50 m) and ±30 minutes."""
    out = []
    for inc in incidents:
        if inc.partner != "polisen" or rng.random() >= share:
            continue
        housing = (inc.loc.town, inc.loc.street) in HOUSING_STREETS
        if housing and inc.category in TWIN_BOSTAD:
            partner, cat, unit = "bostadsbolaget", TWIN_BOSTAD[inc.category], ""
        elif inc.category in TWIN_KOMMUNEN:
            partner, cat, unit = "kommunen", TWIN_KOMMUNEN[inc.category], "Tekniska förvaltningen"
        else:
            continue
        angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0, 30)
        shift = timedelta(minutes=int(rng.integers(-30, 31)))
        out.append(
            replace(
                inc,
                partner=partner,
                category=cat,
                when=inc.when + shift,
                end=None,
                unit=unit,
                x=round(inc.x + dist * math.cos(angle), 1),
                y=round(inc.y + dist * math.sin(angle), 1),
                twin=True,
            )
        )
    return out


# -- the interventions register and the effects it knows ---------------------------------------

#: Centre of the housing company's blocks on Blåklintsvägen (2–8) in Sörby, SWEREF 99 TM.
BLOCKS_CENTRE = (507260, 6463910)


@dataclass(frozen=True)
class Planted:
    """One register row and the truth built into the events.

    ``effect``: ``reduce`` removes ``share`` of the target's incidents while the intervention
    runs; ``displace`` moves ``share`` of them to housing addresses in the displacement ring
    (250–500 m from the target's centre); ``none`` changes nothing. ``expected`` is the
    verdict (and ring note) an honest evaluation should reach, for the tests.
    """

    row: dict
    effect: str = "none"
    share: float = 0.0
    expected: tuple[str, str] | None = None


def _reg(
    iid, name, typ, resp, start, end="", area="", place="", radius="", x="", y="", zone="", problem="", comment=""
) -> dict:
    return dict(
        zip(REGISTER_COLUMNS, [iid, name, typ, resp, start, end, area, place, radius, x, y, zone, problem, comment])
    )


PLANTED = [
    Planted(
        _reg(
            "MJ-2026-01",
            "Ökad polisnärvaro i centrum fredag och lördag kväll",
            "Polisnärvaro",
            "Polismyndigheten",
            "2026-09-07",
            area="Mjölby centrum",
            comment="Två patruller fre–lör 20–02. Kontakt: gruppchef 070-123 45 67",
        ),
        effect="reduce",
        share=0.5,
        expected=("minskning", ""),
    ),
    Planted(
        _reg(
            "MJ-2026-02",
            "Trygghetsvandringar med fältassistenter",
            "Trygghetsvandring",
            "Mjölby kommun",
            "14 sep 2026",
            "2026-10-25",
            area="Mantorp centrum",
            comment="Varannan torsdag",
        ),
        expected=("ingen säker förändring", ""),
    ),
    Planted(
        _reg(
            "MJ-2026-03",
            "Väktarrondering vid Blåklintsvägens hus",
            "väktare",
            "Bostadsbolaget i Mjölby",
            "2026-09-14",
            radius="250",
            x=str(BLOCKS_CENTRE[0]),
            y=str(BLOCKS_CENTRE[1]),
            problem="",
            comment="Rondering kvällar och nätter",
        ),
        effect="displace",
        share=0.7,
        expected=(None, "tecken på förflyttning till närområdet"),
    ),
    Planted(
        _reg(
            "MJ-2026-04",
            "Ny belysning på skolgården",
            "Belysning",
            "Mjölby kommun",
            "2026-10-05",
            "2026-10-09",
            place="Lagmansskolan",
            radius="150",
            problem="Otrygg plats (belysning, vegetation)",
        ),
        expected=("för få händelser för att säga något", ""),
    ),
    Planted(
        _reg(
            "MJ-2026-05",
            "Klotterborttagning inom 24 timmar",
            "Klotterborttagning",
            "Mjölby kommun",
            "2026-06-01",
            "28/6/2026",
            area="Skänninge centrum",
            problem="klotter, skadegörelse",
        )
    ),
    Planted(
        _reg(
            "MJ-2026-06",
            "Röjning av buskage längs gångvägen",
            "Röjning av vegetation",
            "Mjölby kommun",
            "2026-12-07",
            place="Sörbyparken",
            problem="Otrygg miljö",
        )
    ),
    # Rows a coordinator gets wrong, which the register must reject with a reason.
    Planted(
        _reg(
            "MJ-2026-07",
            "Ordningsvakter vid resecentrum",
            "Ordningsvakter",
            "Mjölby kommun",
            "2026-10-02",
            place="Resecentrum",
        )
    ),
    Planted(
        _reg(
            "MJ-2026-08",
            "Kameraövervakning av torget",
            "Kameraövervakning",
            "Polismyndigheten",
            "2026-11-02",
            "2026-10-30",
            place="Stora torget",
        )
    ),
    Planted(
        _reg(
            "MJ-2026-09",
            "Fältassistenter kvällstid",
            "Fältassistenter",
            "Mjölby kommun",
            "2026-10-12",
            area="Kungshöga centrum",
        )
    ),
]


def register_rows() -> list[list[str]]:
    """The demo register's rows, in the order a coordinator added them."""
    return [[p.row[c] for c in REGISTER_COLUMNS] for p in PLANTED]


def _planted_period(p: Planted) -> tuple[datetime, datetime]:
    start = _register_date(p.row["Start"])
    end = _register_date(p.row["Slut"]) + timedelta(days=1) if p.row["Slut"] else PERIOD_END
    return start, end


def _register_date(text: str) -> datetime:
    for fmt in ("%Y-%m-%d", "%d %b %Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.replace("sep", "Sep"), fmt)
        except ValueError:
            pass
    raise ValueError(text)


def _planted_target(p: Planted, gazetteer):
    """(contains(x, y), centre) of a planted target, from the same sources the register names."""
    if p.row["Område"]:
        ((_, ring),) = [a for a in area_polygons_3006() if a[0] == p.row["Område"]]
        return (lambda x, y: _in_polygon(x, y, ring)), None
    if p.row["X"]:
        cx, cy = float(p.row["X"]), float(p.row["Y"])
    else:
        place = next(g for g in gazetteer if g.name == p.row["Plats"])
        cx, cy = place.x, place.y
    radius = float(p.row["Radie (m)"] or 200)
    return (lambda x, y: math.hypot(x - cx, y - cy) <= radius), (cx, cy, radius)


def _in_polygon(x: float, y: float, ring: list[tuple[int, int]]) -> bool:
    """Even-odd rule (the areas are axis-aligned rectangles, but this is general)."""
    inside = False
    for (ax, ay), (bx, by) in zip(ring, ring[1:]):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def planted_effects(incidents: list[Incident], gazetteer, rng) -> list[Incident]:
    """Build each planted intervention's effect into the incidents (see :class:`Planted`)."""
    out = list(incidents)
    for p in PLANTED:
        if p.effect == "none":
            continue
        start, end = _planted_period(p)
        contains, centre = _planted_target(p, gazetteer)
        hit = [k for k, inc in enumerate(out) if start <= inc.when < end and contains(inc.x, inc.y)]
        chosen = {k for k in hit if rng.random() < p.share}
        if p.effect == "reduce":
            out = [inc for k, inc in enumerate(out) if k not in chosen]
        elif p.effect == "displace":
            homes = _ring_addresses(gazetteer, centre)
            for k in sorted(chosen):
                home = homes[int(rng.integers(len(homes)))]
                x, y = _jitter(home, rng, 6)
                out[k] = replace(out[k], loc=home, x=x, y=y)
    return out


def _ring_addresses(gazetteer, centre) -> list[Place]:
    """Housing addresses 250–500 m from the target's centre: where the trouble moves to."""
    cx, cy, radius = centre
    return [
        g
        for g in gazetteer
        if g.kind == "address"
        and (g.town, g.street) in HOUSING_STREETS
        and radius + 10 <= math.hypot(g.x - cx, g.y - cy) <= radius + 240
    ]


# -- partner formats ------------------------------------------------------------------------------


def _d(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


def _hm(t: datetime) -> str:
    return t.strftime("%H:%M")


def _coord(v: float, rng) -> str:
    """Integer metres mostly; sometimes with a decimal comma, as some exports do."""
    return f"{v:.1f}".replace(".", ",") if rng.random() < 0.2 else str(int(round(v)))


def polisen_rows(demo: Demo, rng) -> list[list[str] | None]:
    """Police rows in time order (Diarienr increases with time), with dirt injected."""
    rows: list[list[str] | None] = []
    serial = 112000
    for inc in (i for i in demo.incidents if i.partner == "polisen"):
        serial += int(rng.integers(3, 30))
        mode = _pick(rng, ["both", "address", "xy"], [0.55, 0.37, 0.08])
        address = inc.loc.name if mode != "xy" else ""
        x, y = (_coord(inc.x, rng), _coord(inc.y, rng)) if mode != "address" else ("", "")
        end = inc.end
        rows.append(
            [
                f"5000-K{serial}-26",
                POLISEN_CATEGORIES[inc.category][2],
                inc.category,
                _d(inc.when),
                _hm(inc.when),
                _d(end) if end else "",
                _hm(end) if end else "",
                address,
                inc.loc.town,
                x,
                y,
            ]
        )
    _dirty_polisen(rows, demo.dirty, rng)
    return rows


def _dirty_polisen(rows, tally, rng):
    for i in _sample(rows, 4, rng):
        rows[i][3] = ""
        tally["polisen: empty date"] += 1
    bad_dates = ["2026-06-31", "2026-13-02", "2026-9-31", "0000-00-00"]
    for i, bad in zip(_sample(rows, len(bad_dates), rng), bad_dates):
        rows[i][3] = bad
        tally["polisen: unparseable date"] += 1
    unknown = [
        "Påhittade vägen 99",
        "Månskensgränd 14",
        "Påhittade vägen 3",
        "Okänd adress",
        "Drakstigen 77",
        "Påhittade vägen 99",
    ]
    for i, street in zip(_sample(rows, len(unknown), rng), unknown):
        rows[i][7:11] = [street, "Mjölby", "", ""]
        tally["polisen: unknown address, no coordinates"] += 1
    for i in _sample(rows, 5, rng):
        x, y = LINKOPING[0] + int(rng.integers(-800, 800)), LINKOPING[1] + int(rng.integers(-800, 800))
        rows[i][7:11] = [f"Drottninggatan {int(rng.integers(1, 40))}", "Linköping", str(x), str(y)]
        tally["polisen: coordinates outside the municipality (Linköping)"] += 1
    _duplicate_rows(rows, 6, rng, tally, "polisen")
    # One blank line in each of the two files.
    _blank_line(rows, len(rows) // 4, tally, "polisen")
    _blank_line(rows, 3 * len(rows) // 4, tally, "polisen")


def _sample(rows, n, rng) -> list[int]:
    """``n`` distinct indices of data rows (not blank lines), in ascending order."""
    candidates = [i for i, r in enumerate(rows) if r is not None]
    return sorted(int(i) for i in rng.choice(candidates, size=n, replace=False))


def _duplicate_rows(rows, n, rng, tally, partner):
    for i in sorted(_sample(rows, n, rng), reverse=True):
        rows.insert(i + 1, list(rows[i]))
        tally[f"{partner}: exact duplicate row"] += 1


def _blank_line(rows, at, tally, partner):
    rows.insert(at, None)
    tally[f"{partner}: blank line"] += 1


def _split_by_week(rows):
    """Split police rows into weeks 22–34 and 35–47 by the row's position (rows are in time order)."""
    first, second = [], []
    target = first
    for row in rows:
        if row is not None and _row_week(row) >= SPLIT_WEEK:
            target = second
        target.append(row)
    return first, second


def _row_week(row) -> int:
    try:
        return date.fromisoformat(row[3]).isocalendar().week
    except ValueError:
        return 0  # empty/bad date: stays in the file of its neighbours


def _kommunen_date(t: datetime, rng) -> str:
    style = _pick(rng, ["iso", "dmy_slash", "dmy_dot", "compact"], [0.8, 0.07, 0.07, 0.06])
    return {
        "iso": _d(t),
        "dmy_slash": f"{t.day}/{t.month}/{t.year}",
        "dmy_dot": t.strftime("%d.%m.%Y"),
        "compact": t.strftime("%Y%m%d"),
    }[style]


def _kommunen_time(t: datetime, rng) -> str:
    style = _pick(rng, ["colon", "dot", "compact"], [0.8, 0.1, 0.1])
    return {"colon": _hm(t), "dot": t.strftime("%H.%M"), "compact": t.strftime("%H%M")}[style]


def _fold_ascii(text: str) -> str:
    return text.translate(str.maketrans("åäöÅÄÖé", "aaoAAOe"))


def written_address(p: Place, rng, always_town: bool = False) -> str:
    """An address the way staff type it: abbreviated, lower case, misspelt, with postcode/town."""
    if p.kind == "place":
        options = [p.name] + [a for a in p.aliases.split("|") if a]
        text = options[int(rng.integers(len(options)))]
        return text if p.town == "Mjölby" or p.town in text or not always_town else f"{text}, {p.town}"
    style = _pick(rng, ["plain", "abbrev", "lower", "ascii"], [0.7, 0.1, 0.1, 0.1])
    street = p.street
    if style == "abbrev" and street.endswith("gatan"):
        street = street[:-4] + ("." if rng.random() < 0.6 else "")
    elif style == "lower":
        street = street.lower()
    elif style == "ascii":
        street = _fold_ascii(street)
    text = f"{street} {p.number}"
    suffix = _pick(rng, ["", "town", "postcode"], [0.7, 0.15, 0.15])
    if always_town and p.town != "Mjölby" and suffix == "":
        suffix = "town"
    if suffix == "town":
        text += f", {p.town}"
    elif suffix == "postcode":
        text += f", {p.postcode} {p.town}"
    return text


def _description(texts, category, rng) -> str:
    options = texts.get(category, ["Se ärende"])
    text = options[int(rng.integers(len(options)))]
    if rng.random() < 0.012:  # a few carry personal data that must be redacted later
        text += ". " + PII_TEXTS[int(rng.integers(len(PII_TEXTS)))]
    return text


def kommunen_rows(demo: Demo, rng) -> list[list[str] | None]:
    """Municipality rows: mixed date/time formats, free-typed places, free text."""
    rows: list[list[str] | None] = []
    for serial, inc in enumerate((i for i in demo.incidents if i.partner == "kommunen"), start=1):
        rows.append(
            [
                f"MK-2026-{serial:05d}",
                _kommunen_date(inc.when, rng),
                _kommunen_time(inc.when, rng),
                inc.unit,
                inc.category,
                written_address(inc.loc, rng, always_town=True),
                _description(KOMMUNEN_TEXT, inc.category, rng),
            ]
        )
    _dirty_kommunen(rows, demo.dirty, rng)
    return rows


def _dirty_kommunen(rows, tally, rng):
    bad_dates = ["32/13/2026", "igår", "2026-02-30", "förra veckan", "31/11/2026", "igår", "2026-13-01", "i helgen"]
    for i, bad in zip(_sample(rows, len(bad_dates), rng), bad_dates):
        rows[i][1] = bad
        tally["kommunen: unparseable date"] += 1
    for i in _sample(rows, 4, rng):
        rows[i][1] = ""
        tally["kommunen: empty date"] += 1
    for i in _sample(rows, 3, rng):
        rows[i][2] = "25.70"
        tally["kommunen: unparseable time"] += 1
    unknown = [
        "Påhittade vägen 99",
        "Månskensgränd 14",
        "bakom affären",
        "Påhittade vägen 12, Mjölby",
        "Drakstigen 77",
        "vid kiosken",
        "Påhittade vägen 99",
    ]
    for i, place in zip(_sample(rows, len(unknown), rng), unknown):
        rows[i][5] = place
        tally["kommunen: unknown address"] += 1
    for i in _sample(rows, 3, rng):
        rows[i][5] = ""
        tally["kommunen: empty place"] += 1
    _duplicate_rows(rows, 6, rng, tally, "kommunen")
    _blank_line(rows, len(rows) // 2, tally, "kommunen")


def _latlon(x: float, y: float) -> tuple[str, str]:
    lon, lat = _TO_WGS84.transform(x, y)
    return f"{lat:.6f}", f"{lon:.6f}"


def bostad_rows(demo: Demo, rng) -> list[list[str] | None]:
    """Housing company rows: ISO timestamps, WGS84 lat/lon (some missing), free text."""
    rows: list[list[str] | None] = []
    for serial, inc in enumerate((i for i in demo.incidents if i.partner == "bostadsbolaget"), start=1):
        stamp = inc.when.strftime("%Y-%m-%dT%H:%M:%S") if rng.random() < 0.85 else inc.when.strftime("%Y-%m-%d %H:%M")
        lat, lon = _latlon(inc.x, inc.y) if rng.random() < 0.88 else ("", "")
        address = f"{inc.loc.name}, {inc.loc.town}" if rng.random() < 0.3 else inc.loc.name
        rows.append(
            [f"BB26-{serial:05d}", stamp, inc.category, address, lat, lon, _description(BOSTAD_TEXT, inc.category, rng)]
        )
    _dirty_bostad(rows, demo.dirty, rng)
    return rows


def _dirty_bostad(rows, tally, rng):
    for i in _sample(rows, 2, rng):
        if rows[i][4]:
            rows[i][4], rows[i][5] = rows[i][5], rows[i][4]
            tally["bostadsbolaget: lat/lon swapped (recoverable)"] += 1
    bad_stamps = ["2026-11-31T25:00:00", "", "nyss", "2026-09-31 18:00", "", "okänd tid", "2026-06-3118:00"]
    for i, bad in zip(_sample(rows, len(bad_stamps), rng), bad_stamps):
        rows[i][1] = bad
        tally["bostadsbolaget: empty or unparseable tidpunkt"] += 1
    for i in _sample(rows, 5, rng):
        lat, lon = _latlon(LINKOPING[0] + float(rng.integers(-800, 800)), LINKOPING[1] + float(rng.integers(-800, 800)))
        rows[i][3:6] = [f"Ågatan {int(rng.integers(1, 40))}, Linköping", lat, lon]
        tally["bostadsbolaget: coordinates outside the municipality (Linköping)"] += 1
    for i in _sample(rows, 5, rng):
        rows[i][3:6] = ["Påhittade vägen 99", "", ""]
        tally["bostadsbolaget: unknown address, no coordinates"] += 1
    _duplicate_rows(rows, 5, rng, tally, "bostadsbolaget")
    _blank_line(rows, len(rows) // 3, tally, "bostadsbolaget")


def _csv_bytes(header, rows, delimiter, newline, encoding) -> bytes:
    """Serialise rows (None = blank line) with minimal quoting."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        if row is None:
            buf.write(newline)
        else:
            writer.writerow(row)
    return buf.getvalue().encode(encoding)


# -- CLI --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.demo [--config config.yaml] [--seed 586] [--out-dir DIR]``."""
    from pipeline.config import load_config  # noqa: PLC0415 - config imports this package's callers

    parser = argparse.ArgumentParser(prog="lagesbild demo-data", description="Skriv demodata för Mjölby kommun.")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    for path in write_demo_data(cfg, seed=args.seed, out_dir=args.out_dir):
        print(f"skrev {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
