"""Build one component under the SDK's mocks (preview off) and keep what it registers: every
resource's parent, provider, dependencies, inputs and aliases, and every component's outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pulumi
import pulumi.runtime
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from deploypaths import mock_run
from deploypaths.recording import Registration

T = TypeVar("T")


class ComponentMonitor(mock_run.RecordingMonitor):
    """The program's recording monitor, also keeping every component's registered outputs."""

    def __init__(self) -> None:
        super().__init__(mock_run.CloudMocks())
        self.outputs: dict[str, dict[str, Any]] = {}

    @property
    def registered(self) -> dict[str, Registration]:
        return self.recording.registrations

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
        # Read as the engine stores them: a resource stays a reference (`{"urn": ...}`), which
        # deserializing would turn back into a resource, registering it again.
        self.outputs[request.urn] = _references_as_urns(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)

    def named(self, name: str, type_: str) -> Registration:
        matches = [r for r in self.registered.values() if r.name == name and r.type == type_]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_} named {name!r}")
        return matches[0]

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registered.values() if r.type == type_]

    def children_of(self, urn: str) -> list[Registration]:
        return [r for r in self.registered.values() if r.parent == urn]


def build(make: Callable[[], T], *, stack: str = "test") -> tuple[T, ComponentMonitor]:
    """Run `make` as a whole program of its own and wait for everything it registered."""
    monitor = ComponentMonitor()
    ROOT.set(None)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=mock_run.PROJECT, stack=stack, preview=False, monitor=monitor
    )
    made: list[T] = []
    _sync_await(run_pulumi_func(lambda: made.append(make())))
    return made[0], monitor


def declared_outputs(component: type[pulumi.ComponentResource]) -> set[str]:
    """The outputs a component class declares: its annotated public attributes."""
    return {name for name in component.__annotations__ if not name.startswith("_")}


def _references_as_urns(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_resource_sig:
            return value["urn"]
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _references_as_urns(value["value"])
        return {key: _references_as_urns(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_references_as_urns(item) for item in value]
    return value
