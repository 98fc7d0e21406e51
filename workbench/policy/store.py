"""The policy store: immutable, numbered versions; which one is live; an audit trail.

Layout under ``$WORKBENCH_HOME/policies/``::

    versions/<policy_id>/v<N>.yaml   the version's canonical YAML (never rewritten)
    versions/<policy_id>/v<N>.json   its metadata: version_id ("<policy_id>@v<N>"),
                                     policy_id, number, hash, author, created_at (UTC ISO),
                                     message, source (absolute path of the published file)
    live.json                        {policy_id: version_id} of the live versions
    audit.jsonl                      one JSON event per line: publish / rollback / unpublish
    .lock                            taken by every writer (see :mod:`workbench.policy._fs`)

A policy's reach (workspaces, models) comes from its own ``applies_to``; the gateway picks
one live policy per request with :func:`workbench.policy.resolve.resolve`, and polls
:meth:`PolicyStore.live_token` (cheap) to know when to reload :meth:`PolicyStore.live`.

Rollback without ``to`` undoes the last change of the policy's live version: the audit
trail is replayed as a stack (publish, ``rollback --to`` and unpublish push; an undo pops),
so repeated rollbacks walk back through what was live (v3 -> v2 -> v1), and a rollback after
an unpublish restores the version that was live.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ConfigError, NotFoundError
from workbench.home import home
from workbench.policy._fs import append_line, atomic_write_text, file_lock
from workbench.policy.loader import load_policy, parse_policy, validate_policy
from workbench.policy.model import Policy, policy_hash
from workbench.policy.records import (
    AuditEvent,
    Version,
    check_policy_id,
    default_author,
    parse_version_id,
    utc_now,
)
from workbench.policy.resolve import resolve

if TYPE_CHECKING:  # the check catalogue (and guardrails-ai) loads only when used
    from workbench.guardrails import CheckRegistry


__all__ = ["PolicyStore"]

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^v(?P<number>[1-9][0-9]*)\.(yaml|json)$")


class PolicyStore:
    """Versioned, audited policy publishing under ``root`` (default
    ``$WORKBENCH_HOME/policies``). Safe to use from several processes at once.

    ``registry`` is the check catalogue that publishes and rollbacks validate against
    (default: the global one).
    """

    def __init__(
        self, root: str | Path | None = None, registry: CheckRegistry | None = None
    ) -> None:
        self.root = Path(root) if root is not None else home() / "policies"
        self.registry = registry
        self._cache: dict[str, Version] = {}

    # -- paths -------------------------------------------------------------------------
    @property
    def live_path(self) -> Path:
        """``live.json``."""
        return self.root / "live.json"

    @property
    def audit_path(self) -> Path:
        """``audit.jsonl``."""
        return self.root / "audit.jsonl"

    def _dir(self, policy_id: str) -> Path:
        return self.root / "versions" / check_policy_id(policy_id)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with file_lock(self.root / ".lock"):
            yield

    # -- reading -----------------------------------------------------------------------
    def get(self, version_id: str) -> Version:
        """The version ``<policy_id>@v<N>``. NotFoundError if there is none."""
        cached = self._cache.get(version_id)
        if cached is not None:
            return cached
        policy_id, number = parse_version_id(version_id)
        meta_path = self._dir(policy_id) / f"v{number}.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"no policy version {version_id!r}") from None
        version = Version.from_dict(meta, path=meta_path.with_suffix(".yaml"))
        self._cache[version_id] = version
        return version

    def versions(self, policy_id: str | None = None) -> list[Version]:
        """Every stored version (of ``policy_id``, or all), by policy id then number."""
        base = self.root / "versions"
        if policy_id is not None:
            ids = [policy_id]
        else:
            ids = sorted(p.name for p in base.glob("*") if p.is_dir() and _is_id(p.name))
        out: list[Version] = []
        for pid in ids:
            for number in sorted(self._numbers(pid)):
                try:
                    out.append(self.get(f"{pid}@v{number}"))
                except NotFoundError:  # a YAML without its metadata: an interrupted publish
                    continue
        return out

    def live_map(self) -> dict[str, str]:
        """``{policy_id: version_id}`` as in ``live.json`` (empty when nothing is live)."""
        try:
            raw = json.loads(self.live_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        if not isinstance(raw, dict):
            raise ConfigError("live.json must be a mapping", path=str(self.live_path))
        return {str(k): str(v) for k, v in raw.items()}

    def live(self) -> list[Version]:
        """The live versions, by policy id, with their policies parsed."""
        out = []
        for _, version_id in sorted(self.live_map().items()):
            version = self.get(version_id)
            version.policy  # noqa: B018 - parse (and hash-check) now, not in the request path
            out.append(version)
        return out

    def live_version(self, policy_id: str) -> Version | None:
        """The live version of ``policy_id``, or None."""
        version_id = self.live_map().get(policy_id)
        return self.get(version_id) if version_id else None

    def live_token(self) -> str:
        """A short token that changes whenever ``live.json`` changes (cheap: one small read)."""
        try:
            data = self.live_path.read_bytes()
        except FileNotFoundError:
            return "none"
        return hashlib.sha256(data).hexdigest()[:16]

    def resolve(self, workspace: str, model: str) -> Version | None:
        """The live version governing ``workspace``/``model`` (see :func:`resolve`)."""
        return resolve(self.live(), workspace, model)

    def audit(self, policy_id: str | None = None) -> list[AuditEvent]:
        """The audit trail, oldest first (of ``policy_id``, or all)."""
        try:
            lines = self.audit_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        events = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = AuditEvent.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: skipping an unreadable audit record", self.audit_path, n)
                continue
            if policy_id is None or event.policy_id == policy_id:
                events.append(event)
        return events

    # -- writing -----------------------------------------------------------------------
    def publish(
        self,
        source: str | Path | Policy,
        message: str,
        author: str | None = None,
        *,
        known_targets: Collection[str] | None = None,
    ) -> Version:
        """Validate ``source`` (a file or a Policy), store it as a new version, make it live.

        ``known_targets``: the gateway's model names; routing targets must be among them
        (None skips that check).

        Publishing content identical to the live version writes nothing and returns that
        version with ``already_live=True``.
        """
        if not message or not message.strip():
            raise ValueError("a publish message is required (what changed and why)")
        if isinstance(source, Policy):
            policy = validate_policy(source, self.registry, known_targets=known_targets)
            origin = None
        else:
            policy = load_policy(source, self.registry, known_targets=known_targets)
            origin = str(Path(source).resolve())
        digest = policy_hash(policy)
        who = author or default_author()
        with self._lock():
            live = self.live_map()
            current = live.get(policy.id)
            if current is not None:
                current_version = self.get(current)
                if current_version.hash == digest:
                    return dataclasses.replace(current_version, already_live=True)
            version = self._write_version(policy, digest, who, message, origin)
            live[policy.id] = version.version_id
            self._write_live(live)
            self._append(
                AuditEvent(
                    "publish",
                    policy.id,
                    version.created_at,
                    who,
                    current,
                    version.version_id,
                    digest,
                    message,
                )
            )
        return version

    def rollback(
        self,
        policy_id: str,
        to: str | None = None,
        *,
        author: str | None = None,
        message: str | None = None,
    ) -> Version:
        """Make an earlier version live again (no new version; a new audit event).

        Without ``to``: undo the policy's last live change (see the module doc). ``to`` is
        a version id (``default@v2``) or, for this policy, ``v2`` / ``2``. The target must
        still validate against the current check catalogue. Returns the now-live version.
        """
        who = author or default_author()
        registry = self._registry()
        registry.names()  # load the catalogue before taking the lock
        with self._lock():
            live = self.live_map()
            current = live.get(policy_id)
            if to is None:
                target = self._undo_target(policy_id, current)
            else:
                target = self._version_ref(to, policy_id)
                if target == current:
                    raise ValueError(f"{target} is already live")
            version = self.get(target)
            self._revalidate(version, registry)
            live[policy_id] = target
            self._write_live(live)
            self._append(
                AuditEvent(
                    "rollback",
                    policy_id,
                    utc_now(),
                    who,
                    current,
                    target,
                    version.hash,
                    message or "",
                    undo=to is None,
                )
            )
        return version

    def unpublish(
        self, policy_id: str, *, author: str | None = None, message: str | None = None
    ) -> Version:
        """Take ``policy_id`` out of service (its versions stay). Returns what was live."""
        who = author or default_author()
        with self._lock():
            live = self.live_map()
            current = live.pop(policy_id, None)
            if current is None:
                raise NotFoundError(f"policy {policy_id!r} is not live")
            version = self.get(current)
            self._write_live(live)
            self._append(
                AuditEvent(
                    "unpublish",
                    policy_id,
                    utc_now(),
                    who,
                    current,
                    None,
                    version.hash,
                    message or "",
                )
            )
        return version

    # -- internals ---------------------------------------------------------------------
    def _registry(self) -> CheckRegistry:
        if self.registry is not None:
            return self.registry
        from workbench.guardrails import registry

        return registry

    def _numbers(self, policy_id: str) -> set[int]:
        folder = self._dir(policy_id)
        if not folder.is_dir():
            return set()
        return {int(m["number"]) for p in folder.iterdir() if (m := _FILE_RE.match(p.name))}

    def _write_version(
        self, policy: Policy, digest: str, author: str, message: str, source: str | None
    ) -> Version:
        number = max(self._numbers(policy.id), default=0) + 1
        version_id = f"{policy.id}@v{number}"
        yaml_path = self._dir(policy.id) / f"v{number}.yaml"
        version = Version(
            version_id=version_id,
            policy_id=policy.id,
            number=number,
            hash=digest,
            author=author,
            created_at=utc_now(),
            message=message,
            source=source,
            path=yaml_path,
            _policy=policy,
        )
        header = (
            f"# {version_id}: published by {author} at {version.to_dict()['created_at']}\n"
            f"# sha256 {digest}\n# An immutable stored version: do not edit.\n"
        )
        atomic_write_text(yaml_path, header + policy.canonical_yaml(), exclusive=True)
        atomic_write_text(
            yaml_path.with_suffix(".json"),
            json.dumps(version.to_dict(), indent=2) + "\n",
            exclusive=True,
        )
        self._cache[version_id] = version
        return version

    def _write_live(self, live: dict[str, str]) -> None:
        atomic_write_text(self.live_path, json.dumps(dict(sorted(live.items())), indent=2) + "\n")

    def _append(self, event: AuditEvent) -> None:
        append_line(self.audit_path, json.dumps(event.to_dict(), ensure_ascii=False))

    def _version_ref(self, ref: str, policy_id: str) -> str:
        """``ref`` as a full version id of ``policy_id`` that exists."""
        if "@" not in ref:
            ref = f"{policy_id}@v{ref.removeprefix('v')}"
        pid, _ = parse_version_id(ref)
        if pid != policy_id:
            raise ValueError(f"{ref} is a version of {pid!r}, not of {policy_id!r}")
        self.get(ref)
        return ref

    def _undo_target(self, policy_id: str, current: str | None) -> str:
        stack = _live_history(self.audit(policy_id))
        candidates = stack[:-1] if stack and stack[-1] == current else stack
        for version_id in reversed(candidates):
            if version_id is not None and version_id != current:
                return version_id
        if current is not None:  # no usable history: fall back on version numbers
            _, number = parse_version_id(current)
            earlier = [n for n in self._numbers(policy_id) if n < number]
            if earlier:
                return f"{policy_id}@v{max(earlier)}"
        if not self._numbers(policy_id):
            raise NotFoundError(f"policy {policy_id!r} has no published versions")
        raise ValueError(
            f"no earlier live version of {policy_id!r} to roll back to "
            "(name one with --to <policy_id>@v<N>)"
        )

    def _revalidate(self, version: Version, registry: CheckRegistry) -> None:
        try:
            parse_policy(
                version.policy.model_dump(mode="json"), path=str(version.path), registry=registry
            )
        except ConfigError as exc:
            raise ConfigError(
                f"cannot make {version.version_id} live: it does not validate against the "
                f"current check catalogue: {exc}"
            ) from None


def _is_id(name: str) -> bool:
    try:
        check_policy_id(name)
    except ValueError:
        return False
    return True


def _live_history(events: list[AuditEvent]) -> list[str | None]:
    """Replay one policy's audit events into the stack of what was live (None: nothing)."""
    stack: list[str | None] = []
    for event in events:
        if event.event == "rollback" and event.undo:
            while stack and stack[-1] != event.to_version:
                stack.pop()
            if not stack:
                stack.append(event.to_version)
        else:
            stack.append(event.to_version)
    return stack
