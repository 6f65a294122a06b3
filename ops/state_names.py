"""Path resources a stack's state still holds under the names they had before the service and
migration path components started with their region's name (`orders-eu-west-1-deployment`, now
`eu-west-1-orders-deployment`). A whole update moves them through the components' aliases and
deploys nothing for it; a targeted one cannot: the engine does not follow the aliases of what it
does not target, and refuses to delete it instead. So a path rollback or put-back renames them in
the state first, deploying nothing. A component's region is its parent RegionPath's name: the
name alone cannot say it when the service's own name starts with a region code."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pulumi import automation as auto

from deploypaths.identity import MIGRATION_PATH, REGION_PATH, SERVICE_PATH, Urn, component_name

# A URN as a whole JSON string: a resource's own, its parent, a dependency, an output reference.
URN_STRING = re.compile(r'"(urn:pulumi:[^"]+)"')


def with_current_names(deployment: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """`deployment` (as `export_stack` gives it) with every former path URN, wherever it appears,
    replaced by today's; and how many resources that renamed."""
    renamed: dict[str, str] = {}
    regions: dict[str, str] = {}
    # A parent comes before its children in a checkpoint.
    for resource in deployment.get("resources") or []:
        urn, parent = str(resource["urn"]), str(resource.get("parent") or "")
        if resource.get("type") == REGION_PATH:
            regions[urn] = Urn.parse(urn).name
        elif parent in regions and resource.get("type") in (SERVICE_PATH, MIGRATION_PATH):
            today = _component_today(urn, regions[parent])
            if today != urn:
                renamed[urn] = today
        elif parent in renamed and (today := _child_today(urn, parent, renamed[parent])) != urn:
            renamed[urn] = today
    if not renamed:
        return dict(deployment), 0
    text = URN_STRING.sub(lambda m: f'"{renamed.get(m[1], m[1])}"', json.dumps(deployment))
    current: dict[str, Any] = json.loads(text)
    return current, len(renamed)


def _component_today(urn: str, region: str) -> str:
    """A path component's URN under today's name, read by the region of its parent: a service
    whose own name starts with a region code is no clue either way."""
    parsed = Urn.parse(urn)
    if parsed.name.startswith(f"{region}-") or not parsed.name.endswith(f"-{region}"):
        return urn
    path = parsed.name.removesuffix(f"-{region}")
    return replace(parsed, name=component_name(path, region)).format()


def _child_today(urn: str, former_parent: str, parent_today: str) -> str:
    """A child named `<component>-<role>` under its renamed component's name."""
    parsed = Urn.parse(urn)
    before, after = Urn.parse(former_parent).name, Urn.parse(parent_today).name
    if not parsed.name.startswith(f"{before}-"):
        return urn
    return replace(parsed, name=after + parsed.name.removeprefix(before)).format()


def current_resources(stack: auto.Stack) -> list[dict[str, Any]]:
    """The stack's resources from its checkpoint under today's names, for a targeted update:
    renamed in the state first when it holds former ones (see the module), and said so."""
    exported = stack.export_stack()
    deployment, count = with_current_names(exported.deployment or {})
    if count:
        stack.import_stack(auto.Deployment(version=exported.version, deployment=deployment))
        print(
            f"Renamed {count} path resource(s) of stack {stack.name} in its state to today's "
            "names (`orders-eu-west-1` is `eu-west-1-orders` now); nothing was deployed."
        )
    return [dict(r) for r in deployment.get("resources") or []]
