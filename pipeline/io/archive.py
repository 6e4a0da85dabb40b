"""The week's GeoPackage archive: written atomically, read back for the map and report.

One file per week, ``<archive>/<YYYY-Www>.gpkg``, with the layers listed in
docs/ARCHITECTURE.md ("Archive layers"). The density surfaces are GeoPackage rasters
(gridded coverage, Float32 TIFF tiles, EPSG:3006) in the same file: ``density`` and
``density_rolling``. Only if GDAL cannot write them there does the surface go to a GeoTIFF
beside the archive (``<week>_density.tif``); ``run_info['density_storage']`` says which.

Everything is built in a temporary file that is renamed into place at the end, so a crash
leaves the previous archive untouched. Feature layers are sorted and carry no wall-clock
time, so the same inputs give the same features.

>>> path = write_archive(archive_path(cfg, "2026-W47"), analysis, {"week": "2026-W47"}, cfg)  # doctest: +SKIP
>>> sorted(read_archive(path))                                                            # doctest: +SKIP
['area_summary', 'clusters', 'density', 'density_rolling', 'events', ...]
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

import pipeline
from pipeline.analysis.weekly import DensitySurface
from pipeline.io.atomic import atomic_path

CRS = "EPSG:3006"
RASTER_LAYERS = ("density", "density_rolling")
#: Columns of the minimised public ``events`` layer (no source_id, location_text, description).
EVENT_LAYER_COLUMNS = ["event_id", "source", "category", "category_label", "category_group",
                       "occurred_at", "iso_week", "weekday", "hour", "time_of_day", "area",
                       "geocode_method", "duplicate_of"]
#: Sort keys that make every layer's row order deterministic.
SORT_KEYS = {
    "events": ["occurred_at", "event_id"],
    "hotspots": ["period", "time_of_day", "level", "zone_id"],
    "clusters": ["period", "time_of_day", "cluster_id"],
    "area_summary": ["area", "category", "time_of_day"],
    "weekday_hour": ["weekday", "hour"],
}
_DIMENSION_ORDER = {"group": 0, "area": 1, "time_of_day": 2, "partner": 3}
#: The QGIS ``layer_styles`` table, as QGIS itself creates it.
_LAYER_STYLES_SQL = """
CREATE TABLE layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""


def archive_path(cfg, week: str) -> Path:
    """>>> archive_path(cfg, "2026-W47").name      # doctest: +SKIP
    '2026-W47.gpkg'
    """
    return cfg.path(cfg.paths.archive) / f"{week}.gpkg"


# -- write -------------------------------------------------------------------------------------

def write_archive(path: Path, analysis, run_info: dict, cfg) -> Path:
    """Write the week's GeoPackage atomically (raster first, then vector and attribute layers).

    >>> write_archive(Path("archive/2026-W47.gpkg"), analysis, {}, cfg)   # doctest: +SKIP
    PosixPath('archive/2026-W47.gpkg')
    """
    path = Path(path)
    layers = archive_layers(analysis, cfg)
    with atomic_path(path) as tmp:
        try:
            storage = _write_rasters(tmp, path, analysis)
            for name, frame in layers.items():
                _write_layer(tmp, name, frame)
            info = _run_info_rows(run_info, analysis, cfg, layers, storage)
            _write_layer(tmp, "run_info", info)
            _write_layer_styles(tmp, layers, cfg)
        finally:
            _remove_sidecars(tmp)
    return path


def archive_layers(analysis, cfg) -> dict[str, pd.DataFrame]:
    """The vector/attribute layers exactly as they are written (sorted, minimised)."""
    return {
        "events": _sorted("events", events_layer(analysis.events, cfg)),
        "hotspots": _sorted("hotspots", _plain(analysis.hotspots)),
        "clusters": _sorted("clusters", _plain(analysis.clusters)),
        "area_summary": _sorted("area_summary", _plain(analysis.area_summary)),
        "key_figures": _key_figures(analysis.key_figures),
        "weekday_hour": weekday_hour_long(analysis.weekday_hour),
    }


def events_layer(events, cfg):
    """Minimised point layer: no free text or partner ids, sensitive events left out.

    >>> "source_id" in events_layer(events, cfg).columns     # doctest: +SKIP
    False
    """
    import geopandas as gpd

    keep = events[~events["sensitive"].fillna(False).astype(bool)]
    out = pd.DataFrame({c: keep[c] for c in EVENT_LAYER_COLUMNS if c in keep.columns})
    labels = {k: c.label for k, c in cfg.taxonomy.items()}
    out["category_label"] = keep["category"].astype(str).map(labels).fillna("")
    out["occurred_at"] = [t.isoformat() for t in keep["occurred_at"]]
    out["duplicate_of"] = keep["duplicate_of"].fillna("").astype(str)
    for col in ("weekday", "hour"):
        out[col] = out[col].astype("int64")
    return gpd.GeoDataFrame(out[EVENT_LAYER_COLUMNS], geometry=keep.geometry.to_numpy(), crs=CRS)


