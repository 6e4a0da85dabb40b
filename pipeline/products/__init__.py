"""Products: what the runner builds for every ISO week, declared apart from the functions.

A :class:`Product` names its function, the inputs it reads, how many earlier and later
weeks of events it needs, and the archive layers it writes (kedro's ``Node(func, inputs,
outputs)``, dagster's partitioned assets with the ISO week as partition). The runner
(pipeline/runner.py) builds every product in ``catalog.PRODUCTS`` for a week, writes their
layers into that week's archive, and fingerprints exactly the inputs each product declares,
so a week is rebuilt when — and only when — something it reads has changed. A new
capability is one module (in analysis/ or evaluation/) plus one declaration in catalog.py.

>>> from pipeline.products.catalog import PRODUCTS
>>> [p.name for p in PRODUCTS][0]
'week'
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
from rasterio.errors import NotGeoreferencedWarning

from pipeline.analysis.weeks import next_weeks, previous_weeks, weeks_present
from pipeline.schema import COORDINATE_COLUMNS, READABLE_COLUMNS, with_coordinates

#: What a product may declare in ``inputs``.
INPUTS = ("events", "reference", "interventions")
#: Event columns every product gets: the week, and what the publication rule reads
#: (privacy.spatial_events) — without them a protected event or a duplicate would count. Not
#: the event id: only a product that publishes points needs it (privacy.publishable_points),
#: and it declares it; a national history's ids are the widest column an all-history read holds.
ALWAYS_READ = ("iso_week", "sensitive", "duplicate_of")
#: Products built at once (:func:`build_all`). Two: on a national history the week's analysis
#: takes about as long as all the others together, and each product holds its own frames, so
#: more at once would trade memory (bounded by the weeks analysed) for little time.
PRODUCT_THREADS = 2


@dataclass
class ProductInput:
    """What a product's function gets: nothing else, and no file access."""

    cfg: Any
    week: str
    events: Any  # canonical events of the declared weeks (duplicates included)
    reference: Any  # boundary (shapely, EPSG:3006), areas, gazetteer
    interventions: pd.DataFrame | None = None
    upstream: dict[str, dict[str, Any]] = field(default_factory=dict)  # product -> its layers
    memo: Any = None  # pipeline.memo.Memo: earlier runs' per-week results (None: compute all)


@dataclass
class ProductOutput:
    """A product's result: archive layers (name -> frame or Surface) and run_info entries."""

    layers: dict[str, Any]
    info: dict[str, str] = field(default_factory=dict)


WeeksSpec = int | None | Callable[[Any], int | None]


@dataclass(frozen=True)
class Product:
    """One declared product.

    ``weeks_before``: earlier weeks of events it reads — an int, None for every week up to the
    built one, or a function of the config (``lambda cfg: cfg.analysis.rolling_weeks``).
    ``weeks_after``: later weeks it reads (evaluation products only; analysis never looks ahead).
    ``requires``: products of the same week whose layers it reads (``ProductInput.upstream``).
    ``columns``: the event columns it reads (None = all). A product that reads every week of
    history declares them, so a national history is held once, narrow, however many such
    products read it; the publication rule's columns (:data:`ALWAYS_READ`) always come along.
    ``x`` and ``y`` (:data:`~pipeline.schema.COORDINATE_COLUMNS`) stand for the points'
    coordinates without their geometry objects.
    """

    name: str
    build: Callable[[ProductInput], ProductOutput]
    layers: tuple[str, ...]
    weeks_before: WeeksSpec = 0
    weeks_after: int = 0
    inputs: tuple[str, ...] = ("events", "reference")
    requires: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None

    def __post_init__(self):
        unknown = [i for i in self.inputs if i not in INPUTS]
        if unknown:
            raise ValueError(f"product {self.name!r}: unknown inputs {unknown}; allowed {INPUTS}")
        if self.weeks_after < 0:
            raise ValueError(f"product {self.name!r}: weeks_after must be >= 0")
        unknown = [c for c in self.columns or () if c not in READABLE_COLUMNS]
        if unknown:
            raise ValueError(f"product {self.name!r}: unknown event columns {unknown}; see pipeline.schema")

    def columns_read(self) -> list[str] | None:
        """The event columns it reads, in the canonical order (None = all).

        >>> Product("x", build=None, layers=(), columns=("area",)).columns_read()
        ['sensitive', 'iso_week', 'area', 'duplicate_of']
        """
        if self.columns is None:
            return None
        wanted = {*self.columns, *ALWAYS_READ}
        return [c for c in READABLE_COLUMNS if c in wanted]

    def lookback(self, cfg) -> int | None:
        """Earlier weeks read, resolved against the config (None = all history)."""
        spec = self.weeks_before(cfg) if callable(self.weeks_before) else self.weeks_before
        return None if spec is None else int(spec)

    def weeks_read(self, cfg, week: str, available: list[str] | None = None) -> list[str] | None:
        """The ISO weeks of events this product reads for ``week``; None = every week <= week.

        >>> Product("x", build=None, layers=(), weeks_before=2, weeks_after=1).weeks_read(None, "2026-W01")
        ['2025-W51', '2025-W52', '2026-W01', '2026-W02']
        """
        back = self.lookback(cfg)
        after = next_weeks(week, self.weeks_after)
        if back is None:
            return None if not after else [w for w in (available or []) if w <= week] + after
        return previous_weeks(week, back) + [week] + after


