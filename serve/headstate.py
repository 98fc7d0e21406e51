"""One source of truth for keys and policies on a cluster: the head node's WORKBENCH_HOME.

The API keys (and the members and workspaces beside them), the data policies, the
credential store and the published guardrail policies live in SQLite files and a policy
tree under the head's ``$WORKBENCH_HOME``, on the head's local disk (SQLite's WAL does
not work on network file systems). ``workbench keys create`` and ``workbench policy
publish``, run on the head, write there, as they do on one machine.

- :class:`HeadState` is a named actor (``workbench-headstate``, namespace ``workbench``)
  pinned to the head with the head's custom resource (``WORKBENCH_HEAD_RESOURCE``). It
  serves a cheap change token and consistent snapshots of those files (SQLite's online
  backup, so a snapshot never holds half a transaction).
- An ingress replica on the head uses the head's home directly. An ingress replica on
  any other node keeps a read-only *mirror* home on its own disk: :class:`Mirror` polls
  the token every ``poll_s`` (0.25 s, from a thread of the replica) and, when it moved,
  copies the snapshot in: the SQLite files through the backup API into the open
  databases (the stores' own connections see an ordinary commit), new policy versions,
  then ``live.json`` last. The stores' usual change detection does the rest: the key
  store's generation check (1 s) and the policy watcher's ``live.json`` token (0.25 s).
  A key created or a policy published on the head is live on every node within about
  a second.
- Admin API writes (``POST/PATCH/PUT/DELETE /admin/...``) reaching a mirror replica are
  refused with 503 ``not_on_head`` (never applied to a copy that the next snapshot would
  overwrite); send them to the head node's address, or use the CLI on the head.

Without ``WORKBENCH_HEAD_RESOURCE`` (``workbench up``, one machine) nothing here runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from workbench.config.deploy import HEAD_RESOURCE_ENV, HEAD_SLIVER

__all__ = [
    "ACTOR_NAME",
    "HeadState",
    "Mirror",
    "RefuseAdminWrites",
    "apply_snapshot",
    "head_actor_options",
    "known_versions",
    "local_home",
    "state_token",
    "take_snapshot",
]

log = logging.getLogger("ray.serve")

ACTOR_NAME = "workbench-headstate"
NAMESPACE = "workbench"
#: The SQLite files mirrored (those that exist on the head).
DATABASES = ("keys.sqlite", "governance.sqlite", "credentials.sqlite")
#: Plain files mirrored as they are.
FILES = ("master.key",)
POLICIES = "policies"


def head_actor_options() -> dict[str, Any]:
    """Ray options that pin an authority actor to the head (empty off a cluster)."""
    resource = os.environ.get(HEAD_RESOURCE_ENV)
    return {"resources": {resource: HEAD_SLIVER}} if resource else {}


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def state_token(home: Path) -> str:
    """A token that changes whenever a mirrored file or the policy tree under ``home``
    changes (file sizes and modification times: cheap)."""
    parts: list[Any] = []
    for name in (*DATABASES, *FILES):
        parts += [_stat(home / name), _stat(home / f"{name}-wal")]
    pol = home / POLICIES
    parts.append(_stat(pol / "live.json"))
    parts.append(sorted(str(p.relative_to(pol)) for p in pol.glob("versions/*/v*")))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def take_snapshot(home: Path, known: list[str]) -> dict[str, Any]:
    """The token, each database's image (SQLite's online backup: never half a
    transaction), each plain file, the policy versions not in ``known`` (paths relative to
    the policy root; versions are immutable) and ``live.json``."""
    token = state_token(home)
    dbs: dict[str, bytes] = {}
    for name in DATABASES:
        path = home / name
        if path.exists():
            src, mem = sqlite3.connect(path), sqlite3.connect(":memory:")
            try:
                src.backup(mem)
                dbs[name] = mem.serialize()
            finally:
                src.close()
                mem.close()
    files = {n: (home / n).read_bytes() for n in FILES if (home / n).exists()}
    pol = home / POLICIES
    have = set(known)
    versions = {
        str(p.relative_to(pol)): p.read_bytes()
        for p in sorted(pol.glob("versions/*/v*"))
        if str(p.relative_to(pol)) not in have
    }
    live = (pol / "live.json").read_bytes() if (pol / "live.json").exists() else None
    return {"token": token, "dbs": dbs, "files": files, "versions": versions, "live": live}


def apply_snapshot(root: Path, snap: dict[str, Any]) -> None:
    """Copy a snapshot into the mirror ``root``: databases through the backup API into
    the (possibly open) mirror databases, files atomically, ``live.json`` last."""
    root.mkdir(parents=True, exist_ok=True)
    for name, image in snap["dbs"].items():
        mem, dst = sqlite3.connect(":memory:"), sqlite3.connect(root / name, timeout=30)
        try:
            # The head's files are in WAL mode; an image marked so (header bytes 18-19)
            # cannot be opened in memory: mark it as a rollback-journal image.
            mem.deserialize(image[:18] + b"\x01\x01" + image[20:])
            mem.backup(dst)
        finally:
            mem.close()
            dst.close()
    for name, data in snap["files"].items():
        _write_atomic(root / name, data)
    pol = root / POLICIES
    for rel, data in snap["versions"].items():
        _write_atomic(pol / rel, data, 0o644)
    if snap["live"] is not None:
        _write_atomic(pol / "live.json", snap["live"], 0o644)


def known_versions(root: Path) -> list[str]:
    """The policy versions a mirror already holds (relative paths)."""
    pol = root / POLICIES
    return [str(p.relative_to(pol)) for p in pol.glob("versions/*/v*")]


@ray.remote(num_cpus=0, max_restarts=-1)
class HeadState:
    """Reads the head's home; answers change tokens and snapshots."""

    def __init__(self, home: str) -> None:
        self.home = Path(home)

    def node_id(self) -> str:
        """The node this actor runs on (the head)."""
        return str(ray.get_runtime_context().get_node_id())

    def token(self) -> str:
        """See :func:`state_token`."""
        return state_token(self.home)

    def snapshot(self, known: list[str]) -> dict[str, Any]:
        """See :func:`take_snapshot`."""
        return take_snapshot(self.home, known)


