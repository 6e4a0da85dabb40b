"""Where next week's events are likely (*prognos*): a time-weighted kernel density whose
settings a rolling-origin backtest on the data's own history chooses.

One week's hotspots describe that week; they predict the next one poorly. Measured on real
data, a surface built from many weeks, weighted towards recent ones, predicts far better, and
which window, decay and bandwidth are best differs from place to place. So the settings are
not configured: every run scores a list of candidate settings on the weeks it already has
(each past week predicted only from the weeks before it) and keeps the one with the highest
mean PAI at the configured area share (``forecast.select_level``). With fewer than
``forecast.min_weeks`` weeks of history it says so and uses :func:`default_setting`.

The surface of a :class:`Setting` for week ``i`` (built from weeks ``< i`` only):

- **long term**: each event of the ``window_weeks`` weeks before ``i`` (all of them when
  None) weighs ``0.5 ** (age / half_life_weeks)`` (age 0 = the latest week; 1 when there is no
  decay), smoothed with a quartic kernel of ``bandwidth_m``;
- **short term** (near repeat): the events of the last ``short_weeks`` weeks, unweighted,
  smoothed with ``short_bandwidth_m``;
- the forecast is ``(1 − short_share) · L/ΣL + short_share · S/ΣS``, scaled to the mean
  number of events per week of the last ``short_weeks`` weeks and divided by the cell area:
  expected events per km² next week.

Computation (why it is fast enough to backtest hundreds of candidate-weeks): events are binned
once to the cells of the analysis grid (the density's grid), so every time weighting is one
weighted ``bincount`` and every bandwidth one FFT convolution with the kernel sampled at
cell-centre offsets and normalised to sum 1 (a bandwidth of one cell or less is the plain cell
count). Binning moves an event at most half a cell; the surface the backtest scores is exactly
the surface that is published. Work is confined to the bounding box of the events plus the
kernel's reach (outside it every surface is exactly zero), which keeps a small town's weeks on
a municipality-wide grid cheap.

Candidates (:func:`candidate_settings`) are built from the data's own scales, never from
constants fitted to one city: bandwidths in multiples of the cell and of the events' typical
nearest-neighbour distance within a week, windows in weeks relative to the history available.

>>> fc = forecast_next_week(points, "2026-W47", grid, mask, cfg.forecast)   # doctest: +SKIP
>>> fc.setting, fc.chosen_by                                               # doctest: +SKIP
(Setting(bandwidth_m=100.0, window_weeks=None, half_life_weeks=13.0, ...), 'backtest')
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio import features
from scipy import fft as sfft
from scipy import ndimage
from scipy.spatial import cKDTree
from shapely.geometry import shape

from pipeline.analysis.grid import Grid, Surface, clip_mask
from pipeline.analysis.weeks import next_weeks, positions_in, weeks_between, weeks_present
from pipeline.evaluation.accuracy import SCORE_FIELDS, Target, target_lookup, top_k_cells, top_k_scores
from pipeline.memo import digest, memoized
from pipeline.privacy import spatial_events
from pipeline.products import ProductOutput
from pipeline.schema import CRS, coordinates

#: Values below this fraction of a surface's maximum are (single-precision) FFT round-off and
#: set to exactly 0, so cells no event reaches tie at zero (ranked by cell position, as documented).
ROUND_OFF = 1e-6
#: Weeks whose events set the data's own distance scale (median of the weekly mean NN distance).
NN_WEEKS = 52
#: Spread kernels directly (exact) when occupied cells × kernel cells is at most this; else FFT.
SPARSE_PAIRS = 40_000
#: Last week's k-th value times this is where this week's top-k search starts (exact either way).
HINT_MARGIN = 0.8
#: Two candidate bandwidths closer than this (relative) are one candidate.
SAME_BANDWIDTH = 0.1


@dataclass(frozen=True)
class Setting:
    """One candidate forecast; see the module docstring for what each field does."""

    bandwidth_m: float
    window_weeks: int | None = None
    half_life_weeks: float | None = None
    short_share: float = 0.0
    short_weeks: int = 4
    short_bandwidth_m: float | None = None

    def __post_init__(self):
        if not (self.bandwidth_m > 0 and math.isfinite(self.bandwidth_m)):
            raise ValueError(f"bandwidth_m must be a positive number of metres, got {self.bandwidth_m!r}")
        if self.window_weeks is not None and self.window_weeks < 1:
            raise ValueError(f"window_weeks must be >= 1 or None (all weeks), got {self.window_weeks!r}")
        if self.half_life_weeks is not None and not self.half_life_weeks > 0:
            raise ValueError(f"half_life_weeks must be > 0 or None (no decay), got {self.half_life_weeks!r}")
        if not 0 <= self.short_share < 1:
            raise ValueError(f"short_share must be in [0, 1), got {self.short_share!r}")
        if self.short_weeks < 1:
            raise ValueError(f"short_weeks must be >= 1, got {self.short_weeks!r}")

    @property
    def short_h(self) -> float:
        return self.short_bandwidth_m if self.short_bandwidth_m is not None else self.bandwidth_m

    @property
    def weighting(self) -> tuple[int | None, float | None]:
        return (self.window_weeks, self.half_life_weeks)

    def label(self) -> str:
        """Compact, stable name for tables and run_info.

        >>> Setting(150, None, 52, 0.25, 4, 300).label()
        'h150_all_hl52_s0.25x4w_h300'
        """
        text = f"h{self.bandwidth_m:g}_{'all' if self.window_weeks is None else f'{self.window_weeks}w'}"
        if self.half_life_weeks is not None:
            text += f"_hl{self.half_life_weeks:g}"
        if self.short_share > 0:
            text += f"_s{self.short_share:g}x{self.short_weeks}w_h{self.short_h:g}"
        return text

    def as_info(self) -> dict[str, str]:
        """The setting as run_info strings (empty string = none / all)."""
        return {k: "" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for k, v in asdict(self).items()}


@dataclass
class Forecast:
    """The forecast for the week after ``week`` and how its setting was chosen."""

    week: str  # the last week of events it was built from
    values: np.ndarray  # expected events per km² next week, (ny, nx), row 0 south
    grid: Grid
    setting: Setting
    chosen_by: str  # "backtest" or "default" (too little history)
    history_weeks: int  # weeks from the first week with events up to ``week``
    nn_distance_m: float  # the data's own distance scale used for candidate bandwidths
    backtest: pd.DataFrame = field(default_factory=pd.DataFrame)  # per candidate: mean scores
    weights: dict[str, float] = field(default_factory=dict)  # week -> long-term weight
    record: pd.DataFrame = field(default_factory=pd.DataFrame)  # recent weekly forecasts, scored


# -- candidates ---------------------------------------------------------------------------------
def default_setting(opts, cell: float, bandwidth_m: float | None = None) -> Setting:
    """The setting used when there is too little history to choose one (documented default):
    every week so far, no decay, no short-term part, the density's bandwidth (or
    ``forecast.default_bandwidth_cells`` cells when that is not a number).

    >>> default_setting(_Opts(), 50).label()
    'h150_all'
    """
    h = bandwidth_m if bandwidth_m is not None else opts.default_bandwidth_cells * cell
    return Setting(float(max(h, cell)), None, None, 0.0, opts.short_weeks)


def candidate_settings(opts, cell: float, nn_distance_m: float, history_weeks: int) -> list[Setting]:
    """The candidate list, from the data's own scales (see the module docstring).

    Windows at least as long as the history are the same as "all weeks" and are left out;
    so are half-lives at least as long as the history (almost no decay). Order: time
    weighting, then bandwidth, then short-term share; the first of equally good candidates
    wins, so simpler settings come first.

    >>> [s.label() for s in candidate_settings(_Opts(), 100, 400, 30)][:3]
    ['h100_1w', 'h100_1w_s0.25x4w_h200', 'h150_1w']
    """
    bandwidths = candidate_bandwidths(opts, cell, nn_distance_m)
    weightings = [(w, None) for w in opts.windows_weeks if w < history_weeks]
    weightings += [(None, None)]
    weightings += [(None, float(t)) for t in opts.half_lives_weeks if t < history_weeks]
    shares = sorted(set(float(s) for s in opts.short_shares) | {0.0})
    out = []
    for window, half_life in weightings:
        for h in bandwidths:
            for share in shares:
                short_h = _short_bandwidth(h, opts, cell) if share > 0 else None
                out.append(Setting(h, window, half_life, share, opts.short_weeks, short_h))
    return out


def candidate_bandwidths(opts, cell: float, nn_distance_m: float) -> list[float]:
    """Multiples of the cell, then multiples of the NN distance rounded to half cells (so the
    list stays the same from week to week), at least one cell, no near-repeats.

    >>> candidate_bandwidths(_Opts(), 100, 390)
    [100.0, 150.0, 200.0, 300.0, 400.0]
    """
    wanted = [m * cell for m in opts.bandwidth_cells]
    if math.isfinite(nn_distance_m) and nn_distance_m > 0:
        wanted += [round(m * nn_distance_m / (cell / 2)) * (cell / 2) for m in opts.bandwidth_nn]
    out: list[float] = []
    for h in wanted:
        h = round(max(float(h), cell), 1)
        if h <= opts.max_bandwidth_cells * cell and all(abs(h - o) > SAME_BANDWIDTH * o for o in out):
            out.append(h)
    return sorted(out)


def largest_bandwidth(settings) -> float:
    """The widest kernel any of ``settings`` uses, in metres (the crop's margin)."""
    return max(max(s.bandwidth_m, s.short_h if s.short_share > 0 else 0.0) for s in settings)


def _short_bandwidth(h: float, opts, cell: float) -> float:
    """Short-term (near-repeat) bandwidth: ``short_bandwidth_factor`` × the long-term one."""
    return round(min(h * opts.short_bandwidth_factor, opts.max_bandwidth_cells * cell), 1)


def nn_distance(xy: np.ndarray, week_index: np.ndarray, last_weeks: int = NN_WEEKS, memo=None) -> float:
    """The data's own distance scale: median over the last ``last_weeks`` weeks of the mean
    distance from each event to its nearest other event of the same week (NaN if no week has
    two events). ``memo`` (pipeline.memo) keeps each week's mean, keyed by its points.

    >>> nn_distance(np.array([[0, 0], [0, 30.0], [500, 0], [500, 40]]), np.array([0, 0, 1, 1]))
    35.0
    """
    if len(xy) < 2:
        return math.nan
    xy, week_index = np.asarray(xy, dtype=np.float64), np.asarray(week_index)
    if np.any(np.diff(week_index) < 0):
        order = np.argsort(week_index, kind="stable")
        xy, week_index = xy[order], week_index[order]
    weeks = np.unique(week_index[week_index >= week_index[-1] - last_weeks + 1])
    starts, ends = np.searchsorted(week_index, weeks), np.searchsorted(week_index, weeks, side="right")
    means = []
    for a, b in zip(starts, ends):
        if b - a >= 2:
            pts = xy[a:b]
            means.append(memoized(memo, ("nn mean", pts), lambda pts=pts: _mean_nn(pts)))
    return float(np.median(means)) if means else math.nan


def _mean_nn(pts: np.ndarray) -> float:
    """Mean distance from each point to its nearest other point."""
    d, _ = cKDTree(pts).query(pts, k=2)
    return float(d[:, 1].mean())


# -- the history: events binned once -----------------------------------------------------------
class History:
    """Events of consecutive ISO weeks binned to the cells of ``grid``, cropped to where they are.

    ``weeks`` are every ISO week from the first event's to ``last_week`` (weeks without events
    included: they still age the others). Week ``i``'s forecast reads weeks ``< i`` only;
    ``i = len(weeks)`` is the week after the last one. ``mask`` marks the study cells (where
    events are scored and zones drawn); events outside it still shape the surface.
    """

    def __init__(self, xy, weeks, grid: Grid, mask, reach_m: float, last_week: str | None = None):
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        weeks = weeks if isinstance(weeks, pd.Series) else pd.Series(np.asarray(weeks), copy=False)
        self.grid, self.mask = grid, np.asarray(mask, dtype=bool)
        if self.mask.shape != grid.shape:
            raise ValueError(f"mask must have the grid's shape {grid.shape}, got {self.mask.shape}")
        present = weeks_present(pd.DataFrame({"iso_week": weeks}))
        last = last_week or (present[-1] if present else None)
        self.weeks = weeks_between(present[0], last) if present else ([last] if last else [])
        week_idx = positions_in(weeks, self.weeks)
        keep = week_idx >= 0  # weeks after ``last_week`` are never read
        row, col, inside = grid.cell_index(xy) if len(xy) else (np.zeros(0, int),) * 2 + (np.zeros(0, bool),)
        keep &= inside
        self.n_dropped = int(len(xy) - keep.sum())
        week_idx = week_idx.astype(np.int64, copy=False)
        if self.n_dropped or (np.diff(week_idx) < 0).any():
            # one gather per array; a history read from the store is complete and in week
            # order, and is taken as it is (copying millions of rows cost a national run ~1 s)
            kept = np.flatnonzero(keep)
            kept = kept[np.argsort(week_idx[kept], kind="stable")]
            week_idx, row, col, xy = week_idx[kept], row[kept], col[kept], xy[kept]
        self.event_week, self.event_row, self.event_col, self.event_xy = week_idx, row, col, xy
        self._week_start = np.searchsorted(self.event_week, np.arange(len(self.weeks) + 1))
        self.set_reach(reach_m)

    def set_reach(self, reach_m: float) -> None:
        """Lay the crop out for kernels up to ``reach_m`` metres (the largest bandwidth used)."""
        self._init_crop(self.event_row, self.event_col, reach_m)
        self.event_cell = (self.event_row - self.r0) * self.ncx + (self.event_col - self.c0)
        self._init_study_cells()

    # -- layout ---------------------------------------------------------------------------------
    def _init_crop(self, row, col, reach_m):
        """Crop = the events' bounding box plus the kernel reach, clipped to the grid."""
        g = self.grid
        self.reach = int(math.ceil(reach_m / g.cell)) + 1
        if len(row):
            self.r0, self.r1 = max(0, row.min() - self.reach), min(g.ny, row.max() + self.reach + 1)
            self.c0, self.c1 = max(0, col.min() - self.reach), min(g.nx, col.max() + self.reach + 1)
        else:
            self.r0, self.r1, self.c0, self.c1 = 0, 1, 0, 1
        self.ncy, self.ncx = int(self.r1 - self.r0), int(self.c1 - self.c0)
        # Cyclic FFT convolution never wraps into cells we read when padded by the reach.
        self.fft_shape = (
            sfft.next_fast_len(self.ncy + self.reach, real=True),
            sfft.next_fast_len(self.ncx + self.reach, real=True),
        )

    def _init_study_cells(self):
        """Study-cell positions (row-major rank among all mask cells) of the crop's mask cells."""
        flat = self.mask.ravel()
        self.n_study = int(flat.sum())
        rank = np.cumsum(flat) - 1
        crop_mask = self.mask[self.r0 : self.r1, self.c0 : self.c1]
        rows, cols = np.nonzero(crop_mask)
        self.crop_mask = crop_mask
        self._study_flat = np.flatnonzero(crop_mask)
        self.crop_positions = rank[(rows + self.r0) * self.grid.nx + cols + self.c0]
        in_mask = self.mask[self.event_row, self.event_col]
        self.event_position = np.where(in_mask, rank[self.event_row * self.grid.nx + self.event_col], -1)

    def context_digests(self) -> list[str]:
        """Per week ``i``: a digest of everything week ``i``'s scores are computed from — the
        cells of the events of every week up to ``i`` (in order, so ages are fixed), the grid,
        the study mask and the crop — the memo key of its scores (pipeline.memo)."""
        layout = digest(self.grid, self.mask, self.r0, self.r1, self.c0, self.c1, self.reach, self.fft_shape)
        out, chain = [], layout
        for a, b in zip(self._week_start[:-1], self._week_start[1:]):
            chain = digest(chain, self.event_row[a:b], self.event_col[a:b])
            out.append(chain)
        return out

    # -- inputs per week -------------------------------------------------------------------------
    def target(self, i: int) -> Target:
        """Week ``i``'s events on the study cells."""
        a, b = self._week_start[i], self._week_start[i + 1]
        pos = self.event_position[a:b]
        return Target.from_positions(pos[pos >= 0])

    def weekly_counts(self) -> np.ndarray:
        """Events per week (all of them, inside the grid)."""
        return np.diff(self._week_start)

    def weights(self, i: int, window: int | None, half_life: float | None) -> np.ndarray:
        """Weight of each week ``< i`` (index = week) in the long-term surface of week ``i``."""
        ages = (i - 1) - np.arange(i)
        w = np.ones(i) if half_life is None else 0.5 ** (ages / half_life)
        if window is not None:
            w[ages >= window] = 0.0
        return w

    def binned(self, i: int, window: int | None, half_life: float | None) -> tuple[np.ndarray, float]:
        """Weighted event counts per crop cell from the weeks before ``i``, and their total."""
        first = 0 if window is None else max(0, i - window)
        a, b = self._week_start[first], self._week_start[i]
        if b == a:
            return np.zeros((self.ncy, self.ncx)), 0.0
        weeks = self.event_week[a:b]
        w = None if half_life is None else self.weights(i, None, half_life)[weeks]  # per week, then per event
        counts = np.bincount(self.event_cell[a:b], w, self.ncy * self.ncx).reshape(self.ncy, self.ncx)
        return counts, float(b - a if w is None else w.sum())

    # -- surfaces --------------------------------------------------------------------------------
    def smooth(self, counts, bandwidth: float, spectrum=None, occupied=None, study: bool = False) -> np.ndarray:
        """``counts`` convolved with the quartic kernel sampled at cell offsets (sum 1).

        Few occupied cells (short windows): each spreads its kernel directly, exactly. Many:
        one FFT product with the kernel's spectrum, in single precision (four times faster
        than double); its round-off, ~1e-7 of the maximum, is cleared to exact zeros below
        ``ROUND_OFF``. ``spectrum`` is a callable returning rfft2 of ``counts`` (cached by
        the caller, as every bandwidth shares it); ``occupied`` the flat indices of the
        non-zero cells, if known. ``study=True``: only the values at the study cells.
        """
        out, from_fft = self._convolve(counts, bandwidth, spectrum, occupied)
        if study:
            out = self.study_values(out)
        if from_fft:
            out[out < ROUND_OFF * max(float(out.max(initial=0.0)), 0.0)] = 0.0
        return out

    def _convolve(self, counts, bandwidth: float, spectrum, occupied) -> tuple[np.ndarray, bool]:
        if bandwidth <= self.grid.cell:
            return counts.astype(np.float32), False  # sampled at cell centres: the centre alone
        dr, dc, k = _kernel_stencil(float(bandwidth), self.grid.cell)
        occupied = np.flatnonzero(counts) if occupied is None else occupied
        if occupied.size * k.size <= SPARSE_PAIRS:
            return self._spread(counts.ravel()[occupied], occupied, dr, dc, k), False
        spec = spectrum() if spectrum is not None else self.spectrum(counts)
        kspec = _kernel_spectrum(float(bandwidth), self.grid.cell, self.fft_shape)
        return sfft.irfft2(spec * kspec, s=self.fft_shape)[: self.ncy, : self.ncx], True

    def _spread(self, weights, occupied, dr, dc, k) -> np.ndarray:
        r, c = np.divmod(occupied, self.ncx)
        rr, cc = r[:, None] + dr[None, :], c[:, None] + dc[None, :]
        ok = (rr >= 0) & (rr < self.ncy) & (cc >= 0) & (cc < self.ncx)
        vals = (weights[:, None] * k[None, :])[ok]
        out = np.bincount((rr * self.ncx + cc)[ok], vals, self.ncy * self.ncx)
        return out.reshape(self.ncy, self.ncx).astype(np.float32)

    def spectrum(self, counts) -> np.ndarray:
        return sfft.rfft2(counts.astype(np.float32), s=self.fft_shape)

    def surface(self, i: int, setting: Setting) -> tuple[np.ndarray, float]:
        """Normalised surface (sums to 1 over the crop when there are events) and the long-term
        total weight, for week ``i``; see :class:`SurfaceCache` for the fast path."""
        return SurfaceCache(self, i).surface(setting)

    def full_grid(self, crop_values: np.ndarray) -> np.ndarray:
        """Crop values placed on the whole grid (zeros elsewhere)."""
        out = np.zeros(self.grid.shape)
        out[self.r0 : self.r1, self.c0 : self.c1] = crop_values
        return out

    def study_values(self, crop_values: np.ndarray) -> np.ndarray:
        """Crop values at the crop's study cells (in ``crop_positions`` order)."""
        return np.take(crop_values.ravel(), self._study_flat)


class SurfaceCache:
    """Every surface of one target week, sharing binned grids, spectra and convolutions.

    ``study=True`` keeps only the values at the crop's study cells (what scoring needs),
    which makes mixing two parts cheap.
    """

    def __init__(self, history: History, i: int, study: bool = False):
        self.h, self.i, self.study = history, i, study
        self._binned: dict = {}
        self._spectra: dict = {}
        self._smoothed: dict = {}

    def _weighting(self, key):
        if key not in self._binned:
            counts, total = self.h.binned(self.i, *key)
            self._binned[key] = (counts, total, np.flatnonzero(counts))
        return self._binned[key]

    def _spectrum(self, key):
        if key not in self._spectra:
            self._spectra[key] = self.h.spectrum(self._weighting(key)[0])
        return self._spectra[key]

    def part(self, key, bandwidth: float) -> np.ndarray | None:
        """Normalised, smoothed surface of one time weighting (None when it has no events)."""
        if (key, bandwidth) not in self._smoothed:
            counts, total, occupied = self._weighting(key)
            if total <= 0:
                value = None
            else:
                value = self.h.smooth(counts, bandwidth, lambda: self._spectrum(key), occupied, self.study)
                value = value * np.float32(1.0 / total)
            self._smoothed[(key, bandwidth)] = value
        return self._smoothed[(key, bandwidth)]

    def surface(self, s: Setting) -> tuple[np.ndarray, float]:
        """The normalised surface of ``s`` and the long-term part's total weight."""
        long_part = self.part(s.weighting, s.bandwidth_m)
        total = self._weighting(s.weighting)[1]
        short_part = self.part((s.short_weeks, None), s.short_h) if s.short_share > 0 else None
        if long_part is None and short_part is None:
            shape = (len(self.h.crop_positions),) if self.study else (self.h.ncy, self.h.ncx)
            return np.zeros(shape, dtype=np.float32), 0.0
        if short_part is None or long_part is None:
            return (long_part if short_part is None else short_part), total
        m = np.float32(s.short_share)
        return (np.float32(1.0) - m) * long_part + m * short_part, total


@functools.lru_cache(maxsize=64)
def _kernel_stencil(bandwidth: float, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row offsets, column offsets and weights (sum 1) of the quartic kernel at cell offsets."""
    reach = int(math.floor(bandwidth / cell))
    off = np.arange(-reach, reach + 1)
    dr, dc = (a.ravel() for a in np.meshgrid(off, off, indexing="ij"))
    d2 = (dr * cell) ** 2.0 + (dc * cell) ** 2.0
    k = np.where(d2 < bandwidth**2, (1.0 - d2 / bandwidth**2) ** 2, 0.0)
    keep = k > 0
    return dr[keep], dc[keep], k[keep] / k[keep].sum()


@functools.lru_cache(maxsize=64)
def _kernel_spectrum(bandwidth: float, cell: float, shape: tuple[int, int]) -> np.ndarray:
    """rfft2 of the quartic kernel sampled at cell-centre offsets, normalised to sum 1, centred
    at (0, 0) with negative offsets wrapped (cyclic convolution)."""
    reach = int(math.floor(bandwidth / cell))
    off = np.arange(-reach, reach + 1) * cell
    d2 = off[None, :] ** 2 + off[:, None] ** 2
    k = np.where(d2 < bandwidth**2, (1.0 - d2 / bandwidth**2) ** 2, 0.0)
    k /= k.sum()
    arr = np.zeros(shape, dtype=np.float32)
    idx = np.arange(-reach, reach + 1)
    arr[np.ix_(idx % shape[0], idx % shape[1])] = k
    return sfft.rfft2(arr)


# -- scoring and choosing ------------------------------------------------------------------------
def score_candidates(history: History, candidates: list[Setting], targets, levels, memo=None) -> dict[str, np.ndarray]:
    """Score every candidate on every target week (each predicted only from weeks before it).

    Returns arrays ``[candidate, target, level]`` for each field of
    :data:`~pipeline.evaluation.accuracy.SCORE_FIELDS` (NaN for a week with no study events).
    ``memo`` keeps each (week, candidate) score under the digest of all it is computed from,
    so next week only the new target week is scored.
    """
    shape = (len(candidates), len(targets), len(levels))
    out = {f: np.full(shape, np.nan) for f in SCORE_FIELDS}
    hints = [None] * len(candidates)  # a candidate's surface changes little from week to week
    contexts = history.context_digests() if memo is not None and len(targets) else None
    for j, i in enumerate(targets):
        week = _TargetWeek(history, i, levels)
        for c, setting in enumerate(candidates):
            key = ("forecast scores", contexts[i] if contexts else None, levels, setting)
            scores = memoized(memo, key, lambda week=week, c=c, setting=setting: week.scores(setting, hints[c]))
            hints[c] = HINT_MARGIN * float(scores["threshold"].min())
            for f in SCORE_FIELDS:
                out[f][c, j] = scores[f]
    return out


class _TargetWeek:
    """One target week's scoring inputs, made when the first candidate is scored (a week
    whose every score is in the memo makes none)."""

    def __init__(self, history: History, i: int, levels):
        self.h, self.i, self.levels = history, i, levels
        self._made = None

    def scores(self, setting: Setting, hint) -> dict:
        if self._made is None:
            target = self.h.target(self.i)
            lookup = target_lookup(self.h.crop_positions, target)  # the same for every candidate
            self._made = (target, lookup, SurfaceCache(self.h, self.i, study=True))
        target, lookup, cache = self._made
        values, _ = cache.surface(setting)
        return top_k_scores(
            values, self.h.crop_positions, self.h.n_study, self.levels, target, hint=hint, lookup=lookup
        )


def best_candidate(pai: np.ndarray) -> int:
    """Index of the candidate with the highest mean PAI over the target weeks (``[cand, target]``);
    weeks without events are skipped; the first wins a tie."""
    valid = ~np.isnan(pai).all(axis=0)
    if not valid.any():
        return 0
    means = np.nanmean(pai[:, valid], axis=1)
    return int(np.argmax(np.where(np.isnan(means), -np.inf, means)))


@dataclass
class Scored:
    """Candidates scored on consecutive target weeks: what every selection is made from."""

    history: History
    candidates: list[Setting]
    targets: list[int]
    scores: dict[str, np.ndarray]  # field -> [candidate, target, level]
    levels: list[float]
    select: int  # index of the select level in ``levels``

    def columns(self, weeks) -> list[int]:
        first = self.targets[0] if self.targets else 0
        return [i - first for i in weeks]

    def choose(self, origin: int, opts) -> int | None:
        """The candidate the weekly run at week index ``origin`` picks for the week after it:
        best mean PAI over its last ``backtest_weeks`` weeks; None = too little history
        (fewer than ``min_weeks`` weeks up to ``origin``), use the default."""
        n = origin + 1
        if n < opts.min_weeks or not self.candidates:
            return None
        cols = self.columns(range(max(1, n - opts.backtest_weeks), n))
        return best_candidate(self.scores["pai"][:, cols, self.select])


def scored(history: History, opts, targets: list[int], candidates: list[Setting], memo=None) -> Scored:
    levels = [float(v) for v in opts.levels]
    scores = score_candidates(history, candidates, targets, levels, memo)
    return Scored(history, candidates, list(targets), scores, levels, levels.index(float(opts.select_level)))


def rolling_record(
    sc: Scored, predicted: list[int], opts, fallback: Setting, memo=None
) -> tuple[pd.DataFrame, list[Setting]]:
    """Each predicted week forecast as the weekly run would have: its setting chosen at the week
    before it (from the weeks before that), then scored on the week. One row per week."""
    choices = [sc.choose(i - 1, opts) for i in predicted]
    short = [i for i, c in zip(predicted, choices) if c is None]
    fallback_scores = score_candidates(sc.history, [fallback], short, sc.levels, memo) if short else None
    rows, used = [], []
    for i, c in zip(predicted, choices):
        if c is None:
            setting, by = fallback, "default"
            week_scores = {f: fallback_scores[f][0, short.index(i)] for f in SCORE_FIELDS}
        else:
            setting, by = sc.candidates[c], "backtest"
            week_scores = {f: sc.scores[f][c, sc.columns([i])[0]] for f in SCORE_FIELDS}
        used.append(setting)
        row = {"week": sc.history.weeks[i], "setting": setting.label(), "chosen_by": by}
        for li, lv in enumerate(sc.levels):
            row.update({f"{f}_{lv:g}": float(week_scores[f][li]) for f in SCORE_FIELDS})
        rows.append(row)
    return pd.DataFrame(rows), used


def backtest_table(
    candidates: list[Setting], scores: dict[str, np.ndarray], levels, chosen: int | None = None
) -> pd.DataFrame:
    """Per candidate: the setting, mean hit rate, PAI and PEI* per level, weeks scored, chosen."""
    rows = []
    for c, s in enumerate(candidates):
        row = {"setting": s.label(), **asdict(s)}
        row["weeks_scored"] = int((~np.isnan(scores["pai"][c, :, 0])).sum())
        for li, lv in enumerate(levels):
            for f in ("hit_rate", "pai", "pei"):
                vals = scores[f][c, :, li]
                row[f"{f}_{lv:g}"] = float(np.nanmean(vals)) if np.isfinite(vals).any() else math.nan
        row["chosen"] = c == chosen
        rows.append(row)
    return pd.DataFrame(rows)


# -- the forecast --------------------------------------------------------------------------------
def forecast_next_week(
    points: pd.DataFrame, week: str, grid: Grid, mask, opts, default_bandwidth_m: float | None = None, memo=None
) -> Forecast:
    """The forecast for the week after ``week``, from events of ``week`` and earlier only.

    ``points`` has columns ``x``, ``y`` (metres in the grid's CRS) and ``iso_week``; rows of
    later weeks are dropped here, first, whatever the caller passed. The setting is chosen by
    the backtest over the last ``opts.backtest_weeks`` weeks (or the default with fewer than
    ``opts.min_weeks`` weeks of history). ``Forecast.record`` holds how the weekly forecasts of
    the last ``opts.record_weeks`` weeks (each made the week before) scored. ``memo``
    (pipeline.memo) keeps the per-week parts that do not change when a week is added.
    """
    iso = points["iso_week"].astype("string")
    past = points[((iso <= week) & (iso != "")).to_numpy(bool, na_value=False)]
    key = (_points_key(past), week, grid, _array_key(mask), _opts_key(opts), default_bandwidth_m)
    found = _RECENT.get(key)
    if found is None:  # (products build in two threads: no lookup after another's eviction)
        found = _RECENT[key] = _forecast(past, week, grid, mask, opts, default_bandwidth_m, memo)
        while len(_RECENT) > 4:
            _RECENT.pop(next(iter(_RECENT), None), None)
    return found


#: The last few forecasts of this process: the accuracy product asks for the same ones the
#: prognos product has just built (same inputs -> same result, so caching changes nothing).
_RECENT: dict = {}


def _forecast(past: pd.DataFrame, week: str, grid: Grid, mask, opts, default_bandwidth_m, memo=None) -> Forecast:
    xy = past[["x", "y"]].to_numpy(np.float64)
    history = History(
        xy, past["iso_week"].reset_index(drop=True), grid, mask, opts.max_bandwidth_cells * grid.cell, last_week=week
    )
    n_hist = len(history.weeks) if len(past) else 0
    nn = nn_distance(history.event_xy, history.event_week, memo=memo)
    fallback = default_setting(opts, grid.cell, default_bandwidth_m)
    candidates = candidate_settings(opts, grid.cell, nn, n_hist - 1) if n_hist >= opts.min_weeks else []
    history.set_reach(largest_bandwidth([*candidates, fallback]))
    record_weeks = list(range(max(1, n_hist - opts.record_weeks), n_hist))
    first = max(1, min([n_hist - opts.backtest_weeks, *[i - opts.backtest_weeks for i in record_weeks]]))
    sc = scored(history, opts, list(range(first, n_hist)) if candidates else [], candidates, memo)
    choice = sc.choose(n_hist - 1, opts)
    setting, chosen_by = (fallback, "default") if choice is None else (candidates[choice], "backtest")
    table = pd.DataFrame()
    if choice is not None:
        cols = sc.columns(range(max(1, n_hist - opts.backtest_weeks), n_hist))
        table = backtest_table(candidates, {f: a[:, cols] for f, a in sc.scores.items()}, sc.levels, choice)
    record, _ = rolling_record(sc, record_weeks, opts, fallback, memo) if record_weeks else (pd.DataFrame(), [])
    values, weights = expected_surface(history, n_hist, setting)
    return Forecast(
        week,
        values,
        grid,
        setting,
        chosen_by,
        n_hist,
        nn,
        table,
        {history.weeks[j]: float(w) for j, w in enumerate(weights) if w > 0},
        record,
    )


def _points_key(frame: pd.DataFrame) -> str:
    # the coordinates' bytes and the weeks as codes plus their texts: the same key for the same
    # points, at a fraction of the cost of row hashes over millions of rows
    codes, weeks = pd.factorize(frame["iso_week"])
    x, y = (frame[c].to_numpy(np.float64) for c in ("x", "y"))  # each contiguous: hashed without a copy
    return digest(x, y, codes.astype(np.int64), np.asarray(weeks, dtype=object))


def _array_key(arr) -> str:
    a = np.ascontiguousarray(arr)
    return hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()


def _opts_key(opts) -> str:
    fields = (
        "levels",
        "select_level",
        "min_weeks",
        "backtest_weeks",
        "record_weeks",
        "bandwidth_cells",
        "bandwidth_nn",
        "max_bandwidth_cells",
        "windows_weeks",
        "half_lives_weeks",
        "short_shares",
        "short_weeks",
        "short_bandwidth_factor",
        "default_bandwidth_cells",
    )
    return repr([getattr(opts, f) for f in fields])


def expected_surface(history: History, i: int, setting: Setting):
    """Week ``i``'s forecast on the whole grid in expected events per km² (shape × mean weekly
    count of the last ``short_weeks`` weeks ÷ cell area), and each earlier week's weight."""
    shape, _ = history.surface(i, setting)
    recent = history.weekly_counts()[max(0, i - setting.short_weeks) : i]
    expected = float(recent.mean()) if len(recent) else 0.0
    values = history.full_grid(shape) * expected / (history.grid.cell**2 / 1e6)
    return values.astype(np.float32), history.weights(i, *setting.weighting)


# -- the product: the prognos raster and the prognos zones --------------------------------------
#: Columns of the ``prognos_zones`` layer (see :func:`forecast_zones`).
ZONE_COLUMNS = [
    "level", "zone_id", "n_cells", "area_km2", "share_area", "n_expected", "share_expected",
    "busiest_time_of_day", "busiest_share", "n_events_week", "place_name", "geometry",
]  # fmt: skip


#: Event columns :func:`forecast_points` reads (besides the publication rule's): the points'
#: coordinates, not their geometries.
FORECAST_COLUMNS = ("x", "y", "iso_week", "time_of_day")


def forecast_points(events) -> pd.DataFrame:
    """The events a forecast may use (the publication rule: counted, never a protected event),
    as ``x``, ``y``, ``iso_week``, ``time_of_day``. ``events`` has the coordinate columns or
    point geometries."""
    ev = spatial_events(events)
    if len(ev) == 0:
        return pd.DataFrame({"x": [], "y": [], "iso_week": pd.Series([], dtype=str), "time_of_day": []})
    x, y = coordinates(ev)
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            # pandas strings, not Python objects: a national history has millions of rows
            "iso_week": ev["iso_week"].astype("string").array,
            "time_of_day": ev["time_of_day"].astype("string").array,
        }
    )


