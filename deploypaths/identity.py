"""The identity of a deploy path (kind, name, region) and every name it goes by: the operator's id
(`orders@eu-west-1`), the component's Pulumi name (`eu-west-1-orders`, starting with its
RegionPath's name like every child), its type token and its URN. The one place that builds these
names and the one place that takes them apart.

A component name cannot be split on its own (`eu-west-1-orders` could be service `1-orders` in a
region `eu-west`), so parsing one takes the regions the configuration knows. Updates recorded
before the components started with their region's name call them `orders-eu-west-1`
(`former_component_name`): every parser here reads both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

PACKAGE = "deploypaths"
REGION_PATH = f"{PACKAGE}:index:RegionPath"
SERVICE_PATH = f"{PACKAGE}:index:ServicePath"
MIGRATION_PATH = f"{PACKAGE}:index:MigrationPath"
HEALTH_GATE = f"{PACKAGE}:index:HealthGate"
FEATURE_FLAGS = f"{PACKAGE}:index:FeatureFlags"
# A region path's infrastructure, inside its RegionPath.
NETWORK = f"{PACKAGE}:index:Network"
CLUSTER = f"{PACKAGE}:index:Cluster"
DATABASE = f"{PACKAGE}:index:Database"

PathKind = Literal["region", "service", "migration"]
# What each component type is in the plan: a deploy path, or a gate or flags between them.
COMPONENT_KINDS: dict[str, str] = {
    REGION_PATH: "region",
    SERVICE_PATH: "service",
    MIGRATION_PATH: "migration",
    HEALTH_GATE: "gate",
    FEATURE_FLAGS: "flags",
}
# The deploy paths among them.
PATH_KINDS: dict[str, PathKind] = {
    REGION_PATH: "region",
    SERVICE_PATH: "service",
    MIGRATION_PATH: "migration",
}

GATE_PREFIX = "gate-after-wave-"
BARRIER_SUFFIX = "-services-ready"
BARRIER_ID_PREFIX = "services-ready@"
FLAGS_ID_PREFIX = "flags@"
# An AWS region code starting (or, in the former names, ending) a component's name: the fallback
# for a region the configuration dropped.
_AWS_REGION_CODE = r"(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)"
AWS_REGION_FIRST = re.compile(rf"^{_AWS_REGION_CODE}-(?P<name>.+)$")
AWS_REGION_LAST = re.compile(rf"^(?P<name>.+)-{_AWS_REGION_CODE}$")
URN_PREFIX = "urn:pulumi:"
STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"


@dataclass(frozen=True)
class PathIdentity:
    """A deploy path: a region's infrastructure (`name` is the region), or a service or
    migration path inside a region."""

    kind: PathKind
    name: str
    region: str

    @classmethod
    def of_region(cls, region: str) -> PathIdentity:
        return cls("region", region, region)

    @classmethod
    def of_component(cls, name: str, kind: PathKind, region: str) -> PathIdentity:
        """The path of the component `name` (either form) whose parent is `region`'s RegionPath."""
        if kind == "region":
            return cls.of_region(region)
        if name.startswith(f"{region}-"):
            return cls(kind, name.removeprefix(f"{region}-"), region)
        return cls(kind, name.removesuffix(f"-{region}"), region)

    @property
    def id(self) -> str:
        """The operator-facing id: `orders@eu-west-1`, or the region for its infrastructure."""
        return self.region if self.kind == "region" else path_id(self.name, self.region)

    @property
    def component_name(self) -> str:
        """The Pulumi name of the path's component: `eu-west-1-orders`, or the region."""
        return self.region if self.kind == "region" else component_name(self.name, self.region)

    @classmethod
    def parse_id(
        cls, text: str, *, kind: Literal["service", "migration"] = "service"
    ) -> PathIdentity:
        """`orders@eu-west-1` (a path of `kind`) or `eu-west-1` (the region's infrastructure)."""
        name, at, region = text.rpartition("@")
        if not at:
            return cls.of_region(text)
        return cls(kind, name, region)

    @classmethod
    def parse_component_name(
        cls, name: str, kind: Literal["service", "migration"], regions: Iterable[str]
    ) -> PathIdentity | None:
        """`eu-west-1-orders` (or the former `orders-eu-west-1`) -> service `orders` in
        `eu-west-1`, preferring the known regions (the longest first, the current form before
        the former) and else any AWS region code; None when no region starts or ends the name."""
        known = sorted(regions, key=len, reverse=True)
        for region in known:
            if name.startswith(f"{region}-") and len(name) > len(region) + 1:
                return cls(kind, name[len(region) + 1 :], region)
        for region in known:
            if name.endswith(f"-{region}") and len(name) > len(region) + 1:
                return cls(kind, name[: -len(region) - 1], region)
        match = AWS_REGION_FIRST.match(name) or AWS_REGION_LAST.match(name)
        return cls(kind, match["name"], match["region"]) if match else None


