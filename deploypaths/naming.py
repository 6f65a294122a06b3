"""Tags, job names and release fingerprints shared by the components and the ops commands; a
path's own names (`path_id`, `component_name`, `gate_name`) come from `deploypaths.identity`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from deploypaths.identity import component_name, gate_name, path_id
from deploypaths.settings import Service, Settings

__all__ = [
    "component_name",
    "gate_name",
    "job_name",
    "path_id",
    "service_release",
    "short_hash",
    "tags",
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
