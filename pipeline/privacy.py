"""Privacy: the one rule for what may be published, keyed ids, and redaction of personal data.

Everything lägesbild publishes (archive, map, report, index) is treated as public: it goes
to the weekly meeting and is kept for years. This module is the single place that decides
what of the protected information may reach it; every product and renderer goes through it.

**The publication rule** (stated for people in README.md, "Data protection"). An event is
*protected* when its category is sensitive (``sensitive: true`` in the taxonomy, or an
unmapped category that looks sensitive, see :func:`sensitive_category_for`).

1. Protected events shape no spatial output and no count except one table.
   :func:`spatial_events` gives the events every density surface, hotspot zone, cluster,
   forecast, emerging hot spot, trend and key figure is built from: counted events
   (duplicates left out) that are not protected. A zone or a surface cell therefore cannot
   locate a protected event, however small it is, and no total includes one, so no
   difference of totals can isolate one.
2. Protected events are counted in exactly one place: :func:`sensitive_table`, a partition
   (each protected event in exactly one cell: area × category, whole week, whole day). A
   cell of fewer than ``privacy.min_count`` (k) events is shown as "< k" (:func:`publish_count`).
   Because the cells are disjoint and no other published figure contains protected events,
   no sum or difference of published figures gives a count of fewer than k protected events.
3. Points: :func:`publishable_points` leaves out protected events and the reports of other
   partners that were matched as duplicates of one (their ``duplicate_of`` would point at it).
4. Quality figures (rows read and accepted per partner and file, geocoding, duplicates) are
   all-time totals; published, their differences between two runs would give the number of
   protected events that arrived in between. :func:`public_quality` therefore leaves the
   withheld events (3.) out of every published count; the complete figures stay in
   ``data/processed/quality.json`` and the terminal summary.

Products written by other modules call :func:`spatial_events` for anything they draw or
count, and :func:`sensitive_table` / :func:`publish_count` if they must show protected counts.

**Ids.** ``event_id`` is :func:`keyed_id`: HMAC-SHA256 with a per-installation secret
(:func:`installation_key`, a file outside git and outside every published folder, created on
first run). Without the secret, enumerating case-number patterns gives nothing; losing it only
changes the ids.

**Redaction.** :func:`redact` replaces Swedish personal identity / coordination numbers, phone
numbers, e-mail addresses and vehicle registration numbers with a bracketed Swedish label. It
reads through Unicode separators (non-breaking and thin spaces, en dashes, minus signs, zero
width characters), full-width digits and case, and finds numbers glued to letters
("pnr850101-1234", "tel:0701112233"); it leaves dates, times, house numbers, postcodes, years
and the partners' case numbers (``5000-K123456-26``) alone. Every text from an export that is
published (unknown categories, file names, place texts) goes through :func:`redact`.

>>> redact("Anmälare 850101-1234 nås på 070-123 45 67, bil ABC 12A vid Vasagatan 12")
'Anmälare [personnummer] nås på [telefon], bil [regnr] vid Vasagatan 12'
>>> redact("pnr850101\u20131234, tel:0701112233, abc123")
'pnr[personnummer], tel:[telefon], [regnr]'
>>> publish_count(2, 3), publish_count(4, 3)
((<NA>, True), (4, False))
>>> format_count(2, True, 3)
'< 3'
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError

PNR_LABEL = "[personnummer]"
PHONE_LABEL = "[telefon]"
EMAIL_LABEL = "[e-post]"
REGNR_LABEL = "[regnr]"

#: Category key unmapped events that look sensitive get (config adds it to the taxonomy).
UNMAPPED_SENSITIVE = "ovrigt_kansligt"


# -- the publication rule ---------------------------------------------------------------------


def protected_mask(events) -> pd.Series:
    """True where an event is protected (its ``sensitive`` flag). Missing flags count as protected.

    >>> protected_mask(pd.DataFrame({"sensitive": [True, False, None]})).tolist()
    [True, False, True]
    """
    if "sensitive" not in events.columns:
        raise KeyError("events need the canonical 'sensitive' column")
    flag = events["sensitive"]
    return flag.astype("boolean").fillna(True).astype(bool)


def _duplicate_mask(events) -> pd.Series:
    if "duplicate_of" not in events.columns:
        return pd.Series(False, index=events.index)
    return events["duplicate_of"].fillna("").astype(str).str.strip() != ""


def spatial_events(events):
    """The events every published surface, zone, cluster, forecast, trend and count is built
    from: counted (not a duplicate) and not protected. Idempotent; keeps the input's columns.

    >>> ev = pd.DataFrame({"sensitive": [False, True, False], "duplicate_of": ["", "", "a"]})
    >>> len(spatial_events(ev))
    1
    """
    keep = ~protected_mask(events) & ~_duplicate_mask(events)
    return events[keep.to_numpy(bool)]


#: Same events, named for the places that count rather than draw.
counted_events = spatial_events


def sensitive_events(events):
    """Counted protected events: what :func:`sensitive_table` counts (and nothing else may).

    >>> ev = pd.DataFrame({"sensitive": [False, True, True], "duplicate_of": ["", "", "a"]})
    >>> len(sensitive_events(ev))
    1
    """
    keep = protected_mask(events) & ~_duplicate_mask(events)
    return events[keep.to_numpy(bool)]


def publish_count(n, k: int):
    """``(value, suppressed)`` for a count of protected events: ``(<NA>, True)`` when
    ``0 < n < k``, else ``(n, False)``. Zero is shown: it reveals no one.

    >>> publish_count(0, 3), publish_count(1, 3), publish_count(3, 3)
    ((0, False), (<NA>, True), (3, False))
    """
    n = int(n)
    return (pd.NA, True) if 0 < n < k else (n, False)


def sensitive_table(events, by: list[str], k: int) -> pd.DataFrame:
    """Counts of counted protected events per ``by`` (non-zero cells only), small ones suppressed.

    The cells partition the protected events (each in exactly one cell), so together with
    :func:`spatial_events` for everything else no published sum or difference isolates fewer
    than ``k`` of them. Columns: ``by``, ``n_events`` (Int64, <NA> where suppressed), ``suppressed``.

    >>> ev = pd.DataFrame({"area": ["A", "A", "B", "A"], "category": ["vnr"] * 4,
    ...                    "sensitive": [True] * 4, "duplicate_of": [""] * 4})
    >>> sensitive_table(ev, ["area", "category"], 3).values.tolist()
    [['A', 'vnr', 3, False], ['B', 'vnr', <NA>, True]]
    """
    sens = sensitive_events(events)
    if not len(sens):
        return pd.DataFrame(
            {
                **{c: pd.Series(dtype="string") for c in by},
                "n_events": pd.Series(dtype="Int64"),
                "suppressed": pd.Series(dtype=bool),
            }
        )
    counts = sens[by].astype("string").groupby(by, dropna=False).size().rename("n_events").reset_index()
    counts = counts.sort_values(by, ignore_index=True)
    return suppress_small(counts, "n_events", pd.Series(True, index=counts.index), k)


def suppress_small(frame: pd.DataFrame, count_col: str, sensitive: pd.Series | str, k: int) -> pd.DataFrame:
    """Copy of ``frame`` with small sensitive counts hidden.

    Where ``sensitive`` and ``0 < count < k``, ``count_col`` becomes <NA> (nullable Int64)
    and the new bool column ``suppressed`` is True. Zero is shown: it reveals no one.
    ``sensitive`` is a bool Series aligned with ``frame`` or the name of a bool column.

    >>> df = pd.DataFrame({"n": [1, 5, 2], "s": [True, True, False]})
    >>> suppress_small(df, "n", df["s"], 3)[["n", "suppressed"]].values.tolist()
    [[<NA>, True], [5, False], [2, False]]
    """
    out = frame.copy()
    if isinstance(sensitive, str):
        sensitive = out[sensitive]
    sens = pd.Series(sensitive, index=out.index).fillna(False).astype(bool)
    counts = pd.to_numeric(out[count_col]).astype("Int64")
    mask = (sens & (counts > 0) & (counts < k)).fillna(False).astype(bool)
    out[count_col] = counts.mask(mask)
    out["suppressed"] = mask.to_numpy()
    return out


def withheld_mask(events) -> pd.Series:
    """Events kept out of every published point layer and quality count: protected events,
    and reports matched as duplicates of a protected event (they would point at it).

    >>> ev = pd.DataFrame({"event_id": ["a", "b", "c"], "sensitive": [True, False, False],
    ...                    "duplicate_of": ["", "a", ""]})
    >>> withheld_mask(ev).tolist()
    [True, True, False]

    Without the ids (a narrow read), every duplicate is withheld: it might point at one.

    >>> withheld_mask(ev.assign(duplicate_of=["", "x", ""]).drop(columns="event_id")).tolist()
    [True, True, False]
    """
    protected = protected_mask(events)
    if "duplicate_of" not in events.columns:
        return protected
    if "event_id" not in events.columns:  # which events a duplicate points at is unknown:
        return (protected | _duplicate_mask(events)).astype(bool)  # withhold every duplicate
    protected_ids = set(events.loc[protected.to_numpy(bool), "event_id"].astype(str))
    points_at = events["duplicate_of"].fillna("").astype(str).isin(protected_ids) & _duplicate_mask(events)
    return (protected | points_at).astype(bool)


def publishable_points(events):
    """Events that may be published as points (duplicates kept, marked): not withheld."""
    return events[~withheld_mask(events).to_numpy(bool)]


def public_quality(quality: dict, events) -> dict:
    """The quality summary as published: withheld events (see :func:`withheld_mask`) left out
    of every count, export-derived texts redacted, and the unmapped categories treated as
    sensitive left out (their names would tell when one arrived; the analyst's quality.json and
    the terminal summary list them). ``quality`` is not changed.

    ``events`` are the run's accepted events (all weeks), as the summary was computed from.
    """
    out = copy.deepcopy(quality)
    withheld = events[withheld_mask(events).to_numpy(bool)] if len(events) else events
    for partner, q in out.get("partners", {}).items():
        mine = withheld[withheld["source"].astype(str) == str(partner)] if len(withheld) else withheld
        _subtract_withheld(q, mine)
        q["unmapped_categories"] = {redact(k): v for k, v in (q.get("unmapped_categories") or {}).items()}
        q.pop("unmapped_sensitive", None)
        for f in q.get("files", []):
            f["file"] = redact(f.get("file"))
        if "not_read" in q:
            q["not_read"] = [{**n, "file": redact(n.get("file"))} for n in q["not_read"]]
    if "partners" in out:
        out["totals"] = _public_totals(out["partners"], out.get("totals", {}))
    return out


def _subtract_withheld(q: dict, mine) -> None:
    n = len(mine)
    q["rows_read"] = q.get("rows_read", 0) - n
    q["accepted"] = q.get("accepted", 0) - n
    for f in q.get("files", []):
        k = int((mine["source_file"].astype(str) == str(f.get("file"))).sum()) if n else 0
        f["rows_read"] = f.get("rows_read", 0) - k
        f["accepted"] = f.get("accepted", 0) - k
    methods = q.get("geocoded_by_method") or {}
    if n:
        for method, k in mine["geocode_method"].astype(str).value_counts().items():
            if method in methods:
                methods[method] -= int(k)
        q["duplicates_cross_partner"] = q.get("duplicates_cross_partner", 0) - int(_duplicate_mask(mine).sum())
    q["geocoded_by_method"] = {m: v for m, v in methods.items() if v}
    failed = sum(
        (q.get("rejected_by_reason") or {}).get(r, 0)
        for r in ("bad_coordinates", "not_geocoded", "outside_municipality")
    )
    tried = q["accepted"] + failed
    q["geocoded_share"] = round(q["accepted"] / tried, 4) if tried else None


def _public_totals(partners: dict, totals: dict) -> dict:
    out = dict(totals)
    for key in ("rows_read", "accepted", "rejected", "duplicates_cross_partner"):
        out[key] = sum(p.get(key, 0) for p in partners.values())
    methods: dict[str, int] = {}
    for p in partners.values():
        for m, v in (p.get("geocoded_by_method") or {}).items():
            methods[m] = methods.get(m, 0) + v
    out["geocoded_by_method"] = dict(sorted(methods.items(), key=lambda kv: (-kv[1], kv[0])))
    failed = sum(
        v
        for p in partners.values()
        for r, v in (p.get("rejected_by_reason") or {}).items()
        if r in ("bad_coordinates", "not_geocoded", "outside_municipality")
    )
    tried = out["accepted"] + failed
    out["geocoded_share"] = round(out["accepted"] / tried, 4) if tried else None
    return out


def format_count(n, suppressed: bool, k: int) -> str:
    """Count as people read it: ``"< k"`` when suppressed, ``"–"`` when missing,
    otherwise the number with a Swedish thousands separator (no-break space).

    >>> format_count(1234, False, 3), format_count(None, True, 3), format_count(pd.NA, False, 3)
    ('1\xa0234', '< 3', '–')
    """
    if bool(suppressed):
        return f"< {k}"
    if n is None or pd.isna(n):
        return "–"
    return f"{int(n):,}".replace(",", "\u00a0")


# -- sensitive-looking unmapped categories ----------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def sensitive_category_for(raw: str, sensitive_names: dict[str, str], words: list[str]) -> str | None:
    """Category key for an *unmapped* raw category that looks sensitive, else None.

    ``sensitive_names`` maps names of sensitive categories (taxonomy keys and labels, and raw
    names any partner maps to them) to their key; an exact match (case, spacing and
    punctuation ignored) gives that key. Otherwise a configured sensitive word inside the text
    gives :data:`UNMAPPED_SENSITIVE`.

    >>> sensitive_category_for("VÅLD I NÄRA  RELATION", {"Våld i nära relation": "vnr"}, [])
    'vnr'
    >>> sensitive_category_for("Grov kvinnofridskränkning", {}, ["fridskränkning"])
    'ovrigt_kansligt'
    >>> sensitive_category_for("Vattenläcka", {}, ["fridskränkning"]) is None
    True
    """
    folded = _fold(raw)
    if not folded:
        return None
    names = {_fold(name): key for name, key in sensitive_names.items()}
    if folded in names:
        return names[folded]
    glued = folded.replace(" ", "")
    if any(_fold(w).replace(" ", "") in glued for w in words if _fold(w)):
        return UNMAPPED_SENSITIVE
    return None


# -- keyed ids --------------------------------------------------------------------------------


def installation_key(path: str | Path) -> bytes:
    """The installation's secret for :func:`keyed_id`, created (32 random bytes, hex, mode 0600)
    if the file does not exist. Keep it out of git and of every published folder.

    >>> len(installation_key(tmp / "installation.key"))      # doctest: +SKIP
    64
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="ascii").strip().encode("ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read or create the installation secret ({err.strerror or err}); "
            "make its folder writable or set paths.secret in config.yaml",
            file=str(path),
        ) from None
    if len(key) < 32:
        raise InputError(
            "the installation secret is too short (it must hold at least 32 characters); "
            "delete the file to have a new one created (event ids then change)",
            file=str(path),
        )
    return key


