"""The deploy paths: migrations, services and the order between them (`after`), and the
per-region overrides of a service."""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import TopologicalSorter

from deploypaths.settings import OVERRIDABLE_SERVICE_FIELDS, Migration, Region, Service
from deploypaths.validation._reader import (
    _dns_name,
    _duplicates,
    _is_list,
    _list_of_mappings,
    _Problems,
    _Reader,
)
from deploypaths.validation._shown import _join, _listing
from deploypaths.validation.patterns import HEALTH_PATH, QUANTITY
from deploypaths.validation.releases import _flags, _image, _release_fields


def _migrations(
    problems: _Problems, top: _Reader, environment: str
) -> tuple[tuple[Migration, ...], dict[str, str | None]]:
    """The valid migrations, and the phase (None when invalid) of every well-named one: a
    service requiring a migration whose entry has a problem gets no second, misleading one."""
    migrations: list[tuple[int, Migration]] = []
    phases: dict[str, str | None] = {}
    for index, entry in enumerate(_list_of_mappings(top, "migrations", required=False)):
        key = f"migrations[{index}]"
        reader = _Reader(problems, key, entry, ("name", "image", "phase"))
        name = reader.required("name", lambda v: isinstance(v, str), "a DNS-1123 name")
        image = reader.required("image", lambda v: isinstance(v, str), "an image reference")
        phase = reader.required("phase", lambda v: v in ("expand", "contract"), "expand | contract")
        valid_name = name is not None and _dns_name(problems, f"{key}.name", name)
        valid_image = image is not None and _image(problems, f"{key}.image", image, environment)
        if valid_name:
            phases.setdefault(name, phase)
        if valid_name and valid_image and phase:
            migrations.append((index, Migration(name=name, image=image, phase=phase)))
    _duplicates(problems, "migrations", [(index, m.name) for index, m in migrations])
    contracts = [(index, m) for index, m in migrations if m.phase == "contract"]
    if contracts:
        first_index, first = contracts[0]
        for index, migration in migrations:
            if index > first_index and migration.phase == "expand":
                problems.add(
                    f"migrations[{index}].phase",
                    "expand",
                    f"listed after contract migrations[{first_index}] ({first.name!r}); "
                    "allowed: every expand before every contract",
                )
    return tuple(migration for _, migration in migrations), phases


SERVICE_KEYS = (
    "name",
    "image",
    "replicas",
    "port",
    "regions",
    "requires",
    "after",
    "strategy",
    "canary",
    "blue_green",
    "flags",
    "cpu",
    "memory",
    "health_path",
    "read_only_root_filesystem",
    "service_account_token",
)


def _services(
    problems: _Problems,
    top: _Reader,
    regions: tuple[str, ...],
    phases: dict[str, str | None],
    environment: str,
) -> list[tuple[int, Service]]:
    """The valid services, each with its index in `services` as written."""
    expands = _listing(name for name, phase in phases.items() if phase == "expand")
    services: list[tuple[int, Service]] = []
    # Well-named services, valid or not: waiting for one with a problem is not a second one.
    named: set[str] = set()
    entries = _list_of_mappings(top, "services", required=True)
    for index, entry in enumerate(entries):
        key = f"services[{index}]"
        reader = _Reader(problems, key, entry, SERVICE_KEYS)
        name = reader.required("name", lambda v: isinstance(v, str), "a DNS-1123 name")
        if name is not None and not _dns_name(problems, f"{key}.name", name):
            name = None
        if name is not None:
            named.add(name)
        release = _release_fields(problems, reader, environment, None)
        port = reader.integer("port", 1, 65535, 8080)
        listed = reader.names("regions")
        for position, region in listed:
            if region not in regions:
                problems.add(
                    f"{key}.regions[{position}]",
                    region,
                    f"allowed: one of the configured regions ({_listing(regions)})",
                )
        # An unset or empty list means every region.
        if reader.present("regions") and reader.data["regions"]:
            service_regions = tuple(region for _, region in listed if region in regions)
        else:
            service_regions = regions
        if regions and listed and not service_regions:
            problems.note(
                f"{key}.regions",
                f"service {name or '(unnamed)'} has no configured region left to run in; "
                f"allowed: some of {_listing(regions)}",
            )
        requires = reader.names("requires")
        for position, migration in requires:
            # None: the migration's entry has a problem of its own, already reported.
            phase = phases.get(migration, "unknown")
            if phase in ("unknown", "contract"):
                problems.add(
                    f"{key}.requires[{position}]",
                    migration,
                    f"{'an unknown' if phase == 'unknown' else 'a contract'} migration; "
                    f"allowed: an expand migration ({expands})",
                )
        after = reader.names("after")
        flags = _flags(problems, f"{key}.flags", reader.data.get("flags"))
        cpu = reader.text("cpu", "250m", QUANTITY, "a Kubernetes CPU quantity like 250m or 1")
        memory = reader.text("memory", "256Mi", QUANTITY, "a Kubernetes quantity like 256Mi")
        health_path = reader.text(
            "health_path", "/healthz", HEALTH_PATH, "an HTTP path like /healthz"
        )
        # The two hardenings the restricted Pod Security Standard leaves to the workload.
        read_only_root = reader.get("read_only_root_filesystem", _is_bool, "true or false", True)
        token = reader.get("service_account_token", _is_bool, "true or false", False)
        if name is None or "image" not in release:
            continue
        service = Service(
            name=name,
            port=port,
            regions=service_regions,
            requires=tuple(migration for _, migration in requires),
            after=tuple(other for _, other in after),
            flags=flags,
            cpu=cpu,
            memory=memory,
            health_path=health_path,
            read_only_root_filesystem=read_only_root,
            service_account_token=token,
            **release,
        )
        services.append((index, service))
    _duplicates(problems, "services", [(index, s.name) for index, s in services])
    _check_after(problems, services, named)
    return services


