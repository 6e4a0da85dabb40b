"""The event store: a per-file ingest cache and the clean events partitioned by ISO week.

Layout under ``<processed>/``::

    events/<YYYY-Www>.parquet                       the clean events of one ISO week (GeoParquet):
                                                    the analyst's table, read whole as
                                                    ``geopandas.read_parquet("<processed>/events")``
    store/files/<key>.<generation>/events/          one export's normalised rows (with area),
                                                    GeoParquet pieces of its rows in week order
    store/files/<key>.<generation>/rejected.parquet its rejected rows
    store/files/<key>.<generation>/meta.json        rows read, encoding, delimiter, the run's `now`
    store/files/<key>.<generation>/dates.npy        sorted parsed dates (to test the date window)
    store/files/<key>.<generation>/ids.npy          its event ids' hashes, sorted
    store/ids/<YYYY-Www>.npy                        the week's event-id hashes, sorted
    store/dup_rejected.parquet                      same-case duplicates rejected across files
    store/state.json                                what the partitions were built from

``key`` is the sha256 of the file's bytes, its display name, the config the source stages
read (the partner's block plus the shared taxonomy, date window, geocoding, privacy), the
reference data (gazetteer, areas, boundary, installation secret) and the code of the source
stages. An unchanged export is therefore never read again. The date window depends on the
run's time too: a cached file is reused only while no parsed date of it crosses the window's
edges between the time it was ingested and now (exact, from ``dates.npy``).

Whole-table steps are incremental and exact. Only rows whose ``event_id`` occurs in an
added, changed or removed file ("dirty" ids) can change which row of a case is kept, so
same-case deduplication runs on the rows of those ids alone. A cross-partner duplicate lies
within ``duplicates.minutes``, so only the ISO weeks within that time of a changed event are
rebuilt, each with its neighbouring weeks as context. Every other week's partition, and its
fingerprint, stays as it was. The result equals a cold run row for row
(tests/test_incremental.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import pipeline
from pipeline.analysis.weeks import next_weeks, previous_weeks, weeks_between
from pipeline.io.atomic import atomic_path, write_csv, write_text
from pipeline.io.geoparquet import points_wkb, read_points, write_points
from pipeline.privacy import installation_key
from pipeline.schema import (
    COORDINATE_COLUMNS,
    EVENT_COLUMNS,
    READABLE_COLUMNS,
    REJECTED_COLUMNS,
    empty_events,
    empty_rejected,
    with_coordinates,
)
from pipeline.sources.clean import (
    _combine_rejected,
    assign_areas,
    cross_partner_duplicates,
    split_duplicates,
)
from pipeline.sources.normalise import CHUNK_ROWS, NULLABLE_FIELDS, _resolve_columns, _text, _unpack
from pipeline.sources.parse import parse_datetimes
from pipeline.sources.quality import COUNT_COLUMN, quality_summary, unmapped_categories

#: Bump when the store's layout or the meaning of a cached file changes.
STORE_VERSION = "3"  # 2: the week partitions moved to <processed>/events/; 3: cached exports in pieces
#: The file of no rows that an events folder without events holds (see :func:`_mark_empty`).
EMPTY_PARTITION = "empty.parquet"
#: Config sections no source stage reads: changing them never re-ingests an export.
_NOT_INGEST = {"analysis", "emerging", "map", "interventions", "base_dir", "sha256", "duplicates", "partners", "paths"}
#: Modules whose code decides what an export becomes.
_INGEST_CODE = ("sources", "privacy.py", "schema.py", "config.py", "io/store.py", "__init__.py")
#: Event columns a week's outputs depend on (with the geometry): their hash is the fingerprint.
FINGERPRINT_COLUMNS = ["event_id", "occurred_at", "category", "area", "duplicate_of", "source", "sensitive"]
#: Columns the quality summary reads from the events.
QUALITY_COLUMNS = ["source", "source_file", "source_category", "geocode_method", "duplicate_of"]
#: Weeks per chunk when cross-partner duplicates are recomputed (bounds memory).
_CHUNK_WEEKS = 8
#: Rows per row group of a cached export: small enough that a week's rows are read with little else.
_CACHE_ROW_GROUP = 8192


@dataclasses.dataclass
class FileEntry:
    """One export of this run and the cache entry that holds its rows."""

    partner: str
    name: str
    path: Path
    sha256: str
    entry: str = ""  # cache folder name: <key>.<generation>


@dataclasses.dataclass
class SyncResult:
    """What the ingest produced, without holding every event in memory."""

    state: dict
    changed: bool  # False: nothing was re-read or rebuilt
    rebuilt_weeks: list[str]
    read_files: list[str]  # display names of the exports actually read this run


# -- hashing ----------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def code_hash() -> str:
    """sha256 of the source stages' code and the versions of the libraries they rely on."""
    root = Path(pipeline.__file__).parent
    h = hashlib.sha256(
        f"{STORE_VERSION}|{pipeline.__version__}|{pd.__version__}|{pa.__version__}|{gpd.__version__}".encode()
    )
    for rel in _INGEST_CODE:
        path = root / rel
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(file.relative_to(root)).encode())
            h.update(file.read_bytes())
    return h.hexdigest()