def keyed_id(key: bytes, partner: str, value: str) -> str:
    """16 hex chars of HMAC-SHA256(key, partner|value): stable with the same key, and useless
    for recovering ``value`` without it.

    >>> keyed_id(b"k" * 32, "polisen", "5000-K1-26") == keyed_id(b"k" * 32, "polisen", "5000-K1-26")
    True
    >>> keyed_id(b"k" * 32, "polisen", "5000-K1-26") != keyed_id(b"j" * 32, "polisen", "5000-K1-26")
    True
    """
    return hmac.digest(key, f"{partner}|{value}".encode("utf-8"), "sha256")[:8].hex()


def keyed_ids(key: bytes, partner: str, values) -> list[str]:
    """:func:`keyed_id` of each of ``values``.

    A national export has millions of rows, so the HMAC (RFC 2104) is unrolled: the keyed
    inner and outer SHA-256 states, and the inner state after ``partner|``, are computed once
    and copied per value; the digests are those of :func:`hmac.digest`.

    >>> keyed_ids(b"k" * 32, "polisen", ["5000-K1-26"]) == [keyed_id(b"k" * 32, "polisen", "5000-K1-26")]
    True
    >>> long_key = b"x" * 100  # longer than SHA-256's block: RFC 2104 hashes it first
    >>> keyed_ids(long_key, "p", ["a", "b"]) == [keyed_id(long_key, "p", "a"), keyed_id(long_key, "p", "b")]
    True
    """
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    inner.update(f"{partner}|".encode("utf-8"))
    out = []
    for v in values:
        i = inner.copy()
        i.update(v.encode("utf-8"))
        o = outer.copy()
        o.update(i.digest())
        out.append(o.digest()[:8].hex())
    return out


