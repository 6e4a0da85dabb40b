"""One partner's raw rows -> canonical events (EPSG:3006) + rejected rows.

Every raw row ends up in exactly one of the two outputs, so that per file
rows read = events + rejected. A row is rejected by the *first* check it fails, in this
order: structural fault from the reader, date, location. Everything is vectorised; the
few per-row Python loops (ids, messages) only touch strings.

>>> events, rejected = normalise_partner(raw, "polisen", cfg, gazetteer, boundary, now)  # doctest: +SKIP
>>> events["geocode_method"].value_counts().to_dict()                                      # doctest: +SKIP
{'coordinates': 380, 'exact': 22, 'fuzzy': 3}
>>> rejected["reason"].value_counts().to_dict()                                            # doctest: +SKIP
{'not_geocoded': 4, 'bad_date': 1}

Besides the canonical columns, ``events`` carries the helper columns ``HELPER_COLUMNS``
(``_content``: hash of the mapped field values, ``_raw``: the raw record) that
:func:`pipeline.sources.clean.finalise` needs for duplicate detection and then drops.
"""

from __future__ import annotations

import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pandas.core.util.hashing import combine_hash_arrays

from pipeline.config import Config
from pipeline.errors import InputError
from pipeline.privacy import installation_key, keyed_ids, redact, sensitive_category_for
from pipeline.schema import EVENT_COLUMNS, REASONS, REJECTED_COLUMNS
from pipeline.sources.coords import to_sweref
from pipeline.sources.parse import NULL_TOKENS, check_window, day_month_order, parse_datetimes, parse_numbers
from pipeline.sources.read import MAX_FIELD_CHARS

#: Non-schema columns passed from normalise_partner to clean.finalise (dropped there).
HELPER_COLUMNS = ("_content", "_raw")
#: to_sweref statuses that give a usable point.
USABLE_STATUS = ("ok", "swapped", "rt90")
#: Fields where a null marker ('NaN', '-', 'saknas', ...) means blank. For source_id this
#: matters most: 'NULL' ids must not make every such row one case.
NULLABLE_FIELDS = ("source_id", "address", "place", "town", "x", "y", "lat", "lon")


