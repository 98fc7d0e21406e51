"""Known-answer tests of the detector on injected series."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from workbench.analytics.anomalies import DetectorConfig, detect_frame

from ._series import T0, frame, mean_tokens, p95, rate, requests

SCORED = T0 + timedelta(days=21)
AT = 21 * 24 + 13  # an hour of the scored week (Monday 13:00 of week 4)


def _only(found, metric, direction):
    assert found, "nothing detected"
    assert {(a.metric, a.direction) for a in found} == {(metric, direction)}, found
    return found


def _covers(a, start_h, end_h):
    return a.start < T0 + timedelta(hours=end_h) and a.end > T0 + timedelta(hours=start_h)


def test_clean_seasonal_series_give_no_alert() -> None:
    for seed in range(3):
        n = requests(seed)
        assert detect_frame(frame("requests", n, n), since=SCORED) == []
        assert detect_frame(frame("p95_latency", p95(seed, n), n), since=SCORED) == []
        assert detect_frame(frame("error_rate", rate(seed, n, 0.02), n), since=SCORED) == []
        assert (
            detect_frame(frame("tokens_per_request", mean_tokens(seed, n), n), since=SCORED) == []
        )


def test_spike_is_an_upward_requests_alert() -> None:
    n = requests(1)
    n[AT : AT + 3] *= 4
    found = _only(detect_frame(frame("requests", n, n), since=SCORED), "requests", "up")
    assert len(found) == 1 and _covers(found[0], AT, AT + 3)
    assert found[0].severity == "critical" and found[0].value > found[0].upper


def test_outage_is_a_downward_requests_alert() -> None:
    n = requests(2)
    n[AT : AT + 6] = np.round(n[AT : AT + 6] * 0.1)
    found = _only(detect_frame(frame("requests", n, n), since=SCORED), "requests", "down")
    assert _covers(found[0], AT, AT + 6) and found[0].value < found[0].lower


def test_latency_regression_and_error_burst_go_up() -> None:
    n = requests(3)
    lat = p95(3, n)
    lat[AT : AT + 8] *= 2.5
    found = _only(detect_frame(frame("p95_latency", lat, n), since=SCORED), "p95_latency", "up")
    assert _covers(found[0], AT, AT + 8)
    p = np.full(n.size, 0.01)
    p[AT : AT + 2] = 0.3
    err = rate(3, n, p)
    found = _only(detect_frame(frame("error_rate", err, n), since=SCORED), "error_rate", "up")
    assert _covers(found[0], AT, AT + 2)


def test_cache_collapse_alerts_but_a_better_cache_does_not() -> None:
    n = requests(4)
    p = np.full(n.size, 0.35)
    p[AT : AT + 10] = 0.02
    found = detect_frame(frame("cache_hit_rate", rate(4, n, p), n), since=SCORED)
    assert _only(found, "cache_hit_rate", "down") and _covers(found[0], AT, AT + 10)
    p[AT : AT + 10] = 0.9  # direction that does not matter for a hit rate
    assert detect_frame(frame("cache_hit_rate", rate(4, n, p), n), since=SCORED) == []


def test_slow_ramp_is_caught_by_the_drift_detector() -> None:
    n = requests(5)
    scale = np.ones(n.size)
    scale[AT : AT + 72] = np.linspace(1.0, 2.0, 72)
    scale[AT + 72 :] = 2.0
    found = detect_frame(frame("tokens_per_request", mean_tokens(5, n, scale), n), since=SCORED)
    found = _only(found, "tokens_per_request", "up")
    assert _covers(found[0], AT, AT + 96)
    assert "drift" in found[0].detector
    # the level detector alone (drift off) misses it or sees it later
    no_drift = DetectorConfig(cusum_h=1e9)
    late = detect_frame(
        frame("tokens_per_request", mean_tokens(5, n, scale), n), since=SCORED, config=no_drift
    )
    assert not late or late[0].start > found[0].start


def test_rates_on_tiny_volumes_do_not_alert() -> None:
    n = np.full(28 * 24, 4.0)  # 4 requests an hour: 24 in the 6 h pool, under the 30
    p = np.full(n.size, 0.02)
    p[AT : AT + 4] = 0.6
    assert detect_frame(frame("error_rate", rate(6, n, p), n), since=SCORED) == []
    lower = DetectorConfig(min_volume={"error_rate": 5})
    found = detect_frame(frame("error_rate", rate(6, n, p), n), since=SCORED, config=lower)
    assert _only(found, "error_rate", "up")


def test_small_rates_are_judged_pooled() -> None:
    n = np.full(28 * 24, 8.0)  # 8 an hour: 4 buckets pool to the minimum of 30
    p = np.full(n.size, 0.02)
    p[AT : AT + 4] = 0.6
    found = _only(
        detect_frame(frame("error_rate", rate(6, n, p), n), since=SCORED), "error_rate", "up"
    )
    assert len(found) == 1 and _covers(found[0], AT, AT + 4)
    short = DetectorConfig(pool_window=timedelta(hours=1))  # no pooling: never judged
    assert detect_frame(frame("error_rate", rate(6, n, p), n), since=SCORED, config=short) == []


def test_persistence_needs_k_of_n_points() -> None:
    n = requests(7)
    base = mean_tokens(7, n)
    one = base.copy()
    one[AT] *= 2.0  # one bucket far out: heavy-tailed metric, persistence required
    assert detect_frame(frame("tokens_per_request", one, n), since=SCORED) == []
    two = base.copy()
    two[AT : AT + 2] *= 2.0
    found = _only(
        detect_frame(frame("tokens_per_request", two, n), since=SCORED), "tokens_per_request", "up"
    )
    assert found[0].start == T0 + timedelta(hours=AT + 1)  # alerts on the 2nd point
    strict = DetectorConfig(persist_k=3, persist_n=3)
    assert detect_frame(frame("tokens_per_request", two, n), since=SCORED, config=strict) == []


def test_stl_seasonal_baseline() -> None:
    from workbench.analytics.anomalies._metrics import metric
    from workbench.analytics.anomalies._score import score_series

    stl = DetectorConfig(seasonal="stl")
    n = requests(8)
    ts = np.array([int((T0 + timedelta(hours=i)).timestamp()) for i in range(n.size)])
    scores = score_series(ts, n, n, metric("requests"), 3600, stl)
    assert scores.regime == "weekly-stl"
    # the seasonal baseline follows the day: expected at 14:00 far above 03:00
    day = 22 * 24
    assert scores.expected[day + 14] > 3 * scores.expected[day + 3]
    assert detect_frame(frame("requests", n, n), since=SCORED, config=stl) == []
    n[AT : AT + 3] *= 4
    found = detect_frame(frame("requests", n, n), since=SCORED, config=stl)
    assert _only(found, "requests", "up") and _covers(found[0], AT, AT + 3)
