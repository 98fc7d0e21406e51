"""Structural rules of a routing section, reported as ``(loc, message)`` pairs.

``loc`` is a path inside the section (``("routes", "smart", "targets", 1, "target")``);
the policy loader prefixes ``routing`` and turns each into a ``file:line: field`` error.

Name resolution: a leaf's ``target`` names a route when one has that name, else a gateway
model. Inside route ``R`` a leaf naming ``R`` itself means the gateway model ``R``, so a
route may wrap the model of the same name (``gpt-4o: {mode: fallback, targets: [gpt-4o,
claude]}``).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator

from workbench.routing.conditions import always_true, condition_problems, never_true
from workbench.routing.config import RouteNode, RoutingConfig

__all__ = ["route_refs", "routing_problems"]

_Loc = tuple[str | int, ...]
_Problem = tuple[_Loc, str]
_STRATEGY_ONLY = ("targets", "conditions", "default", "on_status_codes", "on_errors")
_FALLBACK_ONLY = ("on_status_codes", "on_errors", "on_guardrail_failure")


def routing_problems(
    config: RoutingConfig, known_targets: Collection[str] | None = None
) -> list[_Problem]:
    """Every structural problem of ``config``.

    ``known_targets`` are the gateway's model names; None skips the unknown-target check
    (a policy validated without a gateway config).
    """
    problems: list[_Problem] = []
    for name, node in config.routes.items():
        loc: _Loc = ("routes", name)
        problems += _node_problems(node, loc, name, config, known_targets)
    problems += _cycle_problems(config)
    return problems


def _node_problems(
    node: RouteNode,
    loc: _Loc,
    route: str,
    config: RoutingConfig,
    known: Collection[str] | None,
) -> list[_Problem]:
    if node.target is not None:
        return _leaf_problems(node, loc, route, config, known)
    if node.mode is None:
        return [(loc, "a node needs `target:` (a model or route name) or `mode:` with targets")]
    problems = _shape_problems(node, loc)
    for i, child in enumerate(node.targets or []):
        problems += _node_problems(child, loc + ("targets", i), route, config, known)
    if node.mode in ("least-latency", "least-cost"):
        problems += _dynamic_problems(node, loc, route, config)
    if node.mode == "conditional":
        problems += _rule_problems(node, loc)
        for i, rule in enumerate(node.conditions or []):
            problems += _node_problems(
                rule.then, loc + ("conditions", i, "then"), route, config, known
            )
        if node.default is not None:
            problems += _node_problems(node.default, loc + ("default",), route, config, known)
    return problems


def _leaf_problems(
    node: RouteNode,
    loc: _Loc,
    route: str,
    config: RoutingConfig,
    known: Collection[str] | None,
) -> list[_Problem]:
    problems: list[_Problem] = []
    for key in ("mode",) + _STRATEGY_ONLY + ("on_guardrail_failure",):
        if getattr(node, key) is not None:
            problems.append((loc + (key,), f"`{key}` does not go with `target:` (a leaf)"))
    name = node.target
    assert name is not None
    is_route = name in config.routes and name != route
    if not is_route and known is not None and name not in known:
        if name == route:
            msg = f"route {route!r} names itself, and no gateway model is called {name!r}"
        else:
            msg = f"unknown target {name!r}: neither a route nor a gateway model"
            msg += _hint(name, list(config.routes) + list(known))
        problems.append((loc + ("target",), msg))
    return problems


def _shape_problems(node: RouteNode, loc: _Loc) -> list[_Problem]:
    problems: list[_Problem] = []
    mode = node.mode
    if mode == "conditional":
        if node.targets is not None:
            problems.append((loc + ("targets",), "a conditional node takes `conditions:`"))
        if not node.conditions:
            problems.append((loc + ("conditions",), "a conditional node needs conditions"))
    else:
        for key in ("conditions", "default"):
            if getattr(node, key) is not None:
                problems.append((loc + (key,), f"`{key}` only goes with mode conditional"))
        if not node.targets:
            problems.append((loc + ("targets",), f"a {mode} node needs at least one target"))
        elif mode == "single" and len(node.targets) != 1:
            problems.append((loc + ("targets",), "a single node takes exactly one target"))
    if mode != "fallback":
        for key in _FALLBACK_ONLY:
            if getattr(node, key) is not None:
                problems.append((loc + (key,), f"`{key}` only goes with mode fallback"))
    return problems


def _dynamic_problems(
    node: RouteNode, loc: _Loc, route: str, config: RoutingConfig
) -> list[_Problem]:
    problems: list[_Problem] = []
    for i, child in enumerate(node.targets or []):
        name = child.target
        if name is None or (name in config.routes and name != route):
            problems.append(
                (
                    loc + ("targets", i),
                    f"{node.mode} chooses between gateway models: each target must be a "
                    "model name, not a nested strategy or a route",
                )
            )
    return problems


def _rule_problems(node: RouteNode, loc: _Loc) -> list[_Problem]:
    problems: list[_Problem] = []
    catch_all: int | None = None
    seen: list[dict[str, object]] = []
    for i, rule in enumerate(node.conditions or []):
        here = loc + ("conditions", i, "when")
        bad = condition_problems(rule.when, here)
        problems += bad
        if catch_all is not None:
            problems.append(
                (here, f"unreachable: rule {catch_all} before it matches every request")
            )
        elif rule.when in seen:
            problems.append((here, f"unreachable: same condition as rule {seen.index(rule.when)}"))
        elif not bad and never_true(rule.when):
            problems.append((here, "this condition never matches: the rule is unreachable"))
        if not bad and catch_all is None and always_true(rule.when):
            catch_all = i
        seen.append(rule.when)
    if catch_all is not None and node.default is not None:
        problems.append(
            (loc + ("default",), f"unreachable: rule {catch_all} matches every request")
        )
    return problems


def route_refs(node: RouteNode, route: str, routes: Collection[str]) -> Iterator[str]:
    """Names of the other routes that ``node`` (inside ``route``) leads to."""
    if node.target is not None:
        if node.target in routes and node.target != route:
            yield node.target
        return
    for child in node.targets or []:
        yield from route_refs(child, route, routes)
    for rule in node.conditions or []:
        yield from route_refs(rule.then, route, routes)
    if node.default is not None:
        yield from route_refs(node.default, route, routes)


def _cycle_problems(config: RoutingConfig) -> list[_Problem]:
    edges = {
        name: sorted(set(route_refs(node, name, config.routes)))
        for name, node in config.routes.items()
    }
    problems: list[_Problem] = []
    reported: set[frozenset[str]] = set()
    for start in edges:
        cycle = _find_cycle(start, edges)
        if cycle is not None and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            path = " -> ".join(cycle + [cycle[0]])
            problems.append((("routes", cycle[0]), f"routes form a cycle: {path}"))
    return problems


def _find_cycle(start: str, edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle through ``start`` (as a list of route names), or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    visited: set[str] = set()
    while stack:
        name, path = stack.pop()
        for nxt in edges.get(name, []):
            if nxt == start:
                return path
            if nxt not in visited:
                visited.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def _hint(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(names)), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if names:
        listed = sorted(set(names))
        return f" (known: {', '.join(listed[:20])}{', ...' if len(listed) > 20 else ''})"
    return ""
