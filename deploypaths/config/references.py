"""The checks that need the whole config, as functions of its read entries: names unique,
references resolved (regions, waves, migrations a service requires, services it waits for or
is called by, overrides), no `after` cycles, expand before contract, modes that fit together,
the secrets each mode needs, and notifications that fit the rest.

`config.parse` runs them once every entry has been read on its own; `Read` says where each
entry was written, so a problem names it by its index as written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any
from urllib.parse import urlsplit

from deploypaths.config.problems import NAMESPACE, Location, Problem, listing, show
from deploypaths.config.settings import (
    MAX_ALARM_ACTIONS,
    Service,
    Settings,
    alarm_topics,
    missing_release,
)
from deploypaths.config.settings import down_problem as down_problem  # an entry's own rule
from deploypaths.stack_config import SECRET_PLACEHOLDER

# A chain of `after` links is a chain of registrations the SDK walks recursively.
MAX_AFTER_CHAIN = 500


@dataclass(frozen=True)
class Read:
    """What reading the entries found: the index each kept entry was written at, and the names
    of the entries left out for their own problems (waiting for one is not a second problem)."""

    indices: Mapping[str, Sequence[int]] = field(default_factory=dict)
    left_out: Mapping[str, set[str]] = field(default_factory=dict)

    def at(self, key: str, index: int) -> int:
        indices = self.indices.get(key)
        return indices[index] if indices is not None else index

    def was_left_out(self, key: str, name: str) -> bool:
        return name in self.left_out.get(key, set())


def resolved(settings: Settings, stack: str) -> Settings:
    """The defaults that depend on other values: the environment is the stack's name, one wave
    holds every region, a service without regions runs in all of them."""
    regions = unique(settings.region_names)
    services = tuple(
        service.model_copy(
            update={
                "regions": tuple(r for r in service.regions if r in regions)
                if service.regions
                else regions
            }
        )
        for service in settings.services
    )
    waves = tuple(wave for wave in settings.waves if wave) or ((regions,) if regions else ())
    result = settings.model_copy(
        update={"environment": settings.environment or stack, "waves": waves, "services": services}
    )
    result._stack = stack
    return result


def problems(written: Settings, settings: Settings, read: Read) -> list[Problem]:
    """Every problem across the config: `written` as configured, `settings` resolved."""
    found: list[Problem] = []
    regions = unique(settings.region_names)
    found += _duplicates("regions", settings.region_names, read)
    if written.waves:
        found += _waves(written.waves, regions)
    if settings.monitoring.mode == "kubernetes" and settings.kubernetes.mode == "render":
        # Rendered manifests run nowhere the gate could watch: it would bake on nothing.
        allowed = "allowed with kubernetes.mode render: cloudwatch | none"
        found.append(_got(("monitoring", "mode"), "kubernetes", allowed))
    found += _duplicates("migrations", [m.name for m in settings.migrations], read)
    found += _expand_before_contract(settings, read)
    found += _service_references(written, settings, read)
    found += _duplicates("services", [s.name for s in settings.services], read)
    found += _after(settings, read)
    found += _callers(settings, read)
    found += _overrides(settings, read)
    found += _down_migrations(settings, read)
    found += _secrets(settings)
    found += _notifications(settings, read)
    found += _endpoints(settings, read)
    found += _alarm_actions(settings)
    return found


def unique(names: Iterable[str]) -> tuple[str, ...]:
    """Names in their first order, each once (a duplicate is reported on its own)."""
    return tuple(dict.fromkeys(names))


def _first_by_name(services: Iterable[Service]) -> dict[str, Service]:
    """Services by name; a duplicate is reported on its own, and the name means the first."""
    by_name: dict[str, Service] = {}
    for service in services:
        by_name.setdefault(service.name, service)
    return by_name


def _got(loc: Location, value: Any, allowed: str) -> Problem:
    return Problem(loc, f"got {show(value)}; {allowed}")


def _duplicates(key: str, names: Iterable[str], read: Read) -> list[Problem]:
    first: dict[str, int] = {}
    found = []
    for index, name in enumerate(names):
        at = read.at(key, index)
        if name in first:
            allowed = f"allowed: a unique name; {key}[{first[name]}] already has it"
            found.append(_got((key, at, "name"), name, allowed))
        else:
            first[name] = at
    return found


def _waves(waves: tuple[tuple[str, ...], ...], regions: tuple[str, ...]) -> list[Problem]:
    found = []
    placed: dict[str, int] = {}
    for index, wave in enumerate(waves):
        for position, region in enumerate(wave):
            if region not in regions:
                allowed = f"allowed: one of the configured regions ({listing(regions)})"
                found.append(_got(("waves", index, position), region, allowed))
            elif region in placed:
                allowed = (
                    f"allowed: each region in exactly one wave; it is in waves[{placed[region]}]"
                )
                found.append(_got(("waves", index, position), region, allowed))
            else:
                placed[region] = index
    missing = [region for region in regions if region not in placed]
    if missing:
        allowed = f"allowed: waves that hold every region; missing: {listing(missing)}"
        found.append(_got(("waves",), [list(wave) for wave in waves], allowed))
    return found


def _expand_before_contract(settings: Settings, read: Read) -> list[Problem]:
    contracts = [index for index, m in enumerate(settings.migrations) if m.phase == "contract"]
    if not contracts:
        return []
    first = settings.migrations[contracts[0]]
    allowed = (
        f"listed after contract migrations[{read.at('migrations', contracts[0])}] "
        f"({first.name!r}); allowed: every expand before every contract"
    )
    return [
        _got(("migrations", read.at("migrations", index), "phase"), "expand", allowed)
        for index, migration in enumerate(settings.migrations)
        if index > contracts[0] and migration.phase == "expand"
    ]


def _service_references(written: Settings, settings: Settings, read: Read) -> list[Problem]:
    """Each service's regions are configured ones, and what it requires is an expand migration."""
    regions = unique(settings.region_names)
    phases = {m.name: m.phase for m in settings.migrations}
    expands = listing(name for name, phase in phases.items() if phase == "expand")
    found = []
    for index, (service, resolved_service) in enumerate(
        zip(written.services, settings.services, strict=True)
    ):
        at = read.at("services", index)
        for position, region in enumerate(service.regions):
            if region not in regions:
                allowed = f"allowed: one of the configured regions ({listing(regions)})"
                found.append(_got(("services", at, "regions", position), region, allowed))
        if regions and service.regions and not resolved_service.regions:
            message = (
                f"service {service.name} has no configured region left to run in; "
                f"allowed: some of {listing(regions)}"
            )
            found.append(Problem(("services", at, "regions"), message))
        for position, migration in enumerate(service.requires):
            phase = phases.get(migration)
            if phase == "expand" or read.was_left_out("migrations", migration):
                continue
            kind = "a contract" if phase == "contract" else "an unknown"
            allowed = f"{kind} migration; allowed: an expand migration ({expands})"
            found.append(_got(("services", at, "requires", position), migration, allowed))
    return found


