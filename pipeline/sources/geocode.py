"""Gazetteer: address normalisation and exact / place / fuzzy / street-centroid matching.

The gazetteer (format in docs/ARCHITECTURE.md, "Gazetteer format") holds address points and
named places in SWEREF 99 TM. ``Gazetteer.match`` turns free-typed location texts into points:

1. **exact**: street + house number (in the town when one is known), score 100;
2. **place**: a named place or one of its aliases, score 100;
3. **fuzzy**: the street (or place) key against all keys with ``rapidfuzz`` ``fuzz.ratio``,
   at or above ``fuzzy_threshold``; with the house number found -> ``fuzzy`` (score = ratio),
   a place -> ``place`` (score = ratio);
4. **street_centroid**: a known (or fuzzily known) street whose house number is not in the
   gazetteer, or no number at all -> the mean of the street's address points, score = the
   street's match score;
5. otherwise a miss (x, y NaN, method <NA>).

Decisions worth knowing:

* Keys are compared without spaces and punctuation ("Vasa gatan" = "Vasagatan"). An exact
  key is tried first, then a *folded* key (å, ä -> a, ö -> o, é -> e). A folded hit is still
  ``exact`` with score 100: exports from old systems drop diacritics, and the only thing lost
  is the accent, not the address.
* A town (the ``towns`` argument, or ", Mjölby" / "595 30 Mjölby" in the text) that the
  gazetteer knows *restricts* the match to that town (Storgatan in Mjölby vs Skänninge).
  An unknown town ("MJÖLBY KOMMUN" is known: "kommun" is dropped) is ignored.
* Without a town, a street that exists in several towns resolves to ``default_town`` -
  by default the gazetteer's largest town (most address points): staff in Mjölby kommun
  write "Storgatan 5" and mean Mjölby. If the largest town does not have it either, it is
  ambiguous and a miss.

>>> gaz = Gazetteer.from_frame(pd.DataFrame({
...     "kind": ["address", "place"], "name": ["Vasagatan 12", "Resecentrum"],
...     "street": ["Vasagatan", ""], "number": ["12", ""], "town": ["Mjölby", "Mjölby"],
...     "postcode": ["595 30", "595 31"], "x": [507100.0, 507810.0], "y": [6465200.0, 6465090.0],
...     "aliases": ["", "Mjölby station"]}))
>>> gaz.match(pd.Series(["Vasag. 12, Mjölby", "mjölby station", "Okänd väg 1"]))[["method", "score"]].values.tolist()
[['exact', 100.0], ['place', 100.0], [<NA>, nan]]
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from scipy.spatial import cKDTree

from pipeline.errors import InputError

#: Columns a gazetteer must have (``aliases`` is optional).
GAZETTEER_COLUMNS = ("kind", "name", "street", "number", "town", "postcode", "x", "y")
KINDS = ("address", "place")

# SWEREF 99 TM extent of Sweden (with margin): catches WGS84 degrees and swapped columns.
_X_RANGE = (150_000.0, 1_000_000.0)
_Y_RANGE = (6_050_000.0, 7_750_000.0)

# -- normalisation ------------------------------------------------------------------------------

#: First word of a multi-word street: Swedish abbreviations (only with the dot: "st" alone is ambiguous).
_FIRST_WORD = {
    "st.": "stora",
    "l.": "lilla",
    "ö.": "östra",
    "v.": "västra",
    "n.": "norra",
    "s.": "södra",
    "g.": "gamla",
}
#: Endings of real words that end in "g" and are not an abbreviated "-gatan" ("Solberg", "Kungsväg").
_NOT_GATAN = (
    "berg",
    "borg",
    "burg",
    "ing",
    "ang",
    "ång",
    "äng",
    "eng",
    "ong",
    "ung",
    "väg",
    "vag",
    "stig",
    "hög",
    "hog",
    "dag",
    "lag",
)
#: Leading words people put before an address ("vid Vasagatan 12", "utanför Resecentrum").
_FILLER = frozenset({"vid", "utanför", "utanf", "på", "i", "mot", "nära", "bakom", "framför", "invid", "ca", "cirka"})
#: Words after a house number that start apartment / entrance details, not a town.
_APARTMENT = frozenset(
    {
        "lgh",
        "lägenhet",
        "tr",
        "trappor",
        "nb",
        "bv",
        "uppg",
        "uppgång",
        "vån",
        "våning",
        "port",
        "nr",
        "entré",
        "entre",
        "källare",
        "vind",
    }
)
_NUMBER = re.compile(r"^(\d+)([a-zåäö]?)\.?$")
_POSTCODE_5 = re.compile(r"^\d{5}$")
_POSTCODE_IN = re.compile(r"(?<!\d)\d{3} ?\d{2}(?!\d)")


def fold(text: str) -> str:
    """Drop diacritics: å, ä -> a, ö -> o, é -> e (NFKD, combining marks removed).

    >>> fold("burensköldsvägen")
    'burenskoldsvagen'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def compact_key(street_key: str, number: str | None = None) -> str:
    """Lookup key: the folded street key without spaces, plus the number if given.

    >>> compact_key("östra järnvägsgatan"), compact_key("stora torget", "1")
    ('ostrajarnvagsgatan', 'storatorget1')
    """
    return fold(street_key.replace(" ", "")) + (number or "").lower()


