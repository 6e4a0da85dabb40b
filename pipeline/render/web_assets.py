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
import datetime as dt
import math
import functools
import re
from pathlib import Path

import jinja2
import pandas as pd
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
    return _read(MARKERCLUSTER_DIR / "MarkerCluster.css") + "\n" + _read(MARKERCLUSTER_DIR / "MarkerCluster.Default.css")


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
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=False)


def render_template(name: str, **values) -> str:
    """Render ``pipeline/render/templates/<name>`` with autoescaping.

    >>> "&lt;b&gt;" in render_template("index.html.j2", title="<b>", rows=[])
    True
    """
    return _env().get_template(name).render(**values)


def template_text(name: str) -> str:
    """Raw text of a static template file (CSS/JS) in ``pipeline/render/templates``."""
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


# -- Swedish formatting ------------------------------------------------------------------------

MONTHS = ("jan", "feb", "mars", "apr", "maj", "juni", "juli", "aug", "sep", "okt", "nov", "dec")
WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
WEEKDAYS_SHORT = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")


def is_missing(value) -> bool:
    """True for None, NaN and pandas.NA.

    >>> is_missing(pd.NA), is_missing(0)
    (True, False)
    """
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def sv_number(value, decimals: int = 0) -> str:
    """A number as Swedes write it: decimal comma, thin space between thousands; "–" if missing.

    >>> sv_number(1234.5, 1), sv_number(3), sv_number(None)
    ('1\u00a0234,5', '3', '–')
    """
    if is_missing(value):
        return "–"
    value = float(value)
    if math.isinf(value):
        return "∞"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def sv_percent(share, decimals: int = 0) -> str:
    """A share 0–1 as a Swedish percentage.

    >>> sv_percent(0.1923)
    '19\u00a0%'
    """
    return "–" if is_missing(share) else f"{sv_number(float(share) * 100, decimals)}\u00a0%"


def change_parts(change) -> tuple[str, str, str]:
    """(arrow, css class, text) for a change against the earlier mean.

    >>> change_parts(1.5)
    ('▲', 'lb-up', 'ökning +1,5')
    >>> change_parts(-2)
    ('▼', 'lb-down', 'minskning −2,0')
    """
    if is_missing(change):
        return ("", "lb-same", "ingen jämförelse")
    change = float(change)
    if abs(change) < 0.05:
        return ("●", "lb-same", "oförändrat ±0")
    if change > 0:
        return ("▲", "lb-up", f"ökning +{sv_number(change, 1)}")
    return ("▼", "lb-down", f"minskning −{sv_number(-change, 1)}")


def week_parts(week: str) -> tuple[int, int]:
    """(year, week number) of an ISO week string.

    >>> week_parts("2026-W47")
    (2026, 47)
    """
    year, num = week.split("-W")
    return int(year), int(num)


def week_period(week: str) -> str:
    """Monday–Sunday of an ISO week in Swedish.

    >>> week_period("2026-W47"), week_period("2026-W53")
    ('16–22 nov 2026', '28 dec 2026–3 jan 2027')
    """
    year, num = week_parts(week)
    mon = dt.date.fromisocalendar(year, num, 1)
    sun = mon + dt.timedelta(days=6)
    if mon.year != sun.year:
        return f"{_day(mon)} {mon.year}–{_day(sun)} {sun.year}"
    if mon.month != sun.month:
        return f"{_day(mon)}–{_day(sun)} {sun.year}"
    return f"{mon.day}–{_day(sun)} {sun.year}"


def _day(d: dt.date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]}"


def week_title(week: str, municipality: str) -> str:
    """Page title used by map and report.

    >>> week_title("2026-W47", "Mjölby kommun")
    'Lägesbild vecka 47, 2026 – Mjölby kommun'
    """
    year, num = week_parts(week)
    return f"Lägesbild vecka {num}, {year} – {municipality}"


def sv_datetime(value, weekday: bool = True) -> str:
    """An ISO timestamp (local time) in Swedish; "–" if missing or unreadable.

    >>> sv_datetime("2026-11-17T21:40:00+01:00")
    'tisdag 17 nov 2026 kl. 21:40'
    """
    if is_missing(value) or value == "":
        return "–"
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return "–"
    text = f"{ts.day} {MONTHS[ts.month - 1]} {ts.year} kl. {ts:%H:%M}"
    return f"{WEEKDAYS[ts.weekday()]} {text}" if weekday else text
