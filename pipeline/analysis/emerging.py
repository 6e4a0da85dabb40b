"""Emerging hot spot analysis: ArcGIS Pro's *Emerging Hot Spot Analysis* on an ISO-week cube.

The space-time cube is the analysis grid (EPSG:3006, anchored cells of ``cell_m`` metres) ×
ISO weeks; a bin holds the number of events in that cell and week.

1. **Gi\\* per bin** (Getis & Ord 1995, as in ArcGIS's *Hot Spot Analysis*), with binary
   space-time weights: bin ``(j, s)`` neighbours bin ``(i, t)`` when the centres of cells ``i``
   and ``j`` are at most ``distance_m`` apart and ``s`` is ``t`` or ``t − 1`` (the bin itself
   included: the *star* statistic). In the first week only that week's bins are neighbours.
   The global window is the entire cube (ArcGIS's default): with ``n`` bins, mean ``x̄`` and
   ``S = sqrt(Σx²/n − x̄²)`` over all of them, and ``Wᵢ`` the number of neighbours,

   ``z = (Σⱼ wᵢⱼ xⱼ − x̄ Wᵢ) / (S · sqrt((n Wᵢ − Wᵢ²) / (n − 1)))``  (binary weights: Σw² = W).

   p-values are two-sided normal. A bin is a *significant hot (cold) spot* when ``z > 0``
   (``z < 0``) and its Benjamini–Hochberg FDR-adjusted p-value, computed over the analysed cells
   of its own week, is at most ``alpha`` (0.05). ArcGIS labels bins at 90, 95 and 99 %
   confidence; we count a bin at 95 % (after FDR), the conventional level, for every dataset.
2. **Trend**: the Mann-Kendall test of each cell's Gi\\* z-series (S statistic, variance with the
   ties correction, continuity correction ``(S − sign S)/sqrt(var)``, two-sided normal p). The
   trend is significant when ``p < alpha``; *up* when its z is positive.
3. **Pattern** of each analysed cell, from Esri's published definitions ("How Emerging Hot Spot
   Analysis works"). With ``T`` weeks, "90 % of the time steps" means at least ``0.9·T`` weeks
   (11 of 12), and "the final time step" is the newest week. Hot classes:

   - *new* (ny): hot in the final week, never hot before;
   - *consecutive* (sammanhängande): a single uninterrupted run of at least two hot weeks that
     ends in the final week, never hot before the run, fewer than 90 % of the weeks hot;
   - *intensifying* (intensifierande): hot in ≥ 90 % of the weeks including the final week,
     significant upward trend;
   - *persistent* (ihållande): hot in ≥ 90 % of the weeks including the final week, no
     significant trend;
   - *diminishing* (avtagande): hot in ≥ 90 % of the weeks including the final week,
     significant downward trend;
   - *sporadic* (sporadisk): hot in the final week, fewer than 90 % of the weeks hot, hot on and
     off before, never a significant cold spot;
   - *oscillating* (oscillerande): hot in the final week, fewer than 90 % of the weeks hot, a
     significant cold spot in some earlier week;
   - *historical* (historisk): not hot in the final week, hot in ≥ 90 % of the weeks.

   The eight cold classes mirror these with hot ↔ cold (an *intensifying* cold spot's z trends
   down, a *diminishing* one's up). *No pattern* (inget mönster) is everything else.

   Esri's texts overlap in two places; the rules that make the classes exclusive:
   (a) the final week decides the family: hot then → a hot class, cold then → a cold class,
   neither → historical hot, historical cold or no pattern (so *persistent* needs the final week
   hot; Esri's *historical* text is the one about a final week that is not hot);
   (b) within a family, where two texts apply the one Esri lists first wins: *new* and
   *consecutive* speak only of the hot history, so a first hot run after earlier cold weeks is
   new/consecutive, not oscillating.

Which cells: the locations with at least one event over the period (ArcGIS's rule without an
analysis mask), and of those only cells that touch the study area (the municipality) when one is
given. A cell never visited by an event is not a bin: not a neighbour, not counted in ``n``.
ArcGIS with a polygon mask would instead analyse every cell in it; in a rural municipality that
makes thousands of empty cells the yardstick, and every town centre a "persistent hot spot" of
no news. Cold spots are then places with events but clearly fewer than the other visited places.

Neighbourhood sums are integer sums (a disc stencil summed exactly, or an FFT convolution
rounded to the integer it equals), so equal inputs give bit-identical z-scores: Mann-Kendall
ties are real ties, never rounding noise.

Example
-------
>>> import numpy as np
>>> from pipeline.analysis.grid import Grid
>>> rng = np.random.default_rng(1)
>>> pts = rng.uniform(0, 2_000, size=(400, 2))
>>> wk = rng.integers(0, 10, size=400)
>>> pts[wk == 9] = pts[wk == 9] * 0.05 + 1_000            # week 9: everything in one place
>>> res = emerging_hot_spots(pts, wk, 10, Grid(0, 0, 250, 8, 8), distance_m=500)
>>> res.label_of(res.pattern)[res.n_events.argmax()]
'ny hot spot'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage, signal, stats

from pipeline.analysis.grid import Grid
from pipeline.analysis.weeks import rolling_window, weeks_between, weeks_present
from pipeline.privacy import spatial_events
from pipeline.products import ProductInput, ProductOutput
from pipeline.schema import CRS, coordinates

#: Significance level of a hot/cold bin (FDR-adjusted, per week) and of a Mann-Kendall trend.
ALPHA = 0.05
#: Fewest weeks the analysis runs on: below this a 90 % share and a trend mean little.
MIN_WEEKS = 8
#: Share of the weeks that makes a location persistent/intensifying/diminishing/historical.
SHARE = 0.9
#: Stencils with more cells than this are summed by FFT (then rounded) instead of shifted adds.
DIRECT_STENCIL_MAX = 64

#: Pattern codes as in ArcGIS's output CATEGORY field: 1..8 hot, −1..−8 cold, 0 no pattern.
NO_PATTERN, NEW, CONSECUTIVE, INTENSIFYING, PERSISTENT, DIMINISHING, SPORADIC, OSCILLATING, HISTORICAL = range(9)
_KIND_SV = {
    NEW: "ny",
    CONSECUTIVE: "sammanhängande",
    INTENSIFYING: "intensifierande",
    PERSISTENT: "ihållande",
    DIMINISHING: "avtagande",
    SPORADIC: "sporadisk",
    OSCILLATING: "oscillerande",
    HISTORICAL: "historisk",
}
#: code -> Swedish label, e.g. 1 -> "ny hot spot", -4 -> "ihållande kall fläck".
PATTERN_LABELS: dict[int, str] = {
    NO_PATTERN: "inget mönster",
    **{k: f"{v} hot spot" for k, v in _KIND_SV.items()},
    **{-k: f"{v} kall fläck" for k, v in _KIND_SV.items()},
}
#: code -> English name (ArcGIS's PATTERN field), for logs and tests.
PATTERN_NAMES: dict[int, str] = {
    NO_PATTERN: "No Pattern Detected",
    **{
        k: f"{n} Hot Spot"
        for k, n in zip(
            range(1, 9),
            (
                "New",
                "Consecutive",
                "Intensifying",
                "Persistent",
                "Diminishing",
                "Sporadic",
                "Oscillating",
                "Historical",
            ),
        )
    },
}
PATTERN_NAMES.update({-k: v.replace("Hot", "Cold") for k, v in list(PATTERN_NAMES.items()) if k > 0})

#: Columns of the ``emerging`` archive layer (besides geometry).
LAYER_COLUMNS = [
    "cell_id",
    "pattern",
    "pattern_code",
    "hot_weeks",
    "cold_weeks",
    "trend_z",
    "trend_p",
    "final_z",
    "n_events",
    "place_name",
    "area",
]


class TooFewWeeks(ValueError):
    """Fewer than :data:`MIN_WEEKS` weeks of data: emerging hot spots cannot be classified."""


@dataclass(frozen=True)
class EmergingResult:
    """Result per analysed cell (``m`` cells, ``T`` weeks, week 0 oldest).

    ``rows``/``cols`` locate cell ``k`` on ``grid`` (row 0 south); ``counts``, ``gi_z``,
    ``gi_p`` (two-sided), ``gi_q`` (FDR-adjusted per week), ``hot`` and ``cold`` are ``[T, m]``;
    ``trend_z``, ``trend_p``, ``pattern`` (codes), ``hot_weeks``, ``cold_weeks``, ``n_events`` are ``[m]``.
    """

    grid: Grid
    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray
    gi_z: np.ndarray
    gi_p: np.ndarray
    gi_q: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    trend_z: np.ndarray
    trend_p: np.ndarray
    pattern: np.ndarray
    hot_weeks: np.ndarray
    cold_weeks: np.ndarray
    n_events: np.ndarray
    distance_m: float
    alpha: float

    @staticmethod
    def label_of(codes) -> np.ndarray:
        """Swedish labels of pattern codes."""
        return np.array([PATTERN_LABELS[int(c)] for c in np.asarray(codes).ravel()], dtype=object)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates of the analysed cells."""
        xs, ys = self.grid.centres()
        return xs[self.cols], ys[self.rows]

    def polygons(self) -> np.ndarray:
        """Shapely boxes of the analysed cells."""
        c = self.grid.cell
        x = self.grid.x0 + self.cols * c
        y = self.grid.y0 + self.rows * c
        return shapely.box(x, y, x + c, y + c)


