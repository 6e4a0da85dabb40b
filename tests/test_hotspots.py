"""Hotspot zones on known synthetic surfaces."""

import math

import numpy as np
import pytest
from shapely.geometry import box

from pipeline.analysis.grid import Grid, clip_mask
from pipeline.analysis.zones import density_class, hotspot_zones
from pipeline.render.palette import LEVEL_FALLBACK_COLOR, ZONE_COLORS, level_color

G = Grid(500_000.0, 6_460_000.0, 100.0, 20, 10)  # 200 cells, 2 km²


def surface():
    """Two separate peaks: west (3 cells, 9/8/7) and east (2 cells, 6/5); rest 1."""
    d = np.ones(G.shape)
    d[4, 2], d[4, 3], d[5, 2] = 9, 8, 7
    d[7, 15], d[7, 16] = 6, 5
    return d


def centre(row, col):
    return [G.x0 + (col + 0.5) * G.cell, G.y0 + (row + 0.5) * G.cell]


def test_cell_counts_zones_and_pai():
    mask = np.ones(G.shape, bool)
    pts = np.array([centre(4, 2)] * 3 + [centre(5, 2)] + [centre(7, 16)] * 2 + [centre(0, 0)] * 4)
    z = hotspot_zones(surface(), G, mask, [0.5, 2.5], pts)
    small = z[z.level == 0.5]  # ceil(0.005·200) = 1 cell
    assert len(small) == 1 and small.area_km2.iloc[0] == pytest.approx(0.01)
    assert small.n_events.iloc[0] == 3 and small.density_min.iloc[0] == 9
    big = z[z.level == 2.5].reset_index(drop=True)  # 5 cells: both peaks, two zones
    assert big.area_km2.sum() == pytest.approx(0.05) and big.density_min.iloc[0] == 5
    assert big.zone_id.tolist() == [1, 2] and big.n_events.tolist() == [4, 2]
    west = big.iloc[0]
    assert west.geometry.area == pytest.approx(3 * 100 * 100)
    assert west.share_events == pytest.approx(0.4)
    assert west.share_area == pytest.approx(0.03 / 2.0)
    assert west.pai == pytest.approx(0.4 / 0.015)
    # Edges are exact cell edges.
    assert big.iloc[1].geometry.equals(box(G.x0 + 1500, G.y0 + 700, G.x0 + 1700, G.y0 + 800))
    assert z.crs.to_epsg() == 3006


def test_mask_excludes_cells_and_sets_area():
    mask = np.ones(G.shape, bool)
    mask[4, 2] = False  # the densest cell lies outside the municipality
    mask[:, 18:] = False
    z = hotspot_zones(surface(), G, mask, [0.6], np.array([centre(4, 3)]))
    n_mask = mask.sum()
    assert math.ceil(0.006 * n_mask) == 2
    assert z.area_km2.sum() == pytest.approx(0.02)
    assert not z.geometry.iloc[0].intersects(box(*centre(4, 2), *centre(4, 2)).buffer(10))
    assert z.share_area.sum() == pytest.approx(2 / n_mask)


def test_zero_density_never_selected_and_ties_deterministic():
    d = np.zeros(G.shape)
    d[1, 1] = d[1, 5] = d[8, 9] = 2.0
    z = hotspot_zones(d, G, np.ones(G.shape, bool), [50.0], np.empty((0, 2)))
    assert len(z) == 3 and z.area_km2.sum() == pytest.approx(0.03)
    assert z.share_events.isna().all() and z.pai.isna().all()
    again = hotspot_zones(d, G, np.ones(G.shape, bool), [50.0], np.empty((0, 2)))
    assert all(a.equals(b) for a, b in zip(z.geometry, again.geometry))
    tie = hotspot_zones(d, G, np.ones(G.shape, bool), [0.5], np.empty((0, 2)))
    assert tie.geometry.iloc[0].bounds[:2] == (G.x0 + 100, G.y0 + 100)  # south-west first


def test_diagonal_cells_are_separate_zones():
    d = np.zeros(G.shape)
    d[2, 2] = d[3, 3] = 1.0
    z = hotspot_zones(d, G, np.ones(G.shape, bool), [1.0], np.array([centre(3, 3)]))
    assert len(z) == 2 and z.n_events.tolist() == [1, 0]


def test_empty_and_validation():
    z = hotspot_zones(np.zeros(G.shape), G, np.ones(G.shape, bool), [0.1], np.empty((0, 2)))
    assert len(z) == 0 and list(z.columns)[-1] == "geometry" and z.crs.to_epsg() == 3006
    with pytest.raises(ValueError, match="shape"):
        hotspot_zones(np.zeros((3, 3)), G, np.ones(G.shape, bool), [0.1], np.empty((0, 2)))
    with pytest.raises(ValueError, match="levels"):
        hotspot_zones(np.zeros(G.shape), G, np.ones(G.shape, bool), [150], np.empty((0, 2)))
    with pytest.raises(ValueError, match="no cells"):
        hotspot_zones(np.zeros(G.shape), G, np.zeros(G.shape, bool), [0.1], np.empty((0, 2)))


def test_clip_mask_uses_cell_centres():
    poly = box(G.x0, G.y0, G.x0 + 520, G.y0 + 260)  # centres inside: 5 columns x 3 rows
    m = clip_mask(G, poly)
    assert m.shape == G.shape and m.sum() == 5 * 3  # centre rows y=50,150,250 (< 260), cols x<=450
    import geopandas as gpd

    assert (clip_mask(G, gpd.GeoSeries([poly], crs=3006)) == m).all()
    with pytest.raises(ValueError):
        clip_mask(G, box(0, 0, 1, 1).difference(box(0, 0, 1, 1)))


def test_colours_and_classes():
    # one palette for map and QGIS: the 0.1 % zone has the map's densest colour everywhere
    assert level_color(0.1) == ZONE_COLORS[0] == "#b10026" and level_color(7.3) == LEVEL_FALLBACK_COLOR
    assert density_class([0, 0.5, 0.99, 1, 60]).tolist() == [0, 1, 1, 2, 7]
    with pytest.raises(ValueError):
        density_class([1], breaks=[2, 1])
