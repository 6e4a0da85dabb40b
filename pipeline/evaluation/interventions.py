"""Did it work? A before/after evaluation of every targeted intervention (pure functions).

For the categories an intervention targets, events are counted per ISO week in

- the target **T** (its area, circle or zone polygon);
- the displacement ring **D** around it (``interventions.ring_m`` wide), where crime may move;
- the comparison area **C**: the rest of the municipality outside T and D (or a configured
  area), minus the targets and rings of every other intervention active in the same weeks
  (a comparison area must itself be untreated). C is the control of both T and D unless
  ``ring_comparison_area`` gives the ring its own (**E**).

Windows: *före* = the ``before_weeks`` weeks before the start week (only weeks with data:
never before the first week of the event table); *under* = start week .. end week (or the
analysed week while ongoing); *efter* = up to ``after_weeks`` weeks after the end week.

Statistics (``före`` against ``under``; the DiD ratio also ``före`` against ``efter``):

- **DiD ratio** (T1/T0)/(C1/C0): the relative change in T against C. Per-week rates give
  the same ratio (window lengths cancel). 95 % interval exp(log r ± 1.96·√(1/T0 + 1/T1 +
  1/C0 + 1/C1)), the Poisson variance of the log ratio. With a zero count 0.5 is added to
  all four (Haldane–Anscombe) and ``ratio_corrected`` says so.
- **WDD** (Wheeler & Ratcliffe 2018, Crime Science 7:11): ΔT − ΔC + ΔD − ΔE in events per
  week, so windows of different length compare fairly (Wheeler 2021: a count over w weeks
  divided by w has variance count/w²). ``wdd_control: raw`` is the published statistic,
  meant for a control of about the target's size; with ``scaled`` (the default, since the
  default control is the whole rest of the municipality) the control's change is scaled
  to the target's (ring's) baseline, ΔC → T0·(C1/C0 − 1), which makes the local term
  minus Guerette's (2009) net effect. Var = Σ (∂WDD/∂n)²·n over the independent Poisson
  counts n (delta method): with separate controls, equal windows and ``raw`` every
  coefficient is ±1 and Var is the sum of the eight counts; a control shared by T and D
  enters twice, so its terms are not counted as if independent. z = WDD/√Var.
- **WDQ** (Bowers & Johnson 2003): (Da/Ca − Db/Cb) / (Ta/Ca − Tb/Cb), for comparison with
  older reports. Defined only when C has events in both windows and the denominator (the
  success measure) is negative -- Bowers & Johnson weigh displacement against a success;
  without one the quotient means nothing and is left empty.
- **Verdict**: *för få händelser för att säga något* when T0 + T1 < ``min_events``; else
  significance is read from the DiD ratio's 95 % interval: entirely below 1 *minskning*,
  entirely above 1 *ökning*, else *ingen säker förändring*. The ring gets a note when its
  own ratio against its control is significant (and it has ``min_events``): up
  *tecken på förflyttning till närområdet*, down *spridning av nytta*.

Protected (sensitive) categories never count here: a count in a small circle per week is a
place-level figure, and those categories are published only as municipal aggregates.

>>> layer, weekly = evaluate_interventions(register, events, "2026-W47", cfg, boundary)  # doctest: +SKIP
>>> layer[["intervention_id", "verdict"]].values.tolist()                                  # doctest: +SKIP
[['A1', 'minskning'], ...]
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.analysis.weeks import iso_week_of, next_weeks, previous_weeks, week_monday, weeks_between, weeks_present
from pipeline.privacy import counted_events
from pipeline.products import ProductOutput
from pipeline.schema import coordinates
from pipeline.sources.interventions import REGISTER_COLUMNS

CRS = "EPSG:3006"
#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054

DECREASE = "minskning"
NO_CHANGE = "ingen säker förändring"
INCREASE = "ökning"
TOO_FEW = "för få händelser för att säga något"
VERDICTS = (DECREASE, NO_CHANGE, INCREASE, TOO_FEW)
DISPLACEMENT = "tecken på förflyttning till närområdet"
DIFFUSION = "spridning av nytta"

#: Status in the analysed week: running, ended but within ``after_weeks`` (still followed
#: up), ended and follow-up complete.
ACTIVE = "pågående"
FOLLOW_UP = "uppföljning"
ENDED = "avslutad"
STATUSES = (ACTIVE, FOLLOW_UP, ENDED)

BEFORE, UNDER, AFTER = "före", "under", "efter"
WINDOWS = (BEFORE, UNDER, AFTER)

#: Columns of the ``interventions`` layer (besides the register's fields, which come first).
STAT_COLUMNS: dict[str, str] = {
    "status": "pågående | uppföljning (ended within after_weeks) | avslutad, in the analysed week.",
    "problem_label": "Swedish labels of the categories followed up ('alla kategorier' when all).",
    "ring_m": "Width of the displacement ring (m).",
    "comparison": "What the comparison area is (Swedish).",
    "start_week": "ISO week of the start date.",
    "end_week": "ISO week of the end date; empty while ongoing.",
    "weeks_before": "Weeks in the före window (with data).",
    "weeks_under": "Weeks in the under window (up to the analysed week).",
    "weeks_after": "Weeks in the efter window so far.",
    "t_before": "Events in the target, före.",
    "t_under": "... under.",
    "t_after": "... efter.",
    "d_before": "Events in the ring, före.",
    "d_under": "... under.",
    "d_after": "... efter.",
    "c_before": "Events in the comparison area, före.",
    "c_under": "... under.",
    "c_after": "... efter.",
    "e_before": "Events in the ring's comparison area, före (= c_before unless configured).",
    "e_under": "... under.",
    "e_after": "... efter.",
    "ratio": "DiD ratio (T1/T0)/(C1/C0), under against före.",
    "ratio_low": "95 % interval, lower.",
    "ratio_high": "95 % interval, upper.",
    "ratio_corrected": "A zero count: 0.5 added to all four (Haldane–Anscombe).",
    "ratio_after": "DiD ratio, efter against före.",
    "ratio_after_low": "95 % lower.",
    "ratio_after_high": "95 % upper.",
    "ring_ratio": "DiD ratio of the ring against its comparison, under against före.",
    "ring_ratio_low": "95 % lower.",
    "ring_ratio_high": "95 % upper.",
    "wdd": "Weighted displacement difference, events per week (negative = fewer).",
    "wdd_se": "Its standard error (√Var).",
    "wdd_z": "z = wdd / wdd_se.",
    "wdq": "Weighted displacement quotient (Bowers & Johnson); empty where not defined.",
    "verdict": "minskning | ingen säker förändring | ökning | för få händelser för att säga något.",
    "ring_note": "tecken på förflyttning till närområdet | spridning av nytta | empty.",
}
#: Columns of the ``interventions_weekly`` table (one row per intervention × week).
WEEKLY_COLUMNS = ["intervention_id", "iso_week", "window", "n_target", "n_ring", "n_comparison", "n_ring_comparison"]


#: run_info keys the product writes.
REGISTER_KEY = "interventions_register"  # none | ok
QUALITY_KEY = "interventions_quality"  # JSON: rows per file, rejected rows (no raw text)
LAYER, WEEKLY_LAYER = "interventions", "interventions_weekly"


def build_interventions(inp) -> ProductOutput:
    """The product: the week's ``interventions`` layer and ``interventions_weekly`` table.

    ``inp.interventions`` is the accepted register (``pipeline.sources.interventions.load_register``;
    its ``attrs["quality"]`` goes to run_info), or None when no register is configured.
    """
    register = inp.interventions
    if register is None:
        return ProductOutput({LAYER: empty_layer(), WEEKLY_LAYER: empty_weekly()}, {REGISTER_KEY: "none"})
    if not isinstance(register, gpd.GeoDataFrame):
        register = gpd.GeoDataFrame(register, geometry="geometry", crs=CRS)
    layer, weekly = evaluate_interventions(
        register, inp.events, inp.week, inp.cfg, inp.reference.boundary, inp.reference.areas
    )
    quality = register.attrs.get("quality") or {}
    info = {REGISTER_KEY: "ok", QUALITY_KEY: json.dumps(quality, ensure_ascii=False, sort_keys=True)}
    return ProductOutput({LAYER: layer, WEEKLY_LAYER: weekly}, info)


# -- statistics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A DiD ratio with its 95 % interval; ``corrected`` when a zero count needed the 0.5."""

    ratio: float
    low: float
    high: float
    corrected: bool = False

    @property
    def significant(self) -> bool:
        return bool(self.low > 1 or self.high < 1)


