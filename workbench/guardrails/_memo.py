"""Verdict reuse: a check's result on the same texts under the same configuration.

A check's *result* (which texts failed, with which spans, score and message) depends on
its validator, its params and the roles it reads (its **config hash**), on the texts it
reads (with their positions), and, for the few checks that read the request itself
(``system_prompt_leak``, the request checks, third-party checks), on the request's
metadata: together the **text hash**. The action taken on a failure (deny, redact, flag,
...) is not part of it: a replay that only changes actions reuses every result.

The engine stamps both hashes on every verdict it logs (``config_hash``, ``text_hash``),
so a replay can reuse logged results (:meth:`VerdictMemo.seed`) as well as results
computed earlier in the same run. ``io_bound`` checks (webhooks) are never reused.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workbench import __version__

Result = tuple[int, Any]  # (index of the text, the validator's FailResult)
"""One failure of a check; a result with no failures is an empty list."""

# validator modules whose checks read ``metadata["request"]``, not only the text
_READS_REQUEST = (
    "workbench.guardrails.validators.output",
    "workbench.guardrails.validators.request",
    "workbench.guardrails.validators.webhook",
)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def config_hash(validator: str, params: Mapping[str, Any], roles: Iterable[str] | None) -> str:
    """The hash of what a check computes: validator, params, roles (not its action)."""
    body = {
        "validator": validator,
        "params": params,
        "roles": sorted(roles) if roles is not None else None,
        "version": __version__,
    }
    return _digest(json.dumps(body, sort_keys=True, default=str).encode())


def text_digest(text: str) -> str:
    """The hash of one text."""
    return _digest(text.encode("utf-8", "surrogatepass"))


def reads_request(validator: Any) -> bool:
    """Whether a check's result may depend on the request, not only on its texts."""
    module = type(validator).__module__
    return not module.startswith("workbench.guardrails") or module.startswith(_READS_REQUEST)


def request_digest(request: Mapping[str, Any] | None) -> str:
    """The hash of the request metadata checks may read."""
    return _digest(json.dumps(request or {}, sort_keys=True, default=str).encode())


def reuse_key(text_hashes: Sequence[str], reads: Sequence[int], request_hash: str | None) -> str:
    """The text hash of one check run: the texts it reads, their positions, the request."""
    parts = [f"{i}:{text_hashes[i]}" for i in reads]
    if request_hash is not None:
        parts.append(f"req:{request_hash}")
    return _digest("|".join(parts).encode())


def _from_logged(verdict: Mapping[str, Any]) -> list[Result] | None:
    """A logged verdict as results, when that is exact: passed, or failed on one text
    with spans (so the spans, score and message are the whole result)."""
    if verdict.get("passed"):
        return []
    spans = verdict.get("spans") or []
    where = {sp.get("message") for sp in spans}
    if not spans or len(where) != 1:
        return None
    from guardrails.classes.validation.validation_result import ErrorSpan, FailResult

    index = next(iter(where))
    if not isinstance(index, int):
        return None
    score = verdict.get("score")
    result = FailResult(
        error_message=verdict.get("message") or "",
        error_spans=[
            ErrorSpan(start=int(sp["start"]), end=int(sp["end"]), reason=str(sp["reason"]))
            for sp in spans
        ],
        metadata={"score": score} if score is not None else None,
    )
    return [(index, result)]


LOGGED: contextvars.ContextVar[dict[tuple[str, str], list[Result]] | None] = contextvars.ContextVar(
    "workbench_logged_results", default=None
)
"""Results logged for the request being replayed, by (stage, config hash): used before
the memo when set (a replay sets it for requests whose logged texts were masked, whose
text hashes can no longer match: the logged result, on the real text, is the better one)."""


def logged_results(
    verdicts: Iterable[Mapping[str, Any]], stage: str = "input"
) -> dict[tuple[str, str], list[Result]]:
    """A request's logged results of ``stage`` by (stage, config hash), where exact."""
    out: dict[tuple[str, str], list[Result]] = {}
    for v in verdicts:
        cfg = v.get("config_hash")
        if v.get("stage") != stage or v.get("window") is not None or not isinstance(cfg, str):
            continue
        results = _from_logged(v)
        if results is not None:
            out[(stage, cfg)] = results
    return out


class VerdictMemo:
    """Check results by (config hash, text hash), bounded (least recently used out).

    ``hits``/``misses`` count lookups; ``seeded`` counts results taken from logged
    verdicts. A logged failure carries no fix value, so it is not reused for a ``fix``
    action (``for_fix=True``).
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[list[Result], bool]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.seeded = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, cfg: str, text: str, *, for_fix: bool = False, stage: str | None = None
    ) -> list[Result] | None:
        """The results stored for this check configuration and text hash, if any (the
        current request's logged results first, when :data:`LOGGED` is set)."""
        own = LOGGED.get()
        if own is not None and stage is not None:
            got = own.get((stage, cfg))
            if got is not None and not (for_fix and got):
                self.hits += 1
                return got
        entry = self._entries.get((cfg, text))
        if entry is None or (for_fix and entry[1] and entry[0]):
            self.misses += 1
            return None
        self._entries.move_to_end((cfg, text))
        self.hits += 1
        return entry[0]

    def put(self, cfg: str, text: str, results: list[Result], *, logged: bool = False) -> None:
        """Store a check's results (``logged``: rebuilt from a logged verdict)."""
        key = (cfg, text)
        if logged and key in self._entries:
            return  # a computed result is at least as good
        self._entries[key] = (results, logged)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def seed(self, verdicts: Iterable[Mapping[str, Any]]) -> int:
        """Store the results of logged verdicts that carry both hashes; returns how many."""
        n = 0
        for v in verdicts:
            cfg, text = v.get("config_hash"), v.get("text_hash")
            if not isinstance(cfg, str) or not isinstance(text, str):
                continue
            if (cfg, text) in self._entries:
                continue
            results = _from_logged(v)
            if results is not None:
                self.put(cfg, text, results, logged=True)
                n += 1
        self.seeded += n
        return n

    def stats(self) -> dict[str, int]:
        """Lookups that hit and missed, entries, results seeded from the log."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "entries": len(self),
            "seeded": self.seeded,
        }


class StageKeys:
    """The text hashes of one stage run, computed once and lazily."""

    def __init__(self, texts: Sequence[str], request: Mapping[str, Any] | None) -> None:
        self.texts = texts
        self.request = request
        self._hashes: list[str] | None = None
        self._request: str | None = None
        self._keys: dict[tuple[tuple[int, ...], bool], str] = {}  # checks often read alike

    def key(self, reads: Sequence[int], with_request: bool) -> str:
        """The text hash of a check that reads ``reads`` (and the request, if it does)."""
        seen = (tuple(reads), with_request)
        got = self._keys.get(seen)
        if got is None:
            got = self._keys[seen] = self._key(reads, with_request)
        return got

    def _key(self, reads: Sequence[int], with_request: bool) -> str:
        if self._hashes is None:
            self._hashes = [text_digest(t) for t in self.texts]
        req = None
        if with_request:
            if self._request is None:
                self._request = request_digest(self.request)
            req = self._request
        return reuse_key(self._hashes, reads, req)
