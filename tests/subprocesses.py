"""Test helpers that run a program and check it succeeded (node vectors, circom, child Pythons).

Test code only: never imported by library code.
"""

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["PROJECT_ROOT", "run_checked", "run_json"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_checked(
    cmd: Sequence[str | Path],
    *,
    cwd: Path = PROJECT_ROOT,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> str:
    """Run ``cmd``; fail the test with its stderr unless it exits 0; return its stdout."""
    args = [str(c) for c in cmd]
    proc = subprocess.run(
        args,
        cwd=cwd,
        input=input,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{args[0]} failed: {proc.stderr or proc.stdout}"
    return proc.stdout


def run_json(cmd: Sequence[str | Path], **kwargs: Any) -> dict[str, Any]:
    """``run_checked`` and parse the last line of its stdout as a JSON object."""
    result: dict[str, Any] = json.loads(run_checked(cmd, **kwargs).strip().splitlines()[-1])
    return result