def reference_hash(cfg, ref) -> str:
    """sha256 of the reference data the source stages read."""
    h = hashlib.sha256()
    gazetteer = cfg.path(cfg.geocoding.gazetteer)
    h.update(sha256_file(gazetteer).encode() if gazetteer.is_file() else b"-")
    if ref.boundary is not None:
        h.update(ref.boundary.wkb)
    if ref.areas is not None and len(ref.areas):
        h.update("\x1f".join(map(str, ref.areas["name"])).encode())
        h.update(b"".join(ref.areas.geometry.to_wkb()))
    # the keyed event ids depend on the installation secret (created here if it is missing)
    h.update(hashlib.sha256(installation_key(cfg.path(cfg.paths.secret))).digest())
    return h.hexdigest()


def ingest_config(cfg, partner: str) -> str:
    """The config a source stage reads for ``partner``, as canonical JSON."""
    data = cfg.model_dump(mode="json", exclude=_NOT_INGEST)
    data["partner"] = {partner: cfg.partners[partner].model_dump(mode="json")}
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def file_key(cfg, partner: str, name: str, sha: str, ref_hash: str, code: str) -> str:
    h = hashlib.sha256("\x1f".join([STORE_VERSION, name, sha, ref_hash, code, ingest_config(cfg, partner)]).encode())
    return h.hexdigest()[:40]


