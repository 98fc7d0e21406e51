"""What counts as a cache hit: the exact key and the near-duplicate rule (no Ray, no I/O).

One definition, shared by the cost suggestions (:mod:`workbench.analytics.cost`) and the
gateway's exact and semantic caches, so that a suggestion's "a cache would have served
this" and the cache's own hits agree.

Exact repeat
    Two requests are exact repeats when :func:`exact_key` is equal: a SHA-256 of the
    normalised request (:func:`normalize_request`: every field the client sent except the
    ones that cannot change the answer, :data:`NON_ANSWER_FIELDS`; JSON with sorted keys),
    the model as routed, the endpoint, the policy hash and the workspace. Unknown fields
    stay in the key, so a new answer-changing parameter can never make two different
    requests share an entry; two workspaces never share a key.

Near duplicate (:class:`NearDupRule`)
    Both requests are *eligible* (:meth:`NearDupRule.eligible`: ``temperature`` at most
    ``max_temperature``, a missing temperature counting as the providers' default 1.0; no
    tools, functions or tool messages unless ``allow_tools``), they share a *scope*
    (:func:`scope_key`: workspace, model, endpoint, policy hash and every answer-changing
    parameter, i.e. the exact key without the conversation), the cosine of the MiniLM
    embeddings of their normalised conversations (:func:`conversation_text`) is at least
    ``threshold``, and the *second stage* passes (:func:`second_stage`): the same numbers
    (digits and number words), the same dates (months, weekdays, relative days), the same
    units and currencies, the same count of negations, every capitalised name or acronym
    of one found in the other, and no confident language mismatch. So "refund order 1234"
    never matches "refund order 1235", nor "is it safe" "is it not safe".
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

KEY_VERSION = 1
"""Bumped whenever the normalisation changes (old keys then simply stop matching)."""

NON_ANSWER_FIELDS: frozenset[str] = frozenset(
    {"model", "stream", "stream_options", "user", "metadata", "store", "service_tier"}
)
"""Request fields that cannot change the answer's content; everything else is in the key."""

CONVERSATION_FIELDS: frozenset[str] = frozenset({"messages", "prompt", "input"})
"""Fields that carry the conversation (left out of :func:`scope_key`)."""

TOOL_FIELDS: frozenset[str] = frozenset({"tools", "functions", "tool_choice", "function_call"})

_ALIASES = {"max_completion_tokens": "max_tokens"}