def weekday_hour_long(table: pd.DataFrame) -> pd.DataFrame:
    """7 × 24 table -> long rows (weekday, hour, n), Monday 00 first.

    >>> weekday_hour_long(pd.DataFrame([[1] * 24] * 7, index=range(1, 8))).shape
    (168, 3)
    """
    long = table.reindex(index=range(1, 8), columns=range(24), fill_value=0).stack()
    return pd.DataFrame({
        "weekday": long.index.get_level_values(0).astype("int64"),
        "hour": long.index.get_level_values(1).astype("int64"),
        "n": long.to_numpy().astype("int64"),
    })


def weekday_hour_matrix(long: pd.DataFrame) -> pd.DataFrame:
    """Long rows back to the 7 × 24 table (index weekday 1–7, columns hour 0–23).

    >>> weekday_hour_matrix(pd.DataFrame({"weekday": [1], "hour": [0], "n": [2]})).iloc[0, 0]
    np.int64(2)
    """
    table = long.pivot_table(index="weekday", columns="hour", values="n", aggfunc="sum")
    table = table.reindex(index=range(1, 8), columns=range(24), fill_value=0).fillna(0).astype("int64")
    table.index.name, table.columns.name = "weekday", "hour"
    return table


def _key_figures(frame: pd.DataFrame) -> pd.DataFrame:
    """Key figures in dimension order (group, area, time, partner), config order within."""
    out = _plain(frame).reset_index(drop=True)
    order = out["dimension"].map(_DIMENSION_ORDER).fillna(len(_DIMENSION_ORDER))
    return out.assign(_o=order).sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def _sorted(name: str, frame):
    keys = [k for k in SORT_KEYS.get(name, []) if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True) if keys else frame


def _plain(frame):
    """Copy with GeoPackage-friendly columns: datetimes as ISO strings, lists/dicts as JSON."""
    out = frame.copy()
    for col in out.columns:
        if col == getattr(out, "_geometry_column_name", None):
            continue
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
            out[col] = [t.isoformat() if pd.notna(t) else None for t in s]
        elif s.dtype == object and s.map(lambda v: isinstance(v, (list, dict, tuple))).any():
            out[col] = [json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                        if isinstance(v, (list, dict, tuple)) else v for v in s]
    return out


def _write_layer(tmp: Path, name: str, frame) -> None:
    import pyogrio

    kwargs = {}
    if hasattr(frame, "geometry") and "geometry" in frame.columns:
        kwargs["geometry_type"] = "Point" if name == "events" else "MultiPolygon"
        kwargs["promote_to_multi"] = name != "events"
    pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", **kwargs)


# -- rasters -----------------------------------------------------------------------------------

def _write_rasters(tmp: Path, dest: Path, analysis) -> str:
    """Both density surfaces as GPKG gridded coverages; a GeoTIFF beside the archive if that fails."""
    try:
        for i, name in enumerate(RASTER_LAYERS):
            _write_raster(tmp, getattr(analysis, name), driver="GPKG", TILE_FORMAT="TIFF",
                          RASTER_TABLE=name, **({"APPEND_SUBDATASET": "YES"} if i else {}))
        return "gpkg"
    except Exception:  # noqa: BLE001 - GDAL builds without GPKG raster support
        _remove_sidecars(tmp)
        tmp.unlink(missing_ok=True)
        tif = dest.with_name(f"{analysis.week}_density.tif")
        with atomic_path(tif) as ttmp:
            _write_raster(ttmp, analysis.density, driver="GTiff", COMPRESS="DEFLATE")
        return tif.name


def _write_raster(path: Path, surface: DensitySurface, **options) -> None:
    import rasterio

    values = np.flipud(np.asarray(surface.values, dtype=np.float32))  # rows north first
    with rasterio.open(path, "w", width=values.shape[1], height=values.shape[0], count=1,
                       dtype="float32", crs=CRS, transform=surface.grid.transform, **options) as dst:
        dst.write(values, 1)
        dst.set_band_description(1, "täthet (händelser/km²)")


# -- run_info and styles -----------------------------------------------------------------------

def _run_info_rows(run_info: dict, analysis, cfg, layers: dict, storage: str) -> pd.DataFrame:
    """key/value strings: the runner's entries plus parameters, code version and row counts."""
    a = cfg.analysis
    info = {
        "week": analysis.week, "crs": CRS, "kernel": analysis.kernel,
        "bandwidth_m": f"{analysis.bandwidth_m:.3f}", "bandwidth_config": str(a.bandwidth_m),
        "cell_size_m": f"{analysis.cell_size_m:g}", "levels": json.dumps(list(a.levels)),
        "eps_m": f"{a.dbscan.eps_m:g}", "min_samples": str(a.dbscan.min_samples),
        "buffer_m": f"{a.dbscan.buffer_m:g}", "rolling_weeks": str(a.rolling_weeks),
        "privacy_min_count": str(cfg.privacy.min_count), "config_sha256": cfg.sha256,
        "code_version": code_version(), "density_storage": storage,
    }
    info.update({f"rows:{name}": str(len(frame)) for name, frame in layers.items()})
    for key, value in run_info.items():
        info[str(key)] = value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, sort_keys=True, default=str)
    if "run_started" not in info and "run_time" not in info:
        info["run_time"] = pd.Timestamp.now(tz=cfg.timezone).isoformat(timespec="seconds")
    return pd.DataFrame({"key": list(info), "value": list(info.values())})