def analysis_grid(boundary, cell: float) -> tuple[Grid, np.ndarray]:
    """The density's grid (anchored to the municipality's bounds) and its study mask."""
    grid = Grid.anchored(boundary.bounds, cell)
    return grid, clip_mask(grid, boundary)


def density_bandwidth(cfg) -> float | None:
    """The density's configured bandwidth in metres, or None when it is "auto" (per week)."""
    bw = cfg.analysis.bandwidth_m
    return None if bw == "auto" else float(bw)


def build_prognos(inp) -> ProductOutput:
    """The ``prognos`` product: next week's forecast raster, its zones and the backtest in run_info."""
    cfg = inp.cfg
    grid, mask = analysis_grid(inp.reference.boundary, cfg.analysis.cell_size_m)
    points = forecast_points(inp.events)
    fc = forecast_next_week(points, inp.week, grid, mask, cfg.forecast, density_bandwidth(cfg), inp.memo)
    zones = forecast_zones(fc, mask, cfg.forecast.levels, points, list(cfg.time_of_day), inp.reference.gazetteer)
    layers = {"prognos": Surface(fc.values, grid), "prognos_zones": zones}
    return ProductOutput(layers, forecast_info(fc, cfg.forecast))


def forecast_zones(fc: Forecast, mask, levels, points: pd.DataFrame, time_bins, gazetteer=None) -> gpd.GeoDataFrame:
    """The top ``level`` % of the study area's cells by forecast, as connected zones (4-neighbour,
    exact cell edges), one row per (level, zone), most expected events first.

    Only cells the forecast gives a positive value are drawn (a cell no past event reaches is
    no forecast); where those are fewer than the level's share, the zones cover less. Per zone:
    expected events next week, the time of day with most of its past events (weighted as the
    forecast weighs weeks; ties in ``time_bins`` order), this week's events and a place name.
    """
    grid = fc.grid
    msk = np.asarray(mask, dtype=bool)
    rows, cols = np.nonzero(msk)
    values = np.asarray(fc.values, dtype=np.float64)
    study = values[msk]
    cell_km2 = grid.cell**2 / 1e6
    total = float(values.sum()) * cell_km2
    ev_row, ev_col, ev_in = grid.cell_index(points[["x", "y"]].to_numpy(float).reshape(-1, 2))
    weeks = list(fc.weights)
    weight = np.append([fc.weights[w] for w in weeks], 0.0)[positions_in(points["iso_week"], weeks)]
    this_week = positions_in(points["iso_week"], [fc.week]) == 0
    order = list(time_bins)
    # time-of-day codes in ``order`` (-1: a bin not in it), computed once: zones are counted
    # with bincounts below, not by a pass over every event per zone
    bin_code = positions_in(points["time_of_day"], order).astype(np.int64)
    parts = []
    for level in sorted(float(v) for v in levels):
        chosen = top_k_cells(study, len(study), level)
        chosen = chosen[study[chosen] > 0]
        if not len(chosen):
            continue
        selected = np.zeros(grid.shape, dtype=bool)
        selected[rows[chosen], cols[chosen]] = True
        labels, n_zones = ndimage.label(selected)
        polygons = _label_polygons(labels, grid)
        zone_of_event = np.where(ev_in, labels[np.clip(ev_row, 0, grid.ny - 1), np.clip(ev_col, 0, grid.nx - 1)], 0)
        n_cells = np.bincount(labels.ravel(), minlength=n_zones + 1)
        expected = np.bincount(labels.ravel(), weights=values.ravel(), minlength=n_zones + 1) * cell_km2
        busiest = _busiest_bins(zone_of_event, bin_code, weight, n_zones, order)
        n_week = np.bincount(zone_of_event[this_week], minlength=n_zones + 1)
        for z in range(1, n_zones + 1):
            parts.append({
                "level": level, "n_cells": int(n_cells[z]), "area_km2": int(n_cells[z]) * cell_km2,
                "share_area": int(n_cells[z]) / len(study), "n_expected": float(expected[z]),
                "share_expected": float(expected[z]) / total if total > 0 else math.nan,
                "busiest_time_of_day": busiest[z][0], "busiest_share": busiest[z][1],
                "n_events_week": int(n_week[z]), "geometry": polygons[z],
            })  # fmt: skip
    frame = pd.DataFrame(parts, columns=[c for c in ZONE_COLUMNS if c not in ("zone_id", "place_name")])
    if len(frame):
        frame = frame.sort_values(["level", "n_expected"], ascending=[True, False], kind="stable")
        frame["zone_id"] = frame.groupby("level").cumcount() + 1
    else:
        frame["zone_id"] = pd.Series(dtype="int64")
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=CRS)
    out["place_name"] = _place_names(out, gazetteer)
    return out[ZONE_COLUMNS].reset_index(drop=True).astype({"zone_id": "int64", "n_cells": "int64"})


