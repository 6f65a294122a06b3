"""Barrier on its own: one resource that waits for every member, so a waiter needs one edge."""

from __future__ import annotations

import pulumi
import pytest

from components.barrier import Barrier, BarrierArgs, _BarrierProvider
from tests.support.component_monitor import build

BARRIER = "pulumi-python:dynamic:Resource"


def barrier_of(members: int):
    def make() -> Barrier:
        region = pulumi.ComponentResource("deploypaths:index:RegionPath", "eu-west-1")
        deployments = [
            pulumi.CustomResource("test:index:Deployment", f"orders-{index}")
            for index in range(members)
        ]
        return Barrier(
            "eu-west-1-services-ready",
            BarrierArgs(members=deployments),
            pulumi.ResourceOptions(parent=region),
        )

    return build(make)


@pytest.fixture(scope="module")
def barrier():
    return barrier_of(3)


def test_waits_for_every_member_and_nothing_else(barrier):
    _, monitor = barrier
    registered = monitor.named("eu-west-1-services-ready", BARRIER)
    members = {r.urn for r in monitor.of_type("test:index:Deployment")}
    assert len(members) == 3
    assert set(registered.dependencies) == members, registered.name
    assert len(registered.dependencies) == 3, registered.name


def test_hangs_off_its_parent_and_is_labelled_by_its_name(barrier):
    _, monitor = barrier
    registered = monitor.named("eu-west-1-services-ready", BARRIER)
    (region,) = monitor.of_type("deploypaths:index:RegionPath")
    assert registered.parent == region.urn, registered.name
    assert registered.custom, registered.name
    assert {k: v for k, v in registered.inputs.items() if k != "__provider"} == {
        "label": "eu-west-1-services-ready"
    }, registered.name
    # A custom resource: it registers no component outputs.
    assert registered.urn not in monitor.outputs, registered.name


def test_keeps_the_callers_own_dependencies():
    def make() -> Barrier:
        gate = pulumi.CustomResource("test:index:Gate", "gate-0")
        member = pulumi.CustomResource("test:index:Deployment", "orders-0")
        return Barrier(
            "eu-west-1-services-ready",
            BarrierArgs(members=[member]),
            pulumi.ResourceOptions(depends_on=[gate]),
        )

    _, monitor = build(make)
    registered = monitor.named("eu-west-1-services-ready", BARRIER)
    expected = {
        monitor.named("gate-0", "test:index:Gate").urn,
        monitor.named("orders-0", "test:index:Deployment").urn,
    }
    assert set(registered.dependencies) == expected, registered.name


def test_an_empty_barrier_waits_for_nothing():
    _, monitor = barrier_of(0)
    registered = monitor.named("eu-west-1-services-ready", BARRIER)
    assert registered.dependencies == (), registered.name


def test_changes_only_when_renamed():
    provider = _BarrierProvider()
    same = provider.diff("a", {"label": "a"}, {"label": "a"})
    renamed = provider.diff("a", {"label": "a"}, {"label": "b"})
    assert (same.changes, renamed.changes) == (False, True)
    assert provider.create({"label": "a"}).id == "a"
