"""Weekly series and tested changes: what really changed this week, and what did not.

At municipal volume (about 100 events a week) most week-to-week differences are noise: 2
events against a mean of 2.2 is no decrease. Every change the report marks ▲/▼ is therefore
tested, and the whole table is corrected for multiple testing:

* **Two Poisson counts of different exposure** — this week's count ``k1`` over ``n1 = 1``
  week against ``k2`` events over ``n2`` earlier weeks — are compared with the E-test of
  Krishnamoorthy & Thomson (2004), ``scipy.stats.poisson_means_test`` (two-sided, H0: the
  same weekly rate). It is exact in the sense of summing Poisson probabilities under the
  pooled rate, and more powerful than the conditional (binomial) C-test.
* Two comparisons per row: the previous ``trends.recent_weeks`` weeks (default 4), and the
  same ``trends.year_weeks`` weeks one year earlier (default 5: the week 52 weeks back and
  2 on each side) where the data cover them.
* **Benjamini–Hochberg** over every test of the table (both comparisons, all dimensions):
  a change is significant when its q-value is below ``trends.alpha`` (default 0.05), so on
  average at most 5 % of the changes marked in a week are false alarms.

Counts come from :func:`pipeline.privacy.spatial_events` (duplicates and protected events left
out), so no published series or trend contains a protected event and none needs suppressing.

>>> round(e_test(0, 100, 3, 100), 4)     # scipy's documented example
0.0884
>>> bh_qvalues([0.01, 0.04, float("nan"), 0.03]).round(3).tolist()
[0.03, 0.04, nan, 0.04]
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.analysis.weeks import positions_in, previous_weeks, weeks_between, weeks_present
from pipeline.privacy import spatial_events
from pipeline.products import ProductOutput
from pipeline.schema import OUTSIDE_AREA

#: ``area`` / ``group`` key of the series rows that total over every area / group.
ALL_KEY = "alla"
SERIES_COLUMNS = ["week", "area", "group", "n"]
#: Weeks between a week and the centre of its comparison window one year earlier.
YEAR_LAG_WEEKS = 52
TREND_COLUMNS = [
    "dimension",
    "key",
    "label",
    "n_week",
    "mean_prev",
    "change",
    "pct_change",
    "p_prev",
    "q_prev",
    "direction_prev",
    "mean_year",
    "pct_year",
    "p_year",
    "q_year",
    "direction_year",
]


# -- the tests ---------------------------------------------------------------------------------


def e_test(k1: int, n1: float, k2: int, n2: float) -> float:
    """Two-sided E-test p-value for H0: rate k1/n1 = rate k2/n2 (Poisson counts, exposures n).

    Krishnamoorthy & Thomson's test as ``scipy.stats.poisson_means_test`` computes it — the
    same summation bounds, pivot and indicator — but without its full grid of (x1, x2): for
    a fixed x1 the pivot falls as x2 grows, so the x2 where |T| >= |T_obs| are a head and a
    tail of the range, found by bisection; the p-value is one sum over x1 of prefix sums.
    A count of 30 000 (a national week) costs microseconds instead of a 10^7-cell grid;
    tests/test_trends.py checks it against scipy and a direct double sum.

    Two zero counts carry no information: p = 1.

    >>> e_test(0, 1, 0, 4)
    1.0
    >>> round(e_test(0, 100, 3, 100), 6)   # scipy's documented example
    0.088379
    """
    k1, k2, n1, n2 = int(k1), int(k2), float(n1), float(n2)
    if k1 < 0 or k2 < 0 or n1 <= 0 or n2 <= 0:
        raise ValueError(f"e_test needs counts >= 0 and exposures > 0, got {k1}, {n1}, {k2}, {n2}")
    lam = (k1 + k2) / (n1 + n2)
    if lam <= 0:
        return 1.0
    observed = abs((k1 / n1 - k2 / n2) / np.sqrt(k1 / (n1**2) + k2 / (n2**2)))
    x1, p1 = _poisson_support(n1 * lam)
    x2, p2 = _poisson_support(n2 * lam)
    with np.errstate(invalid="ignore", divide="ignore"):
        if observed == 0:  # every (x1, x2) but the undefined (0, 0) counts
            return float(p1.sum() * p2.sum() - (p1[0] * p2[0] if x1[0] == 0 and x2[0] == 0 else 0.0))
        # pivot(x1, x2) decreases in x2: |T| >= T_obs on a head (T >= T_obs) and from where
        # T <= -T_obs on (the undefined pivot at (0, 0) is NaN: in neither)
        head = _count_while(lambda i, j: _pivot(x1[i], x2[j], n1, n2) >= observed, len(x1), len(x2))
        tail = _count_while(lambda i, j: ~(_pivot(x1[i], x2[j], n1, n2) <= -observed), len(x1), len(x2))
    cum = np.concatenate([[0.0], np.cumsum(p2)])
    return float(np.sum(p1 * (cum[head] + (cum[-1] - cum[tail]))))


def _poisson_support(mu: float) -> tuple[np.ndarray, np.ndarray]:
    """The counts scipy's E-test sums over for a Poisson mean ``mu``, and their probabilities."""
    lb, ub = stats.poisson.ppf([1e-10, 1 - 1e-16], mu)
    x = np.arange(lb, ub + 1)
    return x, stats.poisson.pmf(x, mu)


