"""When a Deployment's release has rolled out, said once for the provider's wait and the gate.

The provider's own Deployment await can report an update done while the old ReplicaSet still
serves (it reads status written before the controller saw the new template, and a rollback that
reuses an old ReplicaSet looks finished before it scales up; see docs/local-clusters.md,
"Rollouts that really wait"). `pulumi.com/waitFor` replaces that await: every condition must
hold on one object whose `observedGeneration` has caught up with its `generation`, which the
provider checks itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

# Status counts that must all equal the desired replicas: no old pods left (`replicas`), every
# pod on the new template (`updatedReplicas`), all of them Ready and Available.
ROLLED_OUT_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


def rollout_annotations(replicas: int, timeout_seconds: int) -> dict[str, str]:
    """The provider-side wait for one Deployment of `replicas` pods."""
    if replicas == 0:
        # Status omits zero counts; once the controller has seen the template there is nothing
        # to wait for.
        conditions = ["jsonpath={.spec.replicas}=0"]
    else:
        conditions = [f"jsonpath={{.status.{count}}}={replicas}" for count in ROLLED_OUT_COUNTS]
    return {
        "pulumi.com/waitFor": json.dumps(conditions),
        "pulumi.com/timeoutSeconds": str(timeout_seconds),
    }


def rollout_problem(deployment: Mapping[str, Any]) -> str | None:
    """Why a Deployment (as the API server returns it) has not rolled out its release, or None."""
    metadata, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    status = deployment.get("status") or {}
    if (status.get("observedGeneration") or 0) < (metadata.get("generation") or 0):
        return "the controller has not seen its new template yet"
    wanted = spec.get("replicas", 1)
    counts = {count: status.get(count) or 0 for count in ROLLED_OUT_COUNTS}
    if any(value != wanted for value in counts.values()):
        shown = ", ".join(f"{count} {value}" for count, value in counts.items())
        return f"wants {wanted} replicas, has {shown}"
    return None


DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"


def rollout_steps(resource_type: str, inputs: Mapping[str, Any], operation: str) -> int:
    """How many rounds of pods becoming ready an operation waits for: a rolling update of a
    Deployment replaces its pods a surge batch at a time; a create (or a replacement) starts
    them all at once, and no other resource rolls anything out."""
    if resource_type != DEPLOYMENT_TYPE or operation != "update":
        return 1
    spec = inputs.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 1
    replicas = int(spec.get("replicas", 1))
    rolling = strategy.get("rollingUpdate") or {}
    surge = _pods(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _pods(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    return max(1, math.ceil(replicas / max(1, surge + unavailable)))


def _pods(value: Any, replicas: int, *, round_up: bool) -> int:
    """A maxSurge / maxUnavailable as pods, rounded the way the Deployment controller does."""
    if isinstance(value, str) and value.endswith("%"):
        share = replicas * float(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)
