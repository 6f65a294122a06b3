"""The checks that need the whole config: names unique, references resolved (regions, waves,
migrations a service requires, services it waits for or is called by, overrides), no `after`
cycles, expand before contract, modes that fit together, and the secrets each mode needs.

They run as `Settings`' model validator. When some values were refused, the config is validated
again without them (`config.parse`), and `Where` says where the remaining entries were written,
so these checks still run and name each entry by its index as written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

from deploypaths.config.problems import NAMESPACE, Location, Problem, listing, show

if TYPE_CHECKING:
    from deploypaths.settings import BlueGreen, Canary, MigrationDown, Service, Settings

# A chain of `after` links is a chain of registrations the SDK walks recursively.
MAX_AFTER_CHAIN = 500


@dataclass(frozen=True)
class Where:
    """What a second look at a config knows of its first: the stack, the index as written of
    each entry still there, the names of entries left out for their own problems (waiting for
    one is not a second problem), and the top-level keys some value was left out of."""

    stack: str = ""
    positions: Mapping[str, list[int]] = field(default_factory=dict)
    left_out: Mapping[str, set[str]] = field(default_factory=dict)
    dropped_keys: frozenset[str] = frozenset()

    @classmethod
    def of(cls, context: Any) -> Where:
        """The Where a validation context carries (`{"where": ...}`), or none of a first look."""
        where = context.get("where") if isinstance(context, Mapping) else None
        return where if isinstance(where, Where) else cls()

    def at(self, key: str, index: int) -> int:
        positions = self.positions.get(key)
        return positions[index] if positions is not None else index

    def left_out_all(self, key: str) -> bool:
        return key in self.positions and not self.positions[key]

    def was_left_out(self, key: str, name: str) -> bool:
        return name in self.left_out.get(key, set())


def missing_release(
    strategy: str | None, canary: Canary | None, blue_green: BlueGreen | None
) -> tuple[Location, str] | None:
    """A strategy without the release it rolls out."""
    if strategy == "canary" and canary is None:
        return ("canary",), "is required when strategy is canary ({image, weight})"
    if strategy == "blue-green" and blue_green is None:
        return ("blue_green",), "is required when strategy is blue-green ({active, blue, green})"
    return None


def down_problem(
    phase: str, down: MigrationDown | None, down_phases: Iterable[str]
) -> tuple[Location, str] | None:
    """A `down` on a migration whose phase has no inverse to run."""
    allowed = tuple(down_phases)
    if down is None or phase in allowed:
        return None
    phases = " or ".join(allowed)
    return ("down",), f"is not allowed on a {phase} migration; allowed: on an {phases} migration"


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
    return settings.model_copy(
        update={"environment": settings.environment or stack, "waves": waves, "services": services}
    )


def problems(written: Settings, settings: Settings, where: Where) -> list[Problem]:
    """Every problem across the config: `written` as configured, `settings` resolved."""
    found: list[Problem] = []
    regions = unique(settings.region_names)
    found += _duplicates("regions", settings.region_names, where)
    if written.waves:
        found += _waves(written.waves, regions, where)
    if settings.monitoring.mode == "kubernetes" and settings.kubernetes.mode == "render":
        # Rendered manifests run nowhere the gate could watch: it would bake on nothing.
        found.append(
            _got(
                ("monitoring", "mode"),
                "kubernetes",
                "allowed with kubernetes.mode render: cloudwatch | none",
            )
        )
    found += _duplicates("migrations", [m.name for m in settings.migrations], where)
    found += _expand_before_contract(settings, where)
    found += _service_references(written, settings, where)
    found += _duplicates("services", [s.name for s in settings.services], where)
    found += _after(settings, where)
    found += _callers(settings, where)
    found += _overrides(settings, where)
    found += _down_migrations(settings, where)
    found += _secrets(settings, where)
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
    return Problem(loc, f"got {show(value)}; {allowed}", across=True)


def _note(loc: Location, message: str) -> Problem:
    return Problem(loc, message, across=True)


def _duplicates(key: str, names: Iterable[str], where: Where) -> list[Problem]:
    first: dict[str, int] = {}
    found = []
    for index, name in enumerate(names):
        at = where.at(key, index)
        if name in first:
            found.append(
                _got(
                    (key, at, "name"),
                    name,
                    f"allowed: a unique name; {key}[{first[name]}] already has it",
                )
            )
        else:
            first[name] = at
    return found


def _waves(
    waves: tuple[tuple[str, ...], ...], regions: tuple[str, ...], where: Where
) -> list[Problem]:
    found = []
    placed: dict[str, int] = {}
    for index, wave in enumerate(waves):
        at = where.at("waves", index)
        for position, region in enumerate(wave):
            if region not in regions:
                allowed = f"allowed: one of the configured regions ({listing(regions)})"
                found.append(_got(("waves", at, position), region, allowed))
            elif region in placed:
                allowed = (
                    f"allowed: each region in exactly one wave; it is in waves[{placed[region]}]"
                )
                found.append(_got(("waves", at, position), region, allowed))
            else:
                placed[region] = at
    missing = [region for region in regions if region not in placed]
    if missing:
        allowed = f"allowed: waves that hold every region; missing: {listing(missing)}"
        found.append(_got(("waves",), [list(wave) for wave in waves], allowed))
    return found


def _expand_before_contract(settings: Settings, where: Where) -> list[Problem]:
    contracts = [index for index, m in enumerate(settings.migrations) if m.phase == "contract"]
    if not contracts:
        return []
    first = settings.migrations[contracts[0]]
    first_at = where.at("migrations", contracts[0])
    return [
        _got(
            ("migrations", where.at("migrations", index), "phase"),
            "expand",
            f"listed after contract migrations[{first_at}] ({first.name!r}); "
            "allowed: every expand before every contract",
        )
        for index, migration in enumerate(settings.migrations)
        if index > contracts[0] and migration.phase == "expand"
    ]


def _service_references(written: Settings, settings: Settings, where: Where) -> list[Problem]:
    """Each service's regions are configured ones, and what it requires is an expand migration."""
    regions = unique(settings.region_names)
    phases = {m.name: m.phase for m in settings.migrations}
    expands = listing(name for name, phase in phases.items() if phase == "expand")
    found = []
    for index, (service, resolved_service) in enumerate(
        zip(written.services, settings.services, strict=True)
    ):
        at = where.at("services", index)
        for position, region in enumerate(service.regions):
            if region not in regions:
                allowed = f"allowed: one of the configured regions ({listing(regions)})"
                found.append(_got(("services", at, "regions", position), region, allowed))
        if regions and service.regions and not resolved_service.regions:
            found.append(
                _note(
                    ("services", at, "regions"),
                    f"service {service.name} has no configured region left to run in; "
                    f"allowed: some of {listing(regions)}",
                )
            )
        for position, migration in enumerate(service.requires):
            phase = phases.get(migration)
            if phase == "expand" or where.was_left_out("migrations", migration):
                continue
            kind = "a contract" if phase == "contract" else "an unknown"
            found.append(
                _got(
                    ("services", at, "requires", position),
                    migration,
                    f"{kind} migration; allowed: an expand migration ({expands})",
                )
            )
    return found