NO_RATIO = Ratio(math.nan, math.nan, math.nan)


def did_ratio(t0: float, t1: float, c0: float, c1: float, z: float = Z95) -> Ratio:
    """(T1/T0)/(C1/C0) with exp(log r ± z·√(1/T0 + 1/T1 + 1/C0 + 1/C1)).

    >>> r = did_ratio(40, 20, 400, 400)
    >>> round(r.ratio, 3), round(r.low, 3), round(r.high, 3)
    (0.5, 0.287, 0.87)
    >>> did_ratio(0, 0, 10, 10)
    Ratio(ratio=nan, low=nan, high=nan, corrected=False)
    """
    if t0 + t1 == 0 or c0 + c1 == 0:
        return NO_RATIO
    corrected = min(t0, t1, c0, c1) == 0
    if corrected:
        t0, t1, c0, c1 = t0 + 0.5, t1 + 0.5, c0 + 0.5, c1 + 0.5
    log_r = math.log(t1 / t0) - math.log(c1 / c0)
    se = math.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)
    return Ratio(math.exp(log_r), math.exp(log_r - z * se), math.exp(log_r + z * se), corrected)


@dataclass(frozen=True)
class Wdd:
    """WDD in events per week, its variance and z; ``local`` and ``ring`` are its two terms."""

    wdd: float
    var: float
    local: float
    ring: float

    @property
    def se(self) -> float:
        return math.sqrt(self.var) if self.var > 0 else math.nan

    @property
    def z(self) -> float:
        return self.wdd / self.se if self.var > 0 else math.nan