def global_key(cfg, ref_hash: str, code: str) -> str:
    """What the whole-table steps depend on besides the files: a change rebuilds everything."""
    dup = json.dumps(cfg.duplicates.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256("\x1f".join([STORE_VERSION, code, ref_hash, dup]).encode()).hexdigest()


def week_hashes(events) -> dict[str, str]:
    """sha256 of each ISO week's events (sorted by id), computed once per run."""
    out = {}
    for week, sel in events.groupby(events["iso_week"].astype(str), sort=True):
        out[str(week)] = _week_hash(sel)
    return out


def _week_hash(sel) -> str:
    sel = sel.sort_values("event_id", kind="stable")
    # times as UTC nanoseconds and the rest as text: no per-row formatting of timestamps
    plain = sel[FINGERPRINT_COLUMNS].astype({c: "string" for c in FINGERPRINT_COLUMNS if c != "occurred_at"})
    plain["occurred_at"] = pd.DatetimeIndex(sel["occurred_at"]).as_unit("ns").asi8
    h = hashlib.sha256(pd.util.hash_pandas_object(plain, index=False).to_numpy().tobytes())
    wkb = points_wkb(sel.geometry.values)  # the same bytes as to_wkb, without a call per point
    h.update(wkb.tobytes() if wkb is not None else b"".join(sel.geometry.to_wkb()))
    return h.hexdigest()


# -- the store --------------------------------------------------------------------------------


class EventStore:
    """Read and write access to ``<processed>/store``."""

    def __init__(self, processed: Path):
        self.root = Path(processed) / "store"
        self.files_dir = self.root / "files"
        # the analyst's table too: a week's analysis reads its partitions, an analyst the folder
        self.events_dir = Path(processed) / "events"
        self.ids_dir = self.root / "ids"  # per week: its event ids' 64-bit hashes, sorted
        self.state_path = self.root / "state.json"

    # state
    def load_state(self) -> dict | None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if state.get("version") == STORE_VERSION else None

    def save_state(self, state: dict) -> None:
        write_text(self.state_path, json.dumps(state, ensure_ascii=False, sort_keys=True, default=str))

    # partitions
    def week_path(self, week: str) -> Path:
        return self.events_dir / f"{week or 'none'}.parquet"

    def read_weeks(self, weeks, columns: list[str] | None = None) -> gpd.GeoDataFrame:
        """The clean events of ``weeks`` (in time order), read from their partitions only."""
        parts = [
            self._read_partition(self.week_path(w), columns) for w in sorted(set(weeks)) if self.week_path(w).is_file()
        ]
        parts = [p for p in parts if len(p)]
        if not parts:
            return _empty_columns(columns)
        out = pd.concat(parts, ignore_index=True)
        return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:3006") if "geometry" in out else out

    def read_each_week(self, weeks, columns: list[str]) -> dict[str, pd.DataFrame]:
        """:meth:`read_weeks` of each of ``weeks`` on its own (those with events), read in one
        multi-threaded pass over their partitions: a national history is a hundred files."""
        paths = {w: self.week_path(w) for w in sorted(set(weeks)) if self.week_path(w).is_file()}
        rows = {w: pq.read_metadata(p).num_rows for w, p in paths.items()}
        present = [w for w in paths if rows[w]]
        if not present:
            return {}
        whole = self._read_partition([paths[w] for w in present], columns)
        ends = np.cumsum([rows[w] for w in present])
        if ends[-1] != len(whole):
            raise RuntimeError(f"the store's partitions changed while read: {self.events_dir}")
        return {w: whole.iloc[end - rows[w] : end].reset_index(drop=True) for w, end in zip(present, ends)}

    def _read_partition(self, path, columns):
        if columns is not None and not any(c in columns for c in ("geometry", *COORDINATE_COLUMNS)):
            return pd.read_parquet(path, columns=columns)
        return read_points(path, columns=columns)

    def read_flagged(self, weeks, columns: list[str]) -> pd.DataFrame:
        """``columns`` of the stored events that are protected (or have no flag) or are marked
        as a duplicate: the only events the publication rule can withhold
        (privacy.withheld_mask), read with a filter, not the whole history."""
        field = pa.compute.field
        flagged = (
            ~field("sensitive").is_valid()
            | (field("sensitive") == True)  # noqa: E712 - an Arrow expression, not a Python test
            | (field("duplicate_of").is_valid() & (field("duplicate_of") != ""))
        )
        parts = [
            pq.read_table(self.week_path(w), columns=columns, filters=flagged).to_pandas()
            for w in sorted(set(weeks))
            if self.week_path(w).is_file()
        ]
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty_events()[columns]
        return pd.concat(parts, ignore_index=True)

    def ids_path(self, week: str) -> Path:
        return self.ids_dir / f"{week or 'none'}.npy"

    def write_week(self, week: str, events: gpd.GeoDataFrame) -> None:
        path = self.week_path(week)
        # the id index first: a crash between the two leaves an index that over-reports
        # (only a cost: the week is then read), never one that misses an id
        self.ids_path(week).unlink(missing_ok=True)
        if not len(events):
            path.unlink(missing_ok=True)
            return
        with atomic_path(path) as tmp:
            write_points(events, tmp)
        self.ids_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.ids_path(week)) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.sort(_id_hashes(events["event_id"])))

    def ids_and_times(self, weeks, ids: set[str]) -> pd.DataFrame:
        """(event_id, occurred_at, iso_week) of the stored events whose id is in ``ids``."""
        if not ids:
            return pd.DataFrame({"event_id": [], "occurred_at": [], "iso_week": []})
        wanted, hashes = _id_set(ids), _id_hash_set(ids)
        out = []
        for w in weeks:
            path = self.week_path(w)
            if path.is_file() and self._may_hold(w, hashes):
                table = pq.read_table(path, columns=["event_id", "occurred_at", "iso_week"])
                mask = pa.compute.is_in(table["event_id"], value_set=wanted)
                out.append(table.filter(mask).to_pandas())
        return pd.concat(out, ignore_index=True) if out else self.ids_and_times([], set())

    def _may_hold(self, week: str, hashes: np.ndarray) -> bool:
        """False only when the week's id index shows none of ``hashes`` (no index: True)."""
        return _index_may_hold(self.ids_path(week), hashes)

    # per-file cache
    def cache_dir(self, entry: str) -> Path:
        return self.files_dir / entry

    def find_cached(self, key: str, now, cfg) -> str | None:
        """A cache entry for ``key`` still valid at ``now`` (see the module docstring)."""
        for folder in sorted(self.files_dir.glob(f"{key}.*")):
            try:
                meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                dates = np.load(folder / "dates.npy")
            except (OSError, ValueError):
                continue
            if window_unchanged(dates, pd.Timestamp(meta["now"]), pd.Timestamp(now), cfg, meta["future_rows"]):
                return folder.name
        return None

    def write_cached(self, key: str, now, chunks, meta: dict, dates: np.ndarray) -> str:
        """Cache one export from ``chunks``, its (events, rejected) pieces, each written as it
        comes (a national export is never whole in memory). Each piece's rows are in week order,
        so a week's rows are read from a few row groups (:meth:`cached_weeks`)."""
        entry = f"{key}.{pd.Timestamp(now).value}"
        folder = self.cache_dir(entry)
        shutil.rmtree(folder, ignore_errors=True)  # what a crashed attempt left (no meta.json)
        (folder / "events").mkdir(parents=True)
        rejected, hashes = [], []
        for i, (events, rej) in enumerate(chunks):
            events = events.iloc[np.argsort(events["iso_week"].to_numpy(dtype=str), kind="stable")]
            with atomic_path(folder / "events" / f"part-{i:05d}.parquet") as tmp:
                write_points(
                    gpd.GeoDataFrame(events, geometry="geometry", crs="EPSG:3006"), tmp, row_group_size=_CACHE_ROW_GROUP
                )
            hashes.append(_id_hashes(events["event_id"]))
            rejected.append(rej)
        rejected = pd.concat(rejected, ignore_index=True)
        with atomic_path(folder / "rejected.parquet") as tmp:
            rejected.to_parquet(tmp, index=False)
        with atomic_path(folder / "dates.npy") as tmp:
            np.save(tmp, np.sort(dates.astype("int64")))
        with atomic_path(folder / "ids.npy") as tmp:  # which ids it holds, without reading it
            np.save(tmp, np.unique(np.concatenate(hashes)))
        meta = {
            **meta,
            "now": pd.Timestamp(now).isoformat(),
            "future_rows": int((rejected["reason"] == "future_date").sum()),
        }
        write_text(folder / "meta.json", json.dumps(meta, ensure_ascii=False, sort_keys=True))
        return entry

    def cached_meta(self, entry: str) -> dict:
        return json.loads((self.cache_dir(entry) / "meta.json").read_text(encoding="utf-8"))

    def _cached_path(self, entry: str) -> Path:
        return self.cache_dir(entry) / "events"

    def cached_events(self, entry: str, ids=None) -> gpd.GeoDataFrame:
        """A cached file's normalised rows; only those with an id in ``ids`` when given."""
        path = self._cached_path(entry)
        if ids is None:
            return read_points(path)
        if not _index_may_hold(self.cache_dir(entry) / "ids.npy", _id_hash_set(ids)):
            return empty_events()  # a national history's file need not be read for a new week's ids
        wanted = _id_set(ids)
        if not pa.compute.any(
            pa.compute.is_in(pq.read_table(path, columns=["event_id"])["event_id"], value_set=wanted)
        ).as_py():
            return empty_events()
        return read_points(path, filters=pa.compute.field("event_id").isin(wanted))

    def cached_weeks(self, entry: str, weeks: list[str], without_ids=None) -> gpd.GeoDataFrame:
        """A cached file's rows of ``weeks``, leaving out ids in ``without_ids`` (an Arrow
        value set); read from the row groups whose week range meets ``weeks`` only."""
        field = pa.compute.field
        wanted = (field("iso_week") >= min(weeks)) & (field("iso_week") <= max(weeks))
        if without_ids is not None and len(without_ids):
            wanted &= ~field("event_id").isin(without_ids)
        rows = read_points(self._cached_path(entry), filters=wanted)
        return rows[rows["iso_week"].astype(str).isin(weeks).to_numpy()]

    def cached_keys(self, entry: str) -> pa.Table:
        """(event_id, occurred_at, iso_week) of every row of a cached file, as Arrow."""
        return pq.read_table(self._cached_path(entry), columns=["event_id", "occurred_at", "iso_week"])

    def cached_ids(self, entry: str) -> np.ndarray:
        path = self._cached_path(entry)
        return pq.read_table(path, columns=["event_id"])["event_id"].to_numpy(zero_copy_only=False)

    def cached_rejected(self, entry: str) -> pd.DataFrame:
        return pd.read_parquet(self.cache_dir(entry) / "rejected.parquet")

    def remove_unused(self, keep: set[str]) -> None:
        if self.files_dir.is_dir():
            for folder in self.files_dir.iterdir():
                if folder.is_dir() and folder.name not in keep:
                    shutil.rmtree(folder, ignore_errors=True)

    def clear_partitions(self) -> None:
        for folder, pattern in ((self.events_dir, "*.parquet"), (self.ids_dir, "*.npy")):
            if folder.is_dir():
                for path in folder.glob(pattern):
                    path.unlink()
        # what earlier versions wrote: the partitions inside the store, and one table of them all
        shutil.rmtree(self.root / "events", ignore_errors=True)
        (self.root.parent / "events.parquet").unlink(missing_ok=True)