# -- redaction --------------------------------------------------------------------------------

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def _shadow_char(c: str) -> str:
    if c.isascii():
        return c
    digit = unicodedata.decimal(c, None)
    if digit is not None:
        return str(digit)
    if c in _DASHES:
        return "-"
    if c.isspace() or c in _ZERO_WIDTH:
        return " "
    folded = unicodedata.normalize("NFKC", c)
    return folded if len(folded) == 1 and folded.isascii() and not folded.isalnum() else c


def _shadow(text: str) -> str:
    """Same-length ASCII-ish view of ``text``: Unicode digits -> 0-9, dashes -> '-', spaces and
    zero-width characters -> ' ', full-width punctuation -> ASCII. Matching runs on this view and
    replacements are applied to the original by position, so nothing else in the text changes."""
    return "".join(_shadow_char(c) for c in text)


_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+ ?(?:@|\((?:at|snabel-a)\)|\[(?:at|snabel-a)\]|\{at\}) ?"
    r"[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?![\w-])",
    re.I,
)

# Personnummer / samordningsnummer: (YY)YYMMDD, separator (dash or plus, spaces allowed around
# it, or one space, or none), 4 digits. Day 61–91 is a coordination number (day + 60). Letters
# may touch it ("pnr850101-1234"), digits may not (case numbers, longer ids). A contiguous
# 10-digit run starting 07 is a mobile number (070..079), left for the phone rule.
_MONTH = r"(?:0[1-9]|1[0-2])"
_DAY = r"(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"
_PNR = re.compile(
    r"(?<!\d)(?<!\d[-./])(?!07\d{8}(?!\d))(?:(?:19|20)\d{2}|\d{2})"
    + _MONTH
    + _DAY
    + r"(?: *[-+] *| )?\d{4}(?!\d)(?![-/.]\d)"
)