def path_id(service_or_migration: str, region: str) -> str:
    """The operator-facing id of a path inside a region: `orders@eu-west-1`."""
    return f"{service_or_migration}@{region}"


def component_name(service_or_migration: str, region: str) -> str:
    """The Pulumi name of a ServicePath or MigrationPath component: its RegionPath's name first."""
    return f"{region}-{service_or_migration}"


def former_component_name(service_or_migration: str, region: str) -> str:
    """What the component was named before it started with its region's name: the alias that
    keeps each path's resources where they are, and the name in updates recorded before."""
    return f"{service_or_migration}-{region}"


def gate_name(wave: int) -> str:
    """The health gate between wave `wave` (counted from 1) and the next."""
    return f"{GATE_PREFIX}{wave}"


def is_gate(name: str) -> bool:
    return name.startswith("gate-")


def gate_wave(name: str) -> int:
    """The wave a gate follows: `gate-after-wave-2` -> 2."""
    return int(name.rsplit("-", 1)[-1])


def barrier_name(region: str) -> str:
    """The resource a region's flag deployments wait on: every service of the region ready."""
    return f"{region}{BARRIER_SUFFIX}"


def barrier_id(name: str) -> str | None:
    """The plan's id of a barrier resource (`services-ready@eu-west-1`); None for other names."""
    if not name.endswith(BARRIER_SUFFIX):
        return None
    return f"{BARRIER_ID_PREFIX}{name.removesuffix(BARRIER_SUFFIX)}"


def is_barrier_id(path: str) -> bool:
    return path.startswith(BARRIER_ID_PREFIX)


def flags_id(region: str) -> str:
    """The plan's id of a region's feature flags."""
    return f"{FLAGS_ID_PREFIX}{region}"


def is_flags_id(path: str) -> bool:
    return path.startswith(FLAGS_ID_PREFIX)


def id_region(path: str, regions: Iterable[str]) -> str | None:
    """The region of a plan id (`orders@eu-west-1`, `flags@…`, a region), if it is one of
    `regions`."""
    region = path.rsplit("@", 1)[-1]
    return region if region in regions else None


def region_of_child(name: str, regions: Iterable[str]) -> str | None:
    """The region a region component's child belongs to: children are named `<region>-<role>`."""
    for region in sorted(regions, key=len, reverse=True):
        if name == region or name.startswith(f"{region}-"):
            return region
    return None


def component_of_child(name: str, components: Iterable[str]) -> str | None:
    """Which of the path `components` (their Pulumi names, either form) a child belongs to:
    children are named `<component>-<role>`; the longest match, None when none matches."""
    for component in sorted(components, key=len, reverse=True):
        if name.startswith(f"{component}-"):
            return component
    return None


class UrnError(ValueError):
    """A string that is not a Pulumi URN."""


