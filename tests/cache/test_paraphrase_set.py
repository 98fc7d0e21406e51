"""The paraphrase set: counts, balance, tags, no duplicate pair, splits disjoint, the
fresh eval2 split's size and proportions, and a manifest that matches the file."""

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
    assert sum(len(load(s)) for s in SPLITS) == len(rows)


def test_eval2_is_a_full_held_out_set_in_the_same_proportions() -> None:
    rows, eval2 = load(), load("eval2")
    kinds = Counter(r.kind for r in eval2)
    assert kinds["paraphrase"] >= 150 and kinds["near_miss"] >= 150
    per_domain = Counter((r.kind, r.domain) for r in eval2)
    assert {d for _, d in per_domain} == {r.domain for r in rows}  # every domain
    assert max(per_domain.values()) - min(per_domain.values()) <= 1
    tags = Counter(r.differs for r in eval2 if r.kind == "near_miss")
    old = Counter(r.differs for r in rows if r.kind == "near_miss" and r.split == "eval")
    for tag in DIFFERS:  # each kind's share within 3 points of the eval half's
        share, was = tags[tag] / kinds["near_miss"], old[tag] / sum(old.values())
        assert abs(share - was) <= 0.03, (tag, share, was)
    assert all(r.id.split("-")[1] == r.domain for r in eval2)


def test_eval2_shares_no_sentence_with_the_other_splits() -> None:
    rows = load()
    seen = {t.casefold() for r in rows if r.split != "eval2" for t in (r.a, r.b)}
    assert not [t for r in load("eval2") for t in (r.a, r.b) if t.casefold() in seen]


def test_no_duplicate_pair_and_no_pair_in_two_splits() -> None:
    rows = load()
    pairs = [frozenset((r.a.casefold(), r.b.casefold())) for r in rows]
    assert len(set(pairs)) == len(pairs)  # so no pair can be in two splits either
    by_split = {s: {p for p, r in zip(pairs, rows, strict=True) if r.split == s} for s in SPLITS}
    assert not by_split["tune"] & (by_split["eval"] | by_split["eval2"])
    assert not by_split["eval"] & by_split["eval2"]


def test_manifest_matches_the_file() -> None:
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["sha256"] == hashlib.sha256(PATH.read_bytes()).hexdigest()
    assert manifest["rows"] == len(load())
    assert manifest["path"] == "datasets/paraphrases.jsonl"
    for split in SPLITS:
        assert split in manifest["notes"] and split in manifest["columns"]["split"]
