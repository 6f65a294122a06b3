"""stateful-resources-protected: in protected environments databases and clusters have protect."""

from __future__ import annotations

import pytest

from policy.guardrails import stateful_resources_protected as protection
from policy.guardrails.props import UNKNOWN
from policy.guardrails.stateful_resources_protected import PROTECTED_TYPES
from tests.support.policy_args import validate_resource

PROD = {"environment": "prod", "path": "eu", "owner": "payments"}
DEV = {**PROD, "environment": "dev"}


@pytest.mark.parametrize("resource_type", sorted(PROTECTED_TYPES))
def test_unprotected_prod_resource_is_flagged(resource_type: str) -> None:
    violations = protection.violations(resource_type, "eu-db", {"tags": PROD}, protect=False)
    assert violations == [
        f'{resource_type} "eu-db" in environment "prod" has protect=false; '
        "set ResourceOptions(protect=True) so the engine refuses to delete or replace it"
    ]


def test_protected_prod_cluster_passes() -> None:
    props = {"tags": PROD, "storageEncrypted": True}
    assert protection.violations("aws:rds/cluster:Cluster", "eu-db", props, protect=True) == []


def test_dev_resources_need_no_protection() -> None:
    props = {"tags": DEV}
    assert protection.violations("aws:rds/cluster:Cluster", "eu-db", props, protect=False) == []


def test_configured_environments_replace_the_default() -> None:
    props = {"tags": {**PROD, "environment": "staging"}}
    violations = protection.violations(
        "aws:eks/cluster:Cluster",
        "eu-cluster",
        props,
        protect=False,
        protected_environments=["prod", "staging"],
    )
    assert violations == [
        'aws:eks/cluster:Cluster "eu-cluster" in environment "staging" has protect=false; '
        "set ResourceOptions(protect=True) so the engine refuses to delete or replace it"
    ]


def test_environment_from_provider_default_tags_counts() -> None:
    violations = protection.violations(
        "aws:rds/subnetGroup:SubnetGroup",
        "eu-db-subnets",
        {"tags": {"path": "eu"}},
        protect=False,
        default_tags={"environment": "prod"},
    )
    assert len(violations) == 1
    assert '"eu-db-subnets" in environment "prod" has protect=false' in violations[0]


def test_other_types_are_ignored() -> None:
    props = {"tags": PROD}
    assert protection.violations("aws:ec2/vpc:Vpc", "eu-vpc", props, protect=False) == []


def test_unknown_or_missing_environment_is_not_flagged_here() -> None:
    # A missing environment tag is required-tags' finding.
    assert protection.violations("aws:rds/cluster:Cluster", "a", {}, protect=False) == []
    props = {"tags": {**PROD, "environment": UNKNOWN}}
    assert protection.violations("aws:rds/cluster:Cluster", "b", props, protect=False) == []
    assert (
        protection.violations("aws:rds/cluster:Cluster", "c", {"tags": UNKNOWN}, protect=False)
        == []
    )


def test_protection_reads_the_protect_option_and_the_policy_config() -> None:
    props = {"tags": {**PROD, "environment": "staging"}}
    config = {"protectedEnvironments": ["prod", "staging"]}
    cluster = "aws:rds/cluster:Cluster"
    assert validate_resource(
        "stateful-resources-protected", cluster, "eu-db", props, config=config
    ) == [
        (
            f'{cluster} "eu-db" in environment "staging" has protect=false; '
            "set ResourceOptions(protect=True) so the engine refuses to delete or replace it",
            None,
        )
    ]
    protected = validate_resource(
        "stateful-resources-protected", cluster, "eu-db", props, protect=True, config=config
    )
    assert protected == []


def test_protection_defaults_to_prod_without_config() -> None:
    props = {"tags": PROD}
    reported = validate_resource(
        "stateful-resources-protected", "aws:eks/cluster:Cluster", "eu-cluster", props
    )
    assert reported == [
        (
            'aws:eks/cluster:Cluster "eu-cluster" in environment "prod" has protect=false; '
            "set ResourceOptions(protect=True) so the engine refuses to delete or replace it",
            None,
        )
    ]


def test_protected_environments_come_from_the_policy_config() -> None:
    assert protection.protected_environments({}) == ("prod",)
    configured = {"protectedEnvironments": ["prod", "staging"]}
    assert protection.protected_environments(configured) == ("prod", "staging")
    assert protection.protected_environments({"protectedEnvironments": []}) == ()