# A chain of `after` links is a chain of registrations the SDK walks recursively.
MAX_AFTER_CHAIN = 500


def _check_after(problems: _Problems, services: list[tuple[int, Service]], named: set[str]) -> None:
    # A duplicate name is reported on its own; `after` means the first service of that name.
    by_name: dict[str, Service] = {}
    for _, service in services:
        by_name.setdefault(service.name, service)
    for index, service in services:
        for position, other in enumerate(service.after):
            key = f"services[{index}].after[{position}]"
            if other == service.name:
                problems.add(
                    key, other, "allowed: another service (a service cannot wait for itself)"
                )
                continue
            if other not in by_name and other in named:
                continue  # that service's own entry has a problem, already reported
            if other not in by_name:
                problems.add(
                    key, other, f"allowed: another configured service ({_listing(by_name)})"
                )
                continue
            missing = [r for r in service.regions if r not in by_name[other].regions]
            if missing:
                problems.add(
                    key,
                    other,
                    f"allowed: a service deployed wherever {service.name!r} runs "
                    f"({other!r} is not in {_listing(missing)})",
                )
    graph = {s.name: [a for a in s.after if a in by_name and a != s.name] for s in by_name.values()}
    cycle = find_cycle(graph)
    if cycle:
        problems.note(
            "services.after", f"services wait for each other in a cycle: {' -> '.join(cycle)}"
        )
        return
    chain = longest_chain(graph)
    if len(chain) > MAX_AFTER_CHAIN:
        problems.note(
            "services.after",
            f"{len(chain)} services wait one for another ({chain[0]} -> ... -> {chain[-1]}); "
            f"allowed: chains of at most {MAX_AFTER_CHAIN} (the Pulumi SDK checks dependencies "
            "recursively, one level per link, and fails near 1,000)",
        )


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


def _region_overrides(
    problems: _Problems,
    top: _Reader,
    regions: tuple[Region, ...],
    services: list[tuple[int, Service]],
    environment: str,
) -> tuple[Region, ...]:
    raw_regions = top.data.get("regions")
    entries = {
        entry["name"]: (index, entry.get("overrides"))
        for index, entry in enumerate(raw_regions if _is_list(raw_regions) else [])
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    }
    by_name = {s.name: s for _, s in services}
    result = []
    for region in regions:
        index, raw = entries.get(region.name, (0, None))
        key = f"regions[{index}].overrides"
        if raw is None:
            result.append(region)
            continue
        if not isinstance(raw, Mapping):
            problems.add(key, raw, "allowed: a mapping of service name to overridden fields")
            continue
        overrides: dict[str, dict[str, object]] = {}
        for service_name, fields_raw in raw.items():
            service = by_name.get(service_name) if isinstance(service_name, str) else None
            if service is None or region.name not in service.regions:
                deployed = [s.name for s in by_name.values() if region.name in s.regions]
                problems.add(
                    _join(key, service_name),
                    service_name,
                    f"allowed: a service deployed in {region.name} ({_listing(deployed)})",
                )
                continue
            reader = _Reader(
                problems, _join(key, service_name), fields_raw, OVERRIDABLE_SERVICE_FIELDS
            )
            overrides[service_name] = _release_fields(problems, reader, environment, service)
        result.append(Region(name=region.name, overrides=overrides))
    return tuple(result)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)
