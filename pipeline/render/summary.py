"""*Veckans viktigaste*: 3–6 plain Swedish sentences on what the meeting should discuss.

Every sentence is drawn from an archive layer of the week, never from a guess: the count of
the week against the earlier weeks, tested changes (the ``trends`` layer's ``direction_prev`` /
``direction_year`` when the trend test wrote them), new and recurring hotspot zones, emerging
hot spots, where the forecast points next week and interventions that started, ended or
showed an effect. A layer that is absent says nothing. A week with no tested change and no
new zone says that it was a quiet week, because "nothing stood out" is news too.

Each sentence carries place, time and number where the result has them. The texts are plain
strings: the templates escape them.

>>> from tests.fixtures_week import build_week_context
>>> lines = week_summary(build_week_context())
>>> 3 <= len(lines) <= 6 and lines[0].key == "total"
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from pipeline.render import format as fmt
from pipeline.schema import ALL_DAY, OUTSIDE_AREA, STATUS_NEW, STATUS_SEEN_BEFORE, WEEK_PERIOD

MAX_SENTENCES = 6
#: Named places listed in one sentence; more would not be read aloud in a meeting.
MAX_PLACES = 3
#: Emerging hot spot classes worth a sentence (they say "this is getting worse or is new").
EMERGING_NEWS = ("ny", "intensifierande", "sammanhängande", "ihållande")
DIMENSION_WORDS = {"group": "", "area": "i ", "time_of_day": "", "partner": "hos "}


@dataclass(frozen=True)
class Sentence:
    key: str  # what the sentence is about: total, change, zones, recurring, emerging, ...
    text: str


def week_summary(ctx) -> list[Sentence]:
    """The week's most important sentences, most important first (at most ``MAX_SENTENCES``)."""
    kf = _figures(ctx)
    if _total(kf) is None:
        return [Sentence("quiet", f"Inga händelser registrerades {_week_words(ctx.week)}.")]
    news = [
        s
        for s in (
            changes_sentence(ctx, kf, "prev"),
            changes_sentence(ctx, kf, "year"),
            new_zones_sentence(ctx),
            recurring_sentence(ctx),
            emerging_sentence(ctx),
            forecast_sentence(ctx),
            *intervention_sentences(ctx),
        )
        if s is not None
    ]
    out = [total_sentence(ctx, kf)]
    if not any(s.key in ("change", "zones", "emerging") for s in news):
        out.append(quiet_sentence(kf))
    elif "direction_prev" in kf and not any(s.key == "change" for s in news):
        out.append(
            Sentence(
                "no_change",
                f"Ingen säkerställd förändring mot de {fmt.sv_small(_recent_weeks(ctx))} "
                "föregående veckorna: skillnaderna ligger inom den vanliga variationen.",
            )
        )
    out += news
    out += [s for s in (top_area_sentence(ctx, kf), peak_time_sentence(ctx)) if s is not None]
    return out[:MAX_SENTENCES] if len(out) > 3 else out


# -- sentences ----------------------------------------------------------------------------------


def total_sentence(ctx, kf) -> Sentence:
    """The week's count against the weekly mean of the earlier weeks."""
    n, mean = _total(kf)
    weeks = _recent_weeks(ctx)
    text = (
        f"{_week_words(ctx.week).capitalize()} registrerades {fmt.sv_number(n)} händelser i kommunen, "
        f"mot i snitt {fmt.sv_number(mean, 1)} per vecka de {fmt.sv_small(weeks)} föregående veckorna"
    )
    pct = _pct(n, mean)
    if pct is not None:
        text += f" ({_signed_percent(pct)})"
    return Sentence("total", text + ".")


def quiet_sentence(kf) -> Sentence:
    """Nothing stood out. Only a tested table may say "no change"; an untested one says only
    what is certain (no new zones)."""
    if "direction_prev" in kf:
        return Sentence("quiet", "En lugn vecka: inga säkerställda förändringar och inga nya hotspot-zoner.")
    return Sentence("quiet", "Inga nya hotspot-zoner denna vecka.")


