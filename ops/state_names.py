"""Path resources a stack's state still holds under the names they had before the service and
migration path components started with their region's name (`orders-eu-west-1-deployment`, now
`eu-west-1-orders-deployment`). A whole update moves them through the components' aliases and
deploys nothing for it; a targeted one cannot: the engine does not follow the aliases of what it
does not target, and refuses to delete it instead. So a path rollback or put-back renames them in
the state first, deploying nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pulumi import automation as auto

from deploypaths.identity import REGION_PATH, Urn, current_urn

# A URN as a whole JSON string: a resource's own, its parent, a dependency, an output reference.
URN_STRING = re.compile(r'"(urn:pulumi:[^"]+)"')


def with_current_names(deployment: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """`deployment` (as `export_stack` gives it) with every former path URN, wherever it appears,
    replaced by today's; and how many resources that renamed."""
    resources = deployment.get("resources") or []
    regions = [Urn.parse(r["urn"]).name for r in resources if r.get("type") == REGION_PATH]
    renamed = {
        urn: today
        for urn in (str(r["urn"]) for r in resources)
        if (today := current_urn(urn, regions)) != urn
    }
    if not renamed:
        return dict(deployment), 0
    text = URN_STRING.sub(lambda m: f'"{renamed.get(m[1], m[1])}"', json.dumps(deployment))
    current: dict[str, Any] = json.loads(text)
    return current, len(renamed)


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
