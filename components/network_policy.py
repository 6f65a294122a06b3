"""Who may reach the program's pods: every namespace denies ingress by default, and each service
admits, on its own port only, the pods of its namespace that call it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from deploypaths.config.settings import Service

# The namespace's policy; a service's is `<service>-ingress`, so no service name can take it.
DEFAULT_DENY = "default-deny"


def pod_labels(service: str) -> dict[str, str]:
    """The labels every pod of a service carries, whatever its track (stable, canary, blue,
    green): what selects all of them."""
    return {"app": service}


def verify_labels(service: str) -> dict[str, str]:
    """The labels of a service's verification pods. No `app` label: the Service and disruption
    budget select the path's pods by it."""
    return {"app.kubernetes.io/part-of": "deploypaths", "deploypaths/verify": service}


def callers(service: Service, services: Iterable[Service]) -> tuple[str, ...]:
    """The services of one region whose pods call `service`: the ones that name it in `after`,
    and the ones its `callers` lists that the region deploys. Sorted, so reordering the config
    changes no policy."""
    deployed = {other.name: other for other in services}
    named = {name for name, other in deployed.items() if service.name in other.after}
    return tuple(sorted(named | {name for name in service.callers if name in deployed}))


def service_ingress(
    service: Service, caller_names: Iterable[str], *, verified: bool
) -> dict[str, Any]:
    """The spec of a service's NetworkPolicy: its pods admit its callers' pods and, with
    `verify`, its verification pods, on its container port. Peers without a namespace selector
    are pods of the policy's own namespace: the service's environment in its region.

    No service declares an ingress (their Services are ClusterIP only), so nothing outside the
    namespace is admitted. The kubelet's probes need no rule: traffic from a pod's own node is
    always allowed."""
    peers = [{"pod_selector": {"match_labels": pod_labels(name)}} for name in caller_names]
    if verified:
        peers.append({"pod_selector": {"match_labels": {"deploypaths/verify": service.name}}})
    # A rule without peers would admit everyone: a service nobody calls gets no rule at all.
    ports = [{"protocol": "TCP", "port": service.port}]
    rules = [{"from_": peers, "ports": ports}] if peers else []
    return {
        "pod_selector": {"match_labels": pod_labels(service.name)},
        "policy_types": ["Ingress"],
        "ingress": rules,
    }


def default_deny(
    name: str, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """Every pod of the namespace admits nothing unless a service's own policy says so."""
    return k8s.networking.v1.NetworkPolicy(
        f"{name}-default-deny",
        metadata={"name": DEFAULT_DENY, "namespace": namespace},
        spec={"pod_selector": {}, "policy_types": ["Ingress"]},
        opts=opts,
    )