# -- the cube --------------------------------------------------------------------------------------
def disc_stencil(distance_m: float, cell: float) -> np.ndarray:
    """Binary stencil of the cell offsets whose centres are at most ``distance_m`` away.

    >>> disc_stencil(500, 250).astype(int).sum(), disc_stencil(100, 250).shape
    (np.int64(13), (1, 1))
    """
    if not (math.isfinite(distance_m) and distance_m >= 0):
        raise ValueError(f"distance_m must be >= 0 metres, got {distance_m!r}")
    r = int(math.floor(distance_m / cell + 1e-9))
    d = np.arange(-r, r + 1)
    # Tolerance: a neighbour exactly at distance_m (500 m = 2 cells of 250 m) is within it.
    return (d[:, None] ** 2 + d[None, :] ** 2) * cell**2 <= distance_m**2 * (1 + 1e-12)


def bin_counts(points, week_index, n_weeks: int, grid: Grid) -> np.ndarray:
    """Events per week and cell, ``int64 [T, ny, nx]`` (points outside the grid or the weeks dropped)."""
    row, col, inside = grid.cell_index(points)
    wk = np.asarray(week_index, dtype=np.int64)
    ok = inside & (wk >= 0) & (wk < n_weeks)
    flat = (wk[ok] * grid.ny + row[ok]) * grid.nx + col[ok]
    cube = np.bincount(flat, minlength=n_weeks * grid.ny * grid.nx)
    return cube.reshape(n_weeks, grid.ny, grid.nx).astype(np.int64)