def _records(frame: pd.DataFrame) -> str:
    """A table as compact JSON records ("[]" when empty)."""
    return frame.to_json(orient="records", double_precision=4) if len(frame) else "[]"


def _label_polygons(labels: np.ndarray, grid: Grid) -> dict:
    north_up = np.ascontiguousarray(grid.to_north_up(labels)).astype(np.int32)
    shapes = features.shapes(north_up, mask=north_up > 0, connectivity=4, transform=grid.transform)
    polys: dict = {}
    for geom, v in shapes:
        polys.setdefault(int(v), []).append(shape(geom))
    return {k: (v[0] if len(v) == 1 else shapely.union_all(v)) for k, v in polys.items()}


def _busiest_bins(zone: np.ndarray, code: np.ndarray, weights: np.ndarray, n_zones: int, order) -> list:
    """Per zone 0..n_zones: the bin of ``order`` with the largest weight of its events (the
    first in ``order`` on a tie) and its share of all their weight; ("", NaN) when none."""
    nb = len(order)
    if not nb:
        return [("", math.nan)] * (n_zones + 1)
    all_weight = np.bincount(zone, weights=weights, minlength=n_zones + 1)
    known = code >= 0
    cell = zone[known] * nb + code[known]
    totals = np.bincount(cell, weights=weights[known], minlength=(n_zones + 1) * nb).reshape(n_zones + 1, nb)
    out = []
    for z in range(n_zones + 1):
        if all_weight[z] <= 0:
            out.append(("", math.nan))
            continue
        best = int(np.argmax(totals[z]))  # argmax: the first of equal maxima, i.e. order's tie rule
        out.append((order[best], float(totals[z, best] / all_weight[z])))
    return out


