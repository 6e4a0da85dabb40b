"""Redaction of personal data in Swedish free text, and small-count suppression."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipeline.privacy as privacy
from pipeline.privacy import format_count, redact, redact_series, suppress_small
from tests.test_bad_inputs import NOW, base_config, make_project, pol

PNR, TEL, MAIL, REG = "[personnummer]", "[telefon]", "[e-post]", "[regnr]"

# (free text as staff write it, expected text after redaction)
SAMPLES = [
    # personal identity and coordination numbers
    ("Gärningsperson 19900101-1234 känd sedan tidigare", f"Gärningsperson {PNR} känd sedan tidigare"),
    ("Uppgiftslämnare 200101011234 vill vara anonym", f"Uppgiftslämnare {PNR} vill vara anonym"),
    ("Anmälare 850101-1234, bor i huset", f"Anmälare {PNR}, bor i huset"),
    ("Äldre man 451212+1234 hittad på bänk", f"Äldre man {PNR} hittad på bänk"),
    ("Pnr 8501011234 enl. ID-kort", f"Pnr {PNR} enl. ID-kort"),
    ("Samordningsnr 850161-1234 (ej folkbokförd)", f"Samordningsnr {PNR} (ej folkbokförd)"),
    ("Målsägande (19850101-1234) omhändertagen", f"Målsägande ({PNR}) omhändertagen"),
    # phone numbers
    ("Anmälare nås på 070-123 45 67", f"Anmälare nås på {TEL}"),
    ("Ring Kalle 073-987 65 43 efter kl 16", f"Ring Kalle {TEL} efter kl 16"),
    ("Tel 0701234567.", f"Tel {TEL}."),
    ("Kontakt +46 70 123 45 67 (mamma)", f"Kontakt {TEL} (mamma)"),
    ("Fastighetsskötare 013-12 34 56 larmad", f"Fastighetsskötare {TEL} larmad"),
    ("Växel 08-123 456 78", f"Växel {TEL}"),
    ("Ring 0142-123 45 vid frågor", f"Ring {TEL} vid frågor"),
    ("Mobil: 070-1234567", f"Mobil: {TEL}"),
    # e-mail
    ("Kontakt: anna.svensson@example.se", f"Kontakt: {MAIL}"),
    ("Mejla bovard.sorby@example.com vid frågor", f"Mejla {MAIL} vid frågor"),
    # vehicle registrations
    ("Bil med reg.nr ABC 123 stod parkerad", f"Bil med reg.nr {REG} stod parkerad"),
    ("Moped med reg DEF 45G inblandad", f"Moped med reg {REG} inblandad"),
    ("Vit Volvo XYZ789 sågs lämna platsen", f"Vit Volvo {REG} sågs lämna platsen"),
    # several at once
    (
        "Anmälare 850101-1234 (070-123 45 67, a.b@mjolby.se) såg bil ABC 12A",
        f"Anmälare {PNR} ({TEL}, {MAIL}) såg bil {REG}",
    ),
    # nothing personal: must come out unchanged
    ("Klotter på fasaden vid Vasagatan 12, ca 2 m²", None),
    ("Händelse 2026-11-16 kl 21:40, Storgatan 12B", None),
    ("Ärende 5000-K123456-26 överlämnat till polisen", None),
    ("Diarienr 5000-K1234567-26 och 5000-K110512-26", None),
    ("Ungdomar samlades 18.30–21.00 vid Resecentrum", None),
    ("Vasagatan 12, 595 30 Mjölby", None),
    ("Skadegörelse 2026-11-16 21:40 – 2026-11-17 06:15", None),
    ("Ca 15 personer, 3 st cyklar stulna, 2 500 kr i skada", None),
    ("Brand i soprum år 2026, tredje gången sedan 2024", None),
    ("Kommunkod 0586, Mjölby kommun", None),
    ("Trasig belysning på gång- och cykelväg 4 stolpar", None),
    ("Lgh 1102, uppg. B, tr 3", None),
    ("Larm kl 0230, väktare på plats 0245", None),
    ("MK-2026-00123 registrerat av bovärd", None),
    ("Kamera 12 visar SOS 112 ringdes", None),
    ("Datum 20261116, tid 2140", None),
    ("Koordinater 507240,6465010", None),
    ("", None),
]


@pytest.mark.parametrize("text, expected", SAMPLES, ids=[s[0][:40] for s in SAMPLES])
def test_redact(text, expected):
    assert redact(text) == (text if expected is None else expected)


def test_redact_missing_values():
    assert redact(None) == "" and redact(pd.NA) == "" and redact(np.nan) == ""


def test_redacted_text_has_no_digits_left_of_personal_data():
    for text, expected in SAMPLES:
        if expected is not None:
            out = redact(text)
            assert "1234" not in out and "@" not in out


def test_redact_series_keeps_index_and_handles_na():
    s = pd.Series(["ring 0701234567", None, "Vasagatan 12", pd.NA], index=[5, 6, 7, 8], dtype="object")
    out = redact_series(s)
    assert out.dtype == "string" and list(out.index) == [5, 6, 7, 8]
    assert out.tolist() == [f"ring {TEL}", "", "Vasagatan 12", ""]


def test_redact_series_matches_redact_on_all_samples():
    texts = pd.Series([t for t, _ in SAMPLES] * 3)
    assert redact_series(texts).tolist() == [redact(t) for t in texts]


# -- small counts ---------------------------------------------------------------------------------


def area_counts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": ["Centrum", "Centrum", "Sörby", "Sörby", "Valla"],
            "category": ["vald_nara_relation", "klotter", "sexualbrott", "vald_nara_relation", "sexualbrott"],
            "n_events": [2, 1, 0, 7, 3],
        }
    )


def test_suppress_small():
    df = area_counts()
    sensitive = df["category"].isin(["vald_nara_relation", "sexualbrott"])
    out = suppress_small(df, "n_events", sensitive, k=3)
    assert out["n_events"].dtype == "Int64" and out["suppressed"].dtype == bool
    assert out["suppressed"].tolist() == [True, False, False, False, False]
    assert out["n_events"].tolist() == [pd.NA, 1, 0, 7, 3]  # 1 klotter: not sensitive; 0 and 3: not below k
    assert df["n_events"].tolist() == [2, 1, 0, 7, 3]  # input untouched


def test_suppress_small_with_column_name_and_non_default_index():
    df = area_counts().assign(sensitive=[True, False, True, True, True]).set_index(pd.Index([10, 11, 12, 13, 14]))
    out = suppress_small(df, "n_events", "sensitive", k=8)
    assert out["suppressed"].tolist() == [True, False, False, True, True]
    assert out.loc[11, "n_events"] == 1


def test_format_count():
    assert format_count(2, True, 3) == "< 3"
    assert format_count(pd.NA, True, 5) == "< 5"
    assert format_count(0, False, 3) == "0"
    assert format_count(12, False, 3) == "12"
    assert format_count(12345, False, 3) == "12\u00a0345"
    assert format_count(None, False, 3) == "–"
    out = suppress_small(area_counts(), "n_events", pd.Series([True] * 5), 3)
    assert [format_count(n, s, 3) for n, s in zip(out["n_events"], out["suppressed"])] == ["< 3", "< 3", "0", "7", "3"]


def test_doctests():
    assert doctest.testmod(privacy).failed == 0


# -- real-world spellings (issue 9): tolerant of Unicode separators, case and glued letters -------
NBSP, NNBSP, THIN, EN, MINUS, ZWSP = "\u00a0", "\u202f", "\u2009", "\u2013", "\u2212", "\u200b"

#: (text, the personal value that must disappear, label it becomes)
MUST_REDACT = [
    ("pnr850101-1234", "850101-1234", PNR),
    ("Pnr:19850101-1234", "19850101-1234", PNR),
    (f"Anmälare 850101{EN}1234", f"850101{EN}1234", PNR),
    (f"född 850101{NBSP}1234", f"850101{NBSP}1234", PNR),
    (f"pnr 19850101 {EN} 1234", f"19850101 {EN} 1234", PNR),
    (f"pnr 850101{MINUS}1234", f"850101{MINUS}1234", PNR),
    (f"pnr 850101{ZWSP}-1234", f"850101{ZWSP}-1234", PNR),
    ("personnr: 8501011234.", "8501011234", PNR),
    ("samordningsnr 850161 - 1234", "850161 - 1234", PNR),
    ("Målsägande 451212+1234", "451212+1234", PNR),
    ("８５０１０１-１２３４ (helbredd)", "８５０１０１-１２３４", PNR),
    ("ID850101-1234X", "850101-1234", PNR),
    ("Ring 070 - 765 43 21", "070 - 765 43 21", TEL),
    ("tel:0701112233", "0701112233", TEL),
    ("Tel.0701112233", "0701112233", TEL),
    ("tfn0701112233", "0701112233", TEL),
    (f"mobil 070{EN}765 43 21", f"070{EN}765 43 21", TEL),
    (f"mobil 070{NBSP}765{NBSP}43{NBSP}21", f"070{NBSP}765{NBSP}43{NBSP}21", TEL),
    (f"ring 013{THIN}12{THIN}34{THIN}56", f"013{THIN}12{THIN}34{THIN}56", TEL),
    (f"växel 08{NNBSP}123{NNBSP}456{NNBSP}78", f"08{NNBSP}123{NNBSP}456{NNBSP}78", TEL),
    ("+46 (0)70-111 22 33 (pappa)", "+46 (0)70-111 22 33", TEL),
    ("nås på 0046 70 111 22 33", "0046 70 111 22 33", TEL),
    ("+46701112233", "+46701112233", TEL),
    ("(013) 12 34 56 kontoret", "(013) 12 34 56", TEL),
    ("tel 0142-123 45, 2026-11-16", "0142-123 45", TEL),
    ("ring 070-123 45 67 2026 igen", "070-123 45 67", TEL),
    ("norskt nr +47 912 34 567", "+47 912 34 567", TEL),
    ("KALLE.K@EXAMPLE.SE", "KALLE.K@EXAMPLE.SE", MAIL),
    ("mail:asa.orn@mjölby.se", "asa.orn@mjölby.se", MAIL),
    ("kalle(at)example.se", "kalle(at)example.se", MAIL),
    ("reg abc 123", "abc 123", REG),
    ("bil abc123 sågs", "abc123", REG),
    ("moped Def 45g", "Def 45g", REG),
    ("regnr ABC-123", "ABC-123", REG),
    (f"regnr XYZ{NBSP}789", f"XYZ{NBSP}789", REG),
]

#: Texts with nothing personal: dates, times, case numbers, house numbers, postcodes, sums.
LEAVE_ALONE = [
    "2026-11-16 kl 21:40",
    "16.11.2026 21.40",
    "01-02-2026",
    "01.02.2026 kl 08.15",
    f"2026-11-16 21:40 {EN} 2026-11-17 06:15",
    "20261116",
    f"18.30{EN}21.00",
    "kl 0230, ronderat 0245",
    "Ärende 5000-K123456-26",
    "Diarienr 5000-K1234567-26 och 5000-K110512-26",
    "MK-2026-00123",
    "BB26-90001",
    "Vasagatan 12B",
    "Storgatan 5, 595 30 Mjölby",
    f"595{NBSP}30 Mjölby",
    "Lgh 1102, tr 3",
    "rum 101 och sal 204",
    "2 500 kr i skada",
    f"12{NBSP}500 kr",
    "Kommunkod 0586",
    "år 2026, tredje gången sedan 2024",
    "SOS 112 ringdes",
    "Koordinater 507240,6465010",
    "E 507240 N 6465010",
    "ca 0,5 km",
    "mellan 18 och 20",
    "vecka 47, 2026-W47",
    "för 100 kr",
    "Brand i soprum, hus 123",
    "typ 123 skylt",
]


@pytest.mark.parametrize("text, value, label", MUST_REDACT, ids=[t for t, _, _ in MUST_REDACT])
def test_real_world_spellings_are_redacted(text, value, label):
    out = redact(text)
    assert value not in out, out
    assert label in out, out
    assert out == text.replace(value, label), out  # nothing else in the text changes


@pytest.mark.parametrize("text", LEAVE_ALONE)
def test_real_world_non_personal_numbers_left_alone(text):
    assert redact(text) == text


def test_corpus_size():
    assert len(MUST_REDACT) + len(LEAVE_ALONE) >= 50
    assert len(LEAVE_ALONE) >= 25


# -- the publication rule, tested as an attacker would: recover planted sensitive events ---------
#
# Two projects that differ only in a handful of planted sensitive events (two in one area, one
# elsewhere, one unmapped category that looks sensitive, one in the week before). A reader of the
# published outputs (archive, map, report, index) must learn nothing about them except the
# suppressed cells of the area table: every other layer, surface cell, figure and page is
# identical whether the planted events exist or not, so no difference of published figures,
# no zone and no surface cell can isolate one.


WEEK = "2026-W47"
#: Town-centre positions (SWEREF 99 TM) the synthetic police events are spread around.
CENTRES = [(507240.0, 6465010.0), (507810.0, 6465090.0), (507210.0, 6465223.0), (506300.0, 6464300.0)]
NON_SENSITIVE = ["Skadegörelse", "Klotter", "Stöld", "Bråk", "Inbrott", "Misshandel"]
#: (case number, raw category, day, time, x, y): the planted events.
PLANTED = [
    ("5000-K777001-26", "Misshandel i nära relation", "2026-11-17", "22:15", 507802.0, 6465101.0),
    ("5000-K777002-26", "Misshandel i nära relation", "2026-11-19", "03:40", 507861.0, 6465046.0),
    ("5000-K777003-26", "Våldtäkt", "2026-11-20", "23:05", 506310.0, 6464290.0),
    ("5000-K777004-26", "Grov kvinnofridskränkning", "2026-11-21", "19:30", 507215.0, 6465230.0),
    ("5000-K777005-26", "Sexualbrott", "2026-11-12", "21:00", 507250.0, 6465020.0),
]
HEADER = "Diarienr;Brottskod;Brottsbenämning;Från datum;Från kl;Till datum;Till kl;Gatuadress;Ort;X-koord;Y-koord"
#: run_info entries that change from run to run whatever the data, and the area table's row count
#: (its extra rows are the suppressed cells, tested on their own).
VOLATILE_INFO = {
    "run_started",
    "run_seconds",
    "run_time",
    "input_sha256",
    "events_fingerprint",
    "config_sha256",
    "rows:area_summary",
}


def _background_rows() -> list[str]:
    rng = np.random.default_rng(47)
    rows = []
    for i in range(160):
        x0, y0 = CENTRES[i % len(CENTRES)]
        day = pd.Timestamp("2026-10-26") + pd.Timedelta(days=int(rng.integers(0, 28)))
        rows.append(
            pol(
                f"5000-K6{i:05d}-26",
                cat=NON_SENSITIVE[i % len(NON_SENSITIVE)],
                date=day.strftime("%Y-%m-%d"),
                time=f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}",
                x=f"{x0 + rng.normal(0, 90):.0f}",
                y=f"{y0 + rng.normal(0, 90):.0f}",
            )
        )
    return rows


def _planted_rows() -> list[str]:
    return [pol(case, cat=cat, date=day, time=t, x=f"{x:.0f}", y=f"{y:.0f}") for case, cat, day, t, x, y in PLANTED]


def _run(base: Path, rows: list[str], secret: bytes):
    from pipeline.config import load_config
    from pipeline.runner import run_weekly

    export = ("\n".join([HEADER, *rows]) + "\n").encode("utf-8-sig")
    cfg_path = make_project(base, {"polisen": {"v44-v47.csv": export}}, config=base_config(["polisen"]))
    (base / "data" / "secret").mkdir(parents=True)
    (base / "data" / "secret" / "installation.key").write_bytes(secret)  # same ids in both projects
    cfg = load_config(cfg_path)
    run_weekly(cfg, week=WEEK, now=NOW, echo=lambda s: None)
    return cfg


@pytest.fixture(scope="module")
def two_worlds(tmp_path_factory):
    secret = b"0123456789abcdef0123456789abcdef0123456789abcdef\n"
    background = _background_rows()
    without = _run(tmp_path_factory.mktemp("without"), background, secret)
    planted = _run(tmp_path_factory.mktemp("with"), background + _planted_rows(), secret)
    return without, planted


def _archive(cfg):
    from pipeline.io.archive import archive_path, read_archive

    return read_archive(archive_path(cfg, WEEK))


def _comparable(frame) -> pd.DataFrame:
    frame = pd.DataFrame(frame).copy()
    if "geometry" in frame:
        frame["geometry"] = [g.wkb_hex if g is not None else "" for g in frame["geometry"]]
    frame = frame.astype(str)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_planted_events_are_in_the_analysts_table(two_worlds):
    import geopandas as gpd

    _, planted = two_worlds
    ev = gpd.read_parquet(planted.path(planted.paths.processed) / "events")
    mine = ev[ev["source_id"].isin([p[0] for p in PLANTED])]
    assert len(mine) == len(PLANTED) and mine["sensitive"].all()
    assert set(mine["category"]) == {"vald_nara_relation", "sexualbrott", "ovrigt_kansligt"}


def test_every_published_layer_is_the_same_with_or_without_them(two_worlds):
    """Points, zones, clusters, density cells, key figures, weekday × hour and every other
    product's layers: nothing moves when sensitive events are added."""
    a, b = (_archive(cfg) for cfg in two_worlds)
    assert set(a) == set(b)
    for name in sorted(set(a) - {"area_summary", "run_info", "layer_styles"}):
        la, lb = a[name], b[name]
        if hasattr(la, "values") and hasattr(la, "grid"):
            assert la.grid == lb.grid, name
            assert np.array_equal(np.asarray(la.values), np.asarray(lb.values)), f"surface {name} moved"
        else:
            pd.testing.assert_frame_equal(_comparable(la), _comparable(lb), obj=name)


