"""A realistic synthetic :class:`WeekContext` for renderer tests (no pipeline run needed).

Events are drawn in EPSG:3006 around Mjölby (resecentrum E≈507240, N≈6465010) and a few other
places; hotspots, clusters, area summary, key figures and weekday × hour counts are derived from
those events with the same columns as the archive layers (``read_archive``). One taxonomy label,
one area name and one cluster place name carry an XSS payload so tests can prove escaping.

>>> from tests.fixtures_week import build_week_context
>>> ctx = build_week_context()
>>> ctx.week, ctx.layers["events"].crs.to_epsg()
('2026-W47', 3006)
"""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point

from pipeline.config import Category, load_config
from pipeline.render.context import WeekContext
from pipeline.schema import OUTSIDE_AREA

ROOT = Path(__file__).resolve().parents[1]
XSS = "<img src=x onerror=alert(1)>"
XSS_CATEGORY = "otrygg_plats"
XSS_AREA = f"Hagalund {XSS}"
WEEK = "2026-W47"
WEEKS = ["2026-W45", "2026-W46", "2026-W47"]
CRS = "EPSG:3006"

#: (E, N, spread m, weight, place name) — Mjölby resecentrum first.
HOT_PLACES = [
    (507240, 6465010, 120, 0.30, "Resecentrum"),
    (507900, 6465600, 140, 0.20, "Stora torget"),
    (506300, 6464300, 110, 0.15, f"Hagalundsskolan {XSS}"),
    (508600, 6463900, 160, 0.10, "Sörby centrum"),
]


def build_week_context(n_events: int = 160, seed: int = 47) -> WeekContext:
    """The whole context: config (with an XSS label), boundary, areas and all archive layers."""
    rng = np.random.default_rng(seed)
    cfg = _config()
    areas = _areas()
    boundary = gpd.GeoDataFrame(
        {"name": [cfg.municipality.name]}, geometry=[shapely.convex_hull(areas.union_all()).buffer(3000)], crs=CRS
    )
    events = _events(cfg, areas, rng, n_events)
    counted = events[events["duplicate_of"] == ""]
    layers = {
        "events": events,
        "hotspots": _hotspots(counted, boundary),
        "clusters": _clusters(counted, cfg),
        "area_summary": _area_summary(counted),
        "key_figures": _key_figures(counted, cfg, areas, rng),
        "weekday_hour": _weekday_hour(counted),
    }
    run_info = _run_info(cfg, events)
    layers["run_info"] = pd.DataFrame({"key": list(run_info), "value": list(run_info.values())})
    return WeekContext(
        week=WEEK,
        cfg=cfg,
        layers=layers,
        run_info=run_info,
        quality=_quality(cfg),
        boundary=boundary,
        areas=areas,
        weeks=list(WEEKS),
    )


def _config():
    cfg = load_config(ROOT / "config.yaml")
    taxonomy = dict(cfg.taxonomy)
    taxonomy[XSS_CATEGORY] = Category(label=f"Otrygg plats {XSS}", group="miljo")
    return cfg.model_copy(update={"taxonomy": taxonomy})


def _areas() -> gpd.GeoDataFrame:
    areas = gpd.read_file(ROOT / "data/reference/areas_demo.geojson").to_crs(CRS)
    areas = areas.rename(columns={"namn": "name"})[["name", "geometry"]]
    areas.loc[areas["name"] == "Hagalund", "name"] = XSS_AREA
    return areas


def _events(cfg, areas, rng, n) -> gpd.GeoDataFrame:
    keys = [k for k, c in cfg.taxonomy.items() if not c.sensitive]  # archive leaves sensitive out
    partners = list(cfg.partners)
    monday = dt.datetime(2026, 11, 16)
    weights = np.array([p[3] for p in HOT_PLACES] + [1 - sum(p[3] for p in HOT_PLACES)])
    rows, geoms = [], []
    for i in range(n):
        place = rng.choice(len(weights), p=weights)
        if place < len(HOT_PLACES):
            e, nn, spread = HOT_PLACES[place][:3]
            x, y = rng.normal(e, spread), rng.normal(nn, spread)
        else:
            x, y = rng.uniform(504500, 517000), rng.uniform(6463500, 6473000)
        # Evenings and Fridays/Saturdays are busier, as in real exports.
        day = int(rng.choice(7, p=[0.1, 0.12, 0.12, 0.14, 0.2, 0.2, 0.12]))
        hour = int(rng.choice(24, p=_hour_weights()))
        at = monday + dt.timedelta(days=day, hours=hour, minutes=int(rng.integers(60)))
        cat = keys[int(rng.integers(len(keys)))]
        pt = Point(x, y)
        hit = areas[areas.contains(pt)]
        rows.append(
            {
                "event_id": f"{i:016x}",
                "source": partners[i % len(partners)],
                "category": cat,
                "category_label": cfg.taxonomy[cat].label,
                "category_group": cfg.taxonomy[cat].group,
                "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S+01:00"),
                "iso_week": WEEK,
                "weekday": day + 1,
                "hour": hour,
                "time_of_day": cfg.time_bin_of_hour()[hour],
                "area": str(hit["name"].iloc[0]) if len(hit) else OUTSIDE_AREA,
                "geocode_method": ["coordinates", "exact", "fuzzy", "street_centroid"][i % 4],
                "duplicate_of": f"{i - 1:016x}" if i % 40 == 39 else "",
            }
        )
        geoms.append(pt)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


