"""Names, tags and fingerprints shared by the components, the plan and the ops commands."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from deploypaths.settings import Service, Settings


def path_id(service_or_migration: str, region: str) -> str:
    """The operator-facing id of a path inside a region: `orders@eu-west-1`."""
    return f"{service_or_migration}@{region}"


def component_name(service_or_migration: str, region: str) -> str:
    """The Pulumi name of a ServicePath or MigrationPath component."""
    return f"{service_or_migration}-{region}"


def gate_name(wave: int) -> str:
    """The health gate between wave `wave` (counted from 1) and the next."""
    return f"gate-after-wave-{wave}"


def short_hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def job_name(migration: str, image: str) -> str:
    """A migration version's Job name: a new image is a new Job (created beside the old one),
    the same image keeps its Job. Changing the Job template in code replaces the Job under the
    same name and reruns that version, which is why migrations must be idempotent."""
    return f"{migration}-{short_hash(image)}"


def tags(settings: Settings, path: str) -> dict[str, str]:
    """The tags every AWS resource carries, so cost, ownership and policy can find its path."""
    return {"environment": settings.environment, "path": path, "owner": settings.owner}


def service_release(service: Service) -> dict[str, Any]:
    """What a service path ships: every field, since any of them changes what runs (an image,
    a memory limit, a probe path), and so what the health gate must watch."""
    return service.model_dump()


def wave_release(settings: Settings, wave: int) -> str:
    """A fingerprint of everything a wave ships; the gate after it watches only when it changes."""
    release = {
        region: {
            "services": {s.name: service_release(s) for s in settings.services_in(region)},
            "migrations": [[m.name, m.image] for m in settings.migrations],
        }
        for region in settings.waves[wave]
    }
    return short_hash(release)
