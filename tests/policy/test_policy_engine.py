"""The pack served as the engine serves it: `python -m pulumi.policy <engine> .` in `policy/`,
driven over the Analyzer gRPC protocol with the configs `--policy-pack-config` would send."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.guardrails.pack import PACK_NAME

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
PROD_TAGS = {"environment": "prod", "path": "eu", "owner": "payments"}


def _read_port(process: subprocess.Popen[str], timeout: float) -> int:
    """The pack prints its gRPC port on the first line of stdout, as the engine expects."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"policy pack printed no port within {timeout}s")
    line = process.stdout.readline()
    if not line.strip().isdigit():
        _, stderr = process.communicate(timeout=10)
        raise AssertionError(f"policy pack did not start: stdout={line!r} stderr={stderr}")
    return int(line)


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PULUMI_")}
    # Exactly the shim's command (pulumi-analyzer-policy-python), with the engine's cwd.
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=POLICY_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _read_port(process, timeout=60)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def configure(stub: analyzer_pb2_grpc.AnalyzerStub, environment: str) -> None:
    """What the engine does with `--policy-pack-config`: schema defaults, then the file."""
    config = json.loads((POLICY_DIR / "config" / f"{environment}.json").read_text())
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        properties = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
        level = policy.enforcementLevel
        entry = config.get(policy.name)
        if isinstance(entry, str):
            level = LEVELS[entry]
        elif isinstance(entry, dict):
            entry = dict(entry)
            if "enforcementLevel" in entry:
                level = LEVELS[entry.pop("enforcementLevel")]
            properties.update(entry)
        request.policyConfig[policy.name].enforcementLevel = level
        request.policyConfig[policy.name].properties.update(properties)
    stub.Configure(request)


def struct(props: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(props)
    return message


def analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    resource_type: str,
    name: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type,
        name=name,
        urn=f"urn:pulumi:prod::deploypaths::{resource_type}::{name}",
        properties=struct(props),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=protect),
        provider=analyzer_pb2.AnalyzerProviderResource(
            type="pulumi:providers:aws",
            name="eu-central-1",
            urn="urn:pulumi:prod::deploypaths::pulumi:providers:aws::eu-central-1",
            properties=struct({"region": "eu-central-1"}),
        ),
    )
    return list(stub.Analyze(request).diagnostics)


def unprotected_unencrypted_cluster() -> dict[str, Any]:
    return {
        "storageEncrypted": False,
        "deletionProtection": True,
        "backupRetentionPeriod": 7,
        "skipFinalSnapshot": False,
        "tags": PROD_TAGS,
    }


def test_engine_sees_the_pack_and_its_policies(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert info.supportsConfig
    kinds = {policy.name: policy.policy_type for policy in info.policies}
    assert kinds == {
        "database-hardening": analyzer_pb2.POLICY_TYPE_RESOURCE,
        "container-images-pinned": analyzer_pb2.POLICY_TYPE_RESOURCE,
        "container-resources-and-probes": analyzer_pb2.POLICY_TYPE_RESOURCE,
        "required-tags": analyzer_pb2.POLICY_TYPE_RESOURCE,
        "stateful-resources-protected": analyzer_pb2.POLICY_TYPE_RESOURCE,
        "alarms-notify-regional-topic": analyzer_pb2.POLICY_TYPE_STACK,
        "paths-have-owners": analyzer_pb2.POLICY_TYPE_RESOURCE,
    }
    protection = next(p for p in info.policies if p.name == "stateful-resources-protected")
    schema = json_format.MessageToDict(protection.configSchema.properties)
    assert schema["protectedEnvironments"]["default"] == ["prod"]


@pytest.mark.parametrize(
    ("environment", "level"),
    [("prod", analyzer_pb2.MANDATORY), ("dev", analyzer_pb2.ADVISORY)],
)
def test_config_sets_the_level_of_reported_violations(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, environment: str, level: int
) -> None:
    configure(analyzer, environment)
    diagnostics = analyze(
        analyzer, "aws:rds/cluster:Cluster", "eu-db", unprotected_unencrypted_cluster()
    )
    found = {(d.policyName, d.enforcementLevel) for d in diagnostics}
    assert found == {
        ("database-hardening", level),
        ("stateful-resources-protected", level),
    }
    messages = [d.message for d in diagnostics]
    assert any('"eu-db": storageEncrypted is false' in message for message in messages), messages
    assert any('"eu-db" in environment "prod" has protect=false' in m for m in messages), messages


@pytest.mark.parametrize(
    ("environment", "level"),
    [("prod", analyzer_pb2.MANDATORY), ("dev", analyzer_pb2.ADVISORY)],
)
def test_an_unowned_path_blocks_prod_and_is_reported_in_dev(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, environment: str, level: int
) -> None:
    configure(analyzer, environment)
    labels = {"app.kubernetes.io/part-of": "deploypaths", "deploypaths/owner": "payments"}
    props = {"metadata": {"name": "migrate", "labels": labels}, "spec": {}}
    diagnostics = analyze(analyzer, "kubernetes:batch/v1:Job", "use1-migrate", props)
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("paths-have-owners", level)
    ]
    assert 'no annotation "deploypaths/approvers" (not set)' in diagnostics[0].message


def test_protect_option_reaches_the_policy(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer, "prod")
    props = {**unprotected_unencrypted_cluster(), "storageEncrypted": True}
    assert analyze(analyzer, "aws:rds/cluster:Cluster", "eu-db", props, protect=True) == []


def test_preview_unknowns_produce_no_diagnostics(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer, "prod")
    container = {
        "name": "web",
        "image": UNKNOWN_STRING_VALUE,
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
    }
    props = {"spec": {"template": {"spec": {"containers": [container]}}}}
    # Neither a violation nor the SDK's "can't run policy during preview" advisory.
    assert analyze(analyzer, "kubernetes:apps/v1:Deployment", "eu-api", props) == []


def test_stack_policy_reports_on_the_alarm(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer, "prod")
    us_topic = "arn:aws:sns:us-east-1:123456789012:us-alerts"
    eu_provider = analyzer_pb2.AnalyzerProviderResource(
        type="pulumi:providers:aws",
        name="eu-central-1",
        urn="urn:pulumi:prod::deploypaths::pulumi:providers:aws::eu-central-1",
        properties=struct({"region": "eu-central-1"}),
    )
    alarm_urn = "urn:pulumi:prod::deploypaths::aws:cloudwatch/compositeAlarm:CompositeAlarm::eu"
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type="aws:sns/topic:Topic",
                name="us-alerts",
                urn="urn:pulumi:prod::deploypaths::aws:sns/topic:Topic::us-alerts",
                properties=struct({"arn": us_topic, "region": "us-east-1"}),
            ),
            analyzer_pb2.AnalyzerResource(
                type="aws:cloudwatch/compositeAlarm:CompositeAlarm",
                name="eu",
                urn=alarm_urn,
                properties=struct({"alarmActions": [us_topic]}),
                provider=eu_provider,
            ),
        ]
    )
    diagnostics = list(analyzer.AnalyzeStack(request).diagnostics)
    assert [(d.policyName, d.urn, d.enforcementLevel) for d in diagnostics] == [
        ("alarms-notify-regional-topic", alarm_urn, analyzer_pb2.MANDATORY)
    ]
    assert "is in region us-east-1 but the alarm is in eu-central-1" in diagnostics[0].message