# Phone numbers: a Swedish prefix (+46, 0046, optional "(0)", or a leading 0 / "(0"), the rest
# of the area code, then groups. Only one dash (after the area code, spaces allowed around it),
# so dashed dates (01-02-2026) never qualify; the digit count is checked in _phone_spans.
_PHONE = re.compile(
    r"(?<!\d)(?<!\d[-.,/:])"
    r"(?:(?:\+ ?|00 ?)46 ?(?:\(0\) ?)?[1-9]\d{0,3}|\(0[1-9]\d{0,3}\)|0[1-9]\d{0,3})"
    r"(?: *- *| +|/)?"
    r"\d{1,4}"
    r"(?: ?\d{1,4}){0,4}"
)
_PHONE_INTL = re.compile(r"(?<![\w+])\+ ?(?!46)[1-9]\d{0,2}(?:[ -]?\d{1,4}){2,6}")

# Vehicle registration: three letters (no I, Q, V, Å, Ä, Ö), two digits and a digit or a
# letter (no O: the current format), any case, with a space, dash or nothing between.
_REGNR = re.compile(r"(?<![\w-])([a-hj-pr-uw-z]{3})[ -]?(\d{2}[0-9a-hj-npr-uw-z])(?![\w-])", re.I)
#: Three-letter words that stand before a number in ordinary text and are not plates.
_NOT_REGNR = frozenset(
    """
    sos lgh tel tfn mob num ort kod box och som den det der med vid rum sal hus del typ nya
    tio sex sju tre fem nio elva sid kap art ref avd app ant bef ggr min sek kmh ton kvm
    jan feb mar apr maj jun jul aug sep okt dec mot per hos fyr tur bur par ett tal nej
""".split()
)


