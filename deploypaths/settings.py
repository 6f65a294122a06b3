"""The validated stack configuration: frozen dataclasses, read once and handed down."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["expand", "contract"]
Strategy = Literal["rolling", "canary", "blue-green"]
Colour = Literal["blue", "green"]


@dataclass(frozen=True, kw_only=True)
class KubernetesSettings:
    mode: Literal["eks", "kubeconfig", "render"] = "eks"
    version: str = "1.31"
    node_instance_type: str = "t3.large"
    node_count: int = 3
    namespace: str = "app"
    # kubeconfig mode: a folder holding `<region>.yaml` for regions without a secret entry in
    # `kubeconfigs` (the local clusters of `python -m ops local up` write theirs there).
    kubeconfig_dir: str = ""
    # How long a path waits for its Deployments to roll out before it fails.
    rollout_timeout_seconds: int = 600


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    mode: Literal["aurora", "external", "none"] = "aurora"
    engine_version: str = "16.4"
    instance_class: str = "db.r6g.large"
    instances: int = 2
    name: str = "app"
    username: str = "app_admin"
    backup_retention_days: int = 7


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    # kubernetes: the gate watches the previous wave's Deployments through the API server.
    mode: Literal["cloudwatch", "kubernetes", "none"] = "cloudwatch"
    # Container restarts (per 5 minutes with CloudWatch; with kubernetes, of any current pod) at
    # which a path counts as unhealthy.
    restart_threshold: int = 3


@dataclass(frozen=True, kw_only=True)
class FlagDeliverySettings:
    """How AppConfig rolls a flag change out: linear growth, then a final bake under the alarms."""

    duration_minutes: int = 10
    growth_factor: int = 20
    final_bake_minutes: int = 10


@dataclass(frozen=True, kw_only=True)
class Migration:
    name: str
    image: str
    phase: Phase


@dataclass(frozen=True, kw_only=True)
class Canary:
    image: str
    weight: int


@dataclass(frozen=True, kw_only=True)
class BlueGreen:
    active: Colour
    blue_image: str
    green_image: str
    # Each colour's own scale (default: the service's replicas). The idle colour stays warm at
    # it, so switching `active` back and forth needs no scale-up and touches only the Service.
    blue_replicas: int | None = None
    green_replicas: int | None = None


@dataclass(frozen=True, kw_only=True)
class Flag:
    name: str
    enabled: bool
    rollout_percent: int = 100


@dataclass(frozen=True, kw_only=True)
class Service:
    name: str
    image: str
    replicas: int = 2
    port: int = 8080
    regions: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    strategy: Strategy = "rolling"
    canary: Canary | None = None
    blue_green: BlueGreen | None = None
    flags: tuple[Flag, ...] = ()
    cpu: str = "250m"
    memory: str = "256Mi"
    health_path: str = "/healthz"
    # Opt-outs from the hardening every pod gets (see README, "Pod security").
    read_only_root_filesystem: bool = True
    service_account_token: bool = False

    @property
    def flag_values(self) -> dict[str, dict[str, object]]:
        """What each flag is set to, as the pods read it (ConfigMap or AppConfig)."""
        return {
            f.name: {"enabled": f.enabled, "rollout_percent": f.rollout_percent} for f in self.flags
        }

    @property
    def images(self) -> tuple[str, ...]:
        """Every image this release runs, whatever the strategy."""
        if self.strategy == "canary" and self.canary:
            return (self.image, self.canary.image)
        if self.strategy == "blue-green" and self.blue_green:
            return (self.blue_green.blue_image, self.blue_green.green_image)
        return (self.image,)


# Service fields a region may pin to another value (how one path is rolled back alone).
OVERRIDABLE_SERVICE_FIELDS = ("image", "replicas", "strategy", "canary", "blue_green")


@dataclass(frozen=True, kw_only=True)
class Region:
    name: str
    # Per-service overrides of OVERRIDABLE_SERVICE_FIELDS, already validated.
    overrides: dict[str, dict[str, object]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Settings:
    stack: str
    environment: str
    owner: str
    regions: tuple[Region, ...]
    waves: tuple[tuple[str, ...], ...]
    bake_minutes: float
    kubernetes: KubernetesSettings
    database: DatabaseSettings
    monitoring: MonitoringSettings
    flag_delivery: FlagDeliverySettings
    migrations: tuple[Migration, ...]
    services: tuple[Service, ...]
    decommission: tuple[str, ...] = ()

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(region.name for region in self.regions)

    @property
    def is_protected(self) -> bool:
        """Production keeps its stateful resources through any mistake."""
        return self.environment == "prod"

    def is_protected_region(self, region: str) -> bool:
        """A region being decommissioned on purpose gives up protection, so it can be removed."""
        return self.is_protected and region not in self.decommission

    @property
    def gate_bake_minutes(self) -> float:
        """How long a health gate watches: without monitoring there is nothing to watch, and
        baking would only wait."""
        return 0 if self.monitoring.mode == "none" else self.bake_minutes

    @property
    def gate_poll_seconds(self) -> float:
        """CloudWatch alarms change at most once a minute and cost per call; the API server is
        watched closely enough for a bake of a few seconds on the local clusters."""
        return 30.0 if self.monitoring.mode == "cloudwatch" else 2.0

    def region(self, name: str) -> Region:
        return next(region for region in self.regions if region.name == name)

    def services_in(self, region: str) -> tuple[Service, ...]:
        """The services deployed in a region, with that region's overrides applied."""
        overrides = self.region(region).overrides
        return tuple(
            dataclasses.replace(service, **overrides.get(service.name, {}))
            for service in self.services
            if region in service.regions
        )

    def wave_of(self, region: str) -> int:
        return next(index for index, wave in enumerate(self.waves) if region in wave)
