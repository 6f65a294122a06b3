"""The ordering contract as the engine receives it: the wait-for graph of the recorded
registrations, and the must-wait pairs of paths that "Synchronization" in
docs/how-a-release-runs.md asks for."""

from __future__ import annotations

import itertools
from collections import deque

from deploypaths.config.settings import Settings
from deploypaths.recording import Recording
from deploypaths.stack_config import namespace_values
from deploypaths.validation import parse_settings

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


def expected_path_waits(settings: Settings) -> set[tuple[str, str]]:
    """The rules of "Synchronization" (docs/how-a-release-runs.md), written independently of the
    components, closed transitively: (A, B) means path A may only start after path B is done."""
    direct: set[tuple[str, str]] = set()
    for region in settings.region_names:
        services = [s.name for s in settings.services_in(region)]
        migrations = settings.migrations
        for earlier, later in itertools.pairwise(migrations):
            direct.add((f"{region}-{later.name}", f"{region}-{earlier.name}"))
        for service in settings.services_in(region):
            for migration in service.requires:
                direct.add((f"{region}-{service.name}", f"{region}-{migration}"))
            for other in service.after:
                direct.add((f"{region}-{service.name}", f"{region}-{other}"))
        for migration in (m for m in migrations if m.phase == "contract"):
            for service in services:
                direct.add((f"{region}-{migration.name}", f"{region}-{service}"))
    for earlier_wave, later_wave in itertools.pairwise(settings.waves):
        for before, after in itertools.product(earlier_wave, later_wave):
            for waiter in _paths(settings, after):
                for waited in _paths(settings, before):
                    direct.add((waiter, waited))
    closure = set(direct)
    while True:
        extra = {(a, d) for (a, b) in closure for (c, d) in closure if b == c} - closure
        if not extra:
            return closure
        closure |= extra


def _paths(settings: Settings, region: str) -> list[str]:
    return [f"{region}-{s.name}" for s in settings.services_in(region)] + [
        f"{region}-{m.name}" for m in settings.migrations
    ]


def assert_exact_ordering(recording, settings: Settings) -> None:
    units = rollout_units(recording)
    waits = unit_waits(recording)
    expected = expected_path_waits(settings)
    missing, extra = [], []
    for (waiter, waiter_units), (waited, waited_units) in itertools.permutations(units.items(), 2):
        for unit, other in itertools.product(waiter_units, waited_units):
            connected = other in waits[unit]
            if (waiter, waited) in expected and not connected:
                missing.append(f"{unit.split('::')[-1]} does not wait for {other.split('::')[-1]}")
            if (waiter, waited) not in expected and connected:
                extra.append(f"{unit.split('::')[-1]} waits for {other.split('::')[-1]}")
    assert not missing, "missing edges:\n" + "\n".join(missing[:20])
    assert not extra, "extra edges (lost parallelism):\n" + "\n".join(extra[:20])
    expected_paths = {p for region in settings.region_names for p in _paths(settings, region)}
    assert set(units) == expected_paths


def settings_of(config: dict[str, str], stack: str) -> Settings:
    return parse_settings(namespace_values(config), stack=stack)
