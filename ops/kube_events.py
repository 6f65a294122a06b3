"""The Kubernetes Events of an update, kept beside its engine events (`<n>.kube-events.jsonl`)
so that `ops logs` can show them after the clusters have forgotten them (the API server keeps
Events for an hour) or are gone.

Read from each region's cluster, in the stack's namespace, for the update's time window, through
the kubeconfigs of `kubernetes.kubeconfig_dir` (the local clusters; with `mode: eks` the
clusters' credentials are not on this machine, and nothing is kept). A cluster that does not
answer is named and skipped: the update's own result stands."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config

from deploypaths.config.settings import Settings
from ops import automation, events

SUFFIX = ".kube-events.jsonl"
# What Kubernetes creates for a Deployment or a Job, named after it plus generated parts.
OWNED_KINDS = frozenset({"ReplicaSet", "Pod"})
OWNED_NAME = re.compile(r"[a-z0-9]{5,10}(-[a-z0-9]{5})?")
# Seconds to wait for a region's API server: a stopped one must not hold the command up.
TIMEOUT_SECONDS = 5


def path_for(recording: Path) -> Path:
    """Where the Kubernetes Events of the update recorded in `recording` are kept."""
    return recording.with_name(recording.name.removesuffix(events.SUFFIX) + SUFFIX)


def keep(
    recording: Path,
    settings: Settings,
    since: float,
    say: Callable[[str], None],
    project: Path | None = None,
) -> Path | None:
    """Writes the stack's Events since `since` (epoch seconds) from every region it can reach;
    returns the file (None when no region's cluster is reachable from here)."""
    directory = settings.kubernetes.kubeconfig_dir
    if settings.kubernetes.mode != "kubeconfig" or not directory:
        return None
    kept: list[dict[str, Any]] = []
    for region in settings.region_names:
        kubeconfig = (project or automation.PROJECT_DIR) / directory / f"{region}.yaml"
        try:
            kept += list(_region_events(kubeconfig, region, settings.kubernetes.namespace, since))
        except (  # a cluster that cannot be read is reported: no kubeconfig, or no answer
            OSError,
            yaml.YAMLError,
            config.ConfigException,
            client.ApiException,
            urllib3.exceptions.HTTPError,
        ) as error:
            say(f"Kubernetes events of {region} not kept: {_first_line(error)}")
    target = path_for(recording)
    with events.private_file(target) as sink:
        for event in sorted(kept, key=lambda e: e["time"]):
            sink.write(json.dumps(event) + "\n")
    return target


def read(recording: Path) -> list[dict[str, Any]]:
    """The Kubernetes Events kept for the update recorded in `recording` (none: empty)."""
    target = path_for(recording)
    if not target.is_file():
        return []
    return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]


def belongs_to(event: Mapping[str, Any], names: Iterable[str]) -> bool:
    """Whether an Event is about one of a path's objects, or a ReplicaSet or Pod one of its
    Deployments or Jobs made (`<name>-<hash>`, `<name>-<hash>-<suffix>`, `<job>-<suffix>`)."""
    subject = str(event.get("name", ""))
    if subject in names:
        return True
    return event.get("kind") in OWNED_KINDS and any(
        OWNED_NAME.fullmatch(subject.removeprefix(f"{name}-"))
        for name in names
        if subject.startswith(f"{name}-")
    )


def _region_events(
    kubeconfig: Path, region: str, namespace: str, since: float
) -> Iterable[dict[str, Any]]:
    if not kubeconfig.is_file():
        raise FileNotFoundError(f"no kubeconfig at {kubeconfig}")
    api = client.CoreV1Api(
        config.new_client_from_config_dict(yaml.safe_load(kubeconfig.read_text()))
    )
    listed = api.list_namespaced_event(namespace, _request_timeout=TIMEOUT_SECONDS)
    for item in listed.items:
        when = item.last_timestamp or item.event_time or item.first_timestamp
        if when is None or when.timestamp() < since:
            continue
        yield {
            "time": when.timestamp(),
            "region": region,
            "kind": item.involved_object.kind,
            "name": item.involved_object.name,
            "type": item.type,
            "reason": item.reason,
            "message": (item.message or "").strip(),
            "count": item.count or 1,
        }


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