def _pivot(x1, x2, n1: float, n2: float):
    """The E-test's pivot statistic, in scipy's floating-point operations (so ties agree)."""
    lmbd_x1, lmbd_x2 = x1 / n1, x2 / n2
    return (lmbd_x1 - lmbd_x2) / np.sqrt(lmbd_x1 / n1 + lmbd_x2 / n2)


def _count_while(holds, rows: int, length: int) -> np.ndarray:
    """Per row i, how many leading j in ``range(length)`` satisfy ``holds(i, j)`` (which is
    true on a head of each row and false after), by vectorised bisection."""
    lo, hi = np.zeros(rows, dtype=np.int64), np.full(rows, length, dtype=np.int64)
    rows_idx = np.arange(rows)
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        i = rows_idx[open_]
        mid = (lo[open_] + hi[open_]) // 2
        ok = holds(i, mid)
        lo[i[ok]] = mid[ok] + 1
        hi[i[~ok]] = mid[~ok]


def bh_qvalues(pvalues) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries are not tests and stay NaN.

    q_(i) = min over j >= i of p_(j) · m / j (sorted ascending, m = number of tests), capped at 1.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = len(tested)
    if m == 0:
        return q
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


def direction(change: float, q: float, alpha: float) -> int:
    """+1 / -1 for a significant rise / fall (q < alpha), 0 otherwise (also when untested).

    >>> direction(3.0, 0.01, 0.05), direction(3.0, 0.2, 0.05), direction(-1.0, 0.001, 0.05)
    (1, 0, -1)
    """
    if not (isinstance(q, float) and math.isfinite(q)) or q >= alpha or change == 0:
        return 0
    return 1 if change > 0 else -1


def pct_change(now: float, mean: float) -> float:
    """Change in percent of the earlier weekly mean; NaN when the mean is 0 (no base).

    >>> pct_change(6, 4.0), pct_change(1, 0.0)
    (50.0, nan)
    """
    return math.nan if not mean else (now - mean) / mean * 100.0


# -- the weekly series -------------------------------------------------------------------------


def area_names(areas) -> list[str]:
    """Named areas in file order, then the catch-all 'outside every named area'."""
    names = [str(n) for n in areas["name"]] if areas is not None and len(areas) else []
    return [n for n in names if n] + [OUTSIDE_AREA]


def weekly_series(events, cfg, week: str, areas) -> pd.DataFrame:
    """Counts per (week, area, group) for every week from the first in the data to ``week``,
    zeros included, with totals over areas and over groups (key ``ALL_KEY``).

    >>> weekly_series(events, cfg, "2026-W47", areas).columns.tolist()     # doctest: +SKIP
    ['week', 'area', 'group', 'n']
    """
    counted = spatial_events(events)
    present = [w for w in weeks_present(counted) if w <= week]
    weeks = weeks_between(present[0], week) if present else [week]
    areas_all, groups_all = area_names(areas), list(cfg.groups)
    # counts[week, area, group] with one extra slot per axis for what no row is shown for
    # (an area or group not in the lists): those events still count in the totals
    w = _positions(counted["iso_week"], weeks, missing=-1)
    a = _positions(counted["area"], areas_all, missing=len(areas_all))
    g = _positions(counted["category_group"], groups_all, missing=len(groups_all))
    shape = (len(weeks), len(areas_all) + 1, len(groups_all) + 1)
    known = w >= 0
    flat = np.ravel_multi_index((w[known], a[known], g[known]), shape)
    counts = np.bincount(flat, minlength=math.prod(shape)).reshape(shape)
    by_area = np.concatenate([counts[:, :-1, :], counts.sum(axis=1, keepdims=True)], axis=1)
    table = np.concatenate([by_area[:, :, :-1], by_area.sum(axis=2, keepdims=True)], axis=2)
    full = pd.MultiIndex.from_product([weeks, areas_all + [ALL_KEY], groups_all + [ALL_KEY]])
    out = pd.DataFrame(
        {
            "week": full.get_level_values(0).astype(str),
            "area": full.get_level_values(1).astype(str),
            "group": full.get_level_values(2).astype(str),
            "n": table.reshape(-1).astype("int64"),
        }
    )
    return out[SERIES_COLUMNS]


def _positions(values: pd.Series, labels: list[str], missing: int) -> np.ndarray:
    """Each value's index in ``labels`` (``missing`` for a value not in them, or null)."""
    at = positions_in(values, labels)
    return np.where(at < 0, missing, at)


# -- the trend table ---------------------------------------------------------------------------


#: The event columns the trend table counts by (trend_dimensions): all it reads of ~a year of weeks.
TREND_COLUMNS_READ = ("category_group", "area", "time_of_day", "source")