def neighbourhood_sum(values: np.ndarray, stencil: np.ndarray) -> np.ndarray:
    """Exact integer sum of ``values`` (``int [..., ny, nx]``) over the stencil around each cell.

    Small stencils: shifted adds (scipy.ndimage, integer arithmetic). Large ones: FFT
    convolution rounded to the nearest integer, which is exact while the sums stay far below
    2**52 (the FFT's error is then orders of magnitude below 0.5).
    """
    values = np.asarray(values, dtype=np.int64)
    k = stencil.astype(np.int64)
    k = k.reshape((1,) * (values.ndim - 2) + k.shape)
    if stencil.sum() <= DIRECT_STENCIL_MAX:
        return ndimage.correlate(values, k, mode="constant", cval=0)
    axes = (values.ndim - 2, values.ndim - 1)
    out = signal.fftconvolve(values.astype(np.float64), k.astype(np.float64), mode="same", axes=axes)
    return np.rint(out).astype(np.int64)


def gi_star(counts: np.ndarray, cells: np.ndarray, stencil: np.ndarray) -> np.ndarray:
    """Space-time Gi\\* z-scores ``[T, m]`` of the analysed ``cells`` (bool ``[ny, nx]``).

    ``counts`` is ``int [T, ny, nx]``; only analysed cells are bins. Where the statistic is
    undefined (every bin equal, or a bin neighbouring every bin) z is 0.
    """
    cells = np.asarray(cells, dtype=bool)
    x = np.where(cells[None], counts, 0).astype(np.int64)
    spatial = neighbourhood_sum(x, stencil)  # [T, ny, nx]
    w_spatial = neighbourhood_sum(cells.astype(np.int64), stencil)[cells]  # [m]
    lagged = spatial[:, cells]  # [T, m]
    sum_wx = lagged.copy()
    sum_wx[1:] += lagged[:-1]  # + the previous week's bins
    w = np.broadcast_to(w_spatial * 2, sum_wx.shape).copy()
    w[0] = w_spatial  # first week: no previous week
    xs = x[:, cells].astype(np.float64)
    n = xs.size
    mean = xs.sum() / n
    std = math.sqrt(max((xs**2).sum() / n - mean**2, 0.0))
    w = w.astype(np.float64)
    denom = std * np.sqrt(np.maximum(n * w - w**2, 0.0) / (n - 1)) if n > 1 else np.zeros_like(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (sum_wx - mean * w) / denom
    z[~np.isfinite(z)] = 0.0
    return z


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of z-scores."""
    return 2.0 * stats.norm.sf(np.abs(z))


def fdr_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values along the last axis (each row its own family).

    Equals ``scipy.stats.false_discovery_control(p, method="bh")`` row by row.
    """
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), axis=-1)
    return out


