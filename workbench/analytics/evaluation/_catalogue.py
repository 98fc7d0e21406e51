"""Where each built-in labelled set comes from: manifest-backed files and extra shared ones.

Files the project's ``datasets/manifests`` describe are resolved through
:mod:`workbench.guardrails.ml.data` (which knows their role and refuses eval-only ones to
training code). The later additions under ``../shared/datasets/injection/`` have no
manifest yet; their role and sha256 are the ones ``../shared/datasets/README.md`` gives,
and the hash is checked when they are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SharedFile:
    """A shared file with no project manifest: its path under the shared folder, role, hash."""

    name: str
    path: str
    role: str
    sha256: str
    source: str

    def record(self) -> dict[str, Any]:
        """``{name, path, sha256, role, source, sha256_ok}`` (the file's hash is checked)."""
        from workbench.guardrails.ml import data

        p = self.resolve()
        actual = data.sha256(p)
        return {
            "name": self.name,
            "path": f"../shared/datasets/{self.path}",
            "sha256": actual,
            "role": self.role,
            "source": self.source,
            "sha256_ok": actual == self.sha256,
        }

    def resolve(self) -> Path:
        """Absolute path (FileNotFoundError when the shared folder is absent)."""
        from workbench.guardrails.ml import data

        return data.shared_dir() / self.path


_README = "role and sha256 from ../shared/datasets/README.md"

SHARED_FILES: dict[str, SharedFile] = {
    f.name: f
    for f in (
        SharedFile(
            "jailbreak_llms_heldout",
            "injection/jailbreak_llms/jailbreak_prompts_2023_12_25_heldout.csv",
            "eval",
            "a0244b9ccb6254e6f287b88d1d846d1087aec97507b4ff299bc98d98f9c9ffa2",
            f"verazuo/jailbreak_llms 2023_12_25 snapshot minus 2023_05_07; {_README}",
        ),
        SharedFile(
            "notinject_one",
            "injection/notinject/NotInject_one.json",
            "eval",
            "69b535596d95102424e9c5946944feb4f2d596687eb8213f2ecad75478e5ffdd",
            f"leolee99/InjecGuard NotInject; {_README}",
        ),
        SharedFile(
            "notinject_two",
            "injection/notinject/NotInject_two.json",
            "eval",
            "6043d94e75b48d8e7682d25dc79eaf45359e1e561ce520e3b8fd5625a91060c6",
            f"leolee99/InjecGuard NotInject; {_README}",
        ),
        SharedFile(
            "notinject_three",
            "injection/notinject/NotInject_three.json",
            "eval",
            "ef01eff0d761d2e34571b3fdbcec08c30cd93efe8d0e1a2eb5c2baeb1873b070",
            f"leolee99/InjecGuard NotInject; {_README}",
        ),
        SharedFile(
            "wildguard_benign",
            "injection/notinject/wildguard.json",
            "eval",
            "d884fc834a5a8081a423c49effb7aeb7977e991c1e3e7fb58e0285630d550bad",
            f"WildGuardTest benign prompts via InjecGuard; {_README}",
        ),
        SharedFile(
            "spikee_injected",
            "injection/spikee/injected_documents.jsonl",
            "eval",
            "864642aadf495f2eff624ff5d594e164d20ca78ebad3e350ca4f8c873e6c91c8",
            f"WithSecureLabs/spikee v0.1 (every row an injection; 'success' is not a label); "
            f"{_README}",
        ),
        SharedFile(
            "spikee_benign",
            "injection/spikee/benign_trigger_emails.jsonl",
            "eval",
            "a45bf8ec2316c0ef34fcad51c54adc802532289132a4886134842e3bdc49892a",
            f"WithSecureLabs/spikee v0.1 (every row benign); {_README}",
        ),
    )
}


def manifest_record(name: str) -> dict[str, Any]:
    """``{name, path, sha256, role}`` of a manifest-backed file (any role may be evaluated)."""
    from workbench.guardrails.ml import data

    return dict(data.file_record(name, "eval"))


def file_path(name: str) -> Path:
    """Path of a manifest-backed or extra shared file by name."""
    from workbench.guardrails.ml import data

    if name in SHARED_FILES:
        return SHARED_FILES[name].resolve()
    return data.ref(name, "eval").resolve()


def record(name: str) -> dict[str, Any]:
    """The provenance record of a file by name (manifest-backed or extra shared)."""
    if name in SHARED_FILES:
        return SHARED_FILES[name].record()
    return manifest_record(name)


__all__ = ["SHARED_FILES", "SharedFile", "file_path", "manifest_record", "record"]
