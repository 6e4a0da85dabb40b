"""parse_datetimes / check_window / parse_numbers on the formats Swedish exports use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.sources.parse import check_window, day_month_order, parse_datetimes, parse_numbers

TZ = "Europe/Stockholm"
REAL = Path("/work/shared/data/real")


def one(date, time=None, formats=None):
    times = None if time is None else pd.Series([time])
    values, reason = parse_datetimes(pd.Series([date]), times, formats)
    return values.iloc[0], reason.iloc[0]


def local(s: str) -> pd.Timestamp:
    return pd.Timestamp(s).tz_localize(TZ)


@pytest.mark.parametrize(
    "date",
    [
        "2026-11-16",
        "20261116",
        "16.11.2026",
        "16/11/2026",
        "16-11-2026",
        "16 nov 2026",
        "16 november 2026",
        "16 Nov. 2026",
        "måndag 16 november 2026",
        "2026/11/16",
        " 2026-11-16 ",
        "16.11.26",
    ],
)
def test_date_formats(date):
    value, reason = one(date)
    assert pd.isna(reason)
    assert value == local("2026-11-16 00:00")


def test_day_first_never_month_first():
    assert one("6/1/2026")[0] == local("2026-01-06")
    assert one("3/12/2026")[0] == local("2026-12-03")
    assert one("11/16/2026")[1] == "bad_date"  # US month-first is not guessed


@pytest.mark.parametrize(
    "date, expected",
    [
        ("2026-11-16 21:40", "2026-11-16 21:40"),
        ("2026-11-16 21:40:15", "2026-11-16 21:40:15"),
        ("2026-11-16T21:40", "2026-11-16 21:40"),
        ("2026-11-16T21:40:15", "2026-11-16 21:40:15"),
        ("16.11.2026 21.40", "2026-11-16 21:40"),
        ("16 nov 2026 kl 21.40", "2026-11-16 21:40"),
        ("2026-07-01 07:05", "2026-07-01 07:05"),
    ],
)
def test_datetime_strings(date, expected):
    value, reason = one(date)
    assert pd.isna(reason) and value == local(expected)


@pytest.mark.parametrize(
    "date, expected_local",
    [
        ("2026-11-16T20:40:00Z", "2026-11-16 21:40"),
        ("2026-11-16T21:40:00+01:00", "2026-11-16 21:40"),
        ("2026-07-01T12:00:00+00:00", "2026-07-01 14:00"),
        ("2026-07-01T12:00:00.250-0500", "2026-07-01 19:00"),
        ("2026-03-29T01:30:00Z", "2026-03-29 03:30"),  # just after the spring change
    ],
)
def test_offsets_are_converted_to_local(date, expected_local):
    value, reason = one(date)
    assert pd.isna(reason) and value == local(expected_local)


def test_iso_round_trip():
    original = pd.Series(pd.date_range("2026-03-28", "2026-10-27", freq="7h13min", tz=TZ))
    values, reason = parse_datetimes(pd.Series([t.isoformat() for t in original]))
    assert reason.isna().all()
    assert (values == original).all()


@pytest.mark.parametrize(
    "time, expected",
    [
        ("21:40", "2026-11-16 21:40"),
        ("21.40", "2026-11-16 21:40"),
        ("2140", "2026-11-16 21:40"),
        ("9:05", "2026-11-16 09:05"),
        ("905", "2026-11-16 09:05"),
        ("21:40:15", "2026-11-16 21:40:15"),
        ("kl. 21.40", "2026-11-16 21:40"),
        ("0", "2026-11-16 00:00"),
        ("", "2026-11-16 00:00"),
        (None, "2026-11-16 00:00"),
        ("24:00", "2026-11-17 00:00"),
    ],
)
def test_time_column(time, expected):
    value, reason = one("2026-11-16", time)
    assert pd.isna(reason) and value == local(expected)


def test_time_column_overrides_midnight_in_date():
    assert one("2026-11-16 00:00:00", "14:30")[0] == local("2026-11-16 14:30")
    assert one("2026-11-16 08:00", "")[0] == local("2026-11-16 08:00")


@pytest.mark.parametrize(
    "date, time",
    [
        ("2026-02-30", None),
        ("2026-13-01", None),
        ("31.04.2026", None),
        ("igår", None),
        ("2026-11-16", "25:61"),
        ("2026-11-16", "24:30"),
        ("2026-11-16", "12:60"),
        ("2026-11-16", "kväll"),
        ("2026-11-16 25:00", None),
        ("16 foo 2026", None),
        ("26-11-16", None),
        ("9999-01-01", None),
    ],
)
def test_bad_dates(date, time):
    value, reason = one(date, time)
    assert reason == "bad_date" and pd.isna(value)


@pytest.mark.parametrize("date", ["", "   ", None, np.nan, "NA", "-"])
def test_missing_date(date):
    value, reason = one(date, "12:00")
    assert reason == "missing_date" and pd.isna(value)


def test_dst_spring_gap_moves_forward_one_hour():
    value, reason = one("2026-03-29", "02:30")
    assert pd.isna(reason)
    assert value.isoformat() == "2026-03-29T03:30:00+02:00"


def test_dst_autumn_ambiguous_takes_first_instant():
    value, _ = one("2026-10-25", "02:30")
    assert value.isoformat() == "2026-10-25T02:30:00+02:00"
    after, _ = one("2026-10-25", "03:30")
    assert after.isoformat() == "2026-10-25T03:30:00+01:00"


def test_configured_formats_are_tried_first():
    value, reason = one("11/16/2026 09:40 PM", formats=["%m/%d/%Y %I:%M %p"])
    assert pd.isna(reason) and value == local("2026-11-16 21:40")
    # a configured format without time still takes the time column
    assert one("16|11|2026", "10:00", formats=["%d|%m|%Y"])[0] == local("2026-11-16 10:00")


def test_vectorised_result_shape_and_dtypes():
    dates = pd.Series(["2026-11-16", "", "2026-02-30", "2026-11-16"] * 1000, index=range(10, 4010))
    times = pd.Series(["21:40", "10:00", "10:00", "bad"] * 1000, index=range(10, 4010))
    values, reason = parse_datetimes(dates, times)
    assert str(values.dtype) == "datetime64[ns, Europe/Stockholm]"
    assert reason.dtype == "string"
    assert values.index.equals(dates.index) and reason.index.equals(dates.index)
    assert reason.iloc[:4].tolist() == [pd.NA, "missing_date", "bad_date", "bad_date"]
    assert reason.value_counts().to_dict() == {"bad_date": 2000, "missing_date": 1000}


def test_check_window():
    values, _ = parse_datetimes(pd.Series(["2026-11-16", "2024-11-01", "2026-11-22", "2026-11-20 23:00", ""]))
    now = pd.Timestamp("2026-11-20 12:00", tz=TZ)
    reason = check_window(values, now, max_age_days=730, allow_future_days=1)
    assert reason.tolist() == [pd.NA, "too_old", "future_date", pd.NA, pd.NA]
    assert check_window(values, pd.Timestamp("2026-11-20 12:00"), 730, 1).tolist() == reason.tolist()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("6465010,5", 6465010.5),
        ("6465010.5", 6465010.5),
        ("6 465 010,5", 6465010.5),
        ("6\u00a0465\u00a0010,5", 6465010.5),
        ("6\u202f465\u202f010", 6465010.0),
        ("507240", 507240.0),
        ("-75,56985400000", -75.569854),
        ("\u221215,5", -15.5),
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("1.234.567", 1234567.0),
        ("58,32595", 58.32595),
        ("+15.12365", 15.12365),
        (",5", 0.5),
    ],
)
def test_numbers(text, expected):
    numbers, bad = parse_numbers(pd.Series([text]))
    assert numbers.iloc[0] == pytest.approx(expected) and not bad.iloc[0]


@pytest.mark.parametrize("text", ["abc", "1,2,3", "1.2.3", "12a", "1,2.3,4", "--1", "inf", "1e"])
def test_number_garbage_is_bad(text):
    numbers, bad = parse_numbers(pd.Series([text]))
    assert np.isnan(numbers.iloc[0]) and bad.iloc[0]


def test_number_blank_is_nan_not_bad():
    numbers, bad = parse_numbers(pd.Series(["", "  ", None, np.nan, "NA", "NULL", "-", "saknas"], dtype=object))
    assert numbers.isna().all() and not bad.any()
    assert numbers.dtype == "float64" and bad.dtype == "bool"


def test_explicit_decimal():
    numbers, bad = parse_numbers(pd.Series(["1,5", "1.500,25", "1.5"]), decimal=",")
    assert numbers.tolist()[:2] == [1.5, 1500.25] and bad.tolist() == [False, False, True]
    numbers, bad = parse_numbers(pd.Series(["1.5", "1,500.25", "1,5"]), decimal=".")
    assert numbers.tolist()[:2] == [1.5, 1500.25] and bad.tolist() == [False, False, True]


@pytest.mark.skipif(not (REAL / "medellin_homicides.csv").exists(), reason="real data not available")
def test_real_medellin_decimal_commas_and_utc_times():
    df = pd.read_csv(REAL / "medellin_homicides.csv", sep=";", dtype=str, keep_default_na=False)
    lon, bad_lon = parse_numbers(df["longitud"])
    lat, bad_lat = parse_numbers(df["latitud"])
    assert not bad_lon.any() and not bad_lat.any()
    ok = lon.notna()
    assert (~ok).sum() == (df["longitud"] == "NA").sum() == 81  # "NA" means missing, not malformed
    assert lon[ok].between(-76, -75).all() and lat[ok].between(6, 6.5).all()
    values, reason = parse_datetimes(df["fecha_hecho"])
    assert reason.isna().all()
    assert values.iloc[0].isoformat() == "2019-04-23T14:30:00+02:00"  # 12:30Z in Stockholm summer time


# -- issue 9: the day/month order a file proves ---------------------------------------------------


@pytest.mark.parametrize(
    "values, order, problem",
    [
        (["16/11/2026", "5/11/2026"], "dmy", None),
        (["11/16/2026", "11/5/2026"], "mdy", None),
        (["05/11/2026", "06/11/2026"], "dmy", "ambiguous"),
        (["16/11/2026", "11/17/2026"], "dmy", "conflict"),
        (["05.11.2026", "06.11.2026"], "dmy", None),  # dots: Swedish, day first
        (["2026-11-05", "20261105"], "dmy", None),  # year first: nothing to decide
        (["05/05/2026"], "dmy", None),  # the same either way
        (["26-11-16"], "dmy", None),  # dashed two-digit year never decides
    ],
)
def test_day_month_order(values, order, problem):
    got = day_month_order(pd.Series(values))
    assert (got.order, got.problem) == (order, problem)


def test_month_first_order_reads_every_two_number_form():
    values, reason = parse_datetimes(pd.Series(["11/5/2026", "11.05.2026 14:30", "2026-11-05"]), order="mdy")
    assert reason.isna().all()
    assert [v.strftime("%Y-%m-%d") for v in values] == ["2026-11-05"] * 3
