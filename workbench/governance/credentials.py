"""Provider credentials ("virtual keys"): provider API keys stored once, encrypted at rest.

A credential is a provider secret (an OpenAI ``sk-...`` key, an Anthropic key, ...) kept in
``$WORKBENCH_HOME/credentials.sqlite`` (mode 0600) encrypted with Fernet under the master
key (:mod:`._crypto`: ``WORKBENCH_MASTER_KEY``, ``WORKBENCH_MASTER_KEY_FILE`` or
``$WORKBENCH_HOME/master.key``; in production supply it from a secret manager). It is
referenced by its id (``cred-...``):

- by a model target: ``credential: cred-...`` in the gateway config (instead of
  ``api_key_env`` / ``api_key_file``);
- by a workspace *binding*: ``workspace X -> target openai-main -> cred-abc`` makes X's
  requests to that shared target use X's own provider key (overriding the target's key).

Gateways read the secret at call time from an in-memory cache that follows the store's
generation counter (:mod:`._resolver`), so :func:`rotate` reaches running gateways within
about a second, without a restart.

Every function takes the acting :class:`~workbench.governance.permissions.Principal` and
requires ``credentials:manage`` (admins only: credentials are organisation-wide). The
CLI (``workbench credentials``) and the admin REST API (``/admin/v1/credentials``) call
these same functions. No function returns a secret: records carry a *fingerprint*, the
secret's last four characters (as provider consoles show them), only for secrets of at
least 20 characters, so that it never reveals a meaningful part of a short one. Mutations
are written to the audit log with the record (fingerprint included, secret never).

Deleting a credential is refused while a workspace binding or a target of the given
gateway config references it (unbind / edit the config first): a running gateway would
otherwise fail every request of that target. A gateway started from a config the deleting
process does not know answers such requests with a 500 ``credential_unavailable`` that
names the credential id.
"""

from __future__ import annotations

import secrets as _secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidRequestError, NotFoundError
from workbench.governance._credstore import BindingRow, CredRow, insert_row
from workbench.governance._vault import Vault, now_iso
from workbench.governance.permissions import MANAGE_CREDENTIALS, Principal, require

if TYPE_CHECKING:
    from workbench.config.gateway import GatewayConfig

MAX_SECRET_CHARS = 4096
FINGERPRINT_MIN_CHARS = 20


@dataclass(frozen=True)
class Credential:
    """A stored credential's record (never its secret)."""

    id: str
    name: str
    provider: str
    fingerprint: str | None  # "...abcd": the last 4 characters of a long secret
    created_at: str
    rotated_at: str | None
    generation: int  # 1 at creation, +1 per rotation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class Binding:
    """Workspace ``workspace`` calls target ``target`` with credential ``credential_id``."""

    workspace: str
    target: str
    credential_id: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def _record(row: CredRow) -> Credential:
    return Credential(
        row.id, row.name, row.provider, row.fingerprint, row.created_at, row.rotated_at,
        row.generation,
    )  # fmt: skip


def _binding(row: BindingRow) -> Binding:
    return Binding(row.workspace, row.target, row.credential_id, row.created_at)


def clean_secret(secret: str) -> str:
    """``secret`` without surrounding whitespace; refused when empty, too long, or holding
    characters an HTTP header cannot carry (the error never repeats it)."""
    s = secret.strip()
    if not s:
        raise InvalidRequestError("the secret is empty", param="secret", code="invalid_secret")
    if len(s) > MAX_SECRET_CHARS:
        raise InvalidRequestError(
            f"the secret is over {MAX_SECRET_CHARS} characters", param="secret",
            code="invalid_secret",
        )  # fmt: skip
    if not all(33 <= ord(c) <= 126 for c in s):
        raise InvalidRequestError(
            "the secret may hold only printable ASCII without spaces", param="secret",
            code="invalid_secret",
        )  # fmt: skip
    return s


