"""The role table, grants, ``require`` and the principals of keys and of the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workbench.errors import PermissionDeniedError
from workbench.governance import permissions as perm
from workbench.governance.permissions import (
    ALL_PERMISSIONS,
    CALL_MODELS,
    GRANTABLE,
    MANAGE_KEYS,
    READ_BODIES,
    READ_LOGS,
    WRITE_POLICIES,
    cli_principal,
    principal_for_key,
    require,
)
from workbench.keys import ROLES, KeyRecord

# (role, permission) -> allowed, the table of the module docstring written out
TABLE = {
    "admin": set(ALL_PERMISSIONS),
    "policy-author": {CALL_MODELS, READ_LOGS, WRITE_POLICIES},
    "analyst": {READ_LOGS},
    "app": {CALL_MODELS},
}


def _key(role: str, workspace: str = "ws-a", **kw: object) -> KeyRecord:
    return KeyRecord("k" * 12, workspace, None, datetime.now(UTC), role=role, **kw)  # type: ignore[arg-type]


def test_the_constants_are_the_contract() -> None:
    assert (perm.CALL_MODELS, perm.READ_LOGS, perm.READ_BODIES) == (
        "models:call", "logs:read", "logs:bodies",
    )  # fmt: skip
    assert (perm.WRITE_POLICIES, perm.MANAGE_KEYS, perm.MANAGE_WORKSPACES) == (
        "policies:write", "keys:manage", "workspaces:manage",
    )  # fmt: skip
    assert (perm.MANAGE_LIMITS, perm.MANAGE_CREDENTIALS, perm.READ_AUDIT, perm.MANAGE_DATA) == (
        "limits:manage", "credentials:manage", "audit:read", "data:manage",
    )  # fmt: skip
    assert perm.MANAGE_MEMBERS == "members:manage"
    assert len(set(ALL_PERMISSIONS)) == 11
    assert set(ROLES) == set(TABLE)  # the key store's roles are the table's


@pytest.mark.parametrize("role", sorted(TABLE))
@pytest.mark.parametrize("permission", ALL_PERMISSIONS)
def test_role_table(role: str, permission: str) -> None:
    p = principal_for_key(_key(role))
    allowed = permission in TABLE[role]
    assert p.can(permission) is allowed
    if allowed:
        require(p, permission)
    else:
        with pytest.raises(PermissionDeniedError) as info:
            require(p, permission)
        assert info.value.status == 403 and info.value.type == "permission_error"
        assert permission in info.value.message


def test_non_admins_are_held_to_their_workspace_admins_are_not() -> None:
    analyst = principal_for_key(_key("analyst"))
    assert analyst.workspaces == frozenset({"ws-a"}) and analyst.workspace == "ws-a"
    require(analyst, READ_LOGS, "ws-a")
    with pytest.raises(PermissionDeniedError) as info:
        require(analyst, READ_LOGS, "ws-b")
    assert info.value.code == "workspace_forbidden"
    admin = principal_for_key(_key("admin"))
    assert admin.workspaces is None
    require(admin, MANAGE_KEYS, "ws-b")


def test_bodies_only_with_an_explicit_grant() -> None:
    for role in ("analyst", "policy-author", "app"):
        assert not principal_for_key(_key(role)).can(READ_BODIES)
        granted = principal_for_key(_key(role, grants=(READ_BODIES,)))
        assert granted.can(READ_BODIES, "ws-a") and not granted.can(READ_BODIES, "ws-b")


def test_grants_come_only_from_the_allow_list() -> None:
    assert GRANTABLE == {READ_BODIES, READ_LOGS, CALL_MODELS}
    assert perm.validate_grants([READ_BODIES, READ_BODIES]) == (READ_BODIES,)
    with pytest.raises(ValueError, match="keys:manage"):
        perm.validate_grants([MANAGE_KEYS])
    # a record carrying a forbidden grant (hand-edited DB) still does not get it
    sneaky = principal_for_key(_key("app", grants=(MANAGE_KEYS, READ_LOGS)))
    assert not sneaky.can(MANAGE_KEYS) and sneaky.can(READ_LOGS)


def test_allowed_models() -> None:
    anything = principal_for_key(_key("app"))
    assert anything.models is None and anything.may_call("whatever")
    some = principal_for_key(_key("app", allowed_models=("echo",)))
    assert some.may_call("echo") and not some.may_call("local")
    assert not principal_for_key(_key("analyst")).may_call("echo")  # no models:call


def test_principal_identity_and_unknown_role() -> None:
    p = principal_for_key(_key("app"))
    assert p.actor == "key:" + "k" * 12 and p.key_id == "k" * 12 and p.role == "app"
    weird = principal_for_key(_key("root"))  # not a role: treated as app, never more
    assert weird.role == "app" and weird.permissions == frozenset({CALL_MODELS})


def test_cli_principal_is_an_admin_of_everything() -> None:
    me = cli_principal()
    assert me.actor.startswith("cli:") and len(me.actor) > 4
    assert me.role == "admin" and me.workspaces is None and me.key_id is None
    assert me.permissions == frozenset(ALL_PERMISSIONS)
    require(me, MANAGE_KEYS, "any-workspace")


def test_every_public_governance_name_resolves() -> None:
    import workbench.governance as governance

    for name in governance.__all__:
        assert getattr(governance, name) is not None, name
