"""The stage runner: with pipeline/io, the only place that touches files.

``run_ingest`` reads every partner export, runs the pure source stages and brings the week
partitions of ``events/``, ``rejected.csv`` and ``quality.json`` up to date. ``run_weekly``
then builds every declared product (pipeline/products/catalog.py) for a week, writes their
layers into the week's GeoPackage archive and renders the map, the report and the index. Which weeks to
rebuild follows from the declarations: a week is stale when anything a product of it reads
(its declared weeks of events, the register, config, code) has changed.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
from filelock import FileLock, Timeout
from tqdm import tqdm

import pipeline
from pipeline.analysis.period import period_weeks
from pipeline.analysis.weeks import check_week, latest_complete_week
from pipeline.config import Config
from pipeline.errors import LagesbildError, LockedError, output_error
from pipeline.io import write_text
from pipeline.io.archive import archive_path, code_version, read_archive, run_info_dict, write_archive
from pipeline.io.atomic import crash_point
from pipeline.io.atomic import remove_stale_temp_files as remove_temp_files
from pipeline.io.memo import ProductMemos
from pipeline.io.reference import boundary_frame, load_areas, municipality_boundary
from pipeline.io.store import (  # noqa: F401 - FINGERPRINT_COLUMNS, week_hashes: re-exported
    FINGERPRINT_COLUMNS,
    EventStore,
    FileEntry,
    StoredEvents,
    all_rejected,
    parsed_dates,
    sha256_file,
    sync,
    week_hashes,
)
from pipeline.privacy import installation_key, public_quality, redact
from pipeline.products import PRODUCT_THREADS, ProductInput, build_all, build_order, events_for
from pipeline.products.catalog import PRODUCTS
from pipeline.render.context import WeekContext
from pipeline.render.index import render_index
from pipeline.render.maps import relink_map, render_map
from pipeline.render.period_report import render_period_report
from pipeline.render.report import render_report
from pipeline.render.summary import headline
from pipeline.sources.geocode import Gazetteer
from pipeline.sources.interventions import load_register
from pipeline.sources.normalise import normalise_chunks
from pipeline.sources.quality import format_summary, with_not_read
from pipeline.sources.read import expand_files, not_read_files, read_export


@dataclass
class Reference:
    """The reference data every stage reads: boundary, named areas, gazetteer."""

    boundary: object
    areas: gpd.GeoDataFrame
    gazetteer: object

    @classmethod
    def load(cls, cfg: Config) -> "Reference":
        return cls(municipality_boundary(cfg), load_areas(cfg), Gazetteer.read(cfg.path(cfg.geocoding.gazetteer)))


class IngestResult:
    """The ingest's outcome, held in the event store: ``stored`` reads weeks on demand;
    ``events`` and ``rejected`` (every row) are read only when asked for."""

    def __init__(self, store: EventStore, state: dict, files: list[FileEntry], synced=None):
        self.store, self.state, self.files = store, state, files
        self.read_files = synced.read_files if synced else []  # exports read this run
        self.rebuilt_weeks = synced.rebuilt_weeks if synced else []  # partitions rewritten
        self.stored = StoredEvents(store, state)
        self.quality = state["quality"]
        self.inputs = {f.name: f.sha256 for f in files}  # display name -> sha256
        self._events = self._rejected = None

    @property
    def events(self) -> gpd.GeoDataFrame:
        if self._events is None:
            self._events = self.stored.read_all()
        return self._events

    @property
    def rejected(self) -> pd.DataFrame:
        if self._rejected is None:
            self._rejected = all_rejected(self.store, self.files)
        return self._rejected


@dataclass
class WeeklyResult:
    week: str
    archive: Path
    map: Path
    report: Path
    index: Path
    rebuilt: list[str]


# -- ingest ----------------------------------------------------------------------------------


def run_ingest(cfg: Config, now: pd.Timestamp | None = None, echo=print, ref: Reference | None = None) -> IngestResult:
    """Bring the event store up to date with every partner's exports (pipeline/io/store.py):
    an export already ingested is not read again; write the clean and rejected tables and
    the summary. Under the same lock as ``run_weekly``: they write the same files."""
    with run_lock(cfg):
        remove_stale_temp_files(cfg)
        return _ingest(cfg, now, echo, ref)


def _ingest(cfg: Config, now, echo, ref: Reference | None) -> IngestResult:
    now = now if now is not None else pd.Timestamp.now(tz=cfg.timezone)
    ref = ref or Reference.load(cfg)
    paths = {partner: partner_files(cfg, partner) for partner in cfg.partners}
    files = [
        FileEntry(partner, _display_name(path, cfg.base_dir), path, sha256_file(path))
        for partner, found in paths.items()
        for path in found
    ]
    key = installation_key(cfg.path(cfg.paths.secret))

    def ingest_file(f: FileEntry):
        raw = read_export(f.path, f.partner, cfg.partners[f.partner], f.name)
        chunks = normalise_chunks(raw, f.partner, cfg, ref.gazetteer, ref.boundary, now, id_key=key)
        meta = {"rows_read": raw.rows_read, "encoding": raw.encoding, "delimiter": raw.delimiter}
        return chunks, meta, parsed_dates(raw, f.partner, cfg)

    store = EventStore(cfg.path(cfg.paths.processed))
    synced = sync(store, cfg, files, ref, now, ingest_file)
    result = IngestResult(store, synced.state, files, synced)
    result.quality = with_not_read(synced.state["quality"], unread_files(cfg, paths))
    echo(format_summary(result.quality))
    return result


#: Event columns public_quality needs to leave the withheld events out of the published counts.
WITHHELD_COLUMNS = ["event_id", "sensitive", "duplicate_of", "source", "source_file", "geocode_method"]


def published_quality(ingest: IngestResult) -> dict:
    """The quality summary as the archive, map and report publish it (privacy.public_quality).

    It reads the events the rule can withhold (protected or marked as duplicates, filtered
    in the read), and is kept next to the store, keyed by the store's state and the summary:
    a run with no new file reads none of the history."""
    key = hashlib.sha256(json.dumps([ingest.state, ingest.quality], sort_keys=True, default=str).encode()).hexdigest()
    cache = ingest.store.root / "public_quality.json"
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["quality"]
    except (OSError, ValueError, AttributeError):
        pass  # no cache yet, or an unreadable one: computed again
    events = ingest.store.read_flagged(ingest.stored.weeks, columns=WITHHELD_COLUMNS)
    quality = public_quality(ingest.quality, events)
    write_text(cache, json.dumps({"key": key, "quality": quality}, ensure_ascii=False, sort_keys=True, default=str))
    return json.loads(json.dumps(quality, default=str))  # the same types as when read back


def partner_files(cfg: Config, partner: str) -> list[Path]:
    """The partner's exports; a pattern, file or link leading outside ``paths.raw`` is refused."""
    return expand_files(cfg.partners[partner].files, cfg.base_dir, partner=partner, root=cfg.path(cfg.paths.raw))


