"""What the per-service and promotion pipelines are built from, whatever the CI system: each
environment's services and migrations with their owners, and its region stacks' waves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploypaths.config.settings import Owner, Settings
from deploypaths.layout import PER_SERVICE
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import ConfigError, parse_settings
from ops import UserError
from ops.pipelines.rollout import Rollout, pulumi_pin

RELEASES_DIR = "releases"
MIGRATIONS_DIR = "migrations"


@dataclass(frozen=True, kw_only=True)
class Ownership:
    """Each service's and each migration's owner (None: nobody declared one)."""

    services: Mapping[str, Owner | None]
    migrations: Mapping[str, Owner | None]


def owners_of(settings: Settings) -> Ownership:
    """Each service's and migration's `owner` (a team and its approvers), by name."""
    return Ownership(
        services={s.name: s.owner for s in settings.services},
        migrations={m.name: m.owner for m in settings.migrations},
    )


@dataclass(frozen=True, kw_only=True)
class ServiceEntry:
    name: str
    owner: Owner | None


@dataclass(frozen=True, kw_only=True)
class Environment:
    """One environment as its pipelines see it: its region stacks' waves, its services and its
    migrations, each with its owner."""

    rollout: Rollout
    services: tuple[ServiceEntry, ...]
    migrations: tuple[ServiceEntry, ...]

    @property
    def name(self) -> str:
        return self.rollout.environment

    def service(self, name: str) -> ServiceEntry | None:
        return next((s for s in self.services if s.name == name), None)


def environment_from(settings: Settings, *, pulumi_version: str) -> Environment:
    owners = owners_of(settings)
    return Environment(
        rollout=Rollout(
            environment=settings.environment,
            waves=tuple(tuple(wave) for wave in settings.waves),
            pulumi_version=pulumi_version,
        ),
        services=tuple(
            ServiceEntry(name=s.name, owner=owners.services[s.name]) for s in settings.services
        ),
        migrations=tuple(
            ServiceEntry(name=m.name, owner=owners.migrations[m.name]) for m in settings.migrations
        ),
    )


def environment_of(name: str, project_dir: Path, *, per_service: bool) -> Environment:
    """The environment read from its stack file and validated as the program does; its layout
    must be the pipelines' (per-service pipelines run `ops release`, which needs it)."""
    try:
        config: Mapping[str, str] = load_stack_file(
            project_dir / f"Pulumi.{name}.yaml", project_dir
        )
        settings = parse_settings(namespace_values(config), stack=name)
    except (StackFileError, ConfigError) as error:
        raise UserError(str(error)) from None
    if per_service and settings.layout != PER_SERVICE:
        raise UserError(
            f"--per-service: environment {name}'s layout is {settings.layout}; set "
            f"`deploypaths:layout: per-service` in Pulumi.{name}.yaml first (docs/per-service.md)"
        )
    if not per_service and settings.layout == PER_SERVICE:
        raise UserError(
            f"environment {name} is per-service (deploypaths:layout): pass --per-service"
        )
    return environment_from(settings, pulumi_version=pulumi_pin(project_dir))


def release_file(service: str) -> str:
    return f"{RELEASES_DIR}/{service}.yaml"


def migration_folder(migration: str) -> str:
    return f"{MIGRATIONS_DIR}/{migration}/"
