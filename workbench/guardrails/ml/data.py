"""Where the labelled data lives, what role it has, and how to read it.

The shared public sets are read in place from ``../shared/datasets`` next to the
repository (or ``$WORKBENCH_SHARED_DATASETS``), never copied; the project's own hand-made
sets live in the repository's ``datasets/``. Every set has a **role**: ``train`` sets
may be used to fit models and pick thresholds, ``eval`` sets only to measure them.
:func:`load` refuses to hand an eval-only set to training code (``purpose="train"``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Role = Literal["train", "eval"]
Purpose = Literal["train", "eval"]

ENV_SHARED = "WORKBENCH_SHARED_DATASETS"
REPO_ROOT = Path(__file__).resolve().parents[3]


class DataRoleError(RuntimeError):
    """An eval-only set was requested for training."""


@dataclass(frozen=True)
class DatasetRef:
    """A labelled set the ML checks use: where it is and what it may be used for."""

    name: str
    path: str  # relative to its root
    root: Literal["shared", "project"]
    role: Role

    def resolve(self) -> Path:
        """The file's absolute path (FileNotFoundError when its folder is absent)."""
        base = shared_dir() if self.root == "shared" else project_dir()
        return base / self.path


_INJ = "injection"

DATASETS: dict[str, DatasetRef] = {
    d.name: d
    for d in (
        DatasetRef("prompt_injection_train", "prompt_injection_train.parquet", "shared", "train"),
        DatasetRef("prompt_injection_test", "prompt_injection_test.parquet", "shared", "eval"),
        DatasetRef("toxicity_surge", "toxicity_surge.csv", "shared", "train"),
        DatasetRef("pii_presidio_synth", "pii_presidio_synth.json", "shared", "train"),
        DatasetRef("xstest_prompts", "xstest_prompts.csv", "shared", "eval"),
        DatasetRef("bipia_email_test", "bipia/email_test.jsonl", "shared", "eval"),
        DatasetRef("bipia_text_attack_test", "bipia/text_attack_test.json", "shared", "eval"),
        DatasetRef("bipia_code_attack_test", "bipia/code_attack_test.json", "shared", "eval"),
        DatasetRef("bipia_code_test", "bipia/code_test.jsonl", "shared", "eval"),
        # injection/: BIPIA train attacks and clean train contexts, in-the-wild jailbreaks
        # (the earlier snapshot trains, the later one with the overlap removed evaluates),
        # over-defense sets and spikee documents (eval-only)
        DatasetRef(
            "bipia_text_attack_train",
            f"{_INJ}/bipia_train/text_attack_train.json",
            "shared",
            "train",
        ),
        DatasetRef(
            "bipia_code_attack_train",
            f"{_INJ}/bipia_train/code_attack_train.json",
            "shared",
            "train",
        ),
        DatasetRef("bipia_email_train", f"{_INJ}/bipia_train/email_train.jsonl", "shared", "train"),
        DatasetRef("bipia_code_train", f"{_INJ}/bipia_train/code_train.jsonl", "shared", "train"),
        DatasetRef("bipia_table_train", f"{_INJ}/bipia_train/table_train.jsonl", "shared", "train"),
        DatasetRef(
            "jailbreak_llms_train",
            f"{_INJ}/jailbreak_llms/jailbreak_prompts_2023_05_07.csv",
            "shared",
            "train",
        ),
        DatasetRef(
            "jailbreak_llms_heldout",
            f"{_INJ}/jailbreak_llms/jailbreak_prompts_2023_12_25_heldout.csv",
            "shared",
            "eval",
        ),
        DatasetRef("notinject_one", f"{_INJ}/notinject/NotInject_one.json", "shared", "eval"),
        DatasetRef("notinject_two", f"{_INJ}/notinject/NotInject_two.json", "shared", "eval"),
        DatasetRef("notinject_three", f"{_INJ}/notinject/NotInject_three.json", "shared", "eval"),
        DatasetRef("wildguard_benign", f"{_INJ}/notinject/wildguard.json", "shared", "eval"),
        DatasetRef(
            "spikee_injected_documents", f"{_INJ}/spikee/injected_documents.jsonl", "shared", "eval"
        ),
        DatasetRef(
            "spikee_benign_emails", f"{_INJ}/spikee/benign_trigger_emails.jsonl", "shared", "eval"
        ),
        DatasetRef("jailbreak_handmade", "jailbreak_handmade.jsonl", "project", "train"),
        # hard negatives (benign texts with trigger words) and attacks the public train
        # data lacks (multilingual, obfuscated, tool hijack, injected documents)
        DatasetRef("injection_handmade", "injection_handmade.jsonl", "project", "train"),
        # benign hard negatives only (issue 11, over-blocking): prompts with trigger words,
        # questions about prompt injection, ordinary instructions to the assistant, benign
        # role-play, technical documents (code, configs, READMEs, changelogs, e-mails)
        DatasetRef("injection_hardneg", "injection_hardneg.jsonl", "project", "train"),
        # benign plain instructions to the assistant (issue 11, over-blocking): write,
        # list, translate, reply with, format as JSON, agent tool tasks, operator system
        # prompts, often behind an id prefix ("Request 12:"); from a seeded generator
        DatasetRef("benign_instructions", "benign_instructions.jsonl", "project", "train"),
        # split column: "tune" chooses the cache threshold; "eval" (seen) and "eval2"
        # (fresh) are only measured
        DatasetRef("paraphrases", "paraphrases.jsonl", "project", "train"),
    )
}