def _actor(head_home: str) -> Any:
    options = HeadState.options(  # type: ignore[attr-defined]
        name=ACTOR_NAME, namespace=NAMESPACE, get_if_exists=True, **head_actor_options()
    )
    return options.remote(head_home)


def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".mirror-tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Mirror:
    """A node-local copy of the head's state, kept fresh by polling :class:`HeadState`."""

    def __init__(self, actor: Any, root: Path, poll_s: float = 0.25) -> None:
        self.actor, self.root, self.poll_s = actor, root, poll_s
        self.token: str | None = None
        self.syncs = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: called after each applied snapshot (the gateway clears its key-verify cache, so a
        #: key tried on this node before it was mirrored is not refused from the cache)
        self.listeners: list[Callable[[], None]] = []

    def apply(self, snap: dict[str, Any]) -> None:
        """Copy a snapshot in (:func:`apply_snapshot`) and remember its token."""
        apply_snapshot(self.root, snap)
        self.token = snap["token"]
        self.syncs += 1
        for listener in self.listeners:
            listener()

    def sync_once(self) -> bool:
        """Fetch and apply a snapshot when the head's token moved; True when it did."""
        token = ray.get(self.actor.token.remote(), timeout=30)
        if token == self.token:
            return False
        self.apply(ray.get(self.actor.snapshot.remote(known_versions(self.root)), timeout=60))
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.sync_once()
            except Exception:
                self.errors += 1
                log.exception("head state sync failed; keeping the last copy")
                self._stop.wait(1.0)

    def start(self) -> None:
        """Start the poller thread (a daemon: it dies with the replica)."""
        self._thread = threading.Thread(target=self._loop, name="headstate-mirror", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()

    def info(self) -> dict[str, Any]:
        """For /health."""
        return {"mirror": str(self.root), "token": self.token, "syncs": self.syncs,
                "errors": self.errors}  # fmt: skip


def local_home(head_home: str) -> tuple[str, Mirror | None]:
    """The home an ingress replica should use, and its mirror (None: the head's own home).

    Off a cluster (no ``WORKBENCH_HEAD_RESOURCE``) and on the head node: ``head_home``.
    Elsewhere: a mirror directory on this node's disk, synced once before returning."""
    if not os.environ.get(HEAD_RESOURCE_ENV):
        return head_home, None
    actor = _actor(head_home)
    here = str(ray.get_runtime_context().get_node_id())
    if ray.get(actor.node_id.remote()) == here:
        return head_home, None
    root = Path(tempfile.gettempdir()) / f"wb-mirror-{here[:16]}"
    mirror = Mirror(actor, root)
    mirror.sync_once()
    mirror.start()
    log.info("ingress on a non-head node: state mirrored from the head into %s", root)
    return str(root), mirror


class RefuseAdminWrites:
    """ASGI middleware of mirror replicas: admin API writes get 503 ``not_on_head``
    (module docstring); everything else passes."""

    BODY = json.dumps({"error": {
        "message": "admin changes are made on the head node: send them to the head node's "
                   "address or use the workbench CLI there",
        "type": "service_unavailable", "param": None, "code": "not_on_head",
    }}).encode()  # fmt: skip

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope.get("path", "").startswith("/admin/")
            and scope.get("method") not in ("GET", "HEAD", "OPTIONS")
        ):
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": self.BODY})
            return
        await self.app(scope, receive, send)
