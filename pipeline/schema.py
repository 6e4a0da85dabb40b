"""The one canonical event schema, and the rejected-row schema, documented in one place.

Every stage after ingest takes and returns frames with exactly these columns
(``validate_events`` checks). ``events`` is a GeoDataFrame in EPSG:3006.
"""

from __future__ import annotations

import functools

import geopandas as gpd
import numpy as np
import pandas as pd

#: column -> (dtype, description). Order is the column order of the week files in ``events/``.
EVENT_COLUMNS: dict[str, tuple[str, str]] = {
    "event_id": (
        "string",
        "Stable id: sha1 of partner + source_id (or of the raw row when there is no id), 16 hex chars.",
    ),
    "source": ("string", "Partner key from config (polisen, kommunen, ...)."),
    "source_id": (
        "string",
        "The partner's own id (Diarienr, Ärendenr, ...); may be empty. Never leaves data/processed.",
    ),
    "source_file": ("string", "Export file, relative to the config folder."),
    "source_line": ("int64", "Line in the export where the row starts (header = line 1)."),
    "category": ("string", "Taxonomy key (config taxonomy); unmapped raw values -> 'ovrigt'."),
    "category_group": ("string", "Taxonomy group key (config groups)."),
    "sensitive": ("bool", "Category is marked sensitive: counted only in aggregates, never drawn as a point."),
    "source_category": ("string", "The raw category text from the export."),
    "occurred_at": (
        "datetime64[ns, Europe/Stockholm]",
        "Start time, tz-aware. DST gap times move forward 1 h; ambiguous times take the first (summer-time) instant.",
    ),
    "occurred_end": ("datetime64[ns, Europe/Stockholm]", "End time of an interval, or NaT."),
    "iso_week": ("string", "ISO week of occurred_at, e.g. 2026-W47."),
    "weekday": ("int64", "ISO weekday 1 = Monday ... 7 = Sunday."),
    "hour": ("int64", "Hour of day 0–23 (local time)."),
    "time_of_day": ("string", "Time-of-day bin key from config (natt, formiddag, eftermiddag, kvall)."),
    "location_text": ("string", "Address or named place as given (normalised whitespace); may be empty."),
    "geocode_method": ("string", "coordinates | exact | fuzzy | street_centroid | place."),
    "geocode_score": ("float64", "100 for coordinates/exact; the fuzzy score otherwise."),
    "area": ("string", "Named area (config geocoding.areas) containing the point, or 'Utanför namngivet område'."),
    "duplicate_of": (
        "string",
        "event_id of the earlier event from another partner this probably duplicates, or empty.",
    ),
    "description": ("string", "Free text: empty unless the partner keeps it, and then redacted."),
    "geometry": ("geometry", "Point in EPSG:3006 (SWEREF 99 TM)."),
}

#: Columns a reader may ask for instead of ``geometry`` (derived when read, never stored): the
#: point's coordinates. Products that only need where events are (the forecast, the
#: interventions' counts) read these, so a national history builds no geometry objects.
COORDINATE_COLUMNS: dict[str, tuple[str, str]] = {
    "x": ("float64", "Easting of the point in metres, EPSG:3006 (NaN when the point is missing or empty)."),
    "y": ("float64", "Northing of the point in metres, EPSG:3006 (NaN when the point is missing or empty)."),
}


#: Every column a reader may ask for, in the order frames hold them.
READABLE_COLUMNS: tuple[str, ...] = (*EVENT_COLUMNS, *COORDINATE_COLUMNS)


def coordinates(events) -> tuple[np.ndarray, np.ndarray]:
    """The events' ``x`` and ``y`` in metres: the coordinate columns when the frame has them,
    else its point geometries'.

    >>> coordinates(pd.DataFrame({"x": [1.0], "y": [2.0]}))
    (array([1.]), array([2.]))
    """
    if all(c in events.columns for c in COORDINATE_COLUMNS):
        return events["x"].to_numpy(np.float64), events["y"].to_numpy(np.float64)
    return events.geometry.x.to_numpy(np.float64), events.geometry.y.to_numpy(np.float64)


def with_coordinates(events):
    """``events`` with the coordinate columns added from its geometry (a copy; as is when it
    has them already)."""
    if all(c in events.columns for c in COORDINATE_COLUMNS):
        return events
    x, y = coordinates(events)
    return events.assign(x=x, y=y)


#: Columns of ``rejected.csv``.
REJECTED_COLUMNS: dict[str, str] = {
    "source": "Partner key.",
    "source_file": "Export file, relative to the config folder.",
    "source_line": "Line where the row starts (header = line 1).",
    "reason": "Reason code (REASONS).",
    "message": "Human-readable explanation, naming the column.",
    "raw": "The raw row as read (fields joined by the file's delimiter).",
}

#: Reason codes for rejected rows, with the Swedish text used in the report.
REASONS: dict[str, str] = {
    "empty_row": "Tom rad",
    "bad_field_count": "Fel antal fält (trasig eller avkortad rad)",
    "missing_date": "Datum saknas",
    "bad_date": "Datum/tid kan inte tolkas",
    "future_date": "Datum i framtiden",
    "too_old": "Datum för långt bak i tiden",
    "missing_location": "Plats saknas",
    "bad_coordinates": "Koordinater kan inte tolkas",
    "not_geocoded": "Adressen hittades inte",
    "outside_municipality": "Utanför kommunen",
    "duplicate_row": "Exakt dubblettrad",
    "duplicate_source_id": "Samma ärende-id redan inläst",
    "field_too_long": "Fält för långt",
}

OUTSIDE_AREA = "Utanför namngivet område"

