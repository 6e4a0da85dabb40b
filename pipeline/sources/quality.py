"""Per-partner data-quality summary (JSON-serialisable) and its plain-text table.

Also the conservation check: for every file, rows read = accepted + rejected. A violation
is a bug in the pipeline (a row was lost or counted twice), so it raises AssertionError.

>>> q = quality_summary({("polisen", "data/raw/polisen/v47.csv"): 3}, events, rejected,
...                     unmapped_categories(events, cfg), cfg=cfg)          # doctest: +SKIP
>>> q["partners"]["polisen"]["rejected_by_reason"]                           # doctest: +SKIP
{'not_geocoded': 1}
>>> print(format_summary(q))                                                 # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from pipeline.privacy import sensitive_category_for
from pipeline.schema import REASONS
from pipeline.sources.normalise import unmapped_mask

#: Reasons of rows that had a location text or coordinates but got no usable point.
LOCATION_FAILURES = ("bad_coordinates", "not_geocoded", "outside_municipality")
#: An accepted-events frame may come as distinct rows with how many events each stands for
#: in this column (io.store.quality_rows: a national history is millions of rows but a few
#: hundred distinct ones); without it every row is one event.
COUNT_COLUMN = "n_events"


def _weights(frame: pd.DataFrame) -> pd.Series:
    if COUNT_COLUMN in frame.columns:
        return frame[COUNT_COLUMN].astype("int64")
    return pd.Series(1, index=frame.index, dtype="int64")


def unmapped_categories(events: pd.DataFrame, cfg) -> dict[str, Counter]:
    """partner -> Counter of raw category texts that the partner's mapping does not know.

    >>> unmapped_categories(events, cfg)                 # doctest: +SKIP
    {'kommunen': Counter({'Vattenläcka': 2})}
    """
    out: dict[str, Counter] = {}
    if len(events):
        # each distinct (partner, text) looked up once: a national history has millions of rows
        pairs = (
            _weights(events)
            .groupby([events["source"], events["source_category"]], observed=True)
            .sum()
            .rename("n")
            .reset_index()
        )
        hit = pairs[unmapped_mask(pairs, cfg).to_numpy(bool)]
        for partner, raw, n in hit[["source", "source_category", "n"]].itertuples(index=False):
            out.setdefault(str(partner), Counter())[str(raw)] += int(n)
    return out


def quality_summary(
    rows_read: dict,
    events: pd.DataFrame,
    rejected: pd.DataFrame,
    unmapped: dict[str, Counter] | None = None,
    *,
    cfg=None,
    exports: dict | None = None,
) -> dict:
    """Summary per partner and in total; raises AssertionError if a file's rows do not add up.

    ``rows_read`` maps (partner, file) -> rows read. ``exports`` (optional) maps the same keys
    to the ``RawExport`` (for encoding and delimiter); ``cfg`` (optional) gives the labels.
    """
    accepted = _counts(events)
    rejected_n = _counts(rejected)
    _check_conservation(rows_read, accepted, rejected_n)
    partners = sorted(
        {p for p, _ in rows_read} | set(_partners(events)) | set(_partners(rejected)), key=_partner_order(cfg)
    )
    out = {
        p: _partner_summary(
            p, rows_read, accepted, rejected_n, events, rejected, (unmapped or {}).get(p, Counter()), cfg, exports or {}
        )
        for p in partners
    }
    return {"partners": out, "totals": _totals(out)}


def format_summary(summary: dict) -> str:
    """A plain-text table for the terminal, one line per partner plus totals and details.

    >>> print(format_summary(q))                         # doctest: +SKIP
    Partner            Lästa  Godkända  Avvisade  Geokodade  Dubbletter
    Polismyndigheten     412       405         7     98.3 %           3
    """
    head = ("Partner", "Lästa", "Godkända", "Avvisade", "Geokodade", "Dubbletter")
    rows = [_table_row(p["label"], p) for p in summary["partners"].values()]
    rows.append(_table_row("Totalt", summary["totals"]))
    width = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r):
        return "  ".join(c.ljust(width[0]) if i == 0 else c.rjust(width[i]) for i, c in enumerate(r))

    lines = [
        line(head),
        "  ".join("-" * w for w in width),
        *map(line, rows[:-1]),
        "  ".join("-" * w for w in width),
        line(rows[-1]),
    ]
    for p in summary["partners"].values():
        lines.extend(_details(p))
    return "\n".join(lines)


# -- counting -----------------------------------------------------------------------------------


def _counts(frame: pd.DataFrame) -> Counter:
    if frame is None or not len(frame):
        return Counter()
    sizes = _weights(frame).groupby([frame["source"], frame["source_file"]]).sum()
    return Counter({(str(p), str(f)): int(n) for (p, f), n in sizes.items()})


def _partners(frame: pd.DataFrame) -> list[str]:
    return [] if frame is None or not len(frame) else [str(p) for p in frame["source"].unique()]


def _partner_order(cfg):
    keys = list(cfg.partners) if cfg is not None else []
    return lambda p: (keys.index(p) if p in keys else len(keys), p)


def _check_conservation(rows_read: dict, accepted: Counter, rejected: Counter) -> None:
    for key in set(rows_read) | set(accepted) | set(rejected):
        read, acc, rej = _rows(rows_read.get(key, 0)), accepted.get(key, 0), rejected.get(key, 0)
        if read != acc + rej:
            raise AssertionError(
                f"row conservation violated for partner {key[0]}, file {key[1]}: "
                f"{read} rows read but {acc} accepted + {rej} rejected"
            )


def _rows(value) -> int:
    """rows_read values may be ints, RawExports or dicts with 'rows_read'."""
    if isinstance(value, dict):
        return int(value["rows_read"])
    return int(getattr(value, "rows_read", value))


def _partner_summary(partner, rows_read, accepted, rejected_n, events, rejected, unmapped, cfg, exports) -> dict:
    files = sorted(f for p, f in set(rows_read) | set(accepted) | set(rejected_n) if p == partner)
    ev = events[events["source"] == partner] if len(events) else events
    rj = rejected[rejected["source"] == partner] if len(rejected) else rejected
    sensitive = _looks_sensitive(unmapped, cfg)
    by_reason = _value_counts(rj, "reason")
    n_acc = int(_weights(ev).sum()) if len(ev) else 0
    located_or_not = n_acc + sum(by_reason.get(r, 0) for r in LOCATION_FAILURES)
    return {
        "label": cfg.partners[partner].label if cfg is not None and partner in cfg.partners else partner,
        "files": [_file_summary(partner, f, rows_read, accepted, rejected_n, exports) for f in files],
        "rows_read": sum(_rows(rows_read.get((partner, f), 0)) for f in files),
        "accepted": n_acc,
        "rejected": len(rj),
        "rejected_by_reason": by_reason,
        "geocoded_by_method": _value_counts(ev, "geocode_method"),
        "unmapped_categories": _by_count({k: v for k, v in unmapped.items() if k not in sensitive}),
        # unmapped names that look sensitive: counted as sensitive, never drawn as "Övrigt" points
        "unmapped_sensitive": _by_count({k: v for k, v in unmapped.items() if k in sensitive}),
        "duplicates_cross_partner": int(_weights(ev)[(ev["duplicate_of"].fillna("") != "").to_numpy(bool)].sum())
        if n_acc
        else 0,
        # Of the rows that got as far as locating (had coordinates or a place text): how many got a point.
        "geocoded_share": round(n_acc / located_or_not, 4) if located_or_not else None,
    }


def _looks_sensitive(unmapped, cfg) -> set[str]:
    if cfg is None:
        return set()
    names, words = cfg.sensitive_names(), cfg.privacy.sensitive_words
    return {raw for raw in unmapped if sensitive_category_for(raw, names, words)}


def _by_count(counts: dict) -> dict[str, int]:
    return dict(sorted(((str(k), int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0])))


def with_not_read(summary: dict, not_read: dict[str, list[dict]]) -> dict:
    """Copy of ``summary`` with each partner's files that were not read (``read.not_read_files``)
    under ``not_read``, so the run's summary names them."""
    out = {**summary, "partners": {p: dict(q) for p, q in summary.get("partners", {}).items()}}
    for partner, files in not_read.items():
        if partner in out["partners"]:
            out["partners"][partner]["not_read"] = list(files)
    return out