def unread_files(cfg: Config, read: dict[str, list[Path]]) -> dict[str, list[dict]]:
    """partner -> the files in its folders that were not read, with why (for the summary)."""
    return {p: not_read_files(cfg.partners[p].files, cfg.base_dir, read[p]) for p in read}


# -- weekly ----------------------------------------------------------------------------------


def run_weekly(
    cfg: Config,
    week: str | None = None,
    now: pd.Timestamp | None = None,
    echo=print,
    backfill: bool = False,
    rebuild: bool = False,
) -> WeeklyResult:
    """Ingest, analyse ``week`` (default: latest complete week), archive, render; under a lock.

    Archived weeks whose inputs changed are rebuilt too; with ``backfill`` every earlier week
    in the data that has no archive yet is built as well (to start an archive). ``week``
    itself is skipped when its archive, map and report are current (same inputs, code and
    quality figures), unless ``rebuild``.
    """
    with run_lock(cfg):
        return _run_weekly_locked(cfg, week, now, echo, backfill, rebuild)


def _run_weekly_locked(cfg, week, now, echo, backfill, rebuild=False) -> WeeklyResult:
    now = now if now is not None else pd.Timestamp.now(tz=cfg.timezone)
    remove_stale_temp_files(cfg)
    ref = Reference.load(cfg)
    ingest = _ingest(cfg, now, echo, ref)
    return _weekly_after_ingest(cfg, ingest, ref, week, now, echo, backfill, rebuild)