def changes_sentence(ctx, kf, against: str) -> Sentence | None:
    """Tested rises and falls (q below the trend test's alpha), strongest evidence first."""
    col, qcol, mean_col = (
        ("direction_prev", "q_prev", "mean_prev") if against == "prev" else ("direction_year", "q_year", "mean_year")
    )
    if col not in kf or len(kf) == 0:
        return None
    hits = kf[pd.to_numeric(kf[col], errors="coerce").fillna(0) != 0]
    if len(hits) == 0:
        return None
    hits = hits.sort_values(qcol, kind="stable") if qcol in hits else hits
    parts = []
    for row in hits.head(MAX_PLACES).itertuples(index=False):
        word = "ökning" if int(getattr(row, col)) > 0 else "minskning"
        mean = getattr(row, mean_col)
        subject = DIMENSION_WORDS.get(str(row.dimension), "") + str(row.label)
        if str(row.dimension) == "time_of_day":
            subject = f"{str(row.label).lower()}"
        parts.append(f"{word} {subject}: {fmt.sv_number(row.n_week)} händelser mot {fmt.sv_number(mean, 1)}")
    when = (
        f"de {fmt.sv_small(_recent_weeks(ctx))} föregående veckorna" if against == "prev" else "samma veckor förra året"
    )
    lead = "Säkerställd" if len(parts) == 1 else "Säkerställda förändringar"
    sep = " " if len(parts) == 1 else ": "
    return Sentence("change" if against == "prev" else "change_year", f"{lead}{sep}{_join(parts)} i snitt {when}.")


def new_zones_sentence(ctx) -> Sentence | None:
    """New hotspot zones of the week (whole day, broadest level): place, count, busiest time."""
    zones = _week_zones(ctx, STATUS_NEW)
    if len(zones):
        zones = zones[pd.to_numeric(zones["n_events"], errors="coerce").fillna(0) >= _min_zone_events(ctx)]
    if len(zones) == 0:
        return None
    parts = []
    for row in zones.head(MAX_PLACES).itertuples(index=False):
        when = busiest_time(ctx, row.geometry)
        parts.append(f"{_place(row)} ({_events_text(row.n_events, ctx)}{', mest under ' + when if when else ''})")
    word = "Ny hotspot-zon" if len(zones) == 1 else f"{len(zones)} nya hotspot-zoner"
    return Sentence("zones", f"{word} denna vecka: {_join(parts)}.")


def recurring_sentence(ctx) -> Sentence | None:
    """Zones of the week that were also zones in the earlier weeks: the places that recur."""
    zones = _week_zones(ctx, STATUS_SEEN_BEFORE)
    if len(zones) == 0:
        return None
    names = [
        f"{_place(r)} ({fmt.count_text(r.n_events, ctx.cfg.privacy.min_count)})"
        for r in zones.head(MAX_PLACES).itertuples(index=False)
    ]
    weeks = ctx.cfg.analysis.rolling_weeks
    return Sentence(
        "recurring",
        f"Återkommande platser, som var hotspot-zoner även de {fmt.sv_small(weeks)} "
        f"föregående veckorna: {_join(names)}.",
    )


def emerging_sentence(ctx) -> Sentence | None:
    """Emerging hot spots: new, intensifying, consecutive or persistent cells, by place."""
    em = _layer(ctx, "emerging")
    if len(em) == 0 or "pattern" not in em:
        return None
    pattern = em["pattern"].astype(str)
    parts = []
    for cls in EMERGING_NEWS:
        cells = em[pattern == f"{cls} hot spot"] if (pattern == f"{cls} hot spot").any() else em[pattern == cls]
        if len(cells) == 0:
            continue
        places = _distinct_places(cells)
        n = len(cells)
        where = f" vid {_join(places)}" if places else ""
        parts.append(f"{cls}{where} ({n} {'ruta' if n == 1 else 'rutor'})")
    if not parts:
        return None
    weeks = getattr(getattr(ctx.cfg, "emerging", None), "weeks", None)
    span = f" de senaste {weeks} veckorna" if weeks else ""
    return Sentence("emerging", f"Framväxande hot spots{span}: {_join(parts[:MAX_PLACES])}.")


def forecast_sentence(ctx) -> Sentence | None:
    """Where the forecast points next week (the forecast areas, by place)."""
    zones = _layer(ctx, "prognos_zones")
    if len(zones) == 0:
        return None
    if "level" in zones:  # the densest forecast level: where it points most sharply
        zones = zones[zones["level"].astype(float) == zones["level"].astype(float).min()]
    if "n_expected" in zones:
        zones = zones.sort_values("n_expected", ascending=False, kind="stable")
    places = _distinct_places(zones)
    if not places:
        return None
    return Sentence("forecast", f"Prognosen för {_week_words(_next_week(ctx.week))} pekar mot {_join(places)}.")


