"""A wave's Deployments read through the API server: rolled out, then healthy through the bake."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deploypaths.health import GateFailed
from deploypaths.rollout import rollout_problem

# Seconds to connect and to read one answer: a hung API server must not outlast the gate's own
# deadline.
REQUEST_TIMEOUT = (5, 30)


@dataclass(frozen=True)
class ClusterState:
    """What one region's namespace holds of the watched Deployments, as the API returns it."""

    deployments: dict[str, dict[str, Any] | None]
    # Container restart counts of the pods of the watched Deployments, by pod name.
    restarts: dict[str, int]
    # The watched Deployment each of those pods belongs to: a failed gate names the path.
    owners: dict[str, str] = field(default_factory=dict)


def rollout_problems(region: str, state: ClusterState) -> list[str]:
    problems = []
    for name, deployment in state.deployments.items():
        problem = "does not exist" if deployment is None else rollout_problem(deployment)
        if problem:
            problems.append(f"{region}: Deployment {name} {problem}")
    return problems


def health_problems(region: str, state: ClusterState, restart_threshold: int) -> list[str]:
    """Lost availability (an unfinished rollout counts) or too many container restarts."""
    restarted = [
        f"{region}: pod {pod}{_of(state.owners.get(pod))} restarted {count} times "
        f"(threshold {restart_threshold})"
        for pod, count in sorted(state.restarts.items())
        if count >= restart_threshold
    ]
    return rollout_problems(region, state) + restarted


def _of(deployment: str | None) -> str:
    return f" of Deployment {deployment}" if deployment else ""


def wait_rolled_out(
    read: Mapping[str, Callable[[], ClusterState]],
    timeout_seconds: float,
    poll_seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait until every region's Deployments have rolled out; GateFailed with what is still
    rolling when the time is up."""
    deadline = clock() + timeout_seconds
    while True:
        problems = []
        for region, state in read.items():
            try:
                problems += rollout_problems(region, state())
            except GateFailed as unreadable:
                # An API server that does not answer yet may answer before the deadline.
                problems.append(str(unreadable))
        if not problems:
            return
        if clock() >= deadline:
            raise GateFailed(f"not rolled out after {timeout_seconds:.0f}s: {'; '.join(problems)}")
        sleep(poll_seconds)


def cluster_reader(
    region: str, kubeconfig: str, namespace: str, deployments: list[str]
) -> Callable[[], ClusterState]:
    """Reads the named Deployments and their pods from the cluster a kubeconfig points at."""
    import kubernetes
    import urllib3
    import yaml

    try:
        api = kubernetes.config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
    except Exception:
        # The kubeconfig is a secret: none of it goes into the message.
        raise GateFailed(f"{region}: the kubeconfig cannot be read") from None
    apps, core = kubernetes.client.AppsV1Api(api), kubernetes.client.CoreV1Api(api)
    wanted = set(deployments)

    def read() -> ClusterState:
        try:
            return _read()
        except kubernetes.client.ApiException as error:
            raise GateFailed(
                f"{region}: the API server answered {error.status} {error.reason}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            # The client's transport refused, reset or timed out: an API server restarting, which
            # may answer at the next poll.
            raise GateFailed(
                f"{region}: the API server cannot be read ({type(error).__name__})"
            ) from None

    def _read() -> ClusterState:
        listed = apps.list_namespaced_deployment(namespace, _request_timeout=REQUEST_TIMEOUT)
        found = {
            item.metadata.name: api.sanitize_for_serialization(item)
            for item in listed.items
            if item.metadata.name in wanted
        }
        selectors = {
            name: (item["spec"].get("selector") or {}).get("matchLabels") or {}
            for name, item in found.items()
        }
        restarts, owners = {}, {}
        pods = core.list_namespaced_pod(namespace, _request_timeout=REQUEST_TIMEOUT)
        for pod in pods.items:
            labels = pod.metadata.labels or {}
            owner = next(
                (name for name, sel in selectors.items() if sel and sel.items() <= labels.items()),
                None,
            )
            if owner is not None:
                statuses = (pod.status and pod.status.container_statuses) or []
                restarts[pod.metadata.name] = sum(s.restart_count or 0 for s in statuses)
                owners[pod.metadata.name] = owner
        return ClusterState(
            deployments={name: found.get(name) for name in deployments},
            restarts=restarts,
            owners=owners,
        )

    return read