def _after(settings: Settings, read: Read) -> list[Problem]:
    """Each service waits for another service that runs wherever it runs, and not in a cycle."""
    by_name = _first_by_name(settings.services)
    found = []
    for index, service in enumerate(settings.services):
        for position, other in enumerate(service.after):
            loc = ("services", read.at("services", index), "after", position)
            if other == service.name:
                allowed = "allowed: another service (a service cannot wait for itself)"
                found.append(_got(loc, other, allowed))
            elif other not in by_name:
                if not read.was_left_out("services", other):
                    allowed = f"allowed: another configured service ({listing(by_name)})"
                    found.append(_got(loc, other, allowed))
            else:
                missing = [r for r in service.regions if r not in by_name[other].regions]
                if missing:
                    allowed = (
                        f"allowed: a service deployed wherever {service.name!r} runs "
                        f"({other!r} is not in {listing(missing)})"
                    )
                    found.append(_got(loc, other, allowed))
    graph = {s.name: [a for a in s.after if a in by_name and a != s.name] for s in by_name.values()}
    cycle = find_cycle(graph)
    if cycle:
        message = f"services wait for each other in a cycle: {' -> '.join(cycle)}"
        return [*found, Problem(("services", "after"), message)]
    chain = longest_chain(graph)
    if len(chain) > MAX_AFTER_CHAIN:
        message = (
            f"{len(chain)} services wait one for another ({chain[0]} -> ... -> {chain[-1]}); "
            f"allowed: chains of at most {MAX_AFTER_CHAIN} (the Pulumi SDK checks dependencies "
            "recursively, one level per link, and fails near 1,000)"
        )
        found.append(Problem(("services", "after"), message))
    return found


