"""Build one component under the SDK's mocks (preview off) and keep what it registers: every
resource's parent, provider, dependencies, inputs and aliases, and every component's outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
import pulumi.runtime
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from deploypaths import mock_run

T = TypeVar("T")


@dataclass(frozen=True)
class Registered:
    """One RegisterResource request, as the engine receives it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    provider: str
    inputs: dict[str, Any]
    # The URNs the resource had before, as the engine resolves its aliases.
    aliases: tuple[str, ...]
    protect: bool
    retain_on_delete: bool


def alias_urns(monitor: mocks.MockMonitor, request: Any) -> tuple[str, ...]:
    """The engine's reading of alias specs: a name or type left empty is the resource's own, a
    parent left empty is its current parent, `noParent` is the top of the stack."""
    urns = []
    for alias in request.aliases:
        if alias.urn:
            urns.append(alias.urn)
            continue
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        urns.append(monitor.make_urn(parent, spec.type or request.type, spec.name or request.name))
    return tuple(urns)


class ComponentMonitor(mocks.MockMonitor):
    """A MockMonitor that keeps every registration and every component's registered outputs."""

    def __init__(self) -> None:
        super().__init__(mock_run.CloudMocks())
        self.registered: dict[str, Registered] = {}
        self.outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered[response.urn] = Registered(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                dependencies=tuple(request.dependencies),
                provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
                inputs=rpc.deserialize_properties(request.object),
                aliases=alias_urns(self, request),
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
        # Read as the engine stores them: a resource stays a reference (`{"urn": ...}`), which
        # deserializing would turn back into a resource, registering it again.
        self.outputs[request.urn] = _references_as_urns(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)

    def named(self, name: str, type_: str) -> Registered:
        matches = [r for r in self.registered.values() if r.name == name and r.type == type_]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_} named {name!r}")
        return matches[0]

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.registered.values() if r.type == type_]

    def children_of(self, urn: str) -> list[Registered]:
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


def monitor_keeping_aliases(into: dict[str, tuple[str, ...]]) -> type[mock_run.RecordingMonitor]:
    """The program runner's monitor, also putting the aliases of every resource `into`."""

    class AliasRecordingMonitor(mock_run.RecordingMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
            response = super().RegisterResource(request)
            into[response.urn] = alias_urns(self, request)
            return response

    return AliasRecordingMonitor


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
