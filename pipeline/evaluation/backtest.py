"""Rolling-origin backtest of the forecast: every week predicted only from the weeks before it.

``lagesbild backtest`` runs the very selection the weekly forecast runs
(:mod:`pipeline.analysis.forecast`), on the configured data or on any city's events, and
reports two things for the predicted weeks (``--weeks``):

- per candidate setting: mean hit rate, PAI and PEI* at each level
  (:mod:`pipeline.evaluation.accuracy`), and ``chosen``: the candidate with the best mean
  PAI at ``forecast.select_level`` over those weeks — what the selection picks when the
  predicted weeks are its backtest weeks;
- the row ``rolling``: what the weekly run would actually have achieved. For each predicted
  week the setting is chosen from the ``forecast.backtest_weeks`` weeks before it (each of
  those predicted only from weeks before *it*), then that week is forecast. This is a
  genuinely out-of-sample score of the whole procedure; ``chosen`` is the best in hindsight.

The candidate list is fixed for a run, from the history before the first predicted week (the
weekly run derives it the same way from the history up to its week).

Study area: the cells of ``--area`` (a polygon file) or else of the events' extent (their
bounding box, cell-aligned). PAI and PEI* depend on it: a larger, emptier area gives larger
PAIs. The same definition is used by the backtest, the forecast's own selection and the
weekly accuracy table.

>>> result = run_backtest(points, grid, mask, weeks_between("2019-W01", "2019-W52"), opts)  # doctest: +SKIP
>>> result.table.loc[result.table.chosen, "pai_5"]                                          # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from pipeline.analysis.forecast import (
    History,
    Setting,
    analysis_grid,
    backtest_table,
    best_candidate,
    candidate_settings,
    default_setting,
    density_bandwidth,
    expected_surface,
    forecast_next_week,
    forecast_points,
    largest_bandwidth,
    nn_distance,
    rolling_record,
    scored,
)
from pipeline.analysis.grid import Grid, clip_mask
from pipeline.analysis.kde import kde, resolve_bandwidth
from pipeline.analysis.weeks import check_week, previous_weeks, rolling_window, weeks_between
from pipeline.config import ForecastConfig, load_config
from pipeline.errors import LagesbildError
from pipeline.evaluation.accuracy import SCORE_FIELDS, Target, top_k_scores
from pipeline.io.atomic import atomic_path, write_csv
from pipeline.memo import memoized
from pipeline.products import ProductOutput
from pipeline.schema import CRS as CRS_SWEREF
from pipeline.schema import ROLLING_PERIOD, WEEK_PERIOD

ROLLING = "rolling"
#: Cell size of ``lagesbild backtest --events`` without a config or ``--cell-size``.
DEFAULT_CELL_M = 100.0


@dataclass
class BacktestResult:
    table: pd.DataFrame  # one row per candidate, then the ``rolling`` row
    weekly: pd.DataFrame  # per predicted week: the rolling choice and its scores
    chosen: Setting  # best mean PAI at the select level over the weeks
    candidates: list[Setting]
    rolling_settings: list[Setting]  # the setting the rolling selection used, per week
    history: History
    nn_distance_m: float
    levels: list[float] = field(default_factory=list)
    select_level: float = 5.0


def run_backtest(
    points: pd.DataFrame, grid: Grid, mask, weeks: list[str], opts, default_bandwidth_m: float | None = None
) -> BacktestResult:
    """Backtest the forecast on ``weeks`` (consecutive ISO weeks); see the module docstring.

    ``points``: columns ``x``, ``y`` (metres, the grid's CRS) and ``iso_week``. Events after the
    last predicted week are never read.
    """
    if not weeks:
        raise ValueError("no weeks to predict")
    iso = points["iso_week"].astype(str)
    used = points[(iso <= weeks[-1]) & (iso != "")]
    history = History(
        used[["x", "y"]].to_numpy(np.float64),
        used["iso_week"].astype(str).to_numpy(),
        grid,
        mask,
        reach_m=opts.max_bandwidth_cells * grid.cell,
        last_week=weeks[-1],
    )
    index = {w: i for i, w in enumerate(history.weeks)}
    missing = [w for w in weeks if w not in index or index[w] == 0]
    if missing:
        raise ValueError(f"week {missing[0]} has no earlier week of events to predict it from")
    predicted = [index[w] for w in weeks]
    before = history.event_week < predicted[0]
    nn = nn_distance(history.event_xy[before], history.event_week[before])
    candidates = candidate_settings(opts, grid.cell, nn, predicted[-1])
    fallback = default_setting(opts, grid.cell, default_bandwidth_m)
    history.set_reach(largest_bandwidth([*candidates, fallback]))
    first = max(1, predicted[0] - opts.backtest_weeks)
    sc = scored(history, opts, list(range(first, predicted[-1] + 1)), candidates)
    cols = sc.columns(predicted)
    on_weeks = {f: a[:, cols] for f, a in sc.scores.items()}
    chosen = best_candidate(on_weeks["pai"][:, :, sc.select])
    table = backtest_table(candidates, on_weeks, sc.levels, chosen)
    weekly, used_settings = rolling_record(sc, predicted, opts, fallback)
    table = _with_rolling_row(table, weekly, used_settings, sc.levels)
    return BacktestResult(
        table, weekly, candidates[chosen], candidates, used_settings, history, nn, sc.levels, sc.levels[sc.select]
    )


def _with_rolling_row(table: pd.DataFrame, weekly: pd.DataFrame, used: list[Setting], levels) -> pd.DataFrame:
    """Count how often each candidate was the rolling choice; append the procedure's own row."""
    labels = pd.Series([s.label() for s in used])
    table = table.assign(rolling_weeks_chosen=table["setting"].map(labels.value_counts()).fillna(0).astype(int))
    row = {
        "setting": ROLLING,
        "weeks_scored": int(weekly[f"pai_{levels[0]:g}"].notna().sum()),
        "chosen": False,
        "rolling_weeks_chosen": len(used),
    }
    for lv in levels:
        for f in ("hit_rate", "pai", "pei"):
            values = weekly[f"{f}_{lv:g}"]
            row[f"{f}_{lv:g}"] = float(np.nanmean(values)) if values.notna().any() else math.nan
    return pd.concat([table, pd.DataFrame([row])], ignore_index=True)


def forecast_surfaces(result: BacktestResult):
    """Yield ``(week, values)`` per predicted week: the rolling choice's surface for that week
    (expected events per km², ``(ny, nx)`` row 0 south), built from earlier weeks only."""
    h = result.history
    for row, setting in zip(result.weekly.itertuples(), result.rolling_settings):
        i = h.weeks.index(row.week)
        values, _ = expected_surface(h, i, setting)
        yield row.week, values


def format_table(result: BacktestResult, top: int = 15) -> str:
    """The printed summary: the best ``top`` candidates by mean PAI at the select level, the
    chosen one and the rolling procedure."""
    t = result.table
    levels = result.levels
    select_col = f"pai_{result.select_level:g}"
    cand = t[t["setting"] != ROLLING].sort_values(select_col, ascending=False, kind="stable")
    shown = pd.concat([cand.head(top), cand[cand["chosen"]], t[t["setting"] == ROLLING]]).drop_duplicates("setting")
    cols = ["setting"] + [f"{f}_{lv:g}" for lv in levels for f in ("pai", "pei")] + ["chosen", "rolling_weeks_chosen"]
    return shown[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")


# -- the command: events from a CSV of any city, or the configured data -----------------------
def read_events_csv(path, crs: str) -> tuple[pd.DataFrame, str]:
    """Events from a CSV with columns ``x``, ``y`` (in ``crs``) and ``time`` (ISO 8601 local time).

    Returns columns ``x``, ``y`` in metres on a local metric grid (``crs`` itself when it is
    projected in metres, else the UTM zone of the events), ``time`` (naive local time),
    ``iso_week``, ``hour``; and the CRS of ``x``, ``y``. Problems raise a one-line
    :class:`~pipeline.errors.LagesbildError` naming the file, line and column.
    """
    path = Path(path)
    if not path.is_file():
        raise LagesbildError(f"{path}: events file not found; pass --events FILE.csv with columns x, y, time")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", sep=None, engine="python")
    except (UnicodeDecodeError, pd.errors.ParserError, csv.Error) as err:
        raise LagesbildError(f"{path}: cannot read as UTF-8 CSV ({str(err).splitlines()[0]})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("x", "y", "time") if c not in frame.columns]
    if missing:
        raise LagesbildError(f"{path}: line 1: missing column(s) {', '.join(missing)}; name them x, y and time")
    xs = _numbers(frame["x"], path, "x")
    ys = _numbers(frame["y"], path, "y")
    times = _local_times(frame["time"], path)
    source = _crs(crs)
    metric = _metric_crs(source, xs, ys)
    if metric != source:
        xs, ys = Transformer.from_crs(source, metric, always_xy=True).transform(xs, ys)
    iso = times.dt.isocalendar()
    out = pd.DataFrame(
        {
            "x": np.asarray(xs, dtype=float),
            "y": np.asarray(ys, dtype=float),
            "time": times,
            "iso_week": (iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy(),
            "hour": times.dt.hour.to_numpy(),
        }
    )
    if not np.isfinite(out[["x", "y"]].to_numpy()).all():
        raise LagesbildError(f"{path}: column 'x'/'y': coordinates cannot be projected from {crs}; check --crs")
    return out, metric.to_string()


def _numbers(col: pd.Series, path, name: str) -> np.ndarray:
    values = pd.to_numeric(col.str.strip().str.replace(",", ".", regex=False), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise LagesbildError(
            f"{path}: line {i + 2}, column {name!r}: {col.iloc[i]!r} is not a number; fix or remove the row"
        )
    return values.to_numpy(dtype=float)


def _local_times(col: pd.Series, path) -> pd.Series:
    """ISO 8601 times as naive local wall-clock times (an offset, if written, is dropped: the
    local time as written decides the ISO week)."""
    text = col.str.strip().str.replace(r"(Z|[+-]\d\d(:?\d\d)?)$", "", regex=True)
    times = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if times.isna().any():
        i = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise LagesbildError(
            f"{path}: line {i + 2}, column 'time': {col.iloc[i]!r} is not an ISO 8601 time; write e.g. 2019-01-07T18:30"
        )
    return times


def _crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise LagesbildError(f"--crs {text!r} is not a known CRS; write e.g. EPSG:4326 or EPSG:3006") from None


def _metric_crs(source: CRS, xs, ys) -> CRS:
    """``source`` if it is projected in metres, else the WGS 84 UTM zone of the events' centre."""
    if source.is_projected and all(a.unit_name in ("metre", "meter") for a in source.axis_info[:2]):
        return source
    lon, lat = Transformer.from_crs(source, "EPSG:4326", always_xy=True).transform(
        float(np.median(xs)), float(np.median(ys))
    )
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def study_grid(points: pd.DataFrame, cell: float, area=None) -> tuple[Grid, np.ndarray]:
    """Grid and study mask: the cells whose centre lies in ``area`` (a shapely polygon in the
    points' CRS), or else every cell of the events' cell-aligned bounding box."""
    if area is not None:
        grid = Grid.anchored(area.bounds, cell)
        return grid, clip_mask(grid, area)
    if len(points) == 0:
        raise LagesbildError("no events to backtest")
    x, y = points["x"], points["y"]
    # A point exactly on the max edge belongs to the next cell; widen by a hair so it is inside.
    grid = Grid.anchored((x.min(), y.min(), x.max() + 1e-6, y.max() + 1e-6), cell)
    return grid, np.ones(grid.shape, dtype=bool)


def read_area(path, crs: str):
    """The union of the polygons in ``path`` (any format GDAL reads), in ``crs``."""
    path = Path(path)
    if not path.is_file():
        raise LagesbildError(f"{path}: area file not found; pass --area with a polygon file (GeoPackage, GeoJSON)")
    try:
        frame = gpd.read_file(path)
    except Exception as err:  # noqa: BLE001 - GDAL raises many types; the user needs one line
        raise LagesbildError(f"{path}: cannot read the area ({str(err).splitlines()[0]})") from None
    if frame.crs is None:
        raise LagesbildError(f"{path}: the area file has no CRS; save it with one (e.g. EPSG:4326)")
    geom = frame.to_crs(crs).geometry.union_all()
    if geom is None or geom.is_empty or geom.area <= 0:
        raise LagesbildError(f"{path}: the area has no polygon with an area")
    return geom


def parse_weeks(spec: str | None, available: list[str], min_weeks: int, default_count: int = 52) -> list[str]:
    """``--weeks A:B`` (inclusive ISO weeks) or, when not given, the last ``default_count`` weeks
    of the data that have at least ``min_weeks`` weeks before them (at least one earlier week).

    >>> parse_weeks("2019-W52:2020-W02", [], 8)
    ['2019-W52', '2020-W01', '2020-W02']
    """
    if spec:
        first, sep, last = spec.partition(":")
        first, last = check_week(first.strip()), check_week((last if sep else first).strip())
        weeks = weeks_between(first, last)
        if not weeks:
            raise LagesbildError(f"--weeks {spec!r}: the first week is after the last; write e.g. 2019-W01:2019-W52")
        return weeks
    if not available:
        raise LagesbildError("no events to backtest")
    every = weeks_between(available[0], available[-1])
    usable = every[max(1, min_weeks) :]
    if not usable:
        raise LagesbildError(f"too little history: {len(every)} weeks; the backtest needs more than one week")
    return usable[-default_count:]


def write_outputs(result: BacktestResult, out, crs: str, save_forecasts: bool) -> list[Path]:
    """``out/backtest.csv`` (per candidate + rolling), ``out/backtest_weeks.csv`` (per week),
    and with ``save_forecasts`` one GeoTIFF per predicted week (``prognos_<week>.tif``)."""
    out = Path(out)
    paths = [write_csv(out / "backtest.csv", result.table), write_csv(out / "backtest_weeks.csv", result.weekly)]
    if save_forecasts:
        grid = result.history.grid
        for week, values in forecast_surfaces(result):
            paths.append(write_geotiff(out / f"prognos_{week}.tif", values, grid, crs))
    return paths


def write_geotiff(dest, values: np.ndarray, grid: Grid, crs: str) -> Path:
    """A Float32 north-up GeoTIFF of ``values`` (row 0 south, as computed), written atomically."""
    with atomic_path(dest) as tmp:
        with rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=grid.nx,
            height=grid.ny,
            count=1,
            dtype="float32",
            crs=crs,
            transform=grid.transform,
            compress="deflate",
        ) as dst:
            dst.write(grid.to_north_up(values).astype(np.float32), 1)
            dst.update_tags(units="expected events per km2 in the week")
    return Path(dest)


def run_command(
    points: pd.DataFrame,
    grid: Grid,
    mask,
    crs: str,
    weeks: list[str],
    out,
    opts,
    save_forecasts: bool = False,
    default_bandwidth_m: float | None = None,
    echo=print,
) -> BacktestResult:
    """Backtest, print the table and write the outputs (shared by both forms of the command)."""
    try:
        result = run_backtest(points, grid, mask, weeks, opts, default_bandwidth_m)
    except ValueError as err:
        raise LagesbildError(f"backtest: {err}; choose --weeks with earlier weeks of events") from None
    paths = write_outputs(result, out, crs, save_forecasts)
    chosen = result.table[result.table["chosen"]].iloc[0]
    rolling = result.table[result.table["setting"] == ROLLING].iloc[0]
    lv = f"{result.select_level:g}"
    echo(
        f"backtest {weeks[0]}..{weeks[-1]}: {len(result.candidates)} candidate settings, {grid.nx}x{grid.ny} cells "
        f"of {grid.cell:g} m, {int(np.asarray(mask).sum())} in the study area, NN distance "
        f"{result.nn_distance_m:.0f} m"
    )
    echo(format_table(result))
    echo(
        f"chosen: {chosen['setting']} (mean PAI@{lv} % {chosen[f'pai_{lv}']:.2f}); rolling choice, each week "
        f"chosen from the {opts.backtest_weeks} weeks before it: mean PAI@{lv} % {rolling[f'pai_{lv}']:.2f}"
    )
    for p in paths[:2]:
        echo(str(p))
    if save_forecasts:
        echo(f"{len(paths) - 2} GeoTIFFs in {Path(out)}")
    return result


# -- the weekly accuracy table (the ``accuracy`` product) ----------------------------------------
#: The maps a week's meeting saw, scored on the next week's events.
FORECAST_METHOD = "prognos"
ACCURACY_METHODS = (FORECAST_METHOD, WEEK_PERIOD, ROLLING_PERIOD)
ACCURACY_COLUMNS = [
    "week", "made_in", "method", "level", "k", "area_km2", "n_events", "hits", "hit_rate", "pai", "pei", "setting",
]  # fmt: skip


def build_accuracy(inp) -> ProductOutput:
    """The ``accuracy`` product: for each of the last ``forecast.record_weeks`` weeks up to this
    one, how the maps of the week before did on its events — the forecast (as the weekly run
    made it: its setting chosen from the weeks before), the week's hotspot density
    (``vecka``) and the rolling-window density (``rullande``) — at every forecast level, each
    method's area being its top cells at that share of the municipality (pipeline/evaluation/
    accuracy.py). One row per week × method × level."""
    cfg = inp.cfg
    grid, mask = analysis_grid(inp.reference.boundary, cfg.analysis.cell_size_m)
    points = forecast_points(inp.events)
    fc = forecast_next_week(points, inp.week, grid, mask, cfg.forecast, density_bandwidth(cfg), inp.memo)
    table = accuracy_table(fc.record, points, grid, mask, cfg, inp.memo)
    weeks = sorted(set(table["week"]))
    info = {
        "accuracy_weeks": f"{weeks[0]}..{weeks[-1]}" if weeks else "",
        "accuracy_methods": ",".join(ACCURACY_METHODS),
    }
    return ProductOutput({"accuracy": table}, info)


def accuracy_table(record: pd.DataFrame, points: pd.DataFrame, grid: Grid, mask, cfg, memo=None) -> pd.DataFrame:
    """The forecast's record rows plus the two hotspot maps scored on the same weeks (each
    week's scores kept in ``memo``, keyed by the points they are computed from)."""
    levels = [float(v) for v in cfg.forecast.levels]
    rows_of = _WeekRows(points)  # once: a national history has millions of rows
    cell_km2 = grid.cell**2 / 1e6
    rows = []
    for rec in record.to_dict("records"):
        week = rec["week"]
        made_in = previous_weeks(week, 1)[0]
        for lv in levels:
            rows.append(_row(week, made_in, FORECAST_METHOD, lv, {f: rec[f"{f}_{lv:g}"] for f in SCORE_FIELDS},
                             cell_km2, rec["setting"]))  # fmt: skip
        for method, scores in hotspot_scores(points, grid, mask, cfg, week, levels, memo, rows_of).items():
            for li, lv in enumerate(levels):
                rows.append(_row(week, made_in, method, lv, {f: scores[f][li] for f in SCORE_FIELDS}, cell_km2, ""))
    frame = pd.DataFrame(rows, columns=ACCURACY_COLUMNS)
    return frame.astype({"k": "int64", "n_events": "int64", "hits": "int64", "level": float})


def _row(week, made_in, method, level, scores, cell_km2, setting) -> dict:
    k = int(scores["k"])
    return {
        "week": week, "made_in": made_in, "method": method, "level": level, "k": k, "area_km2": k * cell_km2,
        "n_events": int(scores["n_events"]), "hits": int(scores["hits"]), "hit_rate": float(scores["hit_rate"]),
        "pai": float(scores["pai"]), "pei": float(scores["pei"]), "setting": setting,
    }  # fmt: skip


class _WeekRows:
    """The points' coordinates by week: the rows of each week found once, by one sort (a
    national history has millions of rows and the accuracy table asks for a few weeks at a
    time, a hundred times)."""

    def __init__(self, points: pd.DataFrame):
        codes, uniques = pd.factorize(points["iso_week"])
        order = np.argsort(codes, kind="stable")  # stable: each week's rows stay in row order
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        self._rows = {str(w): order[bounds[i] : bounds[i + 1]] for i, w in enumerate(uniques)}
        self._xy = points[["x", "y"]].to_numpy(float).reshape(-1, 2)

    def xy(self, weeks) -> np.ndarray:
        """The coordinates of the rows of ``weeks``, in row order."""
        parts = [self._rows[w] for w in weeks if w in self._rows]
        return self._xy[np.sort(np.concatenate(parts))] if parts else np.empty((0, 2))


def hotspot_scores(points: pd.DataFrame, grid: Grid, mask, cfg, week: str, levels, memo=None, rows_of=None) -> dict:
    """The week before ``week``'s own density and its rolling-window density (as the week
    product draws them: the week's bandwidth, the configured kernel), scored on ``week``'s
    events at ``levels``. A map without events is not scored. ``rows_of``: the points'
    :class:`_WeekRows`, when the caller has them."""
    a = cfg.analysis
    made_in = previous_weeks(week, 1)[0]
    xy_of = (rows_of or _WeekRows(points)).xy
    week_xy, target_xy = xy_of([made_in]), xy_of([week])
    bandwidth = float(resolve_bandwidth(week_xy, a.bandwidth_m, a.cell_size_m))
    out = {}
    for method, xy in ((WEEK_PERIOD, week_xy), (ROLLING_PERIOD, xy_of(rolling_window(made_in, a.rolling_weeks)))):
        if len(xy) == 0:
            continue
        key = ("hotspot scores", xy, target_xy, grid, mask, bandwidth, a.kernel, levels)
        out[method] = memoized(
            memo, key, lambda xy=xy: _density_scores(xy, target_xy, grid, mask, bandwidth, a, levels)
        )
    return out


def _density_scores(xy, target_xy, grid: Grid, mask, bandwidth: float, a, levels) -> dict:
    """One density map of ``xy`` (the week product's kernel) scored on the events at ``target_xy``."""
    msk = np.asarray(mask, dtype=bool)
    density = kde(xy, grid, bandwidth, kernel=a.kernel)
    return top_k_scores(
        np.asarray(density)[msk], None, int(msk.sum()), levels, Target.from_points(target_xy, grid, mask)
    )


def command(args) -> int:
    """``lagesbild backtest``: on ``--events`` of any city, or on the configured data (ingested
    as ``lagesbild ingest`` does). See the module docstring."""
    if args.events:
        if not args.crs:
            raise LagesbildError("--events needs --crs, the CRS of its x and y (e.g. --crs EPSG:4326)")
        cfg = load_config(args.config) if args.config else None  # another city: the documented defaults
        opts = cfg.forecast if cfg is not None else ForecastConfig()
        cell = args.cell_size or (cfg.analysis.cell_size_m if cfg is not None else DEFAULT_CELL_M)
        points, crs = read_events_csv(args.events, args.crs)
        area = read_area(args.area, crs) if args.area else None
        out, default_bandwidth = Path(args.out or "backtest"), None
    else:
        # runner -> products catalog -> this module: import the runner only when it is needed.
        from pipeline.runner import Reference, run_ingest  # noqa: PLC0415 - import cycle

        cfg = load_config(args.config or "config.yaml")
        opts, cell, crs = cfg.forecast, args.cell_size or cfg.analysis.cell_size_m, CRS_SWEREF
        ref = Reference.load(cfg)
        events = run_ingest(cfg, ref=ref).events  # under the run lock, as `lagesbild ingest`
        points = forecast_points(events)
        area = read_area(args.area, crs) if args.area else ref.boundary
        out, default_bandwidth = Path(args.out or cfg.path(cfg.paths.processed) / "backtest"), density_bandwidth(cfg)
    if not cell or cell <= 0:
        raise LagesbildError(f"--cell-size must be a positive number of metres, got {args.cell_size!r}")
    grid, mask = study_grid(points, float(cell), area)
    weeks = parse_weeks(args.weeks, sorted(set(points["iso_week"])), opts.min_weeks)
    run_command(points, grid, mask, crs, weeks, out, opts, args.save_forecasts, default_bandwidth)
    return 0
