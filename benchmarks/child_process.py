"""A measurement in a fresh interpreter: the request goes in as JSON on stdin, the result comes
back as a JSON object on the last line of stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_child(
    arguments: list[str], request: dict[str, Any], *, timeout: float
) -> tuple[dict[str, Any], str]:
    """`python <arguments>` with `request`: its result and its stderr, or RuntimeError saying why
    there is no result (a timeout, or no JSON line: then the end of its stderr)."""
    try:
        completed = subprocess.run(
            [sys.executable, *arguments],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"did not finish in {timeout:.0f}s") from None
    try:
        result = json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"exited {completed.returncode}:\n{tail}") from None
    return dict(result), completed.stderr
