"""Running the whole program on a raw config and keeping what it registered, even when it
raises: for the tests that check a refused config registers nothing."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock

import pulumi
import pytest

from deploypaths import mock_run
from deploypaths.validation import ConfigError, parse_settings


def flat(raw: Mapping[str, Any]) -> dict[str, str]:
    """Every value JSON-encoded, strings included, so the program sees exactly `raw`."""
    return {f"deploypaths:{key}": json.dumps(value) for key, value in raw.items()}


@contextlib.contextmanager
def recording_monitors() -> Iterator[list[mock_run.RecordingMonitor]]:
    """The monitors run_program creates, kept so a run that raises can still be inspected."""
    monitors: list[mock_run.RecordingMonitor] = []

    class Kept(mock_run.RecordingMonitor):
        def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
            super().__init__(mocks)
            monitors.append(self)

    with mock.patch.object(mock_run, "RecordingMonitor", Kept):
        yield monitors


def run_and_record(raw: Mapping[str, Any], stack: str) -> tuple[Exception | None, dict[str, Any]]:
    """Run the program on `raw`: the exception it raised (if any) and what it registered."""
    with recording_monitors() as monitors:
        try:
            mock_run.run_program(flat(raw), stack=stack)
        except Exception as error:  # noqa: BLE001 - the caller asserts on it
            raised: Exception | None = error
        else:
            raised = None
    (monitor,) = monitors
    return raised, dict(monitor.recording.registrations)


def assert_refused_with_nothing_registered(raw: Mapping[str, Any], stack: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack=stack)
    raised, registrations = run_and_record(raw, stack)

    assert isinstance(raised, pulumi.RunError), f"program raised {raised!r}"
    assert str(raised) == str(caught.value)
    assert registrations == {}, f"registered before refusing: {sorted(registrations)}"