def window_unchanged(dates: np.ndarray, then: pd.Timestamp, now: pd.Timestamp, cfg, future_rows: int) -> bool:
    """True when no parsed date crosses the date window's edges between ``then`` and ``now``
    (so the file's rows get the same verdicts), and future-date messages read the same."""
    age = pd.Timedelta(days=cfg.date_window.max_age_days)
    ahead = pd.Timedelta(days=cfg.date_window.allow_future_days)
    tz = cfg.timezone
    then = then.tz_localize(tz) if then.tzinfo is None else then
    now = now.tz_localize(tz) if now.tzinfo is None else now
    # too_old: d < now - age; the verdict flips for d in [min, max) of the two edges.
    lo = sorted([(then - age).value, (now - age).value])
    if np.searchsorted(dates, lo[1], "left") > np.searchsorted(dates, lo[0], "left"):
        return False
    # future_date: d > now + ahead; flips for d in (min, max].
    hi = sorted([(then + ahead).value, (now + ahead).value])
    if np.searchsorted(dates, hi[1], "right") > np.searchsorted(dates, hi[0], "right"):
        return False
    same_limit = (then + ahead).strftime("%Y-%m-%d") == (now + ahead).strftime("%Y-%m-%d")
    return future_rows == 0 or same_limit


# -- the incremental update -------------------------------------------------------------------


def sync(store: EventStore, cfg, files: list[FileEntry], ref, now, ingest_file, echo=print) -> SyncResult:
    """Bring the store up to date with ``files``; see the module docstring.

    ``ingest_file(entry) -> (chunks, meta, dates)`` reads one export; ``chunks`` yields its
    normalised (events, rejected) pieces.
    """
    ref_hash, code = reference_hash(cfg, ref), code_hash()
    gkey = global_key(cfg, ref_hash, code)
    state = store.load_state()
    if state is not None and (
        state.get("global_key") != gkey or not all(store.cache_dir(f["entry"]).is_dir() for f in state["files"])
    ):
        state = None
    read = []
    for f in files:
        key = file_key(cfg, f.partner, f.name, f.sha256, ref_hash, code)
        f.entry = store.find_cached(key, now, cfg) or ""
        if not f.entry:
            chunks, meta, dates = ingest_file(f)
            f.entry = store.write_cached(key, now, _with_areas(chunks, ref.areas), meta, dates)
            read.append(f.name)
    old_entries = {x["entry"] for x in state["files"]} if state else set()
    new_entries = {f.entry for f in files}
    if state is not None and old_entries == new_entries and not state.get("pending"):
        if not all((store.root.parent / n).is_file() for n in ("rejected.csv", "quality.json")):
            state = _finish(store, cfg, files, state, gkey)
        return SyncResult(state, False, [], read)

    cold = state is None
    if cold:
        store.clear_partitions()
        state = {"weeks": {}, "files": []}
    dirty = _dirty_ids(store, state["files"], files, cold)
    rebuilt = _rebuild(store, cfg, files, state, dirty, cold)
    new_state = _finish(store, cfg, files, state, gkey)
    store.remove_unused(new_entries)
    return SyncResult(new_state, True, rebuilt, read)


def _with_areas(chunks, areas):
    for events, rejected in chunks:
        events["area"] = assign_areas(events.geometry, areas).to_numpy()
        yield events, rejected


def _dirty_ids(store, old_files: list[dict], files: list[FileEntry], cold: bool) -> set[str] | None:
    """Ids of the rows that are new, gone or different (None: every id, a cold build).

    An added or removed export makes all its ids dirty; a changed one (same name, new
    content: say a cumulative export with rows appended) only the ids of rows that differ."""
    if cold:
        return None
    old = {f["name"]: f["entry"] for f in old_files}
    new = {f.name: f.entry for f in files}
    ids = set()
    for name in old.keys() | new.keys():
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if a is None or b is None:
            ids.update(store.cached_ids(a or b).tolist())
        else:
            ids.update(_changed_rows(store.cached_events(a), store.cached_events(b)))
    return ids


