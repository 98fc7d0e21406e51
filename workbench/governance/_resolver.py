"""The hot path: which provider secret a request to a target uses, from memory.

:func:`secret_for` answers from an in-process cache: ``{(workspace, target): credential
id}`` bindings and ``{credential id: (generation, decrypted secret)}``. The store's
generation is read at most once every ``RECHECK_S`` seconds (one one-row SQLite read,
never per request); when it moved, bindings and per-credential generations are reloaded
and a secret whose generation changed is decrypted again on its next use. So a request
costs a few dict lookups, and a rotation reaches every gateway process within
``RECHECK_S`` (plus that one read), without a restart.

The workspace of the request in flight comes from :data:`workspace_scope`, a context
variable the pipeline's call stage sets around each attempt (the provider client has
no other view of the request's workspace).

The resolver lives in the gateway process and keeps decrypted secrets in its memory
only; its ``repr`` and its errors never show them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.governance._vault import Vault

RECHECK_S = 0.5

#: The workspace of the request being sent upstream (set by the pipeline's call stage).
workspace_scope: ContextVar[str | None] = ContextVar("workbench_credential_workspace", default=None)


class CredentialUnavailableError(WorkbenchError):
    """A target or binding names a credential that is not in the store (500)."""

    default_code = "credential_unavailable"


class CredentialResolver:
    """Secrets by (workspace, target) for one ``$WORKBENCH_HOME``; thread-safe."""

    def __init__(
        self, home: Path, *, recheck_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        from workbench.governance._vault import store_path

        self.home = home
        self.path = store_path(home)
        self.recheck_s = RECHECK_S if recheck_s is None else recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._vault: Vault | None = None  # opened once the file exists
        self._next_check = 0.0
        self._generation = -1
        self._bindings: dict[tuple[str, str], str] = {}
        self._gens: dict[str, int] = {}
        self._secrets: dict[str, tuple[int, str]] = {}

    def __repr__(self) -> str:
        return f"CredentialResolver({str(self.path)!r}, cached={len(self._secrets)})"

    def close(self) -> None:
        """Close the store and forget every secret."""
        with self._lock:
            if self._vault is not None:
                self._vault.close()
            self._vault = None
            self._secrets.clear()
            self._generation = -1
            self._next_check = 0.0

    def secret_for(self, target: str, credential: str | None, workspace: str | None) -> str | None:
        """The secret for ``workspace``'s request to ``target``: its binding, else the
        target's ``credential``; None when neither applies."""
        if self._clock() >= self._next_check:
            self._refresh()
        cred_id = self._bindings.get((workspace, target)) if workspace is not None else None
        cred_id = cred_id or credential
        if cred_id is None:
            return None
        hit = self._secrets.get(cred_id)
        if hit is not None and hit[0] == self._gens.get(cred_id):
            return hit[1]
        return self._load(cred_id, target)

    def _refresh(self) -> None:
        with self._lock:
            if self._clock() < self._next_check:
                return
            self._next_check = self._clock() + self.recheck_s
            vault = self._open()
            if vault is None:
                return
            gen = vault.db.generation()
            if gen == self._generation:
                return
            self._bindings = {(b.workspace, b.target): b.credential_id for b in vault.db.bindings()}
            self._gens = vault.db.generations()
            self._secrets = {k: v for k, v in self._secrets.items() if self._gens.get(k) == v[0]}
            self._generation = gen

    def _open(self) -> Vault | None:
        if self._vault is None and self.path.exists():
            from workbench.governance._vault import Vault

            self._vault = Vault(self.home)
        return self._vault

    def _load(self, cred_id: str, target: str) -> str:
        with self._lock:
            vault = self._open()
            row = vault.db.row(cred_id) if vault is not None else None
            if vault is None or row is None:
                raise CredentialUnavailableError(
                    f"upstream {target}: credential {cred_id} is not in the credential store"
                )
            from workbench.governance._crypto import MasterKeyError

            try:
                secret = vault.decrypt(row)
            except MasterKeyError:
                vault.reload_keys()  # a rekey may have replaced the key file: read it again
                secret = vault.decrypt(row)
            self._gens[cred_id] = row.generation
            self._secrets[cred_id] = (row.generation, secret)
            return secret


_resolvers: dict[Path, CredentialResolver] = {}
_by_env: dict[str | None, CredentialResolver] = {}
_resolvers_lock = threading.Lock()


def resolver(home: Path | None = None) -> CredentialResolver:
    """The process's resolver for ``home`` (default ``$WORKBENCH_HOME``, looked up by the
    variable's value so the hot path does no path resolution)."""
    env = os.environ.get("WORKBENCH_HOME") if home is None else None
    if home is None and (hit := _by_env.get(env)) is not None:
        return hit
    from workbench.home import home as workbench_home

    path = home or workbench_home()
    with _resolvers_lock:
        res = _resolvers.get(path)
        if res is None:
            res = _resolvers[path] = CredentialResolver(path)
        if home is None:
            _by_env[env] = res
        return res


def secret_for(target: str, credential: str | None) -> str | None:
    """The secret the request in flight uses for ``target`` (see :class:`CredentialResolver`);
    None: the target has no credential and the request's workspace no binding."""
    res = _by_env.get(os.environ.get("WORKBENCH_HOME")) or resolver()
    return res.secret_for(target, credential, workspace_scope.get())
