"""API keys: a SQLite-backed store with a revocation-aware, bounded verification path.

::

    from workbench.keys import KeyStore

    store = KeyStore()                       # $WORKBENCH_HOME/keys.sqlite
    record, key = store.create("team-a", "notebook")   # key shown once: wb-<id>-<secret>
    store.verify(key)                        # -> KeyRecord, or raises AuthenticationError
    await store.averify(key)                 # the same, off the event loop where it blocks
    store.update(record.key_id, allowed_models=["gpt-4o-mini"])   # role, grants, expiry
    store.revoke(record.key_id)

Governed management (permission checks + audit) is :mod:`workbench.governance`, which
the CLI and the admin API call.

A key may belong to a member (``store.create(..., member_id=...)``, schema 3; people and
memberships are managed by :mod:`workbench.governance.members`): verification then caps
its role and grants by the member's membership in the key's workspace, and refuses it
when the member is disabled or no longer in that workspace.

Modules: ``records`` (key format, :class:`KeyRecord`), ``hashing`` (PBKDF2 and the gate
that bounds it), ``db`` (SQLite), ``cache`` and ``throttle`` (what verification
remembers), ``verifier`` (the sync and async paths), ``_membership`` (the member cap),
``store`` (:class:`KeyStore`).
"""

from workbench.keys.records import (
    KEY_PREFIX,
    ROLES,
    KeyRecord,
    validate_models,
    validate_role,
    validate_workspace,
)
from workbench.keys.store import UNCHANGED, KeyStore
from workbench.keys.verifier import VerifyLimits

__all__ = [
    "KEY_PREFIX",
    "ROLES",
    "UNCHANGED",
    "KeyRecord",
    "KeyStore",
    "VerifyLimits",
    "validate_models",
    "validate_role",
    "validate_workspace",
]