def _spans(rx: re.Pattern, shadow: str, label: str, keep=lambda m: True) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), label) for m in rx.finditer(shadow) if keep(m)]


def _national_digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    if text.lstrip("( ").startswith(("+", "00")):
        digits = digits[2:] if text.lstrip("( ").startswith("+") else digits[4:]
        digits = digits[1:] if digits.startswith("0") else digits  # "+46 (0)70": the (0)
        return "0" + digits
    return digits


def _phone_spans(shadow: str) -> list[tuple[int, int, str]]:
    """Phone-shaped runs cut to the longest prefix that has a Swedish number's digit count
    (8–10 with the leading 0), so a number followed by other digits is still found."""
    out = []
    for m in _PHONE.finditer(shadow):
        ends = [g.end() for g in re.finditer(r"\d+\)?", m.group(0))]
        for end in reversed(ends):
            part = m.group(0)[:end]
            if 8 <= len(_national_digits(part)) <= 10:
                out.append((m.start(), m.start() + end, PHONE_LABEL))
                break
    for m in _PHONE_INTL.finditer(shadow):
        if 8 <= len(re.sub(r"\D", "", m.group(0))) <= 15:
            out.append((m.start(), m.end(), PHONE_LABEL))
    return _without_overlaps(out)


def _without_overlaps(spans):
    spans = sorted(spans)
    out = []
    for s in spans:
        if not out or s[0] >= out[-1][1]:
            out.append(s)
    return out


