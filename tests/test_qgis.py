"""The archive opens in QGIS (Debian's python3-qgis, run as a subprocess): every vector layer
is valid with the expected feature count, the default styles come from ``layer_styles``, and
the density raster is a valid EPSG:3006 layer."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pyogrio
import pytest

from pipeline.analysis.weekly import analyse_week
from pipeline.io.archive import read_archive, write_archive
from pipeline.products.week import week_output
from tests.test_weekly import WEEK, config, synthetic

QGIS_PYTHON = "/usr/bin/python3"
LAYERS = ("events", "hotspots", "clusters", "area_summary", "key_figures", "weekday_hour", "run_info")

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer
    path, names = sys.argv[1], sys.argv[2].split(",")
    app = QgsApplication([], False)
    app.initQgis()
    out = {"vector": {}, "raster": {}}
    for name in names:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        info = {"valid": layer.isValid(), "count": layer.featureCount()}
        if layer.isValid() and layer.isSpatial():
            renderer = layer.renderer()
            info["renderer"] = renderer.type()
            info["attr"] = renderer.classAttribute() if hasattr(renderer, "classAttribute") else None
            info["categories"] = [str(c.value()) for c in getattr(renderer, "categories", lambda: [])()]
            info["colors"] = [c.symbol().color().name() for c in getattr(renderer, "categories", lambda: [])()]
            info["labels_enabled"] = layer.labelsEnabled()
            info["label_field"] = layer.labeling().settings().fieldName if layer.labeling() else None
            info["aliases"] = {f.name(): f.alias() for f in layer.fields()}
            info["crs"] = layer.crs().authid()
            temporal = layer.temporalProperties()
            if name == "events" and not temporal.isActive():
                # QGIS 3.22 builds the temporal properties after reading the default style when
                # a layer opens; loading the default style again (Style > Default) applies them.
                layer.loadDefaultStyle()
                temporal = layer.temporalProperties()
                renderer = layer.renderer()   # the reload replaced the renderer object
            info["temporal"] = [temporal.isActive(), int(temporal.mode())]
            if name == "events" and layer.featureCount():
                from qgis.core import QgsExpression, QgsExpressionContext, QgsExpressionContextUtils
                ctx = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
                ctx.setFeature(next(layer.getFeatures()))
                value = QgsExpression(temporal.startExpression()).evaluate(ctx)
                info["first_start"] = value.toString("yyyy-MM-ddTHH:mm") if value is not None else None
            if renderer.type() == "RuleRenderer":
                info["rules"] = [(r.label(), r.active(), [c.label() for c in r.children()])
                                 for r in renderer.rootRule().children()]
        out["vector"][name] = info
    raster = QgsRasterLayer(f"GPKG:{path}:density", "density", "gdal")
    provider = raster.dataProvider()
    out["raster"] = {"valid": raster.isValid(), "crs": raster.crs().authid(),
                     "width": raster.width(), "height": raster.height(),
                     "has_nodata": provider.sourceHasNoDataValue(1), "nodata": provider.sourceNoDataValue(1)}
    print("JSON" + json.dumps(out, ensure_ascii=False), flush=True)
    # exitQgis() can segfault while tearing down providers; the answer is already out.
    os._exit(0)
""")


def _has_qgis() -> bool:
    if not os.path.exists(QGIS_PYTHON):
        return False
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, env=env, timeout=60)
    return done.returncode == 0


pytestmark = pytest.mark.qgis


@pytest.fixture(scope="module", params=["synthetic", "demo"])
def opened(request, tmp_path_factory):
    """The archive of a synthetic week, and the real one `lagesbild weekly` wrote for the demo."""
    if not _has_qgis():  # checked here, not at import, so collecting the suite stays fast
        pytest.skip("Debian python3-qgis is not installed")
    if request.param == "demo":
        run = request.getfixturevalue("weekly_run")
        cfg, path = run["cfg"], run["result"].archive
    else:
        cfg = config()
        events, boundary, areas = synthetic(cfg)
        analysis = analyse_week(events, cfg, WEEK, boundary, areas)
        path = write_archive(
            tmp_path_factory.mktemp("qgis") / f"{WEEK}.gpkg", week_output(analysis, cfg), {"run_started": "x"}, cfg
        )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path_factory.mktemp("xdg"))}
    env.pop("PYTHONPATH", None)  # the venv's packages must not shadow Debian's
    done = subprocess.run(
        [QGIS_PYTHON, "-c", SCRIPT, str(path), ",".join(LAYERS)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("JSON"))
    layers = read_archive(path)
    return {
        "cfg": cfg,
        "path": path,
        "clusters": len(layers["clusters"]),
        "grid": layers["density"].grid,
        "qgis": json.loads(line[4:]),
    }


def test_every_vector_layer_is_valid_with_expected_count(opened):
    path = opened["path"]
    for name in LAYERS:
        info = opened["qgis"]["vector"][name]
        expected = pyogrio.read_info(path, layer=name)["features"]
        assert info["valid"], name
        assert info["count"] == expected > 0, name
    assert opened["qgis"]["vector"]["clusters"]["count"] == opened["clusters"]


def test_default_styles_come_from_layer_styles(opened):
    cfg, vec = opened["cfg"], opened["qgis"]["vector"]
    events = vec["events"]
    assert events["renderer"] == "categorizedSymbol" and events["attr"] == "category_group"
    assert events["categories"] == list(cfg.groups)
    assert events["colors"] == [g.color.lower() for g in cfg.groups.values()]
    assert events["aliases"]["category_group"] == "Kategorigrupp" and events["crs"] == "EPSG:3006"
    # the Temporal Controller animates the events: start from occurred_at (ISO text with offset)
    assert events["temporal"] == [True, 4] and events["first_start"] not in (None, "")
    hotspots = vec["hotspots"]
    # one rule per slice, only this week's whole-day zones switched on, one child rule per level
    assert hotspots["renderer"] == "RuleRenderer"
    rules = hotspots["rules"]
    assert [r[0] for r in rules][:1] == ["Denna vecka, hela dygnet"] and rules[0][1] is True
    assert all(active is False for _, active, _ in rules[1:]) and len(rules) == len(cfg.time_of_day) + 2
    assert all(len(children) == len(cfg.analysis.levels) for *_, children in rules)
    clusters = vec["clusters"]
    assert clusters["renderer"] == "singleSymbol"
    assert clusters["labels_enabled"] and clusters["label_field"] == "n_events"
    assert clusters["aliases"]["n_events"] == "Antal händelser"


def test_density_raster_opens_in_epsg_3006(opened):
    raster, grid = opened["qgis"]["raster"], opened["grid"]
    assert raster["valid"] and raster["crs"] == "EPSG:3006"
    assert (raster["width"], raster["height"]) == (grid.nx, grid.ny)
    # zero density is nodata, so QGIS draws it transparent rather than a black rectangle
    assert raster["has_nodata"] and raster["nodata"] == 0.0
