"""Redaction of personal data in Swedish free text, and small-count suppression."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import pipeline.privacy as privacy
from pipeline.privacy import format_count, redact, redact_series, suppress_small

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
    ("Anmälare 850101-1234 (070-123 45 67, a.b@mjolby.se) såg bil ABC 12A",
     f"Anmälare {PNR} ({TEL}, {MAIL}) såg bil {REG}"),
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
    return pd.DataFrame({
        "area": ["Centrum", "Centrum", "Sörby", "Sörby", "Valla"],
        "category": ["vald_nara_relation", "klotter", "sexualbrott", "vald_nara_relation", "sexualbrott"],
        "n_events": [2, 1, 0, 7, 3],
    })


def test_suppress_small():
    df = area_counts()
    sensitive = df["category"].isin(["vald_nara_relation", "sexualbrott"])
    out = suppress_small(df, "n_events", sensitive, k=3)
    assert out["n_events"].dtype == "Int64" and out["suppressed"].dtype == bool
    assert out["suppressed"].tolist() == [True, False, False, False, False]
    assert out["n_events"].tolist() == [pd.NA, 1, 0, 7, 3]   # 1 klotter: not sensitive; 0 and 3: not below k
    assert df["n_events"].tolist() == [2, 1, 0, 7, 3]          # input untouched


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
    assert out == text.replace(value, label), out   # nothing else in the text changes


@pytest.mark.parametrize("text", LEAVE_ALONE)
def test_real_world_non_personal_numbers_left_alone(text):
    assert redact(text) == text


def test_corpus_size():
    assert len(MUST_REDACT) + len(LEAVE_ALONE) >= 50
    assert len(LEAVE_ALONE) >= 25
