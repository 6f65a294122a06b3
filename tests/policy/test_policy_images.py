"""container-images-pinned: every workload container image has a version tag or a digest."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.guardrails import container_images_pinned as images
from policy.guardrails.props import UNKNOWN
from tests.support.policy_args import validate_resource

DIGEST = "sha256:" + "a" * 64


def deployment(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict:
    pod_spec: dict[str, Any] = {"containers": list(containers)}
    if init is not None:
        pod_spec["initContainers"] = init
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "app"},
        "spec": {"replicas": 3, "template": {"spec": pod_spec}},
    }


@pytest.mark.parametrize(
    "image",
    [
        "nginx:1.27.0",
        "ghcr.io/acme/api:2024.06.1",
        "registry:5000/app:1.2",
        "123456789012.dkr.ecr.eu-central-1.amazonaws.com/api:v42",
        f"ghcr.io/acme/api@{DIGEST}",
        f"registry:5000/app@{DIGEST}",
        # The digest is what gets pulled, so a `latest` in front of it is harmless.
        f"ghcr.io/acme/api:latest@{DIGEST}",
    ],
)
def test_pinned_images_pass(image: str) -> None:
    props = deployment({"name": "web", "image": image})
    assert images.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == []


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("nginx", "has no tag or digest"),
        ("ghcr.io/acme/api", "has no tag or digest"),
        ("registry:5000/app", "has no tag or digest"),
        ("localhost:5000/team/app", "has no tag or digest"),
        ("nginx:latest", 'uses the mutable tag "latest"'),
        ("registry:5000/app:LATEST", 'uses the mutable tag "latest"'),
        ("nginx:", 'has an invalid tag ""'),
        ("ghcr.io/acme/api@sha256:abc", 'has a malformed digest "sha256:abc"'),
        ("  ", "is empty"),
        # Tags are ASCII (the OCI grammar), as the configuration's validation reads them.
        ("ghcr.io/acme/api:café", 'has an invalid tag "café"'),
    ],
)
def test_unpinned_images_are_explained(image: str, problem: str) -> None:
    props = deployment({"name": "web", "image": image})
    assert images.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == [
        f'kubernetes:apps/v1:Deployment "eu-api": container "web" image "{image}" {problem}; '
        "pin a version tag (app:1.4.2) or a digest (app@sha256:...)"
    ]


def test_deployment_with_pinned_images_passes() -> None:
    props = deployment(
        {"name": "web", "image": "ghcr.io/acme/api:2.3.1"},
        init=[{"name": "migrate", "image": f"ghcr.io/acme/migrate@{DIGEST}"}],
    )
    assert images.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == []


def test_deployment_names_each_offending_container_and_image() -> None:
    props = deployment(
        {"name": "web", "image": "ghcr.io/acme/api:latest"},
        {"name": "sidecar", "image": "registry:5000/envoy"},
        init=[{"name": "migrate", "image": "ghcr.io/acme/migrate"}],
    )
    assert images.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == [
        'kubernetes:apps/v1:Deployment "eu-api": init container "migrate" image '
        '"ghcr.io/acme/migrate" has no tag or digest; '
        "pin a version tag (app:1.4.2) or a digest (app@sha256:...)",
        'kubernetes:apps/v1:Deployment "eu-api": container "web" image "ghcr.io/acme/api:latest" '
        'uses the mutable tag "latest"; pin a version tag (app:1.4.2) or a digest (app@sha256:...)',
        'kubernetes:apps/v1:Deployment "eu-api": container "sidecar" image "registry:5000/envoy" '
        "has no tag or digest; pin a version tag (app:1.4.2) or a digest (app@sha256:...)",
    ]


def test_job_cron_job_statefulset_daemonset_and_pod_are_checked() -> None:
    container = {"name": "main", "image": "busybox"}
    template = {"spec": {"containers": [container]}}
    workloads = {
        "kubernetes:batch/v1:Job": {"spec": {"template": template}},
        "kubernetes:batch/v1:CronJob": {"spec": {"jobTemplate": {"spec": {"template": template}}}},
        "kubernetes:apps/v1:StatefulSet": {"spec": {"template": template}},
        "kubernetes:apps/v1:DaemonSet": {"spec": {"template": template}},
        "kubernetes:core/v1:Pod": {"spec": {"containers": [container]}},
    }
    for resource_type, props in workloads.items():
        assert images.violations(resource_type, "w", props) == [
            f'{resource_type} "w": container "main" image "busybox" has no tag or digest; '
            "pin a version tag (app:1.4.2) or a digest (app@sha256:...)"
        ], resource_type


def test_container_without_image_is_flagged() -> None:
    props = deployment({"name": "web"})
    assert images.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == [
        'kubernetes:apps/v1:Deployment "eu-api": container "web" has no image (not set)'
    ]


def test_image_unknown_at_preview_is_not_flagged() -> None:
    # e.g. an image built from an ECR repository URL created in the same update.
    props = deployment({"name": "web", "image": UNKNOWN})
    assert images.violations("kubernetes:apps/v1:Deployment", "eu-api", props) == []


def test_non_workloads_are_ignored() -> None:
    props = {"data": {"image": "nginx"}}
    assert images.violations("kubernetes:core/v1:ConfigMap", "settings", props) == []


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
