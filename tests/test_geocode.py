"""Gazetteer matching on a small, realistic Mjölby gazetteer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.sources.geocode import Gazetteer, normalise_address, normalise_number, town_key

ROOT = Path(__file__).resolve().parents[1]
DEMO_GAZETTEER = ROOT / "data" / "reference" / "gazetteer_demo.csv"

HEADER = "kind,name,street,number,town,postcode,x,y,aliases"
ROWS = [
    # kind, name, street, number, town, postcode, x, y, aliases
    ("address", "Vasagatan 10", "Vasagatan", "10", "Mjölby", "595 30", 507180.0, 6465205.0, ""),
    ("address", "Vasagatan 12", "Vasagatan", "12", "Mjölby", "595 30", 507200.0, 6465210.0, ""),
    ("address", "Vasagatan 12B", "Vasagatan", "12B", "Mjölby", "595 30", 507208.0, 6465212.0, ""),
    ("address", "Vasagatan 14", "Vasagatan", "14", "Mjölby", "595 30", 507220.0, 6465215.0, ""),
    ("address", "Storgatan 5", "Storgatan", "5", "Mjölby", "595 30", 507050.0, 6465040.0, ""),
    ("address", "Storgatan 12", "Storgatan", "12", "Mjölby", "595 30", 507120.0, 6465030.0, ""),
    ("address", "Storgatan 12B", "Storgatan", "12B", "Mjölby", "595 30", 507128.0, 6465032.0, ""),
    ("address", "Storgatan 5", "Storgatan", "5", "Skänninge", "596 30", 505010.0, 6472690.0, ""),
    ("address", "Östra Järnvägsgatan 3", "Östra Järnvägsgatan", "3", "Mjölby", "595 31", 507950.0, 6464970.0, ""),
    ("address", "Burensköldsvägen 4", "Burensköldsvägen", "4", "Mjölby", "595 32", 507150.0, 6464967.0, ""),
    ("place", "Stora torget", "", "", "Mjölby", "595 30", 507240.0, 6465010.0, "Torget|Mjölby torg"),
    ("place", "Resecentrum", "", "", "Mjölby", "595 31", 507810.0, 6465090.0, "Mjölby station|Stationen"),
]
COLUMNS = HEADER.split(",")


def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=COLUMNS)


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_frame(frame())


def xy(name: str, town: str = "Mjölby") -> tuple[float, float]:
    row = next(r for r in ROWS if r[1] == name and r[4] == town)
    return row[6], row[7]


def one(gaz, text, town=None, **kw) -> pd.Series:
    towns = None if town is None else pd.Series([town])
    return gaz.match(pd.Series([text]), towns, **kw).iloc[0]


# -- normalisation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Vasagatan 12", ("vasagatan", "12", None)),
        ("  VASAGATAN   12 ", ("vasagatan", "12", None)),
        ("Vasag. 12", ("vasagatan", "12", None)),
        ("Östra Järnvägsg 3", ("östra järnvägsgatan", "3", None)),
        ("Kungsv. 7", ("kungsvägen", "7", None)),
        ("St. Torget", ("stora torget", None, None)),
        ("Storgatan 12 b", ("storgatan", "12B", None)),
        ("Storgatan 12b", ("storgatan", "12B", None)),
        ("Vasagatan 12, 595 30 Mjölby", ("vasagatan", "12", "mjölby")),
        ("Vasagatan 12 595 30 Mjölby", ("vasagatan", "12", "mjölby")),
        ("Vasagatan 12, lgh 1102, Mjölby", ("vasagatan", "12", "mjölby")),
        ("Vasagatan 12 lgh 1102", ("vasagatan", "12", None)),
        ("Vasagatan 12-14", ("vasagatan", "12", None)),
        ("Resecentrum, Mjölby", ("resecentrum", None, "mjölby")),
        ("Solberg 3", ("solberg", "3", None)),  # a real "-berg" name is not "-gatan"
        ("", ("", None, None)),
        (None, ("", None, None)),
    ],
)
def test_normalise_address(text, expected):
    assert normalise_address(text) == expected


def test_number_and_town_keys():
    assert [normalise_number(n) for n in ("12B", "12 b", "12b", "012", "", None)] == ["12B"] * 3 + ["12", None, None]
    assert town_key("MJÖLBY kommun") == town_key("Mjolby") == "mjolby"


# -- matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, name",
    [
        ("Vasagatan 12", "Vasagatan 12"),
        ("Vasag. 12", "Vasagatan 12"),
        ("Vasag 12", "Vasagatan 12"),
        ("Storg 12B", "Storgatan 12B"),
        ("Östra Järnvägsg 3", "Östra Järnvägsgatan 3"),
        ("  VASAGATAN   12 ", "Vasagatan 12"),
        ("vasagatan 12b", "Vasagatan 12B"),
        ("Storgatan 12 b", "Storgatan 12B"),
        ("Storgatan 12 B", "Storgatan 12B"),
        ("Vasagatan 12, 595 30 Mjölby", "Vasagatan 12"),
        ("Vasagatan 12 Mjölby", "Vasagatan 12"),
        ("Burenskoldsvagen 4", "Burensköldsvägen 4"),  # diacritics dropped: folded key, still exact
        ("Vasa gatan 12", "Vasagatan 12"),
        ("vid Vasagatan 12", "Vasagatan 12"),
    ],
)
def test_exact(gaz, text, name):
    got = one(gaz, text)
    assert (got["method"], got["score"], got["matched"]) == ("exact", 100.0, name)
    assert (got["x"], got["y"]) == xy(name)


def test_town_disambiguates_same_street(gaz):
    got = gaz.match(
        pd.Series(["Storgatan 5", "Storgatan 5", "Storgatan 5, Skänninge"]), pd.Series(["Skänninge", "Mjölby", None])
    )
    assert tuple(got.iloc[0][["x", "y"]]) == xy("Storgatan 5", "Skänninge")
    assert tuple(got.iloc[1][["x", "y"]]) == xy("Storgatan 5", "Mjölby")
    assert tuple(got.iloc[2][["x", "y"]]) == xy("Storgatan 5", "Skänninge")
    assert got["method"].tolist() == ["exact"] * 3


def test_without_town_the_largest_town_wins_unless_told(gaz):
    assert tuple(one(gaz, "Storgatan 5")[["x", "y"]]) == xy("Storgatan 5", "Mjölby")
    assert tuple(one(gaz, "Storgatan 5", default_town="Skänninge")[["x", "y"]]) == xy("Storgatan 5", "Skänninge")


def test_known_town_restricts_unknown_town_is_ignored(gaz):
    assert pd.isna(one(gaz, "Vasagatan 12", "Skänninge")["method"])  # no Vasagatan in Skänninge
    assert one(gaz, "Vasagatan 12", "MJÖLBY KOMMUN")["matched"] == "Vasagatan 12"
    assert one(gaz, "Vasagatan 12", "Mjölby C")["matched"] == "Vasagatan 12"
    assert one(gaz, "Vasagatan 12", "Vasaområdet")["method"] == "exact"  # unknown town: ignored


def test_fuzzy_misspelling(gaz):
    got = one(gaz, "Vasagtan 12")
    assert got["method"] == "fuzzy" and got["matched"] == "Vasagatan 12"
    assert 88 <= got["score"] < 100
    assert (got["x"], got["y"]) == xy("Vasagatan 12")


def test_fuzzy_threshold_is_respected(gaz):
    assert pd.isna(one(gaz, "Vasagtan 12", fuzzy_threshold=99)["method"])
    assert pd.isna(one(gaz, "Vasgtn 12")["method"])  # too far from anything


def test_street_centroid_for_unknown_number(gaz):
    vasa = [r for r in ROWS if r[2] == "Vasagatan"]
    centre = (np.mean([r[6] for r in vasa]), np.mean([r[7] for r in vasa]))
    got = one(gaz, "Vasagatan 999")
    assert (got["method"], got["score"], got["matched"]) == ("street_centroid", 100.0, "Vasagatan")
    assert got["x"] == pytest.approx(centre[0]) and got["y"] == pytest.approx(centre[1])
    assert one(gaz, "Vasagatan")["method"] == "street_centroid"  # no number at all
    misspelt = one(gaz, "Vasagtan 999")
    assert misspelt["method"] == "street_centroid" and 88 <= misspelt["score"] < 100
    assert pd.isna(one(gaz, "Vasagatan 999", street_centroid=False)["method"])


@pytest.mark.parametrize(
    "text, town, name",
    [
        ("Stora torget", None, "Stora torget"),
        ("stora  TORGET", None, "Stora torget"),
        ("St. torget", None, "Stora torget"),
        ("Mjölby station", None, "Resecentrum"),
        ("Stationen", "Mjölby", "Resecentrum"),
        ("Resecentrum, Mjölby", None, "Resecentrum"),
        ("Mjolby station", None, "Resecentrum"),
    ],
)
def test_place_and_alias(gaz, text, town, name):
    got = one(gaz, text, town)
    assert (got["method"], got["score"], got["matched"]) == ("place", 100.0, name)
    assert (got["x"], got["y"]) == xy(name)


def test_fuzzy_place(gaz):
    got = one(gaz, "Resecentrumm")
    assert got["method"] == "place" and got["matched"] == "Resecentrum" and 88 <= got["score"] < 100


@pytest.mark.parametrize("text", ["Påhittade vägen 99", "", "   ", None, "595 30 Mjölby", "12"])
def test_miss(gaz, text):
    got = one(gaz, text)
    assert pd.isna(got["x"]) and pd.isna(got["y"]) and pd.isna(got["score"])
    assert pd.isna(got["method"]) and pd.isna(got["matched"])


def test_output_shape_index_and_dtypes(gaz):
    texts = pd.Series(["Vasagatan 12", None, "Okänd 1", "Stora torget"], index=[10, 20, 30, 40])
    got = gaz.match(texts)
    assert list(got.index) == [10, 20, 30, 40]
    assert list(got.columns) == ["x", "y", "method", "score", "matched"]
    assert got["x"].dtype == "float64" and got["score"].dtype == "float64"
    assert got["method"].dtype == "string" and got["matched"].dtype == "string"
    assert got["method"].tolist() == ["exact", pd.NA, pd.NA, "place"]


def test_many_rows_few_unique_texts(gaz):
    base = ["Vasag. 12", "Storgatan 5", "Vasagtan 14", "Mjölby station", "Okänd väg 1"]
    texts = pd.Series(base * 4000)
    towns = pd.Series((["Mjölby", "Skänninge", None, None, None]) * 4000)
    got = gaz.match(texts, towns)
    assert len(got) == 20000
    first = gaz.match(pd.Series(base), pd.Series(["Mjölby", "Skänninge", None, None, None]))
    pd.testing.assert_frame_equal(got.iloc[-5:].reset_index(drop=True), first)


def test_towns_align_by_index_or_position(gaz):
    texts = pd.Series(["Storgatan 5", "Storgatan 5"], index=[7, 3])
    by_index = gaz.match(texts, pd.Series(["Mjölby", "Skänninge"], index=[3, 7]))
    by_position = gaz.match(texts, ["Skänninge", "Mjölby"])
    pd.testing.assert_frame_equal(by_index, by_position)
    assert tuple(by_index.loc[7, ["x", "y"]]) == xy("Storgatan 5", "Skänninge")


def test_doctests():
    import doctest

    import pipeline.sources.geocode

    assert doctest.testmod(pipeline.sources.geocode).failed == 0


def test_empty_input(gaz):
    got = gaz.match(pd.Series([], dtype="string"))
    assert got.empty and list(got.columns) == ["x", "y", "method", "score", "matched"]


def test_nearest_names(gaz):
    # 20 m from Resecentrum; nowhere; no point.
    names = gaz.nearest_names([507810.0, 400000.0, np.nan], [6465110.0, 6400000.0, np.nan])
    assert names == ["Resecentrum", None, None]
    # 12 m from Vasagatan 12: a place within the distance wins (Stora torget, 216 m), else the street.
    assert gaz.nearest_name(507200.0, 6465222.0) == "Stora torget"
    assert gaz.nearest_name(507200.0, 6465222.0, max_distance_m=150) == "Vasagatan"
    assert gaz.nearest_name(507240.0, 6465040.0) == "Stora torget"
    assert gaz.nearest_name(507240.0, 6465040.0, max_distance_m=10) is None


# -- reading and errors ---------------------------------------------------------------------------


def write(tmp_path, text: str, encoding="utf-8", name="gazetteer.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(rows=ROWS, header=HEADER, sep=",") -> str:
    lines = [header.replace(",", sep)] + [sep.join(str(v) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def test_read_roundtrip_bom_and_semicolons(tmp_path, gaz):
    for enc, sep in (("utf-8", ","), ("utf-8-sig", ","), ("utf-8", ";")):
        rows = [tuple(f'"{v}"' if sep == "," and "," in str(v) else v for v in r) for r in ROWS]
        g = Gazetteer.read(write(tmp_path, csv_text(rows, sep=sep), enc))
        got = g.match(pd.Series(["Vasag. 12", "Storgatan 5"]), pd.Series([None, "Skänninge"]))
        pd.testing.assert_frame_equal(
            got, gaz.match(pd.Series(["Vasag. 12", "Storgatan 5"]), pd.Series([None, "Skänninge"]))
        )


def test_read_without_aliases_column(tmp_path):
    rows = [r[:-1] for r in ROWS]
    g = Gazetteer.read(write(tmp_path, csv_text(rows, header=HEADER.rsplit(",", 1)[0])))
    assert one(g, "Stora torget")["method"] == "place"
    assert pd.isna(one(g, "Mjölby station")["method"])


def bad_rows(i: int, col: str, value) -> list[tuple]:
    rows = [list(r) for r in ROWS]
    rows[i][COLUMNS.index(col)] = value
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    "text, expect",
    [
        ("", ["is empty"]),
        ("\n\n", ["is empty"]),
        (HEADER + "\n", ["no rows"]),
        (csv_text(header=HEADER.replace(",x,", ",east,")), ["column 'x'", "missing column"]),
        (csv_text(bad_rows(2, "x", "507 2OO")), ["line 4", "column 'x'", "not a number"]),
        (csv_text(bad_rows(0, "y", "")), ["line 2", "column 'y'", "is empty"]),
        (csv_text(bad_rows(5, "kind", "gata")), ["line 7", "column 'kind'", "address | place"]),
        (csv_text(bad_rows(1, "x", "15.03")), ["line 3", "not in Sweden", "EPSG:3006"]),
        (
            csv_text(
                bad_rows(1, "x", "6465210")[:1]
                + [("address", "Vasagatan 12", "Vasagatan", "12", "Mjölby", "", 6465210.0, 507200.0, "")]
            ),
            ["line 3", "swapped"],
        ),
        (csv_text(bad_rows(3, "number", "tolv")), ["line 5", "column 'number'"]),
        (csv_text(bad_rows(10, "name", "")), ["line 12", "column 'name'"]),
        (csv_text() + "address,Vasagatan 16,Vasagatan,16,Mjölby,595 30,507240.0\n", ["line 14", "fields"]),
    ],
)
def test_corrupt_gazetteer(tmp_path, text, expect):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        Gazetteer.read(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    for part in expect:
        assert part in message


def test_missing_and_non_utf8_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        Gazetteer.read(tmp_path / "saknas.csv")
    with pytest.raises(InputError, match="line 2.*not UTF-8"):
        Gazetteer.read(write(tmp_path, csv_text(), encoding="cp1252"))


def test_from_frame_errors_name_column_and_line():
    with pytest.raises(InputError, match="column 'aliases'|column 'town'"):
        Gazetteer.from_frame(frame().drop(columns=["town"]))
    bad = frame().astype(object)
    bad.loc[3, "y"] = "n/a"
    with pytest.raises(InputError, match="line 5, column 'y'"):
        Gazetteer.from_frame(bad)
    with pytest.raises(InputError, match="no rows"):
        Gazetteer.from_frame(frame().iloc[:0])


def test_numeric_and_missing_values_in_frame():
    df = frame()
    df["aliases"] = df["aliases"].replace("", np.nan)
    df["number"] = df["number"].replace("", None)
    g = Gazetteer.from_frame(df)
    assert one(g, "Mjölby station")["matched"] == "Resecentrum"


@pytest.mark.skipif(not DEMO_GAZETTEER.is_file(), reason="demo gazetteer not generated")
def test_every_demo_gazetteer_name_matches_itself():
    g = Gazetteer.read(DEMO_GAZETTEER)
    df = pd.read_csv(DEMO_GAZETTEER, dtype=str, keep_default_na=False)
    got = g.match(df["name"], df["town"])
    expected = np.where(df["kind"] == "address", "exact", "place")
    assert got["method"].tolist() == expected.tolist()
    assert (got["score"] == 100).all()
    assert got["matched"].tolist() == df["name"].tolist()
    np.testing.assert_allclose(got["x"], df["x"].astype(float))
    np.testing.assert_allclose(got["y"], df["y"].astype(float))


# -- issue 9: one address, two positions ----------------------------------------------------------


def _gaz(rows):
    cols = ["kind", "name", "street", "number", "town", "postcode", "x", "y", "aliases"]
    return pd.DataFrame(rows, columns=cols)


def test_same_address_at_two_positions_is_an_error_naming_both_rows():
    rows = [
        ["address", "Storgatan 1", "Storgatan", "1", "Mjölby", "", 507000, 6465000, ""],
        ["address", "Storgatan 2", "Storgatan", "2", "Mjölby", "", 507050, 6465000, ""],
        ["address", "Storgatan 1", "Storgatan", "1", "Mjölby", "", 507600, 6465000, ""],
    ]
    with pytest.raises(InputError, match=r"line 4:.*'Storgatan 1' has two positions: line 2 .*and line 4"):
        Gazetteer.from_frame(_gaz(rows), source="gaz.csv")


def test_same_place_name_or_alias_at_two_positions_is_an_error():
    rows = [
        ["place", "Torget", "", "", "Mjölby", "", 507000, 6465000, ""],
        ["place", "Stora torget", "", "", "Mjölby", "", 507400, 6465000, "Torget"],
    ]
    with pytest.raises(InputError, match="two positions"):
        Gazetteer.from_frame(_gaz(rows), source="gaz.csv")


def test_repeated_rows_and_other_towns_are_not_conflicts():
    rows = [
        ["address", "Storgatan 1", "Storgatan", "1", "Mjölby", "", 507000, 6465000, ""],
        ["address", "Storgatan 1", "Storgatan", "1", "Mjölby", "", 507000.4, 6465000, ""],
        ["address", "Storgatan 1", "Storgatan", "1", "Skänninge", "", 504700, 6471900, ""],
    ]
    assert len(Gazetteer.from_frame(_gaz(rows), source="gaz.csv").addresses) == 3
