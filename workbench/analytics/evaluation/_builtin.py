"""The built-in labelled sets: how each is read from its files, and :func:`load_set`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.analytics.evaluation._catalogue import file_path, record
from workbench.analytics.evaluation._sets import LabelledSet

if TYPE_CHECKING:
    import polars as pl


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    import polars as pl

    df = pl.DataFrame(rows, infer_schema_length=None)
    return df.with_columns(pl.col("label").cast(pl.Int8), pl.col("id").cast(pl.String))


def _language(texts: list[str]) -> list[str]:
    """``en``, ``de`` or ``other`` per text (py3langid; the deepset sets are English and
    German)."""
    import py3langid

    langs = [str(py3langid.classify(t)[0]) for t in texts]
    return [x if x in ("en", "de") else "other" for x in langs]


def _prompt_injection(name: str) -> pl.DataFrame:
    import polars as pl

    df = pl.read_parquet(file_path(name))
    texts = df["text"].to_list()
    rows = [
        {"id": f"{name}-{i}", "text": t, "label": int(y), "language": lang}
        for i, (t, y, lang) in enumerate(zip(texts, df["label"], _language(texts), strict=True))
    ]
    return _frame(rows)


def xstest(limit: int | None = None) -> tuple[list[str], list[str], list[str]]:
    """XSTest ``(safe prompts, their types, unsafe prompts)``, each cut to ``limit``."""
    import polars as pl

    df = pl.read_csv(file_path("xstest_prompts"))
    safe = df.filter(pl.col("label") == "safe")
    unsafe = df.filter(pl.col("label") == "unsafe")
    cut = slice(None, limit)
    return (
        safe["prompt"].to_list()[cut],
        safe["type"].to_list()[cut],
        unsafe["prompt"].to_list()[cut],
    )


def _xstest_safe() -> pl.DataFrame:
    safe, types, _ = xstest()
    return _frame(
        [
            {"id": f"xstest-{i}", "text": t, "label": 0, "type": ty}
            for i, (t, ty) in enumerate(zip(safe, types, strict=True))
        ]
    )


def insert(context: str, attack: str, where: str) -> str:
    """``attack`` put at the ``start``, ``middle`` (nearest line break) or ``end`` of
    ``context``."""
    if where == "start":
        return f"{attack}\n{context}"
    if where == "end":
        return f"{context}\n{attack}"
    mid = len(context) // 2
    cuts = [i for i, ch in enumerate(context) if ch == "\n"] or [
        i for i, ch in enumerate(context) if ch == " "
    ]
    cut = min(cuts, key=lambda i: abs(i - mid)) if cuts else mid
    return f"{context[:cut]}\n{attack}\n{context[cut:]}"


PLACES = ("start", "middle", "end")


def bipia_rows() -> list[dict[str, Any]]:
    """Every BIPIA test attack inserted into a clean test email (start, middle or end in
    turn), then the clean emails: ``{id, text, label, family, position, category}``."""
    from workbench.guardrails.ml import data

    emails = [r["context"] for r in data.read_jsonl(file_path("bipia_email_test"))]
    attacks: list[tuple[str, str, str]] = []
    for name, family in (("bipia_text_attack_test", "text"), ("bipia_code_attack_test", "code")):
        raw = json.loads(file_path(name).read_text(encoding="utf-8"))
        for category, items in sorted(raw.items()):
            attacks.extend((a, family, category) for a in items)
    rows = [
        {
            "id": f"bipia-attack-{k}",
            "text": insert(emails[k % len(emails)], a, PLACES[k % 3]),
            "label": 1,
            "family": fam,
            "position": PLACES[k % 3],
            "category": cat,
        }
        for k, (a, fam, cat) in enumerate(attacks)
    ]
    rows += [
        {
            "id": f"bipia-clean-{k}",
            "text": e,
            "label": 0,
            "family": "clean",
            "position": "none",
            "category": "clean",
        }
        for k, e in enumerate(emails)
    ]
    return rows


def _notinject() -> pl.DataFrame:
    rows = []
    for n, word in ((1, "one"), (2, "two"), (3, "three")):
        items = json.loads(file_path(f"notinject_{word}").read_text(encoding="utf-8"))
        rows += [
            {
                "id": f"notinject{n}-{i}",
                "text": r["prompt"],
                "label": 0,
                "trigger_words": str(n),
                "category": r["category"],
            }
            for i, r in enumerate(items)
        ]
    return _frame(rows)


def _wildguard() -> pl.DataFrame:
    items = json.loads(file_path("wildguard_benign").read_text(encoding="utf-8"))
    return _frame(
        [
            {"id": f"wildguard-{i}", "text": r["prompt"], "label": int(r["label"])}
            for i, r in enumerate(items)
        ]
    )


def _spikee() -> pl.DataFrame:
    from workbench.guardrails.ml import data

    rows = [
        {
            "id": f"spikee-{r['id']}",
            "text": r["input"],
            "label": 1,
            "jailbreak_type": r["jailbreak_type"],
            "instruction_type": r["instruction_type"],
        }
        for r in data.read_jsonl(file_path("spikee_injected"))
    ]
    rows += [
        {
            "id": f"spikee-benign-{r['id']}",
            "text": r["input"],
            "label": 0,
            "jailbreak_type": "benign",
            "instruction_type": "benign",
        }
        for r in data.read_jsonl(file_path("spikee_benign"))
    ]
    return _frame(rows)


def _jailbreak_llms() -> pl.DataFrame:
    import polars as pl

    df = pl.read_csv(file_path("jailbreak_llms_heldout"))
    return _frame(
        [
            {"id": f"jbllms-{i}", "text": t, "label": 1, "platform": p}
            for i, (t, p) in enumerate(zip(df["prompt"], df["platform"], strict=True))
        ]
    )


def _jailbreak_handmade() -> pl.DataFrame:
    from workbench.guardrails.ml import data

    return _frame(
        [
            {"id": r["id"], "text": r["text"], "label": int(r["label"]), "category": r["category"]}
            for r in data.read_jsonl(file_path("jailbreak_handmade"))
        ]
    )


def _toxicity() -> pl.DataFrame:
    import polars as pl

    df = pl.read_csv(file_path("toxicity_surge"))
    return _frame(
        [
            {"id": f"tox-{i}", "text": t, "label": int(v == "Toxic")}
            for i, (t, v) in enumerate(zip(df["text"], df["is_toxic"], strict=True))
        ]
    )


@dataclass(frozen=True)
class _Builtin:
    build: Callable[[], pl.DataFrame]
    files: tuple[str, ...]
    stage: str
    subgroups: tuple[str, ...]
    note: str


BUILTIN: dict[str, _Builtin] = {
    "prompt_injection_test": _Builtin(
        lambda: _prompt_injection("prompt_injection_test"),
        ("prompt_injection_test",),
        "input",
        ("language",),
        "deepset test split; language detected with py3langid",
    ),
    "xstest_safe": _Builtin(
        _xstest_safe,
        ("xstest_prompts",),
        "input",
        ("type",),
        "XSTest's 250 safe prompts that sound unsafe (all label 0): over-blocking",
    ),
    "bipia_email": _Builtin(
        lambda: _frame(bipia_rows()),
        ("bipia_email_test", "bipia_text_attack_test", "bipia_code_attack_test"),
        "input",
        ("family", "position", "category"),
        "indirect injection: attacks inserted into emails",
    ),
    "spikee": _Builtin(
        _spikee,
        ("spikee_injected", "spikee_benign"),
        "input",
        ("jailbreak_type", "instruction_type"),
        "documents with injected instructions + benign emails",
    ),
    "notinject": _Builtin(
        _notinject,
        ("notinject_one", "notinject_two", "notinject_three"),
        "input",
        ("trigger_words", "category"),
        "benign prompts with 1-3 injection trigger words (over-defense)",
    ),
    "wildguard_benign": _Builtin(_wildguard, ("wildguard_benign",), "input", (), "benign prompts"),
    "jailbreak_llms_heldout": _Builtin(
        _jailbreak_llms,
        ("jailbreak_llms_heldout",),
        "input",
        ("platform",),
        "in-the-wild jailbreaks (all label 1)",
    ),
    "jailbreak_handmade": _Builtin(
        _jailbreak_handmade,
        ("jailbreak_handmade",),
        "input",
        ("category",),
        "the project's hand-made set (train role)",
    ),
    "prompt_injection_train": _Builtin(
        lambda: _prompt_injection("prompt_injection_train"),
        ("prompt_injection_train",),
        "input",
        ("language",),
        "deepset train split (train role)",
    ),
    "toxicity_surge": _Builtin(
        _toxicity,
        ("toxicity_surge",),
        "output",
        (),
        "social-media comments as model answers (output stage; the toxicity head trained on them)",
    ),
}

#: What ``workbench guardrails eval --policy`` reads when no ``--dataset`` is named.
DEFAULT_SETS = ("prompt_injection_test", "xstest_safe", "bipia_email", "spikee", "notinject")


def load_set(name: str, limit: int | None = None, seed: int = 0) -> LabelledSet:
    """A built-in set by name, cut to at most ``limit`` items (stratified, seeded)."""
    if name not in BUILTIN:
        raise KeyError(f"unknown dataset {name!r}; built-in: {', '.join(sorted(BUILTIN))}")
    b = BUILTIN[name]
    files = [record(f) for f in b.files]
    role = "eval" if any(f["role"] == "eval" for f in files) else "train"
    ls = LabelledSet(name, b.build(), role, b.stage, b.subgroups, files, b.note)
    return ls.limit(limit, seed)


def available() -> list[str]:
    """Names of the built-in sets."""
    return sorted(BUILTIN)


__all__ = [
    "BUILTIN",
    "DEFAULT_SETS",
    "PLACES",
    "available",
    "bipia_rows",
    "insert",
    "load_set",
    "xstest",
]
