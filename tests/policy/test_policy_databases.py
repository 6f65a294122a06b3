"""database-hardening: RDS clusters and instances are encrypted, private, protected, backed up."""

from __future__ import annotations

from typing import Any

from policy.guardrails import database_hardening
from policy.guardrails.props import RDS_CLUSTER, RDS_CLUSTER_INSTANCE, RDS_INSTANCE, UNKNOWN
from tests.support.policy_args import validate_resource


def aurora_cluster(**overrides: Any) -> dict[str, Any]:
    props = {
        "engine": "aurora-postgresql",
        "engineVersion": "16.4",
        "storageEncrypted": True,
        "deletionProtection": True,
        "backupRetentionPeriod": 7,
        "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "eu-db-final",
        "tags": {"environment": "prod", "path": "eu", "owner": "payments"},
    }
    props.update(overrides)
    return props


def test_hardened_cluster_passes() -> None:
    assert database_hardening.violations(RDS_CLUSTER, "eu-db", aurora_cluster()) == []


def test_retention_arriving_as_a_protobuf_double_passes() -> None:
    props = aurora_cluster(backupRetentionPeriod=7.0)
    assert database_hardening.violations(RDS_CLUSTER, "eu-db", props) == []


def test_unencrypted_cluster_is_flagged_with_its_value() -> None:
    violations = database_hardening.violations(
        RDS_CLUSTER, "eu-db", aurora_cluster(storageEncrypted=False)
    )
    assert violations == [
        'aws:rds/cluster:Cluster "eu-db": storageEncrypted is false; set storageEncrypted=true '
        "so data and snapshots are encrypted at rest"
    ]


def test_cluster_left_at_aws_defaults_is_flagged_for_each_setting() -> None:
    props = {"engine": "aurora-postgresql"}
    violations = database_hardening.violations(RDS_CLUSTER, "eu-db", props)
    assert violations == [
        'aws:rds/cluster:Cluster "eu-db": storageEncrypted is not set; set storageEncrypted=true '
        "so data and snapshots are encrypted at rest",
        'aws:rds/cluster:Cluster "eu-db": deletionProtection is not set; '
        "set deletionProtection=true so AWS refuses to delete the database",
        'aws:rds/cluster:Cluster "eu-db": backupRetentionPeriod is not set; '
        "set it to at least 1 (days) so automated backups are kept",
    ]


def test_dev_style_cluster_without_deletion_protection_is_flagged() -> None:
    props = aurora_cluster(deletionProtection=False)
    assert database_hardening.violations(RDS_CLUSTER, "eu-db", props) == [
        'aws:rds/cluster:Cluster "eu-db": deletionProtection is false; '
        "set deletionProtection=true so AWS refuses to delete the database"
    ]


def test_backups_off_are_flagged() -> None:
    props = aurora_cluster(backupRetentionPeriod=0, skipFinalSnapshot=True)
    assert database_hardening.violations(RDS_CLUSTER, "eu-db", props) == [
        'aws:rds/cluster:Cluster "eu-db": backupRetentionPeriod is 0; '
        "set it to at least 1 (days) so automated backups are kept",
        'aws:rds/cluster:Cluster "eu-db": skipFinalSnapshot is true; '
        "set skipFinalSnapshot=false so deleting the database leaves a final snapshot",
    ]


def test_values_unknown_at_preview_are_not_flagged() -> None:
    props = aurora_cluster(storageEncrypted=UNKNOWN, backupRetentionPeriod=UNKNOWN)
    assert database_hardening.violations(RDS_CLUSTER, "eu-db", props) == []


def test_private_cluster_instance_passes() -> None:
    props = {"instanceClass": "db.r6g.large", "publiclyAccessible": False}
    assert database_hardening.violations(RDS_CLUSTER_INSTANCE, "eu-db-0", props) == []


def test_cluster_instance_without_the_flag_passes() -> None:
    # Not set means private for an instance in a private subnet group; only `true` exposes it.
    assert (
        database_hardening.violations(RDS_CLUSTER_INSTANCE, "eu-db-0", {"engine": "aurora"}) == []
    )


def test_public_cluster_instance_is_flagged() -> None:
    props = {"instanceClass": "db.r6g.large", "publiclyAccessible": True}
    assert database_hardening.violations(RDS_CLUSTER_INSTANCE, "eu-db-1", props) == [
        'aws:rds/clusterInstance:ClusterInstance "eu-db-1": publiclyAccessible is true; '
        "set publiclyAccessible=false so the database is reachable only from inside its VPC"
    ]


def test_standalone_instance_gets_storage_and_network_checks() -> None:
    props = {
        "storageEncrypted": True,
        "deletionProtection": True,
        "backupRetentionPeriod": 1,
        "publiclyAccessible": True,
    }
    assert database_hardening.violations(RDS_INSTANCE, "reports-db", props) == [
        'aws:rds/instance:Instance "reports-db": publiclyAccessible is true; '
        "set publiclyAccessible=false so the database is reachable only from inside its VPC"
    ]


def test_other_types_are_ignored() -> None:
    assert (
        database_hardening.violations("aws:s3/bucket:Bucket", "logs", {"storageEncrypted": False})
        == []
    )


def test_database_policy_runs_on_engine_props() -> None:
    props = {"storageEncrypted": True, "deletionProtection": True, "backupRetentionPeriod": 7.0}
    assert validate_resource("database-hardening", "aws:rds/cluster:Cluster", "eu-db", props) == []
