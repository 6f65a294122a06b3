"""Reading the recorded registrations as the engine's wait-for graph."""

from __future__ import annotations

from collections import deque

from deploypaths.recording import Recording

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"


def reachable(recording: Recording, start: str) -> set[str]:
    """Every URN `start` waits for, directly or through others."""
    seen: set[str] = set()
    queue = deque(recording.registrations[start].waits_for)
    while queue:
        urn = queue.popleft()
        if urn in seen or urn not in recording.registrations:
            continue
        seen.add(urn)
        queue.extend(recording.registrations[urn].waits_for)
    return seen


def path_of(recording: Recording, urn: str) -> str:
    """The name of the ServicePath/MigrationPath component a resource belongs to."""
    return recording.registrations[recording.registrations[urn].parent].name


def rollout_units(recording: Recording) -> dict[str, list[str]]:
    """Path component name -> the URNs of its Deployments and Jobs."""
    units: dict[str, list[str]] = {}
    for registration in recording.registrations.values():
        if registration.type in (DEPLOYMENT, JOB):
            units.setdefault(path_of(recording, registration.urn), []).append(registration.urn)
    return units


def unit_waits(recording: Recording) -> dict[str, set[str]]:
    """Deployment/Job URN -> the Deployments and Jobs of other paths it waits for."""
    units = rollout_units(recording)
    all_units = {urn for urns in units.values() for urn in urns}
    return {
        urn: {other for other in reachable(recording, urn) if other in all_units}
        for urns in units.values()
        for urn in urns
    }
