"""Release files (`releases/<service>.yaml`): applied over the stack file's services by the
program itself, every problem named with its file and key."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pulumi
import pytest

from deploypaths import releases
from deploypaths.image_pinning import unpinned_reason
from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.stack_config import load_stack_file

RAW = {
    "services": [
        {"name": "auth", "image": "r.example.com/auth:1.0.0", "replicas": 2},
        {"name": "orders", "image": "r.example.com/orders:1.0.0"},
    ]
}


def write(project: Path, service: str, text: str) -> None:
    (project / "releases").mkdir(exist_ok=True)
    (project / "releases" / f"{service}.yaml").write_text(text)


def test_a_release_file_overrides_its_service_and_an_environment_entry_wins(tmp_path):
    write(
        tmp_path,
        "auth",
        "image: r.example.com/auth:2.0.0\n"
        "environments:\n  prod: {image: r.example.com/auth:1.9.0, replicas: 6}\n",
    )
    dev = releases.apply(RAW, "dev", tmp_path, ["dev", "prod"])
    prod = releases.apply(RAW, "prod", tmp_path, ["dev", "prod"])
    assert dev["services"][0] == {
        "name": "auth",
        "image": "r.example.com/auth:2.0.0",
        "replicas": 2,
    }
    assert prod["services"][0] == {
        "name": "auth",
        "image": "r.example.com/auth:1.9.0",
        "replicas": 6,
    }
    assert dev["services"][1] == RAW["services"][1], "a service without a file keeps its values"
    assert RAW["services"][0]["image"] == "r.example.com/auth:1.0.0", "the input is not changed"


def test_every_problem_is_named_with_its_file_and_key(tmp_path):
    write(tmp_path, "billing", "image: r.example.com/billing:1.0.0\n")
    write(
        tmp_path,
        "auth",
        "image: r.example.com/auth:latest\nreplica: 3\n"
        "environments:\n  staging: {image: r.example.com/auth:2.0.0}\n  prod: {replicas: -1}\n",
    )
    with pytest.raises(releases.ReleaseFileError) as raised:
        releases.apply(RAW, "dev", tmp_path, ["dev", "prod"])
    assert str(raised.value).splitlines() == [
        "releases/auth.yaml: key 'replica' is not allowed (allowed: image, replicas, environments)",
        f"releases/auth.yaml: image 'r.example.com/auth:latest' "
        f"{unpinned_reason('r.example.com/auth:latest')}; allowed: {releases.PINNED}",
        "releases/auth.yaml: environments.staging: no such environment (stacks: dev, prod)",
        "releases/auth.yaml: environments.prod: replicas: -1 must be a whole number, 0 or more",
        "releases/billing.yaml: no service billing in the config (services: auth, orders)",
    ]


def test_the_write_of_an_image_keeps_the_files_other_lines(tmp_path):
    write(
        tmp_path, "auth", "# owned by the auth team\nimage: r.example.com/auth:1.0.0\nreplicas: 3\n"
    )
    releases.write_image(tmp_path, "auth", "r.example.com/auth:1.1.0")
    assert (tmp_path / "releases" / "auth.yaml").read_text() == (
        "# owned by the auth team\nimage: r.example.com/auth:1.1.0\nreplicas: 3\n"
    )


def test_a_release_of_another_service_never_reads_a_file_half_written(tmp_path):
    # Two `ops release --image` at once: each reads every release file while the other writes.
    padding = "".join(f"# line {n} of the auth team's notes\n" for n in range(2000))
    write(tmp_path, "auth", f"image: r.example.com/auth:1.0.0\n{padding}")
    images = [f"r.example.com/auth:1.0.{n}" for n in range(200)]
    writer = threading.Thread(
        target=lambda: [releases.write_image(tmp_path, "auth", image) for image in images]
    )
    writer.start()
    seen = []
    while writer.is_alive():
        content, problems = releases.read(tmp_path)
        seen.append((content.get("auth"), problems))
    writer.join()
    assert all(
        problems == []
        and isinstance(content, dict)
        and content.get("image") in [*images, "r.example.com/auth:1.0.0"]
        for content, problems in seen
    )
    assert sorted(path.name for path in (tmp_path / "releases").iterdir()) == ["auth.yaml"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    for package in ("components", "deploypaths"):
        shutil.copytree(PROJECT_DIR / package, tmp_path / package)
    shutil.copy(PROJECT_DIR / "Pulumi.local.yaml", tmp_path / "Pulumi.local.yaml")
    return tmp_path


def test_the_program_deploys_the_release_files_image(project):
    write(project, "orders", "image: registry.example.com/shop/orders:9.9.9\n")
    config = load_stack_file(project / "Pulumi.local.yaml", project)
    recording = run_program(config, stack="local", project_dir=project)
    deployment = recording.named("us-east-1-orders-deployment")
    containers = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "registry.example.com/shop/orders:9.9.9"


def test_the_program_refuses_a_bad_release_file_before_declaring_anything(project):
    write(project, "billing", "image: r.example.com/billing:1.0.0\n")
    config = load_stack_file(project / "Pulumi.local.yaml", project)
    with pytest.raises(pulumi.RunError, match="releases/billing.yaml: no service billing"):
        run_program(config, stack="local", project_dir=project)


def test_the_releases_an_update_recorded_apply_instead_of_the_files(tmp_path):
    write(tmp_path, "auth", "image: r.example.com/auth:3.0.0\n")
    recorded = {**RAW, "releases": {"auth": {"image": "r.example.com/auth:2.0.0"}}}
    applied = releases.apply(recorded, "dev", tmp_path, ["dev"])
    assert applied["services"][0]["image"] == "r.example.com/auth:2.0.0"
    assert "releases" not in applied, "the key is the program's input, not a setting"
    assert releases.apply_recorded(RAW, "dev") == RAW, "a config that recorded none is as it is"
    with pytest.raises(releases.ReleaseFileError, match="deploypaths:releases: must be a mapping"):
        releases.apply_recorded({**RAW, "releases": ["auth"]}, "dev")
