"""The declared products, in one place: the DAG the runner builds for every ISO week.

One entry per product. ``weeks_before`` is how many earlier weeks of events it reads (None =
all history up to the week); ``layers`` are the archive layers it writes (pipeline.schema.LAYERS).
"""

from __future__ import annotations

from pipeline.analysis.emerging import build_emerging
from pipeline.analysis.forecast import FORECAST_COLUMNS, build_prognos
from pipeline.analysis.recurrence import RECURRENCE_WINDOWS
from pipeline.analysis.trends import TREND_COLUMNS_READ, build_series, build_trends, trends_lookback
from pipeline.analysis.weekly import WEEK_COLUMNS
from pipeline.evaluation.backtest import build_accuracy
from pipeline.evaluation.interventions import build_interventions
from pipeline.products import Product
from pipeline.products.week import build_week
from pipeline.schema import COORDINATE_COLUMNS

PRODUCTS: tuple[Product, ...] = (
    Product(
        "week",
        build=build_week,
        layers=(
            "events",
            "hotspots",
            "clusters",
            "density",
            "density_rolling",
            "area_summary",
            "key_figures",
            "weekday_hour",
        ),
        # the rolling window, the pooled weeks zones and clusters are compared with, and the
        # weeks whose zones recurrence counts
        weeks_before=lambda cfg: max(cfg.analysis.rolling_weeks, *RECURRENCE_WINDOWS),
        columns=WEEK_COLUMNS,
    ),
    # every area and group over every week of the data, for trend lines (report, index)
    Product("series", build=build_series, layers=("series",), weeks_before=None, columns=("area", "category_group")),
    # tested changes: this week against the previous weeks and the same weeks a year earlier
    Product(
        "trends",
        build=build_trends,
        layers=("trends",),
        weeks_before=trends_lookback,
        columns=TREND_COLUMNS_READ,
    ),
    # emerging hot spots: Gi* per cell and week, Mann-Kendall trend, ArcGIS's 17 classes
    Product(
        "emerging",
        build=build_emerging,
        layers=("emerging",),
        weeks_before=lambda cfg: cfg.emerging.weeks - 1,
        columns=COORDINATE_COLUMNS,
    ),
    # next week's forecast, its settings chosen by a backtest on every earlier week
    Product(
        "prognos",
        build=build_prognos,
        layers=("prognos", "prognos_zones"),
        weeks_before=None,
        columns=FORECAST_COLUMNS,
    ),
    # how last week's forecast and hotspot maps did on this week's events (the last weeks' record)
    Product(
        "accuracy",
        build=build_accuracy,
        layers=("accuracy",),
        weeks_before=None,
        requires=("prognos",),
        columns=FORECAST_COLUMNS,
    ),
    # the interventions register: before/under/after counts, DiD ratio, WDD, WDQ and a verdict
    # per intervention (its före window may reach far back, so every week up to the week)
    Product(
        "interventions",
        build=build_interventions,
        layers=("interventions", "interventions_weekly"),
        weeks_before=None,
        inputs=("events", "reference", "interventions"),
        columns=("category", "x", "y"),
    ),
)
