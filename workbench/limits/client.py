"""The ingress side: spend leased quotas locally, refill from the authority when short.

A :class:`Limiter` lives in each ingress replica (or a notebook). ``admit`` takes what a
request needs from every counter that applies (all or nothing); only a counter whose
local lease is short costs a round trip to the authority, made by one request at a
time per replica (the others wait for it and then usually find the refill enough).
``settle`` (synchronous, local) gives back what the request did not use. A background
task (every ``sync_interval_s``) reports consumption, returns idle and expiring leases,
and re-reads the rules when their generation changed.

How stale things can be (documented in the README too):

- rules: a change reaches a replica within about ``sync_interval_s`` (the generation
  poll); leases of the old rules are returned then;
- counts: the authority's consumption lags a replica's by at most ``sync_interval_s``;
  a lease is never spent past its expiry (its TTL, counted from before the request that
  got it), so this lag never becomes an overshoot;
- the ``x-ratelimit-remaining-*`` headers: what was left at this replica's last round
  trip, minus what it spent since (other replicas' spending since then is not in it);
- a refused counter is not asked again for up to ``deny_cache_s`` (requests refused
  meanwhile may have fitted in units other replicas returned: never an overshoot).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import RateLimitError
from workbench.limits.alerts import Alerts
from workbench.limits.authority import Ask, Authority, Grant, Report
from workbench.limits.headers import rate_headers, retry_after
from workbench.limits.rules import Rule, RuleSet
from workbench.limits.store import LimitsStore

__all__ = ["Admission", "LimitDenied", "Limiter"]

log = logging.getLogger(__name__)

_REFILL_ROUNDS = 4


class LimitDenied(RateLimitError):
    """A 429 naming the budget or limit, with the headers to send with it."""

    def __init__(self, message: str, *, code: str, param: str, headers: dict[str, str]) -> None:
        super().__init__(message, code=code, param=param)
        self.headers = headers


@dataclass
class _Lease:
    bucket: str
    lease_id: int
    epoch: str
    slot: int
    reset_at: float | None  # wall clock
    expires: float  # monotonic
    available: int = 0
    consumed: int = 0  # not reported yet
    free: int | None = None  # unleased at the authority after the last grant
    limit: int | None = None
    used_at: float = 0.0


@dataclass
class _Take:
    bucket: str
    kind: str
    lease_id: int
    epoch: str
    slot: int
    amount: int


@dataclass
class Admission:
    """What a request took (give it to :meth:`Limiter.settle`) and the headers to send."""

    takes: list[_Take] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    settled: bool = False


class Limiter:
    """One replica's view: its leases, the rules, and its authority."""

    def __init__(
        self,
        authority: Authority,
        *,
        store: LimitsStore | None = None,
        rules: RuleSet | None = None,
        client_id: str | None = None,
        leasing: bool = True,
        sync_interval_s: float = 1.0,
        idle_return_s: float = 2.0,
        deny_cache_s: float = 0.25,
        clock: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.authority = authority
        self.store = store if store is not None or rules is not None else LimitsStore()
        self.rules = rules if rules is not None else self.store.ruleset()  # type: ignore[union-attr]
        self.client_id = client_id or uuid.uuid4().hex[:12]
        self.leasing, self.sync_interval_s = leasing, sync_interval_s
        self.idle_return_s, self.deny_cache_s = idle_return_s, deny_cache_s
        self.clock, self.mono = clock, mono
        self.leases: dict[str, _Lease] = {}
        self.pending: list[Report] = []
        self.in_flight = 0
        self.round_trips = 0
        self._denied: dict[str, tuple[float, Grant]] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.alerts = Alerts()

    # -- admission ----------------------------------------------------------------------
    async def admit(
        self, subjects: Mapping[str, str | None], workspace: str | None, needs: Mapping[str, int]
    ) -> Admission:
        """Take ``needs`` (per rule kind) from every counter that applies, or raise
        :class:`LimitDenied` (nothing taken)."""
        self._start_if_running()
        wants = [
            (rule, bucket, needs.get(rule.kind, 0))
            for rule, bucket in self.rules.matching(subjects, workspace)
        ]
        wants = [w for w in wants if w[2] > 0]
        adm = Admission()
        short = self._take_all(wants, adm)
        if short:
            now = self.mono()
            for rule, bucket, _ in short:
                denied = self._denied.get(bucket)
                if denied is not None and denied[0] > now:
                    raise self._deny(rule, bucket, denied[1])
            async with self._lock:
                short = self._take_all(wants, adm)
                if short:
                    await self._refill(short, wants, adm)
        self.in_flight += 1
        adm.headers = self._headers(wants)
        return adm

    def _take_all(self, wants: list[tuple[Rule, str, int]], adm: Admission) -> list[Any]:
        now = self.mono()
        short = []
        for rule, bucket, amount in wants:
            lease = self._live(bucket, now)
            if lease is None or lease.available < amount:
                short.append((rule, bucket, amount))
        if short:
            return short
        for rule, bucket, amount in wants:
            lease = self.leases[bucket]
            lease.available -= amount
            lease.consumed += amount
            lease.used_at = now
            adm.takes.append(
                _Take(bucket, rule.kind, lease.lease_id, lease.epoch, lease.slot, amount)
            )
        return []

    async def _refill(
        self, short: list[tuple[Rule, str, int]], wants: list[Any], adm: Admission
    ) -> None:
        """Ask for what is short; again (a few times) when requests that did not need a
        refill took the units of another counter while the round trip was in flight."""
        grants: dict[str, Grant] = {}
        for _ in range(_REFILL_ROUNDS):
            now = self.mono()
            asks = []
            for _, bucket, amount in short:
                lease = self._live(bucket, now)
                have = lease.available if lease is not None else 0
                asks.append(Ask(bucket, amount - have, self.leasing))
            grants = {g.bucket: g for g in await self._exchange(asks, sent=now)}
            still = self._take_all(wants, adm)
            if not still:
                return
            for rule, bucket, _ in still:
                g = grants.get(bucket)
                if g is not None and g.granted == 0:
                    self._refused(rule, bucket, g)
                    raise self._deny(rule, bucket, g)
            short = still
        rule, bucket, _ = short[0]
        raise self._deny(rule, bucket, grants.get(bucket))

    def _refused(self, rule: Rule, bucket: str, grant: Grant) -> None:
        self._denied[bucket] = (self.mono() + self.deny_cache_s, grant)
        lease = self.leases.get(bucket)
        if lease is not None and rule.kind in ("budget", "tokens"):
            self._close(lease)  # pool the remainder at the authority: another need may fit

    def _deny(self, rule: Rule, bucket: str, grant: Grant | None) -> LimitDenied:
        subject = bucket.split("|", 1)[1]
        reset = grant.reset_at if grant is not None else None
        headers = {"retry-after": retry_after(reset, self.clock())}
        if rule.kind == "budget":
            msg = (
                f"budget '{rule.id}' exhausted: ${rule.limit:g} per {rule.period} "
                f"({rule.window}) for {rule.scope} '{subject}'"
            )
            return LimitDenied(msg, code="budget_exceeded", param=rule.id, headers=headers)
        what = {"requests": "requests per minute", "tokens": "tokens per minute",
                "concurrent": "concurrent requests"}[rule.kind]  # fmt: skip
        if rule.kind == "concurrent":
            headers["retry-after"] = "1"
        else:  # OpenAI sends its x-ratelimit-* headers with the 429 too
            headers.update(rate_headers({rule.kind: (rule.units, 0, reset)}, self.clock()))
        msg = f"rate limit '{rule.id}' reached: {rule.limit:g} {what} for {rule.scope} '{subject}'"
        return LimitDenied(msg, code="rate_limit_exceeded", param=rule.id, headers=headers)

    # -- settlement ---------------------------------------------------------------------
    def settle(self, adm: Admission, actual: Mapping[str, int]) -> None:
        """The request is over: ``actual`` units per kind (budget, tokens) were used;
        give back the rest of what it took (concurrency slots entirely). Synchronous."""
        if adm.settled:
            return
        adm.settled = True
        self.in_flight = max(0, self.in_flight - 1)
        now = self.mono()
        for t in adm.takes:
            if t.kind == "requests":
                continue
            used = 0 if t.kind == "concurrent" else actual.get(t.kind, 0)
            self._give_back(t, t.amount - used, now)

    def _give_back(self, t: _Take, amount: int, now: float) -> None:
        if amount == 0:
            return
        lease = self._live(t.bucket, now)
        if amount > 0 and lease is not None and lease.lease_id == t.lease_id \
                and lease.epoch == t.epoch:  # fmt: skip
            lease.available += amount
            lease.consumed -= amount
            return
        lease_id = t.lease_id if amount > 0 else 0  # more than reserved: a direct charge
        self.pending.append(Report(t.bucket, lease_id, t.epoch, t.slot, -amount))

    # -- leases -------------------------------------------------------------------------
    def _live(self, bucket: str, now: float) -> _Lease | None:
        lease = self.leases.get(bucket)
        if lease is None:
            return None
        if now >= lease.expires or (lease.reset_at is not None and self.clock() >= lease.reset_at):
            self._close(lease)
            return None
        return lease

    def _close(self, lease: _Lease) -> None:
        self.leases.pop(lease.bucket, None)
        self.pending.append(
            Report(
                lease.bucket,
                lease.lease_id,
                lease.epoch,
                lease.slot,
                lease.consumed,
                lease.available,
                close=True,
            )  # fmt: skip
        )

    def _reports(self, now: float, closing: bool = False) -> list[Report]:
        for lease in list(self.leases.values()):
            idle = now - lease.used_at > self.idle_return_s
            if closing or idle or self._live(lease.bucket, now + self.sync_interval_s) is None:
                if lease.bucket in self.leases:
                    self._close(lease)
            elif lease.consumed:
                self.pending.append(
                    Report(lease.bucket, lease.lease_id, lease.epoch, lease.slot, lease.consumed)
                )
                lease.consumed = 0
        out, self.pending = self.pending, []
        return out

    async def _exchange(self, asks: list[Ask], sent: float) -> list[Grant]:
        reports = self._reports(sent)
        try:
            grants = await self.authority.exchange(self.client_id, reports, asks)
        except BaseException:
            self.pending = reports + self.pending
            raise
        self.round_trips += 1
        for g in grants:
            if g.granted > 0 and g.lease_id > 0:
                self._add(g, sent)
            elif g.lease_id == -1 and g.granted > 0:  # no rule any more: a one-off lease
                self._add(g, sent)
        return grants

    def _add(self, g: Grant, sent: float) -> None:
        lease = self.leases.get(g.bucket)
        if lease is None or lease.lease_id != g.lease_id or lease.epoch != g.epoch:
            if lease is not None:
                self._close(lease)
            lease = _Lease(g.bucket, g.lease_id, g.epoch, g.slot, g.reset_at, 0.0, used_at=sent)
            self.leases[g.bucket] = lease
        lease.expires = sent + g.ttl_s
        lease.available += g.granted
        lease.free, lease.limit = g.free, g.limit

    # -- headers and alerts -------------------------------------------------------------
    def _headers(self, wants: list[tuple[Rule, str, int]]) -> dict[str, str]:
        now = self.clock()
        best: dict[str, tuple[int, int, float | None]] = {}
        alerts = []
        for rule, bucket, _ in wants:
            lease = self.leases.get(bucket)
            if lease is None or lease.limit is None:
                continue
            remaining = (lease.free or 0) + lease.available
            if rule.kind in ("requests", "tokens"):
                cur = best.get(rule.kind)
                if cur is None or remaining < cur[1]:
                    best[rule.kind] = (rule.units, remaining, lease.reset_at)
            elif rule.kind == "budget" and rule.soft is not None and lease.limit > 0:
                frac = 1 - remaining / lease.limit
                if frac >= rule.soft:
                    alerts.append(rule.id)
                    self.alerts.raise_once(rule, bucket, lease.slot, frac)
        headers = rate_headers(best, now)
        if alerts:
            headers["x-workbench-budget-alert"] = ",".join(alerts)
        return headers

    # -- background sync ----------------------------------------------------------------
    def _start_if_running(self) -> None:
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._task = loop.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.sync_interval_s)
            try:
                await self.sync_now()
            except Exception:  # never let the sync task die: the next round retries
                log.exception("limits sync failed; retrying")

    async def sync_now(self, closing: bool = False) -> None:
        """Report, return idle leases, re-read changed rules (one round trip if needed)."""
        if self.store is not None:
            gen = await asyncio.to_thread(self.store.generation)
            if gen != self.rules.generation:
                self.rules = await asyncio.to_thread(self.store.ruleset)
                self._denied.clear()
                closing = True
        async with self._lock:
            now = self.mono()
            reports = self._reports(now, closing)
            heartbeat = self.in_flight and any(
                r.kind == "concurrent" for r in self.rules.rules.values()
            )  # the authority frees the slots of a replica it stops hearing from
            if reports or heartbeat:
                self.pending = reports + self.pending
                await self._exchange([], sent=now)

    async def close(self) -> None:
        """Stop the sync task and return every lease."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.sync_now(closing=True)