def code_version() -> str:
    """``pipeline.__version__`` plus the git commit when the code is a git checkout.

    >>> code_version().startswith(pipeline.__version__)
    True
    """
    commit = ""
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=5, cwd=Path(pipeline.__file__).parent).stdout.strip()
    return f"{pipeline.__version__}+g{commit}" if commit else pipeline.__version__


def _write_layer_styles(tmp: Path, layers: dict, cfg) -> None:
    """QGIS default styles in the ``layer_styles`` table, registered as an attributes table."""
    from pipeline.render.qgis_styles import clusters_qml, events_qml, hotspots_qml

    try:
        from pipeline.analysis.zones import LEVEL_COLORS
    except ImportError:
        LEVEL_COLORS = None
    styles = {
        "events": ("Händelser per kategorigrupp", events_qml(cfg)),
        "hotspots": ("Hotspot-zoner per nivå", hotspots_qml(cfg.analysis.levels, _level_colors(LEVEL_COLORS))),
        "clusters": ("Kluster med antal händelser", clusters_qml()),
    }
    con = sqlite3.connect(tmp)
    try:
        with con:
            con.execute(_LAYER_STYLES_SQL)
            for table, (title, qml) in styles.items():
                geom = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                                   (table,)).fetchone()
                con.execute(
                    "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                    "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                    "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '', ?)",
                    (table, geom[0] if geom else "", table, qml, title, "1970-01-01T00:00:00.000Z"))
            con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                        "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS-stilar')")
    finally:
        con.close()


def _level_colors(colors) -> dict | None:
    """LEVEL_COLORS from hotspots.py as {level: '#rrggbb'}, whatever container it is."""
    if isinstance(colors, dict):
        return {float(k): v for k, v in colors.items()}
    return None


def _remove_sidecars(tmp: Path) -> None:
    """SQLite journal files a failed write may leave next to the temp file."""
    for suffix in ("-journal", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


# -- read --------------------------------------------------------------------------------------

def read_archive(path: Path) -> dict:
    """Every vector/attribute layer as a (Geo)DataFrame, the density rasters as DensitySurface.

    >>> layers = read_archive(archive_path(cfg, "2026-W47"))     # doctest: +SKIP
    >>> layers["density"].values.shape                            # doctest: +SKIP
    (612, 804)
    """
    import pyogrio

    path = Path(path)
    out = {}
    for name, geom_type in pyogrio.list_layers(path):
        frame = pyogrio.read_dataframe(path, layer=name)
        out[str(name)] = _restore_types(str(name), frame)
    out.update(_read_rasters(path, out.get("run_info")))
    return out


def _restore_types(name: str, frame):
    if name == "area_summary" and "n_events" in frame.columns:
        frame["n_events"] = frame["n_events"].astype("Int64")
        frame["suppressed"] = frame["suppressed"].astype(bool)
    if name == "run_info":
        frame = frame.drop(columns=[c for c in frame.columns if c not in ("key", "value")])
    return frame


def _read_rasters(path: Path, run_info) -> dict:
    storage = "gpkg"
    if run_info is not None:
        match = run_info.loc[run_info["key"] == "density_storage", "value"]
        storage = str(match.iloc[0]) if len(match) else "gpkg"
    if storage != "gpkg":
        return {"density": read_raster(path.with_name(storage))}
    return {name: read_raster(f"GPKG:{path}:{name}") for name in RASTER_LAYERS}


def read_raster(source) -> DensitySurface:
    """A density raster back as DensitySurface (row 0 south, like kde())."""
    import rasterio

    from pipeline.analysis.kde import Grid

    with rasterio.open(source) as src:
        values = np.flipud(src.read(1)).astype(np.float32)
        t = src.transform
        grid = Grid(t.c, t.f - src.height * t.a, t.a, src.width, src.height)
    return DensitySurface(values, grid)


def run_info_dict(path: Path) -> dict[str, str]:
    """The ``run_info`` table as {key: value} (all strings, as written).

    >>> run_info_dict(archive_path(cfg, "2026-W47"))["kernel"]    # doctest: +SKIP
    'quartic'
    """
    import pyogrio

    frame = pyogrio.read_dataframe(Path(path), layer="run_info")
    return dict(zip(frame["key"].astype(str), frame["value"].astype(str)))
