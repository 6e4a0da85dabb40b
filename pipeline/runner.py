"""The stage runner: the only place (with pipeline/io and archive.py) that touches files.

``run_ingest`` reads every partner export, runs the pure stages and writes
``events.parquet``, ``rejected.csv`` and ``quality.json``. ``run_weekly`` then analyses a
week, writes its GeoPackage archive and renders the map, the report and the index.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

import pipeline
from pipeline.config import Config
from pipeline.errors import LagesbildError, LockedError
from pipeline.io import write_csv, write_parquet, write_text
from pipeline.io.atomic import crash_point
from pipeline.schema import empty_events, empty_rejected

WEEK_FORMAT = "YYYY-Www, e.g. 2026-W47"


@dataclass
class Reference:
    """The reference data every stage reads: boundary, named areas, gazetteer."""

    boundary: object
    areas: gpd.GeoDataFrame
    gazetteer: object

    @classmethod
    def load(cls, cfg: Config) -> "Reference":
        from pipeline.io.reference import load_areas, municipality_boundary
        from pipeline.sources.geocode import Gazetteer

        return cls(municipality_boundary(cfg), load_areas(cfg), Gazetteer.read(cfg.path(cfg.geocoding.gazetteer)))


@dataclass
class IngestResult:
    events: gpd.GeoDataFrame
    rejected: pd.DataFrame
    quality: dict
    inputs: dict[str, str] = field(default_factory=dict)   # display name -> sha256


@dataclass
class WeeklyResult:
    week: str
    archive: Path
    map: Path
    report: Path
    index: Path
    rebuilt: list[str]


# -- ingest ----------------------------------------------------------------------------------

def run_ingest(cfg: Config, now: pd.Timestamp | None = None, echo=print,
               ref: Reference | None = None) -> IngestResult:
    """Read every partner's exports; write the clean and rejected tables and the summary."""
    from pipeline.sources.clean import finalise
    from pipeline.sources.normalise import normalise_partner
    from pipeline.sources.read import expand_files, read_export
    from pipeline.sources.quality import format_summary, quality_summary, unmapped_categories

    now = now if now is not None else pd.Timestamp.now(tz=cfg.timezone)
    ref = ref or Reference.load(cfg)
    events, rejected, rows_read, inputs, exports = [], [], {}, {}, {}
    for partner, pcfg in cfg.partners.items():
        for path in expand_files(pcfg.files, cfg.base_dir, partner=partner):
            name = _display_name(path, cfg.base_dir)
            raw = read_export(path, partner, pcfg, name)
            ev, rej = normalise_partner(raw, partner, cfg, ref.gazetteer, ref.boundary, now)
            events.append(ev)
            rejected.append(rej)
            rows_read[(partner, name)] = raw.rows_read
            exports[(partner, name)] = raw
            inputs[name] = _sha256(path)
    all_events = pd.concat(events, ignore_index=True) if events else empty_events()
    all_rejected = pd.concat(rejected, ignore_index=True) if rejected else empty_rejected()
    all_events, all_rejected = finalise(gpd.GeoDataFrame(all_events, crs="EPSG:3006"), all_rejected, cfg, ref.areas)
    quality = quality_summary(rows_read, all_events, all_rejected, unmapped_categories(all_events, cfg), cfg=cfg, exports=exports)
    processed = cfg.path(cfg.paths.processed)
    write_parquet(processed / "events.parquet", all_events)
    write_csv(processed / "rejected.csv", all_rejected)
    write_text(processed / "quality.json", json.dumps(quality, ensure_ascii=False, indent=2, default=str))
    echo(format_summary(quality))
    return IngestResult(all_events, all_rejected, quality, inputs)


# -- weekly ----------------------------------------------------------------------------------

def run_weekly(cfg: Config, week: str | None = None, now: pd.Timestamp | None = None, echo=print,
               backfill: bool = False) -> WeeklyResult:
    """Ingest, analyse ``week`` (default: latest complete week), archive, render; under a lock.

    Archived weeks whose inputs changed are rebuilt too; with ``backfill`` every earlier week
    in the data that has no archive yet is built as well (to start an archive).
    """
    with run_lock(cfg):
        return _run_weekly_locked(cfg, week, now, echo, backfill)


