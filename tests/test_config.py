"""config.yaml is validated into typed objects; every mistake names the key and what is allowed."""

import copy
from pathlib import Path

import pytest
import yaml

from pipeline.config import load_config, parse_config
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raw_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, source="config.yaml")
    return str(exc.value)


def test_shipped_config_loads_into_typed_objects():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.municipality.kommunkod == "0586"
    assert cfg.analysis.kernel == "quartic" and cfg.analysis.bandwidth_m == 200
    assert set(cfg.partners) == {"polisen", "kommunen", "bostadsbolaget"}
    assert cfg.partners["bostadsbolaget"].crs == "EPSG:4326"
    assert cfg.time_bin_of_hour()[2] == "natt" and cfg.time_bin_of_hour()[23] == "kvall"
    assert cfg.sensitive_categories() == {"vald_nara_relation", "sexualbrott", "ovrigt_kansligt"}
    assert len(cfg.sha256) == 64 and cfg.base_dir == ROOT


def test_unknown_key_is_named(raw_config):
    data = copy.deepcopy(raw_config)
    data["analysis"]["kernal"] = "quartic"
    assert "unknown key 'analysis.kernal'" in _error(data)


def test_wrong_type_names_key_and_allowed_values(raw_config):
    data = copy.deepcopy(raw_config)
    data["analysis"]["kernel"] = "epanechnikov"
    msg = _error(data)
    assert "analysis.kernel" in msg and "quartic" in msg and "gaussian" in msg


def test_negative_cell_size_rejected(raw_config):
    data = copy.deepcopy(raw_config)
    data["analysis"]["cell_size_m"] = -5
    assert "analysis.cell_size_m" in _error(data)


def test_typo_in_taxonomy_key_of_partner_mapping(raw_config):
    data = copy.deepcopy(raw_config)
    data["partners"]["polisen"]["categories"]["Skadegörelse"] = "skadegorlse"
    msg = _error(data)
    assert "partners.polisen.categories.Skadegörelse" in msg and "'skadegorlse' is not a taxonomy key" in msg


def test_unknown_canonical_column_and_missing_location(raw_config):
    data = copy.deepcopy(raw_config)
    data["partners"]["kommunen"]["columns"]["adress"] = "Plats"
    assert "unknown canonical field" in _error(data)
    data = copy.deepcopy(raw_config)
    del data["partners"]["kommunen"]["columns"]["address"]
    assert "map a location" in _error(data)


def test_unknown_crs(raw_config):
    data = copy.deepcopy(raw_config)
    data["partners"]["polisen"]["crs"] = "EPSG:999999"
    assert "partners.polisen.crs" in _error(data)


def test_time_bins_must_cover_the_day(raw_config):
    data = copy.deepcopy(raw_config)
    data["time_of_day"]["kvall"]["end"] = 23
    assert "cover 0–24" in _error(data)


def test_group_must_exist(raw_config):
    data = copy.deepcopy(raw_config)
    data["taxonomy"]["klotter"]["group"] = "grafitti"
    assert "taxonomy.klotter.group" in _error(data)


def test_malformed_yaml_names_line(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("municipality:\n  name: Mjölby\n   kommunkod: 0586\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    assert "line 3" in str(exc.value) and "invalid YAML" in str(exc.value)


def test_top_level_must_be_mapping(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(bad)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/config.yaml")


# -- issue 9 ------------------------------------------------------------------------------------


def _load_text(tmp_path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    return str(exc.value)


def test_alias_bomb_is_refused_before_it_expands(tmp_path):
    # 9**9 values once expanded: refused while the document is still a small node graph
    levels = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi")]
    msg = _load_text(tmp_path, "\n".join(levels) + "\n")
    assert "aliases" in msg and "line" in msg


def test_duplicate_key_names_both_lines(tmp_path):
    text = (
        (ROOT / "config.yaml")
        .read_text(encoding="utf-8")
        .replace("  min_count: 3", "  min_count: 3\n  min_count: 5", 1)
    )
    msg = _load_text(tmp_path, text)
    first = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("  min_count: 3"))
    assert f"line {first} and line {first + 1}" in msg and "min_count" in msg


def test_colliding_category_names_name_both_lines(tmp_path):
    text = (
        (ROOT / "config.yaml")
        .read_text(encoding="utf-8")
        .replace("      Klotter: klotter\n", '      Klotter: klotter\n      "klotter ": skadegorelse\n', 1)
    )
    msg = _load_text(tmp_path, text)
    assert "'Klotter'" in msg and "'klotter '" in msg and msg.count("line ") == 2


def test_tiles_and_attribution_must_be_safe(raw_config):
    data = copy.deepcopy(raw_config)
    data["map"]["tiles_url"] = "javascript:alert(1)//{z}/{x}/{y}"
    assert "map.tiles_url" in _error(data)
    data = copy.deepcopy(raw_config)
    data["map"]["tiles_attribution"] = "OSM <script>alert(1)</script>"
    assert "<script>" in _error(data)
    data = copy.deepcopy(raw_config)
    data["map"]["tiles_attribution"] = '&copy; <a href="https://www.openstreetmap.org/copyright">OSM</a>'
    parse_config(data, base_dir=ROOT, source="config.yaml")


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("maps", ".", "paths.raw"),
        ("processed", "data", "paths.raw"),
        ("maps", "data/reference", "geocoding.gazetteer"),
        ("archive", "data/raw/arkiv", "paths.raw"),
        ("secret", "maps/key", "paths.maps"),
    ],
)
def test_outputs_may_not_overlap_inputs(raw_config, key, value, named):
    data = copy.deepcopy(raw_config)
    data.setdefault("paths", {})[key] = value
    with pytest.raises(ConfigError, match=named):
        parse_config(data, base_dir=ROOT, source="config.yaml")


def test_unmapped_sensitive_category_is_added(raw_config):
    cfg = parse_config(copy.deepcopy(raw_config), base_dir=ROOT, source="config.yaml")
    assert cfg.taxonomy["ovrigt_kansligt"].sensitive
    assert cfg.sensitive_names()["Misshandel i nära relation"] == "vald_nara_relation"
