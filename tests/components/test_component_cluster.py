"""Cluster on its own: an EKS control plane, a node group and Container Insights, built under
a parent with the region's provider, as RegionPath builds it."""

from __future__ import annotations

import json

import pytest

from components.region_cluster import Cluster, ClusterArgs
from tests.support.component_monitor import (
    build,
    declared_outputs,
    moved_children,
    under_a_region,
)

SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]


def cluster_under_a_region(protected: bool):
    def make() -> Cluster:
        return Cluster(
            "eu-west-1",
            ClusterArgs(
                region="eu-west-1",
                version="1.31",
                node_instance_type="t3.large",
                node_count=3,
                subnet_ids=SUBNETS,
                tags={"path": "eu-west-1"},
                protected=protected,
            ),
            under_a_region(),
        )

    return build(make)


@pytest.fixture(scope="module")
def protected():
    return cluster_under_a_region(protected=True)


def test_children_use_the_regions_provider_and_keep_their_urns_under_the_region(protected):
    _, monitor = protected
    assert len(moved_children(monitor, "deploypaths:index:Cluster")) == 10


def test_only_the_control_plane_is_protected_and_it_waits_for_its_policy(protected):
    _, monitor = protected
    eks = monitor.named("eu-west-1-eks", "aws:eks/cluster:Cluster")
    assert eks.protect and eks.retain_on_delete, eks.name
    policy = monitor.named(
        "eu-west-1-cluster-policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    )
    assert policy.urn in eks.dependencies, eks.name
    assert eks.inputs["vpcConfig"]["subnetIds"] == SUBNETS, eks.name
    others = [r.name for r in monitor.registered.values() if r.protect and r.urn != eks.urn]
    assert others == []
    unprotected = cluster_under_a_region(protected=False)[1]
    assert not unprotected.named("eu-west-1-eks", "aws:eks/cluster:Cluster").protect


def test_nodes_wait_for_every_node_policy_and_insights_for_the_nodes(protected):
    _, monitor = protected
    nodes = monitor.named("eu-west-1-nodes", "aws:eks/nodeGroup:NodeGroup")
    policies = {
        r.urn
        for r in monitor.registered.values()
        if r.name.startswith("eu-west-1-node-") and r.name != "eu-west-1-node-role"
    }
    assert len(policies) == 4
    assert policies <= set(nodes.dependencies), nodes.name
    assert nodes.inputs["scalingConfig"] == {"desiredSize": 3, "minSize": 3, "maxSize": 6}
    insights = monitor.named("eu-west-1-container-insights", "aws:eks/addon:Addon")
    assert nodes.urn in insights.dependencies, insights.name


def test_registers_exactly_what_it_exposes_and_the_kubeconfig_holds_no_token(protected):
    component, monitor = protected
    (cluster,) = monitor.of_type("deploypaths:index:Cluster")
    outputs = monitor.outputs[cluster.urn]
    assert set(outputs) == declared_outputs(Cluster)
    assert outputs["cluster_name"] == "eu-west-1-eks"
    kubeconfig = json.loads(outputs["kubeconfig"])
    (user,) = kubeconfig["users"]
    assert user["user"]["exec"]["args"][-2:] == ["--region", "eu-west-1"]
    assert "token" not in user["user"]
