"""Obfuscation normalisation: one canonical variant of a text for the classifier heads.

Attackers hide instructions from classifiers with encodings and look-alike characters.
:func:`normalize` undoes the common ones, in this order:

1. zero-width and soft-hyphen characters removed;
2. Unicode NFKC (full-width letters, ligatures, mathematical alphanumerics) and a small
   map of confusables (Cyrillic and Greek letters that look like Latin ones);
3. base64 segments (16+ characters) replaced by their text when they decode to
   printable UTF-8;
4. spaced-out letters (``i g n o r e``, ``i.g.n.o.r.e``) joined (a run of two or more
   separators between letters separates words);
5. leetspeak in words of 4+ characters (3+ once one such word was found) that mix
   letters with ``0 1 3 4 5 7 @ $`` (``1gn0r3`` -> ``ignore``); numbers, versions,
   e-mail addresses, URLs and words with other digits (``i18n``, ``B2B``) are left alone.

Training and scoring apply it identically: a text's score is the max over the windows of
the text and of its normalised variant when that differs
(:class:`~workbench.guardrails.ml.scorer.LocalScorer`, :mod:`~workbench.guardrails.ml.train`).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad")
)

#: Look-alikes that NFKC keeps: Cyrillic and Greek letters drawn like Latin ones.
CONFUSABLES: dict[str, str] = {
    **dict(zip("аеорсухіјѕԁһԛԝ", "aeopcyxijsdhqw", strict=True)),
    **dict(zip("АВЕКМНОРСТХІЈЅ", "ABEKMHOPCTXIJS", strict=True)),
    **dict(zip("αοτνκρυιε", "aotvkpuie", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
}
_CONFUSABLE_TABLE = str.maketrans(CONFUSABLES)

LEET: dict[str, str] = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "@": "a",
    "$": "s",
}
_LEET_TABLE = str.maketrans(LEET)
#: A word of 3+ characters holding a letter and a leet character next to each other (the
#: look-ahead keeps the Python callback off the plain words of long texts).
_LEET_WORD = re.compile(
    r"(?<![\w@.$/])(?=[A-Za-z0-9@$]*(?:[A-Za-z][013457@$]|[013457@$][A-Za-z]))"
    r"[A-Za-z0-9][A-Za-z0-9@$]{2,}(?![\w@$]|\.\w|://)"
)
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
#: Four or more single letters/digits, each followed by one separator (space . - _ *).
_SPACED = re.compile(r"(?<!\w)(?:\w(?: {1,3}|[.\-_*] ?)){3,}\w(?!\w)")


def _decode_b64(match: re.Match[str]) -> str:
    seg = match.group(0)
    if not (any(c.isdigit() or c in "+/=" for c in seg) or seg != seg.lower()):
        return seg  # a plain lower-case word run is not base64
    try:
        raw = base64.b64decode(seg + "=" * (-len(seg) % 4), validate=True)
        out = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return seg
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in out)
    letters = sum(ch.isalpha() for ch in out)
    if not out or printable < len(out) or letters < 0.5 * len(out):
        return seg
    return out


def _join_spaced(match: re.Match[str]) -> str:
    run = match.group(0)
    words = re.split(r" {2,}", run)
    return " ".join(re.sub(r"[ .\-_*]", "", w) for w in words)


def _unleet(match: re.Match[str], short: bool = False) -> str:
    word = match.group(0)
    if len(word) < 4 and not short:
        return word
    letters = sum(c.isalpha() for c in word)
    leets = sum(c in LEET for c in word)
    odd_digits = any(c.isdigit() and c not in LEET for c in word)
    if odd_digits or leets == 0 or letters < 2 or leets > letters + 1:
        return word
    return word.translate(_LEET_TABLE)


def normalize(text: str) -> str:
    """The de-obfuscated variant of ``text`` (``text`` itself when nothing applies)."""
    out = text.translate(_ZERO_WIDTH)
    out = unicodedata.normalize("NFKC", out).translate(_CONFUSABLE_TABLE)
    out = _B64.sub(_decode_b64, out)
    out = _SPACED.sub(_join_spaced, out)
    unleeted = _LEET_WORD.sub(_unleet, out)
    if unleeted != out:  # leetspeak is in use: three-letter words too (th3, 4ll)
        unleeted = _LEET_WORD.sub(lambda m: _unleet(m, short=True), out)
    return unleeted


def variant(text: str) -> str | None:
    """The normalised text when it differs in more than whitespace (a non-breaking
    space is not worth a second encoder pass), else None."""
    n = normalize(text)
    return None if n.split() == text.split() else n


def variants(text: str) -> list[str]:
    """``[text]``, plus its normalised :func:`variant` when there is one."""
    n = variant(text)
    return [text] if n is None else [text, n]


__all__ = ["CONFUSABLES", "LEET", "normalize", "variant", "variants"]
