"""How well did a map predict where the next events happened? Hit rate, PAI and PEI*.

Definitions (one place; the backtest, the forecast's own selection and the weekly
``accuracy`` table all use these functions):

- The **study area** is a set of ``n`` cells (the municipality's cells; in ``lagesbild
  backtest`` the cells of ``--area`` or of the events' extent).
- A method's **area at level L %** is its top ``k = max(1, round(L/100 · n))`` cells, ranked
  by the method's value, highest first. Ties are broken by cell position (row-major order
  of the grid, south-west first), so a score never depends on sort stability; cells a
  method gives no value are ties at zero. For a set of zone polygons the area is simply the
  zone cells (see :func:`score_cells`).
- ``hits`` = the week's events in the area (events outside the study area do not count,
  neither in ``hits`` nor in ``N``); **hit rate** = hits / N.
- **PAI** (predictive accuracy index, Chainey et al. 2008) = hit rate / area share,
  where area share = cells / n (= k/n ≈ L/100).
- **PEI*** (the share of the best possible; NIJ Real-Time Crime Forecasting Challenge) =
  hits / (the most events any ``k`` cells held that week = the sum of the ``k`` largest
  cell counts). It is 1 when the area was as good as hindsight could make it.

A week with no events in the study area has no score (NaN), not a zero.

>>> import numpy as np
>>> t = Target.from_positions(np.array([0, 0, 3, 7]))       # 4 events in cells 0, 3, 7
>>> s = top_k_scores(np.array([5.0, 0, 0, 2.0, 0, 0, 0, 1.0, 0, 0]), None, 10, [20], t)
>>> s["hits"].tolist(), s["pai"].tolist(), s["pei"].tolist()   # top 2 cells: 0 and 3
([3.0], [3.75], [1.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Columns of a score table (one row per level): see the module docstring.
SCORE_FIELDS = ("k", "hits", "n_events", "hit_rate", "pai", "pei")


@dataclass(frozen=True)
class Target:
    """One week's events on the study cells: the cells that hold any, and how many each."""

    positions: np.ndarray  # sorted unique cell positions (0 .. n-1) holding events
    counts: np.ndarray  # events per such cell (int64)

    @classmethod
    def from_positions(cls, positions) -> "Target":
        """From the cell position of every event (events outside the study area left out)."""
        pos, counts = np.unique(np.asarray(positions, dtype=np.int64), return_counts=True)
        return cls(pos, counts.astype(np.int64))

    @classmethod
    def from_points(cls, xy, grid, mask) -> "Target":
        """From event coordinates on ``grid``: each event's study-cell position (row-major rank
        among the ``mask`` cells); events outside the grid or the mask are left out."""
        return cls.from_positions(study_positions(xy, grid, mask))

    @property
    def n_events(self) -> int:
        return int(self.counts.sum())

    def best(self, k: int) -> int:
        """The most events any ``k`` cells held: the sum of the ``k`` largest cell counts."""
        if k <= 0 or len(self.counts) == 0:
            return 0
        if k >= len(self.counts):
            return int(self.counts.sum())
        return int(np.partition(self.counts, len(self.counts) - k)[len(self.counts) - k :].sum())


def cells_at_level(n_cells: int, level: float) -> int:
    """Cells in the top ``level`` % of a study area of ``n_cells`` cells (at least one).

    >>> cells_at_level(55_129, 5), cells_at_level(55_129, 1), cells_at_level(10, 0.1)
    (2756, 551, 1)
    """
    if not (0 < float(level) < 100):
        raise ValueError(f"level is a percentage of the area in (0, 100), got {level!r}")
    if n_cells < 1:
        raise ValueError("the study area has no cells")
    return max(1, int(round(float(level) / 100.0 * n_cells)))


def top_k_scores(
    values, positions, n_cells: int, levels, target: Target, hint=None, lookup=None
) -> dict[str, np.ndarray]:
    """Scores of the top-``k`` cells of ``values`` at each level (arrays, one entry per level).

    ``values`` are the method's values at the study cells ``positions`` (sorted, 0 .. n-1);
    ``positions=None`` means ``values`` covers every study cell in order. Study cells not in
    ``positions`` have value 0. Values must be >= 0. ``hint``: a value at or below the
    largest level's k-th value, if known, to search fewer cells (the result is exact either
    way). ``lookup``: :func:`target_lookup` of ``positions`` and ``target``, when many methods
    are scored on one week (a backtest's candidates). The output also holds ``threshold``,
    each level's k-th value.
    """
    vals = np.asarray(values)
    pos = np.arange(len(vals)) if positions is None else np.asarray(positions, dtype=np.int64)
    ks = [min(cells_at_level(n_cells, lv), n_cells) for lv in levels]
    thresholds = _kth_largest(vals, ks, hint)
    at_target = _values_at(vals, lookup if lookup is not None else target_lookup(pos, target))
    n = target.n_events
    out = {f: np.zeros(len(ks), dtype=float) for f in SCORE_FIELDS}
    out["threshold"] = np.array(thresholds, dtype=float)
    for i, (k, vk) in enumerate(zip(ks, thresholds)):
        hits = _hits(vals, pos, k, vk, at_target, target)
        best = target.best(k)
        out["k"][i], out["hits"][i], out["n_events"][i] = k, hits, n
        out["hit_rate"][i] = hits / n if n else np.nan
        out["pai"][i] = (hits / n) / (k / n_cells) if n else np.nan
        out["pei"][i] = hits / best if best else np.nan
    return out