def _changed_rows(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> set[str]:
    """Ids of the rows of two versions of an export that are not in both, every column equal."""

    def row_hashes(frame):
        plain = frame.drop(columns="geometry").astype("string").fillna("\x00")
        plain["geometry"] = frame.geometry.to_wkb(hex=True)
        return pd.Series(
            pd.util.hash_pandas_object(plain[sorted(plain.columns)], index=False).to_numpy(),
            index=frame["event_id"].astype(str).to_numpy(),
        )

    a, b = row_hashes(old), row_hashes(new)
    gone = ~pd.Series(a.to_numpy()).isin(b.to_numpy()).to_numpy()
    added = ~pd.Series(b.to_numpy()).isin(a.to_numpy()).to_numpy()
    return set(a.index[gone]) | set(b.index[added])


def _rebuild(store, cfg, files, state, dirty, cold) -> list[str]:
    """Recompute the kept rows of the dirty ids and rewrite the weeks they touch."""
    new = _ColdRows(store, files) if cold else _DirtyRows(store, files, dirty)
    old_weeks = sorted(state["weeks"])
    old = store.ids_and_times(old_weeks, dirty) if not cold else pd.DataFrame({"occurred_at": [], "iso_week": []})
    times = pd.concat(
        [pd.Series(old["occurred_at"], dtype=new.times.dtype), new.times.reset_index(drop=True)], ignore_index=True
    )
    weeks = _weeks_within(times, cfg.duplicates.minutes, cfg.timezone)
    weeks |= set(old["iso_week"].astype(str)) | new.weeks | set(state.get("pending", []))
    weeks = sorted(weeks)
    if not cold:  # a crash from here on rebuilds these weeks next run
        state["pending"] = weeks
        store.save_state({**state, "version": STORE_VERSION})
    _write_weeks(store, cfg, weeks, new.rows_of, dirty, state)
    _store_dup_rejected(store, new.dup_rejected, dirty)
    return weeks


class _DirtyRows:
    """The kept rows of a few dirty ids, all in memory (an incremental run)."""

    def __init__(self, store, files, dirty):
        parts = [store.cached_events(f.entry, ids=dirty) for f in files]
        parts = [p for p in parts if len(p)]
        candidates = (
            gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:3006")
            if parts
            else _with_helpers(empty_events())
        )
        keep, dup_rejected = split_duplicates(candidates)
        self.dup_rejected = _with_event_ids(dup_rejected, candidates)
        kept = candidates[keep].reset_index(drop=True)[list(EVENT_COLUMNS)]
        self.times, self.weeks = kept["occurred_at"], set(kept["iso_week"].astype(str))
        self._by_week = dict(tuple(kept.groupby(kept["iso_week"].astype(str), sort=False)))

    def rows_of(self, weeks: list[str]) -> dict:
        return {w: self._by_week[w] for w in weeks if w in self._by_week}


class _ColdRows:
    """Every cached row, kept or not, read week by week from the cached exports (a cold run:
    a national history is never whole in memory). Only ids that occur more than once can
    lose a row to same-case deduplication, so only their rows are read whole up front."""

    def __init__(self, store, files):
        self.store, self.entries = store, [f.entry for f in files]
        keys = [store.cached_keys(e) for e in self.entries]
        keys = pa.concat_tables(keys) if keys else None
        ids = keys["event_id"] if keys is not None else pa.chunked_array([], pa.large_string())
        counts = pa.compute.value_counts(ids)
        repeated = set(counts.field("values").filter(pa.compute.greater(counts.field("counts"), 1)).to_pylist())
        self.repeated = _id_set(repeated)
        candidates = [store.cached_events(e, ids=repeated) for e in self.entries] if repeated else []
        candidates = [c for c in candidates if len(c)]
        candidates = (
            gpd.GeoDataFrame(pd.concat(candidates, ignore_index=True), geometry="geometry", crs="EPSG:3006")
            if candidates
            else _with_helpers(empty_events())
        )
        keep, dup_rejected = split_duplicates(candidates)
        self.dup_rejected = _with_event_ids(dup_rejected, candidates)
        self.kept_repeated = candidates[keep].reset_index(drop=True)[list(EVENT_COLUMNS)]
        single = (
            keys.filter(pa.compute.invert(pa.compute.is_in(keys["event_id"], value_set=self.repeated)))
            if keys is not None
            else None
        )
        times = [self.kept_repeated["occurred_at"]]
        weeks = set(self.kept_repeated["iso_week"].astype(str))
        if single is not None and single.num_rows:
            times.insert(0, single["occurred_at"].to_pandas())
            weeks |= set(pa.compute.unique(single["iso_week"]).to_pylist())
        self.times = pd.concat([t.astype(self.kept_repeated["occurred_at"].dtype) for t in times], ignore_index=True)
        self.weeks = weeks

    def rows_of(self, weeks: list[str]) -> dict:
        parts = [self.store.cached_weeks(e, weeks, without_ids=self.repeated) for e in self.entries]
        parts.append(self.kept_repeated[self.kept_repeated["iso_week"].astype(str).isin(weeks).to_numpy()])
        parts = [p[list(EVENT_COLUMNS)] for p in parts if len(p)]
        if not parts:
            return {}
        rows = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:3006")
        return dict(tuple(rows.groupby(rows["iso_week"].astype(str), sort=False)))


def _with_helpers(frame):
    for col in ("_content", "_raw"):
        frame[col] = pd.Series(dtype="string")
    return frame


def _with_event_ids(dup_rejected: pd.DataFrame, candidates) -> pd.DataFrame:
    """The event_id of each rejected duplicate row (to replace them when the id gets dirty)."""
    keyed = pd.DataFrame(
        {
            "source_file": candidates["source_file"].astype(str).to_numpy(),
            "source_line": candidates["source_line"].to_numpy("int64"),
            "event_id": candidates["event_id"].astype(str).to_numpy(),
        }
    )
    out = dup_rejected.astype({"source_file": str}).merge(keyed, on=["source_file", "source_line"], how="left")
    return out.astype({c: "string" for c in REJECTED_COLUMNS if c != "source_line"} | {"event_id": "string"})


def _weeks_within(times: pd.Series, minutes: float, tz: str) -> set[str]:
    """ISO weeks of every instant within ``minutes`` of one of ``times``.

    >>> t = pd.Series(pd.to_datetime(["2026-11-23 00:05", "2026-11-25 12:00", "2021-01-03 23:50"]))
    >>> sorted(_weeks_within(t.dt.tz_localize("Europe/Stockholm"), 30, "Europe/Stockholm"))
    ['2020-W53', '2021-W01', '2026-W47', '2026-W48']
    >>> sorted(_weeks_within(t.dt.tz_localize("Europe/Stockholm"), 20_000, "Europe/Stockholm"))[:4]
    ['2020-W52', '2020-W53', '2021-W01', '2021-W02']
    """
    if not len(times):
        return set()
    t = pd.DatetimeIndex(times).tz_convert(tz)
    pad = pd.Timedelta(minutes=minutes)
    # as year * 100 + week numbers, made distinct before any text is built (millions of rows)
    # (one integer per pair: a 1-D unique sorts millions of rows far faster than axis=0's)
    pairs = np.unique(_iso_code(t - pad) * 1_000_000 + _iso_code(t + pad))
    out = set()
    for a, b in (tuple(f"{c // 100}-W{c % 100:02d}" for c in divmod(pair, 1_000_000)) for pair in pairs.tolist()):
        out.update(weeks_between(a, b) if a != b else [a])
    return out


def _iso_code(t: pd.DatetimeIndex) -> np.ndarray:
    iso = t.isocalendar()
    return iso["year"].to_numpy("int64") * 100 + iso["week"].to_numpy("int64")


def _context_weeks(minutes: float) -> int:
    """How many neighbouring weeks hold events within ``minutes`` of a week's events."""
    return max(1, math.ceil(minutes / (7 * 24 * 60)))


def _write_weeks(store, cfg, weeks, rows_of, dirty, state) -> None:
    """Rewrite each week in ``weeks``: its clean rows, then cross-partner duplicates in chunks.

    ``rows_of(weeks) -> {week: rows}`` gives the recomputed kept rows of the dirty ids."""
    target = set(weeks)
    base, new_rows = {}, {}
    dirty_ids = None if dirty is None else _id_set(dirty)

    def base_rows(w):
        if w not in base:
            old = store.read_weeks([w]) if w in state["weeks"] else empty_events()
            if dirty is not None and len(old):
                old = old[~_ids_in(old["event_id"], dirty_ids)]
            new = new_rows.pop(w, None)
            rows = [f for f in (old, new) if f is not None and len(f)]
            base[w] = (
                gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), geometry="geometry", crs="EPSG:3006")
                if rows
                else empty_events()
            )
        return base[w]

    n_ctx = _context_weeks(cfg.duplicates.minutes)
    done = set()
    for chunk in _chunks(weeks):
        context = set(previous_weeks(chunk[0], n_ctx)) | set(next_weeks(chunk[-1], n_ctx))
        context = sorted(w for w in context | set(_gaps(chunk)) if w not in chunk)
        wanted = [w for w in chunk + context if w in target and w not in done and w not in base]
        if wanted:  # one read of the cached exports per chunk, not one per week
            new_rows.update(rows_of(wanted))
        frames = [base_rows(w) for w in chunk]
        # a week already rewritten this run is read back: only its duplicate_of is recomputed
        frames += [base_rows(w) if w in target and w not in done else store.read_weeks([w]) for w in context]
        frames = [f for f in frames if len(f)]
        if not frames:
            for w in chunk:
                store.write_week(w, empty_events())
                state["weeks"].pop(w, None)
            done.update(chunk)
            continue
        rows = pd.concat(frames, ignore_index=True)
        rows = rows.sort_values(["occurred_at", "event_id"], kind="stable").reset_index(drop=True)
        rows["duplicate_of"] = cross_partner_duplicates(rows, cfg.duplicates.distance_m, cfg.duplicates.minutes)
        rows = gpd.GeoDataFrame(rows[list(EVENT_COLUMNS)], geometry="geometry", crs="EPSG:3006")
        rows = rows.astype({"area": "string", "duplicate_of": "string"})
        iso = rows["iso_week"].astype(str)
        for w in chunk:
            week_rows = rows[(iso == w).to_numpy()].reset_index(drop=True)
            store.write_week(w, week_rows)
            if len(week_rows):
                state["weeks"][w] = {"hash": _week_hash(week_rows), "events": int(len(week_rows))}
            else:
                state["weeks"].pop(w, None)
        done.update(chunk)
        for w in chunk:
            base.pop(w, None)