def normalize_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer-changing part of a request body, in a canonical form.

    Drops :data:`NON_ANSWER_FIELDS`; ``max_completion_tokens`` becomes ``max_tokens``; a
    string ``stop`` becomes a one-element list; ``null`` values are dropped (a parameter
    sent as null is the same as one not sent). Messages are kept exactly as sent.
    """
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name in NON_ANSWER_FIELDS or value is None:
            continue
        name = _ALIASES.get(name, name)
        if name == "stop" and isinstance(value, str):
            value = [value]
        out[name] = value
    return out


def _digest(payload: Mapping[str, Any]) -> str:
    raw = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(raw).hexdigest()


def exact_key(
    body: Mapping[str, Any],
    *,
    model: str | None,
    workspace: str | None,
    policy_hash: str | None,
    endpoint: str | None = None,
) -> str:
    """The exact-cache key of a request (hex SHA-256); see the module docstring."""
    return _digest(
        {
            "v": KEY_VERSION,
            "workspace": workspace or "",
            "policy": policy_hash or "",
            "model": model or "",
            "endpoint": endpoint or "",
            "request": normalize_request(body),
        }
    )


def scope_key(
    body: Mapping[str, Any],
    *,
    model: str | None,
    workspace: str | None,
    policy_hash: str | None,
    endpoint: str | None = None,
) -> str:
    """The near-duplicate scope: :func:`exact_key` without the conversation fields."""
    rest = {k: v for k, v in body.items() if k not in CONVERSATION_FIELDS}
    return "scope:" + exact_key(
        rest, model=model, workspace=workspace, policy_hash=policy_hash, endpoint=endpoint
    )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, Mapping)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def conversation_text(body: Mapping[str, Any]) -> str | None:
    """The normalised conversation a semantic cache embeds (None: nothing to embed).

    Chat: one ``role: text`` line per message (text parts joined, whitespace collapsed),
    the last user message first so that a long history truncated by the encoder keeps
    the question. Completions: the prompt; embeddings requests: None.
    """
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        lines = []
        for m in messages:
            if isinstance(m, Mapping):
                role = str(m.get("role") or "user")
                lines.append(f"{role}: {' '.join(_content_text(m.get('content')).split())}")
        users = [i for i, line in enumerate(lines) if line.startswith("user: ")]
        if users and users[-1] != 0:
            lines.insert(0, lines.pop(users[-1]))
        return "\n".join(lines) or None
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return " ".join(prompt.split()) or None
    return None


def uses_tools(body: Mapping[str, Any]) -> bool:
    """Whether the request offers tools/functions or carries tool calls or results."""
    if any(body.get(f) for f in TOOL_FIELDS):
        return True
    for m in body.get("messages") or []:
        if isinstance(m, Mapping) and (
            m.get("role") in ("tool", "function") or m.get("tool_calls") or m.get("function_call")
        ):
            return True
    return False


# ----------------------------------------------------------------------- second stage

_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70"})
_NUMBER_WORDS.update({"eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000"})
_NUMBER_WORDS.update({"million": "1000000", "billion": "1000000000", "dozen": "12"})
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
# "may" is left out: as a modal verb it would split paraphrases ("May I ..." / "Can I ...")
_DATE_WORDS = {m: m for m in _MONTHS if m != "may"} | {m[:3]: m for m in _MONTHS if m != "may"}
_DATE_WORDS |= {"sept": "september"}
_DATE_WORDS |= {
    d: d
    for d in "monday tuesday wednesday thursday friday saturday sunday today tomorrow "
    "yesterday tonight weekend".split()
}
_UNITS: dict[str, str] = {}
for _canon, _forms in {
    "km": "km kms kilometer kilometers kilometre kilometres",
    "mile": "mile miles mi",
    "m": "meter meters metre metres",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "mm": "mm millimeter millimeters",
    "ft": "ft foot feet",
    "inch": "inch inches",
    "kg": "kg kgs kilogram kilograms kilo kilos",
    "g": "gram grams",
    "lb": "lb lbs pound pounds",
    "oz": "oz ounce ounces",
    "l": "liter liters litre litres",
    "ml": "ml milliliter milliliters",
    "gallon": "gallon gallons",
    "celsius": "celsius °c",
    "fahrenheit": "fahrenheit °f",
    "usd": "usd dollar dollars $",
    "eur": "eur euro euros €",
    "gbp": "gbp £",
    "jpy": "jpy yen ¥",
    "percent": "percent percentage %",
    "second": "sec secs seconds",
    "minute": "min mins minute minutes",
    "hour": "hour hours hr hrs",
    "day": "day days",
    "week": "week weeks",
    "month": "month months",
    "year": "year years",
    "gb": "gb gigabyte gigabytes",
    "mb": "mb megabyte megabytes",
    "tb": "tb terabyte terabytes",
    "mph": "mph",
    "kmh": "kmh kph",
}.items():
    for _f in _forms.split():
        _UNITS[_f] = _canon
_NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor nowhere cannot without "
    "cant dont doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt couldnt".split()
)
# capitalised words that start a sentence without being a name
_COMMON = frozenset(
    "a an the what whats which who whom whose when where why how is are was were be can "
    "could would should will shall do does did please tell give show list explain "
    "describe write summarize summarise translate find make create help let lets i im "
    "my me we our you your it its this that these those there here if in on at for to "
    "of from by with about and or but so as hi hello hey thanks thank ok okay yes no not "
    "any some all every each compare define name provide suggest recommend calculate "
    "convert check say generate draft rewrite fix update add remove get set use "
    "hola bonjour".split()
)
_TOKEN = re.compile(r"[$€£¥%]|°[cf]|\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_SENTENCE_END = frozenset(".!?:\n")


@dataclass(frozen=True)
class Signature:
    """The facts of a text that a near duplicate must share exactly."""

    numbers: frozenset[str]
    dates: frozenset[str]
    units: frozenset[str]
    quantities: frozenset[str]
    negations: int
    names: frozenset[str]
    words: frozenset[str]
    text: str

    def names_found_in(self, other: Signature) -> bool:
        """Every name of this text occurs (any case) among the other's words."""
        return self.names <= other.words


def _number(token: str) -> str:
    token = token.replace(",", "")  # 1,234 == 1234 (a decimal comma reads as a separator)
    if "." in token:
        token = token.rstrip("0").rstrip(".") or "0"
    return token.lstrip("0") or "0"