# -- the one vocabulary ------------------------------------------------------------------------
# Every product, the archive and the renderers use these names; no string literals elsewhere.

CRS = "EPSG:3006"  #: SWEREF 99 TM: every distance, area and grid
WEB_CRS = "EPSG:4326"  #: only inside the web map
TIMEZONE = "Europe/Stockholm"

#: Periods a zone or cluster is computed over: the ISO week itself, and the rolling window
#: (the week and the ``analysis.rolling_weeks - 1`` weeks before it).
WEEK_PERIOD = "vecka"
ROLLING_PERIOD = "rullande"
PERIODS = (WEEK_PERIOD, ROLLING_PERIOD)
#: The period zones and clusters are compared against (never archived): the
#: ``analysis.rolling_weeks`` weeks before the week, pooled.
BEFORE_PERIOD = "foregaende"
#: ``time_of_day`` key of the whole day (the config's bins are the other keys).
ALL_DAY = "alla"

#: Status of a week's zone or cluster. One rule for both: ``kvarstående`` ("seen before") when
#: it overlaps a zone / cluster of the same kind and time of day computed from the previous
#: ``analysis.rolling_weeks`` weeks pooled (BEFORE_PERIOD), else ``ny``. Not to be confused with
#: the *persistent hot spot* class of emerging hot spot analysis (``ihållande``), which is a
#: statement about a cell's Gi* series over many weeks.
STATUS_NEW = "ny"
STATUS_SEEN_BEFORE = "kvarstående"
STATUSES = (STATUS_NEW, STATUS_SEEN_BEFORE)

#: Swedish weekday names, ISO weekday 1 (måndag) .. 7 (söndag).
WEEKDAY_NAMES = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")

#: Every layer of a week's GeoPackage archive: name -> what it holds. Products declare which
#: of these they write (pipeline/products/catalog.py).
LAYERS: dict[str, str] = {
    "events": "The week's events, minimised (no case ids, free text or addresses; sensitive events left out).",
    "hotspots": "Hotspot zones per period × time of day × level (densest cells of the kernel density).",
    "clusters": "DBSCAN cluster polygons per period × time of day.",
    "density": "Raster: kernel density of the week (events/km²).",
    "density_rolling": "Raster: kernel density of the rolling window (events/km²).",
    "area_summary": "Counts per named area × category × time of day, small sensitive counts suppressed.",
    "key_figures": "Week counts against the mean of the previous weeks per group, area, time of day, partner.",
    "weekday_hour": "Counts per weekday × hour (long form).",
    "series": "Counts per ISO week × named area × taxonomy group, every week of the data up to the week, zeros included; area/group 'alla' = total (protected events never counted).",
    "trends": "This week per group, area, time of day, partner against the previous weeks and the same weeks a year earlier: means, percent change, E-test p, Benjamini–Hochberg q, tested direction (+1/-1, 0 = no significant change).",
    "emerging": "Emerging hot spot cells of the last emerging.weeks weeks: ArcGIS's pattern class, Mann-Kendall trend z and p of the Gi* series, hot/cold weeks (cells with events or a pattern).",
    "prognos": "Raster: forecast for the next week, expected events per km² "
    "(settings chosen by backtest; run_info forecast_*).",
    "prognos_zones": "Forecast zones: the top forecast.levels % of the area's cells for next week, "
    "with expected events, busiest time of day, place name.",
    "accuracy": "How last week's maps did on this week's events, for the last forecast.record_weeks weeks: "
    "method (prognos, vecka, rullande) × level: hits, hit rate, PAI, PEI*.",
    "interventions": "Targeted interventions started by the week (register fields but free text, target "
    "polygon): status, counts före/under/efter in target, ring and comparison, DiD ratio with 95 % interval, "
    "WDD, WDQ, verdict and ring note (pipeline/evaluation/interventions.py).",
    "interventions_weekly": "Per intervention and ISO week of its windows: counts in target, ring, comparison "
    "and the ring's comparison (the report's chart).",
    "run_info": "Key/value strings: parameters, input hashes, code version, row counts, quality.",
}
GEOCODE_METHODS = ("coordinates", "exact", "fuzzy", "street_centroid", "place")


def empty_events():
    """An empty events GeoDataFrame with the canonical columns and dtypes (a fresh copy)."""
    return _EMPTY_EVENTS().copy()


@functools.cache
def _EMPTY_EVENTS():  # noqa: N802 - a constant, built once on first use (a GeoDataFrame costs ms)
    data = {c: pd.Series(dtype=_pandas_dtype(t)) for c, (t, _) in EVENT_COLUMNS.items() if c != "geometry"}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:3006"), crs="EPSG:3006")


def empty_rejected() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="string") for c in REJECTED_COLUMNS})
    return df.astype({"source_line": "int64"})


class SchemaError(ValueError):
    """A frame that does not follow the canonical schema: a bug in a stage, not bad input."""


def validate_events(events) -> None:
    """Raise :class:`SchemaError` if ``events`` does not follow the canonical schema.

    Real exceptions, not ``assert``: ``python -O`` strips asserts, and a wrong table must never
    pass silently.

    >>> validate_events(empty_events())
    >>> validate_events(empty_events().drop(columns="area"))
    Traceback (most recent call last):
    ...
    pipeline.schema.SchemaError: events lack canonical columns ['area']
    """
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise SchemaError(f"events lack canonical columns {missing}")
    if events.crs is None or events.crs.to_epsg() != 3006:
        raise SchemaError("events must be in EPSG:3006")
    if not events["event_id"].is_unique:
        raise SchemaError("event_id must be unique")


def _pandas_dtype(t: str):
    return "datetime64[ns, Europe/Stockholm]" if t.startswith("datetime64") else t