def _chunks(weeks: list[str]) -> list[list[str]]:
    """Sorted weeks in runs of consecutive weeks, at most _CHUNK_WEEKS long."""
    out = []
    for w in weeks:
        if out and len(out[-1]) < _CHUNK_WEEKS and next_weeks(out[-1][-1], 1)[0] == w:
            out[-1].append(w)
        else:
            out.append([w])
    return out


def _gaps(chunk: list[str]) -> list[str]:
    return weeks_between(chunk[0], chunk[-1]) if len(chunk) > 1 else []


def _id_set(ids) -> pa.Array:
    """A set of event ids as an Arrow value set (the stored ids' type), for ``is_in``."""
    return pa.array(sorted(ids), type=pa.string())


def _id_hash_set(ids) -> np.ndarray:
    """A set of event ids as the sorted hashes the id indexes hold."""
    return np.unique(_id_hashes(pd.Series(sorted(ids))))


def _ids_in(ids: pd.Series, value_set: pa.Array) -> np.ndarray:
    """Whether each id is in ``value_set``: one Arrow hash lookup (``Series.isin`` converts a
    set of a new week's 30 000 ids element by element, on every call)."""
    values = pa.array(ids.astype("string[pyarrow]").array).cast(value_set.type)
    return pa.compute.is_in(values, value_set=value_set).to_numpy(zero_copy_only=False)