def events_for(product: Product, cfg, events, week: str):
    """The canonical events ``product`` may read for ``week`` (a filter on ``iso_week``)."""
    weeks = product.weeks_read(cfg, week, weeks_present(events))
    iso = events["iso_week"].astype(str)
    rows = (iso <= week) & (iso != "") if weeks is None else iso.isin(weeks)
    columns = product.columns_read()
    if columns is not None:  # the columns it declares (those a test frame has)
        if any(c in columns for c in COORDINATE_COLUMNS) and "geometry" in events.columns:
            events = with_coordinates(events)
        events = events[[c for c in events.columns if c in columns]]
        if "geometry" not in columns:  # a plain table, as the store gives it
            events = pd.DataFrame(events)
    return events[rows]


def build_order(products) -> list[Product]:
    """Products ordered so every product comes after the ones it ``requires``."""
    by_name = {p.name: p for p in products}
    done, order = set(), []

    def visit(p, stack=()):
        if p.name in done:
            return
        if p.name in stack:
            raise ValueError(f"products require each other in a cycle: {' -> '.join((*stack, p.name))}")
        for r in p.requires:
            if r not in by_name:
                raise ValueError(f"product {p.name!r} requires unknown product {r!r}")
            visit(by_name[r], (*stack, p.name))
        done.add(p.name)
        order.append(p)

    for p in products:
        visit(p)
    return order


def build_all(products, build_one: Callable[[Product, dict], Any], threads: int = PRODUCT_THREADS) -> dict[str, Any]:
    """``build_one(product, upstream)`` for every product, ``threads`` at a time, each once the
    products it ``requires`` are built (``upstream``: their results by name); results by name.

    Products are pure functions of their inputs (no file access, their own memo each), so the
    results are those of a one-at-a-time build in :func:`build_order`; most of their work is
    in numpy, pyarrow, shapely and compiled kernels, which release the GIL, so two threads
    overlap the week's analysis with the all-history products.

    >>> a = Product("a", build=None, layers=())
    >>> b = Product("b", build=None, layers=(), requires=("a",))
    >>> build_all([b, a], lambda p, up: p.name + "".join(up.values()), threads=2)
    {'a': 'a', 'b': 'ba'}
    """
    order = build_order(products)
    if threads <= 1 or len(order) <= 1:
        done: dict[str, Any] = {}
        for product in order:
            done[product.name] = build_one(product, {r: done[r] for r in product.requires})
        return done
    futures: dict[str, Any] = {}

    def task(product):
        return build_one(product, {r: futures[r].result() for r in product.requires})

    # rasterio vectorises our bare grids through an in-memory dataset and silences its "not
    # georeferenced" warning with warnings.catch_warnings, which is not thread-safe: one
    # thread's exit can drop the other's filter. Ignored here, around both threads, it holds.
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=threads, thread_name_prefix="product") as pool:
        warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
        # submitted in dependency order and started first in, first out: what a product waits
        # for is already running or done, so two threads never wait on each other
        for product in order:
            futures[product.name] = pool.submit(task, product)
        return {name: future.result() for name, future in futures.items()}
