"""What a path rollback needs of the state first: nothing outside its targets holding on to their
workloads.

The engine copies into the new state whatever an untargeted resource's recorded dependencies
name, before that resource (pulumi v3.259, `pkg/resource/deploy/step_generator.go`), so a
targeted update keeps a workload the program no longer declares while something it does not
target waited for it: a path rolled back from a canary release kept its canary's Deployment,
whose pods went on serving the release rolled back from, because the region's services
barrier, its flags' deployment or a path that runs `after` it waited for the path. So before a
path rollback's targeted update, the resources outside the targets let go of the targets'
Deployments and Jobs in the state: those recorded dependencies are removed, and nothing is
deployed. The next update that reaches them records what they wait for again; Kubernetes
objects delete in any order meanwhile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi import automation as auto

from deploypaths.config.problems import listing
from deploypaths.identity import urn_name
from ops.rollback.decision import glob_matches

WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")


def without_holds(
    deployment: Mapping[str, Any], targets: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """`deployment` (as `export_stack` gives it) with no untargeted resource depending on a
    targeted workload, and the URNs of the resources that did."""
    resources = deployment.get("resources") or []
    held = {
        str(r["urn"])
        for r in resources
        if r.get("type") in WORKLOADS and _targeted(str(r["urn"]), targets)
    }
    holders = []
    kept = []
    for resource in resources:
        if _targeted(str(resource["urn"]), targets) or not _waits_for(resource) & held:
            kept.append(resource)
            continue
        holders.append(str(resource["urn"]))
        resource = {**resource, "dependencies": _without(resource.get("dependencies"), held)}
        if resource.get("propertyDependencies"):
            resource["propertyDependencies"] = {
                key: _without(urns, held) for key, urns in resource["propertyDependencies"].items()
            }
        kept.append(resource)
    return {**deployment, "resources": kept}, holders


def let_go(stack: auto.Stack, targets: Sequence[str]) -> None:
    """The stack's state with nothing outside `targets` holding on to their workloads (see the
    module), and said so; nothing deployed."""
    exported = stack.export_stack()
    deployment, holders = without_holds(exported.deployment or {}, targets)
    if not holders:
        return
    stack.import_stack(auto.Deployment(version=exported.version, deployment=deployment))
    names = listing(urn_name(urn) for urn in holders)
    print(
        f"{len(holders)} resource(s) outside the targets waited for their workloads ({names}): "
        "they let go of them in the state, so that a workload the release rolled back to lacks "
        "is deleted; the next update that reaches them records what they wait for again. "
        "Nothing was deployed."
    )


def _targeted(urn: str, targets: Sequence[str]) -> bool:
    return any(urn == target or ("*" in target and glob_matches(target, urn)) for target in targets)


def _waits_for(resource: Mapping[str, Any]) -> set[str]:
    """The URNs a checkpoint's resource depends on, through any of its properties or not."""
    dependencies = {str(urn) for urn in resource.get("dependencies") or []}
    for urns in (resource.get("propertyDependencies") or {}).values():
        dependencies.update(str(urn) for urn in urns or [])
    return dependencies


def _without(urns: Sequence[str] | None, held: set[str]) -> list[str]:
    return [urn for urn in urns or [] if urn not in held]
