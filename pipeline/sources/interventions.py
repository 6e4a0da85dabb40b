"""The register of targeted interventions (*riktade insatser*): read, validate, locate.

The coordinator keeps the register as CSV or Excel in ``data/raw/insatser/`` (config block
``interventions:``). Every row is accepted or rejected with a reason, as for a partner
export: per file, rows read = accepted + rejected. A structural problem (unreadable file,
missing column) stops with one line naming file, line and column.

A row's target is exactly one of

- ``Område``: a named area (``geocoding.areas``);
- ``Plats``: a place or address in the gazetteer, a circle of ``Radie (m)`` around it
  (default ``interventions.default_radius_m``);
- ``X``/``Y``: a point in SWEREF 99 TM, with ``Radie (m)``;
- ``Zon``: a hotspot zone or cluster of an archived week. Clusters are named by their
  ``cluster_id`` (``2026-W47-vecka-kvall-1``); hotspot zones by
  ``<week>-<period>-<time of day>-<level>-<zone_id>`` (``2026-W47-vecka-alla-0.5-3``:
  week 2026-W47, period ``vecka``, the whole day, level 0.5 %, zone 3), the form the report
  prints next to each zone. The zone's polygon is the target.

``Problem`` lists taxonomy categories or groups (keys or Swedish labels, comma-separated;
empty = every category). Protected (sensitive) categories are never followed up per place:
a group is expanded to its other categories, and naming a protected category rejects the row.

``read_register`` does the I/O (register files, archives named by ``Zon``) and hands the
rows to the pure ``validate_register``.

>>> register, rejected, quality = read_register(cfg, reference)      # doctest: +SKIP
>>> quality["rows_read"] == quality["accepted"] + quality["rejected"]  # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime as dt
import glob
import io
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import process

from pipeline.errors import ConfigError, InputError
from pipeline.io import archive
from pipeline.privacy import redact, redact_series
from pipeline.schema import REJECTED_COLUMNS
from pipeline.sources.excel import read_xlsx, serial_text_to_date
from pipeline.sources.parse import NULL_TOKENS, parse_datetimes, parse_numbers
from pipeline.sources.read import RawExport, decode_bytes, parse_records, sniff_delimiter

CRS = "EPSG:3006"
#: ``source`` of the register's rejected rows (rejected.csv has partner rows too).
SOURCE = "insatser"
#: Target kinds (``target_kind``), with the Swedish word the report uses.
TARGET_KINDS = {"area": "område", "place": "plats", "point": "koordinat", "zone": "zon"}
#: Radii beyond this are typos (metres), unless config raises ``max_radius_m``.
YEARS = (2000, 2099)

#: Reason codes for rejected register rows, with the Swedish text used in the report.
REASONS: dict[str, str] = {
    "empty_row": "Tom rad",
    "bad_field_count": "Fel antal fält (trasig eller avkortad rad)",
    "field_too_long": "Fält för långt",
    "missing_id": "Insats-id saknas",
    "duplicate_id": "Samma insats-id finns redan",
    "missing_type": "Typ av insats saknas",
    "unknown_type": "Okänd typ av insats",
    "missing_start": "Startdatum saknas",
    "bad_date": "Datum kan inte tolkas",
    "end_before_start": "Slutdatum före startdatum",
    "missing_target": "Mål saknas (område, plats, koordinater eller zon)",
    "several_targets": "Flera mål angivna",
    "unknown_area": "Okänt område",
    "place_not_found": "Platsen hittades inte",
    "bad_coordinates": "Koordinater kan inte tolkas",
    "outside_municipality": "Utanför kommunen",
    "bad_radius": "Ogiltig radie",
    "bad_zone": "Zon-id kan inte tolkas",
    "unknown_zone": "Zonen finns inte i arkivet",
    "unknown_problem": "Okänd problemkategori",
    "sensitive_problem": "Skyddad kategori kan inte följas upp per plats",
}

#: Columns of the accepted register (a GeoDataFrame in EPSG:3006, target polygons).
REGISTER_COLUMNS: dict[str, str] = {
    "intervention_id": "Insats-id as written.",
    "name": "What is done (Insats); the type's name when empty.",
    "type": "Type, one of interventions.types (as configured).",
    "responsible": "Responsible partner (Ansvarig), free text; may be empty.",
    "start": "Start date, ISO (2026-09-28).",
    "end": "End date, ISO; empty while ongoing.",
    "target_kind": "area | place | point | zone.",
    "target": "The area name, the gazetteer name matched, 'X, Y' or the zone reference.",
    "radius_m": "Radius of a place or point target in metres; NaN for areas and zones.",
    "problem": "Taxonomy keys followed up, comma-separated; empty = every (unprotected) category.",
    "problem_text": "Problem as written.",
    "comment": "Kommentar: empty unless kept (interventions.keep_free_text), then redacted.",
    "source_file": "Register file, relative to the config folder.",
    "source_line": "Line (row) of the register file.",
    "geometry": "Target polygon, EPSG:3006, clipped to the municipality.",
}

_ZONE_REF = re.compile(
    r"(?P<week>\d{4}-W\d{2})-(?P<period>vecka|rullande)-(?P<tod>[a-z0-9_]+)-"
    r"(?:(?P<level>\d+(?:[.,]\d+)?)-)?(?P<n>\d+)",
    re.I,
)


@dataclass(frozen=True)
class ZoneTarget:
    """A zone reference resolved against the archive: its polygon, or why there is none."""

    geometry: object = None
    problem: str = ""


# -- I/O -----------------------------------------------------------------------------------------


def read_register(cfg, reference) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict]:
    """Read every register file and validate it: ``(register, rejected, quality)``.

    ``reference`` has ``boundary`` (EPSG:3006), ``areas`` (GeoDataFrame name, geometry) and
    ``gazetteer``. ``register`` follows REGISTER_COLUMNS, ``rejected`` REJECTED_COLUMNS
    (``source`` = ``insatser``); ``quality`` counts rows per file and rejections per reason.
    No ``interventions:`` block, or no file, gives an empty register.
    """
    icfg = cfg.interventions
    if icfg is None:
        return validate_register([], cfg, reference)
    check_areas(icfg, reference.areas)
    raws = [
        read_register_file(path, _display_name(path, cfg.base_dir), icfg)
        for path in register_files(icfg.files, cfg.base_dir)
    ]
    return validate_register(raws, cfg, reference, zones=load_zone_targets(cfg, raws))


def load_register(cfg, reference) -> gpd.GeoDataFrame | None:
    """The accepted register for the products, its ``attrs["quality"]`` the public summary:
    rows read / accepted / rejected per file and each rejected row's file, line, reason and
    (redacted) message -- never its raw text, which may hold free text. None without a block.
    """
    if cfg.interventions is None:
        return None
    register, rejected, quality = read_register(cfg, reference)
    register.attrs["quality"] = public_quality(quality, rejected)
    return register


def public_quality(quality: dict, rejected: pd.DataFrame) -> dict:
    """``quality`` plus the rejected rows as they may be published (see :func:`load_register`)."""
    rows = [
        {
            "file": str(r.source_file),
            "line": int(r.source_line),
            "reason": str(r.reason),
            "message": redact(str(r.message)),
        }
        for r in rejected.itertuples(index=False)
    ]
    return {**quality, "rejected_rows": rows}


def register_files(patterns: list[str], base_dir: Path) -> list[Path]:
    """Files matching any pattern, sorted and once each; Excel's lock files (``~$...``) skipped.

    >>> register_files(["data/raw/insatser/*.csv"], Path("."))     # doctest: +SKIP
    [PosixPath('data/raw/insatser/demo_insatser_2026.csv')]
    """
    found = set()
    for pattern in patterns:
        full = os.path.join(str(base_dir), os.path.expanduser(pattern))
        found |= {Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p)}
    return sorted(p for p in found if not p.name.startswith("~$"))


def read_register_file(path: Path, display_name: str, icfg) -> RawExport:
    """One register file (.xlsx, or CSV with encoding and delimiter detection) as raw rows."""
    wanted = list(icfg.mapped().values())
    where = {"file": display_name}
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        dates = [c for f, c in icfg.mapped().items() if f in ("start", "end")]
        return read_xlsx(path, display_name, wanted, where, sheet=icfg.sheet, date_columns=dates)
    text, encoding = decode_bytes(path.read_bytes(), icfg.encoding, where)
    text = text.replace("\n\ufeff", "\n")
    header_line = next((ln for ln in io.StringIO(text, newline="") if ln.strip()), None)
    if header_line is None:
        raise InputError("file is empty: no header line; add the header row or remove the file", **where)
    names = [unicodedata.normalize("NFC", w) for w in wanted]
    delimiter = icfg.delimiter if icfg.delimiter != "auto" else sniff_delimiter(header_line, names)
    frame = parse_records(text, delimiter, [], where)  # header check below, with the register's hint
    _check_columns(frame, names, where)
    return RawExport(frame=frame, encoding=encoding, delimiter=delimiter, path=path, display_name=display_name)


def load_zone_targets(cfg, raws: list[RawExport]) -> dict[str, ZoneTarget]:
    """Resolve every ``Zon`` reference in the register against the archive of its week."""
    column = cfg.interventions.mapped().get("zone")
    refs = sorted({_clean(v) for raw in raws if column in raw.frame for v in raw.frame[column]} - {""})
    layers_of: dict[str, dict | None] = {}
    out = {}
    for ref in refs:
        parsed = parse_zone_ref(ref)
        if parsed is None:
            continue
        week = parsed["week"]
        if week not in layers_of:
            path = archive.archive_path(cfg, week)
            layers_of[week] = archive.read_archive(path) if path.is_file() else None
        out[ref] = resolve_zone(parsed, layers_of[week])
    return out


def check_areas(icfg, areas) -> None:
    """Configured comparison areas must be named areas (a config mistake, one line)."""
    names = set(areas["name"].astype(str)) if len(areas) else set()
    for key in ("comparison_area", "ring_comparison_area"):
        value = getattr(icfg, key)
        if value is not None and value not in names:
            raise ConfigError(
                f"'interventions.{key}': {value!r} is not a named area; "
                f"allowed: {', '.join(sorted(names)) or '(no areas configured)'}"
            )


def _check_columns(frame: pd.DataFrame, wanted: list[str], where: dict) -> None:
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        found = [c for c in frame.columns if not str(c).startswith("_")]
        raise InputError(
            f"configured column(s) {missing} not in the header; columns found: {found}. "
            "Fix `interventions.columns` in config.yaml (null for a column the register "
            "does not have) or the header",
            line=1,
            column=missing[0] if len(missing) == 1 else None,
            **where,
        )


def _display_name(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


# -- zones ---------------------------------------------------------------------------------------


def parse_zone_ref(ref: str) -> dict | None:
    """A zone reference's parts, or None when it is not one.

    >>> parse_zone_ref("2026-W47-vecka-kvall-1")["kind"]
    'cluster'
    >>> p = parse_zone_ref("2026-W47-vecka-alla-0.5-3")
    >>> p["kind"], p["level"], p["zone_id"]
    ('hotspot', 0.5, 3)
    """
    m = _ZONE_REF.fullmatch(str(ref).strip())
    if not m:
        return None
    out = {"week": m["week"].upper(), "period": m["period"].lower(), "time_of_day": m["tod"].lower()}
    if m["level"] is None:
        return {**out, "kind": "cluster", "cluster_id": f"{out['week']}-{out['period']}-{out['time_of_day']}-{m['n']}"}
    return {**out, "kind": "hotspot", "level": float(m["level"].replace(",", ".")), "zone_id": int(m["n"])}


def zone_ref(week: str, period: str, time_of_day: str, level: float, zone_id: int) -> str:
    """The readable reference of a hotspot zone (the form ``Zon`` accepts).

    >>> zone_ref("2026-W47", "vecka", "alla", 0.5, 3)
    '2026-W47-vecka-alla-0.5-3'
    """
    return f"{week}-{period}-{time_of_day}-{float(level):g}-{int(zone_id)}"


def resolve_zone(parsed: dict, layers: dict | None) -> ZoneTarget:
    """The polygon a parsed reference names in a week's archive layers (None: not archived)."""
    if layers is None:
        return ZoneTarget(
            problem=f"vecka {parsed['week']} har inget arkiv; bygg den först "
            f"(make weekly WEEK={parsed['week']}) eller ange ett annat mål"
        )
    if parsed["kind"] == "cluster":
        frame = layers.get("clusters")
        hit = frame[frame["cluster_id"].astype(str) == parsed["cluster_id"]] if frame is not None else None
    else:
        frame = layers.get("hotspots")
        hit = (
            None
            if frame is None
            else frame[
                (frame["period"].astype(str) == parsed["period"])
                & (frame["time_of_day"].astype(str) == parsed["time_of_day"])
                & np.isclose(frame["level"].astype(float), parsed["level"])
                & (frame["zone_id"].astype(int) == parsed["zone_id"])
            ]
        )
    if hit is None or not len(hit):
        return ZoneTarget(
            problem=f"det finns {'inget sådant kluster' if parsed['kind'] == 'cluster' else 'ingen sådan hotspot-zon'} "
            f"i arkivet för {parsed['week']}"
        )
    geom = shapely.union_all(hit.to_crs(CRS).geometry.to_numpy())
    return ZoneTarget(geometry=geom)