def town_key(town) -> str | None:
    """Folded, compact town; "kommun"/"c"/"centrum" dropped; None when blank.

    >>> town_key(" MJÖLBY kommun "), town_key("Skänninge"), town_key("")
    ('mjolby', 'skanninge', None)
    """
    if _blank(town):
        return None
    words = re.sub(r"[^\w\s]|\d|_", " ", unicodedata.normalize("NFC", str(town)).casefold()).split()
    while len(words) > 1 and words[-1] in ("kommun", "c", "centrum", "tätort"):
        words = words[:-1]
    return fold("".join(words)) or None


def normalise_number(number) -> str | None:
    """House number as ``12B``: leading zeros and spaces dropped, letter upper case.

    >>> normalise_number("12 b"), normalise_number("012"), normalise_number("")
    ('12B', '12', None)
    """
    if _blank(number):
        return None
    m = _NUMBER.match(re.sub(r"\s+", "", str(number)).casefold())
    return f"{int(m.group(1))}{m.group(2).upper()}" if m else None


def normalise_address(text) -> tuple[str, str | None, str | None]:
    """Split a typed address into ``(street_key, number, town)``.

    ``street_key`` is case-folded, abbreviations expanded, punctuation dropped, words joined
    by one space (å/ä/ö kept). ``number`` is like ``12B`` or None. ``town`` is the text after
    a comma or the postcode or the number (case-folded), or None. Postcodes are dropped.

    >>> normalise_address("  Östra Järnvägsg 3 ")
    ('östra järnvägsgatan', '3', None)
    >>> normalise_address("Vasag. 12 b, 595 30 Mjölby")
    ('vasagatan', '12B', 'mjölby')
    >>> normalise_address("Resecentrum, Mjölby")
    ('resecentrum', None, 'mjölby')
    """
    if _blank(text):
        return "", None, None
    t = unicodedata.normalize("NFC", str(text)).casefold().replace("s:t", "sankt ")
    head, *tail = re.split(r"[,;]", t)
    words, number, town = _parse_head(_tokens(head))
    for part in tail:  # the last part that reads like a town wins ("…, lgh 1102, Mjölby")
        candidate = _town_of(_tokens(_POSTCODE_IN.sub(" ", part)))
        town = candidate or town
    return " ".join(_expand(words)), number, town