def _hour_weights() -> np.ndarray:
    w = np.array([3, 2, 2, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 10, 8, 5], float)
    return w / w.sum()


def _slices(counted):
    yield "vecka", "alla", counted
    for tod, part in counted.groupby("time_of_day"):
        yield "vecka", tod, part


def _hotspots(counted, boundary) -> gpd.GeoDataFrame:
    total_km2 = float(boundary.area.iloc[0]) / 1e6
    rows, geoms = [], []
    for period, tod, part in [*_slices(counted), ("rullande", "alla", counted)]:
        for zone_id, (e, n, *_rest) in enumerate(HOT_PLACES[:2], start=1):
            for level, radius in ((0.1, 180.0), (0.5, 320.0)):
                geom = Point(e, n).buffer(radius * (1.3 if period == "rullande" else 1.0))
                k = int(part.within(geom).sum())
                if k == 0:
                    continue
                km2 = geom.area / 1e6
                share_e, share_a = k / max(len(part), 1), km2 / total_km2
                rows.append(
                    {
                        "period": period,
                        "time_of_day": tod,
                        "level": level,
                        "zone_id": zone_id,
                        "n_events": k,
                        "share_events": share_e,
                        "area_km2": km2,
                        "share_area": share_a,
                        "pai": share_e / share_a,
                        "density_min": k / km2 / 2,
                    }
                )
                geoms.append(geom)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


def _clusters(counted, cfg) -> gpd.GeoDataFrame:
    names = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"]
    rows, geoms = [], []
    for period, tod, part in [*_slices(counted), ("rullande", "alla", counted)]:
        k = 0
        for e, n, spread, _w, place in HOT_PLACES:
            members = part[part.distance(Point(e, n)) < 2 * spread]
            if len(members) < 4:
                continue
            k += 1
            cats = members["category_label"].value_counts()
            wd = int(members["weekday"].mode().iloc[0])
            rows.append(
                {
                    "cluster_id": f"{WEEK}-{tod}-{k}" if period == "vecka" else f"{WEEK}-rullande-{tod}-{k}",
                    "period": period,
                    "time_of_day": tod,
                    "n_events": len(members),
                    "top_categories": ", ".join(f"{c} ({v})" for c, v in cats.head(3).items()),
                    "categories": json.dumps(cats.to_dict(), ensure_ascii=False),
                    "partners": ", ".join(cfg.partners[p].label for p in sorted(members["source"].unique())),
                    "first_at": min(members["occurred_at"]),
                    "last_at": max(members["occurred_at"]),
                    "peak_weekday": wd,
                    "peak_weekday_name": names[wd - 1],
                    "peak_hour": int(members["hour"].mode().iloc[0]),
                    "status": "ny" if k % 2 else "kvarstående",
                    "place_name": place,
                }
            )
            geoms.append(shapely.convex_hull(members.union_all()).buffer(25))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


def _area_summary(counted) -> pd.DataFrame:
    frames = [counted.assign(time_of_day="alla"), counted]
    both = pd.concat([f[["area", "category", "time_of_day"]] for f in frames])
    out = both.groupby(["area", "category", "time_of_day"]).size().rename("n_events").reset_index()
    out["n_events"] = out["n_events"].astype("Int64")
    out["suppressed"] = False
    # Sensitive categories arrive already aggregated: one suppressed, one large enough to show.
    extra = pd.DataFrame(
        {
            "area": ["Mjölby centrum", "Resecentrum/stationsområdet"],
            "category": ["vald_nara_relation", "sexualbrott"],
            "time_of_day": ["alla", "alla"],
            "n_events": pd.array([pd.NA, 4], dtype="Int64"),
            "suppressed": [True, False],
        }
    )
    return pd.concat([out, extra], ignore_index=True)


