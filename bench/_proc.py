"""Process plumbing shared by the benchmarks.

Free loopback ports, starting a server as a subprocess in its own session (so a
Ctrl-C in the terminal reaches only the driver, which then stops its children in
order), waiting for HTTP readiness, the CPU seconds of a process tree, and
stopping a tree for good (first signal to the leader, then the group, then every
descendant that was seen).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

try:  # psutil ships with ray; fall back to /proc when it is absent
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None  # type: ignore[assignment]

LOOPBACK = "127.0.0.1"
# Loopback must never go through an HTTP proxy from the environment.
NO_PROXY_ENV = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


class BenchError(RuntimeError):
    """A benchmark leg could not run (start-up failed, not ready in time, ...)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def install_uvloop() -> bool:
    """Use uvloop's event loop when it is installed; say whether it is."""
    try:
        import uvloop
    except ImportError:
        return False
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def load_average() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews the figures)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


# ---------------------------------------------------------------- CPU accounting
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime+stime seconds) from /proc/<pid>/stat, or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces
    rest = raw[raw.rfind(")") + 2 :].split()
    ppid = int(rest[1])
    utime, stime = int(rest[11]), int(rest[12])
    return ppid, (utime + stime) / _CLK_TCK


def descendant_pids(root: int) -> list[int]:
    if psutil is not None:
        try:
            return [c.pid for c in psutil.Process(root).children(recursive=True)]
        except psutil.Error:
            return []
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    out: list[int] = []
    stack = [root]
    while stack:
        for c in children.get(stack.pop(), []):
            out.append(c)
            stack.append(c)
    return out


def tree_cpu_seconds(root: int) -> float:
    """User+system CPU seconds of a process and all its live descendants."""
    total = 0.0
    for pid in [root, *descendant_pids(root)]:
        if psutil is not None:
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        else:
            st = _proc_stat(pid)
            if st is not None:
                total += st[1]
    return total


# ---------------------------------------------------------------- subprocesses
class Proc:
    """A server started by a benchmark; ``stop()`` ends it and its whole tree."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self._seen: set[int] = set()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """CPU seconds of the tree so far (also remembers descendants for stop())."""
        self._seen.update(descendant_pids(self.pid))
        return tree_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, first: signal.Signals = signal.SIGTERM, grace_s: float = 10.0) -> None:
        """Signal the leader, then the process group, then any descendant left."""
        self._seen.update(descendant_pids(self.pid))
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(first)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace_s)
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            if not self.alive() and not self._group_alive():
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and (self.alive() or self._group_alive()):
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(2.0)
        self._kill_leftovers()

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _kill_leftovers(self) -> None:
        """Descendants that left the group (setsid) but are still ours."""
        if psutil is None:
            for pid in self._seen:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            return
        procs = []
        for pid in self._seen:
            with contextlib.suppress(psutil.Error):
                procs.append(psutil.Process(pid))
        for p in procs:
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs(procs, timeout=3)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    drop_env: Sequence[str] = (),
) -> Proc:
    """Start ``argv`` in a new session, stdout+stderr to ``log_dir/<name>.log``."""
    log_path = Path(log_dir) / f"{name}.log"
    full_env = {**os.environ, **NO_PROXY_ENV, **(env or {})}
    for k in drop_env:
        full_env.pop(k, None)
    with open(log_path, "wb") as log:
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise BenchError(f"{name}: cannot start {argv[0]!r}: {exc}") from exc
    return Proc(name, popen, log_path)


def python_module_argv(module: str, *args: str) -> list[str]:
    """argv that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


# ---------------------------------------------------------------- HTTP readiness
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET that never goes through a proxy; (0, b"") if refused."""
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, ValueError):
        return 0, b""


def wait_ready(
    proc: Proc,
    url: str,
    *,
    timeout_s: float,
    ok: Callable[[int, bytes], bool] | None = None,
) -> float:
    """Poll ``url`` until ``ok(status, body)`` (default: 200); seconds it took."""
    check = ok or (lambda status, _body: status == 200)
    t0 = time.monotonic()
    last = (0, b"")
    while time.monotonic() - t0 < timeout_s:
        if not proc.alive():
            raise BenchError(
                f"{proc.name} exited with code {proc.popen.returncode} before it was ready; "
                f"log {proc.log_path}:\n{proc.log_tail()}"
            )
        last = http_get(url)
        if check(*last):
            return time.monotonic() - t0
        time.sleep(0.25)
    raise BenchError(
        f"{proc.name} not ready at {url} after {timeout_s:.0f} s "
        f"(last status {last[0]}, body {last[1][:200]!r}); log {proc.log_path}:\n"
        f"{proc.log_tail()}"
    )


def json_status_is(status: int, body: bytes, key: str, value: str) -> bool:
    """True when the response is 200 and its JSON has ``body[key] == value``."""
    if status != 200:
        return False
    try:
        return json.loads(body).get(key) == value
    except (ValueError, AttributeError):
        return False


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt, so cleanup (finally) runs.

    SIGINT is set explicitly: a process started in the background by a
    non-interactive shell inherits it ignored, and Ctrl-C / kill -INT would do nothing.
    """

    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)}
    old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
