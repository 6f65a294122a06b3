"""Split an environment's single-stack state into the states of its region stacks.

    pulumi stack export --stack prod --show-secrets --file prod.json
    python -m ops.state_split --env prod --from prod.json --out split/
    # per region stack: pulumi stack import --stack prod-<region> --file split/prod-<region>.json
    rm -r prod.json split/  # both hold the stack's secrets in the clear

`pulumi state move` would be the engine's way, but the engine here (v3.259.0) copies a moved
subtree's providers ahead of everything else, and a region's providers are children of its
RegionPath, so the destination fails its integrity check ("parent ... comes after it"). The
split is the same move written out: each region stack gets its region's resources, the gate in
front of its wave (a copy: a gate is a check, not a cloud resource) and the providers they use,
under its own root and with its own URNs; dependencies on what stays behind are dropped, as the
program now reaches the previous wave through stack references. See docs/region-stacks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploypaths.identity import (
    HEALTH_GATE,
    PROVIDER_PREFIX,
    REGION_PATH,
    SERVICE_PATH,
    STACK_TYPE,
    Urn,
    component_name,
    former_component_name,
    gate_name,
    provider_urn,
    stack_prefix,
    stack_urn,
    urn_name,
)
from deploypaths.layout import PER_SERVICE, region_stack, service_stack
from ops import UserError


def _owner(resources: Mapping[str, dict[str, Any]], urn: str, type_: str) -> str | None:
    """The name of the `type_` component a resource sits under (itself included), if any."""
    resource: dict[str, Any] | None = resources[urn]
    while resource is not None:
        if resource["type"] == type_:
            return urn_name(str(resource["urn"]))
        resource = resources.get(resource.get("parent") or "")
    return None


@dataclass(frozen=True)
class _Source:
    """An environment's single-stack state, read for a split."""

    deployment: Mapping[str, Any]
    resources: dict[str, dict[str, Any]]
    root: dict[str, Any]
    project: str
    regions: dict[str, str | None]
    gates: dict[str, str | None]

    def state(self, stack: str, chosen: set[str]) -> dict[str, Any]:
        """`stack`'s deployment: the chosen resources and the providers they use."""
        used = {provider_urn(self.resources[urn].get("provider", "")) for urn in chosen}
        chosen = chosen | {
            urn for urn in used if urn in self.resources and _is_provider(self.resources[urn])
        }
        return _deployment(self.deployment, self.resources, chosen, self.root, stack, self.project)


def _source(
    deployment: Mapping[str, Any], environment_stack: str, waves: Sequence[Sequence[str]]
) -> _Source:
    if deployment.get("pending_operations"):
        raise UserError(
            f"stack {environment_stack} has pending operations (an interrupted update): run "
            "`pulumi refresh` or `pulumi cancel` first"
        )
    resources = {r["urn"]: r for r in deployment.get("resources") or []}
    roots = [r for r in resources.values() if r["type"] == STACK_TYPE]
    if len(roots) != 1:
        raise UserError(f"stack {environment_stack}'s state has {len(roots)} root stacks, not 1")
    regions = {urn: _owner(resources, urn, REGION_PATH) for urn in resources}
    known = {region for wave in waves for region in wave}
    strays = sorted({region for region in regions.values() if region and region not in known})
    if strays:
        raise UserError(
            f"stack {environment_stack} holds regions its config does not list: "
            f"{', '.join(strays)}; deploy the single stack once with the current config first"
        )
    return _Source(
        deployment=deployment,
        resources=resources,
        root=roots[0],
        project=Urn.parse(roots[0]["urn"]).project,
        regions=regions,
        gates={urn: _owner(resources, urn, HEALTH_GATE) for urn in resources},
    )


