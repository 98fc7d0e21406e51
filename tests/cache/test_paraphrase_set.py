"""The paraphrase set: counts, balance, tags, no duplicate pair, halves disjoint, and a
manifest that matches the file."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from bench._cache_data import DIFFERS, MANIFEST, PATH, SPLITS, load


def test_counts_and_kinds() -> None:
    rows = load()
    kinds = Counter(r.kind for r in rows)
    assert kinds["paraphrase"] >= 300 and kinds["near_miss"] >= 300
    assert set(kinds) == {"paraphrase", "near_miss"}
    assert len({r.id for r in rows}) == len(rows)
    assert len({r.domain for r in rows}) >= 6


def test_near_misses_are_tagged_and_paraphrases_are_not() -> None:
    rows = load()
    for r in rows:
        if r.kind == "near_miss":
            assert r.differs in DIFFERS, r
        else:
            assert r.differs is None, r
        assert r.a.strip() and r.b.strip() and r.a != r.b, r
    tags = Counter(r.differs for r in rows if r.kind == "near_miss")
    assert set(tags) == set(DIFFERS) and min(tags.values()) >= 30


def test_halves_are_balanced_by_kind_and_domain() -> None:
    rows = load()
    assert {r.split for r in rows} == set(SPLITS)
    per = Counter((r.kind, r.domain, r.split) for r in rows)
    for kind, domain in {(r.kind, r.domain) for r in rows}:
        assert abs(per[(kind, domain, "tune")] - per[(kind, domain, "eval")]) <= 1
    tags = Counter((r.differs, r.split) for r in rows if r.kind == "near_miss")
    for tag in DIFFERS:
        assert tags[(tag, "eval")] >= 20 and tags[(tag, "tune")] >= 20
    assert len(load("tune")) + len(load("eval")) == len(rows)


def test_no_duplicate_pair_and_no_pair_in_both_halves() -> None:
    rows = load()
    pairs = [frozenset((r.a.casefold(), r.b.casefold())) for r in rows]
    assert len(set(pairs)) == len(pairs)
    tune = {p for p, r in zip(pairs, rows, strict=True) if r.split == "tune"}
    evals = {p for p, r in zip(pairs, rows, strict=True) if r.split == "eval"}
    assert not tune & evals


def test_manifest_matches_the_file() -> None:
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["sha256"] == hashlib.sha256(PATH.read_bytes()).hexdigest()
    assert manifest["rows"] == len(load())
    assert manifest["path"] == "datasets/paraphrases.jsonl"
    assert "tune" in manifest["notes"] and "eval" in manifest["notes"]
