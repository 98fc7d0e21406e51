"""The cost rollup answers the suggestions exactly as the raw rows do (hand-made lake)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workbench.analytics.cost import suggest
from workbench.config.gateway import parse_config
from workbench.logstore._rollup_cost import cost_dir

from ._logs import chat, record, write

T0 = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 20, 14, 0, tzinfo=UTC)
KINDS = ("exact_cache", "max_tokens", "cheaper_model")


def _config() -> Any:
    common = {"provider": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"}
    return parse_config(
        {
            "models": [
                {"name": "gpt-4o", "model": "gpt-4o", **common},
                {"name": "mini", "model": "gpt-4o-mini", **common},
            ]
        }
    )


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return T0 + timedelta(hours=hour, minutes=minute, seconds=second)


def _first_batch() -> list[dict[str, Any]]:
    recs = [  # key A: hours 0, 1 and 2 (costs .01, .02, .04); first = .01
        record(_at(0, 50), body=chat("refund order 1234"), cost_usd=0.01, request_id="a1"),
        record(_at(1, 10), body=chat("refund order 1234"), cost_usd=0.02, request_id="a2"),
        record(_at(2, 30), body=chat("refund order 1234", user="u9"), cost_usd=0.04,
               request_id="a3"),
        # key B: two requests at one instant (the cheaper one fills the entry), one later
        record(_at(1, 20), body=chat("hello"), cost_usd=0.05, request_id="b2"),
        record(_at(1, 20), body=chat("hello"), cost_usd=0.03, request_id="b1"),
        record(_at(3, 5), body=chat("hello"), cost_usd=0.07, request_id="b3"),
        # not cacheable traffic: a cache hit, an error, a body that is not JSON
        record(_at(1, 30), body=chat("hello"), cache_status="hit", cost_usd=0.0),
        record(_at(1, 31), body=chat("hello"), status="error", cost_usd=0.5),
        record(_at(1, 32), request_original="not json", request_body="not json"),
        record(_at(1, 33), request_original="not json", request_body="not json"),
        # key C: a different model, same text: never the same key as B
        record(_at(2, 0), body=chat("hello"), model_served="gpt-4o-mini", cost_usd=0.001),
    ]  # fmt: skip
    for i in range(30):  # max_tokens: k-big asks 4000 and uses 10..39 tokens
        recs.append(
            record(_at(i % 4, 40, i), key_id="k-big", max_tokens=4000, completion_tokens=10 + i)
        )
    for i in range(24):  # short traffic on gpt-4o, a cheaper model is configured
        recs.append(
            record(_at(i % 5, 0, i), body=chat(f"short {i}"), prompt_tokens=100,
                   completion_tokens=50, cost_usd=0.00075 + i * 1e-6)
        )  # fmt: skip
    return recs


def _second_batch() -> list[dict[str, Any]]:
    """A later writer session: more files in the same hours (a merge across files)."""
    return [
        record(_at(1, 10), body=chat("refund order 1234"), cost_usd=0.02, request_id="a0"),
        record(_at(3, 45), body=chat("hello"), cost_usd=0.01, request_id="b4"),
        record(_at(4, 59), body=chat("refund order 1234"), cost_usd=0.03, request_id="a4"),
    ]


def _lake(wb_home: Path) -> Path:
    root = wb_home / "logs"
    write(root, _first_batch())
    write(root, _second_batch())
    return root


def _same(a: Any, b: Any) -> None:
    assert [s.kind for s in a.items] == [s.kind for s in b.items]
    for x, y in zip(a.items, b.items, strict=True):
        assert x.requests == y.requests and x.examples == y.examples
        assert x.data.keys() == y.data.keys()
        for k, v in x.data.items():  # float sums in another order: equal to 1e-12
            assert v == (pytest.approx(y.data[k], rel=1e-12) if isinstance(v, float) else y.data[k])
        assert x.usd_window == pytest.approx(y.usd_window, rel=1e-12)
        assert x.title == y.title and x.detail == y.detail
    assert a.requests_analysed == b.requests_analysed


def test_known_answer_whole_lake(wb_home: Path) -> None:
    root = _lake(wb_home)
    assert len(list(cost_dir(root).glob("date=*/hour=*/*.parquet"))) >= 6  # two sessions
    got = suggest(since="1d", now=NOW, kinds=KINDS, config=_config())
    exact = next(s for s in got.items if s.kind == "exact_cache")
    # A: a0 .02 (first of hour 1 by cost? no: a1 at 0:50 is first) -> hits a0, a2, a3, a4
    # saving A = .02 + .02 + .04 + .03; B: b1 fills, hits b2 .05, b3 .07, b4 .01
    assert exact.requests == 4 + 3
    assert exact.usd_window == pytest.approx(0.11 + 0.13)
    assert exact.data == {"distinct_repeated_requests": 2}
    assert exact.examples == ["b1", "b2", "a1", "a0"]  # B saves .13 > A .11
    _same(got, suggest(since="1d", now=NOW, kinds=KINDS, config=_config(), rollup=False))


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (_at(1, 15), _at(3, 50)),  # edges cut hours 1 and 3
        (_at(1, 0), _at(3, 0)),  # whole hours only
        (_at(0, 55), None),  # to NOW
    ],
)
def test_rollup_equals_raw_rows(wb_home: Path, since: datetime, until: datetime | None) -> None:
    _lake(wb_home)
    args = {"since": since, "until": until, "now": NOW, "kinds": KINDS, "config": _config()}
    rolled = suggest(**args, min_requests=5)
    assert {s.kind for s in rolled.items} >= {"exact_cache", "max_tokens"}
    _same(rolled, suggest(**args, min_requests=5, rollup=False))


def test_hour_without_rollup_reads_raw_rows(wb_home: Path) -> None:
    root = _lake(wb_home)
    for path in (cost_dir(root) / "date=2026-05-20" / "hour=10").glob("*.parquet"):
        path.unlink()  # a lake written before the rollup, or a file in flight
    args = {"since": "1d", "now": NOW, "kinds": KINDS, "config": _config()}
    _same(suggest(**args), suggest(**args, rollup=False))


def test_writer_open_backfills_the_rollup(wb_home: Path) -> None:
    from workbench.logstore import LogWriter

    root = _lake(wb_home)
    before = sorted(p.relative_to(cost_dir(root)) for p in cost_dir(root).rglob("*.parquet"))
    for path in cost_dir(root).rglob("*.parquet"):
        path.unlink()
    LogWriter(root).close()  # repair on open writes every missing rollup file
    after = sorted(p.relative_to(cost_dir(root)) for p in cost_dir(root).rglob("*.parquet"))
    assert after == before


def test_other_short_limits_read_raw_rows(wb_home: Path) -> None:
    _lake(wb_home)
    args = {"since": "1d", "now": NOW, "kinds": ["cheaper_model"], "config": _config()}
    got = suggest(**args, short_limits=(50, 200))  # not the rollup's limits: raw rows
    assert got.items[0].requests == 66 - 24  # the 24 with 100 prompt tokens are out
    assert suggest(**args).items[0].requests == 66
    _same(got, suggest(**args, short_limits=(50, 200), rollup=False))
    _same(suggest(**args), suggest(**args, rollup=False))


def test_day_files_answer_like_raw_rows(wb_home: Path) -> None:
    from workbench.logstore import _rollup_cost as rc

    root = _lake(wb_home)
    later = datetime(2026, 5, 22, tzinfo=UTC)
    assert rc.roll_up_day(root, "2026-05-20", now=later)
    assert not rc.roll_up_day(root, "2026-05-20", now=later)  # current: kept
    assert len(list(rc.cost_day_dir(root).rglob("*.parquet"))) == 1
    args = {"since": "2026-05-19", "until": "2026-05-21", "now": later, "kinds": KINDS,
            "config": _config(), "min_requests": 5}  # fmt: skip
    from workbench.analytics.cost._rolled import plan
    from workbench.analytics.cost._window import Window

    used = plan(Window.of(args["since"], args["until"], later), root.resolve()).whole
    assert [p.parent.parent.name for p in used] == ["cost_day"]  # one file for the day
    got = suggest(**args)
    _same(got, suggest(**args, rollup=False))
    exact = next(s for s in got.items if s.kind == "exact_cache")
    assert exact.examples == ["b1", "b2", "a1", "a0"]
    assert not rc.roll_up_day(root, "2026-05-21", now=later)  # no data that day
