"""container-resources-and-probes: Deployments are sized and probed, Jobs are sized."""

from __future__ import annotations

from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.guardrails import container_resources_and_probes as sizing
from policy.guardrails.props import UNKNOWN
from tests.support.policy_args import validate_resource

SIZED = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}


def deployment(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": list(containers)}}},
    }


def job(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": list(containers)}}},
    }


def test_sized_and_probed_deployment_passes() -> None:
    props = deployment({"name": "web", "resources": SIZED, "readinessProbe": PROBE})
    assert sizing.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == []


def test_deployment_container_without_resources_or_probe_is_flagged() -> None:
    props = deployment({"name": "web", "image": "ghcr.io/acme/api:1.0.0"})
    assert sizing.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == [
        'kubernetes:apps/v1:Deployment "eu-api": container "web" has no resources '
        "requests.cpu, requests.memory, limits.cpu, limits.memory; "
        "set requests and limits for cpu and memory",
        'kubernetes:apps/v1:Deployment "eu-api": container "web" has no readinessProbe (not set); '
        "add one so traffic and rollouts wait until the container is ready",
    ]


def test_partial_resources_name_exactly_what_is_missing() -> None:
    resources = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    props = deployment(
        {"name": "web", "resources": resources, "readinessProbe": PROBE},
        {"name": "sidecar", "resources": SIZED, "readinessProbe": {}},
    )
    assert sizing.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == [
        'kubernetes:apps/v1:Deployment "eu-api": container "web" has no resources limits.cpu; '
        "set requests and limits for cpu and memory",
        'kubernetes:apps/v1:Deployment "eu-api": container "sidecar" has no readinessProbe ({}); '
        "add one so traffic and rollouts wait until the container is ready",
    ]


def test_sized_job_passes_without_a_probe() -> None:
    props = job({"name": "migrate", "resources": SIZED})
    assert sizing.violations("kubernetes:batch/v1:Job", "eu-migrate", props) == []


def test_unsized_job_is_flagged() -> None:
    props = job({"name": "migrate", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})
    assert sizing.violations("kubernetes:batch/v1:Job", "eu-migrate", props) == [
        'kubernetes:batch/v1:Job "eu-migrate": container "migrate" has no resources '
        "requests.cpu, requests.memory; set requests and limits for cpu and memory"
    ]


def test_unsized_cron_job_is_flagged() -> None:
    template = {"spec": {"containers": [{"name": "report"}]}}
    props = {"spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    assert sizing.violations("kubernetes:batch/v1:CronJob", "reports", props) == [
        'kubernetes:batch/v1:CronJob "reports": container "report" has no resources '
        "requests.cpu, requests.memory, limits.cpu, limits.memory; "
        "set requests and limits for cpu and memory"
    ]


def test_init_containers_are_not_required_to_have_probes() -> None:
    props = deployment({"name": "web", "resources": SIZED, "readinessProbe": PROBE})
    props["spec"]["template"]["spec"]["initContainers"] = [{"name": "wait-for-db"}]
    assert sizing.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == []


def test_values_unknown_at_preview_are_not_flagged() -> None:
    resources = {"requests": UNKNOWN, "limits": {"cpu": UNKNOWN, "memory": "512Mi"}}
    props = deployment({"name": "web", "resources": resources, "readinessProbe": UNKNOWN})
    assert sizing.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == []


def test_unnamed_container_is_named_by_position() -> None:
    props = job({"image": "busybox:1.36", "resources": {}})
    violations = sizing.violations("kubernetes:batch/v1:Job", "j", props)
    assert violations == [
        'kubernetes:batch/v1:Job "j": containers[0] has no resources '
        "requests.cpu, requests.memory, limits.cpu, limits.memory; "
        "set requests and limits for cpu and memory"
    ]


def test_statefulsets_are_outside_this_policy() -> None:
    props = {"spec": {"template": {"spec": {"containers": [{"name": "db"}]}}}}
    assert sizing.violations("kubernetes:apps/v1:StatefulSet", "pg", props) == []


def test_the_policy_runs_on_engine_props_and_skips_unknowns() -> None:
    unknown_probe = {"name": "web", "resources": SIZED, "readinessProbe": UNKNOWN_STRING_VALUE}
    props = deployment(unknown_probe, {"name": "sidecar", "resources": SIZED})
    reported = validate_resource(
        "container-resources-and-probes", "kubernetes:apps/v1:Deployment", "eu-api", props
    )
    assert reported == [
        (
            'kubernetes:apps/v1:Deployment "eu-api": container "sidecar" has no readinessProbe '
            "(not set); add one so traffic and rollouts wait until the container is ready",
            None,
        )
    ]
