"""The `fake_stacks` fixture: `automation.select` hands out recording stand-ins, no engine."""

from __future__ import annotations

import pytest
from ops_fixtures import FakeStack

from ops import UserError, automation


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