def intervention_sentences(ctx) -> list[Sentence]:
    """Interventions that started or ended this week, and those with a tested effect."""
    iv = _layer(ctx, "interventions")
    if len(iv) == 0:
        return []
    started, ended, effect = [], [], []
    for row in iv.itertuples(index=False):
        name = fmt.text(getattr(row, "name", "")) or "insats"
        where = fmt.text(getattr(row, "target", "")) or fmt.text(getattr(row, "place_name", ""))
        label = f"{name} ({where})" if where and where != name else name
        if fmt.text(getattr(row, "start_week", "")) == ctx.week:
            started.append(label)
        if fmt.text(getattr(row, "end_week", "")) == ctx.week:
            ended.append(label)
        verdict = fmt.text(getattr(row, "verdict", ""))
        if verdict in ("minskning", "ökning"):
            effect.append(f"{label}: säkerställd {verdict}")
    out = []
    if started or ended:
        bits = ([f"startade {_join(started)}"] if started else []) + ([f"avslutades {_join(ended)}"] if ended else [])
        out.append(Sentence("interventions", f"Insatser denna vecka: {'; '.join(bits)}."))
    if effect:
        out.append(
            Sentence("intervention_effect", f"Uppföljning jämfört med jämförelseområdet: {_join(effect[:MAX_PLACES])}.")
        )
    return out


def top_area_sentence(ctx, kf) -> Sentence | None:
    """The named area with most events this week."""
    areas = kf[(kf["dimension"].astype(str) == "area") & (kf["key"].astype(str) != OUTSIDE_AREA)] if len(kf) else kf
    areas = areas[pd.to_numeric(areas["n_week"], errors="coerce").fillna(0) > 0] if len(areas) else areas
    if len(areas) == 0:
        return None
    top = areas.sort_values("n_week", ascending=False, kind="stable").iloc[0]
    total, _ = _total(kf)
    return Sentence(
        "top_area", f"Flest händelser i {top['label']}: {fmt.sv_number(top['n_week'])} av {fmt.sv_number(total)}."
    )


def peak_time_sentence(ctx) -> Sentence | None:
    """The busiest time of day, and its busiest weekday and hour."""
    kf = _figures(ctx)
    tod = kf[kf["dimension"].astype(str) == "time_of_day"] if len(kf) else kf
    if len(tod) == 0 or pd.to_numeric(tod["n_week"], errors="coerce").fillna(0).max() <= 0:
        return None
    top = tod.sort_values("n_week", ascending=False, kind="stable").iloc[0]
    total, _ = _total(kf)
    text = (
        f"Flest händelser under {str(top['label']).lower()}: {fmt.sv_number(top['n_week'])} av {fmt.sv_number(total)}"
    )
    day = _busiest_weekday(ctx, str(top["key"]))
    if day:
        text += f", främst på {day}"
    return Sentence("peak_time", text + ".")


def _busiest_weekday(ctx, tod: str) -> str:
    """The weekday with most events in time-of-day bin ``tod`` ("fredagen", from weekday_hour),
    "" when there is no single busiest one."""
    wh = _layer(ctx, "weekday_hour")
    if len(wh) == 0:
        return ""
    bins = ctx.cfg.time_bin_of_hour()
    part = wh[[bins[int(h)] == tod for h in wh["hour"]]]
    per_day = part.groupby("weekday")["n"].sum().sort_values(ascending=False, kind="stable")
    if len(per_day) == 0 or per_day.iloc[0] < 2 or (len(per_day) > 1 and per_day.iloc[0] == per_day.iloc[1]):
        return ""
    return f"{fmt.WEEKDAYS[int(per_day.index[0]) - 1]}en ({int(per_day.iloc[0])})"


def busiest_time(ctx, geom) -> str:
    """The most common time of day of the week's (drawable) events inside ``geom``, e.g.
    "kväll 18–24"; "" when none or no single one."""
    events = _layer(ctx, "events")
    if len(events) == 0 or geom is None or "time_of_day" not in events:
        return ""
    if "duplicate_of" in events:
        events = events[events["duplicate_of"].fillna("").astype(str) == ""]
    inside = events[events.geometry.within(geom.buffer(1e-6))]
    counts = inside["time_of_day"].astype(str).value_counts()
    if len(counts) == 0 or (len(counts) > 1 and counts.iloc[0] == counts.iloc[1]):
        return ""
    return fmt.time_label(counts.index[0], ctx.cfg).lower()


# -- helpers -------------------------------------------------------------------------------------


def _layer(ctx, name: str):
    frame = ctx.layers.get(name)
    return frame if frame is not None else pd.DataFrame()


def _total(kf) -> tuple[int, float] | None:
    """(events this week, earlier weekly mean), summed over the groups (each event is in one)."""
    if len(kf) == 0:
        return None
    groups = kf[kf["dimension"].astype(str) == "group"]
    n = int(pd.to_numeric(groups["n_week"], errors="coerce").fillna(0).sum())
    if n == 0:
        return None
    return n, float(pd.to_numeric(groups["mean_prev"], errors="coerce").fillna(0).sum())


