"""Network on its own: a VPC over three zones, public subnets behind the internet gateway,
private subnets behind one NAT."""

from __future__ import annotations

import pytest

from components.region_network import Network, NetworkArgs
from tests.support.component_monitor import build, declared_outputs

TAGS = {"environment": "test", "path": "us-east-1", "owner": "platform"}


@pytest.fixture(scope="module")
def network():
    return build(lambda: Network("us-east-1", NetworkArgs(region="us-east-1", tags=TAGS)))


def test_every_child_hangs_off_the_network(network):
    component, monitor = network
    (registered,) = monitor.of_type("deploypaths:index:Network")
    children = monitor.children_of(registered.urn)
    assert len(children) == len(monitor.registered) - 1
    for child in children:
        assert child.name.startswith("us-east-1-"), child.name
        # Built on its own there is no earlier parent to alias to.
        assert child.aliases == (), child.name


def test_subnets_are_keyed_by_zone_and_route_out_the_right_way(network):
    _, monitor = network
    subnets = {s.name: s.inputs for s in monitor.of_type("aws:ec2/subnet:Subnet")}
    assert {name: inputs["availabilityZone"] for name, inputs in subnets.items()} == {
        f"us-east-1-{kind}-{zone}": f"us-east-1{zone}"
        for kind in ("public", "private")
        for zone in "abc"
    }
    assert subnets["us-east-1-public-a"]["cidrBlock"] == "10.40.0.0/24"
    assert subnets["us-east-1-private-a"]["cidrBlock"] == "10.40.16.0/20"
    assert not subnets["us-east-1-public-a"]["mapPublicIpOnLaunch"]
    private = monitor.named("us-east-1-private-routes", "aws:ec2/routeTable:RouteTable")
    nat = monitor.named("us-east-1-nat", "aws:ec2/natGateway:NatGateway")
    assert private.inputs["routes"] == [
        {"cidrBlock": "0.0.0.0/0", "natGatewayId": "us-east-1-nat-id"}
    ]
    assert nat.inputs["subnetId"] == "us-east-1-public-a-id", nat.name
    vpc = monitor.named("us-east-1-vpc", "aws:ec2/vpc:Vpc")
    assert vpc.inputs["tags"] == {**TAGS, "Name": "us-east-1-vpc"}, vpc.name


def test_registers_exactly_what_it_exposes(network):
    component, monitor = network
    (registered,) = monitor.of_type("deploypaths:index:Network")
    outputs = monitor.outputs[registered.urn]
    assert set(outputs) == declared_outputs(Network)
    assert outputs["cidr"] == component.cidr == "10.40.0.0/16"
    assert outputs["vpc_id"] == "us-east-1-vpc-id"
    assert outputs["private_subnet_ids"] == [f"us-east-1-private-{z}-id" for z in "abc"]