# -- trend -----------------------------------------------------------------------------------------
def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend test of each row of ``series`` (``[m, T]``, time along axis 1).

    Returns ``(z, p, s)``: z with continuity correction and the ties-corrected variance,
    two-sided p. A constant series has z = 0, p = 1 (as pymannkendall's ``original_test``,
    which the tests compare against).

    >>> z, p, s = mann_kendall(np.array([[1.0, 2, 3, 4, 5, 6, 7, 8]]))
    >>> int(s[0]), round(float(z[0]), 3), round(float(p[0]), 5)
    (28, 3.34, 0.00084)
    """
    x = np.atleast_2d(np.asarray(series, dtype=np.float64))
    m, t = x.shape
    s = np.zeros(m, dtype=np.int64)
    for i in range(t - 1):
        s += np.sign(x[:, i + 1 :] - x[:, i : i + 1]).astype(np.int64).sum(axis=1)
    var = (t * (t - 1) * (2 * t + 5) - _tie_term(x)) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(var), 0.0)
    return z, two_sided_p(z), s


def _tie_term(x: np.ndarray) -> np.ndarray:
    """``Σ t(t − 1)(2t + 5)`` over the groups of tied values of each row."""
    m, t = x.shape
    srt = np.sort(x, axis=1)
    starts = np.ones((m, t), dtype=bool)
    starts[:, 1:] = srt[:, 1:] != srt[:, :-1]
    group = np.cumsum(starts, axis=1) - 1
    sizes = np.bincount((np.arange(m)[:, None] * t + group).ravel(), minlength=m * t).reshape(m, t)
    return (sizes * (sizes - 1) * (2 * sizes + 5)).sum(axis=1).astype(np.float64)


# -- classification --------------------------------------------------------------------------------
def classify(
    hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, alpha: float = ALPHA
) -> np.ndarray:
    """Pattern code of each cell (rules in the module docstring).

    ``hot``/``cold`` are bool ``[T, m]`` (significant hot/cold bins, week 0 oldest); trend from
    :func:`mann_kendall` on the Gi\\* z-series.

    >>> hot = np.array([[0], [0], [0], [0], [0], [0], [0], [1]], dtype=bool)
    >>> classify(hot, np.zeros_like(hot), np.array([1.0]), np.array([0.5])).tolist()
    [1]
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    if hot.shape != cold.shape or hot.ndim != 2:
        raise ValueError(f"hot and cold must be bool [T, m] of one shape, got {hot.shape} and {cold.shape}")
    significant = np.asarray(trend_p) < alpha
    up = significant & (np.asarray(trend_z) > 0)
    down = significant & (np.asarray(trend_z) < 0)
    # The two families never both apply to a cell (rule (a)), so adding them is a merge.
    return _family(hot, cold, rising=up, falling=down) - _family(cold, hot, rising=down, falling=up)


def _family(own: np.ndarray, other: np.ndarray, rising: np.ndarray, falling: np.ndarray) -> np.ndarray:
    """Codes 1..8 of one family (hot, or cold with the roles swapped); 0 where none applies.

    ``rising`` is a significant trend towards stronger clustering of this family's kind.
    """
    n_weeks = own.shape[0]
    final = own[-1]
    n_own = own.sum(axis=0)
    mostly = n_own >= SHARE * n_weeks - 1e-9
    run = _final_run(own)
    other_before = other[:-1].any(axis=0)
    # Order matters: each np.select condition takes the cells the earlier ones left.
    return np.select(
        [
            final & mostly & rising,
            final & mostly & falling,
            final & mostly,
            final & (n_own == 1),
            final & (run >= 2) & (n_own == run),
            final & other_before,
            final,
            ~final & mostly & ~other[-1],
        ],
        [INTENSIFYING, DIMINISHING, PERSISTENT, NEW, CONSECUTIVE, OSCILLATING, SPORADIC, HISTORICAL],
        default=NO_PATTERN,
    )