def _weekly_after_ingest(cfg, ingest, ref: Reference, week, now, echo, backfill, rebuild) -> WeeklyResult:
    ingest.public_quality = published_quality(ingest)
    crash_point("after-ingest")
    events = ingest.stored
    present = pd.DataFrame({"iso_week": events.weeks}, dtype="string")
    if week is None:
        week = latest_complete_week(present, now)
        if week is None:
            raise LagesbildError(
                "no complete ISO week with events in the data; add exports to data/raw/ or pass --week"
            )
    check_week(week)
    archived = archived_weeks(cfg)
    hashes = events.hashes
    interventions = load_interventions(cfg, ref)
    stale = [w for w in archived if w != week and _is_stale(cfg, hashes, interventions, w)]
    missing = [w for w in events.weeks if backfill and w < week and w not in archived]
    rebuilt = []
    # The requested week too is built only when something it shows changed: a re-run with no
    # new file costs the ingest check and this comparison, not the week's analysis.
    current = not rebuild and week in archived and _up_to_date(cfg, hashes, interventions, week, ingest.public_quality)
    todo = sorted({*stale, *missing} | (set() if current else {week}))
    memos = ProductMemos(cfg.path(cfg.paths.processed) / "memo")  # last run's per-week results
    # A backfill builds many weeks: show "week n of N" on a terminal (tqdm is off when the
    # output is not a terminal, so logs and tests stay clean).
    for w in tqdm(
        todo,
        desc="Bygger veckor",
        unit="vecka",
        disable=None if len(todo) > 1 else True,
        leave=False,
        bar_format="{desc}: {n_fmt} av {total_fmt} {bar} {postfix}",
    ):
        _build_week(cfg, events, w, ref, ingest, hashes, interventions, memos)
        crash_point(f"after-archive:{w}")
        rebuilt.append(w)
    memos.save()
    if week not in events.weeks:
        echo(f"Obs: inga händelser i vecka {week}.")
    paths, contexts = _render_weeks(cfg, rebuilt, ref.areas, ingest.public_quality)
    if week not in contexts:  # up to date: its map and report stand; read it for the headline
        contexts[week] = week_context(cfg, week, areas=ref.areas)
        paths[week] = (contexts[week].map_path, contexts[week].report_path)
    result = WeeklyResult(week, archive_path(cfg, week), *paths[week], _index_path(cfg), rebuilt)
    echo(f"Arkiv:   {result.archive}")
    echo(f"Karta:   {result.map}")
    echo(f"Rapport: {result.report}")
    echo(f"Index:   {result.index}")
    n_rejected = int(ingest.state["rejected"])
    if n_rejected:
        rejected = cfg.path(cfg.paths.processed) / "rejected.csv"
        echo(f"Avvisade rader: {n_rejected} – se {rejected}")
    echo(headline(contexts[week]))
    return result


def build_products(cfg, events, week: str, ref: Reference, interventions=None, memos=None, threads=None) -> list:
    """Every declared product for ``week``, in dependency order: their ProductOutputs.

    Each product sees only the events of the weeks it declares (``events_for``); ``events`` is
    a frame or the store's :class:`StoredEvents` (which reads just those weeks' partitions).
    ``memos`` (:class:`~pipeline.io.memo.ProductMemos`) gives each product its memo of
    per-week results; without it every result is computed (the same results). ``threads``
    products are built at once (default ``PRODUCT_THREADS``; the same results with one)."""
    if isinstance(events, StoredEvents):
        events.plan(PRODUCTS, cfg, week)

    def build_one(product, upstream):
        inp = ProductInput(
            cfg=cfg,
            week=week,
            events=_events_of(product, cfg, events, week),
            reference=ref,
            interventions=interventions if "interventions" in product.inputs else None,
            upstream={name: out.layers for name, out in upstream.items()},
            memo=memos.for_product(product.name) if memos is not None else None,
        )
        return product.build(inp)

    built = build_all(PRODUCTS, build_one, PRODUCT_THREADS if threads is None else threads)
    return [built[product.name] for product in build_order(PRODUCTS)]


def _events_of(product, cfg, events, week: str):
    if isinstance(events, StoredEvents):
        return events.for_product(product, cfg, week)
    return events_for(product, cfg, events, week)


def load_interventions(cfg, ref: Reference) -> pd.DataFrame | None:
    """The accepted rows of the interventions register (its public summary in
    ``attrs["quality"]``), or None when config.yaml has no ``interventions:`` block."""
    return load_register(cfg, ref)