def _file_summary(partner, file, rows_read, accepted, rejected_n, exports) -> dict:
    key = (partner, file)
    source = exports.get(key, rows_read.get(key))
    return {
        "file": file,
        "encoding": _attr(source, "encoding"),
        "delimiter": _attr(source, "delimiter"),
        "rows_read": _rows(rows_read.get(key, 0)),
        "accepted": accepted.get(key, 0),
        "rejected": rejected_n.get(key, 0),
    }


def _attr(source, name: str):
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def _value_counts(frame: pd.DataFrame, column: str) -> dict[str, int]:
    if frame is None or not len(frame):
        return {}
    values = frame[column]
    counts = _weights(frame)[values.notna().to_numpy(bool)].groupby(values.dropna().astype(str)).sum()
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def _totals(partners: dict) -> dict:
    def merged(key):
        total = Counter()
        for p in partners.values():
            total.update(p[key])
        return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))

    acc = sum(p["accepted"] for p in partners.values())
    tried = acc + sum(p["rejected_by_reason"].get(r, 0) for p in partners.values() for r in LOCATION_FAILURES)
    return {
        "rows_read": sum(p["rows_read"] for p in partners.values()),
        "accepted": acc,
        "rejected": sum(p["rejected"] for p in partners.values()),
        "rejected_by_reason": merged("rejected_by_reason"),
        "geocoded_by_method": merged("geocoded_by_method"),
        "duplicates_cross_partner": sum(p["duplicates_cross_partner"] for p in partners.values()),
        "geocoded_share": round(acc / tried, 4) if tried else None,
    }


# -- text ---------------------------------------------------------------------------------------


def _table_row(label: str, p: dict) -> tuple[str, ...]:
    share = "–" if p["geocoded_share"] is None else f"{100 * p['geocoded_share']:.1f} %"
    return (
        label,
        str(p["rows_read"]),
        str(p["accepted"]),
        str(p["rejected"]),
        share,
        str(p["duplicates_cross_partner"]),
    )


def _details(p: dict) -> list[str]:
    out = []
    if p["rejected_by_reason"]:
        out.append(
            f"{p['label']} – avvisade: "
            + ", ".join(
                f"{REASONS.get(code, code).lower()} ({code}) {n}" for code, n in p["rejected_by_reason"].items()
            )
        )
    if p["unmapped_categories"]:
        out.append(
            f"{p['label']} – okända kategorier (→ Övrigt): "
            + ", ".join(f"'{raw}' {n}" for raw, n in p["unmapped_categories"].items())
        )
    if p.get("unmapped_sensitive"):
        out.append(
            f"{p['label']} – okända kategorier som ser känsliga ut (behandlas som känsliga, "
            "visas aldrig som punkter): " + ", ".join(f"'{raw}' {n}" for raw, n in p["unmapped_sensitive"].items())
        )
    if p.get("not_read"):
        out.append(f"{p['label']} – inte lästa: " + ", ".join(f"{f['file']} ({f['reason']})" for f in p["not_read"]))
    return out
