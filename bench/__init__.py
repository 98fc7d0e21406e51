"""Benchmarks for the gateway: commands that print their figures (see bench/README.md).

- ``bench.fake_upstream``: an OpenAI-compatible server with a fixed delay.
- ``bench.passthrough``: the floor, a minimal aiohttp pass-through proxy.
- ``bench.loadgen``: an async load generator (p50, p99, req/s, errors).
- ``bench.gateway_overhead``: direct vs floor vs LiteLLM's proxy vs our gateway.
- ``bench.batching``: local-replica tokens/s with dynamic batching vs batch size 1.

Everything binds to 127.0.0.1 only, runs a bounded number of requests and stops
the processes it started.
"""