def _tokens(text: str) -> list[str]:
    text = re.sub(r"[^\w\s.]|_", " ", text)
    text = re.sub(r"(?<=[^\W\d_])(?=\d)", " ", text)  # "vasagatan12" -> "vasagatan 12"
    return text.split()


def _parse_head(tokens: list[str]) -> tuple[list[str], str | None, str | None]:
    """Street words, number and town (words after number/postcode) of the part before a comma."""
    at = next((i for i, tok in enumerate(tokens) if _NUMBER.match(tok)), None)
    if at is None:
        return tokens, None, None
    street, rest = tokens[:at], tokens[at + 1 :]
    m = _NUMBER.match(tokens[at])
    letter = m.group(2)
    if not letter and rest and re.fullmatch(r"[a-zåäö]", rest[0]):  # "12 b"
        letter, rest = rest[0], rest[1:]
    number = f"{int(m.group(1))}{letter.upper()}"
    return street, number, _town_of(rest)


def _town_of(rest: list[str]) -> str | None:
    """Town from the words after a number: skip a postcode, stop at apartment details."""
    if len(rest) >= 2 and re.fullmatch(r"\d{3}", rest[0]) and re.fullmatch(r"\d{2}", rest[1]):
        rest = rest[2:]
    elif rest and _POSTCODE_5.match(rest[0]):
        rest = rest[1:]
    words = []
    for tok in rest:
        tok = tok.strip(".")
        if tok in _APARTMENT or any(ch.isdigit() for ch in tok):
            break
        words.append(tok)
    return " ".join(words) or None


def _expand(words: list[str]) -> list[str]:
    """Drop leading filler ("vid"), expand abbreviations: "vasag." -> "vasagatan", "st." -> "stora".

    >>> _expand(["vid", "st.", "torget"]), _expand(["kungsv."])
    (['stora', 'torget'], ['kungsvägen'])
    """
    words = list(words)
    while len(words) > 1 and words[0].rstrip(".") in _FILLER:
        words = words[1:]
    if len(words) > 1 and words[0] in _FIRST_WORD:
        words[0] = _FIRST_WORD[words[0]]
    if words:
        words[-1] = _expand_last(words[-1])
    return [w for w in (w.replace(".", "") for w in words) if w]


def _expand_last(w: str) -> str:
    if w.endswith(("väg.", "vag.", "väg", "vag")):
        return w.rstrip(".") + "en"
    if w.endswith(("gat.", "gat")):
        return w.rstrip(".") + "an"
    if w.endswith("gata"):
        return w + "n"
    if w.endswith("g."):
        return w[:-1] + "atan"
    if w.endswith("v."):
        return w[:-2] + "vägen"
    if w.endswith("g") and len(w) >= 4 and not w.endswith(_NOT_GATAN):
        return w + "atan"  # "Östra Järnvägsg 3": bare "g" at the end of a street word
    return w


def _blank(value) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        try:
            return bool(pd.isna(value))
        except (TypeError, ValueError):
            return False
    return value.strip() == ""


# -- the gazetteer ------------------------------------------------------------------------------


@dataclass
class _Hit:
    x: float
    y: float
    method: str
    score: float
    matched: str


