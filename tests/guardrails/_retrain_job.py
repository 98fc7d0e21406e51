"""The retraining that ``test_ml_train.py`` checks, as a background job.

Retraining the text heads from a fresh clone encodes ~220k tokens of training text with
MiniLM (minutes on two cores). The suite starts it in a subprocess, at ``nice`` 10, as
soon as collection shows a test needs it (``tests/conftest.py``), so it uses the CPU the
suite's I/O-bound tests (Ray start-ups, browsers, HTTP round trips) leave idle; the
``retrained`` fixture waits for it. Run alone, the fixture starts it and waits. It is the
same :func:`workbench.guardrails.ml.train.train` call in a fresh interpreter: nothing of
the test process (caches, loaded weights) is shared with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: The heads retrained (pii_ner is trained by its own recipe; its test is the eval).
CHECKS = ["prompt_injection", "jailbreak", "toxicity"]
TIMEOUT_S = 1800

_SCRIPT = (
    "import sys; from pathlib import Path; "
    "from workbench.guardrails.ml.train import train; "
    "train(sys.argv[2].split(','), Path(sys.argv[1]))"
)


@dataclass
class Job:
    out: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def wait(self) -> Path:
        """The folder of retrained weights; raises with the job's output if it failed."""
        try:
            rc = self.proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"retraining took over {TIMEOUT_S} s") from None
        if rc != 0:
            tail = self.log.read_text(errors="replace")[-4000:]
            raise AssertionError(f"retraining failed (exit {rc}):\n{tail}")
        return self.out


_job: Job | None = None


def start() -> Job:
    """Start the retraining (once per session); returns the job."""
    global _job
    if _job is None:
        out = Path(tempfile.mkdtemp(prefix="wb-retrained-"))
        log = out / "train.log"
        cmd = [sys.executable, "-c", _SCRIPT, str(out), ",".join(CHECKS)]
        if os.name == "posix":
            cmd = ["nice", "-n", "10", *cmd]
        with log.open("wb") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=Path.cwd())
        _job = Job(out, proc, log)
    return _job


def stop() -> None:
    """Kill a job nobody waited for (the session ended early)."""
    if _job is not None and _job.proc.poll() is None:
        _job.proc.kill()
        _job.proc.wait()
