"""The counter authority: the one place that knows how much of each limit is left.

Ingress replicas never count on their own. They take *leases* from the authority (a
number of requests, tokens, concurrency slots, or nano-USD), spend them locally, and
report what they consumed and return what they did not. The authority's rule is the
whole of the exactness argument: it never grants more than ``limit - consumed -
leased``, so the sum of what every replica can spend never exceeds the limit.

Lease sizing: a request's own need, plus (when the client asks for extra) at most half
of what is left after it shared among the clients active on that counter, capped at a
sixteenth of the limit; so leases shrink as the remainder shrinks, and the last units
go out one by one. A lease lives ``lease_ttl_s`` (and never past its window); a client
that does not report by then has its lease counted as consumed (a crashed replica's
leases are spent, never handed out twice). Concurrency slots of a client not heard from
for ``dead_after_s`` are freed.

Persistence: before a reply grants anything, the authority writes consumed + leased of
the counters it touched to ``limits.sqlite`` (so a restart never hands out what was
already granted: leases outstanding at a crash count as spent); consumption reports and
returns are written at most once a second after that (a crash loses at most a second of
refunds: conservative). A restarted authority has a new *epoch*; reports against leases
of an old epoch are ignored. Concurrency gauges are not persisted (in-flight requests
end with the process that ran them).

:class:`AuthorityCore` is plain synchronous Python; :class:`LocalAuthority` serves it to
an in-process :class:`~workbench.limits.client.Limiter` (notebooks, tests, a single
gateway process); ``serve.limits`` runs the same core in a Ray actor.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.limits.rules import Rule, RuleSet
from workbench.limits.store import LimitsStore

__all__ = ["Ask", "Authority", "AuthorityCore", "Grant", "LocalAuthority", "Report"]

_ACTIVE_S = 5.0


@dataclass(frozen=True)
class Ask:
    """A client needs ``need`` units of ``bucket`` now (``extra``: and a lease beyond it)."""

    bucket: str
    need: int
    extra: bool = True


@dataclass(frozen=True)
class Report:
    """What a client did with lease ``lease_id``: ``consumed`` units (negative: refunds of
    earlier consumption) and ``returned`` unspent units; ``close`` ends the lease.
    ``lease_id`` 0 charges consumption beyond any lease (a request that cost more than it
    reserved)."""

    bucket: str
    lease_id: int
    epoch: str
    slot: int
    consumed: int
    returned: int = 0
    close: bool = False


@dataclass(frozen=True)
class Grant:
    """The answer to an :class:`Ask` (``granted`` 0: refused)."""

    bucket: str
    granted: int
    lease_id: int
    slot: int
    reset_at: float | None
    ttl_s: float
    free: int | None  # what is left unleased after this grant (None: no rule)
    limit: int | None
    epoch: str


@dataclass
class _Lease:
    id: int
    client: str
    slot: int
    amount: int
    expires: float


@dataclass
class _Bucket:
    used: dict[int, int] = field(default_factory=dict)  # slot -> consumed
    leases: dict[int, _Lease] = field(default_factory=dict)
    active: dict[str, float] = field(default_factory=dict)  # client -> last seen
    gauge: dict[str, int] = field(default_factory=dict)  # concurrent: client -> in use


class Authority(Protocol):
    """What a :class:`~workbench.limits.client.Limiter` talks to (in-process or Ray)."""

    async def exchange(
        self, client: str, reports: Sequence[Report], asks: Sequence[Ask]
    ) -> list[Grant]: ...


class AuthorityCore:
    """Counters, leases and their persistence (synchronous; one per gateway)."""

    def __init__(
        self,
        store: LimitsStore | None = None,
        *,
        lease_ttl_s: float = 5.0,
        dead_after_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store if store is not None else LimitsStore()
        self.lease_ttl_s, self.dead_after_s, self.clock = lease_ttl_s, dead_after_s, clock
        self.epoch = uuid.uuid4().hex[:12]
        self.buckets: dict[str, _Bucket] = {}
        self.clients: dict[str, float] = {}
        self._next_id = 0
        self._dirty: set[str] = set()
        self._persisted = 0.0
        self._checked = 0.0
        self.rules = self.store.ruleset()
        for bucket, slot, amount in self.store.load_usage():
            self.buckets.setdefault(bucket, _Bucket()).used[slot] = amount

    # -- the one call -------------------------------------------------------------------
    def exchange(self, client: str, reports: Sequence[Report], asks: Sequence[Ask]) -> list[Grant]:
        """Apply a client's reports, then answer its asks (persisted before returning)."""
        now = self.clock()
        self._refresh_rules(now)
        self.clients[client] = now
        self._expire(now)
        for r in reports:
            self._apply(client, r)
        grants = [self._grant(client, a, now) for a in asks]
        granted = {g.bucket for g in grants if g.granted > 0}
        self._persist(now, force=granted)
        return grants

    # -- reports ------------------------------------------------------------------------
    def _apply(self, client: str, r: Report) -> None:
        if r.epoch != self.epoch:
            return  # a lease of a previous authority: counted as spent when it restarted
        b = self.buckets.setdefault(r.bucket, _Bucket())
        rule = self.rules.rule_of(r.bucket)
        gauge = rule is not None and rule.kind == "concurrent"
        lease = b.leases.get(r.lease_id)
        if lease is None and r.consumed > 0 and r.lease_id != 0 and not gauge:
            return  # expired here already: its whole amount was counted as consumed
        consumed = r.consumed
        if lease is not None:
            lease.amount -= consumed + r.returned
            if r.close:
                b.leases.pop(r.lease_id, None)
        if gauge:
            b.gauge[client] = max(0, b.gauge.get(client, 0) + consumed)
        elif consumed:
            b.used[r.slot] = max(0, b.used.get(r.slot, 0) + consumed)
            self._dirty.add(r.bucket)

    def _expire(self, now: float) -> None:
        dead = {c for c, seen in self.clients.items() if now - seen > self.dead_after_s}
        gauges = self._gauges()
        for name, b in self.buckets.items():
            for lid in [i for i, lease in b.leases.items() if lease.expires < now]:
                lease = b.leases.pop(lid)
                if name not in gauges:  # a lease not reported in time counts as spent
                    b.used[lease.slot] = b.used.get(lease.slot, 0) + lease.amount
                    self._dirty.add(name)
            for c in dead:
                b.gauge.pop(c, None)
                b.active.pop(c, None)
        for c in dead:
            self.clients.pop(c, None)

    def _gauges(self) -> set[str]:
        return {k for k in self.buckets if (r := self.rules.rule_of(k)) and r.kind == "concurrent"}

    # -- grants -------------------------------------------------------------------------
    def _grant(self, client: str, ask: Ask, now: float) -> Grant:
        rule = self.rules.rule_of(ask.bucket)
        if rule is None:  # deleted since the client's rules: nothing to count against
            return Grant(ask.bucket, ask.need, -1, 0, None, self.lease_ttl_s, None, None,
                         self.epoch)  # fmt: skip
        b = self.buckets.setdefault(ask.bucket, _Bucket())
        win = rule.window_at(now)
        b.active[client] = now
        free = rule.units - self._counted(b, rule, win.since)
        if not rule.hard:  # an alert-only budget: never refuses
            amount = ask.need
        elif free < ask.need:
            amount = 0
        else:
            active = sum(1 for t in b.active.values() if now - t < _ACTIVE_S)
            extra = (free - ask.need) // (2 * max(1, active)) if ask.extra else 0
            amount = ask.need + min(extra, max(1, rule.units // 16))
        lease_id = -1
        if amount > 0:
            lease = self._lease_for(b, client, win.slot, now)
            lease.amount += amount
            lease_id = lease.id
        reset = win.reset_at
        ttl = self.lease_ttl_s if reset is None else min(self.lease_ttl_s, max(0.0, reset - now))
        return Grant(ask.bucket, amount, lease_id, win.slot, reset, ttl, free - amount,
                     rule.units, self.epoch)  # fmt: skip

    def _lease_for(self, b: _Bucket, client: str, slot: int, now: float) -> _Lease:
        for lease in b.leases.values():
            if lease.client == client and lease.slot == slot:
                lease.expires = now + self.lease_ttl_s
                return lease
        self._next_id += 1
        lease = _Lease(self._next_id, client, slot, 0, now + self.lease_ttl_s)
        b.leases[lease.id] = lease
        return lease

    def _counted(self, b: _Bucket, rule: Rule, since: int) -> int:
        leased = sum(x.amount for x in b.leases.values() if x.slot >= since)
        if rule.kind == "concurrent":
            return sum(b.gauge.values()) + leased
        for old in [s for s in b.used if s < since]:
            del b.used[old]
        return sum(b.used.values()) + leased

    # -- persistence and status ---------------------------------------------------------
    def _persist(self, now: float, force: set[str]) -> None:
        force = force - self._gauges()
        if not force and (not self._dirty or now - self._persisted < 1.0):
            return
        names = (self._dirty | force) - self._gauges()
        rows: list[tuple[str, int, int]] = []
        for name in names:
            b = self.buckets[name]
            slots = dict(b.used)
            for lease in b.leases.values():
                slots[lease.slot] = slots.get(lease.slot, 0) + lease.amount
            rows.extend((name, s, a) for s, a in slots.items())
        if rows:
            self.store.save_usage(rows)
        self._dirty.clear()
        self._persisted = now

    def _refresh_rules(self, now: float) -> None:
        if now - self._checked < 1.0:
            return
        self._checked = now
        if self.store.generation() != self.rules.generation:
            self.rules = self.store.ruleset()

    def usage(self) -> list[dict[str, Any]]:
        """Every counter of a live rule now: consumed, leased, limit, window."""
        now = self.clock()
        self._refresh_rules(now)
        out = []
        for name, b in sorted(self.buckets.items()):
            rule = self.rules.rule_of(name)
            if rule is None:
                continue
            win = rule.window_at(now)
            leased = sum(x.amount for x in b.leases.values() if x.slot >= win.since)
            consumed = self._counted(b, rule, win.since) - leased
            out.append(_usage_row(rule, name, consumed, leased, win.reset_at))
        return out


def _usage_row(
    rule: Rule, bucket: str, consumed: int, leased: int, reset_at: float | None
) -> dict[str, Any]:
    scale = 1e9 if rule.kind == "budget" else 1
    return {
        "rule": rule.id,
        "kind": rule.kind,
        "subject": bucket.split("|", 1)[1],
        "used": consumed / scale,
        "leased": leased / scale,
        "limit": rule.limit,
        "reset_at": reset_at,
    }


class LocalAuthority:
    """The authority in this process (the same core the Ray actor runs)."""

    def __init__(self, core: AuthorityCore | None = None, **kwargs: Any) -> None:
        self.core = core if core is not None else AuthorityCore(**kwargs)
        self.calls = 0

    async def exchange(
        self, client: str, reports: Sequence[Report], asks: Sequence[Ask]
    ) -> list[Grant]:
        """One round trip (here: a function call)."""
        self.calls += 1
        return self.core.exchange(client, reports, asks)

    def ruleset(self) -> RuleSet:
        """The rules the authority counts by."""
        return self.core.rules