# -- validation (pure) ---------------------------------------------------------------------------


def validate_register(
    raws: list[RawExport],
    cfg,
    reference,
    zones: dict[str, ZoneTarget] | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict]:
    """Validate raw register rows: ``(register, rejected, quality)``; see :func:`read_register`.

    Ids are unique across files: the first row with an id (files in name order) wins.
    """
    zones = zones or {}
    accepted, rejected, files, seen_ids = [], [], [], {}
    for raw in raws:
        acc, rej = _validate_file(raw, cfg, reference, zones, seen_ids)
        accepted.append(acc)
        rejected.append(rej)
        files.append(
            {
                "file": raw.display_name,
                "encoding": raw.encoding,
                "delimiter": raw.delimiter,
                "rows_read": raw.rows_read,
                "accepted": len(acc),
                "rejected": len(rej),
            }
        )
    register = pd.concat(accepted, ignore_index=True) if accepted else empty_register()
    register = gpd.GeoDataFrame(register, geometry="geometry", crs=CRS)
    rej = pd.concat(rejected, ignore_index=True) if rejected else _empty_rejected()
    quality = _quality(files, rej)
    return register, rej, quality


def empty_register() -> gpd.GeoDataFrame:
    """A register with no rows and the REGISTER_COLUMNS."""
    data = {c: pd.Series(dtype="string") for c in REGISTER_COLUMNS if c != "geometry"}
    data["radius_m"] = pd.Series(dtype="float64")
    data["source_line"] = pd.Series(dtype="int64")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)