def _build_week(cfg, events, week, ref: Reference, ingest: IngestResult, hashes, interventions, memos=None) -> Path:
    started = time.time()
    outputs = build_products(cfg, events, week, ref, interventions, memos)
    info = {
        "week": week,
        "config_sha256": cfg.sha256,
        "input_sha256": json.dumps(
            {redact(k): v for k, v in ingest.inputs.items()}, ensure_ascii=False, sort_keys=True
        ),
        "events_fingerprint": week_fingerprint(cfg, hashes, interventions, week),
        # published: withheld (sensitive) events are left out of every count (privacy.public_quality)
        "rows_read": str(ingest.public_quality["totals"]["rows_read"]),
        "rows_accepted": str(ingest.public_quality["totals"]["accepted"]),
        "rows_rejected": str(ingest.public_quality["totals"]["rejected"]),
        "quality": _quality_json(ingest.public_quality),
        "run_started": pd.Timestamp(started, unit="s", tz="UTC").tz_convert(cfg.timezone).isoformat(),
        "run_seconds": f"{time.time() - started:.2f}",
    }
    return write_archive(archive_path(cfg, week), outputs, info, cfg)


def _render_weeks(cfg, weeks, areas, quality) -> tuple[dict[str, tuple[Path, Path]], dict]:
    """Render the built weeks, and their archived neighbours (their prev/next links change),
    and the index (from the newest archived week); returns the paths and the WeekContexts."""
    archived = archived_weeks(cfg)
    if not weeks and _index_path(cfg).is_file():
        return {}, {}  # nothing was built: every page on disk is current
    todo = set(weeks)
    near = {n for w in weeks for n in _neighbours(archived, w)} - todo
    todo.update(n for n in sorted(near) if not _relinked(cfg, n, archived))
    out, contexts = {}, {}
    for w in sorted(todo):
        ctx = week_context(cfg, w, areas=areas, quality=quality if w in weeks else None, weeks=archived)
        write_text(ctx.map_path, render_map(ctx))
        write_text(ctx.report_path, render_report(ctx))
        out[w] = (ctx.map_path, ctx.report_path)
        contexts[w] = ctx
    newest = contexts.get(archived[-1]) or week_context(cfg, archived[-1], areas=areas, weeks=archived)
    write_text(_index_path(cfg), render_index(list(reversed(archived)), cfg, latest=newest))
    return out, contexts


def _neighbours(archived: list[str], week: str) -> list[str]:
    i = archived.index(week)
    return archived[max(i - 1, 0) : i + 2]


def _relinked(cfg, week: str, archived: list[str]) -> bool:
    """A neighbour of a built week: only its map's previous/next-week links can have changed
    (its archive, and so its report, did not). True when those links were rewritten in place."""
    page, report = week_pages(cfg, week)
    if not (page.is_file() and report.is_file()):
        return False
    html = page.read_text(encoding="utf-8")
    relinked = relink_map(html, week, archived)
    if relinked is None:
        return False
    if relinked != html:
        write_text(page, relinked)
    return True


def week_context(cfg, week: str, *, areas=None, quality: dict | None = None, weeks: list[str] | None = None):
    """A week's archive read back, with what the renderers need besides (WeekContext).

    ``quality`` defaults to the summary stored in the archive's run_info, so an old week is
    rendered with the figures of the run that built it.
    """
    path = archive_path(cfg, week)
    info = run_info_dict(path)
    map_path, report_path = week_pages(cfg, week)
    return WeekContext(
        week=week,
        cfg=cfg,
        layers=read_archive(path),
        run_info=info,
        quality=quality if quality is not None else json.loads(info.get("quality", "{}")),
        boundary=boundary_frame(cfg),
        areas=areas if areas is not None else load_areas(cfg),
        weeks=weeks if weeks is not None else archived_weeks(cfg),
        map_path=map_path,
        report_path=report_path,
    )


def week_pages(cfg, week: str) -> tuple[Path, Path]:
    """Where ``week``'s map and report are written."""
    week_dir = cfg.path(cfg.paths.maps) / week
    return week_dir / "karta.html", week_dir / "lagesbild.html"


def _index_path(cfg) -> Path:
    return cfg.path(cfg.paths.maps) / "index.html"


# -- helpers ---------------------------------------------------------------------------------


