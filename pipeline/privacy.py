"""Privacy: redaction of personal data in free text, and small-count suppression.

Redaction replaces Swedish personal identity / coordination numbers, phone numbers,
e-mail addresses and vehicle registration numbers with a bracketed Swedish label. It
errs on the side of redacting (a redacted timestamp costs nothing; a leaked
personnummer does), but is careful not to touch dates, times, house numbers, postcodes,
years or the partners' case numbers (``5000-K123456-26``).

>>> redact("Anmälare 850101-1234 nås på 070-123 45 67, bil ABC 12A vid Vasagatan 12")
'Anmälare [personnummer] nås på [telefon], bil [regnr] vid Vasagatan 12'
>>> format_count(2, True, 3)
'< 3'
"""

from __future__ import annotations

import re

import pandas as pd

PNR_LABEL = "[personnummer]"
PHONE_LABEL = "[telefon]"
EMAIL_LABEL = "[e-post]"
REGNR_LABEL = "[regnr]"

# Not preceded/followed by a word character or a dash: this is what keeps case numbers
# like "5000-K123456-26" and longer digit runs (ids, bank accounts) from matching a part.
_NB = r"(?<![\w+\-/.])"
_NA = r"(?![\w\-/]|\.\d)"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")

# Personnummer / samordningsnummer: (YY)YYMMDD, separator -, + or one space (optional),
# 4 digits. Day 61–91 is a coordination number (day + 60). A contiguous 10-digit run
# starting 07 is a mobile number (070..079), left for the phone rule.
_MONTH = r"(?:0[1-9]|1[0-2])"
_DAY = r"(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"
_PNR = re.compile(
    _NB + r"(?!07\d{8}(?!\d))(?:(?:19|20)\d{2}|\d{2})" + _MONTH + _DAY + r"(?:\s?[-+]\s?| )?\d{4}" + _NA
)

# Phone numbers: a broad shape, then a digit-count check (_phone_digits_ok) decides.
_PHONE = re.compile(
    r"(?<![\w+\-/:.])"
    r"(?:(?:\+|00)46[\s-]?(?:\(0\)\s?)?[1-9]|0[1-9])"   # +46 7.., 0046 .., or a leading 0
    r"\d{0,3}"                                           # rest of the area code
    r"(?:[\s-]?\d{2,4})"                                 # first group (only here may a dash follow the area code)
    r"(?:\s?\d{2,4}){0,3}"                               # further groups, space-separated
    r"(?![\w\-/:]|[.,]\d)"
)

# Vehicle registration: three letters (no I, Q, V, Å, Ä, Ö), two digits and a digit or a
# letter (the current format). Upper case only: in lower case "för 100" would match.
_REGNR = re.compile(r"(?<![\wÅÄÖåäö\-])([A-HJ-PR-UW-Z]{3}) ?(\d{2}[0-9A-HJ-NPR-UW-Z])(?![\wÅÄÖåäö\-])")
#: Upper-case three-letter words that look like a plate prefix but are not ("SOS 112" is short anyway).
_NOT_REGNR = frozenset({"SOS", "LGH", "TEL", "NUM", "ORT", "KOD", "BOX"})


def _phone_repl(m: re.Match) -> str:
    """Replace a phone-shaped match when its digit count is that of a Swedish number."""
    text = m.group(0)
    digits = re.sub(r"\D", "", text)
    if digits.startswith("0046"):
        digits = "0" + digits[4:]
    elif text.startswith("+46"):
        digits = "0" + digits[2:]
    if digits.startswith("00"):  # "+46 (0)70 ..." leaves a doubled 0
        digits = digits[1:]
    # Swedish numbers are 8–10 digits with the leading 0 (013-12 34 56 = 9, 070-123 45 67 = 10).
    return PHONE_LABEL if 8 <= len(digits) <= 10 else text


def _regnr_repl(m: re.Match) -> str:
    return m.group(0) if m.group(1) in _NOT_REGNR else REGNR_LABEL


def redact(text: str | None) -> str:
    """Return ``text`` with personal data replaced by labels; ``None``/NA gives ``""``.

    >>> redact("Mejla kalle.k@example.se eller ring 013-12 34 56")
    'Mejla [e-post] eller ring [telefon]'
    >>> redact("2026-11-16 kl 21:40 vid Vasagatan 12, ärende 5000-K123456-26")
    '2026-11-16 kl 21:40 vid Vasagatan 12, ärende 5000-K123456-26'
    """
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ""
    text = str(text)
    # Order matters: e-mail first (may contain digits), then personnummer (more specific
    # than a phone shape), then phone, then plates.
    text = _EMAIL.sub(EMAIL_LABEL, text)
    text = _PNR.sub(PNR_LABEL, text)
    text = _PHONE.sub(_phone_repl, text)
    return _REGNR.sub(_regnr_repl, text)


def redact_series(s: pd.Series) -> pd.Series:
    """Redact every value of ``s`` (string dtype out, NA -> ""); each unique text once.

    >>> redact_series(pd.Series(["ring 0701234567", None])).tolist()
    ['ring [telefon]', '']
    """
    uniques = pd.unique(s.astype("string").fillna(""))
    mapping = {u: redact(u) for u in uniques}
    return s.astype("string").fillna("").map(mapping).astype("string")


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
