"""to_sweref: known points, swapped axes, RT90 in a SWEREF column, real foreign data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from pipeline.sources.coords import to_sweref

REAL = Path("/work/shared/data/real")
# Mjölby centre (GeoNames) and its published SWEREF 99 TM position.
LAT, LON = 58.32595, 15.12365
E_REF, N_REF = 507240.0, 6465010.0
# Mantorp and Skänninge, same source.
TOWNS = np.array([[58.35000, 15.28333, 516580, 6467700], [58.39427, 15.08659, 505060, 6472610]])


def independent(lon, lat, src="EPSG:4326", dst="EPSG:3006"):
    return Transformer.from_crs(src, dst, always_xy=True).transform(lon, lat)


def test_wgs84_known_points():
    lat = np.r_[LAT, TOWNS[:, 0]]
    lon = np.r_[LON, TOWNS[:, 1]]
    e, n, status = to_sweref(lon, lat, "EPSG:4326")
    assert status.tolist() == ["ok"] * 3
    ref_e, ref_n = independent(lon, lat)
    np.testing.assert_allclose(e, ref_e, atol=0.01)
    np.testing.assert_allclose(n, ref_n, atol=0.01)
    pub_e = np.r_[E_REF, TOWNS[:, 2]]
    pub_n = np.r_[N_REF, TOWNS[:, 3]]
    assert np.hypot(e - pub_e, n - pub_n).max() < 50


def test_wgs84_swapped_is_detected_and_fixed():
    e, n, status = to_sweref(np.array([LAT, LON]), np.array([LON, LAT]), "EPSG:4326")
    assert status.tolist() == ["swapped", "ok"]
    assert np.hypot(e[0] - e[1], n[0] - n[1]) < 1e-6
    assert abs(e[0] - E_REF) < 50 and abs(n[0] - N_REF) < 50


def test_sweref_ok_and_swapped():
    e, n, status = to_sweref(np.array([E_REF, N_REF]), np.array([N_REF, E_REF]), "EPSG:3006")
    assert status.tolist() == ["ok", "swapped"]
    assert e.tolist() == [E_REF, E_REF] and n.tolist() == [N_REF, N_REF]


def test_rt90_in_sweref_column():
    rt_e, rt_n = independent(LON, LAT, dst="EPSG:3021")
    assert 1.2e6 < rt_e < 1.9e6  # really RT90-looking
    true_e, true_n = independent(LON, LAT)
    e, n, status = to_sweref(np.array([rt_e, rt_n]), np.array([rt_n, rt_e]), "EPSG:3006")
    assert status.tolist() == ["rt90", "rt90"]  # also when given N, E
    assert np.hypot(e - true_e, n - true_n).max() < 5


def test_rt90_is_not_guessed_for_other_crs():
    rt_e, rt_n = independent(LON, LAT, dst="EPSG:3021")
    e, n, status = to_sweref(np.array([rt_e]), np.array([rt_n]), "EPSG:4326")
    assert status.tolist() == ["invalid"]


def test_configured_rt90_crs():
    rt_e, rt_n = independent(LON, LAT, dst="EPSG:3021")
    e, n, status = to_sweref(np.array([rt_e]), np.array([rt_n]), "EPSG:3021")
    assert status.tolist() == ["ok"] and abs(e[0] - E_REF) < 50 and abs(n[0] - N_REF) < 50


def test_missing_and_invalid():
    x = np.array([np.nan, E_REF, 0.0, 12.0, 2_500_000.0, np.inf])
    y = np.array([N_REF, np.nan, 0.0, 34.0, 6_400_000.0, N_REF])
    e, n, status = to_sweref(x, y, "EPSG:3006")
    assert status.tolist() == ["missing", "missing", "invalid", "invalid", "invalid", "missing"]
    assert np.isnan(e[[0, 1, 5]]).all() and np.isnan(n[[0, 1, 5]]).all()
    assert status.dtype.kind == "U"


def test_wgs84_outside_sweden_is_invalid():
    # Helsinki (lon 24.94, just east of Sweden's range) and Paris: neither order is Swedish.
    e, n, status = to_sweref(np.array([24.94, 2.35]), np.array([60.17, 48.86]), "EPSG:4326")
    assert status.tolist() == ["invalid", "invalid"]


@pytest.mark.skipif(not (REAL / "vancouver_thefts.csv.gz").exists(), reason="real data not available")
def test_real_vancouver_utm_is_invalid_and_round_trips():
    df = pd.read_csv(REAL / "vancouver_thefts.csv.gz", nrows=2000)
    x, y = df["X"].to_numpy(float), df["Y"].to_numpy(float)
    e, n, status = to_sweref(x, y, "EPSG:32610")
    has = np.isfinite(x) & np.isfinite(y) & (x > 0)
    assert set(status[has]) == {"invalid"}  # Vancouver is not in Sweden, in any axis order
    assert set(status[~np.isfinite(x) | ~np.isfinite(y)]) <= {"missing"}
    # invalid points carry the straight transformation: transforming back gives the input
    back_x, back_y = Transformer.from_crs("EPSG:3006", "EPSG:32610", always_xy=True).transform(e[has], n[has])
    np.testing.assert_allclose(back_x, x[has], atol=0.01)
    np.testing.assert_allclose(back_y, y[has], atol=0.01)