def _callers(settings: Settings, read: Read) -> list[Problem]:
    """Each service a service names as its caller is configured. It need not run wherever the
    service runs: a region admits the callers it deploys; and a service may name itself, when
    its pods call each other."""
    by_name = _first_by_name(settings.services)
    found = []
    for index, service in enumerate(settings.services):
        for position, other in enumerate(service.callers):
            if other in by_name or read.was_left_out("services", other):
                continue
            loc = ("services", read.at("services", index), "callers", position)
            found.append(_got(loc, other, f"allowed: a configured service ({listing(by_name)})"))
    return found


def _overrides(settings: Settings, read: Read) -> list[Problem]:
    """An override pins a service deployed in its region, and keeps its strategy's release."""
    by_name = _first_by_name(settings.services)
    found = []
    for index, region in enumerate(settings.regions):
        for name, override in region.overrides.items():
            loc: Location = ("regions", read.at("regions", index), "overrides", name)
            service = by_name.get(name)
            if service is None or region.name not in service.regions:
                if not read.was_left_out("services", name):
                    deployed = [s.name for s in by_name.values() if region.name in s.regions]
                    allowed = f"allowed: a service deployed in {region.name} ({listing(deployed)})"
                    found.append(_got(loc, name, allowed))
                continue
            problem = missing_release(
                override.strategy or service.strategy,
                override.canary or service.canary,
                override.blue_green or service.blue_green,
            )
            if problem:
                found.append(Problem(loc + problem[0], problem[1]))
    return found


def _down_migrations(settings: Settings, read: Read) -> list[Problem]:
    """A region runs the `down` of configured migrations that have one, each once."""
    downs = {m.name: m.down is not None for m in settings.migrations}
    allowed = f"allowed: a migration with a down ({listing(n for n, d in downs.items() if d)})"
    found = []
    for index, region in enumerate(settings.regions):
        first: dict[str, int] = {}
        for position, name in enumerate(region.down_migrations):
            loc: Location = ("regions", read.at("regions", index), "down_migrations", position)
            if name in first:
                again = f"allowed: each migration once; down_migrations[{first[name]}] has it"
                found.append(_got(loc, name, again))
                continue
            first[name] = position
            if downs.get(name) or read.was_left_out("migrations", name):
                continue
            kind = "a migration without a down" if name in downs else "an unknown migration"
            found.append(_got(loc, name, f"{kind}; {allowed}"))
    return found


def _secrets(settings: Settings) -> list[Problem]:
    """`kubeconfigs` and `database_urls` hold one secret per region for the modes that need one."""
    needed = {
        "kubeconfigs": (
            settings.kubernetes.mode == "kubeconfig" and not settings.kubernetes.kubeconfig_dir,
            settings.kubeconfigs,
        ),
        "database_urls": (settings.database.mode == "external", settings.database_urls),
    }
    found = []
    for key, (required, secrets) in needed.items():
        missing = [r for r in unique(settings.region_names) if not secrets.get(r)]
        if required and missing:
            found.append(_needs_secrets(key, missing, "..."))
    return found


def _notifications(settings: Settings, read: Read) -> list[Problem]:
    """`notifications` fit the rest of the config: unique names, owners some service has, and a
    topic for every region."""
    notifications = settings.notifications
    found: list[Problem] = []
    if notifications and settings.monitoring.mode != "cloudwatch":
        message = (
            f"got {len(notifications)} entries; allowed: notifications with monitoring.mode "
            f"cloudwatch only ({settings.monitoring.mode} creates no alarms or topics)"
        )
        found.append(Problem(("notifications",), message))
    owners = sorted({s.team for s in settings.services if s.team})
    regions = unique(settings.region_names)
    found += _duplicates("notifications", [n.name for n in notifications], read)
    for index, entry in enumerate(notifications):
        at = read.at("notifications", index)
        if entry.owner is not None and entry.owner not in owners:
            allowed = f"allowed: the owner of a service ({listing(owners)})"
            found.append(_got(("notifications", at, "owner"), entry.owner, allowed))
        for region in entry.topic_arns:
            if region not in regions:
                allowed = f"allowed: one of the configured regions ({listing(regions)})"
                found.append(_got(("notifications", at, "topic_arns", region), region, allowed))
        missing = [r for r in regions if r not in entry.topic_arns]
        if entry.protocol == "sns" and entry.topic_arns and missing:
            message = (
                f"has no topic for {listing(missing)}; allowed: a topic for every configured "
                "region (an alarm notifies topics of its own region only)"
            )
            found.append(Problem(("notifications", at, "topic_arns"), message))
    return found