def fingerprint(secret: str) -> str | None:
    """``"...abcd"`` (the last 4 characters) for a secret of 20+ characters, else None."""
    return f"...{secret[-4:]}" if len(secret) >= FINGERPRINT_MIN_CHARS else None


def _audit(
    principal: Principal, action: str, target: str, *, source: str | None,
    workspace: str | None = None, before: Any = None, after: Any = None,
) -> None:  # fmt: skip
    from workbench.governance import audit

    audit.record(
        action, actor=principal.actor, target=target, workspace=workspace,
        before=before, after=after, source=source,
    )  # fmt: skip


def _row(vault: Vault, cred_id: str) -> CredRow:
    row = vault.db.row(cred_id)
    if row is None:
        raise NotFoundError(f"no credential {cred_id!r}", code="credential_not_found")
    return row


def add(
    principal: Principal, *, name: str, provider: str, secret: str,
    source: str | None = None, home: Path | None = None,
) -> Credential:  # fmt: skip
    """Store a new credential and return its record (never the secret)."""
    require(principal, MANAGE_CREDENTIALS)
    if not name.strip() or not provider.strip():
        raise InvalidRequestError("name and provider must not be empty", code="invalid_field")
    value = clean_secret(secret)
    cred_id = "cred-" + _secrets.token_hex(8)
    with Vault(home) as vault:
        row = CredRow(
            cred_id, name.strip(), provider.strip(), vault.encrypt(cred_id, value),
            fingerprint(value), now_iso(), None, 1,
        )  # fmt: skip
        with vault.db.write() as conn:
            vault.ensure_canary(conn)
            insert_row(conn, row)
    rec = _record(row)
    _audit(principal, "credential.add", cred_id, source=source, after=rec.to_dict())
    return rec


def list_credentials(
    principal: Principal, provider: str | None = None, *, home: Path | None = None
) -> list[Credential]:
    """Every credential's record (of ``provider``), oldest first."""
    require(principal, MANAGE_CREDENTIALS)
    with Vault(home) as vault:
        return [_record(r) for r in vault.db.rows(provider)]


def get(principal: Principal, cred_id: str, *, home: Path | None = None) -> Credential:
    """One credential's record, or NotFoundError (404)."""
    require(principal, MANAGE_CREDENTIALS)
    with Vault(home) as vault:
        return _record(_row(vault, cred_id))


def rotate(
    principal: Principal, cred_id: str, secret: str, *,
    source: str | None = None, home: Path | None = None,
) -> Credential:  # fmt: skip
    """Replace the secret and bump the credential's generation; running gateways use the
    new secret within about a second."""
    require(principal, MANAGE_CREDENTIALS)
    value = clean_secret(secret)
    with Vault(home) as vault:
        before = _record(_row(vault, cred_id))
        token = vault.encrypt(cred_id, value)
        with vault.db.write() as conn:
            vault.ensure_canary(conn)
            n = conn.execute(
                "UPDATE credentials SET token = ?, fingerprint = ?, rotated_at = ?, "
                "generation = generation + 1 WHERE id = ?",
                (token, fingerprint(value), now_iso(), cred_id),
            ).rowcount
            if n != 1:
                raise NotFoundError(f"no credential {cred_id!r}", code="credential_not_found")
        after = _record(_row(vault, cred_id))
    _audit(
        principal, "credential.rotate", cred_id, source=source,
        before=before.to_dict(), after=after.to_dict(),
    )  # fmt: skip
    return after


def config_references(config: GatewayConfig | None, cred_id: str) -> list[str]:
    """Names of the targets of ``config`` whose ``credential`` is ``cred_id``."""
    if config is None:
        return []
    return [m.name for m in config.models if getattr(m, "credential", None) == cred_id]