def score_cells(selected, n_cells: int, target: Target) -> dict[str, float]:
    """Scores of a fixed set of study cells (e.g. last week's zones), area = those cells.

    >>> t = Target.from_positions([1, 1, 4, 9])
    >>> score_cells([1, 2], 10, t)["pai"]                     # 2 of 4 events on 20 % of the area
    2.5
    """
    sel = np.unique(np.asarray(selected, dtype=np.int64))
    k = len(sel)
    hits = int(target.counts[np.isin(target.positions, sel)].sum())
    n = target.n_events
    best = target.best(k)
    return {
        "k": k,
        "hits": hits,
        "n_events": n,
        "hit_rate": hits / n if n else np.nan,
        "pai": (hits / n) / (k / n_cells) if n and k else np.nan,
        "pei": hits / best if best else np.nan,
    }


def top_k_cells(values, n_cells: int, level: float) -> np.ndarray:
    """Positions of the top ``level`` % of ``values`` (one value per study cell), ties by position.

    >>> top_k_cells(np.array([0.0, 2.0, 2.0, 1.0]), 4, 50).tolist()
    [1, 2]
    """
    vals = np.asarray(values, dtype=np.float64)
    if len(vals) != n_cells:
        raise ValueError(f"values must have one entry per study cell ({n_cells}), got {len(vals)}")
    k = min(cells_at_level(n_cells, level), n_cells)
    order = np.lexsort((np.arange(n_cells), -vals))
    return np.sort(order[:k])


def study_positions(xy, grid, mask) -> np.ndarray:
    """Study-cell position (row-major rank among the ``mask`` cells) of each point inside them.

    >>> from pipeline.analysis.grid import Grid
    >>> study_positions(np.array([[5.0, 5.0], [25.0, 5.0], [15.0, 15.0]]), Grid(0, 0, 10, 3, 2),
    ...                 np.array([[True, False, True], [True, True, True]])).tolist()
    [0, 1, 3]
    """
    msk = np.asarray(mask, dtype=bool)
    pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0, dtype=np.int64)
    row, col, inside = grid.cell_index(pts)
    row, col = row[inside], col[inside]
    keep = msk[row, col]
    rank = np.cumsum(msk.ravel()) - 1
    return rank[row[keep] * grid.nx + col[keep]].astype(np.int64)


# -- internals ----------------------------------------------------------------------------------
def _kth_largest(vals: np.ndarray, ks, hint=None) -> list:
    """The k-th largest of ``vals`` for each k (in ``vals``' dtype, so comparisons are exact),
    counting absent study cells as zeros. With ``hint`` (a guess at or below the smallest of
    them), only values >= hint are searched when there are enough of them: then every one of
    the top k is among them."""
    m = len(vals)
    zero = vals.dtype.type(0) if vals.dtype.kind == "f" else 0
    inside = [k for k in ks if k <= m]
    if not inside:
        return [zero for _ in ks]
    pool = vals
    if hint is not None and hint > 0:
        above = vals[vals >= hint]
        if len(above) >= max(inside):
            pool = above
    n = len(pool)
    part = np.partition(pool, sorted({n - k for k in inside}))
    return [part[n - k] if k <= m else zero for k in ks]


def target_lookup(positions, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``target``'s cells is in ``positions`` (sorted study cells): the index of
    each one ``positions`` lists, and which of the target's cells those are.

    >>> [a.tolist() for a in target_lookup(np.array([2, 5, 7]), Target.from_positions([5, 6, 7]))]
    [[1, 2], [True, False, True]]
    """
    pos, cells = np.asarray(positions, dtype=np.int64), target.positions
    if len(pos) == 0 or len(cells) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(len(cells), dtype=bool)
    idx = np.minimum(np.searchsorted(pos, cells), len(pos) - 1)
    found = pos[idx] == cells
    return idx[found], found


def _values_at(vals: np.ndarray, lookup) -> np.ndarray:
    """Values at the target's cells (0 where the values' positions do not list the cell)."""
    idx, found = lookup
    out = np.zeros(len(found), dtype=vals.dtype)
    out[found] = vals[idx]
    return out


def _hits(vals, pos, k: int, vk: float, at_target: np.ndarray, target: Target) -> int:
    """Events in the top-k cells: all cells above the k-th value, then ties by position."""
    above = at_target > vk
    hits = int(target.counts[above].sum())
    tied = at_target == vk
    if not tied.any():
        return hits
    need = k - int(np.count_nonzero(vals > vk))  # top-k places left for the tied cells
    if need <= 0:
        return hits
    cells = target.positions[tied]
    if vk > 0:
        rank = np.searchsorted(pos[vals == vk], cells)  # pos is sorted, so is any subset
    else:  # zero ties also include every study cell that ``pos`` leaves out
        rank = cells - np.searchsorted(pos[vals > 0], cells)
    return hits + int(target.counts[tied][rank < need].sum())
