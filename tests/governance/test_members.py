"""Members: people with one role per workspace; their keys capped by the membership."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from workbench.governance import (
    audit,
    cap_to_membership,
    cli_principal,
    create_key,
    create_member,
    create_workspace,
    disable_member,
    enable_member,
    get_member,
    list_members,
    membership_permissions,
    principal_for_key,
    remove_membership,
    require,
    set_membership,
    update_key,
    update_member,
)
from workbench.keys import KeyStore

ME = cli_principal()


@pytest.fixture
def store(wb_home: Path) -> Iterator[KeyStore]:
    with KeyStore(recheck_interval=0.0) as ks:
        for name in ("team-a", "team-b"):
            create_workspace(ME, name, store=ks)
        yield ks


def _member(store: KeyStore, email: str = "alice@example.com", **roles: str) -> str:
    member = create_member(ME, email, "Alice", store=store)
    for workspace, role in roles.items():
        set_membership(ME, member.member_id, workspace.replace("_", "-"), role, store=store)
    return member.member_id


# (key role, member role) -> the key's effective role; None: the key may do nothing there
CAPS = {
    ("admin", "analyst"): "analyst",
    ("admin", "app"): "app",
    ("policy-author", "analyst"): "analyst",
    ("policy-author", "app"): "app",
    ("policy-author", "admin"): "policy-author",
    ("analyst", "policy-author"): "analyst",
    ("app", "analyst"): None,
    ("analyst", "app"): None,
    ("app", "app"): "app",
}


@pytest.mark.parametrize(("key_role", "member_role"), list(CAPS))
def test_the_cap_is_the_intersection_of_the_role_table(key_role: str, member_role: str) -> None:
    capped = cap_to_membership(key_role, (), membership_permissions(member_role))
    want = CAPS[key_role, member_role]
    assert (capped[0] if capped else None) == want
    if capped is not None:
        assert capped[1] == ()


def test_grants_on_a_membership_extend_what_it_allows() -> None:
    allowed = membership_permissions("analyst", ["logs:bodies"])
    assert cap_to_membership("analyst", ["logs:bodies"], allowed) == ("analyst", ("logs:bodies",))
    assert cap_to_membership("analyst", ["logs:bodies"], membership_permissions("analyst")) == (
        "analyst",
        (),
    )
    # an app key of a member who is analyst + models:call keeps calling models
    allowed = membership_permissions("analyst", ["models:call"])
    assert cap_to_membership("policy-author", (), allowed) == ("analyst", ("models:call",))


def test_email_is_unique_case_insensitively(store: KeyStore) -> None:
    made = create_member(ME, " Bob@Example.com ", store=store)
    assert made.email == "Bob@Example.com" and made.member_id.startswith("mem_")
    with pytest.raises(InvalidRequestError) as caught:
        create_member(ME, "bob@EXAMPLE.COM", store=store)
    assert caught.value.status == 409 and caught.value.code == "member_exists"
    assert get_member(ME, "BOB@example.com", store=store).member_id == made.member_id
    with pytest.raises(ValueError, match="invalid email"):
        create_member(ME, "not-an-address", store=store)


def test_minting_above_the_membership_is_refused(store: KeyStore) -> None:
    mid = _member(store, team_a="analyst")
    with pytest.raises(InvalidRequestError) as caught:
        create_key(ME, "team-a", role="policy-author", member_id=mid, store=store)
    assert caught.value.code == "role_exceeds_membership"
    assert "policies:write" in caught.value.message and "analyst" in caught.value.message
    with pytest.raises(InvalidRequestError, match="would add logs:bodies"):
        create_key(ME, "team-a", role="analyst", grants=["logs:bodies"], member_id=mid, store=store)
    with pytest.raises(InvalidRequestError) as not_member:
        create_key(ME, "team-b", role="analyst", member_id=mid, store=store)
    assert not_member.value.code == "not_a_member"
    with pytest.raises(NotFoundError):
        create_key(ME, "team-a", role="analyst", member_id="mem_000000000000", store=store)
    assert store.list() == []  # nothing was created by the refusals
    record, _ = create_key(ME, "team-a", role="analyst", member_id=mid, store=store)
    assert record.member_id == mid
    with pytest.raises(InvalidRequestError, match="role_exceeds|exceed"):
        update_key(ME, record.key_id, role="admin", store=store)
    assert store.get(record.key_id).role == "analyst"


def test_a_key_is_attached_to_a_member_after_creation_and_detached(store: KeyStore) -> None:
    mid = _member(store, team_a="analyst")
    record, key = create_key(ME, "team-a", role="policy-author", store=store)
    assert store.verify(key).role == "policy-author"
    with pytest.raises(InvalidRequestError) as caught:  # above the membership: refused
        update_key(ME, record.key_id, member_id=mid, store=store)
    assert caught.value.code == "role_exceeds_membership"
    assert store.get(record.key_id).member_id is None
    with pytest.raises(InvalidRequestError) as elsewhere:
        other, _ = create_key(ME, "team-b", role="analyst", store=store)
        update_key(ME, other.key_id, member_id=mid, store=store)
    assert elsewhere.value.code == "not_a_member"
    # lowered and attached in one change: capped by the member from now on
    attached = update_key(ME, record.key_id, role="analyst", member_id=mid, store=store)
    assert attached.member_id == mid
    disable_member(ME, mid, store=store)
    with pytest.raises(AuthenticationError):
        store.verify(key)
    enable_member(ME, mid, store=store)
    assert principal_for_key(store.verify(key)).member_id == mid
    detached = update_key(ME, record.key_id, member_id=None, store=store)
    assert detached.member_id is None and detached.role == "analyst"
    (entry, *_) = [e for e in audit.entries(action="key.update") if e.after["member_id"] == mid]
    assert entry.before["member_id"] is None


def test_downgrading_a_membership_caps_existing_keys_at_once(store: KeyStore) -> None:
    mid = _member(store, team_a="policy-author")
    _, key = create_key(ME, "team-a", role="policy-author", member_id=mid, store=store)
    before = principal_for_key(store.verify(key))
    assert before.can("policies:write", "team-a") and before.member_id == mid
    set_membership(ME, mid, "team-a", "analyst", store=store)
    _, analyst_key = create_key(ME, "team-a", role="analyst", member_id=mid, store=store)
    after = store.verify(key)
    assert after.role == "analyst" and store.get(after.key_id).role == "policy-author"
    who = principal_for_key(after)
    assert who.permissions == frozenset({"logs:read"})
    with pytest.raises(PermissionDeniedError):
        require(who, "policies:write", "team-a")
    set_membership(ME, mid, "team-a", "app", store=store)
    assert store.verify(key).role == "app"  # policy-author within app: app
    with pytest.raises(AuthenticationError) as caught:  # analyst and app share nothing
        store.verify(analyst_key)
    assert caught.value.code == "membership_insufficient"


def test_disable_denies_every_key_and_enable_restores_them(store: KeyStore) -> None:
    mid = _member(store, team_a="analyst", team_b="app")
    _, key_a = create_key(ME, "team-a", role="analyst", member_id=mid, store=store)
    _, key_b = create_key(ME, "team-b", role="app", member_id=mid, store=store)
    _, service = create_key(ME, "team-a", role="app", store=store)  # no member
    assert store.verify(key_a).member_id == mid and store.verify(key_b).role == "app"
    disable_member(ME, "ALICE@example.com", store=store)
    for key in (key_a, key_b):
        with pytest.raises(AuthenticationError) as caught:
            store.verify(key)
        assert caught.value.status == 401 and caught.value.code == "member_disabled"
    assert store.verify(service).member_id is None  # service keys are untouched
    enable_member(ME, mid, store=store)  # the cached denial goes with the generation
    assert store.verify(key_a).role == "analyst"


def test_removing_a_membership_denies_the_keys_there_only(store: KeyStore) -> None:
    mid = _member(store, team_a="analyst", team_b="app")
    _, key_a = create_key(ME, "team-a", role="analyst", member_id=mid, store=store)
    _, key_b = create_key(ME, "team-b", role="app", member_id=mid, store=store)
    store.verify(key_a)
    member = remove_membership(ME, mid, "team-a", store=store)
    assert [m.workspace for m in member.memberships] == ["team-b"]
    with pytest.raises(AuthenticationError) as caught:
        store.verify(key_a)
    assert caught.value.code == "membership_removed"
    assert store.verify(key_b).workspace == "team-b"
    with pytest.raises(NotFoundError):
        remove_membership(ME, mid, "team-a", store=store)
    assert [m.member_id for m in list_members(ME, "team-a", store=store)] == []
    assert [m.member_id for m in list_members(ME, "team-b", store=store)] == [mid]


def test_isolation_a_member_of_two_workspaces_acts_only_where_each_key_is(
    store: KeyStore,
) -> None:
    mid = _member(store, team_a="analyst", team_b="policy-author")
    _, key_a = create_key(ME, "team-a", role="analyst", member_id=mid, store=store)
    _, key_b = create_key(ME, "team-b", role="policy-author", member_id=mid, store=store)
    in_a, in_b = principal_for_key(store.verify(key_a)), principal_for_key(store.verify(key_b))
    assert in_a.workspaces == frozenset({"team-a"}) and in_b.workspaces == frozenset({"team-b"})
    assert in_a.can("logs:read", "team-a") and not in_a.can("logs:read", "team-b")
    assert in_b.can("policies:write", "team-b") and not in_b.can("policies:write", "team-a")
    with pytest.raises(PermissionDeniedError) as caught:
        require(in_a, "logs:read", "team-b")
    assert caught.value.code == "workspace_forbidden"
    # the policy-author role in B does not lift the analyst key of A
    assert not in_a.can("policies:write", "team-a") and not in_a.can("models:call")


def test_only_admins_manage_members(store: KeyStore) -> None:
    mid = _member(store, team_a="policy-author")
    _, key = create_key(ME, "team-a", role="policy-author", member_id=mid, store=store)
    who = principal_for_key(store.verify(key))
    for call in (
        lambda: create_member(who, "eve@example.com", store=store),
        lambda: list_members(who, "team-a", store=store),
        lambda: set_membership(who, mid, "team-a", "admin", store=store),
        lambda: disable_member(who, mid, store=store),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    assert get_member(ME, mid, store=store).role_in("team-a") == "policy-author"


def test_every_change_is_audited_with_before_and_after(store: KeyStore) -> None:
    mid = _member(store, team_a="policy-author")
    update_member(ME, mid, display_name="Alice A.", store=store)
    set_membership(ME, mid, "team-a", "analyst", store=store)
    disable_member(ME, mid, store=store)
    remove_membership(ME, mid, "team-a", store=store)
    found = [e for e in audit.entries() if e.target == f"member:{mid}"]
    assert [e.action for e in found] == [
        "member.create",
        "membership.set",
        "member.update",
        "membership.set",
        "member.update",
        "membership.remove",
    ]
    created, added, renamed, downgraded, disabled, removed = found
    assert created.before is None and created.after["email"] == "alice@example.com"
    assert added.before is None and added.after["role"] == "policy-author"
    assert (renamed.before["display_name"], renamed.after["display_name"]) == ("Alice", "Alice A.")
    assert (downgraded.before["role"], downgraded.after["role"]) == ("policy-author", "analyst")
    assert downgraded.workspace == "team-a" and downgraded.actor == ME.actor
    assert (disabled.before["status"], disabled.after["status"]) == ("active", "disabled")
    assert removed.before["role"] == "analyst" and removed.after is None
    assert audit.verify().ok


def test_a_membership_needs_a_registered_workspace_and_a_known_role(store: KeyStore) -> None:
    mid = _member(store)
    with pytest.raises(NotFoundError):
        set_membership(ME, mid, "nowhere", "app", store=store)
    with pytest.raises(ValueError, match="invalid role"):
        set_membership(ME, mid, "team-a", "owner", store=store)
    with pytest.raises(ValueError, match="not allowed"):
        set_membership(ME, mid, "team-a", "app", ["keys:manage"], store=store)
