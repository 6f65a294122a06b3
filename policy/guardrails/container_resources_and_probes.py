"""container-resources-and-probes: Deployments are sized and probed, Jobs and CronJobs sized."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, Severity

from .crossguard import plain, resource_validate
from .props import (
    K8S_CRON_JOB,
    K8S_DEPLOYMENT,
    K8S_JOB,
    MISSING,
    UNKNOWN,
    containers,
    label,
    pod_spec,
    show,
)

NAME = "container-resources-and-probes"

RESOURCE_FIELDS = tuple(
    (group, kind) for group in ("requests", "limits") for kind in ("cpu", "memory")
)


def violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """Violations for a Deployment, Job or CronJob; other workloads are outside this policy."""
    if resource_type not in (K8S_DEPLOYMENT, K8S_JOB, K8S_CRON_JOB):
        return []
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    where = label(resource_type, name)
    found: list[str] = []
    # Init containers are left out: they run before the pod is ready and cannot have probes.
    for container in containers(spec, include_init=False):
        missing = _missing_resources(container.spec.get("resources", MISSING))
        if missing:
            found.append(
                f"{where}: {container.title} has no resources {', '.join(missing)}; "
                "set requests and limits for cpu and memory"
            )
        if resource_type == K8S_DEPLOYMENT:
            probe = container.spec.get("readinessProbe", MISSING)
            if probe is not UNKNOWN and not (isinstance(probe, Mapping) and probe):
                found.append(
                    f"{where}: {container.title} has no readinessProbe ({show(probe)}); "
                    "add one so traffic and rollouts wait until the container is ready"
                )
    return found


def policy() -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=NAME,
        description=(
            "Deployment containers set cpu and memory requests and limits and a readinessProbe;"
            " Job and CronJob containers set cpu and memory requests and limits."
        ),
        validate=resource_validate(_check),
        severity=Severity.MEDIUM,
    )


def _check(args: ResourceValidationArgs) -> list[str]:
    return violations(args.resource_type, args.name, plain(args.props))


def _missing_resources(resources: Any) -> list[str]:
    if resources is UNKNOWN:
        return []
    if not isinstance(resources, Mapping):
        return [f"{group}.{kind}" for group, kind in RESOURCE_FIELDS]
    missing: list[str] = []
    for group, kind in RESOURCE_FIELDS:
        section = resources.get(group)
        if section is UNKNOWN:
            continue
        value = section.get(kind) if isinstance(section, Mapping) else None
        if value is UNKNOWN:
            continue
        if value is None or value == "":
            missing.append(f"{group}.{kind}")
    return missing
