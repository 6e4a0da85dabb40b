"""Query every week of several municipalities at once with DuckDB (the optional extra `duckdb`).

    .venv/bin/pip install -e '.[duckdb]'
    .venv/bin/python docs/duckdb_example.py Mjölby=data/processed [Boxholm=../boxholm/data/processed ...]

Each argument is ``name=<processed folder>`` of one municipality's project (its
``events/<YYYY-Www>.parquet`` partitions, written by every ``lagesbild ingest`` or
``weekly``). DuckDB reads the GeoParquet files directly; a filter on ``iso_week`` skips whole
files and row groups by their statistics, so a query of one week reads that week. The
store holds case ids and addresses (see "Querying the archive with DuckDB" in
docs/ARCHITECTURE.md): it is for analysts inside the organisation, never for publication.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb


def events_view(con, municipalities: dict[str, Path]) -> None:
    """A view ``events`` over every municipality's partitions, with a ``kommun`` column."""
    parts = []
    for name, folder in municipalities.items():
        pattern = str(Path(folder) / "events" / "*.parquet").replace("'", "''")
        parts.append(f"SELECT '{name.replace(chr(39), chr(39) * 2)}' AS kommun, * "
                     f"FROM read_parquet('{pattern}', union_by_name = true)")
    con.execute("CREATE OR REPLACE VIEW events AS " + " UNION ALL ".join(parts))


QUERIES = {
    "Händelser per kategorigrupp och tid på dygnet, alla veckor": """
        SELECT kommun, category_group, time_of_day, count(*) AS handelser
        FROM events WHERE NOT sensitive
        GROUP BY ALL ORDER BY kommun, handelser DESC""",
    "En vecka, läst ur en partition": """
        SELECT kommun, area, count(*) AS handelser
        FROM events WHERE iso_week = (SELECT max(iso_week) FROM events)
        GROUP BY ALL ORDER BY handelser DESC LIMIT 10""",
}


def last_weeks_query(n: int) -> str:
    """Weekly counts of the last ``n`` ISO weeks in the data (ISO week strings sort in time)."""
    return f"""
        WITH weeks AS (SELECT DISTINCT iso_week FROM events ORDER BY iso_week DESC LIMIT {int(n)})
        SELECT kommun, iso_week, count(*) AS handelser,
               count(*) FILTER (WHERE duplicate_of <> '') AS troliga_dubbletter
        FROM events WHERE iso_week IN (SELECT iso_week FROM weeks)
        GROUP BY ALL ORDER BY kommun, iso_week"""


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    municipalities = {}
    for arg in argv:
        name, _, folder = arg.rpartition("=")
        municipalities[name or Path(folder).resolve().parent.parent.name] = Path(folder)
    con = duckdb.connect()
    events_view(con, municipalities)
    queries = {"Händelser per kommun och vecka, de senaste 8 veckorna": last_weeks_query(8), **QUERIES}
    for title, sql in queries.items():
        print(f"\n== {title}")
        print(con.sql(sql))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