NO_WDD = Wdd(math.nan, math.nan, math.nan, math.nan)


def wdd(
    t: tuple,
    c: tuple,
    d: tuple = (0, 0),
    e: tuple = (0, 0),
    weeks: tuple = (1, 1),
    scaled: bool = False,
    shared: bool = False,
) -> Wdd:
    """Weighted displacement difference per week; see the module docstring.

    ``t``, ``c``, ``d``, ``e`` are (before, after) counts in target, its control, ring and the
    ring's control; with ``shared`` the ring's control is the target's (``e`` is ignored).
    ``weeks`` are the window lengths.

    >>> wdd((80, 20), (100, 50), weeks=(2, 1))                   # Wheeler (2021), per year
    Wdd(wdd=-20.0, var=115.0, local=-20.0, ring=0.0)
    >>> wdd((10, 5), (20, 20), (6, 9), (12, 12)).var            # the eight counts
    94.0
    """
    (t0, t1), (c0, c1), (d0, d1) = t, c, d
    e0, e1 = (c0, c1) if shared else e
    w0, w1 = weeks
    if w0 <= 0 or w1 <= 0:
        return NO_WDD
    if scaled:
        return _wdd_scaled(t0, t1, c0, c1, d0, d1, e0, e1, w1, shared)
    local = (t1 / w1 - t0 / w0) - (c1 / w1 - c0 / w0)
    ring = (d1 / w1 - d0 / w0) - (e1 / w1 - e0 / w0)
    var = t1 / w1**2 + t0 / w0**2 + d1 / w1**2 + d0 / w0**2
    # A shared control's counts carry both coefficients: (−1 − 1)² = 4 times their variance.
    var += (4 if shared else 1) * (c1 / w1**2 + c0 / w0**2)
    if not shared:
        var += e1 / w1**2 + e0 / w0**2
    return Wdd(local + ring, var, local, ring)