@dataclass(eq=False)
class Gazetteer:
    """Address points and named places (EPSG:3006), indexed for matching.

    Build with :meth:`from_frame` or :meth:`read`; ``addresses`` and ``places`` are the
    validated rows (columns name, street, number, town, x, y + lookup keys).
    """

    addresses: pd.DataFrame
    places: pd.DataFrame
    streets: pd.DataFrame
    default_town: str | None
    _addr_exact: dict = field(repr=False, default_factory=dict)
    _addr_fold: dict = field(repr=False, default_factory=dict)
    _place_keys: dict = field(repr=False, default_factory=dict)
    _street_keys: dict = field(repr=False, default_factory=dict)
    _trees: dict = field(repr=False, default_factory=dict)
    _towns: dict = field(repr=False, default_factory=dict)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def read(cls, path: str | Path) -> "Gazetteer":
        """Read a gazetteer CSV (UTF-8, with or without BOM; ``,`` or ``;``).

        Every structural problem raises :class:`InputError` naming file, line and column.

        >>> Gazetteer.read("data/reference/gazetteer_demo.csv")   # doctest: +SKIP
        """
        path = Path(path)
        if not path.is_file():
            raise InputError("gazetteer file not found; check geocoding.gazetteer in config.yaml", file=str(path))
        frame = _read_rows(path.read_bytes(), str(path))
        return cls.from_frame(frame, source=str(path))

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, source: str | None = None) -> "Gazetteer":
        """Validate a gazetteer table and index it.

        ``df`` has the columns of the gazetteer format (strings or numbers); an optional
        ``_line`` column gives each row's line in its file (otherwise header = line 1 and
        one line per row). ``source`` names the file in error messages.
        """
        rows = _validate(df, source)
        return cls._build(rows)

    @classmethod
    def _build(cls, rows: pd.DataFrame) -> "Gazetteer":
        addresses = rows[rows["kind"] == "address"].reset_index(drop=True)
        places = rows[rows["kind"] == "place"].reset_index(drop=True)
        streets = (
            addresses.groupby(["skey", "town_key"], sort=False, dropna=False)
            .agg(street=("street", "first"), x=("x", "mean"), y=("y", "mean"), n=("x", "size"))
            .reset_index()
        )
        counts = addresses["town_key"].dropna().value_counts()
        gaz = cls(addresses, places, streets, counts.index[0] if len(counts) else None)
        gaz._index()
        return gaz

    def _index(self) -> None:
        a = self.addresses
        # Plain lists of town keys (None for blank): pandas would turn None into NaN.
        self._towns = {
            name: [t if isinstance(t, str) else None for t in frame["town_key"]]
            for name, frame in (("addresses", a), ("places", self.places), ("streets", self.streets))
        }
        for i, (key, fkey, num) in enumerate(zip(a["exact_key"], a["skey"], a["number_key"])):
            if num:
                self._addr_exact.setdefault((key, num), []).append(i)
                self._addr_fold.setdefault((fkey, num), []).append(i)
        for i, keys in enumerate(self.places["keys"]):
            for k in keys:
                self._place_keys.setdefault(k, []).append(i)
        for i, key in enumerate(self.streets["skey"]):
            self._street_keys.setdefault(key, []).append(i)

    @property
    def towns(self) -> set[str]:
        """Known town keys (folded)."""
        return {t for ts in self._towns.values() for t in ts if t is not None}

    # -- matching --------------------------------------------------------------------------

    def match(
        self,
        texts: pd.Series,
        towns: pd.Series | None = None,
        *,
        fuzzy_threshold: float = 88,
        street_centroid: bool = True,
        default_town: str | None = None,
    ) -> pd.DataFrame:
        """Geocode ``texts`` (town per row optional); one row out per row in, same index.

        Columns: ``x``, ``y`` (float, NaN on a miss), ``method`` (string: exact | fuzzy |
        street_centroid | place | <NA>), ``score`` (float 0–100, NaN on a miss), ``matched``
        (string: the gazetteer name matched). Each unique (text, town) is matched once.

        >>> gaz.match(pd.Series(["Storgatan 5"]), pd.Series(["Skänninge"]))   # doctest: +SKIP
        """
        texts = pd.Series(texts)
        town_in = _aligned_towns(texts, towns)
        pairs = pd.DataFrame({"t": texts.astype("string").fillna(""), "w": town_in.astype("string").fillna("")})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs))
        default = town_key(default_town) if default_town else self.default_town
        hits = self._match_unique([(t, w) for t, w in uniques], fuzzy_threshold, street_centroid, default)
        return _hits_frame(hits, codes, texts.index)

    def _match_unique(self, pairs, threshold, centroid, default) -> list[_Hit | None]:
        known = self.towns
        hits: list[_Hit | None] = []
        pending = []  # (position, folded street key, number, town) for the fuzzy step
        for pos, (text, town_text) in enumerate(pairs):
            skey, number, text_town = normalise_address(text)
            town = town_key(town_text) if town_key(town_text) in known else town_key(text_town)
            town = town if town in known else None
            hit = self._exact(skey, number, town, default) if skey else None
            hits.append(hit)
            if skey and hit is None:
                pending.append((pos, compact_key(skey), number, town))
        for pos, hit in self._fuzzy(pending, threshold, centroid, default):
            hits[pos] = hit
        return hits

    def _exact(self, skey, number, town, default) -> _Hit | None:
        """Steps 1–2: exact (or folded) street + number, then place name/alias."""
        fkey = compact_key(skey)
        if number:
            rows = self._addr_exact.get((skey.replace(" ", ""), number)) or self._addr_fold.get((fkey, number))
            i = _pick(rows, self._towns["addresses"], town, default)
            if i is not None:
                return self._address_hit(i, "exact", 100.0)
        # A place may be written with its town ("Stora torget Skänninge") or carry a number.
        for key in (compact_key(skey, number), fkey, *((fkey + town, town + fkey) if town else ())):
            i = _pick(self._place_keys.get(key), self._towns["places"], town, default)
            if i is not None:
                return self._place_hit(i, 100.0)
        return None

    def _fuzzy(self, pending, threshold, centroid, default):
        """Steps 3–4, vectorised: one ``cdist`` of the pending keys against every street/place key."""
        if not pending:
            return []
        choices, is_place, choice_towns = self._choices()
        queries = sorted({p[1] for p in pending})
        scores = process.cdist(queries, choices, scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.float32, workers=1)
        row_of = {q: i for i, q in enumerate(queries)}
        out = []
        for pos, fkey, number, town in pending:
            row = scores[row_of[fkey]]
            best = _best_choice(row, choice_towns, town)
            if best is None:
                continue
            score = round(float(row[best]), 1)
            hit = (
                self._place_fuzzy(choices[best], town, default, score)
                if is_place[best]
                else self._street_fuzzy(choices[best], number, town, default, score, centroid)
            )
            if hit is not None:
                out.append((pos, hit))
        return out

    def _choices(self):
        """Distinct street and place keys with the towns each occurs in (cached)."""
        if "choices" not in self._trees:
            towns: dict[str, set] = {}
            place: dict[str, bool] = {}
            for key, town in zip(self.streets["skey"], self._towns["streets"]):
                towns.setdefault(key, set()).add(town)
                place[key] = False
            for keys, town in zip(self.places["keys"], self._towns["places"]):
                for key in keys:
                    towns.setdefault(key, set()).add(town)
                    place.setdefault(key, True)
            names = list(towns)
            self._trees["choices"] = (names, np.array([place[k] for k in names]), [towns[k] for k in names])
        return self._trees["choices"]

    def _street_fuzzy(self, fkey, number, town, default, score, centroid) -> _Hit | None:
        if number:
            i = _pick(self._addr_fold.get((fkey, number)), self._towns["addresses"], town, default)
            if i is not None:
                return self._address_hit(i, "fuzzy", score)
        if not centroid:
            return None
        s = _pick(self._street_keys.get(fkey), self._towns["streets"], town, default)
        if s is None:
            return None
        st = self.streets.iloc[s]
        return _Hit(float(st["x"]), float(st["y"]), "street_centroid", score, str(st["street"]))

    def _place_fuzzy(self, key, town, default, score) -> _Hit | None:
        i = _pick(self._place_keys.get(key), self._towns["places"], town, default)
        return None if i is None else self._place_hit(i, score)

    def _address_hit(self, i: int, method: str, score: float) -> _Hit:
        row = self.addresses.iloc[i]
        return _Hit(float(row["x"]), float(row["y"]), method, score, str(row["name"]))

    def _place_hit(self, i: int, score: float) -> _Hit:
        row = self.places.iloc[i]
        return _Hit(float(row["x"]), float(row["y"]), "place", score, str(row["name"]))

    # -- readable names for coordinates ----------------------------------------------------

    def nearest_names(self, xs, ys, max_distance_m: float = 300) -> list[str | None]:
        """Nearest named place within ``max_distance_m`` of each point, else the nearest
        address point's street name within that distance, else None.

        >>> gaz.nearest_names([507800.0, 507105.0, 0.0], [6465100.0, 6465190.0, 0.0])  # doctest: +SKIP
        ['Resecentrum', 'Vasagatan', None]
        """
        pts = np.column_stack([np.asarray(xs, dtype="float64"), np.asarray(ys, dtype="float64")])
        out: list[str | None] = [None] * len(pts)
        if not len(pts):
            return out
        ok = np.isfinite(pts).all(axis=1)
        for kind, names in (("places", self.places["name"]), ("addresses", self.addresses["street"])):
            todo = np.flatnonzero(ok & np.array([o is None for o in out]))
            if not len(todo) or not len(names):
                continue
            dist, idx = self._tree(kind).query(pts[todo], distance_upper_bound=max_distance_m)
            for j, d, k in zip(todo, dist, idx):
                if np.isfinite(d):
                    out[j] = str(names.iloc[k])
        return out

    def nearest_name(self, x: float, y: float, max_distance_m: float = 300) -> str | None:
        """Single-point :meth:`nearest_names`.

        >>> gaz.nearest_name(507800.0, 6465100.0)   # doctest: +SKIP
        'Resecentrum'
        """
        return self.nearest_names([x], [y], max_distance_m)[0]

    def _tree(self, kind: str):
        if kind not in self._trees:
            frame = self.places if kind == "places" else self.addresses
            self._trees[kind] = cKDTree(frame[["x", "y"]].to_numpy("float64"))
        return self._trees[kind]


