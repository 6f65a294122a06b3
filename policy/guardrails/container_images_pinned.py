"""container-images-pinned: every container image of a workload is pinned by a tag or a digest.

What "pinned" means is `deploypaths.image_pinning`'s rule, the one the stack configuration is
validated with, so a stack that validates is one this policy lets through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, Severity

from deploypaths.image_pinning import HOW_TO_PIN, unpinned_reason

from .crossguard import plain, resource_validate
from .props import MISSING, UNKNOWN, containers, label, pod_spec, show

NAME = "container-images-pinned"


def violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """Violations for any workload that has a pod spec, init containers included."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    where = label(resource_type, name)
    found: list[str] = []
    for container in containers(spec, include_init=True):
        image = container.spec.get("image", MISSING)
        if image is UNKNOWN:
            continue
        if not isinstance(image, str):
            found.append(f"{where}: {container.title} has no image ({show(image)})")
            continue
        reason = unpinned_reason(image)
        if reason is not None:
            found.append(f'{where}: {container.title} image "{image}" {reason}; {HOW_TO_PIN}')
    return found


def policy() -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=NAME,
        description=(
            "Every container image of a workload is pinned by a version tag or a digest; "
            "never untagged, never `latest`."
        ),
        validate=resource_validate(_check),
        severity=Severity.HIGH,
    )


def _check(args: ResourceValidationArgs) -> list[str]:
    return violations(args.resource_type, args.name, plain(args.props))
