"""`ops up` after a failed path, through a recording stand-in (no engine): the failed service
path goes back alone, by a targeted `up` on a temporary copy of the stack file that pins its
previous release, while the stack file itself stays as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.automation import CommandError, ConfigValue

from deploypaths.identity import PathIdentity
from deploypaths.stack_config import load_stack_file
from ops import automation
from ops.__main__ import main
from ops.recovery import canary_track_pinned
from tests.support.ops_fixtures import UpdatingStack, load_events, update

REPO = Path(__file__).resolve().parents[2]
AUTH = "registry.example.com/shop/auth"
FAILED = CommandError("code: 255\n stderr: error: update failed\n")


class FailingOnce(UpdatingStack):
    """Its first `up` plays a failed update; the recovery's `up` succeeds and is recorded with
    the stack file copy it was given."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(up_error=FAILED, **kwargs)
        self.copies: list[dict[str, Any]] = []

    def up(self, **kwargs: Any) -> None:
        if "target" in kwargs:
            self.copies.append(yaml.safe_load(Path(kwargs["config_file"]).read_text()))
            self._up_error = None
            self._up_events = []
        super().up(**kwargs)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with the local stack file; the commands work on it."""
    for name in ("Pulumi.yaml", "Pulumi.local.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    monkeypatch.setattr(automation, "PROJECT_DIR", tmp_path)
    return tmp_path


def flat_config(project: Path, **images: str) -> dict[str, ConfigValue]:
    """The stack file's config as `get_all_config` returns it, with other service images."""
    flat = load_stack_file(project / "Pulumi.local.yaml", project)
    config = {key: ConfigValue(value) for key, value in flat.items()}
    services = yaml.safe_load(flat["deploypaths:services"])
    for service in services:
        if service["name"] in images:
            service["image"] = images[service["name"]]
    config["deploypaths:services"] = ConfigValue(json.dumps(services))
    return config


def test_a_failed_path_goes_back_alone_and_the_stack_file_stays(
    project, fake_stacks, file_backend, capsys
):
    stack = FailingOnce(
        history=[update(1, flat_config(project, auth=f"{AUTH}:3.1.0"))],
        config=flat_config(project),
        up_events=load_events("events-local-3.jsonl"),
    )
    fake_stacks["local"] = stack
    stack_file = (project / "Pulumi.local.yaml").read_text()

    assert main(["up", "--stack", "local", "--yes"]) == 1

    first, recovery = stack.called("up")
    assert first["continue_on_error"] is True
    component = (
        "urn:pulumi:local::deploypaths::deploypaths:index:RegionPath$"
        "deploypaths:index:ServicePath::us-east-1-auth"
    )
    assert recovery["target"][0] == component and recovery["target_dependents"] is False
    assert all("us-east-1-auth" in target for target in recovery["target"]), recovery["target"]
    assert recovery["message"].startswith("automatic rollback of auth@us-east-1 after update")
    (copy,) = stack.copies
    regions = {r["name"]: r for r in copy["config"]["deploypaths:regions"]}
    assert regions["us-east-1"]["overrides"] == {
        "auth": {"image": f"{AUTH}:3.1.0", "replicas": 2, "strategy": "rolling"}
    }
    assert "overrides" not in regions["eu-west-1"]
    assert (project / "Pulumi.local.yaml").read_text() == stack_file
    assert not list(project.glob(".Pulumi.local.*")), "the copy is removed afterwards"
    out = capsys.readouterr().out
    auth = next(
        line for line in out.splitlines()[::-1] if line.strip().startswith("auth@us-east-1")
    )
    assert " rolled back " in auth and "back to the release of update 1" in auth, auth
    orders = next(
        line for line in out.splitlines()[::-1] if line.strip().startswith("orders@us-east-1")
    )
    assert orders.endswith("held: waits for auth@us-east-1"), orders


def test_with_on_failure_leave_nothing_is_put_back(project, fake_stacks, file_backend, capsys):
    stack = FailingOnce(
        history=[update(1, flat_config(project, auth=f"{AUTH}:3.1.0"))],
        config=flat_config(project),
        up_events=load_events("events-local-3.jsonl"),
    )
    fake_stacks["local"] = stack
    assert main(["up", "--stack", "local", "--yes", "--on-failure", "leave"]) == 1
    assert len(stack.called("up")) == 1
    auth = next(
        line
        for line in capsys.readouterr().out.splitlines()
        if line.strip().startswith("auth@us-east-1 ")
    )
    assert " failed " in auth, auth


def test_a_failed_canary_track_goes_back_alone():
    regions = [
        {
            "name": "us-east-1",
            "overrides": {
                "search": {
                    "image": "registry.example.com/shop/search:1.12.0",
                    "strategy": "canary",
                    "canary": {"image": "registry.example.com/shop/search:1.13.0", "weight": 25},
                }
            },
        },
        {"name": "eu-west-1"},
    ]
    pinned = canary_track_pinned(regions, PathIdentity.parse_id("search@us-east-1"))
    assert pinned[0]["overrides"] == {
        "search": {
            "strategy": "canary",
            "canary": {"image": "registry.example.com/shop/search:1.13.0", "weight": 25},
        }
    }
    assert pinned[1] == {"name": "eu-west-1"}


def test_a_failed_path_goes_back_to_the_release_file_its_last_update_recorded(
    project, fake_stacks, file_backend
):
    (project / "releases").mkdir()
    (project / "releases" / "auth.yaml").write_text(f"image: {AUTH}:3.3.0-never-ready\n")
    landed = flat_config(project)
    landed["deploypaths:releases"] = ConfigValue(json.dumps({"auth": {"image": f"{AUTH}:3.2.5"}}))
    stack = FailingOnce(
        history=[update(1, landed)],
        config=flat_config(project),
        up_events=load_events("events-local-3.jsonl"),
    )
    fake_stacks["local"] = stack

    assert main(["up", "--stack", "local", "--yes"]) == 1

    first, _ = stack.called("up")
    # The failed update recorded the release file it ran; the path goes back to the one before.
    (copy,) = stack.copies
    assert copy["config"]["deploypaths:releases"] == {
        "auth": {"image": f"{AUTH}:3.3.0-never-ready"}
    }
    regions = {r["name"]: r for r in copy["config"]["deploypaths:regions"]}
    assert regions["us-east-1"]["overrides"]["auth"]["image"] == f"{AUTH}:3.2.5"
    assert "config_file" in first
