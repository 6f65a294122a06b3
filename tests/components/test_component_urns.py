"""Moving resources into components keeps their identity: every URN the dev, prod and local
stacks registered before the network, cluster and database became components is registered
again or aliased by the resource that took its place (else the engine would replace it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The URNs the program registered under the mocks before the change (as the mocks spell URNs).
BEFORE = json.loads((Path(__file__).parent / "fixtures/urns_before_components.json").read_text())
NEW_COMPONENTS = {
    "deploypaths:index:Network",
    "deploypaths:index:Cluster",
    "deploypaths:index:Database",
    # Each region's dashboard and notifications (issue 19).
    "deploypaths:index:RegionDashboard",
    "deploypaths:index:Notifications",
}
# Resources added since, with no earlier URN to keep: who may reach the pods (issue 18), each
# region's dashboard and who hears of its alarms (issue 19).
NEW_RESOURCES = {
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sns/topic:Topic",
}


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_earlier_urn_is_registered_or_aliased(run_stack, stack):
    recording = run_stack(stack)
    aliases = {urn: r.aliases for urn, r in recording.registrations.items()}
    known = set(recording.registrations) | {alias for urns in aliases.values() for alias in urns}
    lost = [urn for urn in BEFORE[stack] if urn not in known]
    assert not lost, "these resources would be replaced:\n" + "\n".join(lost)
    taken = [alias for urns in aliases.values() for alias in urns if alias in BEFORE[stack]]
    assert len(taken) == len(set(taken)), "two resources claim the same earlier URN"
    new = [
        f"{r.type} {r.name}"
        for urn, r in recording.registrations.items()
        if urn not in BEFORE[stack] and not set(aliases[urn]) & set(BEFORE[stack])
    ]
    assert all(entry.split()[0] in NEW_COMPONENTS | NEW_RESOURCES for entry in new), new


def test_moved_resources_keep_their_name_type_and_options(run_stack):
    recording = run_stack("prod")
    aliases = {urn: r.aliases for urn, r in recording.registrations.items()}
    vpc = recording.named("eu-west-1-vpc")
    assert aliases[vpc.urn] == (
        "urn:pulumi:stack::project::deploypaths:index:RegionPath$aws:ec2/vpc:Vpc::eu-west-1-vpc",
    ), vpc.name
    network = recording.registrations[vpc.parent]
    assert (network.type, network.name) == ("deploypaths:index:Network", "eu-west-1")
    assert recording.registrations[network.parent].type == "deploypaths:index:RegionPath"
    assert vpc.provider.endswith("::eu-west-1-aws"), vpc.name
    database = recording.named("eu-west-1-db")
    assert database.protect and database.retain_on_delete, database.name
    assert recording.registrations[database.parent].type == "deploypaths:index:Database"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_child_of_a_component_starts_with_the_components_name(run_stack, stack):
    """docs/code-layout.md's shape, and what lets an alias on a component carry its children:
    the engine renames a child with its parent only when the child's name starts with it."""
    registrations = run_stack(stack).registrations
    strays = [
        f"{parent.name} > {r.name}"
        for r in registrations.values()
        if (parent := registrations.get(r.parent)) is not None
        and parent.type.startswith("deploypaths:")
        and not r.name.startswith(parent.name)
    ]
    assert registrations and not strays, strays