def _after(settings: Settings, where: Where) -> list[Problem]:
    """Each service waits for another service that runs wherever it runs, and not in a cycle."""
    by_name = _first_by_name(settings.services)
    found = []
    for index, service in enumerate(settings.services):
        for position, other in enumerate(service.after):
            loc = ("services", where.at("services", index), "after", position)
            if other == service.name:
                allowed = "allowed: another service (a service cannot wait for itself)"
                found.append(_got(loc, other, allowed))
            elif other not in by_name:
                if not where.was_left_out("services", other):
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
        return [*found, _note(("services", "after"), message)]
    chain = longest_chain(graph)
    if len(chain) > MAX_AFTER_CHAIN:
        message = (
            f"{len(chain)} services wait one for another ({chain[0]} -> ... -> {chain[-1]}); "
            f"allowed: chains of at most {MAX_AFTER_CHAIN} (the Pulumi SDK checks dependencies "
            "recursively, one level per link, and fails near 1,000)"
        )
        found.append(_note(("services", "after"), message))
    return found


def _callers(settings: Settings, where: Where) -> list[Problem]:
    """Each service a service names as its caller is configured. It need not run wherever the
    service runs: a region admits the callers it deploys; and a service may name itself, when
    its pods call each other."""
    by_name = _first_by_name(settings.services)
    found = []
    for index, service in enumerate(settings.services):
        for position, other in enumerate(service.callers):
            if other in by_name or where.was_left_out("services", other):
                continue
            loc = ("services", where.at("services", index), "callers", position)
            found.append(_got(loc, other, f"allowed: a configured service ({listing(by_name)})"))
    return found


