"""Where the Serve replicas run and how many there are, read from Serve's controller.

``python -m bench._serve_watch --app gateway [--interval 1.0] [--once]`` connects to the
cluster named by ``RAY_ADDRESS`` (with the cluster's auth token in the environment) and
prints one JSON line per poll::

    {"t": 1764550000.1, "deployments": {"Gateway": {"target": 2, "status": "HEALTHY",
      "scaling": "UPSCALING", "replicas": [["RUNNING", "127.0.0.2"], ...]}, ...}}

It runs as its own process so that the benchmark's load generator does not share a GIL
with a Ray driver parsing controller replies. It stops on SIGTERM/SIGINT or when its
stdout closes.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from typing import Any

__all__ = ["snapshot"]


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))


def snapshot(details: dict[str, Any], app: str) -> dict[str, Any]:
    """The compact view of ``get_serve_details()`` for application ``app``."""
    deps = ((details.get("applications") or {}).get(app) or {}).get("deployments") or {}
    out: dict[str, Any] = {}
    for name, dep in deps.items():
        auto = dep.get("autoscaling_detail") or {}
        out[name] = {
            "target": dep.get("target_num_replicas"),
            "status": _name(dep.get("status")),
            "scaling": _name(auto.get("scaling_status")) if auto else None,
            "replicas": [
                [_name(r.get("state")), r.get("node_ip")] for r in dep.get("replicas") or []
            ],
        }
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench._serve_watch")
    p.add_argument("--app", default="gateway")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--once", action="store_true")
    a = p.parse_args(argv)
    import ray
    from ray.serve.context import _connect

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ray.init(log_to_driver=False, logging_level=logging.WARNING, namespace="bench-watch")
    client = _connect()
    try:
        while True:
            t = time.time()
            view = snapshot(client.get_serve_details(), a.app)
            print(json.dumps({"t": round(t, 3), "deployments": view}), flush=True)
            if a.once:
                return
            time.sleep(max(0.0, a.interval - (time.time() - t)))
    except (BrokenPipeError, KeyboardInterrupt):
        return
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
