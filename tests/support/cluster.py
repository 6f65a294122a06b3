"""A local cluster read through its API server, the way an operator would check a release."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes
import yaml


def stamp(value: str | datetime | None) -> float:
    """An API timestamp (RFC 3339, or the client's datetime) as seconds since the epoch."""
    if value is None:
        raise AssertionError("the object has no such timestamp yet")
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class ClusterView:
    region: str
    namespace: str
    kubeconfig: Path

    def __post_init__(self) -> None:
        config = yaml.safe_load(self.kubeconfig.read_text())
        self.api = kubernetes.config.new_client_from_config_dict(config)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.batch = kubernetes.client.BatchV1Api(self.api)
        self.core = kubernetes.client.CoreV1Api(self.api)

    def _plain(self, items: list[Any]) -> dict[str, dict[str, Any]]:
        return {item.metadata.name: self.api.sanitize_for_serialization(item) for item in items}

    def deployments(self) -> dict[str, dict[str, Any]]:
        return self._plain(self.apps.list_namespaced_deployment(self.namespace).items)

    def replica_sets(self) -> dict[str, dict[str, Any]]:
        return self._plain(self.apps.list_namespaced_replica_set(self.namespace).items)

    def jobs(self) -> dict[str, dict[str, Any]]:
        return self._plain(self.batch.list_namespaced_job(self.namespace).items)

    def pods(self, **labels: str) -> dict[str, dict[str, Any]]:
        selector = ",".join(f"{key}={value}" for key, value in labels.items())
        found = self.core.list_namespaced_pod(self.namespace, label_selector=selector).items
        return self._plain(found)

    def service(self, name: str) -> dict[str, Any]:
        found = self.core.read_namespaced_service(name, self.namespace)
        plain: dict[str, Any] = self.api.sanitize_for_serialization(found)
        return plain

    def namespace_object(self) -> dict[str, Any]:
        found = self.core.read_namespace(self.namespace)
        plain: dict[str, Any] = self.api.sanitize_for_serialization(found)
        return plain


def image_of(deployment: dict[str, Any]) -> str:
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in obj["status"].get("conditions") or [] if c["type"] == kind)


def available_since(deployment: dict[str, Any]) -> float:
    available = condition(deployment, "Available")
    assert available["status"] == "True", deployment["metadata"]["name"]
    return stamp(available["lastTransitionTime"])


def is_rolled_out(deployment: dict[str, Any]) -> bool:
    status, wanted = deployment.get("status") or {}, deployment["spec"]["replicas"]
    counts = [
        status.get(key) or 0
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    ]
    return status.get("observedGeneration") == deployment["metadata"]["generation"] and all(
        count == wanted for count in counts
    )
