"""`python -m ops.state_split`: a single stack's state cut into its region stacks' states."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from deploypaths.mock_run import PROJECT_DIR
from ops import UserError
from ops.state_split import main, split

ROOT = "urn:pulumi:prod::deploypaths::pulumi:pulumi:Stack::deploypaths-prod"
P = "urn:pulumi:prod::deploypaths::"
DEFAULT = P + "pulumi:providers:pulumi-python::default"
GATE = P + "deploypaths:index:HealthGate::gate-after-wave-1"
WATCH = P + "deploypaths:index:HealthGate$pulumi-python:dynamic:Resource::gate-after-wave-1-watch"


def region(name: str, gated: bool) -> list[dict]:
    path = P + f"deploypaths:index:RegionPath::{name}"
    provider = P + f"deploypaths:index:RegionPath$pulumi:providers:kubernetes::{name}-k8s"
    deployment = (
        P + f"deploypaths:index:RegionPath$kubernetes:apps/v1:Deployment::auth-{name}-deployment"
    )
    ready = P + f"deploypaths:index:RegionPath$pulumi-python:dynamic:Resource::{name}-ready"
    held = [WATCH] if gated else []
    return [
        {"urn": path, "type": "deploypaths:index:RegionPath", "custom": False, "parent": ROOT},
        {
            "urn": provider,
            "type": "pulumi:providers:kubernetes",
            "custom": True,
            "id": "p1",
            "parent": path,
            "dependencies": held,
        },
        {
            "urn": deployment,
            "type": "kubernetes:apps/v1:Deployment",
            "custom": True,
            "id": f"app/auth-{name}",
            "parent": path,
            "provider": f"{provider}::p1",
            "outputs": {"owner": path},
        },
        {
            "urn": ready,
            "type": "pulumi-python:dynamic:Resource",
            "custom": True,
            "parent": path,
            "provider": f"{DEFAULT}::d1",
            "dependencies": [deployment],
            "propertyDependencies": {"after": [deployment]},
        },
    ]


def single_stack() -> dict:
    first, second = region("us-east-1", False), region("eu-west-1", True)
    return {
        "manifest": {"version": "v3.259.0"},
        "resources": [
            {"urn": ROOT, "type": "pulumi:pulumi:Stack", "custom": False, "outputs": {"x": 1}},
            {"urn": DEFAULT, "type": "pulumi:providers:pulumi-python", "custom": True, "id": "d1"},
            *first,
            {"urn": GATE, "type": "deploypaths:index:HealthGate", "custom": False, "parent": ROOT},
            {
                "urn": WATCH,
                "type": "pulumi-python:dynamic:Resource",
                "custom": True,
                "parent": GATE,
                "provider": f"{DEFAULT}::d1",
                "dependencies": [first[-1]["urn"]],
                "propertyDependencies": {"alarms": [first[-1]["urn"]]},
            },
            *second,
        ],
    }


def names(state: dict) -> list[str]:
    return [r["urn"].rsplit("::", 1)[-1] for r in state["resources"]]


def test_each_region_stack_gets_its_region_its_gate_and_the_providers_they_use():
    states = split(single_stack(), environment_stack="prod", waves=[["us-east-1"], ["eu-west-1"]])
    assert list(states) == ["prod-us-east-1", "prod-eu-west-1"]
    first, second = states["prod-us-east-1"], states["prod-eu-west-1"]
    assert first["manifest"] == {"version": "v3.259.0"}
    assert names(first) == [
        "deploypaths-prod-us-east-1",
        "default",
        "us-east-1",
        "us-east-1-k8s",
        "auth-us-east-1-deployment",
        "us-east-1-ready",
    ]
    assert names(second) == [
        "deploypaths-prod-eu-west-1",
        "default",
        "gate-after-wave-1",
        "gate-after-wave-1-watch",
        "eu-west-1",
        "eu-west-1-k8s",
        "auth-eu-west-1-deployment",
        "eu-west-1-ready",
    ]
    urns = {r["urn"] for r in second["resources"]}
    assert all(urn.startswith("urn:pulumi:prod-eu-west-1::deploypaths::") for urn in urns)
    by_name = {r["urn"].rsplit("::", 1)[-1]: r for r in second["resources"]}
    # Top-level resources hang off the new root; references point at the moved URNs.
    assert by_name["eu-west-1"]["parent"] == (
        "urn:pulumi:prod-eu-west-1::deploypaths::pulumi:pulumi:Stack::deploypaths-prod-eu-west-1"
    )
    assert by_name["eu-west-1-k8s"]["dependencies"] == [by_name["gate-after-wave-1-watch"]["urn"]]
    assert by_name["auth-eu-west-1-deployment"]["provider"] == by_name["eu-west-1-k8s"]["urn"] + (
        "::p1"
    )
    assert by_name["auth-eu-west-1-deployment"]["outputs"] == {"owner": by_name["eu-west-1"]["urn"]}
    # The gate no longer waits for the previous wave's resources: they are in another stack.
    watch = by_name["gate-after-wave-1-watch"]
    assert watch["dependencies"] == [] and watch["propertyDependencies"] == {"alarms": []}
    for state in states.values():
        for resource in state["resources"]:
            for urn in resource.get("dependencies", []):
                assert urn in {r["urn"] for r in state["resources"]}, resource["urn"]


def test_a_state_the_config_does_not_describe_is_refused():
    with pytest.raises(UserError) as raised:
        split(single_stack(), environment_stack="prod", waves=[["us-east-1"]])
    assert str(raised.value) == (
        "stack prod holds regions its config does not list: eu-west-1; deploy the single stack "
        "once with the current config first"
    )
    pending = {**single_stack(), "pending_operations": [{"type": "creating"}]}
    with pytest.raises(UserError) as raised:
        split(pending, environment_stack="prod", waves=[["us-east-1"], ["eu-west-1"]])
    assert "has pending operations (an interrupted update)" in str(raised.value)


STACK_FILE = """config:
  deploypaths:regions: [{name: us-east-1}, {name: eu-west-1}]
  deploypaths:waves: [[us-east-1], [eu-west-1]]
  deploypaths:services: [{name: auth, image: registry.example.com/shop/auth:3.2.0}]
