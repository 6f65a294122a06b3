"""Which regions, paths and gates a stack declares: one stack per environment, one per region,
or (`layout: per-service`) one infrastructure stack per region and one stack per service.

A region stack is named `<env>-<region>` (`prod-eu-west-1`), where `<env>` is the environment's
own stack and `<region>` one of the regions in its config: it runs the same program on the same
config, declares only its region's paths and, when its region is not in the first wave, the gate
in front of its wave, which reads the previous wave through that wave's region stacks' outputs.

With `layout: per-service` in the environment's config, `<env>-<region>` declares its region's
infrastructure only (network, cluster, database, migrations, flags), and `<env>-svc-<service>`
declares that service's path in every region it runs in, wave by wave, with a gate between waves
that watches that service alone (see deploypaths/service_guard.py for what it reads first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# What a region stack exports for the gate in front of the next wave (`StackReference` outputs).
GATE_OUTPUT = "gate_watch"
# The region's kubeconfig, exported as a secret (the gate reads the cluster through it).
KUBECONFIG_OUTPUT = "kubeconfig"

Waves = Sequence[Sequence[str]]

SINGLE, PER_REGION, PER_SERVICE = "single", "per-region", "per-service"
SERVICE_STACK_INFIX = "-svc-"


def region_stack(environment_stack: str, region: str) -> str:
    """The name of one region's stack of an environment: `prod-eu-west-1`."""
    return f"{environment_stack}-{region}"


def service_stack(environment_stack: str, service: str) -> str:
    """The name of one service's stack of a per-service environment: `prod-svc-payments`."""
    return f"{environment_stack}{SERVICE_STACK_INFIX}{service}"


def region_names(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The region names in raw (unvalidated) config; whatever is malformed is left to validation."""
    return _names(raw.get("regions"))


def service_names(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The service names in raw (unvalidated) config."""
    return _names(raw.get("services"))


def _names(entries: Any) -> tuple[str, ...]:
    if not isinstance(entries, list):
        return ()
    return tuple(
        entry["name"]
        for entry in entries
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    )


@dataclass(frozen=True)
class StackLayout:
    """One stack's share of its environment: every region (`region` None) or one of them."""

    stack: str
    # The environment's own stack name: its config, settings and rendered manifests are shared.
    environment_stack: str
    region: str | None = None
    # A per-service environment's stacks: a service's (`service`), or a region's infrastructure
    # (`region` with `infrastructure_only`).
    service: str | None = None
    infrastructure_only: bool = False

    @property
    def per_region(self) -> bool:
        return self.region is not None and not self.infrastructure_only

    @property
    def per_service(self) -> bool:
        return self.service is not None or self.infrastructure_only

    def declared_regions(
        self, waves: Waves, service_regions: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """The regions whose paths this stack declares, in wave order (a service stack: those of
        `service_regions`, the regions its service runs in)."""
        everything = tuple(region for wave in waves for region in wave)
        if self.service is not None:
            return tuple(region for region in everything if region in service_regions)
        return (self.region,) if self.region is not None else everything

    def declares_service(self, service: str) -> bool:
        if self.infrastructure_only:
            return False
        return self.service is None or self.service == service

    def gated_waves(self, waves: Waves, service_regions: Sequence[str] = ()) -> tuple[int, ...]:
        """The waves (0-based) whose gate this stack declares: the gate after wave w holds back
        wave w + 1, so it lives where wave w + 1 is declared. A service stack gates between the
        waves its service runs in; a per-service infrastructure stack has no gate (it ships no
        service for a gate to watch)."""
        if self.infrastructure_only:
            return ()
        if self.service is not None:
            used = [w for w, wave in enumerate(waves) if set(wave) & set(service_regions)]
            return tuple(used[:-1])
        if self.region is None:
            return tuple(range(len(waves) - 1))
        wave = wave_of(waves, self.region)
        return (wave - 1,) if wave > 0 else ()

    def referenced_regions(self, waves: Waves) -> tuple[str, ...]:
        """The regions read through stack references: the watched wave's, in a region stack."""
        if not self.per_region:
            return ()
        return tuple(region for wave in self.gated_waves(waves) for region in waves[wave])

    def reference(self, region: str) -> str:
        """The stack another region's outputs are read from."""
        return region_stack(self.environment_stack, region)


def wave_of(waves: Waves, region: str) -> int:
    return next(index for index, wave in enumerate(waves) if region in wave)


def of_stack(stack: str, raw: Mapping[str, Any]) -> StackLayout:
    """The layout a stack name means for this config: `<env>-<region>` with `<region>` one of the
    config's regions is a region stack of `<env>` (its infrastructure stack under `layout:
    per-service`, where `<env>-svc-<service>` is a service's stack); any other name is a whole
    environment."""
    per_service = raw.get("layout") == PER_SERVICE
    if per_service:
        for service in service_names(raw):
            suffix = f"{SERVICE_STACK_INFIX}{service}"
            if stack.endswith(suffix) and len(stack) > len(suffix):
                return StackLayout(stack, stack[: -len(suffix)], service=service)
    for region in region_names(raw):
        suffix = f"-{region}"
        if stack.endswith(suffix) and len(stack) > len(suffix):
            environment = stack[: -len(suffix)]
            return StackLayout(stack, environment, region, infrastructure_only=per_service)
    return StackLayout(stack, stack)


def of_settings(stack: str, settings: Any) -> StackLayout:
    """`of_stack` for validated settings (their layout, region and service names)."""
    raw = {
        "layout": settings.layout,
        "regions": [{"name": name} for name in settings.region_names],
        "services": [{"name": service.name} for service in settings.services],
    }
    return of_stack(stack, raw)


def region_stacks(environment_stack: str, waves: Waves) -> list[list[str]]:
    """An environment's region stacks, wave by wave: the order they are deployed in."""
    return [[region_stack(environment_stack, region) for region in wave] for wave in waves]


def unshipped(stack: str, exported: Any, release: str) -> str | None:
    """Why the gate must not trust a previous-wave region stack's outputs: it never exported
    them, or it last shipped another release than the one the gate holds the next wave behind."""
    if not isinstance(exported, Mapping):
        return f"stack {stack} has no `{GATE_OUTPUT}` output: deploy it first"
    if exported.get("release") != release:
        return (
            f"stack {stack} last deployed release {exported.get('release')!r} of its wave, not "
            f"{release!r}: deploy it (its whole wave) before the next wave"
        )
    return None