def _regnr_spans(shadow: str) -> list[tuple[int, int, str]]:
    return _spans(_REGNR, shadow, REGNR_LABEL, keep=lambda m: m.group(1).casefold() not in _NOT_REGNR)


def _apply(text: str, shadow: str, spans) -> tuple[str, str]:
    for start, end, label in sorted(spans, reverse=True):
        text = text[:start] + label + text[end:]
        shadow = shadow[:start] + label + shadow[end:]
    return text, shadow


def redact(text: str | None) -> str:
    """Return ``text`` with personal data replaced by labels; ``None``/NA gives ``""``.

    >>> redact("Mejla kalle.k@example.se eller ring 013-12 34 56")
    'Mejla [e-post] eller ring [telefon]'
    >>> redact("2026-11-16 kl 21:40 vid Vasagatan 12, ärende 5000-K123456-26")
    '2026-11-16 kl 21:40 vid Vasagatan 12, ärende 5000-K123456-26'
    >>> redact("Ring 070 - 765 43 21 eller 070\u00a0765\u00a043\u00a021")
    'Ring [telefon] eller [telefon]'
    """
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ""
    text = str(text)
    shadow = _shadow(text)
    # Order matters: e-mail first (may contain digits), then personnummer (more specific
    # than a phone shape), then phone, then plates.
    text, shadow = _apply(text, shadow, _spans(_EMAIL, shadow, EMAIL_LABEL))
    text, shadow = _apply(text, shadow, _spans(_PNR, shadow, PNR_LABEL))
    text, shadow = _apply(text, shadow, _phone_spans(shadow))
    text, _ = _apply(text, shadow, _regnr_spans(shadow))
    return text


def redact_series(s: pd.Series) -> pd.Series:
    """Redact every value of ``s`` (string dtype out, NA -> ""); each unique text once.

    >>> redact_series(pd.Series(["ring 0701234567", None])).tolist()
    ['ring [telefon]', '']
    """
    uniques = pd.unique(s.astype("string").fillna(""))
    mapping = {u: redact(u) for u in uniques}
    return s.astype("string").fillna("").map(mapping).astype("string")