def _run_weekly_locked(cfg, week, now, echo, backfill) -> WeeklyResult:
    from pipeline.analysis.weekly import latest_complete_week, weeks_present
    from pipeline.io.archive import archive_path

    now = now if now is not None else pd.Timestamp.now(tz=cfg.timezone)
    remove_stale_temp_files(cfg)
    ref = Reference.load(cfg)
    ingest = run_ingest(cfg, now=now, echo=echo, ref=ref)
    crash_point("after-ingest")
    events = ingest.events
    if week is None:
        week = latest_complete_week(events, now)
        if week is None:
            raise LagesbildError("no complete ISO week with events in the data; add exports to data/raw/ or pass --week")
    check_week(week)
    archived = archived_weeks(cfg)
    stale = [w for w in archived if w != week and _is_stale(cfg, events, w)]
    missing = [w for w in weeks_present(events) if backfill and w < week and w not in archived]
    rebuilt = []
    for w in sorted({week, *stale, *missing}):
        _build_week(cfg, events, w, ref, ingest)
        crash_point(f"after-archive:{w}")
        rebuilt.append(w)
    if week not in weeks_present(events):
        echo(f"Obs: inga händelser i vecka {week}.")
    paths = _render_weeks(cfg, rebuilt, ref.areas, ingest.quality)
    result = WeeklyResult(week, archive_path(cfg, week), *paths[week], _index_path(cfg), rebuilt)
    echo(f"Arkiv:   {result.archive}")
    echo(f"Karta:   {result.map}")
    echo(f"Rapport: {result.report}")
    echo(f"Index:   {result.index}")
    return result


def _build_week(cfg, events, week, ref: Reference, ingest: IngestResult) -> Path:
    from pipeline.analysis.weekly import analyse_week
    from pipeline.io.archive import archive_path, write_archive

    started = time.time()
    analysis = analyse_week(events, cfg, week, ref.boundary, ref.areas, gazetteer=ref.gazetteer)
    info = {
        "week": week,
        "config_sha256": cfg.sha256,
        "input_sha256": json.dumps(ingest.inputs, ensure_ascii=False, sort_keys=True),
        "events_fingerprint": week_fingerprint(cfg, events, week),
        "rows_read": str(sum(p["rows_read"] for p in ingest.quality["partners"].values())),
        "rows_accepted": str(len(ingest.events)),
        "rows_rejected": str(len(ingest.rejected)),
        "quality": json.dumps(ingest.quality, ensure_ascii=False, sort_keys=True, default=str),
        "run_started": pd.Timestamp(started, unit="s", tz="UTC").tz_convert(cfg.timezone).isoformat(),
        "run_seconds": f"{time.time() - started:.2f}",
    }
    return write_archive(archive_path(cfg, week), analysis, info, cfg)


def _render_weeks(cfg, weeks, areas, quality) -> dict[str, tuple[Path, Path]]:
    """Render the built weeks, and their archived neighbours (their prev/next links change)."""
    from pipeline.render.maps import render_index, render_map
    from pipeline.render.report import render_report

    archived = archived_weeks(cfg)
    todo = set(weeks)
    for w in weeks:
        i = archived.index(w)
        todo.update(archived[max(i - 1, 0): i + 2])
    out = {}
    for w in sorted(todo):
        ctx = week_context(cfg, w, areas=areas, quality=quality if w in weeks else None, weeks=archived)
        write_text(ctx.map_path, render_map(ctx))
        write_text(ctx.report_path, render_report(ctx))
        out[w] = (ctx.map_path, ctx.report_path)
    write_text(_index_path(cfg), render_index(list(reversed(archived)), cfg))
    return out