def _place_names(polygons, gazetteer) -> list[str]:
    if gazetteer is None or len(polygons) == 0:
        return [""] * len(polygons)
    c = polygons.geometry.representative_point()
    return [str(n or "") for n in gazetteer.nearest_names(c.x.to_numpy(), c.y.to_numpy())]


#: run_info keys of the forecast (strings; the report and anyone reading the archive use them).
INFO_PREFIX = "forecast_"


def forecast_info(fc: Forecast, opts) -> dict[str, str]:
    """The chosen setting, how it was chosen and the backtest table, as run_info strings."""
    info = {f"{INFO_PREFIX}{k}": v for k, v in fc.setting.as_info().items()}
    weeks = sorted(fc.weights)
    info.update({
        f"{INFO_PREFIX}for_week": next_weeks(fc.week, 1)[0],
        f"{INFO_PREFIX}setting": fc.setting.label(),
        f"{INFO_PREFIX}chosen_by": fc.chosen_by,
        f"{INFO_PREFIX}history_weeks": str(fc.history_weeks),
        f"{INFO_PREFIX}min_weeks": str(opts.min_weeks),
        f"{INFO_PREFIX}first_week": weeks[0] if weeks else "",
        f"{INFO_PREFIX}nn_distance_m": "" if not math.isfinite(fc.nn_distance_m) else f"{fc.nn_distance_m:.1f}",
        f"{INFO_PREFIX}levels": json.dumps([float(v) for v in opts.levels]),
        f"{INFO_PREFIX}select_level": f"{float(opts.select_level):g}",
        f"{INFO_PREFIX}n_expected": f"{float(fc.values.sum()) * fc.grid.cell**2 / 1e6:.3f}",
        f"{INFO_PREFIX}candidates": str(len(fc.backtest)),
        f"{INFO_PREFIX}backtest_weeks": str(int(fc.backtest["weeks_scored"].max()) if len(fc.backtest) else 0),
        f"{INFO_PREFIX}backtest": _records(fc.backtest),
        f"{INFO_PREFIX}record": _records(fc.record),
    })  # fmt: skip
    return info


class _Opts:
    """Defaults for doctests (the real ones are ``pipeline.config.ForecastConfig``)."""

    levels = [1.0, 5.0]
    select_level = 5.0
    min_weeks = 8
    backtest_weeks = 26
    record_weeks = 8
    bandwidth_cells = [1.0, 1.5, 2.0, 3.0]
    bandwidth_nn = [0.5, 1.0]
    max_bandwidth_cells = 20.0
    windows_weeks = [1, 4, 13, 26, 52, 104]
    half_lives_weeks = [13.0, 52.0]
    short_shares = [0.0, 0.25]
    short_weeks = 4
    short_bandwidth_factor = 2.0
    default_bandwidth_cells = 3.0
