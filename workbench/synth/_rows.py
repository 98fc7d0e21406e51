"""Per-request random draws (numpy, one array per attribute) before outcomes are decided.

:class:`Cast` is drawn once per run from the seed: every workspace's keys (each an app
with a fixed model, stream habit, temperature and ``max_tokens``) and users.
:func:`draw` then draws, for a batch of arrival times, who sent each request, what it
asked and how big it is. Injections edit these draws before outcomes are resolved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._catalog import ModelSpec, Workspace, key_ids
from ._texts import DOMAINS, FRAMES

__all__ = ["KINDS", "Cast", "Draws", "draw", "make_cast"]

KINDS = ("normal", "pii", "secret", "injection", "jailbreak")
"""Request kinds (``Draws.kind`` codes 0..4)."""

_TEMPS = np.array([0.0, 0.2, 0.7, 1.0])
_MAX_TOKENS = np.array([256, 512, 1024, 4096])
_UAS = ("OpenAI/Python 1.54.0", "OpenAI/NodeJS 4.73.0", "python-httpx/0.27.2", "curl/8.5.0")


@dataclass
class Cast:
    """The fixed population of a run: workspaces, models, keys, users."""

    workspaces: tuple[Workspace, ...]
    models: tuple[ModelSpec, ...]
    ws_names: np.ndarray
    model_names: np.ndarray
    key_id: np.ndarray  # str, one per key
    key_ws: np.ndarray
    key_share: np.ndarray  # share of its workspace's traffic
    key_model: np.ndarray
    key_stream: np.ndarray  # probability of streaming
    key_temp: np.ndarray
    key_max_tokens: np.ndarray
    key_ua: np.ndarray
    user_offset: np.ndarray  # first global user index of each workspace
    user_id: np.ndarray  # str


def _zipf_weights(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def make_cast(
    rng: np.random.Generator, workspaces: tuple[Workspace, ...], models: tuple[ModelSpec, ...]
) -> Cast:
    """Draw keys and users for ``workspaces`` (reproducible from ``rng``)."""
    names = [m.name for m in models]
    cols: dict[str, list[object]] = {k: [] for k in ("ws", "share", "model", "stream", "ua")}
    for j, ws in enumerate(workspaces):
        unknown = set(ws.models) - set(names)
        if unknown:
            raise ValueError(f"workspace {ws.name}: unknown model(s) {sorted(unknown)}")
        mix = np.array([ws.models.get(n, 0.0) for n in names])
        cols["ws"] += [j] * ws.keys
        cols["share"] += list(_zipf_weights(ws.keys, 0.9))
        cols["model"] += list(rng.choice(len(names), size=ws.keys, p=mix / mix.sum()))
        cols["stream"] += list(np.clip(rng.normal(ws.stream_share, 0.15, ws.keys), 0, 1))
        cols["ua"] += list(rng.integers(0, len(_UAS), ws.keys))
    n_keys = len(cols["ws"])
    users = np.array([ws.users for ws in workspaces])
    offsets = np.concatenate([[0], np.cumsum(users)[:-1]])
    user_id = [
        f"{ws.name.split('-')[-1]}-user-{i:05d}" for ws in workspaces for i in range(ws.users)
    ]
    return Cast(
        workspaces=workspaces,
        models=models,
        ws_names=np.array([w.name for w in workspaces]),
        model_names=np.array(names),
        key_id=np.array(key_ids(rng, n_keys)),
        key_ws=np.array(cols["ws"], dtype=np.int32),
        key_share=np.array(cols["share"]),
        key_model=np.array(cols["model"], dtype=np.int32),
        key_stream=np.array(cols["stream"]),
        key_temp=_TEMPS[rng.integers(0, len(_TEMPS), n_keys)],
        key_max_tokens=_MAX_TOKENS[rng.integers(0, len(_MAX_TOKENS), n_keys)],
        key_ua=np.array(_UAS)[np.array(cols["ua"], dtype=np.int64)],
        user_offset=offsets,
        user_id=np.array(user_id),
    )


@dataclass
class Draws:
    """The draws of one batch (every array has one entry per request)."""

    rng: np.random.Generator
    cast: Cast
    t: np.ndarray  # received_at, epoch us
    ws: np.ndarray
    key: np.ndarray
    user: np.ndarray
    model: np.ndarray
    kind: np.ndarray  # KINDS code
    subject: np.ndarray  # index into the workspace domain's subjects
    frame: np.ndarray  # index into FRAMES
    ref: np.ndarray  # > 0: a one-off question (unique suffix), else 0
    variant: np.ndarray  # which attack / secret / PII text
    stream: np.ndarray
    prompt_extra: np.ndarray  # extra prompt tokens (pasted context)
    completion: np.ndarray  # completion tokens the model wants to write
    max_tokens: np.ndarray
    slow: np.ndarray  # latency multiplier
    fail_p: np.ndarray  # failure probability of an upstream attempt
    hit_p: np.ndarray  # cache-hit probability of a repeatable question
    missed: np.ndarray  # an attack the classifier scored below its threshold

    @property
    def ws_names(self) -> np.ndarray:
        """Workspace names by index."""
        return self.cast.ws_names

    @property
    def model_names(self) -> np.ndarray:
        """Model names by index."""
        return self.cast.model_names

    @property
    def key_ws(self) -> np.ndarray:
        """Workspace index of each key."""
        return self.cast.key_ws

    @property
    def key_share(self) -> np.ndarray:
        """Traffic share of each key within its workspace."""
        return self.cast.key_share

    def key_index(self, key_id: str | None, workspace: str | None) -> int:
        """The key named ``key_id``, else the busiest key of ``workspace`` (or of all)."""
        if key_id is not None:
            found = np.flatnonzero(self.cast.key_id == key_id)
            if not len(found):
                raise ValueError(f"unknown key id {key_id!r}")
            return int(found[0])
        ws = 0 if workspace is None else int(np.flatnonzero(self.ws_names == workspace)[0])
        return int(np.flatnonzero(self.cast.key_ws == ws)[0])


def _per_workspace(rng: np.random.Generator, cast: Cast, ws: np.ndarray) -> tuple[np.ndarray, ...]:
    """Key, user and request kind of each row, drawn workspace by workspace."""
    n = len(ws)
    key, user = np.zeros(n, np.int32), np.zeros(n, np.int32)
    kind = np.zeros(n, np.int8)
    for j, w in enumerate(cast.workspaces):
        rows = np.flatnonzero(ws == j)
        keys = np.flatnonzero(cast.key_ws == j)
        key[rows] = rng.choice(keys, size=len(rows), p=cast.key_share[keys])
        user[rows] = cast.user_offset[j] + (w.users * rng.random(len(rows)) ** 2.5).astype(int)
        p = [1 - w.pii_rate - w.attack_rate - 0.002, w.pii_rate, 0.002]
        p += [w.attack_rate * 0.6, w.attack_rate * 0.4]
        kind[rows] = rng.choice(len(p), size=len(rows), p=p)
    return key, user, kind


def draw(rng: np.random.Generator, cast: Cast, t: np.ndarray, ws: np.ndarray) -> Draws:
    """Draw everything about each request but its outcome."""
    n = len(t)
    key, user, kind = _per_workspace(rng, cast, ws)
    model = cast.key_model[key].copy()
    other = rng.random(n) < 0.08  # an app occasionally asks for another model
    model[other] = rng.integers(0, len(cast.models), int(other.sum()))
    domain_sizes = np.array([len(DOMAINS[w.topics]) for w in cast.workspaces])
    subject = (domain_sizes[ws] * rng.random(n) ** 2.2).astype(np.int16)
    u = rng.random(n)
    frame = np.where(u < 0.62, 0, rng.integers(1, len(FRAMES), n)).astype(np.int8)
    ref = np.where(u > 0.85, rng.integers(10_000, 99_999, n), 0).astype(np.int32)
    domains = np.array([w.topics for w in cast.workspaces])[ws]
    analysis = (domains == "analysis") | (domains == "writing")
    prompt_extra = np.where(analysis, rng.lognormal(6.0, 0.8, n), rng.lognormal(2.5, 1.0, n))
    median = np.array([w.completion_tokens for w in cast.workspaces])[ws]
    completion = np.maximum(1, median * rng.lognormal(0.0, 0.6, n)).astype(np.int32)
    fail = np.array([m.fail_rate for m in cast.models])[model]
    return Draws(
        rng=rng, cast=cast, t=t, ws=ws, key=key, user=user, model=model, kind=kind,
        subject=subject, frame=frame, ref=ref,
        variant=rng.integers(0, 1 << 30, n).astype(np.int32),
        stream=rng.random(n) < cast.key_stream[key],
        prompt_extra=prompt_extra.astype(np.int32), completion=completion,
        max_tokens=cast.key_max_tokens[key].astype(np.int32).copy(),
        slow=rng.lognormal(0.0, 0.25, n), fail_p=fail.astype(np.float64),
        hit_p=np.full(n, 0.55), missed=rng.random(n) < 0.04,
    )  # fmt: skip
