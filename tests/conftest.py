"""Shared fixtures: run the whole program under the recording mocks, from a stack file or dict."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from deploypaths.stack_config import load_stack_file
from ops.mock_run import PROJECT_DIR, Recording, run_program


def flat(raw: Mapping[str, Any]) -> dict[str, str]:
    """`{"regions": [...]}` -> the flat, string-valued config the engine hands a program."""
    return {
        f"deploypaths:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in raw.items()
    }


@pytest.fixture
def run_stack() -> Callable[..., Recording]:
    """Run the program for a stack file (`"prod"`) or a raw `deploypaths:` config dict."""

    def run(source: str | Mapping[str, Any], *, stack: str | None = None) -> Recording:
        if isinstance(source, str):
            config = load_stack_file(PROJECT_DIR / f"Pulumi.{source}.yaml", PROJECT_DIR)
            return run_program(config, stack=stack or source)
        return run_program(flat(source), stack=stack or "test")

    return run