def _final_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True that ends in the final week, per cell (``flags`` is ``[T, m]``)."""
    n_weeks = flags.shape[0]
    off = ~flags[::-1]  # newest first
    first_off = np.where(off.any(axis=0), off.argmax(axis=0), n_weeks)
    return first_off


# -- the whole analysis ----------------------------------------------------------------------------
def analysed_cells(grid: Grid, counts: np.ndarray, study_area=None) -> np.ndarray:
    """Bool ``[ny, nx]``: cells holding any event (over all weeks) that touch ``study_area``."""
    cells = counts.sum(axis=0) > 0
    if study_area is not None:
        rows, cols = np.nonzero(cells)
        c = grid.cell
        x, y = grid.x0 + cols * c, grid.y0 + rows * c
        cells[rows, cols] = shapely.intersects(shapely.box(x, y, x + c, y + c), study_area)
    return cells


def emerging_hot_spots(
    points, week_index, n_weeks: int, grid: Grid, distance_m: float, study_area=None, alpha: float = ALPHA
) -> EmergingResult:
    """Emerging hot spot analysis of events at ``points`` (``(n, 2)`` EPSG:3006 metres).

    ``week_index`` gives each event's week, 0 (oldest) .. ``n_weeks − 1`` (the final week);
    ``study_area`` (shapely, EPSG:3006) limits the analysed cells (see the module docstring).
    Raises :class:`TooFewWeeks` below :data:`MIN_WEEKS` weeks.
    """
    if n_weeks < MIN_WEEKS:
        raise TooFewWeeks(f"emerging hot spots need at least {MIN_WEEKS} weeks, got {n_weeks}")
    counts = bin_counts(points, week_index, n_weeks, grid)
    cells = analysed_cells(grid, counts, study_area)
    rows, cols = np.nonzero(cells)
    gi_z = gi_star(counts, cells, disc_stencil(distance_m, grid.cell))
    gi_p = two_sided_p(gi_z)
    gi_q = fdr_adjust(gi_p) if gi_p.shape[1] else gi_p
    hot = (gi_z > 0) & (gi_q <= alpha)
    cold = (gi_z < 0) & (gi_q <= alpha)
    trend_z, trend_p, _ = mann_kendall(gi_z.T)
    cell_counts = counts[:, rows, cols]
    return EmergingResult(
        grid=grid,
        rows=rows,
        cols=cols,
        counts=cell_counts,
        gi_z=gi_z,
        gi_p=gi_p,
        gi_q=gi_q,
        hot=hot,
        cold=cold,
        trend_z=trend_z,
        trend_p=trend_p,
        pattern=classify(hot, cold, trend_z, trend_p, alpha),
        hot_weeks=hot.sum(axis=0),
        cold_weeks=cold.sum(axis=0),
        n_events=cell_counts.sum(axis=0),
        distance_m=float(distance_m),
        alpha=float(alpha),
    )


# -- the product -----------------------------------------------------------------------------------
#: run_info keys the product writes (the report reads them back).
STATUS_KEY, WEEKS_KEY, FIRST_KEY = "emerging_status", "emerging_weeks", "emerging_first_week"
STATUS_OK, STATUS_TOO_FEW = "ok", "too_few_weeks"


def build_emerging(inp: ProductInput) -> ProductOutput:
    """The ``emerging`` product: the last ``emerging.weeks`` ISO weeks up to ``inp.week``.

    The cube starts at the first week of the window that has any event (a window reaching
    back before the data began would count the missing weeks as quiet ones). With fewer than
    :data:`MIN_WEEKS` weeks the layer is empty and run_info says so. Protected and duplicate
    events are left out (``privacy.spatial_events``): they must not shape a published surface.
    """
    cfg = inp.cfg.emerging
    weeks = data_weeks(inp.events, inp.week, cfg.weeks)
    info = {
        WEEKS_KEY: str(len(weeks)),
        FIRST_KEY: weeks[0] if weeks else "",
        "emerging_cell_m": f"{cfg.cell_m:g}",
        "emerging_distance_m": f"{cfg.distance_m:g}",
        "emerging_alpha": f"{ALPHA:g}",
    }
    if len(weeks) < MIN_WEEKS:
        return ProductOutput({"emerging": empty_layer()}, {**info, STATUS_KEY: STATUS_TOO_FEW})
    events = spatial_events(inp.events)
    x, y = coordinates(events)  # NaN for an empty or missing point
    keep = events["iso_week"].astype(str).isin(weeks).to_numpy() & np.isfinite(x) & np.isfinite(y)
    pts = np.column_stack([x[keep], y[keep]])
    index = events["iso_week"].astype(str)[keep].map({w: i for i, w in enumerate(weeks)}).to_numpy(int)
    boundary = getattr(inp.reference, "boundary", None)
    grid = Grid.anchored(_bounds(boundary, pts), cfg.cell_m)
    res = emerging_hot_spots(pts, index, len(weeks), grid, cfg.distance_m, study_area=boundary)
    layer = emerging_layer(res, getattr(inp.reference, "gazetteer", None), getattr(inp.reference, "areas", None))
    return ProductOutput({"emerging": layer}, {**info, STATUS_KEY: STATUS_OK, "emerging_cells": str(len(res.rows))})


def data_weeks(events, week: str, n_weeks: int) -> list[str]:
    """The weeks of the ``n_weeks`` window ending at ``week`` from the first one with any event."""
    window = rolling_window(week, n_weeks)
    present = [w for w in weeks_present(events) if window[0] <= w <= week]
    return weeks_between(present[0], week) if present else []


def _bounds(boundary, pts: np.ndarray) -> tuple[float, float, float, float]:
    """Bounds of the study area and the events together (an event never falls off the grid)."""
    boxes = [boundary.bounds] if boundary is not None and not boundary.is_empty else []
    if len(pts):
        boxes.append((*pts.min(axis=0), *pts.max(axis=0)))
    if not boxes:
        return (0.0, 0.0, 1.0, 1.0)
    b = np.array(boxes, dtype=float)
    return (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())


def empty_layer() -> gpd.GeoDataFrame:
    """The ``emerging`` layer with its columns and no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype=_LAYER_DTYPES[c]) for c in LAYER_COLUMNS})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)


