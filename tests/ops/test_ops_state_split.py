"""`python -m ops.state_split`: a single stack's state cut into its region stacks' states."""

from __future__ import annotations

import pytest

from ops import UserError
from ops.state_split import split

ROOT = "urn:pulumi:prod::deploypaths::pulumi:pulumi:Stack::deploypaths-prod"
P = "urn:pulumi:prod::deploypaths::"
DEFAULT = P + "pulumi:providers:pulumi-python::default"
GATE = P + "deploypaths:index:HealthGate::gate-after-wave-1"
WATCH = P + "deploypaths:index:HealthGate$pulumi-python:dynamic:Resource::gate-after-wave-1-watch"


def region(name: str, gated: bool) -> list[dict]:
    path = P + f"deploypaths:index:RegionPath::{name}"
    provider = P + f"deploypaths:index:RegionPath$pulumi:providers:kubernetes::{name}-k8s"
    deployment = (
        P + f"deploypaths:index:RegionPath$kubernetes:apps/v1:Deployment::auth-{name}-deployment"
    )
    ready = P + f"deploypaths:index:RegionPath$pulumi-python:dynamic:Resource::{name}-ready"
    held = [WATCH] if gated else []
    return [
        {"urn": path, "type": "deploypaths:index:RegionPath", "custom": False, "parent": ROOT},
        {
            "urn": provider,
            "type": "pulumi:providers:kubernetes",
            "custom": True,
            "id": "p1",
            "parent": path,
            "dependencies": held,
        },
        {
            "urn": deployment,
            "type": "kubernetes:apps/v1:Deployment",
            "custom": True,
            "id": f"app/auth-{name}",
            "parent": path,
            "provider": f"{provider}::p1",
            "outputs": {"owner": path},
        },
        {
            "urn": ready,
            "type": "pulumi-python:dynamic:Resource",
            "custom": True,
            "parent": path,
            "provider": f"{DEFAULT}::d1",
            "dependencies": [deployment],
            "propertyDependencies": {"after": [deployment]},
        },
    ]


def single_stack() -> dict:
    first, second = region("us-east-1", False), region("eu-west-1", True)
    return {
        "manifest": {"version": "v3.259.0"},
        "resources": [
            {"urn": ROOT, "type": "pulumi:pulumi:Stack", "custom": False, "outputs": {"x": 1}},
            {"urn": DEFAULT, "type": "pulumi:providers:pulumi-python", "custom": True, "id": "d1"},
            *first,
            {"urn": GATE, "type": "deploypaths:index:HealthGate", "custom": False, "parent": ROOT},
            {
                "urn": WATCH,
                "type": "pulumi-python:dynamic:Resource",
                "custom": True,
                "parent": GATE,
                "provider": f"{DEFAULT}::d1",
                "dependencies": [first[-1]["urn"]],
                "propertyDependencies": {"alarms": [first[-1]["urn"]]},
            },
            *second,
        ],
    }


def names(state: dict) -> list[str]:
    return [r["urn"].rsplit("::", 1)[-1] for r in state["resources"]]


def test_each_region_stack_gets_its_region_its_gate_and_the_providers_they_use():
    states = split(single_stack(), environment_stack="prod", waves=[["us-east-1"], ["eu-west-1"]])
    assert list(states) == ["prod-us-east-1", "prod-eu-west-1"]
    first, second = states["prod-us-east-1"], states["prod-eu-west-1"]
    assert first["manifest"] == {"version": "v3.259.0"}
    assert names(first) == [
        "deploypaths-prod-us-east-1",
        "default",
        "us-east-1",
        "us-east-1-k8s",
        "auth-us-east-1-deployment",
        "us-east-1-ready",
    ]
    assert names(second) == [
        "deploypaths-prod-eu-west-1",
        "default",
        "gate-after-wave-1",
        "gate-after-wave-1-watch",
        "eu-west-1",
        "eu-west-1-k8s",
        "auth-eu-west-1-deployment",
        "eu-west-1-ready",
    ]
    urns = {r["urn"] for r in second["resources"]}
    assert all(urn.startswith("urn:pulumi:prod-eu-west-1::deploypaths::") for urn in urns)
    by_name = {r["urn"].rsplit("::", 1)[-1]: r for r in second["resources"]}
    # Top-level resources hang off the new root; references point at the moved URNs.
    assert by_name["eu-west-1"]["parent"] == (
        "urn:pulumi:prod-eu-west-1::deploypaths::pulumi:pulumi:Stack::deploypaths-prod-eu-west-1"
    )
    assert by_name["eu-west-1-k8s"]["dependencies"] == [by_name["gate-after-wave-1-watch"]["urn"]]
    assert by_name["auth-eu-west-1-deployment"]["provider"] == by_name["eu-west-1-k8s"]["urn"] + (
        "::p1"
    )
    assert by_name["auth-eu-west-1-deployment"]["outputs"] == {"owner": by_name["eu-west-1"]["urn"]}
    # The gate no longer waits for the previous wave's resources: they are in another stack.
    watch = by_name["gate-after-wave-1-watch"]
    assert watch["dependencies"] == [] and watch["propertyDependencies"] == {"alarms": []}
    for state in states.values():
        for resource in state["resources"]:
            for urn in resource.get("dependencies", []):
                assert urn in {r["urn"] for r in state["resources"]}, resource["urn"]


def test_a_state_the_config_does_not_describe_is_refused():
    with pytest.raises(UserError) as raised:
        split(single_stack(), environment_stack="prod", waves=[["us-east-1"]])
    assert str(raised.value) == (
        "stack prod holds regions its config does not list: eu-west-1; deploy the single stack "
        "once with the current config first"
    )
    pending = {**single_stack(), "pending_operations": [{"type": "creating"}]}
    with pytest.raises(UserError) as raised:
        split(pending, environment_stack="prod", waves=[["us-east-1"], ["eu-west-1"]])
    assert "has pending operations (an interrupted update)" in str(raised.value)
