"""Who owns a deploy path, on its Kubernetes workloads: the `deploypaths/owner` label and the
`deploypaths/approvers` annotation, which the `paths-have-owners` policy requires in prod.

On the workload's own metadata only, never on a pod template: a new owner is no new release
(it would roll every pod, and replace a Job, whose template cannot change)."""

from __future__ import annotations

from deploypaths.config.settings import Owner

PART_OF = {"app.kubernetes.io/part-of": "deploypaths"}
OWNER_LABEL = "deploypaths/owner"
APPROVERS_ANNOTATION = "deploypaths/approvers"


def owner_labels(owner: Owner | None) -> dict[str, str]:
    return {**PART_OF, **({OWNER_LABEL: owner.team} if owner else {})}


def owner_annotations(owner: Owner | None) -> dict[str, str]:
    if owner is None or not owner.approvers:
        return {}
    return {APPROVERS_ANNOTATION: ",".join(owner.approvers)}
