"""What the weekly web pages share: inline Leaflet assets, templates and Swedish formatting.

Leaflet and Leaflet.markercluster become inline <script>/<style>, read from the XStatic packages.

The weekly map must open from a USB stick or an e-mail attachment with no network, so
nothing is fetched from a CDN and nothing is copied into the repository: the installed
``xstatic-leaflet`` and ``xstatic-leaflet-markercluster`` packages are the source. Images
that ``leaflet.css`` refers to (layer-control icon, default marker) become data: URIs.

>>> from pipeline.render.web_assets import head_html
>>> html = head_html()
>>> "<script>" in html and "L.markerClusterGroup" in html and "url(images/" not in html
True
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

import jinja2
import xstatic.pkg.leaflet as _leaflet
import xstatic.pkg.leaflet_markercluster as _markercluster

LEAFLET_DIR = Path(_leaflet.BASE_DIR)
MARKERCLUSTER_DIR = Path(_markercluster.BASE_DIR)
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

# Source-map comments would make DevTools try to fetch a .map file next to the HTML.
_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
_CSS_IMAGE = re.compile(r"url\((['\"]?)(images/[^)'\"]+)\1\)")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _script_safe(js: str) -> str:
    """Make JS safe inside an inline <script>: no closing tag, no source-map lookups."""
    return _SOURCE_MAP.sub("", js).replace("</script", "<\\/script")


def _data_uri(path: Path) -> str:
    mime = "image/svg+xml" if path.suffix == ".svg" else f"image/{path.suffix.lstrip('.')}"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def inline_css_images(css: str, base: Path) -> str:
    """Replace ``url(images/x.png)`` with a data: URI of the file below ``base``.

    >>> inline_css_images(".a{background:url(images/layers.png)}", LEAFLET_DIR)[:36]
    '.a{background:url("data:image/png;ba'
    """

    def repl(match: re.Match) -> str:
        return f'url("{_data_uri(base / match.group(2))}")'

    return _CSS_IMAGE.sub(repl, css)


@functools.lru_cache(maxsize=None)
def leaflet_js() -> str:
    """leaflet.js (minified) from xstatic-leaflet."""
    return _script_safe(_read(LEAFLET_DIR / "leaflet.js"))


@functools.lru_cache(maxsize=None)
def leaflet_css() -> str:
    """leaflet.css with its images inlined."""
    return inline_css_images(_read(LEAFLET_DIR / "leaflet.css"), LEAFLET_DIR)


@functools.lru_cache(maxsize=None)
def markercluster_js() -> str:
    """leaflet.markercluster.js from xstatic-leaflet-markercluster."""
    return _script_safe(_read(MARKERCLUSTER_DIR / "leaflet.markercluster.js"))


@functools.lru_cache(maxsize=None)
def markercluster_css() -> str:
    """MarkerCluster.css followed by MarkerCluster.Default.css."""
    return (
        _read(MARKERCLUSTER_DIR / "MarkerCluster.css") + "\n" + _read(MARKERCLUSTER_DIR / "MarkerCluster.Default.css")
    )


@functools.lru_cache(maxsize=None)
def head_html() -> str:
    """<style> and <script> blocks for the page head, in load order (Leaflet before plugins)."""
    return (
        f"<style>\n{leaflet_css()}\n</style>\n"
        f"<style>\n{markercluster_css()}\n</style>\n"
        f"<script>\n{leaflet_js()}\n</script>\n"
        f"<script>\n{markercluster_js()}\n</script>\n"
    )


# -- templates ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # Autoescape everything: data from partners' exports may contain markup.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )


def render_template(name: str, **values) -> str:
    """Render ``pipeline/render/templates/<name>`` with autoescaping.

    >>> "&lt;b&gt;" in render_template("index.html.j2", title="<b>", rows=[])
    True
    """
    return _env().get_template(name).render(**values)


def template_text(name: str) -> str:
    """Raw text of a static template file (CSS/JS) in ``pipeline/render/templates``."""
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")
