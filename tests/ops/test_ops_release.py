"""`python -m ops release`: one service of a per-service environment, checked against the other
stacks' exports before anything is written or deployed (the stacks' outputs and the `ops up` it
runs are stand-ins here; tests/engine/test_service_stacks.py runs it on the local clusters)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploypaths import service_guard
from deploypaths.stack_config import load_stack_file, namespace_values
from deploypaths.validation import parse_settings
from ops import automation, release
from ops.__main__ import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project whose local environment is per-service."""
    for name in ("Pulumi.yaml", "Pulumi.local.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    stack_file = tmp_path / "Pulumi.local.yaml"
    stack_file.write_text(
        stack_file.read_text().replace(
            "config:\n", "config:\n  deploypaths:layout: per-service\n", 1
        )
    )
    monkeypatch.setattr(automation, "PROJECT_DIR", tmp_path)
    return tmp_path


def settings_of(project: Path) -> Any:
    raw = namespace_values(load_stack_file(project / "Pulumi.local.yaml", project))
    return parse_settings(raw, stack="local")


@pytest.fixture
def outputs(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """The other stacks' outputs by stack name (none: a stack never deployed)."""
    found: dict[str, dict[str, Any]] = {}
    monkeypatch.setattr(
        release, "outputs_of", lambda stacks: {stack: found.get(stack, {}) for stack in stacks}
    )
    return found


@pytest.fixture
def updates(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stacks `ops release` would update, in order (nothing is deployed)."""
    ran: list[str] = []

    def up(stack: str, args: argparse.Namespace) -> int:
        ran.append(stack)
        return 0

    def infrastructure(environment: release.Environment, args: argparse.Namespace) -> int:
        ran.append(f"infrastructure of {environment.name}")
        return 0

    monkeypatch.setattr(release, "up", up)
    monkeypatch.setattr(release, "deploy_infrastructure", infrastructure)
    return ran


def everything_ready(project: Path, outputs: dict[str, dict[str, Any]]) -> None:
    settings = settings_of(project)
    for region in settings.region_names:
        outputs[f"local-{region}"] = {
            service_guard.INFRASTRUCTURE_OUTPUT: {
                "migrations": service_guard.migration_runs(settings, region)
            }
        }
        for service in settings.services_in(region):
            released = outputs.setdefault(f"local-svc-{service.name}", {})
            released.setdefault(service_guard.RELEASED_OUTPUT, {})[region] = (
                service_guard.release_of(service)
            )


def test_a_release_updates_that_services_stack_alone(project, outputs, updates):
    everything_ready(project, outputs)
    assert main(["release", "--env", "local", "--service", "orders"]) == 0
    assert updates == ["local-svc-orders"]


def test_image_is_written_into_the_release_file_first(project, outputs, updates, capsys):
    everything_ready(project, outputs)
    image = "registry.example.com/shop/orders:7.5.0"
    assert main(["release", "--env", "local", "--service", "orders", "--image", image]) == 0
    assert yaml.safe_load((project / "releases" / "orders.yaml").read_text()) == {"image": image}
    assert updates == ["local-svc-orders"]
    assert "wrote registry.example.com/shop/orders:7.5.0 into releases/orders.yaml" in (
        capsys.readouterr().out
    )


def test_a_release_missing_a_migration_is_refused_and_changes_nothing(
    project, outputs, updates, capsys
):
    everything_ready(project, outputs)
    outputs["local-eu-west-1"] = {}
    image = "registry.example.com/shop/orders:7.5.0"
    code = main(["release", "--env", "local", "--service", "orders", "--image", image])
    assert code == 2
    err = capsys.readouterr().err
    assert "release of orders refused, nothing deployed" in err
    assert (
        "orders@eu-west-1: requires expand migration orders-add-status, which stack "
        "local-eu-west-1 has not run" in err
    )
    assert updates == []
    assert not (project / "releases").exists(), "a refused release writes no release file"


def test_a_release_waits_for_the_services_it_runs_after(project, outputs, updates, capsys):
    everything_ready(project, outputs)
    del outputs["local-svc-auth"]
    assert main(["release", "--env", "local", "--service", "orders"]) == 2
    err = capsys.readouterr().err
    assert "orders@us-east-1: runs after auth, whose release has not rolled out" in err
    assert "stack local-svc-auth lacks it" in err
    assert updates == []


def test_migrations_first_deploys_the_infrastructure_only_when_needed(
    project, outputs, updates, capsys
):
    everything_ready(project, outputs)
    assert main(["release", "--env", "local", "--service", "orders", "--migrations"]) == 0
    assert updates == []
    assert "nothing to deploy first" in capsys.readouterr().out
    outputs["local-us-east-1"] = {}
    assert main(["release", "--env", "local", "--service", "orders", "--migrations"]) == 0
    assert updates == ["infrastructure of local"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--service", "billing"],
            "--service billing: no such service in local (services: auth, catalog, orders, search)",
        ),
        (
            ["--service", "orders", "--image", "registry.example.com/shop/orders:latest"],
            "--image registry.example.com/shop/orders:latest",
        ),
        ([], "pass --service S (or --infrastructure)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project, outputs, updates, capsys, argv, expected):
    everything_ready(project, outputs)
    assert main(["release", "--env", "local", *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert updates == []


@pytest.mark.parametrize("environments", ["null", "[local]", "{local: 3}"])
def test_image_into_a_release_file_of_another_shape_is_refused_as_the_file_is(
    project, outputs, updates, capsys, environments
):
    everything_ready(project, outputs)
    (project / "releases").mkdir()
    (project / "releases" / "orders.yaml").write_text(f"environments: {environments}\n")
    image = "registry.example.com/shop/orders@sha256:" + "ab" * 32
    assert main(["release", "--env", "local", "--service", "orders", "--image", image]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "releases/orders.yaml: environments" in err, err
    assert "Traceback" not in err and updates == []


def test_a_release_file_for_a_service_that_does_not_exist_is_refused(
    project, outputs, updates, capsys
):
    (project / "releases").mkdir()
    (project / "releases" / "billing.yaml").write_text("image: r.example.com/billing:1.0.0\n")
    assert main(["release", "--env", "local", "--service", "orders"]) == 2
    err = capsys.readouterr().err
    assert "releases/billing.yaml: no service billing in the config" in err
    assert updates == []


def test_an_environment_that_is_not_per_service_is_named(project, outputs, updates, capsys):
    assert main(["release", "--env", "dev", "--service", "orders"]) == 2
    err = capsys.readouterr().err
    assert "--env dev: its layout is single, not per-service" in err
    assert updates == []


def test_image_is_refused_where_the_environment_has_its_own(project, outputs, updates, capsys):
    everything_ready(project, outputs)
    (project / "releases").mkdir()
    (project / "releases" / "orders.yaml").write_text(
        "image: registry.example.com/shop/orders:7.4.1\n"
        "environments:\n  local: {image: registry.example.com/shop/orders:7.4.0}\n"
    )
    image = "registry.example.com/shop/orders:7.5.0"
    assert main(["release", "--env", "local", "--service", "orders", "--image", image]) == 2
    assert "releases/orders.yaml sets environments.local.image" in capsys.readouterr().err
    assert updates == []