def trend_dimensions(cfg, areas) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(dimension, event column, [(key, label)]) in the order the report shows them."""
    return [
        ("group", "category_group", [(k, g.label) for k, g in cfg.groups.items()]),
        ("area", "area", [(n, n) for n in area_names(areas)]),
        ("time_of_day", "time_of_day", [(k, b.label) for k, b in cfg.time_of_day.items()]),
        ("partner", "source", [(k, p.label) for k, p in cfg.partners.items()]),
    ]


def year_window(week: str, n_weeks: int) -> list[str]:
    """The ``n_weeks`` weeks centred on the week ``YEAR_LAG_WEEKS`` before ``week``.

    >>> year_window("2026-W47", 5)
    ['2025-W45', '2025-W46', '2025-W47', '2025-W48', '2025-W49']
    """
    half = n_weeks // 2
    back = previous_weeks(week, YEAR_LAG_WEEKS + half)
    return back[:n_weeks]


def trends_lookback(cfg) -> int:
    """Earlier weeks the trend table reads: the recent weeks and the year-earlier window."""
    t = cfg.trends
    return max(t.recent_weeks, YEAR_LAG_WEEKS + t.year_weeks // 2)


def trend_table(events, cfg, week: str, areas) -> pd.DataFrame:
    """This week per group, area, time of day and partner against the previous weeks and the
    same weeks a year earlier: means, percent change, E-test p, BH q and the tested direction.

    A year comparison is made only for rows whose data cover the whole year-earlier window
    (a partner that joined since has none); otherwise its columns are NaN.
    """
    t = cfg.trends
    counted = spatial_events(events)
    iso = counted["iso_week"].astype(str)
    recent = previous_weeks(week, t.recent_weeks)
    year = year_window(week, t.year_weeks)
    rows = []
    for dim, col, keys in trend_dimensions(cfg, areas):
        values = counted[col].astype(str)
        first_week = iso.groupby(values).min() if dim == "partner" else None
        data_start = iso.min() if len(iso) else None
        now = values[iso == week].value_counts()
        prev = values[iso.isin(recent)].value_counts()
        past = values[iso.isin(year)].value_counts()
        for key, label in dict(keys).items():
            start = first_week.get(key) if first_week is not None else data_start
            covered = start is not None and start <= year[0]
            rows.append(
                _trend_row(
                    dim,
                    key,
                    label,
                    int(now.get(key, 0)),
                    int(prev.get(key, 0)),
                    int(past.get(key, 0)) if covered else None,
                    t,
                )
            )
    table = pd.DataFrame(rows)
    return _adjust(table, t.alpha)[TREND_COLUMNS] if len(table) else pd.DataFrame(columns=TREND_COLUMNS)


def _trend_row(dim, key, label, n_week: int, n_prev: int, n_year: int | None, t) -> dict:
    mean_prev = n_prev / t.recent_weeks  # absent weeks count as 0
    row = {
        "dimension": dim,
        "key": key,
        "label": label,
        "n_week": n_week,
        "mean_prev": mean_prev,
        "change": n_week - mean_prev,
        "pct_change": pct_change(n_week, mean_prev),
        "p_prev": e_test(n_week, 1, n_prev, t.recent_weeks),
        "mean_year": math.nan,
        "pct_year": math.nan,
        "p_year": math.nan,
    }
    if n_year is not None:
        mean_year = n_year / t.year_weeks
        row.update(
            mean_year=mean_year, pct_year=pct_change(n_week, mean_year), p_year=e_test(n_week, 1, n_year, t.year_weeks)
        )
    return row


def _adjust(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """BH over every test of the table (both comparisons pooled), then the tested directions."""
    p = np.concatenate([table["p_prev"].to_numpy(float), table["p_year"].to_numpy(float)])
    q = bh_qvalues(p)
    out = table.assign(q_prev=q[: len(table)], q_year=q[len(table) :])
    out["direction_prev"] = [direction(c, q, alpha) for c, q in zip(out["change"], out["q_prev"])]
    year_change = out["n_week"] - out["mean_year"]
    out["direction_year"] = [direction(c, q, alpha) for c, q in zip(year_change, out["q_year"])]
    return out.astype({"n_week": "int64", "direction_prev": "int64", "direction_year": "int64"})


# -- the products ------------------------------------------------------------------------------


def build_series(inp) -> ProductOutput:
    """Product ``series``: the weekly series of every area and group, all weeks up to the week."""
    series = weekly_series(inp.events, inp.cfg, inp.week, inp.reference.areas)
    return ProductOutput({"series": series}, {"series_weeks": str(series["week"].nunique())})


def build_trends(inp) -> ProductOutput:
    """Product ``trends``: the tested changes of the week (see the module docstring)."""
    cfg = inp.cfg
    table = trend_table(inp.events, cfg, inp.week, inp.reference.areas)
    tested = int(table["p_prev"].notna().sum() + table["p_year"].notna().sum())
    marked = int((table["direction_prev"] != 0).sum() + (table["direction_year"] != 0).sum())
    info = {
        "trends_alpha": f"{cfg.trends.alpha:g}",
        "trends_recent_weeks": str(cfg.trends.recent_weeks),
        "trends_year_weeks": str(cfg.trends.year_weeks),
        "trends_tests": str(tested),
        "trends_significant": str(marked),
    }
    return ProductOutput({"trends": table}, info)
