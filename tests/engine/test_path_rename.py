"""An environment deployed before the service and migration path components started with their
region's name (`orders-eu-west-1` then, `eu-west-1-orders` now) updates with nothing created,
replaced or deleted, and a path of it rolls back: the real engine finds every path resource
through its component's alias. Render mode: the move is the engine's alone, whatever the
provider deploys to."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.support.engine import stack_config
from tests.support.former_names import PATH_TYPES, with_former_path_names
from tests.support.sandbox import Sandbox

STACK = "renamed"


def with_canaries(config: dict, *names: str) -> dict:
    changed = copy.deepcopy(config)
    for service in (s for s in changed["services"] if s["name"] in names):
        image = service["image"].rsplit(":", 1)[0] + ":9.9.9"
        service.update(strategy="canary", canary={"image": image, "weight": 50})
    return changed


def path_names(deployment: dict) -> list[str]:
    return sorted(
        r["urn"].rsplit("::", 1)[-1]
        for r in deployment["resources"]
        if r["type"] in PATH_TYPES or any(f"{t}$" in r["urn"] for t in PATH_TYPES)
    )


def exported(project: Sandbox) -> dict:
    deployment: dict = json.loads(project.pulumi("stack", "export", "--stack", STACK).stdout)
    return deployment


@pytest.fixture(scope="module")
def updates(project, tmp_path_factory) -> tuple[dict, Path]:
    """Update 1 (every service on one track) and 2 (auth and orders, which runs after auth,
    with a canary), and the state update 2 left as the names before the rename would have had
    it."""
    first = stack_config(STACK, kubernetes={"mode": "render"}, monitoring={"mode": "none"})
    project.write_config(STACK, first)
    project.pulumi("stack", "init", STACK)
    project.pulumi("up", "--stack", STACK, "--yes", "--skip-preview")
    project.write_config(STACK, with_canaries(first, "auth", "orders"))
    project.pulumi("up", "--stack", STACK, "--yes", "--skip-preview")
    today = exported(project)
    before = {**today, "deployment": with_former_path_names(today["deployment"])}
    former = path_names(before["deployment"])
    assert former and not set(former) & set(path_names(today["deployment"])), former
    file = tmp_path_factory.mktemp("states") / "before.json"
    file.write_text(json.dumps(before))
    return today, file


def test_a_stack_from_before_the_rename_updates_with_nothing_replaced(project, updates):
    today, before = updates
    project.pulumi("stack", "import", "--stack", STACK, "--file", str(before))
    preview = json.loads(
        project.pulumi("preview", "--stack", STACK, "--json", "--show-sames").stdout
    )
    assert Counter(step["op"] for step in preview["steps"]) == {"same": len(preview["steps"])}
    result = project.stack(STACK).up()
    assert result.summary.resource_changes == {"same": len(preview["steps"])}
    after = exported(project)
    assert {r["urn"] for r in after["deployment"]["resources"]} == {
        r["urn"] for r in today["deployment"]["resources"]
    }


def test_a_path_of_a_stack_from_before_the_rename_rolls_back_and_loses_its_canary(project, updates):
    """A targeted update cannot move what it does not target through the aliases: the rollback
    renames the state first (nothing deployed), then rolls one path back alone. The release it
    goes back to had no canary: the canary's Deployment goes, though the region's barrier and
    orders, which runs after auth, waited for it and keep their release."""
    today, before = updates
    project.pulumi("stack", "import", "--stack", STACK, "--file", str(before))
    rolled = project.ops(
        "rollback", "--stack", STACK, "--to", "1", "--path", "auth@us-east-1", "--yes"
    )
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    renamed = len(path_names(json.loads(before.read_text())["deployment"]))
    assert f"Renamed {renamed} path resource(s) of stack {STACK} in its state" in rolled.stdout
    holders = re.search(r"targets waited for their workloads \(([^)]*)\)", rolled.stdout)
    assert holders, rolled.stdout
    assert set(holders[1].split(", ")) == {
        "us-east-1-orders-deployment",
        "us-east-1-orders-canary-deployment",
        "us-east-1-services-ready",
    }
    gone = "us-east-1-auth-canary-deployment"
    after = path_names(exported(project)["deployment"])
    assert after == [name for name in path_names(today["deployment"]) if name != gone]
    assert {"eu-west-1-auth-canary-deployment", "us-east-1-orders-canary-deployment"} <= set(after)
    # Nothing the program no longer declares is left: a whole update would delete nothing (it
    # updates what watches the wave, the gate's watch, which the path's rollback leaves alone).
    preview = json.loads(project.pulumi("preview", "--stack", STACK, "--json").stdout)
    steps = [(step["op"], step["urn"]) for step in preview["steps"]]
    assert not [step for step in steps if step[0] not in ("same", "update")], steps