def _overrides(settings: Settings, where: Where) -> list[Problem]:
    """An override pins a service deployed in its region, and keeps its strategy's release."""
    by_name = _first_by_name(settings.services)
    found = []
    for index, region in enumerate(settings.regions):
        at = where.at("regions", index)
        for name, override in region.overrides.items():
            loc: Location = ("regions", at, "overrides", name)
            service = by_name.get(name)
            if service is None or region.name not in service.regions:
                if not where.was_left_out("services", name):
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
                found.append(_note(loc + problem[0], problem[1]))
    return found


def _down_migrations(settings: Settings, where: Where) -> list[Problem]:
    """A region runs the `down` of configured migrations that have one, each once."""
    downs = {m.name: m.down is not None for m in settings.migrations}
    allowed = f"allowed: a migration with a down ({listing(n for n, d in downs.items() if d)})"
    found = []
    for index, region in enumerate(settings.regions):
        at = where.at("regions", index)
        first: dict[str, int] = {}
        for position, name in enumerate(region.down_migrations):
            loc: Location = ("regions", at, "down_migrations", position)
            if name in first:
                found.append(
                    _got(
                        loc,
                        name,
                        f"allowed: each migration once; down_migrations[{first[name]}] has it",
                    )
                )
                continue
            first[name] = position
            if downs.get(name) or where.was_left_out("migrations", name):
                continue
            kind = "a migration without a down" if name in downs else "an unknown migration"
            found.append(_got(loc, name, f"{kind}; {allowed}"))
    return found


def _secrets(settings: Settings, where: Where) -> list[Problem]:
    """`kubeconfigs` and `database_urls` hold one secret per region for the modes that need one."""
    needed = {
        "kubeconfigs": (
            settings.kubernetes.mode == "kubeconfig" and not settings.kubernetes.kubeconfig_dir,
            settings.kubeconfigs,
        ),
        "database_urls": (settings.database.mode == "external", settings.database_urls),
    }
    found = []
    for key, (required, entries) in needed.items():
        if not required or key in where.dropped_keys:
            continue
        missing = [r for r in unique(settings.region_names) if not entries.get(r)]
        if missing:
            found.append(
                _note(
                    (key,),
                    f"needs a secret entry for {listing(missing)} "
                    f"(pulumi config set --secret --path '{NAMESPACE}:{key}.{missing[0]}' ...)",
                )
            )
    return found


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
    """One cycle of the graph as a closed list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        trail: list[str] = []
        while stack:
            node, child = stack.pop()
            if child == 0:
                state[node] = 1
                trail.append(node)
            successors = graph.get(node, [])
            if child < len(successors):
                stack.append((node, child + 1))
                nxt = successors[child]
                if state.get(nxt) == 1:
                    return trail[trail.index(nxt) :] + [nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                trail.pop()
    return None