def _wdd_scaled(t0, t1, c0, c1, d0, d1, e0, e1, w1, shared) -> Wdd:
    """WDD with the controls scaled to the baselines: T1/w1 − T0·C1/(C0·w1) + D1/w1 − D0·E1/(E0·w1).

    (The before window's length cancels: the baseline rate times the control's ratio of rates.)
    """
    if c0 <= 0 or (e0 <= 0 and not shared):
        return NO_WDD
    local = t1 / w1 - t0 * c1 / (c0 * w1)
    ring = d1 / w1 - d0 * e1 / (e0 * w1)
    grads = {  # count -> (∂WDD/∂count, count): the delta-method variance Σ g²·n
        "t1": (1 / w1, t1),
        "t0": (-c1 / (c0 * w1), t0),
        "d1": (1 / w1, d1),
        "d0": (-e1 / (e0 * w1), d0),
    }
    if shared:
        grads["c1"] = (-(t0 + d0) / (c0 * w1), c1)
        grads["c0"] = ((t0 + d0) * c1 / (c0**2 * w1), c0)
    else:
        grads["c1"] = (-t0 / (c0 * w1), c1)
        grads["c0"] = (t0 * c1 / (c0**2 * w1), c0)
        grads["e1"] = (-d0 / (e0 * w1), e1)
        grads["e0"] = (d0 * e1 / (e0**2 * w1), e0)
    var = sum(g * g * n for g, n in grads.values())
    return Wdd(local + ring, var, local, ring)


def wdq(t: tuple, d: tuple, c: tuple) -> float:
    """Bowers & Johnson's weighted displacement quotient, NaN where not defined (see module).

    >>> round(wdq((40, 20), (30, 36), (400, 400)), 3)        # (0.09 − 0.075) / (0.05 − 0.1)
    -0.3
    """
    (tb, ta), (db, da), (cb, ca) = t, d, c
    if cb <= 0 or ca <= 0:
        return math.nan
    success = ta / ca - tb / cb
    if success >= 0:
        return math.nan
    return (da / ca - db / cb) / success + 0.0  # + 0.0: no "−0" when the ring did not change


def verdict(t0: int, t1: int, ratio: Ratio, min_events: int) -> str:
    """The plain Swedish verdict; significance from the DiD ratio's 95 % interval.

    >>> verdict(40, 20, did_ratio(40, 20, 400, 400), 10)
    'minskning'
    >>> verdict(4, 3, did_ratio(4, 3, 400, 400), 10)
    'för få händelser för att säga något'
    """
    if t0 + t1 < min_events or math.isnan(ratio.ratio):
        return TOO_FEW
    if ratio.high < 1:
        return DECREASE
    if ratio.low > 1:
        return INCREASE
    return NO_CHANGE


def ring_note(d0: int, d1: int, ratio: Ratio, min_events: int) -> str:
    """Displacement / diffusion note from the ring's own ratio (empty when not significant).

    >>> ring_note(20, 45, did_ratio(20, 45, 400, 400), 10)
    'tecken på förflyttning till närområdet'
    """
    if d0 + d1 < min_events or math.isnan(ratio.ratio) or not ratio.significant:
        return ""
    return DISPLACEMENT if ratio.low > 1 else DIFFUSION


# -- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    """The ISO weeks of an intervention's windows, seen from the analysed week."""

    start_week: str
    end_week: str  # "" while ongoing
    before: list[str]
    under: list[str]
    after: list[str]
    status: str


