"""Resource props as the engine passes them to a policy, and how every policy reads and names them.

Props arrive as camelCase keys in dicts and lists, with `UNKNOWN` wherever the engine cannot
know a value yet (during preview, a value computed from another resource's output). A policy
never flags what it cannot see: the same policies run again during `pulumi up`, when the engine
has resolved those values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeGuard


class Unknown:
    """A value the engine does not know yet; the only instance is `UNKNOWN`."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()

# Stands in for a key that is absent from the props, so "not set" and null stay distinguishable.
MISSING: Final = object()

# Resource types more than one policy looks at.
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS_CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SNS_TOPIC = "aws:sns/topic:Topic"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    K8S_DEPLOYMENT: ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    K8S_JOB: ("spec", "template", "spec"),
    K8S_CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}


def label(resource_type: str, name: str) -> str:
    """How a message names a resource: `aws:rds/cluster:Cluster "eu-db"`."""
    return f'{resource_type} "{name}"'


def show(value: Any) -> str:
    """A prop value as the user wrote it in the program's terms: JSON, or "not set"."""
    if value is MISSING:
        return "not set"
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, float) and value.is_integer():
        # protobuf carries every number as a double; a retention of 7 arrives as 7.0.
        value = int(value)
    try:
        return json.dumps(value, sort_keys=True)
    except TypeError:
        return repr(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_list(value: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, Sequence) and not isinstance(value, str)


@dataclass(frozen=True, kw_only=True)
class Container:
    """A container of a workload's pod spec, with how a message should name it."""

    title: str
    spec: Mapping[str, Any]


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The workload's pod spec, or None if the type has none or the spec is not known."""
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    node: Any = props
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, Mapping) else None


def containers(spec: Mapping[str, Any], *, include_init: bool) -> Iterator[Container]:
    """The pod spec's containers (init containers first, if asked for), each with its title."""
    keys = ("initContainers", "containers") if include_init else ("containers",)
    for key in keys:
        listed = spec.get(key)
        if not is_list(listed):
            continue
        for index, container in enumerate(listed):
            if not isinstance(container, Mapping):
                continue
            name = container.get("name")
            kind = "init container" if key == "initContainers" else "container"
            title = f'{kind} "{name}"' if isinstance(name, str) else f"{key}[{index}]"
            yield Container(title=title, spec=container)
