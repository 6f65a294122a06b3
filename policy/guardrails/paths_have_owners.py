"""paths-have-owners: every Deployment and Job of a deploy path names its owner team and its
approvers, so whoever sees it in the cluster knows who answers for it and who may release it.

A workload is a deploy path's when it carries `app.kubernetes.io/part-of: deploypaths`; anything
else in the cluster is outside this policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, Severity

from .crossguard import plain, resource_validate
from .props import K8S_DEPLOYMENT, K8S_JOB, MISSING, UNKNOWN, label, show

NAME = "paths-have-owners"
PART_OF: Final = ("app.kubernetes.io/part-of", "deploypaths")
OWNER_LABEL: Final = "deploypaths/owner"
APPROVERS_ANNOTATION: Final = "deploypaths/approvers"
HOW_TO_FIX: Final = (
    "give the path an `owner` (a team and its approvers) in the stack config, "
    f'which labels it "{OWNER_LABEL}" and annotates it "{APPROVERS_ANNOTATION}"'
)


def violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """One violation for a deploy path's Deployment or Job that lacks its owner or approvers."""
    if resource_type not in (K8S_DEPLOYMENT, K8S_JOB):
        return []
    metadata = props.get("metadata", MISSING)
    if not isinstance(metadata, Mapping):
        return []
    labels = metadata.get("labels", MISSING)
    # Unknown labels may still say part-of deploypaths; the same check runs again at update.
    if not isinstance(labels, Mapping) or labels.get(PART_OF[0]) != PART_OF[1]:
        return []
    missing: list[str] = []
    owner = labels.get(OWNER_LABEL, MISSING)
    if owner is not UNKNOWN and not (isinstance(owner, str) and owner.strip()):
        missing.append(f'label "{OWNER_LABEL}" ({show(owner)})')
    approvers = _annotation(metadata.get("annotations", MISSING), APPROVERS_ANNOTATION)
    if approvers is not UNKNOWN and not _names_someone(approvers):
        missing.append(f'annotation "{APPROVERS_ANNOTATION}" ({show(approvers)})')
    if not missing:
        return []
    return [
        f"{label(resource_type, name)} is part of deploypaths but has no "
        f"{' and no '.join(missing)}; {HOW_TO_FIX}"
    ]


def policy() -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=NAME,
        description=(
            "Every Deployment and Job of a deploy path (labelled app.kubernetes.io/part-of: "
            f'deploypaths) carries a "{OWNER_LABEL}" label and a non-empty '
            f'"{APPROVERS_ANNOTATION}" annotation.'
        ),
        validate=resource_validate(_check),
        severity=Severity.MEDIUM,
    )


def _check(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type not in (K8S_DEPLOYMENT, K8S_JOB):
        return []
    return violations(args.resource_type, args.name, plain(args.props))


def _annotation(annotations: Any, key: str) -> Any:
    if annotations is UNKNOWN:
        return UNKNOWN
    return annotations.get(key, MISSING) if isinstance(annotations, Mapping) else MISSING


def _names_someone(value: Any) -> bool:
    """A comma-separated list with at least one approver in it."""
    return isinstance(value, str) and any(part.strip() for part in value.split(","))