def intervention_windows(
    start: dt.date, end: dt.date | None, week: str, before_weeks: int, after_weeks: int, first_week: str | None
) -> Windows | None:
    """Windows of an intervention in ``week``; None when it starts after ``week``.

    ``first_week`` is the first week of the event table: a före week before it has no data
    and is left out (counting it as zero would fake a low baseline).

    >>> w = intervention_windows(dt.date(2026, 9, 28), None, "2026-W47", 8, 8, "2026-W22")
    >>> w.before[0], w.before[-1], w.under[0], w.under[-1], w.after, w.status
    ('2026-W32', '2026-W39', '2026-W40', '2026-W47', [], 'pågående')
    """
    start_week = iso_week_of(start)
    if start_week > week:
        return None
    end_week = iso_week_of(end) if end is not None else ""
    before = [w for w in previous_weeks(start_week, before_weeks) if first_week is None or w >= first_week]
    last_under = min(end_week, week) if end_week else week
    under = weeks_between(start_week, last_under)
    after = [w for w in next_weeks(end_week, after_weeks) if w <= week] if end_week else []
    if not end_week or end_week >= week:
        status = ACTIVE
    elif (week_monday(week) - week_monday(end_week)).days // 7 <= after_weeks:
        status = FOLLOW_UP
    else:
        status = ENDED
    return Windows(start_week, end_week, before, under, after, status)


# -- counting --------------------------------------------------------------------------------


@dataclass
class _Areas:
    target: object
    ring: object
    comparison: object
    ring_comparison: object | None  # None: shares the comparison


def evaluate_interventions(
    register: gpd.GeoDataFrame, events, week: str, cfg, boundary, areas: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The ``interventions`` layer (one row per intervention started by ``week``) and the
    ``interventions_weekly`` table. ``events`` are the canonical events of every week up to
    ``week``; duplicates and protected events are left out here."""
    icfg = cfg.interventions
    present = weeks_present(events)
    plans = _plans(register, week, icfg, present[0] if present else None)
    if not plans:
        return empty_layer(), empty_weekly()
    counted = counted_events(events)
    counted = counted[counted["iso_week"].astype(str) <= week]
    xs, ys = coordinates(counted)
    weeks, cats = counted["iso_week"].astype(str).to_numpy(), counted["category"].astype(str).to_numpy()
    rows, weekly = [], []
    for i, windows in plans.items():
        reg = register.iloc[i]
        where = _areas_of(reg, i, register, plans, icfg, boundary, areas)
        sel = _category_mask(cats, reg["problem"])
        series = _weekly_counts(where, xs[sel], ys[sel], weeks[sel], windows)
        weekly.append(series.assign(intervention_id=reg["intervention_id"]))
        rows.append(_row(reg, windows, series, where, icfg, cfg))
    layer = pd.DataFrame(rows)
    base = register.iloc[list(plans)].reset_index(drop=True)
    out = pd.concat([base.drop(columns="geometry"), layer], axis=1)
    out = gpd.GeoDataFrame(out, geometry=base.geometry.to_numpy(), crs=CRS)
    weekly_frame = pd.concat(weekly, ignore_index=True)[WEEKLY_COLUMNS]
    return _ordered(out), weekly_frame


def empty_layer() -> gpd.GeoDataFrame:
    """The layer with no rows: the register's columns and STAT_COLUMNS, typed."""
    ints = {c for c in STAT_COLUMNS if c.startswith(("weeks_", "t_", "d_", "c_", "e_"))} | {"source_line"}
    floats = {
        "radius_m",
        "ring_m",
        "ratio",
        "ratio_low",
        "ratio_high",
        "ratio_after",
        "ratio_after_low",
        "ratio_after_high",
        "ring_ratio",
        "ring_ratio_low",
        "ring_ratio_high",
        "wdd",
        "wdd_se",
        "wdd_z",
        "wdq",
    }
    cols = [c for c in REGISTER_COLUMNS if c != "geometry"] + list(STAT_COLUMNS)
    data = {
        c: pd.Series(
            dtype="int64" if c in ints else "float64" if c in floats else "bool" if c == "ratio_corrected" else "string"
        )
        for c in cols
    }
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)