def signature(text: str) -> Signature:
    """Extract the :class:`Signature` of ``text``."""
    numbers: set[str] = set()
    dates: set[str] = set()
    units: set[str] = set()
    names: set[str] = set()
    words: set[str] = set()
    quantities: set[str] = set()
    negations = 0
    last_number: str | None = None  # a number just before a unit makes a quantity
    last_unit: str | None = None  # a currency sign just before a number, too
    for match in _TOKEN.finditer(text):
        tok = match.group()
        if tok[0].isdigit():
            last_number = _number(tok)
            numbers.add(last_number)
            if last_unit is not None:
                quantities.add(f"{last_number} {last_unit}")
            last_unit = None
            continue
        low = tok.lower().replace("’", "'")
        bare = low.split("'")[0] if low.endswith("'s") else low
        words.add(bare)
        if low.endswith("n't") or low.replace("'", "") in _NEGATIONS:
            negations += 1
        if bare in _NUMBER_WORDS:
            numbers.add(_NUMBER_WORDS[bare])
        if bare in _DATE_WORDS:
            dates.add(_DATE_WORDS[bare])
        unit = _UNITS.get(bare)
        if unit is not None:
            units.add(unit)
            if last_number is not None:
                quantities.add(f"{last_number} {unit}")
        last_number, last_unit = None, unit
        if tok[0].isupper() and bare != "i":
            before = text[: match.start()].rstrip()
            initial = not before or before[-1] in _SENTENCE_END
            if (not initial or bare not in _COMMON) and bare not in _DATE_WORDS:
                names.add(bare)
    return Signature(
        numbers=frozenset(numbers),
        dates=frozenset(dates),
        units=frozenset(units),
        quantities=frozenset(quantities),
        negations=negations,
        names=frozenset(names),
        words=frozenset(words),
        text=text,
    )


_LANG_LOCK = threading.Lock()
_LANG_ID: Any = None
_LANG_MIN_LETTERS = 20
_LANG_MIN_PROB = 0.9


def _language(text: str) -> str | None:
    """Confident language of ``text`` (py3langid), None when short or unsure."""
    global _LANG_ID
    letters = sum(c.isalpha() for c in text)
    if letters < _LANG_MIN_LETTERS:
        return None
    if _LANG_ID is None:
        with _LANG_LOCK:
            if _LANG_ID is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _LANG_ID = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    lang, prob = _LANG_ID.classify(text)
    return str(lang) if prob >= _LANG_MIN_PROB else None


def second_stage(a: Signature | str, b: Signature | str) -> bool:
    """Whether two texts agree on numbers, dates, units, negations, names and language."""
    sa = a if isinstance(a, Signature) else signature(a)
    sb = b if isinstance(b, Signature) else signature(b)
    if (sa.numbers, sa.dates, sa.units, sa.negations) != (
        sb.numbers,
        sb.dates,
        sb.units,
        sb.negations,
    ):
        return False
    if sa.quantities != sb.quantities and sa.quantities and sb.quantities:
        return False
    if not (sa.names_found_in(sb) and sb.names_found_in(sa)):
        return False
    la, lb = _language(sa.text), _language(sb.text)
    return la is None or lb is None or la == lb


@dataclass(frozen=True)
class NearDupRule:
    """The near-duplicate rule (see the module docstring). Defaults are the gateway's.

    ``threshold`` was chosen on the tuning half of the hand-written paraphrase set in
    ``bench/cost_paraphrases.py`` (see ``docs/cost.md`` for the measured precision and
    recall on the other half, with and without the second stage).
    """

    threshold: float = 0.82
    max_temperature: float = 0.3
    allow_tools: bool = False
    use_second_stage: bool = True

    def eligible(self, body: Mapping[str, Any], temperature: float | None = None) -> bool:
        """Whether a request may be served from (or fill) a semantic cache entry."""
        temp = temperature if temperature is not None else body.get("temperature")
        temp_f = float(temp) if isinstance(temp, int | float) else 1.0
        if temp_f > self.max_temperature:
            return False
        if not self.allow_tools and uses_tools(body):
            return False
        return conversation_text(body) is not None

    def matches(self, cosine: float, a: Signature | str, b: Signature | str) -> bool:
        """Whether two in-scope, eligible texts with this cosine are near duplicates."""
        if cosine < self.threshold:
            return False
        return second_stage(a, b) if self.use_second_stage else True


__all__ = [
    "CONVERSATION_FIELDS",
    "KEY_VERSION",
    "NON_ANSWER_FIELDS",
    "NearDupRule",
    "Signature",
    "conversation_text",
    "exact_key",
    "normalize_request",
    "scope_key",
    "second_stage",
    "signature",
    "uses_tools",
]
