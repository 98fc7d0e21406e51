"""Date and time facts of a text, for the second stage's ``dates`` rule.

:func:`date_facts` reads every way a date or time is commonly written and returns
canonical facts, so that two texts naming the same date in different words agree and two
naming different dates do not. The numbers inside dates stay numbers too (the
``numbers`` rule still sees them); the facts add what numbers alone miss: which month,
weekday, holiday or season, "next" vs "last" vs "this", recurring vs once, am vs pm,
a decade vs a year, and "by" / "before" / "after" / "until" / "since" a date.

Forms (English; months, weekdays and relative days also in es/fr/de/it/pt):

- ISO dates and date-times (``2024-03-15``, ``2024-03-15T17:00``), numeric dates with a
  year (``03/15/2024``, ``15.03.2024``; kept in the order written);
- a day and a month in either order, digits or ordinals, with an optional year
  (``March 15``, ``15 March``, ``the 15th of March``, ``March fifteenth, 2024``);
- months (names, ``Jan``.. abbreviations next to a number or capitalised mid-sentence;
  ``May`` likewise), weekdays (``Mon``.. likewise), holidays, seasons ("fall" after
  the/this/next/last/in), parts of the day;
- times: ``5pm``, ``5 p.m.``, ``5:30 pm`` (as 24-hour ``t:17:30``), ``17:00``, ``noon``
  (``t:12:00``), ``midnight``, ``5 o'clock``, ``half past five``, ``quarter to six``;
- relative days: today, tomorrow, yesterday, tonight, "the day after tomorrow", "the day
  before yesterday", "ago";
- a modifier before a date or period: "next Monday", "last week", "this year", "the past
  month", "coming weekend" (``rel:next:monday``...); recurring: "every Monday", "on
  Mondays", "each week", "per day", "daily", "weekly", "annual", "twice a day"
  (``every:day``...);
- quarters and halves (``Q3``, "third quarter", ``H1``, "first half"), ordinals before a
  weekday ("the second Tuesday"), decades (``1990s``, ``'90s``, "the nineties"),
  centuries (``19th century``, "nineteenth-century"), eras (``300 BC``, ``AD 79``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from workbench.cache import _lexicon as lx

_WORD = re.compile(r"\d+(?:st|nd|rd|th)?|[^\W\d_]+(?:'[^\W\d_]+)*", re.UNICODE)
_SKIP = frozenset({"the", "of", "this", "on", "in", "at", "a", "an"})
_MONTH_FORMS = sorted([*lx.MONTHS, *lx.MONTH_ABBREVIATIONS], key=len, reverse=True)
_M = r"(?P<m>" + "|".join(_MONTH_FORMS) + r")\.?"
_ORD = r"(?:" + "|".join(sorted(lx.ORDINAL_WORDS, key=len, reverse=True)) + ")"
_DAY = rf"(?P<d>\d{{1,2}}(?:st|nd|rd|th)?|{_ORD})"
_HOUR_WORDS = "one two three four five six seven eight nine ten eleven twelve".split()
_H = r"(?P<h>\d{1,2}|" + "|".join(_HOUR_WORDS) + ")"
_YEAR = r"(?:,?\s+(?P<y>\d{4})\b)?"


def _ordinal(token: str) -> int:
    token = token.lower()
    if token in lx.ORDINAL_WORDS:
        return int(lx.ORDINAL_WORDS[token])
    return int(re.sub(r"(st|nd|rd|th)$", "", token))


def _hour(token: str) -> int:
    return _HOUR_WORDS.index(token) + 1 if token in _HOUR_WORDS else int(token)


def _day_month(m: re.Match[str]) -> list[str]:
    month = lx.MONTH_ABBREVIATIONS.get(m["m"].lower(), m["m"].lower())
    facts = [f"d:{month}-{_ordinal(m['d'])}"]
    return facts + ([f"y:{m['y']}"] if m["y"] else [])


def _clock(m: re.Match[str]) -> list[str]:
    """``5pm``, ``5:30 p.m.`` (24-hour facts) or ``17:00`` (as written)."""
    hour, minute = int(m["h"] or m["h2"]), int(m["min"] or m["min2"] or 0)
    if m["ap"]:
        hour = hour % 12 + (12 if m["ap"][0].lower() == "p" else 0)
    return [f"t:{hour:02d}:{minute:02d}"] if hour < 25 and minute < 60 else []


def _iso(m: re.Match[str]) -> list[str]:
    """``2024-03-15`` reads as "March 15, 2024" (same facts); a time after it too."""
    month, day = int(m["mo"]), int(m["d"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return []
    facts = [f"d:{lx.MONTHS[month - 1]}-{day}", f"y:{m['y']}"]
    return facts + ([f"t:{int(m['h']):02d}:{m['min']}"] if m["h"] else [])


def _past_to(m: re.Match[str]) -> list[str]:
    hour, part = _hour(m["h"]), m["part"]
    minute = 30 if part == "half" else 15
    if m["dir"] == "to":
        hour, minute = (hour - 2) % 12 + 1, 60 - minute
    return [f"t~{hour}:{minute:02d}"]


_Pattern = tuple[re.Pattern[str], Callable[[re.Match[str]], list[str]]]
_PATTERNS: tuple[_Pattern, ...] = tuple(
    (re.compile(rx, re.IGNORECASE), fn)
    for rx, fn in (
        (
            r"\b(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
            r"(?:[t ](?P<h>\d{1,2}):(?P<min>\d{2}))?\b",
            _iso,
        ),
        (
            r"\b(?P<a>\d{1,2})([/-])(?P<b>\d{1,2})\2(?P<y>\d{4}|\d{2})\b"
            r"|\b(?P<a2>\d{1,2})\.(?P<b2>\d{1,2})\.(?P<y2>\d{4})\b",
            lambda m: [f"d:{int(m['a'] or m['a2'])}/{int(m['b'] or m['b2'])}/{m['y'] or m['y2']}"],
        ),
        (rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+|day\s+of\s+)?{_M}(?![\w]){_YEAR}", _day_month),
        (rf"\b{_M}\s+(?:the\s+)?{_DAY}\b(?!\s*(?::|am\b|pm\b)){_YEAR}", _day_month),
        (
            r"\b(?P<h>\d{1,2})(?::(?P<min>\d{2}))?\s*(?P<ap>[ap]\.?m\b\.?)"
            r"|\b(?P<h2>\d{1,2}):(?P<min2>\d{2})\b",
            _clock,
        ),
        (rf"\b{_H}\s+o['’]?\s?clock\b", lambda m: [f"t~{_hour(m['h'].lower())}:00"]),
        (
            rf"\b(?:a\s+)?(?P<part>half|quarter)\s+(?P<dir>past|to)\s+{_H}\b",
            lambda m: _past_to(m),
        ),
        (
            rf"\b(?P<n>\d{{1,2}}(?:st|nd|rd|th)|{_ORD})[\s-]+century\b",
            lambda m: [f"century:{_ordinal(m['n'])}"],
        ),
        (
            r"\b(?P<n>\d{2,3}0)['’]?s\b|['’](?P<n2>\d0)s\b",
            lambda m: [f"decade:{m['n'] or m['n2']}"],
        ),
        (
            r"\b(?P<n>\d+)\s*(?P<e>bce?|ad|ce)\b|\b(?P<e2>ad)\s+(?P<n2>\d+)\b",
            lambda m: [f"era:{(m['e'] or m['e2']).lower()[:2]}"],
        ),
        (r"\bq(?P<n>[1-4])\b", lambda m: [f"quarter:{m['n']}"]),
        (
            rf"\b(?P<n>{_ORD}|[1-4](?:st|nd|rd|th))\s+(?P<p>quarter|half)\b",
            lambda m: [f"{m['p'].lower()}:{_ordinal(m['n'])}"],
        ),
        (r"\bh(?P<n>[12])\b", lambda m: [f"half:{m['n']}"]),
        (r"\b(?:the\s+)?day\s+after\s+tomorrow\b", lambda m: ["day after tomorrow"]),
        (r"\b(?:the\s+)?day\s+before\s+yesterday\b", lambda m: ["day before yesterday"]),
        (
            rf"\b(?P<n>{_ORD}|\d(?:st|nd|rd|th))\s+(?P<w>{'|'.join(lx.WEEKDAYS)})\b",
            lambda m: [f"nth:{_ordinal(m['n'])}:{m['w'].lower()}"],
        ),
        (
            r"\b(?:once|twice|\w+\s+times)\s+(?:a|an)\s+(?P<p>day|week|month|year|hour)\b",
            lambda m: [f"every:{m['p'].lower()}"],
        ),
    )
)


def _structured(text: str, facts: set[str]) -> str:
    """Find the structured forms, add their facts (with the relation word before them),
    and blank them out of the text for the word pass."""
    for rx, fn in _PATTERNS:
        out, last = [], 0
        for m in rx.finditer(text):
            found = fn(m)
            if not found:
                continue
            rel = _relation(text[: m.start()])
            facts.update(found)
            facts.update(f"{rel} {f}" for f in found if rel)
            out += [text[last : m.start()], " · "]
            last = m.end()
        text = "".join(out) + text[last:]
    return text


def _relation(before: str) -> str | None:
    """The relation word ("by", "until", "end" ...) just before a date, if any."""
    words = _WORD.findall(before.lower())[-3:]
    for w in reversed(words):
        if w in lx.DATE_RELATIONS:
            return lx.DATE_RELATIONS[w]
        if w not in _SKIP:
            return None
    return None


def _abbreviation_counts(text: str, toks: list[tuple[str, int]], i: int) -> bool:
    """An abbreviation ("Sun", "Mar") or "May" is a date next to a number, after "in",
    "of", "during" ..., or capitalised mid-sentence."""
    near = [toks[j][0] for j in (i - 1, i + 1) if 0 <= j < len(toks)]
    if any(t[0].isdigit() for t in near):
        return True
    if i and toks[i - 1][0].lower() in _MONTH_CONTEXT:
        return True
    before = text[: toks[i][1]].rstrip()
    return toks[i][0][0].isupper() and bool(before) and before[-1] not in ".!?:\n¿¡\"'"


_MONTH_CONTEXT = frozenset("in of during since until till mid early late".split())
_SEASON_CONTEXT = frozenset("the this next last in during early late every each".split())


def _word_fact(text: str, toks: list[tuple[str, int]], i: int) -> str | None:
    """The date fact of the word at ``i`` alone (periods need a modifier: None here)."""
    low = toks[i][0].lower()
    if low in lx.TIMES_OF_DAY:
        return lx.TIMES_OF_DAY[low]
    if low in lx.PLURAL_DATE_WORDS:
        return "every:" + lx.PLURAL_DATE_WORDS[low]
    if low in lx.DATE_WORDS:
        return lx.DATE_WORDS[low]
    if low in lx.FREQUENCIES:
        return "every:" + lx.FREQUENCIES[low]
    if low in lx.FOREIGN_DATE_WORDS:
        return lx.FOREIGN_DATE_WORDS[low]
    if low in lx.DECADE_WORDS and i and toks[i - 1][0].lower() in ("the", "my", "his", "her"):
        return "decade:" + lx.DECADE_WORDS[low]
    if low == "ago":
        return "ago"
    if low == "fall" and i and toks[i - 1][0].lower() in _SEASON_CONTEXT:
        return "autumn"
    short = lx.MONTH_ABBREVIATIONS.get(low) or lx.WEEKDAY_ABBREVIATIONS.get(low)
    if low == "may":
        short = "may"
    if short and _abbreviation_counts(text, toks, i):
        return short
    return None


def _word_facts(text: str, facts: set[str]) -> None:
    """The word pass: date words, with the modifier and relation word before them."""
    toks = [(m.group(), m.start()) for m in _WORD.finditer(text)]
    for i, (tok, _) in enumerate(toks):
        low = tok.lower()
        fact = _word_fact(text, toks, i)
        prev = toks[i - 1][0].lower() if i else ""
        mod = lx.DATE_MODIFIERS.get(prev)
        if fact is None and low in lx.PERIODS and mod and (prev, low) != ("per", "hour"):
            fact = lx.PERIODS[low]  # "next week", "every month"; alone it is wording
        if fact is None:
            continue
        start = toks[i][1]
        if mod is not None:
            start = toks[i - 1][1]
            if mod == "every":
                fact = fact if fact.startswith("every:") else "every:" + fact
            elif not fact.startswith("every:"):
                fact = f"rel:{mod}:{fact}"
        facts.add(fact)
        rel = _relation(text[:start])
        if rel:
            facts.add(f"{rel} {fact}")


def date_facts(text: str) -> frozenset[str]:
    """Canonical date and time facts of ``text`` (see the module docstring)."""
    facts: set[str] = set()
    rest = _structured(text.replace("’", "'"), facts)
    _word_facts(rest, facts)
    return frozenset(facts)


__all__ = ["date_facts"]
