"""Shared fixtures: run the whole program under the recording mocks, from a stack file or dict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.recording import Recording
from deploypaths.stack_config import load_stack_file
from tests.support.config import flat


@pytest.fixture
def run_stack() -> Callable[..., Recording]:
    """Run the program for a stack file (`"prod"`) or a raw `deploypaths:` config dict."""

    def run(source: str | Mapping[str, Any], *, stack: str | None = None) -> Recording:
        if isinstance(source, str):
            config = load_stack_file(PROJECT_DIR / f"Pulumi.{source}.yaml", PROJECT_DIR)
            return run_program(config, stack=stack or source)
        return run_program(flat(source), stack=stack or "test")

    return run


@pytest.fixture(scope="module")
def prod() -> Recording:
    """The prod stack file's program, run once per test module that reads it."""
    return run_program(load_stack_file(PROJECT_DIR / "Pulumi.prod.yaml", PROJECT_DIR), stack="prod")