class _Rows:
    """Per-row first rejection (later checks never overwrite an earlier reason)."""

    def __init__(self, n: int):
        self.reason: list[str | None] = [None] * n
        self.message: list[str] = [""] * n

    def open(self, i: int) -> bool:
        return self.reason[i] is None

    def reject(self, i: int, reason: str, message: str) -> None:
        if self.reason[i] is None:
            self.reason[i], self.message[i] = reason, message


def _validate_file(raw: RawExport, cfg, reference, zones, seen_ids) -> tuple[pd.DataFrame, pd.DataFrame]:
    icfg = cfg.interventions
    cols = icfg.mapped()
    frame = raw.frame.reset_index(drop=True)
    n = len(frame)
    text = {f: _text_column(frame, c) for f, c in cols.items()}
    rows = _Rows(n)
    _faults(frame, rows)
    _ids(text["id"], cols["id"], raw.display_name, frame["_line"], rows, seen_ids)
    types = _types(text["type"], cols["type"], icfg.types, rows)
    start, end = _dates(text, cols, icfg, rows)
    problems = _problems(text.get("problem"), cols.get("problem"), cfg, rows)
    targets = _targets(text, cols, cfg, reference, zones, rows)
    ok = np.array([rows.open(i) for i in range(n)], dtype=bool)
    accepted = _accepted(frame, text, ok, types, start, end, problems, targets, raw.display_name, cfg)
    rejected = _rejected(frame, rows, ~ok, raw.display_name)
    return accepted, rejected


