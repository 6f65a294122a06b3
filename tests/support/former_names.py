"""A state as updates left it before the service and migration path components started with
their region's name: `orders-eu-west-1` and its children `orders-eu-west-1-<role>`, where today
they are `eu-west-1-orders` and `eu-west-1-orders-<role>`. Written apart from
`deploypaths.identity`, so the tests check the aliases against the names as they were."""

from __future__ import annotations

import json
import re
from typing import Any

PATH_TYPES = ("deploypaths:index:ServicePath", "deploypaths:index:MigrationPath")


def with_former_path_names(state: dict[str, Any]) -> dict[str, Any]:
    """`state` (a deployment as `pulumi stack export` writes it) with every path resource's URN,
    wherever it appears, under the name it had before."""
    urns = {resource["urn"] for resource in state["resources"]}
    renamed = []
    for resource in state["resources"]:
        if resource["type"] in PATH_TYPES and resource.get("parent") in urns:
            region = resource["parent"].rsplit("::", 1)[-1]
            name = resource["urn"].rsplit("::", 1)[-1]
            assert name.startswith(f"{region}-"), name
            renamed.append((name, f"{name.removeprefix(f'{region}-')}-{region}"))
    assert renamed, "no path component in the state"
    text = json.dumps(state)
    # The longest first: a name renamed no longer starts with a shorter one.
    for name, former in sorted(renamed, key=lambda pair: len(pair[0]), reverse=True):
        text = re.sub(rf"::{re.escape(name)}(?=[-\"])", f"::{former}", text)
    changed: dict[str, Any] = json.loads(text)
    return changed