def _aligned_towns(texts: pd.Series, towns) -> pd.Series:
    """``towns`` on ``texts``' index: by index when they share it, else by position."""
    if towns is None:
        return pd.Series(None, index=texts.index, dtype="object")
    if isinstance(towns, pd.Series) and towns.index.equals(texts.index):
        return towns
    if isinstance(towns, pd.Series) and towns.index.is_unique and texts.index.isin(towns.index).all():
        return towns.reindex(texts.index)
    if len(towns) != len(texts):
        raise ValueError(f"towns has {len(towns)} values for {len(texts)} texts")
    return pd.Series(np.asarray(towns, dtype="object"), index=texts.index)


def _pick(rows: list[int] | None, towns: list[str | None], town: str | None, default: str | None) -> int | None:
    """One of ``rows`` (candidate row numbers) for ``town``; see the module doc for the rules.

    Rows without a town in the gazetteer fit every town.
    """
    if not rows:
        return None
    row_towns = [towns[i] for i in rows]
    if town is not None:
        return next((i for i, t in zip(rows, row_towns) if t in (town, None)), None)
    if len(set(row_towns)) == 1:
        return rows[0]
    return next((i for i, t in zip(rows, row_towns) if t in (default, None)), None)


def _best_choice(row: np.ndarray, choice_towns: list[set], town: str | None) -> int | None:
    """Index of the best-scoring choice (score > 0 means at/above the cutoff), in ``town`` if known."""
    candidates = np.flatnonzero(row > 0)
    if town is not None:
        candidates = [c for c in candidates if town in choice_towns[c] or None in choice_towns[c]]
    if not len(candidates):
        return None
    candidates = np.asarray(candidates)
    return int(candidates[np.argmax(row[candidates])])


