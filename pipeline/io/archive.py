"""The week's GeoPackage archive: written atomically, read back for the map and report.

One file per week, ``<archive>/<YYYY-Www>.gpkg``, with the layers listed in
docs/ARCHITECTURE.md ("Archive layers"). The density surfaces are GeoPackage rasters
(gridded coverage, Float32 TIFF tiles, EPSG:3006) in the same file: ``density`` and
``density_rolling``. Only if GDAL cannot write them there does the surface go to a GeoTIFF
beside the archive (``<week>_density.tif``); ``run_info['density_storage']`` says which.

Everything is built in a temporary file that is renamed into place at the end, so a crash
leaves the previous archive untouched. Feature layers are sorted and carry no wall-clock
time, so the same inputs give the same features.

Which layers there are is not decided here: every layer the week's products return
(pipeline/products/catalog.py) is written — a GeoDataFrame as a vector layer, a DataFrame as
an attribute table, a :class:`~pipeline.analysis.grid.Surface` as a raster.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio

import pipeline
from pipeline.analysis.grid import Grid, Surface
from pipeline.io.atomic import atomic_path
from pipeline.render.qgis_styles import STYLES
from pipeline.schema import CRS, LAYERS

#: Sort keys that make every layer's row order deterministic.
SORT_KEYS = {
    "events": ["occurred_at", "event_id"],
    "hotspots": ["period", "time_of_day", "level", "zone_id"],
    "clusters": ["period", "time_of_day", "cluster_id"],
    "area_summary": ["area", "category", "time_of_day"],
    "weekday_hour": ["weekday", "hour"],
}
#: The QGIS ``layer_styles`` table, as QGIS itself creates it.
_LAYER_STYLES_SQL = """
CREATE TABLE layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""


def archive_path(cfg, week: str) -> Path:
    """The archive file of ``week``: ``<paths.archive>/<YYYY-Www>.gpkg``."""
    return cfg.path(cfg.paths.archive) / f"{week}.gpkg"


# -- write -------------------------------------------------------------------------------------


def write_archive(path: Path, outputs, run_info: dict, cfg) -> Path:
    """Write the week's GeoPackage atomically (rasters first, then vector and attribute layers).

    ``outputs`` is one ProductOutput or a list of them (their layers and run_info entries);
    ``run_info`` adds the runner's entries (week, input hashes, fingerprint, ...).
    """
    path = Path(path)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    layers, info = {}, {}
    for out in outputs:
        clash = set(layers) & set(out.layers)
        if clash:
            raise ValueError(f"two products write the same archive layers {sorted(clash)}")
        unknown = set(out.layers) - set(LAYERS)
        if unknown:
            raise ValueError(f"archive layers {sorted(unknown)} are not declared in pipeline.schema.LAYERS")
        layers.update(out.layers)
        info.update(out.info)
    info.update(run_info)
    rasters = {n: v for n, v in layers.items() if isinstance(v, Surface)}
    tables = {n: _sorted(n, _plain(v)) for n, v in layers.items() if not isinstance(v, Surface)}
    week = str(info.get("week", path.stem))
    with atomic_path(path) as tmp:
        try:
            storage = _write_rasters(tmp, path, week, rasters)
            for name, frame in tables.items():
                _write_layer(tmp, name, frame)
            _write_layer(tmp, "run_info", _run_info_rows(info, cfg, tables, storage))
            _write_layer_styles(tmp, tables, cfg)
        finally:
            _remove_sidecars(tmp)
    return path


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
            out[col] = [
                json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                if isinstance(v, (list, dict, tuple))
                else v
                for v in s
            ]
    return out


def _write_layer(tmp: Path, name: str, frame) -> None:
    kwargs = {}
    if isinstance(frame, gpd.GeoDataFrame):
        points = len(frame) > 0 and bool((frame.geom_type == "Point").all()) or name == "events"
        kwargs["geometry_type"] = "Point" if points else "MultiPolygon"
        kwargs["promote_to_multi"] = not points
    pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", **kwargs)


# -- rasters -----------------------------------------------------------------------------------


def _write_rasters(tmp: Path, dest: Path, week: str, rasters: dict) -> str:
    """Every surface as a GPKG gridded coverage; if GDAL cannot, one GeoTIFF beside the archive
    (``<week>_density.tif``, one band per surface, its layer name in the band's ``layer`` tag)."""
    if not rasters:  # products that write no surface (tests of single products) store none
        return "gpkg"
    try:
        for i, (name, surface) in enumerate(rasters.items()):
            _write_raster(
                tmp,
                {name: surface},
                driver="GPKG",
                TILE_FORMAT="TIFF",
                RASTER_TABLE=name,
                **({"APPEND_SUBDATASET": "YES"} if i else {}),
            )
        _set_gpkg_nodata(tmp, list(rasters))
        return "gpkg"
    except Exception:  # noqa: BLE001 - GDAL builds without GPKG raster support
        _remove_sidecars(tmp)
        tmp.unlink(missing_ok=True)
        tif = dest.with_name(f"{week}_density.tif")
        with atomic_path(tif) as ttmp:
            _write_raster(ttmp, rasters, driver="GTiff", COMPRESS="DEFLATE")
        return tif.name


