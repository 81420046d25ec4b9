"""The real `intake` command in a new process, as cron or an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def intake_command(
    *args: str, config: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline [--config CONFIG] ARGS...`, without the caller's INTAKE_ variables."""
    command = [sys.executable, "-m", "pipeline"]
    if config is not None:
        command += ["--config", str(config)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    environment.update(env or {})
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        check=False,
    )


def one_line(stderr: str) -> str:
    """The one non-blank line a command wrote (an assertion error if it wrote more)."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]
