"""A Job that runs one container once, hardened for the `restricted` Pod Security Standard: a
migration (or its `down`) and a service's verification. The provider waits for it to complete
and fails its path when it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.pod_security import (
    IMAGE_PULL_POLICY,
    SCRATCH_MOUNT,
    SCRATCH_VOLUME,
    accepted_findings,
    container_security_context,
    pod_security_context,
)

# A one-shot task's share of a node: small, and capped so a runaway one cannot starve pods.
RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


@dataclass(frozen=True, kw_only=True)
class RunOnce:
    """What runs, where, and for how long at most."""

    job_name: str
    namespace: pulumi.Input[str]
    labels: dict[str, str]
    container: str
    image: str
    timeout_minutes: int
    annotations: dict[str, str] = field(default_factory=dict)
    # On the Job alone, never its (immutable) pod template: who owns it (components/ownership).
    job_labels: dict[str, str] = field(default_factory=dict)
    # Left out when None, so a Job deployed before args existed keeps its inputs (no diff).
    args: list[str] | None = None
    env: list[dict[str, Any]] = field(default_factory=list)
    env_from: list[dict[str, Any]] = field(default_factory=list)
    service_account_token: bool = False
    read_only_root_filesystem: bool = True


def run_once_job(
    resource_name: str, run: RunOnce, *, parent: pulumi.Resource, waits_for: list[pulumi.Resource]
) -> k8s.batch.v1.Job:
    container: dict[str, Any] = {
        "name": run.container,
        "image": run.image,
        "image_pull_policy": IMAGE_PULL_POLICY,
    }
    if run.args is not None:
        container["args"] = run.args
    if run.env:
        container["env"] = run.env
    container.update(
        env_from=run.env_from,
        resources=RESOURCES,
        security_context=container_security_context(
            read_only_root_filesystem=run.read_only_root_filesystem
        ),
        volume_mounts=[SCRATCH_MOUNT],
    )
    metadata: dict[str, Any] = {
        "name": run.job_name,
        "namespace": run.namespace,
        "labels": {**run.labels, **run.job_labels},
    }
    secret_env = any("secret_ref" in source for source in run.env_from)
    findings = accepted_findings(images=[run.image], secret_env=secret_env)
    annotations = {**run.annotations, **findings}
    if annotations:
        metadata["annotations"] = annotations
    return k8s.batch.v1.Job(
        resource_name,
        metadata=metadata,
        spec={
            # A failed run is investigated, not retried blindly: against a live schema, or to
            # hide a flaky release.
            "backoff_limit": 0,
            "active_deadline_seconds": run.timeout_minutes * 60,
            "template": {
                "metadata": {"labels": run.labels},
                "spec": {
                    "restart_policy": "Never",
                    "automount_service_account_token": run.service_account_token,
                    "security_context": pod_security_context(),
                    "volumes": [SCRATCH_VOLUME],
                    "containers": [container],
                },
            },
        },
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=waits_for,
            custom_timeouts=pulumi.CustomTimeouts(create=f"{run.timeout_minutes}m"),
        ),
    )