#: Nodata value of the density rasters: no density at all (see _write_raster).
DENSITY_NODATA = 0.0
#: Band descriptions of the raster layers (Swedish: they show in QGIS).
BAND_DESCRIPTIONS = {"density": "täthet (händelser/km²)", "density_rolling": "täthet (händelser/km²)"}


def _set_gpkg_nodata(path: Path, names: list[str]) -> None:
    """GDAL's GPKG driver ignores a float raster's nodata at creation; the GeoPackage keeps it
    in ``gpkg_2d_gridded_coverage_ancillary.data_null``, so it is set there."""
    con = sqlite3.connect(path)
    try:
        with con:
            con.executemany(
                "UPDATE gpkg_2d_gridded_coverage_ancillary SET data_null = ? WHERE tile_matrix_set_name = ?",
                [(DENSITY_NODATA, n) for n in names],
            )
    finally:
        con.close()


def _write_raster(path: Path, surfaces: dict, **options) -> None:
    """Write ``surfaces`` (name -> Surface, all on one grid) as the bands of one raster."""
    grids = {s.grid for s in surfaces.values()}
    if len(grids) != 1:
        raise ValueError(f"raster layers {sorted(surfaces)} must share one grid")
    grid = grids.pop()
    # Zero density is stored as nodata, so QGIS draws it transparent instead of a black
    # rectangle over the whole grid; the values read back are unchanged (0).
    with rasterio.open(
        path,
        "w",
        width=grid.nx,
        height=grid.ny,
        count=len(surfaces),
        dtype="float32",
        crs=CRS,
        transform=grid.transform,
        nodata=DENSITY_NODATA,
        **options,
    ) as dst:
        for band, (name, surface) in enumerate(surfaces.items(), start=1):
            dst.write(np.flipud(np.asarray(surface.values, dtype=np.float32)), band)  # rows north first
            dst.set_band_description(band, BAND_DESCRIPTIONS.get(name, name))
            dst.update_tags(band, layer=name)


def _run_info_rows(run_info: dict, cfg, layers: dict, storage: str) -> pd.DataFrame:
    """key/value strings: the products' and runner's entries, code version and row counts."""
    info = {"crs": CRS, "config_sha256": cfg.sha256, "code_version": code_version(), "density_storage": storage}
    info.update({f"rows:{name}": str(len(frame)) for name, frame in layers.items()})
    for key, value in run_info.items():
        info[str(key)] = (
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        )
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
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(pipeline.__file__).parent,
        ).stdout.strip()
    return f"{pipeline.__version__}+g{commit}" if commit else pipeline.__version__


def _write_layer_styles(tmp: Path, layers: dict, cfg) -> None:
    """QGIS default styles (pipeline.render.qgis_styles.STYLES) of the layers written, in the
    ``layer_styles`` table, registered as an attributes table."""
    styles = {name: (title, make(cfg)) for name, (title, make) in STYLES.items() if name in layers}
    con = sqlite3.connect(tmp)
    try:
        with con:
            con.execute(_LAYER_STYLES_SQL)
            for table, (title, qml) in styles.items():
                geom = con.execute(
                    "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
                ).fetchone()
                con.execute(
                    "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                    "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                    "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '', ?)",
                    (table, geom[0] if geom else "", table, qml, title, "1970-01-01T00:00:00.000Z"),
                )
            con.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS-stilar')"
            )
    finally:
        con.close()


def _remove_sidecars(tmp: Path) -> None:
    """SQLite journal files a failed write may leave next to the temp file."""
    for suffix in ("-journal", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


# -- read --------------------------------------------------------------------------------------


def read_archive(path: Path) -> dict:
    """Every vector/attribute layer as a (Geo)DataFrame, every raster as a Surface."""
    path = Path(path)
    out = {}
    for name, _geometry_type in pyogrio.list_layers(path):
        # through Arrow: half the time of a national week's event layer. An empty layer is read
        # the classic way, whose dtypes (object texts) match those of a layer with rows.
        frame = pyogrio.read_dataframe(path, layer=name, use_arrow=True)
        if len(frame) == 0:
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
        return read_raster_bands(path.with_name(storage))
    with sqlite3.connect(path) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = '2d-gridded-coverage' ORDER BY table_name"
            )
        ]
    return {name: read_raster(f"GPKG:{path}:{name}") for name in names}


def read_raster_bands(source) -> dict:
    """Every band of a fallback GeoTIFF as {layer name: Surface}."""
    with rasterio.open(source) as src:
        names = [src.tags(b).get("layer", "density") for b in range(1, src.count + 1)]
        grid = _grid_of(src)
        return {n: Surface(np.flipud(src.read(b)).astype(np.float32), grid) for b, n in enumerate(names, start=1)}


def _grid_of(src) -> Grid:
    t = src.transform
    return Grid(t.c, t.f - src.height * t.a, t.a, src.width, src.height)


def read_raster(source) -> Surface:
    """A raster layer back as a Surface (row 0 south, like kde())."""
    with rasterio.open(source) as src:
        return Surface(np.flipud(src.read(1)).astype(np.float32), _grid_of(src))


def run_info_dict(path: Path) -> dict[str, str]:
    """The ``run_info`` table as {key: value} (all strings, as written)."""
    frame = pyogrio.read_dataframe(Path(path), layer="run_info")
    return dict(zip(frame["key"].astype(str), frame["value"].astype(str)))