def archived_weeks(cfg) -> list[str]:
    folder = cfg.path(cfg.paths.archive)
    return sorted(p.stem for p in folder.glob("*-W[0-9][0-9].gpkg")) if folder.is_dir() else []


def week_fingerprint(cfg, hashes: dict[str, str], interventions, week: str) -> str:
    """sha256 of everything a week's products read, as the catalog declares it: the events of
    each product's weeks, the interventions register where declared, the config and the code."""
    h = hashlib.sha256(cfg.sha256.encode())
    h.update(pipeline.__version__.encode())
    present = sorted(hashes)
    for product in PRODUCTS:
        weeks = product.weeks_read(cfg, week, present)
        weeks = [w for w in present if w <= week] if weeks is None else weeks
        h.update(product.name.encode())
        h.update("".join(f"{w}:{hashes.get(w, '-')};" for w in weeks).encode())
        if "interventions" in product.inputs and interventions is not None:
            h.update(pd.util.hash_pandas_object(interventions.astype(str), index=False).values.tobytes())
            # a new bad row changes only the register's summary: it must rebuild the week too
            h.update(json.dumps(interventions.attrs.get("quality"), sort_keys=True, default=str).encode())
    return h.hexdigest()


def _week_info(cfg, week: str) -> dict:
    """The archived week's run information; {} when it cannot be read (then it is rebuilt)."""
    try:
        return run_info_dict(archive_path(cfg, week))
    except Exception:  # noqa: BLE001 - an unreadable archive is rebuilt
        return {}


def _is_stale(cfg, hashes, interventions, week: str, info: dict | None = None) -> bool:
    info = _week_info(cfg, week) if info is None else info
    return info.get("events_fingerprint") != week_fingerprint(cfg, hashes, interventions, week)


def _up_to_date(cfg, hashes, interventions, week: str, quality: dict) -> bool:
    """True when ``week``'s archive was built from exactly this run's inputs (fingerprint), by
    this code, with these published quality figures, and its map and report are on disk."""
    info = _week_info(cfg, week)
    return (
        not _is_stale(cfg, hashes, interventions, week, info)
        and info.get("code_version") == code_version()
        and info.get("quality") == _quality_json(quality)
        and all(page.is_file() for page in week_pages(cfg, week))
    )


def _quality_json(quality: dict) -> str:
    return json.dumps(quality, ensure_ascii=False, sort_keys=True, default=str)


def remove_stale_temp_files(cfg) -> list[Path]:
    """Delete temp files a killed run left behind: only in the run's own output folders (which
    config validation keeps apart from the inputs), only by atomic_path's exact name pattern."""
    folders = [cfg.path(cfg.paths.processed), cfg.path(cfg.paths.archive), cfg.path(cfg.paths.maps)]
    return remove_temp_files(folders)


def run_lock(cfg):
    """An exclusive lock so two runs never write the same outputs at once."""
    lock_path = cfg.path(cfg.paths.processed) / ".lagesbild.lock"
    lock = FileLock(lock_path, timeout=0)

    class _Guard:
        def __enter__(self):
            try:
                lock_path.parent.mkdir(parents=True, exist_ok=True)
                lock.acquire()
            except Timeout:
                raise LockedError(
                    f"another lagesbild run is in progress (lock {lock_path}); wait for it to finish and run again"
                ) from None
            except OSError as err:
                raise (output_error(err, lock_path) or err) from None

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


# -- quarter and year ------------------------------------------------------------------------


def run_period_report(cfg: Config, period: str, echo=print) -> Path:
    """The report of a quarter (``2026-Q3``) or a year (``2026``) from the weekly archives:
    ``maps/<period>/lagesbild.html``. Reads archives only; builds no week."""
    weeks = period_weeks(period)
    archived = archived_weeks(cfg)
    in_period = [w for w in weeks if w in archived]
    if not in_period:
        raise LagesbildError(f"no archived week in {period}; build the weeks first (make weekly BACKFILL=1)")
    # the latest archive up to the period's end carries the series of every earlier week
    latest = max(w for w in archived if w <= weeks[-1])
    layers = {w: read_archive(archive_path(cfg, w)) for w in sorted({*in_period, latest})}
    html = render_period_report(period, layers, cfg, load_areas(cfg))
    out = cfg.path(cfg.paths.maps) / period / "lagesbild.html"
    write_text(out, html)
    echo(f"Rapport {period}: {out}")
    return out
