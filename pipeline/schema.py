"""The one canonical event schema, and the rejected-row schema, documented in one place.

Every stage after ingest takes and returns frames with exactly these columns
(``validate_events`` checks). ``events`` is a GeoDataFrame in EPSG:3006.
"""

from __future__ import annotations

import pandas as pd

#: column -> (dtype, description). Order is the column order of ``events.parquet``.
EVENT_COLUMNS: dict[str, tuple[str, str]] = {
    "event_id": ("string", "Stable id: sha1 of partner + source_id (or of the raw row when there is no id), 16 hex chars."),
    "source": ("string", "Partner key from config (polisen, kommunen, ...)."),
    "source_id": ("string", "The partner's own id (Diarienr, Ärendenr, ...); may be empty. Never leaves data/processed."),
    "source_file": ("string", "Export file, relative to the config folder."),
    "source_line": ("int64", "Line in the export where the row starts (header = line 1)."),
    "category": ("string", "Taxonomy key (config taxonomy); unmapped raw values -> 'ovrigt'."),
    "category_group": ("string", "Taxonomy group key (config groups)."),
    "sensitive": ("bool", "Category is marked sensitive: counted only in aggregates, never drawn as a point."),
    "source_category": ("string", "The raw category text from the export."),
    "occurred_at": ("datetime64[ns, Europe/Stockholm]", "Start time, tz-aware. DST gap times move forward 1 h; ambiguous times take the first (summer-time) instant."),
    "occurred_end": ("datetime64[ns, Europe/Stockholm]", "End time of an interval, or NaT."),
    "iso_week": ("string", "ISO week of occurred_at, e.g. 2026-W47."),
    "weekday": ("int64", "ISO weekday 1 = Monday ... 7 = Sunday."),
    "hour": ("int64", "Hour of day 0–23 (local time)."),
    "time_of_day": ("string", "Time-of-day bin key from config (natt, formiddag, eftermiddag, kvall)."),
    "location_text": ("string", "Address or named place as given (normalised whitespace); may be empty."),
    "geocode_method": ("string", "coordinates | exact | fuzzy | street_centroid | place."),
    "geocode_score": ("float64", "100 for coordinates/exact; the fuzzy score otherwise."),
    "area": ("string", "Named area (config geocoding.areas) containing the point, or 'Utanför namngivet område'."),
    "duplicate_of": ("string", "event_id of the earlier event from another partner this probably duplicates, or empty."),
    "description": ("string", "Free text: empty unless the partner keeps it, and then redacted."),
    "geometry": ("geometry", "Point in EPSG:3006 (SWEREF 99 TM)."),
}

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
GEOCODE_METHODS = ("coordinates", "exact", "fuzzy", "street_centroid", "place")


def empty_events():
    """An empty events GeoDataFrame with the canonical columns and dtypes."""
    import geopandas as gpd

    data = {c: pd.Series(dtype=_pandas_dtype(t)) for c, (t, _) in EVENT_COLUMNS.items() if c != "geometry"}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:3006"), crs="EPSG:3006")


def empty_rejected() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="string") for c in REJECTED_COLUMNS})
    return df.astype({"source_line": "int64"})


def validate_events(events) -> None:
    """Raise AssertionError if ``events`` does not follow the canonical schema."""
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    assert not missing, f"events lack canonical columns {missing}"
    assert events.crs is not None and events.crs.to_epsg() == 3006, "events must be in EPSG:3006"
    assert events["event_id"].is_unique, "event_id must be unique"


def _pandas_dtype(t: str):
    return "datetime64[ns, Europe/Stockholm]" if t.startswith("datetime64") else t