@dataclass(frozen=True)
class Urn:
    """`urn:pulumi:<stack>::<project>::<parent types $-joined, own type last>::<name>`."""

    stack: str
    project: str
    types: tuple[str, ...]
    name: str

    @property
    def type(self) -> str:
        return self.types[-1]

    @classmethod
    def parse(cls, urn: str) -> Urn:
        head, sep, rest = urn.partition("::")
        if not sep or not head.startswith(URN_PREFIX):
            raise UrnError(f"not a Pulumi URN: {urn!r}")
        project, _, rest = rest.partition("::")
        qualified_type, _, name = rest.partition("::")
        return cls(head[len(URN_PREFIX) :], project, tuple(qualified_type.split("$")), name)

    def format(self) -> str:
        return f"{stack_prefix(self.stack)}{self.project}::{'$'.join(self.types)}::{self.name}"


def current_urns(urns: Iterable[str], paths: Iterable[PathIdentity]) -> dict[str, str]:
    """Each URN as today's program names it, given its service and migration paths: a path's
    component or child recorded under the component's former name (`orders-eu-west-1`,
    `orders-eu-west-1-<role>`) gets today's (`eu-west-1-orders`, `eu-west-1-orders-<role>`); any
    other URN stays as it is. Names are matched whole against the paths, never split, so a
    service whose own name starts with a region code is read right; the longest name that fits
    wins (today's, when both do)."""
    today = {former_component_name(p.name, p.region): p.component_name for p in paths}
    today.update({name: name for name in list(today.values())})
    renamed = {}
    for urn in urns:
        parsed = Urn.parse(urn)
        fits = parsed.name if parsed.name in today else component_of_child(parsed.name, today)
        if fits is None or not {SERVICE_PATH, MIGRATION_PATH} & set(parsed.types):
            renamed[urn] = urn
        else:
            renamed[urn] = replace(parsed, name=today[fits] + parsed.name[len(fits) :]).format()
    return renamed


def stack_prefix(stack: str) -> str:
    """What every URN of `stack` starts with: `urn:pulumi:<stack>::`."""
    return f"{URN_PREFIX}{stack}::"


def stack_urn(stack: str, project: str) -> str:
    """The URN of a stack's root resource, which every other resource descends from."""
    return Urn(stack, project, (STACK_TYPE,), f"{project}-{stack}").format()


def service_path_urn(stack: str, project: str, service: str, region: str) -> str:
    """The URN of a ServicePath component under its region's RegionPath."""
    return path_component_urn(stack, project, PathIdentity("service", service, region))


def path_component_urn(stack: str, project: str, path: PathIdentity) -> str:
    """The URN of a service's or migration's component under its region's RegionPath."""
    token = SERVICE_PATH if path.kind == "service" else MIGRATION_PATH
    return Urn(stack, project, (REGION_PATH, token), path.component_name).format()


def children_pattern(component_urn: str) -> str:
    """An `up --target` pattern for every child of a component: children are named
    `<component>-<role>` and their type chain starts with the component's."""
    head, _, name = component_urn.rpartition("::")
    return f"{head}$**::{name}-*"


def type_name(token: str) -> str:
    """A type token's last part: `deploypaths:index:ServicePath` -> `ServicePath`."""
    return token.rsplit(":", 1)[-1]


def urn_name(urn: str) -> str:
    """A resource's own name, the last part of its URN."""
    return urn.rsplit("::", 1)[-1]


def urn_key(urn: str) -> str:
    """A resource's own type and name: the same resource in a real run and in the mocks, whose
    URNs name another stack and project and only the parent's type in the type chain."""
    head, _, name = urn.rpartition("::")
    return f"{head.rsplit('::', 1)[-1].rsplit('$', 1)[-1]}::{name}"


def provider_urn(reference: str) -> str:
    """A provider reference (`<urn>::<id>`) without its id."""
    return reference.rsplit("::", 1)[0]


def provider_name(reference: str) -> str:
    """The provider's resource name in a provider reference (`<urn>::<id>`); "" for none."""
    return reference.split("::")[-2] if "::" in reference else ""
