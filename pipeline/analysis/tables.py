"""The week's tables: counts per area, key figures, weekday × hour, the public event layer.

Pure functions on canonical events (duplicates already left out by ``countable``).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from pipeline.analysis.weeks import previous_weeks
from pipeline.privacy import publishable_points, sensitive_table, spatial_events
from pipeline.schema import ALL_DAY, CRS, OUTSIDE_AREA

#: Columns of the minimised public ``events`` layer (no source_id, location_text, description).
EVENT_LAYER_COLUMNS = [
    "event_id",
    "source",
    "category",
    "category_label",
    "category_group",
    "occurred_at",
    "iso_week",
    "weekday",
    "hour",
    "time_of_day",
    "area",
    "geocode_method",
    "duplicate_of",
]
#: Dimensions of the key figures, in the order the report shows them.
KEY_FIGURE_DIMENSIONS = ("group", "area", "time_of_day", "partner")


def area_summary(week_counted, cfg) -> pd.DataFrame:
    """Counts per area × category × time_of_day (non-zero only), small sensitive counts suppressed.

    ``time_of_day`` is ``alla`` (whole day) or a bin key; sensitive categories have ``alla`` only:
    this is the one place sensitive events are counted (``privacy.sensitive_table``), in
    disjoint cells, so no difference of published figures isolates fewer than k of them.

    >>> area_summary(week_events, cfg).columns.tolist()
    ['area', 'category', 'time_of_day', 'n_events', 'suppressed']
    """
    keys = ["area", "category", "time_of_day"]
    frame = pd.DataFrame(spatial_events(week_counted)[keys]).astype("string")
    frame = pd.concat([frame.assign(time_of_day=ALL_DAY), frame], ignore_index=True)
    counts = frame.groupby(keys, dropna=False).size().rename("n_events").reset_index()
    counts = counts.assign(n_events=counts["n_events"].astype("Int64"), suppressed=False)
    sensitive = sensitive_table(week_counted, ["area", "category"], cfg.privacy.min_count)
    out = pd.concat([counts, sensitive.assign(time_of_day=ALL_DAY)], ignore_index=True)
    out = out.astype({"n_events": "Int64", "suppressed": bool}).sort_values(keys, ignore_index=True)
    return out[[*keys, "n_events", "suppressed"]].reset_index(drop=True)


def key_figures(counted, cfg, week: str, areas) -> pd.DataFrame:
    """Week counts vs the mean of the previous ``rolling_weeks`` weeks, for every group, area,
    time bin and partner (zeros included).

    >>> key_figures(events, cfg, "2026-W47", areas).columns.tolist()
    ['dimension', 'key', 'label', 'n_week', 'mean_prev', 'change']
    """
    n_prev = cfg.analysis.rolling_weeks
    prev = previous_weeks(week, n_prev)
    wk = counted[counted["iso_week"] == week]
    before = counted[counted["iso_week"].isin(prev)]
    area_names = [str(n) for n in areas["name"]] if len(areas) else []
    dims = [
        ("group", "category_group", [(k, g.label) for k, g in cfg.groups.items()]),
        ("area", "area", [(n, n) for n in area_names + [OUTSIDE_AREA] if n]),
        ("time_of_day", "time_of_day", [(k, b.label) for k, b in cfg.time_of_day.items()]),
        ("partner", "source", [(k, p.label) for k, p in cfg.partners.items()]),
    ]
    rows = []
    for dim, col, keys in dims:
        now_counts = wk[col].astype(str).value_counts()
        prev_counts = before[col].astype(str).value_counts()
        for key, label in dict(keys).items():
            n = int(now_counts.get(key, 0))
            mean = float(prev_counts.get(key, 0)) / n_prev  # absent weeks count as 0
            rows.append((dim, key, label, n, mean, n - mean))
    return pd.DataFrame(rows, columns=["dimension", "key", "label", "n_week", "mean_prev", "change"])


def ordered_key_figures(frame: pd.DataFrame) -> pd.DataFrame:
    """Key figures in dimension order (group, area, time, partner), config order within."""
    _DIMENSION_ORDER = {d: i for i, d in enumerate(KEY_FIGURE_DIMENSIONS)}
    out = frame.reset_index(drop=True)
    order = out["dimension"].map(_DIMENSION_ORDER).fillna(len(_DIMENSION_ORDER))
    return out.assign(_o=order).sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def weekday_hour(week_counted) -> pd.DataFrame:
    """7 × 24 counts: index weekday 1–7 (Monday first), columns hour 0–23.

    >>> weekday_hour(week_events).shape
    (7, 24)
    """
    table = pd.crosstab(week_counted["weekday"].astype(int), week_counted["hour"].astype(int))
    table = table.reindex(index=range(1, 8), columns=range(24), fill_value=0).astype("int64")
    table.index.name, table.columns.name = "weekday", "hour"
    return table


def weekday_hour_long(table: pd.DataFrame) -> pd.DataFrame:
    """7 × 24 table -> long rows (weekday, hour, n), Monday 00 first.

    >>> weekday_hour_long(pd.DataFrame([[1] * 24] * 7, index=range(1, 8))).shape
    (168, 3)
    """
    long = table.reindex(index=range(1, 8), columns=range(24), fill_value=0).stack()
    return pd.DataFrame(
        {
            "weekday": long.index.get_level_values(0).astype("int64"),
            "hour": long.index.get_level_values(1).astype("int64"),
            "n": long.to_numpy().astype("int64"),
        }
    )


def weekday_hour_matrix(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The 7 × 24 table (index weekday 1–7, columns hour 0–23) from the long archive layer
    (weekday, hour, n), an already wide table, or nothing (all zeros).

    >>> weekday_hour_matrix(pd.DataFrame({"weekday": [1], "hour": [0], "n": [2]})).iloc[0, 0]
    np.int64(2)
    >>> int(weekday_hour_matrix(None).to_numpy().sum())
    0
    """
    if frame is None or len(frame) == 0:
        wide = pd.DataFrame()
    elif {"weekday", "hour", "n"} <= set(frame.columns):
        wide = frame.pivot_table(index="weekday", columns="hour", values="n", aggfunc="sum")
    else:
        wide = frame.copy()
        wide.columns = [int(c) for c in wide.columns]
    table = wide.reindex(index=range(1, 8), columns=range(24)).fillna(0).astype("int64")
    table.index.name, table.columns.name = "weekday", "hour"
    return table


def events_layer(events, cfg):
    """Minimised point layer: no free text or partner ids; sensitive events, and reports
    matched as their duplicates, left out (``privacy.publishable_points``).

    >>> "source_id" in events_layer(events, cfg).columns
    False
    """
    keep = publishable_points(events)
    out = pd.DataFrame({c: keep[c] for c in EVENT_LAYER_COLUMNS if c in keep.columns})
    labels = {k: c.label for k, c in cfg.taxonomy.items()}
    out["category_label"] = keep["category"].astype(str).map(labels).fillna("")
    out["occurred_at"] = [t.isoformat() for t in keep["occurred_at"]]
    out["duplicate_of"] = keep["duplicate_of"].fillna("").astype(str)
    for col in ("weekday", "hour"):
        out[col] = out[col].astype("int64")
    return gpd.GeoDataFrame(out[EVENT_LAYER_COLUMNS], geometry=keep.geometry.to_numpy(), crs=CRS)