def _hits_frame(hits: list[_Hit | None], codes: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Expand per-unique hits back to one row per input row."""
    n = len(hits)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    score = np.full(n, np.nan)
    method = np.full(n, None, dtype=object)
    matched = np.full(n, None, dtype=object)
    for i, h in enumerate(hits):
        if h is not None:
            x[i], y[i], score[i], method[i], matched[i] = h.x, h.y, h.score, h.method, h.matched
    return pd.DataFrame(
        {
            "x": x[codes] if n else np.full(len(index), np.nan),
            "y": y[codes] if n else np.full(len(index), np.nan),
            "method": pd.array(method[codes] if n else [None] * len(index), dtype="string"),
            "score": score[codes] if n else np.full(len(index), np.nan),
            "matched": pd.array(matched[codes] if n else [None] * len(index), dtype="string"),
        },
        index=index,
    )


# -- reading and validation ---------------------------------------------------------------------


def _read_rows(data: bytes, source: str) -> pd.DataFrame:
    """Decode and split a gazetteer CSV into string columns plus ``_line``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            "not UTF-8; save the gazetteer as UTF-8 (CSV UTF-8 in Excel)", file=source, line=line
        ) from None
    if not text.strip():
        raise InputError("the gazetteer is empty; it needs a header line and address/place rows", file=source)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    records, lines, start = [], [], reader.line_num + 1
    for fields in reader:
        if any(f.strip() for f in fields):
            if len(fields) != len(header):
                raise InputError(
                    f"{len(fields)} fields but the header has {len(header)}; quote fields that contain the delimiter",
                    file=source,
                    line=start,
                )
            records.append(fields)
            lines.append(start)
        start = reader.line_num + 1
    frame = pd.DataFrame(records, columns=header, dtype="object")
    frame["_line"] = lines
    return frame