def _store_dup_rejected(store, new: pd.DataFrame, dirty) -> None:
    path = store.root / "dup_rejected.parquet"
    parts = [new]
    if dirty is not None and path.is_file():
        old = pd.read_parquet(path)
        parts.insert(0, old[~_ids_in(old["event_id"], _id_set(dirty))])
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else new
    with atomic_path(path) as tmp:
        out.to_parquet(tmp, index=False)


def _finish(store, cfg, files, state, gkey) -> dict:
    """Write rejected.csv, quality and the new state (the clean events are the partitions)."""
    rejected = all_rejected(store, files)
    weeks = sorted(state["weeks"])
    _mark_empty(store, weeks)
    quality_events = quality_rows(store, weeks)
    rows_read, exports = {}, {}
    for f in files:
        meta = store.cached_meta(f.entry)
        rows_read[(f.partner, f.name)] = meta["rows_read"]
        exports[(f.partner, f.name)] = meta
    quality = quality_summary(
        rows_read, quality_events, rejected, unmapped_categories(quality_events, cfg), cfg=cfg, exports=exports
    )
    processed = store.root.parent
    write_csv(processed / "rejected.csv", rejected)
    write_text(processed / "quality.json", json.dumps(quality, ensure_ascii=False, indent=2, default=str))
    new_state = {
        "version": STORE_VERSION,
        "global_key": gkey,
        "weeks": state["weeks"],
        "pending": [],
        "files": [{"partner": f.partner, "name": f.name, "sha256": f.sha256, "entry": f.entry} for f in files],
        "events": int(sum(v["events"] for v in state["weeks"].values())),
        "rejected": int(len(rejected)),
        "quality": quality,
    }
    store.save_state(new_state)
    return new_state


def _mark_empty(store, weeks) -> None:
    """With no events at all the folder still reads as the canonical table: one file of no
    rows, removed once a week holds events."""
    path = store.events_dir / EMPTY_PARTITION
    if any(store.week_path(w).is_file() for w in weeks):
        path.unlink(missing_ok=True)
    elif not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            empty_events().to_parquet(tmp, index=False)


def quality_rows(store, weeks) -> pd.DataFrame:
    """What the quality summary counts of the stored events: the distinct combinations of
    :data:`QUALITY_COLUMNS` with how many events each stands for (``quality.COUNT_COLUMN``),
    grouped in Arrow per partition. ``duplicate_of`` is kept only as whether it is set (the
    summary counts duplicates, not whom they duplicate), so a national history of millions of
    events is a few hundred rows."""
    keys = [c for c in QUALITY_COLUMNS if c != "duplicate_of"] + ["_duplicate"]
    parts = []
    for w in weeks:
        path = store.week_path(w)
        if not path.is_file():
            continue
        # the texts as dictionaries: a week repeats a few partners, files, categories, methods
        table = pq.read_table(path, columns=QUALITY_COLUMNS, read_dictionary=keys[:-1])
        dup = table["duplicate_of"]
        marked = pa.compute.and_(pa.compute.is_valid(dup), pa.compute.not_equal(dup, ""))
        table = table.append_column("_duplicate", pa.compute.fill_null(marked, False))
        grouped = table.group_by(keys, use_threads=False).aggregate([([], "count_all")])
        texts = [pa.field(c, pa.large_string()) for c in keys[:-1]]
        rest = [grouped.schema.field(c) for c in ("_duplicate", "count_all")]
        parts.append(grouped.cast(pa.schema([*texts, *rest])))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in QUALITY_COLUMNS} | {COUNT_COLUMN: []})
    total = pa.concat_tables(parts).group_by(keys, use_threads=False).aggregate([("count_all", "sum")])
    out = total.to_pandas()
    out["duplicate_of"] = np.where(out.pop("_duplicate").to_numpy(bool), "1", "")
    out[COUNT_COLUMN] = out.pop("count_all_sum").astype("int64")
    return out[[*QUALITY_COLUMNS, COUNT_COLUMN]]


def all_rejected(store, files) -> pd.DataFrame:
    """Every rejected row: each file's own, and the same-case duplicates across files."""
    parts = [store.cached_rejected(f.entry) for f in files]
    dup = store.root / "dup_rejected.parquet"
    if dup.is_file():
        parts.append(pd.read_parquet(dup))
    parts = [p[list(REJECTED_COLUMNS)] for p in parts if len(p)]
    if not parts:
        return empty_rejected()
    return _combine_rejected(pd.concat(parts, ignore_index=True), empty_rejected())


