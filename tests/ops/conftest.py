"""Shared fixtures of the ops command tests: `automation.select` hands out recording stand-ins
(no engine), stacks whose `up` streams engine events, and recorded updates on a file backend."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops import UserError, automation
from tests.support.ops_fixtures import FIXTURES, FakeStack, UpdatingStack


@pytest.fixture
def fake_stacks(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeStack]:
    """`automation.select(name)` hands out the FakeStack registered under `name`."""
    stacks: dict[str, FakeStack] = {}

    def select(name: str) -> FakeStack:
        if name not in stacks:
            raise UserError(f"there is no stack {name!r} in the test backend")
        return stacks[name]

    monkeypatch.setattr(automation, "select", select)
    return stacks


@pytest.fixture
def updating_stack(fake_stacks: dict[str, FakeStack]) -> Callable[..., UpdatingStack]:
    """`updating_stack(name, up_events=..., history=..., up_error=...)` registers a stack whose
    `up` plays the given engine events."""

    def make(name: str, **kwargs: Any) -> UpdatingStack:
        stack = UpdatingStack(**kwargs)
        fake_stacks[name] = stack
        return stack

    return make


@pytest.fixture
def file_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file backend in tmp_path/state (PULUMI_BACKEND_URL); returns that folder."""
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{state}")
    return state


@pytest.fixture
def recorded_local(file_backend: Path) -> Path:
    """The local stack's three recorded updates (fixtures/events-local-N.jsonl) where `ops up`
    records them for the file backend: STATE/events/local/N.jsonl. Returns that folder."""
    folder = file_backend / "events" / "local"
    folder.mkdir(parents=True)
    for source in sorted(FIXTURES.glob("events-local-*.jsonl")):
        number = source.stem.rsplit("-", 1)[-1]
        shutil.copy(source, folder / f"{number}.jsonl")
    return folder
