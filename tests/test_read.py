"""read_export: encodings, delimiters, quoting, line numbers, faults and structural errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import Partner
from pipeline.errors import InputError
from pipeline.sources.read import RawExport, decode_bytes, expand_files, not_read_files, read_export

REAL = Path("/work/shared/data/real")

POLIS_COLUMNS = {
    "source_id": "Diarienr",
    "category": "Brottsbenämning",
    "date": "Från datum",
    "time": "Från kl",
    "address": "Gatuadress",
    "town": "Ort",
}
HEADER = "Diarienr;Brottsbenämning;Från datum;Från kl;Gatuadress;Ort"
ROWS = [
    "5000-K1001-26;Skadegörelse;2026-11-16;21:40;Storgatan 12;Mjölby",
    "5000-K1002-26;Klotter;2026-11-17;02.15;Järnvägsgatan 3;Mjölby",
    "5000-K1003-26;Stöld;2026-11-18;1430;Mantorpsvägen 1;Mantorp",
]


def polis(**kw) -> Partner:
    return Partner(label="Polismyndigheten", files="data/raw/polisen/*.csv", columns=POLIS_COLUMNS, **kw)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read(path: Path, pcfg: Partner | None = None) -> RawExport:
    return read_export(path, "polisen", pcfg or polis(), f"data/raw/polisen/{path.name}")


def test_utf8_bom_semicolon(tmp_path):
    text = "\r\n".join([HEADER, *ROWS]) + "\r\n"
    raw = read(write(tmp_path, "v47.csv", text.encode("utf-8-sig")))
    assert (raw.encoding, raw.delimiter, raw.rows_read) == ("utf-8-sig", ";", 3)
    f = raw.frame
    assert list(f.columns[:6]) == POLIS_COLUMNS_ORDER  # BOM stripped from the first name
    assert f["Brottsbenämning"].tolist() == ["Skadegörelse", "Klotter", "Stöld"]
    assert f["_line"].tolist() == [2, 3, 4]
    assert f["_line"].dtype == "int64"
    assert f["_raw"].iloc[0] == ROWS[0]  # line ending removed, text as read
    assert f["_fault"].isna().all()
    assert all(pd.api.types.is_string_dtype(f[c]) for c in f.columns if c != "_line")


POLIS_COLUMNS_ORDER = ["Diarienr", "Brottsbenämning", "Från datum", "Från kl", "Gatuadress", "Ort"]


def test_cp1252_comma(tmp_path):
    text = "\n".join([HEADER.replace(";", ","), *(r.replace(";", ",") for r in ROWS)]) + "\n"
    raw = read(write(tmp_path, "win.csv", text.encode("cp1252")))
    assert (raw.encoding, raw.delimiter) == ("cp1252", ",")
    assert raw.frame["Ort"].tolist() == ["Mjölby", "Mjölby", "Mantorp"]
    assert "Från datum" in raw.frame.columns


def test_mixed_encodings_concatenated(tmp_path):
    part1 = ("\n".join([HEADER, ROWS[0]]) + "\n").encode("utf-8")
    part2 = ("\n".join(ROWS[1:]) + "\n").encode("cp1252")
    raw = read(write(tmp_path, "concat.csv", part1 + part2))
    assert raw.encoding == "mixed"
    assert raw.frame["Brottsbenämning"].tolist() == ["Skadegörelse", "Klotter", "Stöld"]
    assert raw.frame["_line"].tolist() == [2, 3, 4]


def test_bom_file_with_cp1252_lines_is_mixed(tmp_path):
    data = ("\n".join([HEADER, ROWS[0]]) + "\n").encode("utf-8-sig") + (ROWS[1] + "\n").encode("cp1252")
    raw = read(write(tmp_path, "bom_mixed.csv", data))
    assert raw.encoding == "mixed"
    assert raw.frame["Ort"].tolist() == ["Mjölby", "Mjölby"] and "Diarienr" in raw.frame.columns


def test_old_mac_line_endings(tmp_path):
    raw = read(write(tmp_path, "mac.csv", ("\r".join([HEADER, ROWS[0], "", ROWS[1]]) + "\r").encode()))
    assert raw.frame["_line"].tolist() == [2, 4]
    assert raw.frame["_raw"].tolist() == [ROWS[0], ROWS[1]]


def test_tab_delimiter_and_quoted_newline_and_delimiter(tmp_path):
    cols = {"category": "typ", "date": "datum", "address": "plats", "description": "text"}
    pcfg = Partner(label="Kommunen", files="*.csv", columns=cols)
    text = (
        "typ\tdatum\tplats\ttext\n"
        'Klotter\t2026-11-16\tStorgatan 1\t"två rader\nmed\ttab och ; semikolon"\n'
        "\n"
        'Brand\t2026-11-17\tTorget\t"citat ""så här"""\n'
    )
    raw = read_export(write(tmp_path, "k.tsv", text.encode("utf-8")), "kommunen", pcfg, "k.tsv")
    assert raw.delimiter == "\t"
    f = raw.frame
    assert f["text"].tolist() == ["två rader\nmed\ttab och ; semikolon", 'citat "så här"']
    assert f["_line"].tolist() == [2, 5]  # blank line 4 is skipped, record 1 spans lines 2-3
    assert f["_raw"].iloc[0] == 'Klotter\t2026-11-16\tStorgatan 1\t"två rader\nmed\ttab och ; semikolon"'
    assert f["_fault"].isna().all()