def test_run_info_and_quality_do_not_count_them(two_worlds):
    a, b = (_archive(cfg)["run_info"] for cfg in two_worlds)
    ia, ib = (dict(zip(x["key"], x["value"])) for x in (a, b))
    assert set(ia) == set(ib)
    differ = {k for k in ia if ia[k] != ib[k]} - VOLATILE_INFO
    assert differ == set(), {k: (ia[k], ib[k]) for k in differ}


def test_area_table_shows_them_only_suppressed_whole_week(two_worlds):
    a, b = (_archive(cfg)["area_summary"] for cfg in two_worlds)
    key = ["area", "category", "time_of_day"]
    extra = b.merge(a[key], on=key, how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"]
    assert set(extra["category"]) == {"vald_nara_relation", "sexualbrott", "ovrigt_kansligt"}
    assert (extra["time_of_day"] == "alla").all()  # no per-bin breakdown to subtract
    assert extra["suppressed"].all() and extra["n_events"].isna().all()  # every planted cell is "< 3"
    common = b.merge(a, on=key, suffixes=("_b", "_a"))
    assert (common["n_events_b"].astype(str) == common["n_events_a"].astype(str)).all()


def test_totals_leave_no_difference_to_isolate_them(two_worlds):
    """The reader's subtraction: an area's, a time bin's or a group's published total minus the
    published non-sensitive cells is zero, with or without the planted events."""
    _, planted = two_worlds
    arc = _archive(planted)
    kf, summary = arc["key_figures"], arc["area_summary"]
    open_cells = summary[~summary["suppressed"] & ~summary["category"].isin(planted.sensitive_categories())]
    by_area = open_cells[open_cells["time_of_day"] == "alla"].groupby("area")["n_events"].sum()
    for row in kf[kf["dimension"] == "area"].itertuples():
        assert row.n_week == by_area.get(row.key, 0), row.key
    by_bin = open_cells[open_cells["time_of_day"] != "alla"].groupby("time_of_day")["n_events"].sum()
    for row in kf[kf["dimension"] == "time_of_day"].itertuples():
        assert row.n_week == by_bin.get(row.key, 0), row.key
    points = arc["events"]
    points = points[points["duplicate_of"].fillna("") == ""]
    for row in kf[kf["dimension"] == "group"].itertuples():
        assert row.n_week == int((points["category_group"] == row.key).sum()), row.key


def _published_files(cfg) -> list[Path]:
    maps = cfg.path(cfg.paths.maps)
    return [*cfg.path(cfg.paths.archive).glob("*.gpkg"), *maps.rglob("*.html")]


def test_no_published_file_holds_their_ids_case_numbers_or_texts(two_worlds):
    import geopandas as gpd

    _, planted = two_worlds
    ev = gpd.read_parquet(planted.path(planted.paths.processed) / "events")
    ids = ev.loc[ev["source_id"].isin([p[0] for p in PLANTED]), "event_id"].tolist()
    # ids, case numbers and the raw category texts (the taxonomy label of a suppressed area-table
    # row, "Våld i nära relation", is published on purpose)
    needles = [*ids, *(p[0] for p in PLANTED), "kvinnofrid", "Misshandel i nära relation", "Våldtäkt", "777001"]
    for path in _published_files(planted):
        data = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, (path.name, needle)


def _without_volatile(html: str) -> str:
    """A page minus what changes from run to run regardless of the data (times, input hashes)."""
    html = re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", html)
    html = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{2}:\d{2}", "<time>", html)
    html = re.sub(r"\d{1,2} \w+ \d{4},? kl\. \d{2}[:.]\d{2}", "<time>", html)
    html = re.sub(r"<th>(?:Körtid \(sekunder\)|Körningen startade)</th><td[^>]*>[^<]*</td>", "", html)
    return html


def test_map_and_index_are_the_same_with_or_without_them(two_worlds):
    a, b = two_worlds
    for rel in (f"{WEEK}/karta.html", "index.html"):
        pa, pb = (cfg.path(cfg.paths.maps) / rel for cfg in (a, b))
        assert _without_volatile(pa.read_text(encoding="utf-8")) == _without_volatile(pb.read_text(encoding="utf-8")), (
            rel
        )


def _without_sensitive_rows(html: str, categories) -> str:
    for cat in categories:
        html = re.sub(rf'<tr data-area="[^"]*" data-category="{cat}">.*?</tr>', "", html, flags=re.S)
    # the area table's row count in the run information: its extra rows are the "< 3" rows
    html = re.sub(r'<tr data-info-key="rows:area_summary">.*?</tr>', "", html, flags=re.S)
    return re.sub(r"\s+", " ", html)


def test_report_differs_only_in_the_suppressed_cells(two_worlds):
    a, b = two_worlds
    ra, rb = ((cfg.path(cfg.paths.maps) / WEEK / "lagesbild.html").read_text(encoding="utf-8") for cfg in (a, b))
    sensitive = sorted(b.sensitive_categories())
    rows = re.findall(r'<tr data-area="[^"]*" data-category="(?:%s)">.*?</tr>' % "|".join(sensitive), rb, flags=re.S)
    assert len(rows) >= 3 and all("&lt; 3" in r for r in rows)  # shown only as "< 3"
    assert _without_volatile(_without_sensitive_rows(ra, sensitive)) == _without_volatile(
        _without_sensitive_rows(rb, sensitive)
    )


def test_published_ids_do_not_reveal_case_numbers_by_enumeration(two_worlds):
    """The attack on an unsalted hash: hash every case number of the pattern and look the
    published ids up. With the keyed id (HMAC with the installation secret) nothing matches."""
    import hashlib

    _, planted = two_worlds
    published = set(_archive(planted)["events"]["event_id"])
    assert len(published) > 20
    guesses = {hashlib.sha1(f"polisen|5000-K6{i:05d}-26".encode()).hexdigest()[:16] for i in range(100_000)}
    guesses |= {hashlib.sha256(f"polisen|5000-K6{i:05d}-26".encode()).hexdigest()[:16] for i in range(100_000)}
    assert published.isdisjoint(guesses)


@pytest.mark.parametrize("key", [b"", b"k" * 32, b"x" * 64, b"y" * 65, bytes(range(200))])
def test_keyed_ids_equal_the_standard_hmac(key):
    import hashlib
    import hmac

    values = ["5000-K1-26", "", "Ärende åäö 12", "x" * 300, "\u200b"]
    expected = [hmac.new(key, f"polisen|{v}".encode(), hashlib.sha256).hexdigest()[:16] for v in values]
    assert privacy.keyed_ids(key, "polisen", values) == expected
