"""Every layer the declared products write opens in QGIS: whatever products the catalog holds,
the demo archive's vector layers, attribute tables and rasters are all valid there."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import textwrap

import pyogrio
import pytest

from pipeline.products.catalog import PRODUCTS
from pipeline.render.qgis_styles import STYLES
from pipeline.schema import LAYERS
from tests.test_qgis import QGIS_PYTHON, _has_qgis

pytestmark = pytest.mark.qgis

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer
    path, vectors, rasters = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    app = QgsApplication([], False)
    app.initQgis()
    out = {}
    for name in vectors:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        out[name] = {"valid": layer.isValid(), "count": layer.featureCount(),
                     "renderer": layer.renderer().type() if layer.isValid() and layer.isSpatial() else None}
    for name in rasters:
        layer = QgsRasterLayer(f"GPKG:{path}:{name}", name, "gdal")
        out[name] = {"valid": layer.isValid(), "crs": layer.crs().authid()}
    print("JSON" + json.dumps(out), flush=True)
    os._exit(0)
""")


def test_every_declared_layer_of_the_demo_archive_opens_in_qgis(weekly_run, tmp_path):
    if not _has_qgis():
        pytest.skip("Debian python3-qgis is not installed")
    path = weekly_run["result"].archive
    vectors = [str(n) for n, _ in pyogrio.list_layers(path) if n != "layer_styles"]
    with sqlite3.connect(path) as con:
        rasters = [
            r[0] for r in con.execute("SELECT table_name FROM gpkg_contents WHERE data_type = '2d-gridded-coverage'")
        ]
    declared = {layer for p in PRODUCTS for layer in p.layers}
    # the archive holds what the products declare (and run_info), no more
    assert set(vectors) | set(rasters) <= declared | {"run_info"}
    assert all(name in LAYERS for name in declared)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [QGIS_PYTHON, "-c", SCRIPT, str(path), json.dumps(vectors), json.dumps(rasters)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("JSON"))[4:])
    for name in vectors:
        assert got[name]["valid"], name
        assert got[name]["count"] == pyogrio.read_info(path, layer=name)["features"], name
    for name in rasters:
        assert got[name]["valid"] and got[name]["crs"] == "EPSG:3006", name
    styled = [n for n in vectors if n in STYLES and pyogrio.read_info(path, layer=n)["geometry_type"]]
    assert styled, "the archive's spatial layers carry default styles"
