"""Tags, job names and release fingerprints shared by the components and the ops commands; a
path's own names (`path_id`, `component_name`, `gate_name`) come from `deploypaths.identity`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from deploypaths.config.settings import Migration, Service, Settings
from deploypaths.identity import PathIdentity, component_name, gate_name, path_id

__all__ = [
    "component_name",
    "down_job_name",
    "gate_name",
    "job_name",
    "path_id",
    "service_release",
    "service_wave_release",
    "short_hash",
    "tags",
    "verify_job_name",
    "wave_release",
]


def short_hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def job_name(migration: str, image: str) -> str:
    """A migration version's Job name: a new image is a new Job (created beside the old one),
    the same image keeps its Job. Changing the Job template in code replaces the Job under the
    same name and reruns that version, which is why migrations must be idempotent."""
    return f"{migration}-{short_hash(image)}"


def down_job_name(migration: Migration) -> str:
    """The Job name of a migration's `down`: like `job_name`, a new down image or new args is a
    new Job, and it never takes the name of the migration's own Job."""
    assert migration.down is not None, migration.name
    return f"{migration.name}-down-{short_hash(migration.down.image, list(migration.down.args))}"


def verify_job_name(service: Service) -> str:
    """The Job name of a service path's verification: a fingerprint of the release it verifies
    (which holds the verify image and args), so every new release (a region's override too)
    runs a new Job beside the last one instead of clashing with its name."""
    return f"{service.name}-verify-{short_hash(service_release(service))}"


def tags(settings: Settings, path: str) -> dict[str, str]:
    """The tags every AWS resource carries, so cost, ownership and policy can find its path: a
    service path's owner is its service's team, anything else the stack's."""
    identity = PathIdentity.parse_id(path)
    team = next(
        (s.team for s in settings.services if s.name == identity.name and s.team),
        None,
    )
    owner = team if identity.kind == "service" and team else settings.owner
    return {"environment": settings.environment, "path": path, "owner": owner}


def service_release(service: Service) -> dict[str, Any]:
    """What a service path ships: every field, since any of them changes what runs (an image,
    a memory limit, a probe path), and so what the health gate must watch."""
    return service.model_dump()


def wave_release(settings: Settings, wave: int) -> str:
    """A fingerprint of everything a wave ships; the gate after it watches only when it changes."""
    release = {
        region: {
            "services": {s.name: service_release(s) for s in settings.services_in(region)},
            "migrations": [
                _migration_release(m, settings.region(region).down_migrations)
                for m in settings.migrations
            ],
        }
        for region in settings.waves[wave]
    }
    return short_hash(release)


def service_wave_release(settings: Settings, service: str, wave: int) -> str:
    """A fingerprint of what one service ships in a wave: the gate of its own stack (`layout:
    per-service`) watches again only when that changes."""
    release = {
        region: [service_release(s) for s in settings.services_in(region) if s.name == service]
        for region in settings.waves[wave]
    }
    return short_hash(release)


def _migration_release(migration: Migration, down_migrations: tuple[str, ...]) -> list[Any]:
    """What a region runs of one migration; a `down` only when the region runs it (so a stack
    that runs none keeps its fingerprints)."""
    if migration.name in down_migrations and migration.down is not None:
        return [migration.name, "down", migration.down.image, list(migration.down.args)]
    return [migration.name, migration.image]