def _index_may_hold(path: Path, hashes: np.ndarray) -> bool:
    """False only when the sorted id-hash index at ``path`` holds none of ``hashes`` (no
    readable index: True, so the caller reads the data)."""
    try:
        held = np.load(path)
    except (OSError, ValueError):
        return True
    pos = np.minimum(np.searchsorted(held, hashes), max(len(held) - 1, 0))
    return bool(len(held)) and bool((held[pos] == hashes).any())


def _id_hashes(ids: pd.Series) -> np.ndarray:
    """64-bit hashes of event ids (pandas' stable hash): the store's index of which week holds
    which id (a collision only makes a week be read for nothing)."""
    return pd.util.hash_array(ids.astype(str).to_numpy(dtype=object))


def _empty_columns(columns: list[str] | None):
    """No events, in ``columns`` (None = the whole canonical table)."""
    empty = empty_events()
    return empty if columns is None else with_coordinates(empty)[columns]


def parsed_dates(raw, partner: str, cfg) -> np.ndarray:
    """Every parsed start time of an export (UTC ns), as the source stage parses them; NaT dropped."""
    frame, name = _unpack(raw, partner)
    pcfg = cfg.partners[partner]
    cols = _resolve_columns(frame, pcfg.columns, partner, name)
    wanted = [f for f in ("datetime", "date", "time") if f in cols]
    out = [np.empty(0, dtype="int64")]
    for start in range(0, len(frame), CHUNK_ROWS):  # a national export a chunk at a time
        part = frame.iloc[start : start + CHUNK_ROWS]
        text = {f: _text(part[cols[f]], null_markers=f in NULLABLE_FIELDS) for f in wanted}
        if "datetime" in cols:
            values, _ = parse_datetimes(text["datetime"], None, pcfg.date_formats, cfg.timezone)
        else:
            values, _ = parse_datetimes(text["date"], text.get("time"), pcfg.date_formats, cfg.timezone)
        values = values.dropna()
        if len(values):
            out.append(pd.DatetimeIndex(values).as_unit("ns").asi8)
    return np.concatenate(out)


class StoredEvents:
    """The store's clean events as the runner and the products read them: by week, lazily.

    >>> stored.for_product(product, cfg, "2026-W47")        # doctest: +SKIP
    """

    def __init__(self, store: EventStore, state: dict):
        self.store, self.state = store, state
        self.weeks = sorted(w for w in state["weeks"] if w)
        self.hashes = {w: v["hash"] for w, v in state["weeks"].items()}
        self.count = int(state["events"])
        self._cache: dict[str, pd.DataFrame] = {}  # week -> its columns read so far, once per run
        self._planned: dict[str, set[str]] = {}  # week -> the columns the run's products read
        self._lock = threading.Lock()  # products are built two at a time (products.build_all)

    def plan(self, products, cfg, week: str) -> None:
        """Note the columns every one of ``products`` will read of each week for ``week``, so
        each partition is read once, in one pass, whatever order the products ask in."""
        self._planned = {}
        for product in products:
            columns = product.columns_read() or list(EVENT_COLUMNS)
            for w in self._weeks_of(product, cfg, week):
                self._planned.setdefault(w, set()).update(columns)
        self._prefetch()

    def _prefetch(self) -> None:
        """Read the planned weeks that are not cached yet, in one pass per set of columns."""
        groups: dict[tuple[str, ...], list[str]] = {}
        for w, columns in self._planned.items():
            if w not in self._cache:
                groups.setdefault(tuple(c for c in READABLE_COLUMNS if c in columns), []).append(w)
        for columns, weeks in groups.items():
            read = self.store.read_each_week(weeks, list(columns))
            for w in weeks:
                self._cache[w] = read[w] if w in read else _empty_columns(list(columns))

    def _weeks_of(self, product, cfg, week: str) -> list[str]:
        weeks = product.weeks_read(cfg, week, self.weeks)
        return [w for w in self.weeks if w <= week] if weeks is None else sorted(set(weeks) & set(self.weeks))

    def for_product(self, product, cfg, week: str) -> pd.DataFrame:
        """The events of the weeks ``product`` declares for ``week``, in the columns it declares:
        those partitions only, each column of each read once per run however many products
        declare it. A GeoDataFrame when the geometry is among the columns."""
        columns = product.columns_read() or list(EVENT_COLUMNS)
        parts = [p for p in (self._week(w, columns) for w in self._weeks_of(product, cfg, week)) if len(p)]
        if not parts:
            return _empty_columns(None if product.columns is None else columns)
        out = pd.concat(parts, ignore_index=True)
        return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:3006") if "geometry" in columns else out

    def _week(self, week: str, columns: list[str]) -> pd.DataFrame:
        """``columns`` of one week's partition; the cache holds each week once, with every
        column read so far (a narrow history for the all-history products, whole weeks for
        the recent ones). The first read takes every column :meth:`plan` noted for the week."""
        with self._lock:
            return self._week_locked(week, columns)

    def _week_locked(self, week: str, columns: list[str]) -> pd.DataFrame:
        have = self._cache.get(week)
        held = set() if have is None else set(have.columns)
        if not set(columns) <= held:
            wanted = (self._planned.get(week, set()) | set(columns)) - held
            part = self.store.read_weeks([week], columns=[c for c in READABLE_COLUMNS if c in wanted])
            have = part if have is None else pd.concat([have, part], axis=1)
            if "geometry" in have.columns:
                have = gpd.GeoDataFrame(have, geometry="geometry", crs="EPSG:3006")
            self._cache[week] = have
        return have[columns]

    def read_all(self) -> gpd.GeoDataFrame:
        return self.store.read_weeks(self.weeks)
