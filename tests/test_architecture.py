"""docs/ARCHITECTURE.md is the map of the code: it must name every package, module, declared
product and archive layer there is, and the declarations must be consistent with each other."""

from __future__ import annotations

from pathlib import Path

from pipeline.products import build_order
from pipeline.products.catalog import PRODUCTS
from pipeline.render.overlays import OVERLAYS
from pipeline.render.sections.catalog import SECTIONS
from pipeline.schema import LAYERS

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def test_every_module_is_on_the_map():
    missing = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        rel = path.relative_to(ROOT / "pipeline")
        if rel.name in ("__init__.py", "__main__.py"):
            name = f"{rel.parent.name}/" if rel.parent.name else None
        else:
            name = rel.stem + ".py"
        if name and name not in DOC:
            missing.append(str(rel))
    assert not missing, f"docs/ARCHITECTURE.md does not name {missing}"


def test_every_product_and_layer_is_documented():
    for product in PRODUCTS:
        assert f"`{product.name}`" in DOC, product.name
    for layer in LAYERS:
        assert f"`{layer}`" in DOC, layer


def test_declarations_are_consistent():
    names = [p.name for p in PRODUCTS]
    assert len(names) == len(set(names)), "product names are unique"
    written = [layer for p in PRODUCTS for layer in p.layers]
    assert len(written) == len(set(written)), "no two products write the same layer"
    assert set(written) <= set(LAYERS), "every layer a product writes is declared in schema.LAYERS"
    assert [p.name for p in build_order(PRODUCTS)]  # no cycle, no unknown requirement
    assert len({s.key for s in SECTIONS}) == len(SECTIONS) and len({o.key for o in OVERLAYS}) == len(OVERLAYS)