def _key_figures(counted, cfg, areas, rng) -> pd.DataFrame:
    dims = [
        ("group", "category_group", [(k, g.label) for k, g in cfg.groups.items()]),
        ("area", "area", [(n, n) for n in [*areas["name"], OUTSIDE_AREA]]),
        ("time_of_day", "time_of_day", [(k, b.label) for k, b in cfg.time_of_day.items()]),
        ("partner", "source", [(k, p.label) for k, p in cfg.partners.items()]),
    ]
    rows = []
    for dim, col, keys in dims:
        counts = counted[col].value_counts()
        for key, label in keys:
            n = int(counts.get(key, 0))
            mean = round(float(rng.integers(0, 4 * max(n, 2) + 1)) / 4, 2)
            rows.append((dim, key, label, n, mean, n - mean))
    return pd.DataFrame(rows, columns=["dimension", "key", "label", "n_week", "mean_prev", "change"])


def _weekday_hour(counted) -> pd.DataFrame:
    table = pd.crosstab(counted["weekday"], counted["hour"]).reindex(index=range(1, 8), columns=range(24), fill_value=0)
    return table.stack().rename("n").reset_index()


def _run_info(cfg, events) -> dict:
    return {
        "week": WEEK,
        "code_version": "0.1.0+g26ece58",
        "config_sha256": "ab" * 32,
        "input_sha256": json.dumps(
            {
                "data/raw/polisen/demo_polisen_2026_v35-v47.csv": "cd" * 32,
                "data/raw/kommunen/demo_kommunen_2026.csv": "ef" * 32,
            }
        ),
        "bandwidth_m": "212.5",
        "cell_size_m": "50",
        "kernel": "quartic",
        "levels": "[0.1, 0.5]",
        "rows_read": "520",
        "rows_accepted": str(len(events) + 300),
        "rows_rejected": "40",
        "run_started": "2026-11-23T07:30:00+01:00",
        "quality": json.dumps({"partners": {}}),
    }


def _quality(cfg) -> dict:
    partners = {}
    for i, (key, p) in enumerate(cfg.partners.items()):
        rejected = {"bad_date": 2 + i, "not_geocoded": 3, "outside_municipality": i}
        accepted = 100 + 10 * i
        partners[key] = {
            "label": p.label,
            "rows_read": accepted + sum(rejected.values()),
            "accepted": accepted,
            "rejected_by_reason": rejected,
            "geocoded_by_method": {"coordinates": accepted - 30, "exact": 20, "fuzzy": 6, "street_centroid": 4},
            "unmapped_categories": {"Okänd händelse": 2} if i == 1 else {},
            "files": [f"data/raw/{key}/demo_{key}_2026.csv"],
        }
    return {"partners": partners}


# -- HTML inspection helpers for the renderer tests ------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self, attr: str | None):
        super().__init__(convert_charrefs=True)
        self.attr, self.found, self.refs, self._open = attr, [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(("script", a["src"]))
        if tag == "link" and a.get("href"):
            self.refs.append(("link", a["href"]))
        if tag in ("img", "iframe", "source", "embed") and a.get("src"):
            self.refs.append((tag, a["src"]))
        for rec in self._open:
            if rec["tag"] == tag:
                rec["depth"] += 1
        if self.attr and self.attr in a:
            self._open.append({"tag": tag, "attrs": a, "text": [], "depth": 1})

    def handle_endtag(self, tag):
        for rec in list(self._open):
            if rec["tag"] == tag:
                rec["depth"] -= 1
                if rec["depth"] == 0:
                    self._open.remove(rec)
                    self.found.append((rec["attrs"], "".join(rec["text"]).strip()))

    def handle_data(self, data):
        for rec in self._open:
            rec["text"].append(data)


def elements_with(html: str, attr: str) -> list[tuple[dict, str]]:
    """(attributes, text) of every element that has ``attr``, in document order of closing.

    >>> elements_with('<td data-n="3">3</td>', "data-n")
    [({'data-n': '3'}, '3')]
    """
    parser = _Collector(attr)
    parser.feed(html)
    return parser.found


def external_refs(html: str) -> list[tuple[str, str]]:
    """<script src>, <link href>, <img src> ... that point outside the page (http, https, //)."""
    parser = _Collector(None)
    parser.feed(html)
    return [(t, u) for t, u in parser.refs if u.strip().lower().startswith(("http:", "https:", "//"))]


def resource_refs(html: str) -> list[tuple[str, str]]:
    """Every <script src>/<link href>/<img src> (self-contained pages have none)."""
    parser = _Collector(None)
    parser.feed(html)
    return parser.refs