_LAYER_DTYPES = {
    "cell_id": "string",
    "pattern": "string",
    "pattern_code": "int64",
    "hot_weeks": "int64",
    "cold_weeks": "int64",
    "trend_z": "float64",
    "trend_p": "float64",
    "final_z": "float64",
    "n_events": "int64",
    "place_name": "string",
    "area": "string",
}


def emerging_layer(res: EmergingResult, gazetteer=None, areas=None) -> gpd.GeoDataFrame:
    """The archive layer: one polygon per analysed cell that has events or a pattern.

    ``cell_id`` is the lower-left corner (``E506750N6465000``): the grid is anchored, so a cell
    keeps its id from week to week. ``place_name``: nearest named place or street within 300 m
    (gazetteer); ``area``: the named area containing the cell's centre ("" for none).
    """
    keep = (res.n_events > 0) | (res.pattern != NO_PATTERN)
    if not keep.any():
        return empty_layer()
    rows, cols = res.rows[keep], res.cols[keep]
    cx, cy = res.centres()
    cx, cy = cx[keep], cy[keep]
    c = res.grid.cell
    x0, y0 = res.grid.x0 + cols * c, res.grid.y0 + rows * c
    names = gazetteer.nearest_names(cx, cy) if gazetteer is not None else [None] * len(cx)
    frame = pd.DataFrame(
        {
            "cell_id": [f"E{x:.0f}N{y:.0f}" for x, y in zip(x0, y0)],
            "pattern": res.label_of(res.pattern[keep]),
            "pattern_code": res.pattern[keep].astype(np.int64),
            "hot_weeks": res.hot_weeks[keep].astype(np.int64),
            "cold_weeks": res.cold_weeks[keep].astype(np.int64),
            "trend_z": res.trend_z[keep],
            "trend_p": res.trend_p[keep],
            "final_z": res.gi_z[-1, keep],
            "n_events": res.n_events[keep].astype(np.int64),
            "place_name": [n or "" for n in names],
            "area": area_names(areas, cx, cy),
        }
    ).astype(_LAYER_DTYPES)
    return gpd.GeoDataFrame(frame, geometry=shapely.box(x0, y0, x0 + c, y0 + c), crs=CRS)


def area_names(areas, xs, ys) -> list[str]:
    """Name of the named area containing each point ("" outside every area, or without areas)."""
    if areas is None or not len(areas):
        return [""] * len(xs)
    pts = gpd.GeoSeries(shapely.points(xs, ys), crs=CRS)
    hits = gpd.sjoin(
        gpd.GeoDataFrame(geometry=pts), areas[["name", "geometry"]].to_crs(CRS), how="left", predicate="within"
    )
    first = hits[~hits.index.duplicated(keep="first")].sort_index()
    return [str(n) if isinstance(n, str) else "" for n in first["name"]]