def empty_weekly() -> pd.DataFrame:
    """The weekly table with no rows."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c.startswith("n_") else "string") for c in WEEKLY_COLUMNS})


def _ordered(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    order = {s: k for k, s in enumerate(STATUSES)}
    key = layer["status"].map(order)
    layer = layer.assign(_o=key).sort_values(["_o", "start", "intervention_id"], kind="stable")
    return layer.drop(columns="_o").reset_index(drop=True)


def _plans(register, week: str, icfg, first_week) -> dict[int, Windows]:
    out = {}
    for i, (start, end) in enumerate(zip(register["start"], register["end"])):
        w = intervention_windows(
            dt.date.fromisoformat(str(start)),
            dt.date.fromisoformat(str(end)) if str(end or "") not in ("", "<NA>") else None,
            week,
            icfg.before_weeks,
            icfg.after_weeks,
            first_week,
        )
        if w is not None:
            out[i] = w
    return out


def _areas_of(reg, i: int, register, plans, icfg, boundary, areas) -> _Areas:
    target = reg.geometry
    ring = target.buffer(icfg.ring_m, quad_segs=16).difference(target).intersection(boundary)
    treated = _treated_elsewhere(i, register, plans, icfg, boundary)
    exclude = shapely.union_all([target, ring, treated])
    comparison = _named_or(areas, icfg.comparison_area, boundary).difference(exclude)
    ring_comp = None
    if icfg.ring_comparison_area is not None:
        ring_comp = _named_or(areas, icfg.ring_comparison_area, boundary).difference(exclude)
    return _Areas(target, ring, comparison, ring_comp)


def _treated_elsewhere(i: int, register, plans: dict[int, Windows], icfg, boundary):
    """Targets and rings of the other interventions whose weeks overlap this one's span."""
    mine = plans[i]
    span = set(mine.before) | set(mine.under) | set(mine.after)
    parts = []
    for j, other in plans.items():
        if j == i or not span & set(other.under):
            continue
        geom = register.geometry.iloc[j]
        parts.append(geom.buffer(icfg.ring_m, quad_segs=16))
    return shapely.union_all(parts).intersection(boundary) if parts else shapely.Polygon()


def _named_or(areas, name: str | None, boundary):
    if name is None or areas is None or not len(areas):
        return boundary
    hit = areas[areas["name"].astype(str) == name]
    return shapely.union_all(hit.geometry.to_numpy()) if len(hit) else boundary


def _category_mask(categories: np.ndarray, problem) -> np.ndarray:
    keys = [k for k in str(problem or "").split(",") if k and k != "<NA>"]
    return np.isin(categories, keys) if keys else np.ones(len(categories), dtype=bool)


def _weekly_counts(where: _Areas, xs, ys, weeks, windows: Windows) -> pd.DataFrame:
    """Counts per week of the windows in target, ring, comparison and ring comparison."""
    labels = (
        [(w, BEFORE) for w in windows.before]
        + [(w, UNDER) for w in windows.under]
        + [(w, AFTER) for w in windows.after]
    )
    inside = {
        "n_target": shapely.contains_xy(where.target, xs, ys),
        "n_ring": shapely.contains_xy(where.ring, xs, ys),
        "n_comparison": shapely.contains_xy(where.comparison, xs, ys),
    }
    inside["n_ring_comparison"] = (
        inside["n_comparison"] if where.ring_comparison is None else shapely.contains_xy(where.ring_comparison, xs, ys)
    )
    data = {"iso_week": [w for w, _ in labels], "window": [k for _, k in labels]}
    for col, mask in inside.items():
        per_week = pd.Series(weeks[mask]).value_counts()
        data[col] = [int(per_week.get(w, 0)) for w, _ in labels]
    return pd.DataFrame(data)