def normalise_partner(
    raw, partner: str, cfg: Config, gazetteer, boundary, now: pd.Timestamp, *, id_key: bytes | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Turn one export's raw rows into (events, rejected); see the module docstring.

    ``raw`` is a :class:`pipeline.sources.read.RawExport` or its ``frame`` (then the file name is
    taken from ``frame.attrs["display_name"]``, default: the partner key). ``id_key`` is the
    installation secret event ids are keyed with (default: read, or created, at ``paths.secret``).
    """
    frame, source_file = _unpack(raw, partner)
    return _normalise_rows(frame, source_file, partner, cfg, gazetteer, boundary, now, id_key, order=None)


#: Records normalised at a time by :func:`normalise_chunks`: the intermediate columns of a
#: million-row export would otherwise need several GB at once.
CHUNK_ROWS = 100_000


def normalise_chunks(
    raw, partner: str, cfg: Config, gazetteer, boundary, now: pd.Timestamp, *, id_key=None, rows: int | None = None
):
    """:func:`normalise_partner` in pieces of at most ``rows`` (default :data:`CHUNK_ROWS`)
    records, as (events, rejected) pairs in file order; concatenated they equal its result
    (tests/test_ingest.py). The one decision that needs the whole file, the day/month order of
    its dates, is taken first."""
    frame, source_file = _unpack(raw, partner)
    order = _whole_file_date_order(frame, source_file, partner, cfg)
    rows = rows or CHUNK_ROWS
    for start in range(0, max(len(frame), 1), rows):
        part = frame.iloc[start : start + rows].reset_index(drop=True)
        yield _normalise_rows(part, source_file, partner, cfg, gazetteer, boundary, now, id_key, order=order)


def _whole_file_date_order(frame, source_file: str, partner: str, cfg: Config) -> str:
    pcfg = cfg.partners[partner]
    if pcfg.date_formats:
        return "dmy"  # the configured formats decide (as in _file_date_order), no need to look
    cols = _resolve_columns(frame, pcfg.columns, partner, source_file)
    wanted = [f for f in ("datetime", "date", "end_datetime", "end_date") if f in cols]
    text = {f: _text(frame[cols[f]], null_markers=f in NULLABLE_FIELDS) for f in wanted}
    date_field = "datetime" if "datetime" in cols else "date"
    where = {"partner": partner, "file": source_file}
    return _file_date_order(text, text[date_field], cols[date_field], pcfg, where)


def _normalise_rows(frame, source_file, partner, cfg, gazetteer, boundary, now, id_key, order):
    pcfg = cfg.partners[partner]
    cols = _resolve_columns(frame, pcfg.columns, partner, source_file)
    text = {field: _text(frame[col], null_markers=field in NULLABLE_FIELDS) for field, col in cols.items()}
    rej = _Rejections(frame.index)
    rej.add(frame["_fault"].notna().to_numpy(), frame["_fault"], _fault_messages(frame, cols))

    where = {"partner": partner, "file": source_file}
    occurred, occurred_end = _dates(text, cols, pcfg, cfg, now, rej, where, order)
    category = _categories(
        text["category"], category_mapping(cfg, partner), sensitive=(cfg.sensitive_names(), cfg.privacy.sensitive_words)
    )
    place, place_col = _place_text(text, cols)
    loc = _locate(text, place, place_col, cols, partner, cfg, gazetteer, boundary, rej)

    ok = rej.reason.isna().to_numpy()
    key = id_key if id_key is not None else installation_key(cfg.path(cfg.paths.secret))
    events = _build_events(
        _where(frame, ok),
        text,
        partner,
        source_file,
        cfg,
        _where(category, ok),
        _where(occurred, ok),
        _where(occurred_end, ok),
        _where(place, ok),
        _where(loc, ok),
        keep_text=cfg.keeps_free_text(partner),
        key=key,
    )
    rejected = _build_rejected(frame[~ok], rej, partner, source_file)
    return events, rejected


def _where(data, mask: np.ndarray):
    """``data[mask]``, without copying every column when the mask keeps every row (the
    usual case; a copy of millions of strings costs seconds)."""
    return data if mask.all() else data[mask]


def _at(s: pd.Series, idx: pd.Index) -> pd.Series:
    """``s[idx]``, without a copy when ``idx`` is all of ``s``'s index."""
    return s if s.index.equals(idx) else s[idx]


def unmapped_mask(events: pd.DataFrame, cfg: Config) -> pd.Series:
    """True where an event's raw category is not in its partner's ``categories`` mapping.

    >>> unmapped_mask(events, cfg).sum()                 # doctest: +SKIP
    3
    """
    out = pd.Series(False, index=events.index)
    for partner in cfg.partners:
        mine = (events["source"] == partner).fillna(False).to_numpy(bool)
        if mine.any():
            known = set(_category_lookup(category_mapping(cfg, partner)))
            keys = _category_key(events.loc[mine, "source_category"].astype("string").fillna(""))
            out[mine] = ~keys.isin(known).to_numpy(bool)
    return out


# -- input --------------------------------------------------------------------------------------


def _unpack(raw, partner: str) -> tuple[pd.DataFrame, str]:
    if isinstance(raw, pd.DataFrame):
        frame, name = raw, raw.attrs.get("display_name", partner)
    else:
        frame, name = raw.frame, raw.display_name
    frame = frame.reset_index(drop=True)
    # Frames built by hand (tests, other callers) may lack the reader's bookkeeping columns.
    if "_line" not in frame:
        frame["_line"] = np.arange(2, len(frame) + 2, dtype="int64")
    if "_raw" not in frame:
        data = frame.drop(columns=[c for c in ("_line", "_fault") if c in frame])
        frame["_raw"] = data.astype("string").fillna("").agg(";".join, axis=1) if len(frame) else ""
    if "_fault" not in frame:
        frame["_fault"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame["_fault"] = frame["_fault"].astype("string").str.strip().replace("", pd.NA)
    return frame, str(name)


def _norm_name(name: str) -> str:
    # Same normalisation the reader applies to header names (NFC, no BOM, trimmed).
    return unicodedata.normalize("NFC", str(name).replace("\ufeff", "").strip())


def _resolve_columns(frame: pd.DataFrame, mapping: dict[str, str], partner: str, file: str) -> dict[str, str]:
    """canonical field -> the frame's column; InputError naming the column if it is missing."""
    by_norm = {_norm_name(c): c for c in frame.columns}
    out = {}
    for field, col in mapping.items():
        if _norm_name(col) not in by_norm:
            found = [c for c in frame.columns if not str(c).startswith("_")]
            raise InputError(
                f"configured column for '{field}' is not in the export; columns found: {found}. "
                f"Fix partners.{partner}.columns in config.yaml",
                partner=partner,
                file=file,
                column=col,
            )
        out[field] = by_norm[_norm_name(col)]
    return out


def _text(s: pd.Series, null_markers: bool = False) -> pd.Series:
    """Trimmed NFC strings, blanks (and, if asked, null markers like 'NaN') as ''.

    NFC because Mac exports may write 'å' decomposed.
    """
    return per_distinct(s.astype("string").fillna(""), lambda u: _clean_text(u, null_markers))


def _clean_text(s: pd.Series, null_markers: bool) -> pd.Series:
    s = s.str.strip().str.normalize("NFC")
    return s.mask(s.str.lower().isin(NULL_TOKENS), "") if null_markers else s


def per_distinct(s: pd.Series, fn) -> pd.Series:
    """``fn(s)``, computed once per distinct value of ``s``: an export repeats its values (a
    national file has millions of rows but few distinct categories, towns or places), and
    the string functions cost per value. ``fn`` must map each value on its own.

    >>> per_distinct(pd.Series(["a ", "b", "a "], dtype="string"), lambda u: u.str.strip()).tolist()
    ['a', 'b', 'a']
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    if len(uniques) == len(s):
        return fn(s)
    mapped = fn(pd.Series(uniques, dtype=s.dtype))
    return pd.Series(mapped.array.take(codes), index=s.index, name=s.name)


def _squash(s: pd.Series) -> pd.Series:
    """Collapse runs of whitespace to one space ('Storgatan  12 ' -> 'Storgatan 12')."""
    return per_distinct(s, _squash_values)


def _squash_values(s: pd.Series) -> pd.Series:
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


class _Rejections:
    """First reason (and message) per row; later checks never overwrite an earlier one."""

    def __init__(self, index: pd.Index):
        self.reason = pd.Series(pd.NA, index=index, dtype="string")
        self.message = pd.Series("", index=index, dtype="string")

    def open(self) -> np.ndarray:
        return self.reason.isna().to_numpy()

    def add(self, mask: np.ndarray, reason, message) -> None:
        mask = np.asarray(mask, dtype=bool) & self.open()
        if not mask.any():
            return
        self.reason[mask] = reason[mask] if isinstance(reason, pd.Series) else reason
        self.message[mask] = message[mask] if isinstance(message, pd.Series) else message


#: Messages for the reader's structural faults (``_fault``).
FAULT_MESSAGES = {
    "empty_row": "the row has no values",
    "bad_field_count": "wrong number of fields (broken or truncated row, or an unbalanced quote); "
    "fix the row in the export",
    "field_too_long": "a field is implausibly long (usually an unbalanced quote); fix the row in the export",
}


def _fault_messages(frame: pd.DataFrame, cols: dict[str, str]) -> pd.Series:
    fault = frame["_fault"]
    texts = {code: FAULT_MESSAGES.get(code, f"{REASONS.get(code, code)} ({code})") for code in fault.dropna().unique()}
    out = fault.map(texts).astype("string")
    too_long = (fault == "field_too_long").fillna(False).to_numpy(bool)
    if too_long.any():
        out[too_long] = _too_long_messages(frame[too_long])
    return out


def _too_long_messages(rows: pd.DataFrame) -> list[str]:
    """Name the first over-long column: the reader keeps the fields of such rows."""
    data = [c for c in rows.columns if not str(c).startswith("_")]
    lengths = pd.DataFrame({c: rows[c].astype("string").str.len().fillna(0) for c in data}, index=rows.index)
    out = []
    for i in rows.index:
        over = [c for c in data if lengths.at[i, c] > MAX_FIELD_CHARS]
        if not over:
            out.append(FAULT_MESSAGES["field_too_long"])
            continue
        out.append(
            f"column '{over[0]}' has {int(lengths.at[i, over[0]])} characters (more than "
            f"{MAX_FIELD_CHARS}; usually an unbalanced quote); fix the row in the export"
        )
    return out


# -- dates --------------------------------------------------------------------------------------


def _dates(text, cols, pcfg, cfg, now, rej: _Rejections, where: dict, order=None) -> tuple[pd.Series, pd.Series]:
    """Start (rejecting bad rows) and end (NaT when absent or unreadable) timestamps; ``order``
    is the file's day/month order when a caller decided it on the whole file."""
    tz = cfg.timezone
    if "datetime" in cols:
        dates, times, date_col, time_col = text["datetime"], None, cols["datetime"], None
    else:
        dates, times, date_col, time_col = text["date"], text.get("time"), cols["date"], cols.get("time")
    order = order or _file_date_order(text, dates, date_col, pcfg, where)
    values, reason = parse_datetimes(dates, times, pcfg.date_formats, tz, order=order)
    window = check_window(values, now, cfg.date_window.max_age_days, cfg.date_window.allow_future_days)
    reason = reason.fillna(window)
    bad = reason.notna().to_numpy() & rej.open()
    if bad.any():
        msgs = _date_messages(
            reason[bad],
            dates[bad],
            None if times is None else times[bad],
            date_col,
            time_col,
            pcfg.date_formats,
            cfg,
            now,
            order,
        )
        rej.add(bad, reason, msgs.reindex(reason.index, fill_value=""))
    return values, _end_dates(text, cols, pcfg, tz, values, order)


def _file_date_order(text, dates, date_col, pcfg, where) -> str:
    """'dmy' or 'mdy' for the whole file, decided from every date in it (start and end):
    a value such as 11/16/2026 proves month first, 16/11/2026 day first. A file whose
    slashed dates could be either, or that proves both, is refused naming the column."""
    if pcfg.date_formats:
        return "dmy"  # the configured formats decide
    ends = [text[f] for f in ("end_datetime", "end_date") if f in text]
    found = day_month_order(pd.concat([dates, *ends], ignore_index=True))
    if found.problem == "conflict":
        raise InputError(
            f"the dates mix day first ({found.example!r}) and month first ({found.other!r}); "
            "export the file again with one date format",
            column=date_col,
            **where,
        )
    if found.problem == "ambiguous":
        raise InputError(
            f"dates such as {found.example!r} can be day/month or month/day and no date in the "
            f"file tells which; set partners.{where['partner']}.date_formats in config.yaml "
            "(e.g. ['%d/%m/%Y'] or ['%m/%d/%Y'])",
            column=date_col,
            **where,
        )
    return found.order


def _date_messages(reason, dates, times, date_col, time_col, formats, cfg, now, order="dmy") -> pd.Series:
    # Which column is wrong? Re-parse the date alone: if it parses, the time is to blame.
    date_alone = parse_datetimes(dates, None, formats, cfg.timezone, order=order)[1]
    limit = (pd.Timestamp(now) + pd.Timedelta(days=cfg.date_window.allow_future_days)).strftime("%Y-%m-%d")
    out = []
    times = times if times is not None else pd.Series("", index=reason.index, dtype="string")
    for code, d, t, date_ok in zip(reason.tolist(), dates.tolist(), times.tolist(), date_alone.isna().tolist()):
        shown = f"{d} {t}".strip()
        if code == "missing_date":
            out.append(f"column '{date_col}' is empty; every row needs a date")
        elif code == "bad_date" and time_col and date_ok:
            out.append(f"column '{time_col}': '{t}' is not a time of day (use e.g. 14:30)")
        elif code == "bad_date":
            out.append(f"column '{date_col}': '{d}' is not a date (use e.g. 2026-11-16)")
        elif code == "future_date":
            out.append(f"column '{date_col}': '{shown}' is in the future (later than {limit})")
        else:
            out.append(
                f"column '{date_col}': '{shown}' is more than {cfg.date_window.max_age_days} days "
                "old (date_window.max_age_days)"
            )
    return pd.Series(out, index=reason.index, dtype="string")


def _end_dates(text, cols, pcfg, tz, start: pd.Series, order: str = "dmy") -> pd.Series:
    """End of the interval, NaT when not given, unreadable or before the start.

    Police exports often leave 'Till datum' blank when the interval ends the same day:
    the start date is used then, plus one day if the end time is before the start time.
    """
    nat = pd.Series(pd.NaT, index=start.index, dtype=start.dtype)
    if "end_datetime" in cols:
        end, _ = parse_datetimes(text["end_datetime"], None, pcfg.date_formats, tz, order=order)
    elif "end_date" in cols or "end_time" in cols:
        blank = pd.Series("", index=start.index, dtype="string")
        end_date, end_time = text.get("end_date", blank), text.get("end_time", blank)
        same_day = (end_date == "") & (end_time != "")
        end_date = end_date.where(~same_day, text.get("date", blank))
        end, _ = parse_datetimes(end_date, end_time, pcfg.date_formats, tz, order=order)
        next_day = same_day & (end < start).fillna(False)
        end = end.where(~next_day, end + pd.Timedelta(days=1))
    else:
        return nat
    return end.where((end >= start).fillna(False), pd.NaT).astype(start.dtype)


# -- categories ---------------------------------------------------------------------------------


def category_mapping(cfg: Config, partner: str) -> dict[str, str]:
    """The partner's raw -> taxonomy mapping, plus 'ovrigt' and its label mapped to 'ovrigt'.

    An export's own "Övrigt" is a deliberate choice, not an unknown category to report.

    >>> category_mapping(cfg, "kommunen")["Övrigt"]      # doctest: +SKIP
    'ovrigt'
    """
    return {"ovrigt": "ovrigt", cfg.taxonomy["ovrigt"].label: "ovrigt", **cfg.partners[partner].categories}


def _category_key(s: pd.Series) -> pd.Series:
    return _squash(_text(s)).str.casefold()


def _category_lookup(mapping: dict[str, str]) -> dict[str, str]:
    return {_category_key(pd.Series([raw]))[0]: key for raw, key in mapping.items()}


def _categories(raw: pd.Series, mapping: dict[str, str], sensitive: tuple | None = None) -> pd.Series:
    """Taxonomy key per row: case-insensitive, whitespace-trimmed match; unmapped -> 'ovrigt',
    unless it looks sensitive (``sensitive`` = (names, words), see
    ``privacy.sensitive_category_for``): then the sensitive category, never an Övrigt point.

    >>> _categories(pd.Series([" KLOTTER", "Okänt"]), {"Klotter": "klotter"}).tolist()
    ['klotter', 'ovrigt']
    >>> _categories(pd.Series(["Våldtäkt mot vuxen"]), {}, ({}, ["våldtäkt"])).tolist()
    ['ovrigt_kansligt']
    """
    keys = _category_key(raw).map(_category_lookup(mapping)).astype(object)
    unmapped = keys.isna()
    if sensitive is not None and unmapped.any():
        names, words = sensitive
        guess = {v: sensitive_category_for(v, names, words) for v in raw[unmapped].unique()}
        keys = keys.where(~unmapped, raw.map(guess))
    return keys.fillna("ovrigt").astype("string")


# -- location -----------------------------------------------------------------------------------


def _locate(text, place, place_col, cols, partner, cfg, gazetteer, boundary, rej: _Rejections) -> pd.DataFrame:
    """x, y (EPSG:3006), method, score per row; rows with no usable place go to ``rej``.

    Coordinates inside the municipality win; otherwise the address/place text is geocoded.
    """
    idx = rej.reason.index
    out = pd.DataFrame(
        {"x": np.nan, "y": np.nan, "method": pd.Series(pd.NA, index=idx, dtype="string"), "score": np.nan}, index=idx
    )
    pcfg = cfg.partners[partner]
    coords = _coordinates(text, cols, pcfg)
    inside = coords["usable"] & _inside(boundary, coords["x"], coords["y"])
    out.loc[inside, ["x", "y"]] = coords.loc[inside, ["x", "y"]].to_numpy()
    out.loc[inside, "method"] = "coordinates"
    out.loc[inside, "score"] = 100.0

    todo = rej.open() & ~inside.to_numpy() & (place != "").to_numpy()
    geo = _geocode(gazetteer, place[todo], text["town"][todo] if "town" in text else None, cfg)
    geo_inside = geo["x"].notna() & _inside(boundary, geo["x"], geo["y"])
    hit = geo_inside[geo_inside].index
    out.loc[hit, ["x", "y", "method", "score"]] = geo.loc[hit, ["x", "y", "method", "score"]].to_numpy()

    failed = rej.open() & out["x"].isna().to_numpy()
    if failed.any():
        reason, message = _location_failures(failed, coords, place, place_col, geo, cols, partner, cfg)
        rej.add(failed, reason, message)
    return out


def _coordinates(text, cols, pcfg) -> pd.DataFrame:
    """Parsed points: x, y (EPSG:3006), usable, bad (given but unreadable / not in Sweden), raw texts."""
    idx = text["category"].index
    if {"x", "y"} <= set(cols):
        a, b = text["x"], text["y"]
    elif {"lat", "lon"} <= set(cols):
        a, b = text["lon"], text["lat"]  # to_sweref wants x = longitude, y = latitude
    else:
        empty = pd.Series("", index=idx, dtype="string")
        return pd.DataFrame(
            {"x": np.nan, "y": np.nan, "usable": False, "bad": False, "a": empty, "b": empty, "status": "missing"},
            index=idx,
        )
    xa, bad_a = parse_numbers(a, pcfg.decimal)
    yb, bad_b = parse_numbers(b, pcfg.decimal)
    e, n, status = to_sweref(xa.to_numpy(), yb.to_numpy(), pcfg.crs)
    given = ((a != "") | (b != "")).to_numpy()  # null markers were blanked by _text
    usable = np.isin(status, USABLE_STATUS) & np.isfinite(e) & np.isfinite(n)
    # Half a pair, an unreadable number or a point that is nowhere in Sweden is "bad".
    bad = given & ~usable & (bad_a.to_numpy() | bad_b.to_numpy() | np.isin(status, ("missing", "invalid")))
    return pd.DataFrame({"x": e, "y": n, "usable": usable, "bad": bad, "a": a, "b": b, "status": status}, index=idx)


def _place_text(text, cols) -> tuple[pd.Series, str | None]:
    """The address (or, where it is blank, the named place) and the column it came from."""
    idx = text["category"].index
    address = _squash(text["address"]) if "address" in text else pd.Series("", index=idx, dtype="string")
    if "place" in text:
        place = _squash(text["place"])
        return address.where(address != "", place), cols.get("address") or cols["place"]
    return address, cols.get("address")


def _geocode(gazetteer, texts: pd.Series, towns: pd.Series | None, cfg) -> pd.DataFrame:
    empty = pd.DataFrame(
        {"x": np.nan, "y": np.nan, "method": pd.Series(pd.NA, index=texts.index, dtype="string"), "score": np.nan},
        index=texts.index,
    )
    if gazetteer is None or texts.empty:
        return empty
    got = gazetteer.match(
        texts,
        towns,
        fuzzy_threshold=cfg.geocoding.fuzzy_threshold,
        street_centroid=cfg.geocoding.street_centroid,
        default_town=cfg.geocoding.default_town,
    )
    got = got.reindex(texts.index)
    return pd.DataFrame(
        {
            "x": got["x"].astype("float64"),
            "y": got["y"].astype("float64"),
            "method": got["method"].astype("string"),
            "score": got["score"].astype("float64"),
        },
        index=texts.index,
    )


def _inside(boundary, x: pd.Series, y: pd.Series) -> pd.Series:
    if boundary is None:  # no boundary given: every point counts as inside
        return x.notna() & y.notna()
    shapely.prepare(boundary)
    with np.errstate(invalid="ignore"):
        hit = shapely.contains_xy(
            boundary, x.to_numpy("float64", na_value=np.nan), y.to_numpy("float64", na_value=np.nan)
        )
    return pd.Series(hit, index=x.index)


def _location_failures(failed, coords, place, place_col, geo, cols, partner, cfg):
    """Reason and message for rows without a usable point (only the failed rows are looped)."""
    idx = coords.index[failed]
    geo = geo.reindex(idx)
    rows = zip(
        coords.loc[idx, "usable"],
        coords.loc[idx, "bad"],
        coords.loc[idx, "a"],
        coords.loc[idx, "b"],
        coords.loc[idx, "x"],
        coords.loc[idx, "y"],
        place[idx],
        geo["x"],
        geo["y"],
    )
    say = _FailureText(cols, place_col, partner, cfg)
    out = [say(*row) for row in rows]
    return (
        pd.Series([r for r, _ in out], index=idx, dtype="string").reindex(coords.index),
        pd.Series([m for _, m in out], index=idx, dtype="string").reindex(coords.index),
    )


class _FailureText:
    """(reason, message) for one row that got no point; the message names columns and values."""

    def __init__(self, cols, place_col, partner, cfg):
        self.xy = (
            f"'{cols['x']}'/'{cols['y']}'"
            if "x" in cols
            else f"'{cols['lon']}'/'{cols['lat']}'"
            if "lon" in cols
            else ""
        )
        self.place_col, self.partner = place_col, partner
        self.crs, self.where = cfg.partners[partner].crs, cfg.municipality.name
        named = [f"'{cols[f]}'" for f in ("x", "y", "lat", "lon", "address", "place") if f in cols]
        self.named = f"column {named[0]} is" if len(named) == 1 else f"columns {', '.join(named)} are"

    def __call__(self, usable, bad, a, b, x, y, place, gx, gy) -> tuple[str, str]:
        if usable:
            also = f"; '{place}' gave no place inside either" if place else ""
            return "outside_municipality", (
                f"columns {self.xy}: '{a}'/'{b}' ({self.crs}) is at E {x:.0f} "
                f"N {y:.0f} (SWEREF 99 TM), outside {self.where}{also}"
            )
        if pd.notna(gx):
            return "outside_municipality", (
                f"column '{self.place_col}': '{place}' was found at E {gx:.0f} "
                f"N {gy:.0f} (SWEREF 99 TM), outside {self.where}"
            )
        if place:
            also = f"; coordinates '{a}'/'{b}' unreadable" if bad else ""
            return "not_geocoded", (
                f"column '{self.place_col}': '{place}' was not found in the gazetteer; "
                "check the spelling or add the address to the gazetteer file "
                f"(geocoding.gazetteer){also}"
            )
        if bad:
            return "bad_coordinates", (
                f"columns {self.xy}: '{a}'/'{b}' is not a position in Sweden in "
                f"{self.crs}; check the numbers or partners.{self.partner}.crs in config.yaml"
            )
        return "missing_location", f"no coordinates and no address/place ({self.named} empty)"


# -- output -------------------------------------------------------------------------------------


def _build_events(
    frame, text, partner, source_file, cfg, category, occurred, occurred_end, place, loc, keep_text, key: bytes
) -> gpd.GeoDataFrame:
    idx = frame.index
    taxonomy = cfg.taxonomy
    source_id = _at(text["source_id"], idx) if "source_id" in text else pd.Series("", index=idx, dtype="string")
    iso = occurred.dt.isocalendar()
    hour = occurred.dt.hour.astype("int64")
    bins = np.array(cfg.time_bin_of_hour(), dtype=object)
    data = {
        "event_id": _event_ids(partner, source_id, frame["_raw"], key),
        "source": partner,
        "source_id": source_id,
        "source_file": source_file,
        "source_line": frame["_line"].astype("int64"),
        "category": category,
        "category_group": category.map({k: c.group for k, c in taxonomy.items()}),
        "sensitive": category.map({k: c.sensitive for k, c in taxonomy.items()}).astype("bool"),
        "source_category": _squash(_at(text["category"], idx)),
        "occurred_at": occurred,
        "occurred_end": occurred_end,
        "iso_week": iso["year"].astype("string") + "-W" + iso["week"].astype("string").str.zfill(2),
        "weekday": iso["day"].astype("int64"),
        "hour": hour,
        "time_of_day": pd.Series(bins[hour.to_numpy()], index=idx, dtype="string")
        if len(idx)
        else pd.Series(dtype="string"),
        "location_text": place,
        "geocode_method": loc["method"],
        "geocode_score": loc["score"].astype("float64"),
        "area": "",
        "duplicate_of": "",
        "description": _descriptions(text, idx, keep_text),
    }
    df = pd.DataFrame(data, index=idx)
    df = df.astype({c: _dtype(t) for c, (t, _) in EVENT_COLUMNS.items() if c != "geometry"})
    df["_content"] = _content_hash(text, idx)
    df["_raw"] = frame["_raw"].astype("string")
    geometry = gpd.points_from_xy(loc["x"].to_numpy("float64"), loc["y"].to_numpy("float64"), crs="EPSG:3006")
    events = gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:3006")
    return events[[*EVENT_COLUMNS, *HELPER_COLUMNS]].reset_index(drop=True)


def _dtype(t: str) -> str:
    return "datetime64[ns, Europe/Stockholm]" if t.startswith("datetime64") else t


def _event_ids(partner: str, source_id: pd.Series, raw: pd.Series, key: bytes) -> pd.Series:
    """``privacy.keyed_id`` of partner|source_id, or of partner|raw row when there is no id:
    HMAC-SHA256 with the installation secret, so the published ids cannot be turned back into
    case numbers by enumerating their patterns.

    Neither the file name nor the line enters the hash: re-ingesting a renamed or
    re-exported file gives the same ids.

    >>> _event_ids("polisen", pd.Series(["5000-K1"]), pd.Series(["x"]), b"k" * 32).tolist()
    ['9db54c027beb8b1d']
    """
    values = source_id.where(source_id != "", raw.astype("string").fillna("").str.strip())
    ids = keyed_ids(key, partner, values.tolist())
    return pd.Series(ids, index=source_id.index, dtype="string")


def _content_hash(text: dict[str, pd.Series], idx: pd.Index) -> pd.Series:
    """Hash of every mapped field's value: equal hashes = the same event content.

    Mapped fields only (not the raw line), so a re-export with another delimiter, encoding
    or changed unmapped columns still counts as the same content.
    """
    if not len(idx):
        return pd.Series(dtype="uint64")
    # pandas' row hash of the squashed fields (hash_pandas_object of their frame), each
    # column's hashes computed per distinct value
    hashes = (per_distinct(_at(text[f], idx), _squashed_hashes).to_numpy() for f in sorted(text))
    return pd.Series(combine_hash_arrays(hashes, len(text)), index=idx, dtype="uint64")


def _squashed_hashes(s: pd.Series) -> pd.Series:
    return pd.util.hash_pandas_object(_squash_values(s), index=False)


def _descriptions(text, idx, keep: bool) -> pd.Series:
    if not keep or "description" not in text:
        return pd.Series("", index=idx, dtype="string")
    values = _at(text["description"], idx)
    uniq = {v: redact(v) for v in values.unique()}  # descriptions repeat; redact each once
    return values.map(uniq).astype("string")


def _build_rejected(frame: pd.DataFrame, rej: _Rejections, partner: str, source_file: str) -> pd.DataFrame:
    idx = frame.index
    out = pd.DataFrame(
        {
            "source": pd.Series(partner, index=idx, dtype="string"),
            "source_file": pd.Series(source_file, index=idx, dtype="string"),
            "source_line": frame["_line"].astype("int64"),
            "reason": rej.reason[idx].astype("string"),
            "message": rej.message[idx].astype("string"),
            "raw": frame["_raw"].astype("string").fillna(""),
        },
        index=idx,
    )
    return out[list(REJECTED_COLUMNS)].reset_index(drop=True)
