"""Build one component under the SDK's mocks (preview off) and keep what it registers: every
resource's parent, provider, dependencies, inputs and aliases, and every component's outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pulumi
import pulumi.runtime
import pulumi_aws as aws
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from deploypaths import mock_run
from deploypaths.identity import REGION_PATH
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
        return self.recording.of_type(type_)

    def children_of(self, urn: str) -> list[Registration]:
        return self.recording.children_of(urn)


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


def under_a_region(region: str = "eu-west-1") -> pulumi.ResourceOptions:
    """What RegionPath hands its infrastructure: itself as the parent, and its AWS provider.
    Call it inside `build`'s `make`."""
    parent = pulumi.ComponentResource(REGION_PATH, region)
    provider = aws.Provider(
        f"{region}-aws", region=region, opts=pulumi.ResourceOptions(parent=parent)
    )
    return pulumi.ResourceOptions(parent=parent, providers={"aws": provider})


def moved_children(monitor: ComponentMonitor, component_type: str) -> list[Registration]:
    """The children of the one component of this type built `under_a_region`, each checked to
    use the region's AWS provider and to be aliased to the URN it had as a child of the region
    (before the network, cluster and database became components)."""
    (component,) = monitor.of_type(component_type)
    (region,) = monitor.of_type(REGION_PATH)
    assert component.parent == region.urn, component.name
    children = monitor.children_of(component.urn)
    for child in children:
        assert child.provider.endswith(f"::{region.name}-aws"), child.name
        (alias,) = child.aliases
        assert alias.split("::", 2)[2] == f"{region.type}${child.type}::{child.name}", child.name
    return children


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