def _validate(df: pd.DataFrame, source: str | None) -> pd.DataFrame:
    """Checked, normalised rows with lookup keys; :class:`InputError` on the first problem."""
    cols = {str(c).strip(): c for c in df.columns}
    for col in GAZETTEER_COLUMNS:
        if col not in cols:
            raise InputError(
                f"missing column; the gazetteer needs {', '.join(GAZETTEER_COLUMNS)} (+ optional aliases)",
                file=source,
                column=col,
            )
    if len(df) == 0:
        raise InputError("no rows below the header; add address points and places", file=source)
    lines = df["_line"].astype(int).tolist() if "_line" in df else list(range(2, len(df) + 2))
    text = {c: df[cols[c]].map(lambda v: "" if _blank(v) else str(v).strip()).tolist() for c in GAZETTEER_COLUMNS}
    aliases = (
        df[cols["aliases"]].map(lambda v: "" if _blank(v) else str(v)).tolist() if "aliases" in cols else [""] * len(df)
    )
    kind = [k.lower() for k in text["kind"]]
    for k, line in zip(kind, lines):
        if k not in KINDS:
            raise InputError(f"kind {k!r} is not one of {' | '.join(KINDS)}", file=source, line=line, column="kind")
    x = _coordinate(text["x"], lines, "x", source)
    y = _coordinate(text["y"], lines, "y", source)
    _check_extent(x, y, lines, source)
    rows = [
        _row(kind[i], {c: text[c][i] for c in GAZETTEER_COLUMNS}, aliases[i], lines[i], source) for i in range(len(df))
    ]
    out = pd.DataFrame(rows)
    out["x"], out["y"] = x, y
    _check_conflicts(out, lines, source)
    return out


#: Two rows for the same address or place further apart than this are a conflict, not a repeat.
CONFLICT_M = 1.0