def _events_text(n, ctx) -> str:
    if fmt.is_missing(n):
        return f"färre än {ctx.cfg.privacy.min_count} händelser"
    return f"{fmt.sv_number(n)} {'händelse' if int(n) == 1 else 'händelser'}"


def _min_zone_events(ctx) -> int:
    """Fewest events for a new zone to be news: the configured minimum, else a cluster's."""
    a = ctx.cfg.analysis
    return int(getattr(a, "min_zone_events", None) or a.dbscan.min_samples)


def _figures(ctx):
    """The tested trend table when the archive has it, else the week's key figures (the same
    rows; no test columns)."""
    trends = _layer(ctx, "trends")
    return trends if len(trends) else _layer(ctx, "key_figures")


def _recent_weeks(ctx) -> int:
    """Weeks the earlier mean is taken over: the trend test's, or the key figures' window."""
    trends = getattr(ctx.cfg, "trends", None)
    if len(_layer(ctx, "trends")) and getattr(trends, "recent_weeks", None):
        return int(trends.recent_weeks)
    return int(ctx.cfg.analysis.rolling_weeks)


def _week_zones(ctx, status: str):
    hs = _layer(ctx, "hotspots")
    if len(hs) == 0:
        return hs
    part = hs[(hs["period"].astype(str) == WEEK_PERIOD) & (hs["time_of_day"].astype(str) == ALL_DAY)]
    if len(part) == 0:
        return part
    part = part[part["level"].astype(float) == part["level"].astype(float).max()]
    part = part[part["status"].astype(str) == status] if "status" in part else part.iloc[0:0]
    return part.sort_values(["n_events", "zone_id"], ascending=[False, True], kind="stable")


def _place(row) -> str:
    return fmt.text(getattr(row, "place_name", "")) or "namnlös plats"


def _distinct_places(frame) -> list[str]:
    """Place names of the rows (place_name, else area), in row order, without repeats."""
    names = []
    for col in ("place_name", "area", "name"):
        if col in frame:
            names = [fmt.text(v) for v in frame[col]]
            break
    return list(dict.fromkeys(n for n in names if n))[:MAX_PLACES]


def _pct(n: float, mean: float) -> float | None:
    return None if not mean else (n - mean) / mean * 100.0


def _signed_percent(pct: float) -> str:
    """
    >>> _signed_percent(18.4), _signed_percent(-5.0), _signed_percent(0.2)
    ('+18\xa0%', '−5\xa0%', '±0\xa0%')
    """
    r = round(pct)
    return "±0\u00a0%" if r == 0 else f"{'+' if r > 0 else '−'}{fmt.sv_number(abs(r))}\u00a0%"


def _join(parts: list[str]) -> str:
    """Swedish list: "a, b och c".

    >>> _join(["a", "b", "c"]), _join(["a"])
    ('a, b och c', 'a')
    """
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " och " + parts[-1]


def _week_words(week: str) -> str:
    year, num = fmt.week_parts(week)
    return f"vecka {num} ({fmt.week_period(week)})"


def _next_week(week: str) -> str:
    year, num = fmt.week_parts(week)
    monday = dt.date.fromisocalendar(year, num, 1) + dt.timedelta(days=7)
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def headline(ctx) -> str:
    """The terminal's one line about the week: count against the earlier weeks, new zones,
    tested changes.

    >>> from tests.fixtures_week import build_week_context
    >>> headline(build_week_context()).startswith("Vecka 47, 2026: 156 händelser")
    True
    """
    year, num = fmt.week_parts(ctx.week)
    kf = _figures(ctx)
    total = _total(kf)
    if total is None:
        return f"Vecka {num}, {year}: inga händelser."
    n, mean = total
    parts = [
        f"{fmt.sv_number(n)} händelser (snitt {fmt.sv_number(mean, 1)} de {fmt.sv_small(_recent_weeks(ctx))} "
        f"föregående veckorna)"
    ]
    new = _week_zones(ctx, STATUS_NEW)
    new = new[pd.to_numeric(new["n_events"], errors="coerce").fillna(0) >= _min_zone_events(ctx)] if len(new) else new
    parts.append(f"{len(new)} {'ny hotspot-zon' if len(new) == 1 else 'nya hotspot-zoner'}")
    if "direction_prev" in kf:
        n_changes = int((pd.to_numeric(kf["direction_prev"], errors="coerce").fillna(0) != 0).sum())
        parts.append(f"{n_changes} {'säkerställd förändring' if n_changes == 1 else 'säkerställda förändringar'}")
    return f"Vecka {num}, {year}: " + ", ".join(parts) + "."