def _row(reg, windows: Windows, series: pd.DataFrame, where: _Areas, icfg, cfg) -> dict:
    sums = series.groupby("window")[["n_target", "n_ring", "n_comparison", "n_ring_comparison"]].sum()
    get = lambda col, win: int(sums.at[win, col]) if win in sums.index else 0  # noqa: E731
    t = [get("n_target", w) for w in WINDOWS]
    d = [get("n_ring", w) for w in WINDOWS]
    c = [get("n_comparison", w) for w in WINDOWS]
    e = [get("n_ring_comparison", w) for w in WINDOWS]
    n_before, n_under, n_after = len(windows.before), len(windows.under), len(windows.after)
    main = did_ratio(t[0], t[1], c[0], c[1]) if n_before and n_under else NO_RATIO
    after = did_ratio(t[0], t[2], c[0], c[2]) if n_before and n_after else NO_RATIO
    ring = did_ratio(d[0], d[1], e[0], e[1]) if n_before and n_under else NO_RATIO
    shared = where.ring_comparison is None
    w = (
        wdd(
            (t[0], t[1]),
            (c[0], c[1]),
            (d[0], d[1]),
            (e[0], e[1]),
            weeks=(n_before, n_under),
            scaled=icfg.wdd_control == "scaled",
            shared=shared,
        )
        if n_before and n_under
        else NO_WDD
    )
    judged = verdict(t[0], t[1], main, icfg.min_events) if n_before else TOO_FEW
    return {
        "status": windows.status,
        "problem_label": problem_label(reg["problem"], cfg),
        "ring_m": float(icfg.ring_m),
        "comparison": _comparison_text(icfg),
        "start_week": windows.start_week,
        "end_week": windows.end_week,
        "weeks_before": n_before,
        "weeks_under": n_under,
        "weeks_after": n_after,
        "t_before": t[0],
        "t_under": t[1],
        "t_after": t[2],
        "d_before": d[0],
        "d_under": d[1],
        "d_after": d[2],
        "c_before": c[0],
        "c_under": c[1],
        "c_after": c[2],
        "e_before": e[0],
        "e_under": e[1],
        "e_after": e[2],
        "ratio": main.ratio,
        "ratio_low": main.low,
        "ratio_high": main.high,
        "ratio_corrected": main.corrected,
        "ratio_after": after.ratio,
        "ratio_after_low": after.low,
        "ratio_after_high": after.high,
        "ring_ratio": ring.ratio,
        "ring_ratio_low": ring.low,
        "ring_ratio_high": ring.high,
        "wdd": w.wdd,
        "wdd_se": w.se,
        "wdd_z": w.z,
        "wdq": wdq((t[0], t[1]), (d[0], d[1]), (c[0], c[1])) if n_before and n_under else math.nan,
        "verdict": judged,
        "ring_note": ring_note(d[0], d[1], ring, icfg.min_events) if judged != TOO_FEW else "",
    }


def problem_label(problem, cfg) -> str:
    """Swedish labels of the followed-up categories, or 'alla kategorier'."""
    keys = [k for k in str(problem or "").split(",") if k and k != "<NA>"]
    if not keys:
        return "alla kategorier"
    return ", ".join(cfg.taxonomy[k].label if k in cfg.taxonomy else k for k in keys)


def _comparison_text(icfg) -> str:
    own = icfg.comparison_area or "övriga kommunen"
    if icfg.ring_comparison_area:
        return f"{own}; närområdet mot {icfg.ring_comparison_area}"
    return own


# -- where the analysis points and nobody acts -----------------------------------------------


def uncovered(zones: gpd.GeoDataFrame, layer: gpd.GeoDataFrame) -> np.ndarray:
    """Bool per zone: True when no active intervention's target touches it.

    >>> uncovered(hotspots, interventions_layer)         # doctest: +SKIP
    array([ True, False])
    """
    if not len(zones):
        return np.zeros(0, dtype=bool)
    active = layer[layer["status"] == ACTIVE] if len(layer) else layer
    if not len(active):
        return np.ones(len(zones), dtype=bool)
    covered = shapely.union_all(active.geometry.to_numpy())
    return ~zones.geometry.intersects(covered).to_numpy(bool)
