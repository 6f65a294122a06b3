"""Database on its own: an Aurora cluster behind its firewall, subnet group and parameter
group, with one instance per setting, built under a parent with the region's provider, as
RegionPath builds it."""

from __future__ import annotations

import pytest

from components.region_database import Database, DatabaseArgs
from tests.support.component_monitor import (
    build,
    declared_outputs,
    moved_children,
    under_a_region,
)

SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
TAGS = {"path": "eu-west-1"}
PROTECTED_TYPES = {
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup",
    "aws:rds/cluster:Cluster",
    "aws:rds/clusterInstance:ClusterInstance",
}


def database_under_a_region(protected: bool):
    def make() -> Database:
        return Database(
            "eu-west-1",
            DatabaseArgs(
                environment="test",
                engine_version="16.4",
                instance_class="db.t4g.medium",
                instances=2,
                database_name="orders",
                username="orders_admin",
                backup_retention_days=3,
                vpc_id="vpc-1",
                vpc_cidr="10.40.0.0/16",
                subnet_ids=SUBNETS,
                tags=TAGS,
                protected=protected,
            ),
            under_a_region(),
        )

    return build(make)


@pytest.fixture(scope="module")
def protected():
    return database_under_a_region(protected=True)


@pytest.fixture(scope="module")
def unprotected():
    return database_under_a_region(protected=False)


def test_children_use_the_regions_provider_and_keep_their_urns_under_the_region(protected):
    _, monitor = protected
    children = moved_children(monitor, "deploypaths:index:Database")
    assert sorted(child.name for child in children) == [
        "eu-west-1-db",
        "eu-west-1-db-0",
        "eu-west-1-db-1",
        "eu-west-1-db-params",
        "eu-west-1-db-sg",
        "eu-west-1-db-subnets",
    ]
    for child in children:
        assert child.inputs["tags"] == TAGS, child.name


def test_the_data_is_protected_and_the_firewall_is_not(protected):
    _, monitor = protected
    for child in monitor.registered.values():
        kept = child.type in PROTECTED_TYPES
        assert child.protect == kept and child.retain_on_delete == kept, child.name
    cluster = monitor.named("eu-west-1-db", "aws:rds/cluster:Cluster")
    assert cluster.inputs["deletionProtection"] is True, cluster.name


def test_nothing_is_protected_outside_prod(unprotected):
    _, monitor = unprotected
    kept = [r.name for r in monitor.registered.values() if r.protect or r.retain_on_delete]
    assert kept == []
    cluster = monitor.named("eu-west-1-db", "aws:rds/cluster:Cluster")
    assert cluster.inputs["deletionProtection"] is False, cluster.name


def test_the_cluster_is_encrypted_reachable_from_the_vpc_only_and_keeps_a_final_snapshot(
    protected,
):
    _, monitor = protected
    firewall = monitor.named("eu-west-1-db-sg", "aws:ec2/securityGroup:SecurityGroup")
    assert firewall.inputs["vpcId"] == "vpc-1", firewall.name
    (ingress,) = firewall.inputs["ingress"]
    assert ingress == {
        "protocol": "tcp",
        "fromPort": 5432,
        "toPort": 5432,
        "cidrBlocks": ["10.40.0.0/16"],
    }, firewall.name
    subnets = monitor.named("eu-west-1-db-subnets", "aws:rds/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == SUBNETS, subnets.name
    parameters = monitor.named(
        "eu-west-1-db-params", "aws:rds/clusterParameterGroup:ClusterParameterGroup"
    )
    assert parameters.inputs["family"] == "aurora-postgresql16", parameters.name
    assert parameters.inputs["parameters"] == [{"name": "rds.force_ssl", "value": "1"}]
    cluster = monitor.named("eu-west-1-db", "aws:rds/cluster:Cluster")
    expected = {
        "engine": "aurora-postgresql",
        "engineVersion": "16.4",
        "databaseName": "orders",
        "masterUsername": "orders_admin",
        "manageMasterUserPassword": True,
        "storageEncrypted": True,
        "backupRetentionPeriod": 3,
        "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "test-eu-west-1-db-final",
        "dbSubnetGroupName": "eu-west-1-db-subnets",
        "dbClusterParameterGroupName": "eu-west-1-db-params",
        "vpcSecurityGroupIds": ["eu-west-1-db-sg-id"],
    }
    assert {key: cluster.inputs.get(key) for key in expected} == expected, cluster.name
    assert "masterPassword" not in cluster.inputs, cluster.name
    # Data edges, not depends_on: the cluster reads each of them.
    assert set(cluster.dependencies) == {firewall.urn, subnets.urn, parameters.urn}, cluster.name


def test_each_instance_joins_the_cluster_privately(protected):
    _, monitor = protected
    cluster = monitor.named("eu-west-1-db", "aws:rds/cluster:Cluster")
    instances = monitor.of_type("aws:rds/clusterInstance:ClusterInstance")
    assert len(instances) == 2
    for instance in instances:
        assert instance.inputs["clusterIdentifier"] == "eu-west-1-db-id", instance.name
        assert instance.inputs["instanceClass"] == "db.t4g.medium", instance.name
        assert instance.inputs["engine"] == "aurora-postgresql", instance.name
        assert instance.inputs["publiclyAccessible"] is False, instance.name
        assert instance.dependencies == (cluster.urn,), instance.name


def test_registers_exactly_what_it_exposes_and_never_the_password(protected):
    component, monitor = protected
    (database,) = monitor.of_type("deploypaths:index:Database")
    outputs = monitor.outputs[database.urn]
    assert set(outputs) == declared_outputs(Database)
    assert outputs["host"] == "eu-west-1-db.cluster.eu-west-1.rds.amazonaws.com"
    assert outputs["port"] == 5432
    assert outputs["master_user_secret_arn"] == (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:eu-west-1-db"
    )
    instance_urns = [r.urn for r in monitor.of_type("aws:rds/clusterInstance:ClusterInstance")]
    assert sorted(outputs["instances"]) == sorted(instance_urns)
    assert len(component.instances) == 2