def split(
    deployment: Mapping[str, Any], *, environment_stack: str, waves: Sequence[Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """Each region stack's deployment (the `deployment` part of a `pulumi stack export`)."""
    source = _source(deployment, environment_stack, waves)
    split_states = {}
    for wave, members in enumerate(waves):
        for region in members:
            chosen = {
                urn
                for urn in source.resources
                if source.regions[urn] == region
                or (wave > 0 and source.gates[urn] == gate_name(wave))
            }
            stack = region_stack(environment_stack, region)
            split_states[stack] = source.state(stack, chosen)
    return split_states


def split_per_service(
    deployment: Mapping[str, Any],
    *,
    environment_stack: str,
    waves: Sequence[Sequence[str]],
    services: Mapping[str, Sequence[str]],
) -> dict[str, dict[str, Any]]:
    """Each stack of a per-service environment (`services`: each service's regions): a region's
    infrastructure stack gets the region's resources but its service paths; a service's stack
    gets its paths in every region it runs in, with a copy of each region's component above
    them (the URN's parent) and of the gates between its waves. The single stack's AppConfig
    flags are left to the infrastructure stacks, whose first update removes them: a per-service
    environment delivers flags with their service (components/region_path.py)."""
    source = _source(deployment, environment_stack, waves)
    paths = {urn: _owner(source.resources, urn, SERVICE_PATH) for urn in source.resources}
    # A state last written before the path components started with their region's name holds
    # them under their former names; the service stacks' first updates rename them (aliases).
    owner = {
        name: service
        for service, regions in services.items()
        for region in regions
        for name in (component_name(service, region), former_component_name(service, region))
    }
    split_states = {}
    for region in (region for wave in waves for region in wave):
        chosen = {
            urn for urn in source.resources if source.regions[urn] == region and paths[urn] is None
        }
        stack = region_stack(environment_stack, region)
        split_states[stack] = source.state(stack, chosen)
    for service, regions in services.items():
        used = [w for w, wave in enumerate(waves) if set(wave) & set(regions)]
        chosen = {
            urn
            for urn in source.resources
            if ((path := paths[urn]) is not None and owner.get(path) == service)
            or (source.resources[urn]["type"] == REGION_PATH and source.regions[urn] in regions)
            or any(source.gates[urn] == gate_name(w + 1) for w in used[:-1])
        }
        stack = service_stack(environment_stack, service)
        split_states[stack] = source.state(stack, chosen)
    return split_states


def _is_provider(resource: Mapping[str, Any]) -> bool:
    return str(resource["type"]).startswith(PROVIDER_PREFIX)


def _deployment(
    source: Mapping[str, Any],
    resources: Mapping[str, dict[str, Any]],
    chosen: set[str],
    root: Mapping[str, Any],
    stack: str,
    project: str,
) -> dict[str, Any]:
    old_prefix = stack_prefix(Urn.parse(root["urn"]).stack)
    new_prefix = stack_prefix(stack)
    new_root = stack_urn(stack, project)

    def moved(urn: str) -> str:
        return new_root if urn == root["urn"] else new_prefix + urn[len(old_prefix) :]

    kept = [{"urn": new_root, "custom": False, "type": STACK_TYPE}]
    for urn, resource in resources.items():  # source order: parents before children
        if urn not in chosen:
            continue
        text = json.dumps(resource).replace(json.dumps(root["urn"])[1:-1], new_root)
        copy = json.loads(text.replace(old_prefix, new_prefix))
        copy["dependencies"] = [moved(d) for d in resource.get("dependencies") or [] if d in chosen]
        copy["propertyDependencies"] = {
            key: [moved(d) for d in urns if d in chosen]
            for key, urns in (resource.get("propertyDependencies") or {}).items()
        }
        if resource.get("deletedWith") and resource["deletedWith"] not in chosen:
            del copy["deletedWith"]
        kept.append(copy)
    return {**{k: v for k, v in source.items() if k != "resources"}, "resources": kept}


def main(argv: list[str] | None = None) -> int:
    from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
    from deploypaths.validation import ConfigError, parse_settings
    from ops.automation import PROJECT_DIR

    parser = argparse.ArgumentParser(prog="python -m ops.state_split", description=__doc__)
    parser.add_argument("--env", required=True, help="the environment's (single) stack")
    parser.add_argument("--from", dest="source", type=Path, required=True, metavar="EXPORT")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        raw = namespace_values(
            load_stack_file(PROJECT_DIR / f"Pulumi.{args.env}.yaml", PROJECT_DIR)
        )
        settings = parse_settings(raw, stack=args.env)
        exported = json.loads(args.source.read_text())
        if not (
            isinstance(exported, dict)
            and isinstance(exported.get("version"), int)
            and isinstance(exported.get("deployment"), dict)
        ):
            raise UserError(f"{args.source} is no `pulumi stack export` document")
        if settings.layout == PER_SERVICE:
            states = split_per_service(
                exported["deployment"],
                environment_stack=args.env,
                waves=settings.waves,
                services={s.name: s.regions for s in settings.services},
            )
        else:
            states = split(exported["deployment"], environment_stack=args.env, waves=settings.waves)
        args.out.mkdir(parents=True, exist_ok=True)
        for stack, state in states.items():
            path = args.out / f"{stack}.json"
            document = {"version": exported["version"], "deployment": state}
            _write_private(path, json.dumps(document, indent=1))
            print(f"{stack}: {len(state['resources']) - 1} resource(s) -> {path}")
    except (OSError, ValueError, KeyError, StackFileError, ConfigError, UserError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _write_private(path: Path, text: str) -> None:
    """Readable by its owner only: an export made with --show-secrets holds them in the clear."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file written before keeps its mode through O_CREAT
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


if __name__ == "__main__":
    sys.exit(main())