def _endpoints(settings: Settings, read: Read) -> list[Problem]:
    """Each https notification has its secret URL, an https:// one; the values are never shown."""
    https = [entry.name for entry in settings.notifications if entry.protocol == "https"]
    endpoints = settings.notification_endpoints
    found = []
    missing = [name for name in https if not endpoints.get(name)]
    if missing:
        found.append(_needs_secrets("notification_endpoints", missing, "https://..."))
    for name, url in endpoints.items():
        loc = ("notification_endpoints", name)
        if name not in https:
            if not read.was_left_out("notifications", name):  # else its entry is wrong, and said so
                allowed = f"allowed: the name of an https notification ({listing(https)})"
                found.append(Problem(loc, f"got {name!r}; {allowed}"))
        elif url and url != SECRET_PLACEHOLDER and not _https_url(url):
            message = (
                "got a value that is no https:// URL (not shown: it is secret); allowed: an "
                "https:// URL with a host"
            )
            found.append(Problem(loc, message))
    return found


def _alarm_actions(settings: Settings) -> list[Problem]:
    """What a path's composite alarm notifies must fit in CloudWatch's actions per state."""
    found = []
    for owner in [None, *sorted({s.team for s in settings.services if s.team})]:
        topics = alarm_topics(settings.notifications, owner)
        if len(topics) > MAX_ALARM_ACTIONS:
            whose = f"owner {owner}'s paths" if owner else "paths without an owner"
            message = (
                f"{whose} would notify {len(topics)} topics per alarm (the region's, "
                f"{', '.join(topics[1:])}); allowed: at most {MAX_ALARM_ACTIONS} (CloudWatch's "
                "limit of actions per alarm)"
            )
            found.append(Problem(("notifications",), message))
    return found


def _needs_secrets(key: str, missing: list[str], value: str) -> Problem:
    command = f"pulumi config set --secret --path '{NAMESPACE}:{key}.{missing[0]}' {value}"
    return Problem((key,), f"needs a secret entry for {listing(missing)} ({command})")


def _https_url(url: str) -> bool:
    parts = urlsplit(url) if url.isprintable() and url.isascii() else None
    return parts is not None and parts.scheme == "https" and bool(parts.hostname)


def removed_region_problems(deployed: Iterable[str], settings: Settings) -> list[str]:
    """In a protected environment, a deployed region that the config no longer has is removed
    only on purpose: `decommission` must name it."""
    if not settings.is_protected:
        return []
    return [
        f"regions: {region!r} is deployed but no longer configured; removing it deletes its "
        f"paths. To remove it on purpose, list it in decommission (first while it is still "
        f"in regions, which lifts the protection of its databases and cluster)"
        for region in deployed
        if region not in settings.region_names and region not in settings.decommission
    ]


def longest_chain(graph: Mapping[str, list[str]]) -> list[str]:
    """The longest path of an acyclic graph, first waiter first, without recursion."""
    order = list(TopologicalSorter(graph).static_order())  # the waited-for come first
    best: dict[str, list[str]] = {}
    for node in order:
        before = max((best[n] for n in graph.get(node, [])), key=len, default=[])
        best[node] = [*before, node]
    return max(best.values(), key=len, default=[])[::-1]


def find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """One cycle of the graph as a closed list of nodes (first == last), each node followed by
    one it points to, or None."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        # graphlib lists a cycle against the direction of its edges.
        return list(reversed(error.args[1]))
    return None
