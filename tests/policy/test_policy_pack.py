"""The pack as the engine loads it: policy list, configs, and the adapters over engine args."""

from __future__ import annotations

import json
import re
import runpy
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pulumi_policy
import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.guardrails.pack import PACK_NAME, build_policies
from tests.support.policy_args import options, policy_named, provider, validate_resource

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
PROD_TAGS = {"environment": "prod", "path": "eu", "owner": "payments"}


def load_config(environment: str) -> dict[str, Any]:
    return json.loads((POLICY_DIR / "config" / f"{environment}.json").read_text())


# --- the policy list -------------------------------------------------------------------------


def test_pack_has_the_six_policies() -> None:
    assert [p.name for p in build_policies()] == [
        "database-hardening",
        "container-images-pinned",
        "container-resources-and-probes",
        "required-tags",
        "stateful-resources-protected",
        "alarms-notify-regional-topic",
    ]


def test_every_policy_is_named_in_kebab_case_and_described() -> None:
    for policy in build_policies():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+", policy.name), policy.name
        assert len(policy.description) > 40, policy.name
        assert policy.enforcement_level is None, f"{policy.name}: level belongs to the config"


def test_only_the_alarm_policy_looks_at_the_whole_stack() -> None:
    stack = [p.name for p in build_policies() if isinstance(p, StackValidationPolicy)]
    assert stack == ["alarms-notify-regional-topic"]


def test_pack_name_is_accepted_by_pulumi_policy() -> None:
    assert re.fullmatch(r"[a-zA-Z0-9-_.]{1,100}", PACK_NAME)


def test_main_builds_the_pack_from_the_policy_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs `policy/__main__.py` as the engine does, with PolicyPack (which serves) recorded."""
    built: dict[str, Any] = {}

    def record(**kwargs: Any) -> None:
        built.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", record)
    monkeypatch.chdir(POLICY_DIR)
    # `__main__` may add the repository root to sys.path; the copy is restored afterwards.
    monkeypatch.setattr(sys, "path", list(sys.path))
    # A directory: runpy puts it first on sys.path, like `python -m pulumi.policy <addr> .`.
    runpy.run_path(".", run_name="__main__")
    assert built["name"] == PACK_NAME
    assert [p.name for p in built["policies"]] == [p.name for p in build_policies()]
    assert built["enforcement_level"] is EnforcementLevel.MANDATORY


# --- the configs -----------------------------------------------------------------------------


def enforcement_levels(config: dict[str, Any]) -> dict[str, str]:
    """Each entry's level, in either of the two shapes `--policy-pack-config` accepts."""
    return {
        name: entry if isinstance(entry, str) else entry.get("enforcementLevel")
        for name, entry in config.items()
    }


@pytest.mark.parametrize(("environment", "level"), [("prod", "mandatory"), ("dev", "advisory")])
def test_config_sets_every_policy_of_the_pack(environment: str, level: str) -> None:
    levels = enforcement_levels(load_config(environment))
    names = {p.name for p in build_policies()}
    assert set(levels) == names, f"config/{environment}.json names exactly the pack's policies"
    wrong = {name: got for name, got in levels.items() if got != level}
    assert wrong == {}, f"config/{environment}.json must make every policy {level}"


@pytest.mark.parametrize("environment", ["prod", "dev"])
def test_config_satisfies_each_policys_schema(environment: str) -> None:
    """The engine validates each policy's config against its schema before configuring."""
    config = load_config(environment)
    for policy in build_policies():
        properties = dict(policy.config_schema.properties) if policy.config_schema else {}
        # The engine adds enforcementLevel to every schema and lifts it out of the object.
        properties["enforcementLevel"] = {
            "type": "string",
            "enum": ["advisory", "mandatory", "remediate", "disabled"],
        }
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        entry = config[policy.name]
        document = {"enforcementLevel": entry} if isinstance(entry, str) else entry
        jsonschema.validate(document, schema)


def test_prod_config_protects_the_prod_environment() -> None:
    entry = load_config("prod")["stateful-resources-protected"]
    assert entry["protectedEnvironments"] == ["prod"]


# --- the adapters, fed the engine's proxies --------------------------------------------------


def test_protection_reads_the_protect_option_and_the_policy_config() -> None:
    props = {"tags": {**PROD_TAGS, "environment": "staging"}}
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
    props = {"tags": PROD_TAGS}
    reported = validate_resource(
        "stateful-resources-protected", "aws:eks/cluster:Cluster", "eu-cluster", props
    )
    assert len(reported) == 1


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


def test_unknown_values_in_engine_props_are_skipped_not_raised() -> None:
    """The engine's proxies raise on unknowns; the pack must skip just those values."""
    containers = [
        {"name": "web", "image": UNKNOWN_STRING_VALUE},
        {"name": "sidecar", "image": "envoyproxy/envoy"},
    ]
    props = {"spec": {"template": {"spec": {"containers": containers}}}}
    reported = validate_resource(
        "container-images-pinned", "kubernetes:apps/v1:Deployment", "eu-api", props
    )
    assert [message for message, _ in reported] == [
        'kubernetes:apps/v1:Deployment "eu-api": container "sidecar" image "envoyproxy/envoy" '
        "has no tag or digest; pin a version tag (app:1.4.2) or a digest (app@sha256:...)"
    ]


def test_database_policy_runs_on_engine_props() -> None:
    props = {"storageEncrypted": True, "deletionProtection": True, "backupRetentionPeriod": 7.0}
    assert validate_resource("database-hardening", "aws:rds/cluster:Cluster", "eu-db", props) == []


def test_alarm_policy_reports_on_the_alarms_urn() -> None:
    us_topic = "arn:aws:sns:us-east-1:123456789012:us-alerts"

    def resource(resource_type: str, name: str, props: dict[str, Any]) -> PolicyResource:
        return PolicyResource(
            resource_type,
            unknown_checking_proxy(props),
            f"urn:pulumi:prod::deploypaths::{resource_type}::{name}",
            name,
            options(),
            provider("eu-central-1"),
            None,
            [],
            {},
        )

    alarm = resource(
        "aws:cloudwatch/compositeAlarm:CompositeAlarm", "eu-health", {"alarmActions": [us_topic]}
    )
    resources = [
        resource("aws:sns/topic:Topic", "us-alerts", {"arn": us_topic}),
        resource("aws:sns/topic:Topic", "eu-alerts", {"arn": UNKNOWN_STRING_VALUE}),
        alarm,
    ]
    policy = policy_named("alarms-notify-regional-topic")
    reported: list[tuple[str, str | None]] = []
    policy.validate(
        StackValidationArgs(resources), lambda message, urn=None: reported.append((message, urn))
    )
    assert reported == [
        (
            'aws:cloudwatch/compositeAlarm:CompositeAlarm "eu-health": alarmActions '
            f'"{us_topic}" is in region us-east-1 but the alarm is in eu-central-1; '
            "use the eu-central-1 topic",
            alarm.urn,
        )
    ]