def _text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype="string")
    s = frame[column].astype("string").fillna("").str.strip().str.normalize("NFC")
    return s.str.replace(r"\s+", " ", regex=True)


def _clean(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", str(value)).strip())


def _fold(text: str) -> str:
    return _clean(text).casefold()


def _blank(value: str) -> bool:
    return value == "" or value.lower() in NULL_TOKENS


#: Row messages are Swedish: the coordinator reads them in the report and fixes the register.
_FAULT_MESSAGES = {
    "empty_row": "raden är tom",
    "bad_field_count": "fel antal fält (trasig rad eller ett citattecken som inte stängs); rätta raden i registret",
    "field_too_long": "ett fält är orimligt långt (oftast ett citattecken som inte stängs); rätta raden i registret",
}


def _faults(frame: pd.DataFrame, rows: _Rows) -> None:
    for i, fault in enumerate(frame["_fault"]):
        if isinstance(fault, str) and fault:
            rows.reject(i, fault, _FAULT_MESSAGES.get(fault, fault))


def _ids(ids: pd.Series, column: str, file: str, lines: pd.Series, rows: _Rows, seen: dict) -> None:
    for i, value in enumerate(ids):
        if not rows.open(i):
            continue
        if _blank(value):
            rows.reject(i, "missing_id", f"kolumnen '{column}' är tom; ge varje insats ett id")
            continue
        key = _fold(value)
        if key in seen:
            first_file, first_line = seen[key]
            rows.reject(
                i,
                "duplicate_id",
                f"id {value!r} används redan i {first_file} rad {first_line}; ge insatsen ett eget id",
            )
        else:
            seen[key] = (file, int(lines.iloc[i]))


def _types(values: pd.Series, column: str, allowed: list[str], rows: _Rows) -> list[str]:
    lookup = {_fold(t): t for t in allowed}
    out = []
    for i, value in enumerate(values):
        out.append(lookup.get(_fold(value), ""))
        if _blank(value):
            rows.reject(i, "missing_type", f"kolumnen '{column}' är tom; tillåtna typer: {', '.join(allowed)}")
        elif _fold(value) not in lookup:
            rows.reject(
                i,
                "unknown_type",
                f"kolumnen '{column}': {value!r} är ingen känd typ; tillåtna: "
                f"{', '.join(allowed)} (eller lägg till den i interventions.types)",
            )
    return out


def _dates(text: dict, cols: dict, icfg, rows: _Rows) -> tuple[list, list]:
    start = _parse_dates(text["start"], icfg.date_formats)
    end = _parse_dates(text["end"], icfg.date_formats) if "end" in text else [None] * len(start)
    for i in range(len(start)):
        s_text, e_text = text["start"].iloc[i], text["end"].iloc[i] if "end" in text else ""
        if _blank(s_text):
            rows.reject(i, "missing_start", f"kolumnen '{cols['start']}' är tom; skriv startdatum som 2026-09-28")
        elif start[i] is None:
            rows.reject(i, "bad_date", _date_message(cols["start"], s_text))
        elif not _blank(e_text) and end[i] is None:
            rows.reject(i, "bad_date", _date_message(cols["end"], e_text) + " (eller lämna tomt medan insatsen pågår)")
        elif end[i] is not None and end[i] < start[i]:
            rows.reject(
                i,
                "end_before_start",
                f"kolumnen '{cols['end']}': {end[i]} är före starten {start[i]}; rätta något av datumen",
            )
    return start, end


def _parse_dates(values: pd.Series, formats) -> list[dt.date | None]:
    """Dates (no time), or None; Excel serial numbers (a CSV saved from an unformatted sheet)
    count as dates; years outside YEARS are typos."""
    text = values.map(lambda v: serial_text_to_date(v) or v)
    parsed, reason = parse_datetimes(text.astype("string"), None, formats)
    out = []
    for value, bad in zip(parsed, reason):
        ok = pd.isna(bad) and pd.notna(value) and YEARS[0] <= value.year <= YEARS[1]
        out.append(value.date() if ok else None)
    return out


def _date_message(column: str, value: str) -> str:
    return f"kolumnen '{column}': {value!r} är inget datum; skriv det som 2026-09-28"


# -- problem categories ---------------------------------------------------------------------------


def problem_vocabulary(cfg) -> dict[str, list[str]]:
    """Folded name (key or label of a category or group) -> the taxonomy keys it stands for.

    Groups stand for their unprotected categories; a protected category stands for itself
    (and is refused by the caller).
    """
    sensitive = cfg.sensitive_categories()
    vocab: dict[str, list[str]] = {}
    for key, group in cfg.groups.items():
        members = [k for k, c in cfg.taxonomy.items() if c.group == key and k not in sensitive]
        for name in (key, group.label):
            vocab[_fold(name)] = members
    for key, cat in cfg.taxonomy.items():
        for name in (key, cat.label):
            vocab[_fold(name)] = [key]
    return vocab


def split_problem(text: str, vocab: dict) -> tuple[list[str], list[str]]:
    """``(names matched, unknown pieces)``. Labels may contain commas ("Våld, hot och rån"),
    so adjacent pieces are joined back while the longer text is a known name.

    >>> split_problem("Våld, hot och rån; klotter", {"våld, hot och rån": ["vald"], "klotter": ["klotter"]})
    (['våld, hot och rån', 'klotter'], [])
    """
    pieces = [p.strip() for p in re.split(r"[,;]", text) if p.strip()]
    names, unknown, i = [], [], 0
    while i < len(pieces):
        for j in range(len(pieces), i, -1):
            candidate = _fold(", ".join(pieces[i:j]))
            if candidate in vocab:
                names.append(candidate)
                i = j
                break
        else:
            unknown.append(pieces[i])
            i += 1
    return names, unknown


def _problems(values: pd.Series | None, column: str | None, cfg, rows: _Rows) -> list[str]:
    if values is None:
        return []
    vocab, sensitive = problem_vocabulary(cfg), cfg.sensitive_categories()
    out = []
    for i, value in enumerate(values):
        names, unknown = split_problem(value, vocab) if not _blank(value) else ([], [])
        keys = sorted({k for name in names for k in vocab[name]})
        out.append(",".join(keys))
        if unknown:
            rows.reject(
                i,
                "unknown_problem",
                f"kolumnen '{column}': {unknown[0]!r} är ingen kategori eller grupp "
                "i taxonomin; använd nycklar eller namn från config.yaml (taxonomy, groups)",
            )
        elif protected := [k for k in keys if k in sensitive]:
            rows.reject(
                i,
                "sensitive_problem",
                f"kolumnen '{column}': {cfg.taxonomy[protected[0]].label!r} är en skyddad kategori som bara räknas "
                "i kommunens totaler och aldrig följs upp per plats; ta bort den från raden",
            )
        elif names and not keys:
            rows.reject(i, "sensitive_problem", f"kolumnen '{column}': gruppen innehåller bara skyddade kategorier")
    return out


# -- targets -------------------------------------------------------------------------------------


@dataclass
class _Target:
    kind: str
    label: str
    geometry: object
    radius: float = float("nan")


def _targets(text: dict, cols: dict, cfg, reference, zones, rows: _Rows) -> list[_Target | None]:
    n = len(text["id"])
    given = {kind: _given(text, kind) for kind in ("area", "place", "point", "zone")}
    radii = _radii(text.get("radius"), cols.get("radius"), cfg.interventions, n, rows)
    out: list[_Target | None] = [None] * n
    for i in range(n):
        kinds = [k for k, g in given.items() if g[i]]
        if not kinds:
            names = ", ".join(_target_column(cols, f) for f in ("area", "place", "x", "zone") if f in cols)
            rows.reject(i, "missing_target", f"inget mål: fyll i en av {names}")
        elif len(kinds) > 1:
            names = " och ".join(_target_column(cols, _FIELD_OF[k]) for k in kinds)
            rows.reject(i, "several_targets", f"{names} är ifyllda; ange bara ett mål per rad")
    _area_targets(text, cols, reference.areas, given["area"], rows, out)
    _place_targets(text, cols, cfg, reference, given["place"], radii, rows, out)
    _point_targets(text, cols, reference.boundary, given["point"], radii, rows, out)
    _zone_targets(text, cols, zones, given["zone"], rows, out)
    return [_clip(t, reference.boundary) if t is not None else None for t in out]


_FIELD_OF = {"area": "area", "place": "place", "point": "x", "zone": "zone"}


def _target_column(cols: dict, field: str) -> str:
    return f"'{cols['x']}'/'{cols['y']}'" if field == "x" else f"'{cols[field]}'"


def _given(text: dict, kind: str) -> np.ndarray:
    if kind == "point":
        fields = [text[f] for f in ("x", "y") if f in text]
    else:
        fields = [text[kind]] if kind in text else []
    if not fields:
        return np.zeros(len(text["id"]), dtype=bool)
    return np.any([[not _blank(v) for v in f] for f in fields], axis=0)


def _radii(values, column, icfg, n: int, rows: _Rows) -> list[float]:
    """Radius per row: the value given, else the default."""
    if values is None:
        return [icfg.default_radius_m] * n
    numbers, bad = parse_numbers(values)
    out = []
    for i, (v, b) in enumerate(zip(numbers, bad)):
        out.append(icfg.default_radius_m if np.isnan(v) and not b else float(v))
        if b or (not np.isnan(v) and not (0 < v <= icfg.max_radius_m)):
            rows.reject(
                i,
                "bad_radius",
                f"kolumnen '{column}': {values.iloc[i]!r} är ingen radie i meter "
                f"(0 < radie ≤ {icfg.max_radius_m:g}); lämna tomt för "
                f"{icfg.default_radius_m:g} m",
            )
    return out


def _area_targets(text, cols, areas, given, rows: _Rows, out) -> None:
    if "area" not in text:
        return
    names = [str(n) for n in areas["name"]] if len(areas) else []
    lookup = {_fold(n): k for k, n in enumerate(names)}
    for i in np.flatnonzero(given):
        if not rows.open(i):
            continue
        value = text["area"].iloc[i]
        k = lookup.get(_fold(value))
        if k is None:
            rows.reject(
                i,
                "unknown_area",
                f"kolumnen '{cols['area']}': {value!r} är inget namngivet område{_suggestion(value, names)}",
            )
            continue
        out[i] = _Target("area", names[k], areas.geometry.iloc[k])


def _place_targets(text, cols, cfg, reference, given, radii, rows: _Rows, out) -> None:
    if "place" not in text or not given.any():
        return
    todo = [i for i in np.flatnonzero(given) if rows.open(i)]
    if not todo:
        return
    g = cfg.geocoding
    hits = reference.gazetteer.match(
        text["place"].iloc[todo].reset_index(drop=True),
        None,
        fuzzy_threshold=g.fuzzy_threshold,
        street_centroid=g.street_centroid,
        default_town=g.default_town,
    )
    areas = {_fold(n) for n in reference.areas["name"].astype(str)} if len(reference.areas) else set()
    for k, i in enumerate(todo):
        value = text["place"].iloc[i]
        if pd.isna(hits["x"].iloc[k]):
            hint = (
                f"; det är ett namngivet område: använd kolumnen '{cols['area']}'"
                if _fold(value) in areas and "area" in cols
                else "; kontrollera stavningen eller ange X/Y"
            )
            rows.reject(i, "place_not_found", f"kolumnen '{cols['place']}': {value!r} finns inte i ortsregistret{hint}")
            continue
        radius = radii[i]
        point = shapely.Point(float(hits["x"].iloc[k]), float(hits["y"].iloc[k]))
        out[i] = _Target("place", str(hits["matched"].iloc[k] or value), point.buffer(radius, quad_segs=16), radius)


def _point_targets(text, cols, boundary, given, radii, rows: _Rows, out) -> None:
    if "x" not in text or not given.any():
        return
    xs, bad_x = parse_numbers(text["x"])
    ys, bad_y = parse_numbers(text["y"])
    for i in np.flatnonzero(given):
        if not rows.open(i):
            continue
        if bad_x.iloc[i] or bad_y.iloc[i] or np.isnan(xs.iloc[i]) or np.isnan(ys.iloc[i]):
            rows.reject(
                i,
                "bad_coordinates",
                f"kolumnerna '{cols['x']}'/'{cols['y']}': "
                f"{text['x'].iloc[i]!r}, {text['y'].iloc[i]!r} är inte två tal "
                "(SWEREF 99 TM i meter, t.ex. 507240 och 6465010)",
            )
            continue
        point = shapely.Point(float(xs.iloc[i]), float(ys.iloc[i]))
        if not boundary.contains(point):
            rows.reject(
                i,
                "outside_municipality",
                f"kolumnerna '{cols['x']}'/'{cols['y']}': punkten ligger utanför "
                "kommunen (SWEREF 99 TM: X är östlig koordinat ~500000, Y nordlig "
                "~6460000; omkastade?)",
            )
            continue
        radius = radii[i]
        label = f"{xs.iloc[i]:.0f}, {ys.iloc[i]:.0f}"
        out[i] = _Target("point", label, point.buffer(radius, quad_segs=16), radius)


def _zone_targets(text, cols, zones, given, rows: _Rows, out) -> None:
    if "zone" not in text:
        return
    for i in np.flatnonzero(given):
        if not rows.open(i):
            continue
        value = text["zone"].iloc[i]
        if parse_zone_ref(value) is None:
            rows.reject(
                i,
                "bad_zone",
                f"kolumnen '{cols['zone']}': {value!r} är ingen zonreferens; skriv ett "
                "kluster-id (2026-W47-vecka-kvall-1) eller en hotspot-zon "
                "(2026-W47-vecka-alla-0.5-3: vecka, period, tid på dygnet, nivå, zon)",
            )
            continue
        target = zones.get(value, ZoneTarget(problem="zonen slogs inte upp"))
        if target.geometry is None:
            rows.reject(i, "unknown_zone", f"kolumnen '{cols['zone']}': {value!r}: {target.problem}")
            continue
        out[i] = _Target("zone", value, target.geometry)


def _clip(target: _Target, boundary) -> _Target:
    """The target inside the municipality, polygons only (a clip may leave slivers of lines)."""
    geom = shapely.make_valid(target.geometry).intersection(boundary)
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    geom = shapely.union_all(parts) if parts else shapely.Polygon()
    return _Target(target.kind, target.label, geom, target.radius)


def _suggestion(value: str, names: list[str]) -> str:
    best = process.extractOne(value, names, score_cutoff=70) if names else None
    if best:
        return f"; menade du {best[0]!r}?"
    return (
        f"; namngivna områden: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}"
        if names
        else "; inga namngivna områden är inställda (geocoding.areas)"
    )


# -- output frames -------------------------------------------------------------------------------


def _accepted(frame, text, ok, types, start, end, problems, targets, file, cfg) -> pd.DataFrame:
    idx = np.flatnonzero(ok)
    if not len(idx):
        return empty_register()
    keep_text = cfg.interventions.keep_free_text
    keep_text = cfg.privacy.keep_free_text if keep_text is None else keep_text
    comment = text.get("comment", pd.Series("", index=frame.index, dtype="string")).iloc[idx]
    names = text.get("name", pd.Series("", index=frame.index, dtype="string")).iloc[idx]
    out = pd.DataFrame(
        {
            "intervention_id": text["id"].iloc[idx].to_numpy(),
            "name": [n if not _blank(n) else types[i] for n, i in zip(names, idx)],
            "type": [types[i] for i in idx],
            "responsible": text["responsible"].iloc[idx].to_numpy() if "responsible" in text else "",
            "start": [start[i].isoformat() for i in idx],
            "end": [end[i].isoformat() if end[i] else "" for i in idx],
            "target_kind": [targets[i].kind for i in idx],
            "target": [targets[i].label for i in idx],
            "radius_m": np.array([targets[i].radius for i in idx], dtype="float64"),
            "problem": [problems[i] if problems else "" for i in idx],
            "problem_text": text["problem"].iloc[idx].to_numpy() if "problem" in text else "",
            "comment": redact_series(comment).to_numpy() if keep_text else "",
            "source_file": file,
            "source_line": frame["_line"].iloc[idx].astype("int64").to_numpy(),
        }
    )
    for col in out.columns:
        if col not in ("radius_m", "source_line"):
            out[col] = out[col].astype("string")
    return gpd.GeoDataFrame(out, geometry=[targets[i].geometry for i in idx], crs=CRS)


def _rejected(frame, rows: _Rows, mask: np.ndarray, file: str) -> pd.DataFrame:
    idx = np.flatnonzero(mask)
    out = pd.DataFrame(
        {
            "source": SOURCE,
            "source_file": file,
            "source_line": frame["_line"].iloc[idx].astype("int64").to_numpy(),
            "reason": [rows.reason[i] for i in idx],
            "message": [rows.message[i] for i in idx],
            "raw": frame["_raw"].iloc[idx].astype("string").fillna("").to_numpy(),
        }
    )
    out = out.astype({c: "string" for c in REJECTED_COLUMNS if c != "source_line"})
    return out[list(REJECTED_COLUMNS)]


def _empty_rejected() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="string") for c in REJECTED_COLUMNS})
    return df.astype({"source_line": "int64"})


def _quality(files: list[dict], rejected: pd.DataFrame) -> dict:
    for f in files:
        if f["rows_read"] != f["accepted"] + f["rejected"]:
            raise AssertionError(
                f"row conservation violated for register file {f['file']}: {f['rows_read']} "
                f"read but {f['accepted']} accepted + {f['rejected']} rejected"
            )
    by_reason = rejected["reason"].astype(str).value_counts()
    return {
        "files": files,
        "rows_read": sum(f["rows_read"] for f in files),
        "accepted": sum(f["accepted"] for f in files),
        "rejected": sum(f["rejected"] for f in files),
        "rejected_by_reason": {str(k): int(v) for k, v in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))},
    }