#: Presidio records with ``index % PRESIDIO_FOLDS == 0`` are held out for the eval.
PRESIDIO_FOLDS = 5


def shared_dir() -> Path:
    """The shared datasets folder: ``$WORKBENCH_SHARED_DATASETS`` or ``../shared/datasets``."""
    env = os.environ.get(ENV_SHARED)
    candidates = [Path(env)] if env else []
    candidates += [
        REPO_ROOT.parent / "shared" / "datasets",
        Path.cwd().parent / "shared" / "datasets",
    ]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    raise FileNotFoundError(
        f"shared datasets not found (set {ENV_SHARED}); looked in "
        + ", ".join(str(c) for c in candidates)
    )


def project_dir() -> Path:
    """The repository's ``datasets/`` folder (manifests and hand-made sets)."""
    return REPO_ROOT / "datasets"


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ref(name: str, purpose: Purpose) -> DatasetRef:
    """The set ``name``; raises :class:`DataRoleError` for eval-only sets in training."""
    d = DATASETS[name]
    if purpose == "train" and d.role != "train":
        raise DataRoleError(f"{name} is eval-only: it must not be used to fit or tune")
    return d


def file_record(name: str, purpose: Purpose) -> dict[str, str]:
    """``{name, path, sha256, role}`` of a set, for manifests and eval outputs."""
    d = ref(name, purpose)
    p = d.resolve()
    where = f"{'../shared/datasets' if d.root == 'shared' else 'datasets'}/{d.path}"
    return {"name": name, "path": where, "sha256": sha256(p), "role": d.role}


# ----------------------------------------------------------------------------- readers
#: The project's hand-made JSON-lines sets (``text``, ``label`` per row).
_HANDMADE = (
    "jailbreak_handmade",
    "injection_handmade",
    "injection_hardneg",
    "benign_instructions",
)


def texts_labels(name: str, purpose: Purpose) -> tuple[list[str], list[int]]:
    """``(texts, labels)`` of a binary text set (1 = the class the check flags).

    ``pii_presidio_synth`` gives the texts of its train split (index % 5 != 0), all 0;
    ``jailbreak_llms_train`` its prompts, all 1 (every row is a jailbreak).
    """
    import polars as pl

    p = ref(name, purpose).resolve()
    if name.startswith("prompt_injection"):
        df = pl.read_parquet(p)
        return df["text"].to_list(), [int(x) for x in df["label"].to_list()]
    if name == "toxicity_surge":
        df = pl.read_csv(p)
        return df["text"].to_list(), [int(x == "Toxic") for x in df["is_toxic"].to_list()]
    if name == "pii_presidio_synth":
        rows = presidio("train")
        return [r["full_text"] for r in rows], [0] * len(rows)
    if name in _HANDMADE:
        rows = read_jsonl(p)
        return [r["text"] for r in rows], [int(r["label"]) for r in rows]
    if name == "jailbreak_llms_train":
        prompts = [str(x) for x in pl.read_csv(p)["prompt"].to_list() if x and str(x).strip()]
        return prompts, [1] * len(prompts)
    raise KeyError(f"{name} is not a binary text set")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (blank lines skipped)."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def presidio(split: Literal["train", "eval"]) -> list[dict[str, Any]]:
    """Presidio synthetic records: ``train`` = index % 5 != 0, ``eval`` = index % 5 == 0."""
    p = ref("pii_presidio_synth", "train").resolve()
    rows: list[dict[str, Any]] = json.loads(p.read_text(encoding="utf-8"))
    keep = (
        (lambda i: i % PRESIDIO_FOLDS != 0)
        if split == "train"
        else (lambda i: i % PRESIDIO_FOLDS == 0)
    )
    return [r for i, r in enumerate(rows) if keep(i)]


__all__ = [
    "DATASETS",
    "ENV_SHARED",
    "PRESIDIO_FOLDS",
    "DataRoleError",
    "DatasetRef",
    "file_record",
    "presidio",
    "project_dir",
    "read_jsonl",
    "ref",
    "sha256",
    "shared_dir",
    "texts_labels",
]