def _check_conflicts(rows: pd.DataFrame, lines: list[int], source) -> None:
    """The same address (street, number, town) or place name (or alias, in one town) at two
    positions would make the match a silent choice between them: an error naming both rows."""
    records = rows.to_dict("records")
    seen: dict[tuple, int] = {}
    for i, r in enumerate(records):
        if r["kind"] == "address":
            keys = [("address", r["exact_key"], r["number_key"], r["town_key"])] if r["number_key"] else []
        else:
            keys = [("place", k, r["town_key"]) for k in r["keys"]]
        for key in keys:
            j = seen.setdefault(key, i)
            a = records[j]
            if j != i and max(abs(a["x"] - r["x"]), abs(a["y"] - r["y"])) > CONFLICT_M:
                raise InputError(
                    f"{r['name']!r} has two positions: line {lines[j]} (E {a['x']:.0f} N {a['y']:.0f}) and line "
                    f"{lines[i]} (E {r['x']:.0f} N {r['y']:.0f}); keep the right row, or tell them apart by town "
                    "or name",
                    file=source,
                    line=lines[i],
                )


def _row(kind: str, v: dict, aliases: str, line: int, source) -> dict:
    """Lookup keys of one validated row."""
    if kind == "place":
        if not v["name"]:
            raise InputError("a place needs a name", file=source, line=line, column="name")
        names = [v["name"], *(a.strip() for a in aliases.split("|") if a.strip())]
        keys = list(dict.fromkeys(compact_key(*normalise_address(n)[:2]) for n in names))
        return {
            "kind": kind,
            "name": v["name"],
            "street": "",
            "number_key": None,
            "exact_key": None,
            "skey": None,
            "town_key": town_key(v["town"]),
            "keys": [k for k in keys if k],
        }
    street, number = v["street"], normalise_number(v["number"])
    if not street:  # an OSM-style extract may only have the full name
        parsed, number2, _ = normalise_address(v["name"])
        street, number = parsed, number or number2
    if not street:
        raise InputError(
            "an address needs a street (or a name like 'Storgatan 12')", file=source, line=line, column="street"
        )
    if v["number"] and number is None:
        raise InputError(f"house number {v['number']!r} is not like 12 or 12B", file=source, line=line, column="number")
    skey = normalise_address(street)[0]
    name = v["name"] or f"{v['street']} {v['number']}".strip()
    return {
        "kind": kind,
        "name": name,
        "street": v["street"] or street,
        "number_key": number,
        "exact_key": skey.replace(" ", ""),
        "skey": compact_key(skey),
        "town_key": town_key(v["town"]),
        "keys": [],
    }


def _coordinate(values: list[str], lines: list[int], col: str, source) -> np.ndarray:
    """Parse metres (a decimal comma is accepted); the first bad value names its line."""
    out = pd.to_numeric(
        pd.Series([v.replace(" ", "").replace(",", ".") for v in values], dtype="object"), errors="coerce"
    ).to_numpy("float64")
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        i = bad[0]
        what = "is empty" if not values[i] else f"{values[i]!r} is not a number"
        raise InputError(f"{what}; x and y are SWEREF 99 TM (EPSG:3006) metres", file=source, line=lines[i], column=col)
    return out


def _check_extent(x: np.ndarray, y: np.ndarray, lines, source) -> None:
    """Coordinates must lie in Sweden in SWEREF 99 TM: catches degrees and swapped columns."""
    ok = (x >= _X_RANGE[0]) & (x <= _X_RANGE[1]) & (y >= _Y_RANGE[0]) & (y <= _Y_RANGE[1])
    if ok.all():
        return
    i = int(np.flatnonzero(~ok)[0])
    swapped = _Y_RANGE[0] <= x[i] <= _Y_RANGE[1] and _X_RANGE[0] <= y[i] <= _X_RANGE[1]
    hint = (
        "x and y look swapped (x is easting ~500 000, y northing ~6 400 000)"
        if swapped
        else f"x={x[i]:g}, y={y[i]:g} is not in Sweden in SWEREF 99 TM; convert the gazetteer to EPSG:3006 metres"
    )
    raise InputError(hint, file=source, line=lines[i], column="y" if swapped else "x")