def week_context(cfg, week: str, *, areas=None, quality: dict | None = None, weeks: list[str] | None = None):
    """A week's archive read back, with what the renderers need besides (WeekContext).

    ``quality`` defaults to the summary stored in the archive's run_info, so an old week is
    rendered with the figures of the run that built it.
    """
    from pipeline.io.archive import archive_path, read_archive, run_info_dict
    from pipeline.io.reference import boundary_frame, load_areas
    from pipeline.render.context import WeekContext

    path = archive_path(cfg, week)
    info = run_info_dict(path)
    maps_dir = cfg.path(cfg.paths.maps)
    return WeekContext(
        week=week, cfg=cfg, layers=read_archive(path), run_info=info,
        quality=quality if quality is not None else json.loads(info.get("quality", "{}")),
        boundary=boundary_frame(cfg), areas=areas if areas is not None else load_areas(cfg),
        weeks=weeks if weeks is not None else archived_weeks(cfg),
        map_path=maps_dir / week / "karta.html", report_path=maps_dir / week / "lagesbild.html",
    )


def _index_path(cfg) -> Path:
    return cfg.path(cfg.paths.maps) / "index.html"


# -- helpers ---------------------------------------------------------------------------------

def check_week(week: str) -> str:
    """Validate an ISO week string such as ``2026-W47``."""
    import datetime as dt

    try:
        year, num = week.split("-W")
        dt.date.fromisocalendar(int(year), int(num), 1)
    except (ValueError, AttributeError):
        raise LagesbildError(f"--week {week!r} is not an ISO week; write {WEEK_FORMAT}") from None
    if len(num) != 2 or len(year) != 4:
        raise LagesbildError(f"--week {week!r} is not an ISO week; write {WEEK_FORMAT}")
    return week


def archived_weeks(cfg) -> list[str]:
    folder = cfg.path(cfg.paths.archive)
    return sorted(p.stem for p in folder.glob("*-W[0-9][0-9].gpkg")) if folder.is_dir() else []


def week_fingerprint(cfg, events, week: str) -> str:
    """sha256 of everything a week's outputs depend on: its events, the weeks its rolling
    window and its 'new or persistent' comparison reach back to, the config and code."""
    from pipeline.analysis.weekly import previous_weeks

    weeks = {week, *previous_weeks(week, cfg.analysis.rolling_weeks)}
    sel = events[events["iso_week"].isin(weeks)].sort_values("event_id")
    cols = ["event_id", "occurred_at", "category", "area", "duplicate_of", "source"]
    h = hashlib.sha256(cfg.sha256.encode())
    h.update(pipeline.__version__.encode())
    h.update(pd.util.hash_pandas_object(sel[cols].astype(str), index=False).values.tobytes())
    h.update(b"".join(sel.geometry.to_wkb()))
    return h.hexdigest()


def _is_stale(cfg, events, week: str) -> bool:
    from pipeline.io.archive import archive_path, run_info_dict

    try:
        info = run_info_dict(archive_path(cfg, week))
    except Exception:  # an unreadable archive is rebuilt
        return True
    return info.get("events_fingerprint") != week_fingerprint(cfg, events, week)


def remove_stale_temp_files(cfg) -> list[Path]:
    """Delete temp files a killed run left behind (only ours: '.<name>.<random>.tmp<suffix>')."""
    removed = []
    for folder in {cfg.path(cfg.paths.processed), cfg.path(cfg.paths.maps)}:
        if folder.is_dir():
            for path in folder.rglob(".*.tmp*"):
                if path.is_file():
                    path.unlink()
                    removed.append(path)
    return removed


def run_lock(cfg):
    """An exclusive lock so two runs never write the same outputs at once."""
    from filelock import FileLock, Timeout

    lock_path = cfg.path(cfg.paths.processed) / ".lagesbild.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path, timeout=0)

    class _Guard:
        def __enter__(self):
            try:
                lock.acquire()
            except Timeout:
                raise LockedError(
                    f"another lagesbild run is in progress (lock {lock_path}); wait for it to finish and run again"
                ) from None

        def __exit__(self, *exc):
            lock.release()

    return _Guard()


def _display_name(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