def delete(
    principal: Principal, cred_id: str, *, config: GatewayConfig | None = None,
    source: str | None = None, home: Path | None = None,
) -> Credential:  # fmt: skip
    """Delete a credential; refused (400 ``credential_in_use``) while a binding or a target of
    ``config`` references it. Returns the deleted record."""
    require(principal, MANAGE_CREDENTIALS)
    with Vault(home) as vault:
        before = _record(_row(vault, cred_id))
        users = [f"workspace {b.workspace!r} -> {b.target}" for b in vault.db.bindings(
            credential_id=cred_id)]  # fmt: skip
        users += [f"target {t}" for t in config_references(config, cred_id)]
        if users:
            raise InvalidRequestError(
                f"credential {cred_id} is in use by {', '.join(users)}: unbind it or change "
                "the config first",
                code="credential_in_use",
            )
        with vault.db.write() as conn:
            conn.execute("DELETE FROM credentials WHERE id = ?", (cred_id,))
    _audit(principal, "credential.delete", cred_id, source=source, before=before.to_dict())
    return before


def bind(
    principal: Principal, workspace: str, target: str, cred_id: str, *,
    source: str | None = None, home: Path | None = None,
) -> Binding:  # fmt: skip
    """Make ``workspace``'s requests to ``target`` use ``cred_id`` (replaces a binding)."""
    require(principal, MANAGE_CREDENTIALS, workspace)
    if not workspace.strip() or not target.strip():
        raise InvalidRequestError("workspace and target must not be empty", code="invalid_field")
    with Vault(home) as vault:
        _row(vault, cred_id)
        old = vault.db.bindings(workspace=workspace)
        before = next((_binding(b) for b in old if b.target == target), None)
        row = BindingRow(workspace, target, cred_id, now_iso())
        with vault.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO bindings (workspace, target, credential_id, created_at)"
                " VALUES (?, ?, ?, ?)",
                row,
            )
    binding = _binding(row)
    _audit(
        principal, "credential.bind", cred_id, source=source, workspace=workspace,
        before=before.to_dict() if before else None, after=binding.to_dict(),
    )  # fmt: skip
    return binding


def unbind(
    principal: Principal, workspace: str, target: str, *,
    source: str | None = None, home: Path | None = None,
) -> Binding:  # fmt: skip
    """Remove ``workspace``'s binding for ``target`` (404 when there is none)."""
    require(principal, MANAGE_CREDENTIALS, workspace)
    with Vault(home) as vault:
        found = [b for b in vault.db.bindings(workspace=workspace) if b.target == target]
        if not found:
            raise NotFoundError(
                f"workspace {workspace!r} has no credential bound for target {target!r}",
                code="binding_not_found",
            )
        with vault.db.write() as conn:
            conn.execute(
                "DELETE FROM bindings WHERE workspace = ? AND target = ?", (workspace, target)
            )
    binding = _binding(found[0])
    _audit(
        principal, "credential.unbind", binding.credential_id, source=source,
        workspace=workspace, before=binding.to_dict(),
    )  # fmt: skip
    return binding


def bindings(
    principal: Principal, workspace: str | None = None, *, home: Path | None = None
) -> list[Binding]:
    """Workspace bindings (of ``workspace``), ordered by workspace and target."""
    require(principal, MANAGE_CREDENTIALS, workspace)
    with Vault(home) as vault:
        return [_binding(b) for b in vault.db.bindings(workspace=workspace)]


def rekey(
    principal: Principal, *, new_key: bool = False, source: str | None = None,
    home: Path | None = None,
) -> int:  # fmt: skip
    """Re-encrypt every secret with the first configured master key; returns the count.

    ``new_key``: first generate a fresh master key and put it at the head of the key file
    (only when the key comes from a file), re-encrypt, then drop the old keys from the
    file. With ``WORKBENCH_MASTER_KEY="new,old"`` (an environment variable cannot be
    rewritten from here) run it without ``new_key``, then remove ``old`` from the variable.
    """
    from workbench.governance._rekey import rekey_vault

    require(principal, MANAGE_CREDENTIALS)
    with Vault(home) as vault:
        count, key_source = rekey_vault(vault, new_key=new_key)
    _audit(
        principal, "credential.rekey", "credentials", source=source,
        after={"reencrypted": count, "new_key": new_key, "key_source": key_source},
    )  # fmt: skip
    return count
