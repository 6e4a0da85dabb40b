"""Command line: ``lagesbild ingest | weekly | report | backtest | demo-data``.

User mistakes (bad config, bad export, a held lock) print one line and exit 2; a traceback
means a bug in lagesbild.
"""

from __future__ import annotations

import argparse
import sys

from pipeline.errors import LagesbildError, output_error

#: Commands that take several --config (one municipality each) and run them in parallel.
MULTI = ("ingest", "weekly")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lagesbild", description="Lägesbild: hotspot maps, report and archive per ISO week."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("ingest", "read every partner export; update events/ (one file per week), rejected.csv, quality.json"),
        ("weekly", "ingest, analyse one ISO week, write its archive, map and report"),
        ("demo-data", "regenerate the committed demo exports, gazetteer and areas (seeded)"),
        ("report", "write the report of a quarter or a year from the weekly archives"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        if name in MULTI:
            cmd.add_argument(
                "--config",
                action="append",
                help="path to config.yaml (default: config.yaml); give it several times to run several "
                "municipalities in parallel processes, each under its own lock",
            )
            cmd.add_argument(
                "--jobs", type=int, help="with several --config: processes at once (default: one per core)"
            )
        else:
            cmd.add_argument("--config", default="config.yaml", help="path to config.yaml (default: %(default)s)")
        if name == "weekly":
            cmd.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: latest complete week in the data)")
            cmd.add_argument(
                "--backfill",
                action="store_true",
                help="also build every earlier week in the data that has no archive yet",
            )
            cmd.add_argument(
                "--rebuild",
                action="store_true",
                help="build the week even when its archive, map and report are current",
            )
        if name == "report":
            cmd.add_argument("--period", required=True, help="a quarter (2026-Q3) or a year (2026)")
        if name == "demo-data":
            cmd.add_argument("--seed", type=int, default=586, help="random seed (default: %(default)s)")
    _add_backtest(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except LagesbildError as err:
        print(f"lagesbild: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        # A permission problem or a full disk outside atomic writes is the machine's state, not a bug.
        known = output_error(err, err.filename or "lagesbild")
        if known is None:
            raise
        print(f"lagesbild: error: {known}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lagesbild: interrupted; outputs are written atomically, so nothing is half-written", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    if args.command == "backtest":
        return _backtest(args)
    if args.command in MULTI:
        configs = args.config or ["config.yaml"]
        if len(configs) > 1:
            from pipeline.parallel import run_configs  # noqa: PLC0415 - only for several municipalities

            return run_configs(args.command, configs, _shared_args(args), jobs=args.jobs)
        args.config = configs[0]
    from pipeline.config import load_config  # noqa: PLC0415 - lazy: --help answers before the heavy stack loads

    cfg = load_config(args.config)
    if args.command == "ingest":
        from pipeline.runner import run_ingest  # noqa: PLC0415 - lazy: --help answers before the heavy stack loads

        run_ingest(cfg)
    elif args.command == "weekly":
        from pipeline.runner import run_weekly  # noqa: PLC0415 - lazy: --help answers before the heavy stack loads

        run_weekly(cfg, week=args.week, backfill=args.backfill, rebuild=args.rebuild)
    elif args.command == "report":
        from pipeline.runner import run_period_report  # noqa: PLC0415 - lazy: --help answers before the heavy stack loads

        run_period_report(cfg, args.period)
    elif args.command == "demo-data":
        from pipeline.demo import write_demo_data  # noqa: PLC0415 - lazy: --help answers before the heavy stack loads

        for path in write_demo_data(cfg, seed=args.seed):
            print(path)
    return 0


def _shared_args(args) -> list[str]:
    """The command's options other than --config and --jobs, to pass on to each process."""
    out = []
    if getattr(args, "week", None):
        out += ["--week", args.week]
    for flag in ("backfill", "rebuild"):
        if getattr(args, flag, False):
            out.append(f"--{flag}")
    return out


def _add_backtest(sub) -> None:
    text = "backtest the forecast: every week predicted only from the weeks before it; a table per candidate setting"
    cmd = sub.add_parser("backtest", help=text, description=text + " (default: on the configured data)")
    cmd.add_argument(
        "--config",
        help="path to config.yaml (default: config.yaml; with --events: the forecast "
        "defaults unless --config is given)",
    )
    cmd.add_argument("--events", help="CSV of any city's events with columns x, y, time (ISO 8601 local time)")
    cmd.add_argument("--crs", help="CRS of x and y in --events, e.g. EPSG:4326 (required with --events)")
    cmd.add_argument("--area", help="polygon file of the study area (default: the events' extent, or the municipality)")
    cmd.add_argument("--weeks", help="weeks to predict, FIRST:LAST, e.g. 2019-W01:2019-W52 (default: the last 52)")
    cmd.add_argument("--cell-size", type=float, help="cell size in metres (default: analysis.cell_size_m)")
    cmd.add_argument("--out", help="output folder (default: backtest, or <paths.processed>/backtest)")
    cmd.add_argument("--save-forecasts", action="store_true", help="also write one GeoTIFF per predicted week")


def _backtest(args) -> int:
    from pipeline.evaluation.backtest import command  # noqa: PLC0415 - the other commands do not need it

    return command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