"""


@pytest.fixture
def exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose prod stack is single_stack()'s, and that stack's export."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    (project / "Pulumi.prod.yaml").write_text(STACK_FILE)
    monkeypatch.setattr("ops.automation.PROJECT_DIR", project)
    export = tmp_path / "prod.json"
    export.write_text(json.dumps({"version": 3, "deployment": single_stack()}))
    return export


def test_the_split_states_hold_secrets_so_only_their_owner_reads_them(exported, tmp_path):
    out = tmp_path / "split"
    out.mkdir()
    (out / "prod-us-east-1.json").write_text("written before, readable by all")
    (out / "prod-us-east-1.json").chmod(0o644)

    assert main(["--env", "prod", "--from", str(exported), "--out", str(out)]) == 0

    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()}
    assert modes == {"prod-us-east-1.json": 0o600, "prod-eu-west-1.json": 0o600}
    written = json.loads((out / "prod-eu-west-1.json").read_text())
    assert written["version"] == 3 and "gate-after-wave-1-watch" in names(written["deployment"])


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "is no `pulumi stack export` document"),
        ({"deployment": {"resources": []}}, "is no `pulumi stack export` document"),
        ({"version": 3, "deployment": []}, "is no `pulumi stack export` document"),
    ],
)
def test_an_export_of_another_shape_is_one_line_and_exit_2(
    exported, tmp_path, capsys, document, expected
):
    exported.write_text(json.dumps(document))

    assert main(["--env", "prod", "--from", str(exported), "--out", str(tmp_path / "s")]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and len(err.splitlines()) == 1, err


def test_an_out_folder_that_is_a_file_is_one_line_and_exit_2(exported, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("")

    assert main(["--env", "prod", "--from", str(exported), "--out", str(taken)]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