def test_semicolon_chosen_when_names_contain_commas(tmp_path):
    cols = {"category": "Typ, grov", "date": "Datum", "address": "Plats"}
    pcfg = Partner(label="K", files="*.csv", columns=cols)
    raw = read_export(write(tmp_path, "x.csv", b"Typ, grov;Datum;Plats\nRan;2026-11-16;Torget\n"), "k", pcfg, "x.csv")
    assert raw.delimiter == ";"
    assert raw.frame["Typ, grov"].tolist() == ["Ran"]


def test_faults_are_kept_not_dropped(tmp_path):
    text = "\n".join(
        [
            HEADER,
            ROWS[0],
            ";;;;;",  # only delimiters -> empty_row
            "5000-K1009-26;Bråk;2026-11-16;21:00;Storgatan; 4;Mjölby",  # unquoted ';' -> bad_field_count
            ROWS[1],
            "",
            "   ",  # whitespace-only line: not a record
            "5000-K1010-26;Klotter;2026-11-1",  # truncated last line, no newline
        ]
    )
    raw = read(write(tmp_path, "broken.csv", text.encode("utf-8")))
    f = raw.frame
    assert raw.rows_read == 5
    assert f["_line"].tolist() == [2, 3, 4, 5, 8]
    faults = f["_fault"].fillna("ok").tolist()
    assert faults == ["ok", "empty_row", "bad_field_count", "ok", "bad_field_count"]
    assert f["_raw"].iloc[4] == "5000-K1010-26;Klotter;2026-11-1"
    assert f["Diarienr"].iloc[4] == "5000-K1010-26"  # short rows are padded
    assert pd.isna(f["Ort"].iloc[4])


def test_field_too_long(tmp_path):
    long = "x" * 10_001
    text = f'{HEADER}\n{ROWS[0]}\n5000-K1;Klotter;2026-11-16;10:00;"{long}";Mjölby\n'
    f = read(write(tmp_path, "long.csv", text.encode())).frame
    assert f["_fault"].fillna("ok").tolist() == ["ok", "field_too_long"]


def test_unbalanced_quote_does_not_swallow_the_rest(tmp_path):
    text = "\n".join([HEADER, ROWS[0], '5000-K2;Klotter;2026-11-16;10:00;"Storgatan 5;Mjölby', *ROWS[1:]]) + "\n"
    f = read(write(tmp_path, "quote.csv", text.encode())).frame
    assert f["_line"].tolist() == [2, 3, 4, 5]
    assert f["_fault"].fillna("ok").tolist() == ["ok", "bad_field_count", "ok", "ok"]
    assert f["Diarienr"].tolist()[2:] == ["5000-K1002-26", "5000-K1003-26"]


