"""required-tags: every taggable AWS resource carries environment, path and owner."""

from __future__ import annotations

from policy.guardrails import required_tags
from policy.guardrails.props import UNKNOWN
from policy.guardrails.required_tags import effective_tags, is_taggable
from tests.support.policy_args import validate_resource

TAGS = {"environment": "prod", "path": "eu", "owner": "payments"}


def test_fully_tagged_resource_passes() -> None:
    props = {"cidrBlock": "10.0.0.0/16", "tags": {**TAGS, "Name": "eu-vpc"}}
    assert required_tags.violations("aws:ec2/vpc:Vpc", "eu-vpc", props) == []


def test_missing_tags_are_named_with_the_tags_present() -> None:
    props = {"tags": {"environment": "prod", "Name": "eu-db-subnets"}}
    assert required_tags.violations("aws:rds/subnetGroup:SubnetGroup", "eu-db-subnets", props) == [
        'aws:rds/subnetGroup:SubnetGroup "eu-db-subnets" is missing required tags path, owner '
        '(tags are {"Name": "eu-db-subnets", "environment": "prod"}); '
        "tag every AWS resource with environment, path, owner"
    ]


def test_listed_type_without_any_tags_key_is_flagged() -> None:
    props = {"name": "eu-alerts"}
    assert required_tags.violations("aws:sns/topic:Topic", "eu-alerts", props) == [
        'aws:sns/topic:Topic "eu-alerts" is missing required tags environment, path, owner '
        "(tags are {}); tag every AWS resource with environment, path, owner"
    ]


def test_empty_tag_values_are_flagged() -> None:
    props = {"tags": {**TAGS, "owner": "", "path": "  "}}
    assert required_tags.violations("aws:appconfig/application:Application", "flags", props) == [
        'aws:appconfig/application:Application "flags": tag "path" is "  "; '
        "it must be a non-empty string",
        'aws:appconfig/application:Application "flags": tag "owner" is ""; '
        "it must be a non-empty string",
    ]


def test_provider_default_tags_count() -> None:
    props = {"tags": {"path": "eu"}}
    defaults = {"environment": "prod", "owner": "payments"}
    assert (
        required_tags.violations(
            "aws:ec2/subnet:Subnet", "eu-private-a", props, default_tags=defaults
        )
        == []
    )


def test_resource_tags_override_provider_defaults() -> None:
    props = {"tags": {**TAGS, "owner": ""}}
    violations = required_tags.violations(
        "aws:ec2/subnet:Subnet", "eu-private-a", props, default_tags={"owner": "platform"}
    )
    assert violations == [
        'aws:ec2/subnet:Subnet "eu-private-a": tag "owner" is ""; it must be a non-empty string'
    ]


def test_unknown_tags_are_not_flagged() -> None:
    assert required_tags.violations("aws:ec2/vpc:Vpc", "eu-vpc", {"tags": UNKNOWN}) == []
    props = {"tags": {**TAGS, "owner": UNKNOWN}}
    assert required_tags.violations("aws:ec2/vpc:Vpc", "eu-vpc", props) == []


def test_unknown_provider_defaults_still_catch_empty_values() -> None:
    props = {"tags": {"environment": ""}}
    assert required_tags.violations("aws:ec2/vpc:Vpc", "eu-vpc", props, default_tags=UNKNOWN) == [
        'aws:ec2/vpc:Vpc "eu-vpc": tag "environment" is ""; it must be a non-empty string'
    ]


def test_any_aws_type_with_a_tags_key_is_taggable() -> None:
    assert is_taggable("aws:iam/role:Role", {"tags": {}})
    assert is_taggable("aws:eks/nodeGroup:NodeGroup", {})
    assert not is_taggable("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r"})
    assert not is_taggable("kubernetes:core/v1:Namespace", {"tags": {}})


def test_untaggable_resources_are_ignored() -> None:
    props = {
        "role": "eu-node-role",
        "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    }
    assert (
        required_tags.violations("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", props)
        == []
    )


def test_required_tags_come_from_the_resource_and_its_provider() -> None:
    props = {"tags": {"path": "eu"}, "cidrBlock": "10.0.0.0/16"}
    defaults = {"environment": "prod", "owner": "payments"}
    passed = validate_resource(
        "required-tags", "aws:ec2/vpc:Vpc", "eu-vpc", props, default_tags=defaults
    )
    assert passed == []
    flagged = validate_resource("required-tags", "aws:ec2/vpc:Vpc", "eu-vpc", props)
    assert [message for message, _ in flagged] == [
        'aws:ec2/vpc:Vpc "eu-vpc" is missing required tags environment, owner '
        '(tags are {"path": "eu"}); tag every AWS resource with environment, path, owner'
    ]


def test_effective_tags_overlay_the_resources_own_on_the_providers() -> None:
    props = {"tags": {"owner": "payments", "path": "eu"}}
    defaults = {"owner": "platform", "environment": "prod"}
    assert effective_tags(props, defaults) == {
        "owner": "payments",
        "path": "eu",
        "environment": "prod",
    }


def test_effective_tags_read_key_value_blocks() -> None:
    props = {"tags": [{"key": "environment", "value": "prod"}, {"value": "no key"}]}
    assert effective_tags(props) == {"environment": "prod"}


def test_effective_tags_are_unknown_when_either_side_is() -> None:
    assert effective_tags({"tags": UNKNOWN}, {"owner": "platform"}) is UNKNOWN
    assert effective_tags({"tags": {"owner": "payments"}}, UNKNOWN) is UNKNOWN


def test_the_policy_ignores_kubernetes_resources() -> None:
    props = {"metadata": {"name": "app"}, "tags": {}}
    assert validate_resource("required-tags", "kubernetes:core/v1:Namespace", "app", props) == []
