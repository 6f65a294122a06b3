"""What a per-service environment's stacks tell each other, and what a service stack refuses.

The single stack orders a release by edges: a service after the expand migrations it requires
and after the services it names in `after`; contract migrations after every service of their
region. Split into an infrastructure stack per region and a stack per service, those edges cross
stacks, so each stack exports what the others check before they roll (through StackReference):

- a region's infrastructure stack exports the expand migrations it ran (`infrastructure`);
- a service stack exports, per region, the release of its service that rolled out (`released`).

A service stack refuses to roll any region while one of its requirements is missing in one of
them, and an infrastructure stack runs no contract while a service of its region is not on its
release: one line per missing piece, naming it and the stack that lacks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deploypaths.config.settings import Service, Settings
from deploypaths.layout import region_stack, service_stack
from deploypaths.naming import job_name, service_release, short_hash

# A region's infrastructure stack: `{"migrations": {name: run}, "alarm_topic_arn", ...}`.
INFRASTRUCTURE_OUTPUT = "infrastructure"
# A service stack: `{region: release}` of what rolled out there.
RELEASED_OUTPUT = "released"


def release_of(service: Service) -> str:
    """The fingerprint of a service's release in one region (its overrides applied)."""
    return short_hash(service_release(service))


def migration_runs(settings: Settings, region: str) -> dict[str, str]:
    """The expand migrations a region runs, by name, each as the Job of its version."""
    undone = set(settings.region(region).down_migrations)
    return {
        m.name: job_name(m.name, m.image)
        for m in settings.migrations
        if m.phase == "expand" and m.name not in undone
    }


def service_refusals(
    settings: Settings,
    service: str,
    infrastructure: Mapping[str, Any],
    released: Mapping[str, Any],
) -> list[str]:
    """Why service `service` must not roll yet, one line per missing piece: given each region's
    `infrastructure` export (by region) and each other service's `released` export (by name)."""
    return missing_migrations(settings, service, infrastructure) + missing_services(
        settings, service, released
    )


def missing_migrations(
    settings: Settings, service: str, infrastructure: Mapping[str, Any]
) -> list[str]:
    """The expand migrations `service` requires that a region's infrastructure stack has not
    run (in that version), one line each."""
    found = []
    for region, own in _regions_of(settings, service):
        ran = _mapping(_mapping(infrastructure.get(region)).get("migrations"))
        expected = migration_runs(settings, region)
        for migration in own[service].requires:
            if migration in expected and ran.get(migration) != expected[migration]:
                found.append(
                    f"{service}@{region}: requires expand migration {migration}, which stack "
                    f"{region_stack(settings.stack, region)} has not run: deploy it first "
                    f"(python -m ops release --env {settings.stack} --infrastructure)"
                )
    return found


def missing_services(settings: Settings, service: str, released: Mapping[str, Any]) -> list[str]:
    """The services `service` runs after whose release has not rolled out in a region."""
    found = []
    for region, own in _regions_of(settings, service):
        for other in (o for o in own[service].after if o in own):
            if _mapping(released.get(other)).get(region) != release_of(own[other]):
                found.append(
                    f"{service}@{region}: runs after {other}, whose release has not rolled out "
                    f"in {region}: stack {service_stack(settings.stack, other)} lacks it: "
                    f"release {other} first (python -m ops release --env {settings.stack} "
                    f"--service {other})"
                )
    return found


def _regions_of(settings: Settings, service: str) -> list[tuple[str, dict[str, Service]]]:
    """The regions `service` runs in, wave by wave, each with its services (overrides applied)."""
    found = []
    for region in (r for wave in settings.waves for r in wave):
        own = {s.name: s for s in settings.services_in(region)}
        if service in own:
            found.append((region, own))
    return found


def after_services(settings: Settings, region: str) -> list[str]:
    """The migrations a region runs after its services: its contracts and its `down`s."""
    downs = settings.region(region).down_migrations
    return [m.name for m in settings.migrations if m.phase == "contract" or m.name in downs]


def contract_refusals(settings: Settings, region: str, released: Mapping[str, Any]) -> list[str]:
    """Why a region's contract (and down) migrations must not run yet: a service of the region
    that runs an older release there, by its stack's `released` export. A service whose stack
    has exported no release for the region runs nothing there yet (a new environment), so
    nothing of it can still read what a contract drops."""
    migrations = after_services(settings, region)
    if not migrations:
        return []
    found = []
    for service in settings.services_in(region):
        running = _mapping(released.get(service.name)).get(region)
        if running is not None and running != release_of(service):
            found.append(
                f"{', '.join(migrations)}@{region}: waits for every service of {region}, and "
                f"stack {service_stack(settings.stack, service.name)} has not rolled out "
                f"{service.name}'s release there: release it first "
                f"(python -m ops release --env {settings.stack} --service {service.name})"
            )
    return found


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