def test_trailing_delimiter_on_every_line(tmp_path):
    text = "\n".join(line + ";" for line in [HEADER, *ROWS]) + "\n"
    f = read(write(tmp_path, "trail.csv", text.encode())).frame
    assert list(f.columns[:6]) == POLIS_COLUMNS_ORDER and len(f.columns) == 9
    assert f["_fault"].isna().all()


def test_extra_columns_are_kept(tmp_path):
    text = "\n".join([HEADER + ";Extra;Ännu en", *(r + ";x;y" for r in ROWS)]) + "\n"
    f = read(write(tmp_path, "extra.csv", text.encode())).frame
    assert f["Ännu en"].tolist() == ["y"] * 3
    assert f["_fault"].isna().all()


def test_header_only_file_has_no_rows(tmp_path):
    raw = read(write(tmp_path, "tom.csv", (HEADER + "\r\n").encode("utf-8-sig")))
    assert raw.rows_read == 0
    assert list(raw.frame.columns) == POLIS_COLUMNS_ORDER + ["_line", "_raw", "_fault"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n  \n"])
def test_empty_file_is_an_input_error(tmp_path, data):
    with pytest.raises(InputError, match="file is empty: no header line") as err:
        read(write(tmp_path, "v48.csv", data))
    assert "polisen" in str(err.value) and "data/raw/polisen/v48.csv" in str(err.value)


def test_missing_configured_column_names_partner_file_and_column(tmp_path):
    text = "\n".join([HEADER.replace("Gatuadress", "Adress"), *ROWS]) + "\n"
    with pytest.raises(InputError) as err:
        read(write(tmp_path, "v47.csv", text.encode()))
    msg = str(err.value)
    assert "partner polisen" in msg and "data/raw/polisen/v47.csv" in msg
    assert "Gatuadress" in msg and "Adress" in msg  # missing one, and what was found
    assert "partners.polisen.columns" in msg and "\n" not in msg


def test_duplicate_header_names(tmp_path):
    text = HEADER + ";Ort\n" + ROWS[0] + ";Mjölby\n"
    with pytest.raises(InputError, match="duplicate column name"):
        read(write(tmp_path, "dup.csv", text.encode()))


def test_explicit_encoding_failure_names_line(tmp_path):
    text = ("\n".join([HEADER, ROWS[0]]) + "\n").encode("utf-8") + (ROWS[1] + "\n").encode("cp1252")
    with pytest.raises(InputError, match=r"line 3.*encoding: auto"):
        read(write(tmp_path, "x.csv", text), polis(encoding="utf-8"))


def test_explicit_delimiter_and_encoding(tmp_path):
    text = "\n".join([HEADER.replace(";", "|"), *(r.replace(";", "|") for r in ROWS)]) + "\n"
    raw = read(write(tmp_path, "p.csv", text.encode("cp1252")), polis(encoding="cp1252", delimiter="|"))
    assert (raw.encoding, raw.delimiter, raw.rows_read) == ("cp1252", "|", 3)


def test_decomposed_unicode_header(tmp_path):
    import unicodedata

    text = unicodedata.normalize("NFD", HEADER) + "\n" + ROWS[0] + "\n"
    raw = read(write(tmp_path, "mac.csv", text.encode()))
    assert "Från datum" in raw.frame.columns


def test_expand_files(tmp_path):
    (tmp_path / "data/raw/polisen").mkdir(parents=True)
    for name in ("v47.csv", "v46.csv", "notes.txt"):
        (tmp_path / "data/raw/polisen" / name).write_text("x")
    assert [p.name for p in expand_files("data/raw/polisen/*.csv", tmp_path)] == ["v46.csv", "v47.csv"]
    with pytest.raises(InputError, match=r"partner kommunen: no file matches .*partners\.kommunen\.files"):
        expand_files("data/raw/kommunen/*.csv", tmp_path, partner="kommunen")
    assert len(expand_files(str(tmp_path / "data/raw/polisen/*.csv"), Path("/nonexistent"))) == 2


@pytest.mark.skipif(not (REAL / "medellin_homicides.csv").exists(), reason="real data not available")
def test_real_medellin_semicolon_file():
    path = REAL / "medellin_homicides.csv"
    cols = {"category": "modalidad", "datetime": "fecha_hecho", "lat": "latitud", "lon": "longitud"}
    raw = read_export(path, "medellin", Partner(label="Medellín", files="*.csv", columns=cols), path.name)
    data_lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
    assert (raw.encoding, raw.delimiter) == ("utf-8", ";")
    assert raw.rows_read == data_lines == 9360
    assert raw.frame["_fault"].isna().all()
    assert raw.frame["_line"].iloc[-1] == 9361
    assert raw.frame["longitud"].iloc[0] == "-75,56985400000"


# -- issue 9: encoding by evidence, mojibake, files outside the raw folder, files not read -------

SWEDISH = "Ärendenr;Händelsetyp;Plats\nMK-1;Skadegörelse;Stora torget, Mjölby\nMK-2;Nedskräpning;Ågatan 3\n"


@pytest.mark.parametrize("encoding", ["cp1252", "mac_roman"])
def test_single_byte_encoding_decided_by_evidence(encoding):
    data = SWEDISH.replace("\n", "\r" if encoding == "mac_roman" else "\r\n").encode(encoding)
    text, used = decode_bytes(data, "auto", {})
    assert used == encoding and "Skadegörelse" in text and "Ågatan" in text


def test_stray_windows_byte_in_utf8_decodes_alone():
    data = "MK-1;Skadegörelse;Gata ".encode("utf-8") + b"\x96" + " 5 – Mjölby\n".encode("utf-8")
    text, used = decode_bytes(data, "auto", {})
    assert used == "mixed" and text == "MK-1;Skadegörelse;Gata – 5 – Mjölby\n"


def test_utf16_and_workbook_named_csv_are_refused():
    with pytest.raises(InputError, match="UTF-16"):
        decode_bytes(SWEDISH.encode("utf-16"), "auto", {"file": "x.csv"})
    with pytest.raises(InputError, match="workbook"):
        decode_bytes(b"PK\x03\x04rest", "auto", {"file": "x.csv"})


def _partner(**kw) -> Partner:
    return Partner(
        label="Kommunen",
        files="*.csv",
        columns={"source_id": "Ärendenr", "category": "Händelsetyp", "date": "Datum", "place": "Plats"},
        **kw,
    )


def test_mojibake_in_a_mapped_column_is_refused(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("Ärendenr;Datum;Händelsetyp;Plats\nMK-1;2026-11-16;SkadegÃ¶relse;Torget\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2.*Händelsetyp.*wrong encoding"):
        read_export(path, "kommunen", _partner(), "k.csv")


def test_files_outside_the_raw_folder_are_refused(tmp_path):
    raw, outside = tmp_path / "data" / "raw" / "kommunen", tmp_path / "elsewhere"
    raw.mkdir(parents=True)
    outside.mkdir()
    (outside / "x.csv").write_text("a;b\n", encoding="utf-8")
    (raw / "ok.csv").write_text("a;b\n", encoding="utf-8")
    root = tmp_path / "data" / "raw"
    assert expand_files("data/raw/kommunen/*.csv", tmp_path, root=root) == [raw / "ok.csv"]
    with pytest.raises(InputError, match="outside the raw folder"):
        expand_files("elsewhere/*.csv", tmp_path, partner="kommunen", root=root)
    (raw / "link.csv").symlink_to(outside / "x.csv")
    with pytest.raises(InputError, match="link.csv.*outside"):
        expand_files("data/raw/kommunen/*.csv", tmp_path, partner="kommunen", root=root)


def test_files_not_read_are_listed_with_a_reason(tmp_path):
    folder = tmp_path / "data" / "raw" / "kommunen"
    folder.mkdir(parents=True)
    for name in ("v47.csv", "v48.xlsx", "v46.xls", "notes.txt", ".DS_Store"):
        (folder / name).write_bytes(b"x")
    (folder / "gone.csv").symlink_to(tmp_path / "missing.csv")
    got = {d["file"]: d["reason"] for d in not_read_files("data/raw/kommunen/*.csv", tmp_path, [folder / "v47.csv"])}
    assert set(got) == {
        "data/raw/kommunen/v48.xlsx",
        "data/raw/kommunen/v46.xls",
        "data/raw/kommunen/notes.txt",
        "data/raw/kommunen/gone.csv",
    }
    assert "Excel" in got["data/raw/kommunen/v48.xlsx"] and ".xls" in got["data/raw/kommunen/v46.xls"]
    assert "trasig länk" in got["data/raw/kommunen/gone.csv"]


# -- the fast reader agrees with the exact one -------------------------------------------------

_CLEAN = (HEADER + "\n" + "\n".join(ROWS) + "\n").encode()
FAST_CASES = {
    # taken by the fast reader
    "clean": (_CLEAN, True),
    "crlf": (_CLEAN.replace(b"\n", b"\r\n"), True),
    "no final newline": (_CLEAN.rstrip(b"\n"), True),
    "empty lines between": (_CLEAN.replace(b"\n5000-K1002", b"\n\n\r\n5000-K1002"), True),
    "trailing delimiter": (b"\n".join(ln + b";" for ln in _CLEAN.splitlines()) + b"\n", True),
    "blank and null fields": ((HEADER + "\n5000-K1;;;;;\n;Klotter;2026-11-17;;;\n").encode(), True),
    "cp1252 bytes": ((HEADER + "\n" + "\n".join(ROWS) + "\n").encode("cp1252"), True),
    "mid-file BOM": (_CLEAN + b"\xef\xbb\xbf" + ROWS[0].encode() + b"\n", True),
    # left to the exact reader, which must then be the one that reads them
    "quoted field": ((HEADER + '\n5000-K1;"Stöld; grov";2026-11-16;;;\n').encode(), False),
    "short row": (_CLEAN + b"5000-K9;Klotter\n", False),
    "long row": (_CLEAN + b"5000-K9;Klotter;2026-11-16;;;;x\n", False),
    "value after trailing delimiter": (
        b"\n".join(ln + b";" for ln in _CLEAN.splitlines()) + b"\n5000-K9;a;b;c;d;e;f\n",
        False,
    ),
    "whitespace-only line": (_CLEAN + b"   \n" + ROWS[0].encode() + b"\n", False),
    "row of blanks": (_CLEAN + b" ; ;\t; ; ; \n", False),
    "lone carriage return": (_CLEAN.replace(b"\n", b"\r"), False),
    "overlong field": (_CLEAN + ("5000-K9;" + "x" * 10_001 + ";2026-11-16;;;\n").encode(), False),
    "blank first line": (b"\n" + _CLEAN, False),
}


@pytest.mark.parametrize("case", sorted(FAST_CASES))
def test_fast_reader_gives_exactly_the_exact_readers_rows(tmp_path, case):
    """pyarrow's reader (national exports) takes a file only where it gives the exact reader's
    frame: the same columns, values, dtypes, line numbers, raw texts and faults."""
    from pipeline.sources.read import _norm_name, _utf8_bytes, fast_records, parse_records

    data, taken = FAST_CASES[case]
    text, encoding = decode_bytes(data, "auto", {})
    text = text.replace("\n\ufeff", "\n")
    wanted = [_norm_name(c) for c in POLIS_COLUMNS.values()]
    fast = fast_records(_utf8_bytes(data, text, encoding), ";", wanted, {})
    exact = parse_records(text, ";", wanted, {})
    assert (fast is not None) == taken
    if fast is not None:
        pd.testing.assert_frame_equal(fast, exact)
    # and read_export, whichever reader it used, gives the exact frame
    raw = read_export(write(tmp_path, "x.csv", data), "polisen", polis(), "x.csv")
    pd.testing.assert_frame_equal(raw.frame, exact)
