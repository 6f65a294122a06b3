"""MigrationPath on its own: one Kubernetes Job per migration image, run once, after what it
waits for."""

from __future__ import annotations

import hashlib
import json

import pulumi
import pytest

from components.migration_path import MigrationPath, MigrationPathArgs
from components.pod_security import accepted_findings
from deploypaths.config.settings import Migration, MigrationDown
from deploypaths.naming import short_hash
from tests.support.component_monitor import build, declared_outputs

NAME = "add-index-eu-west-1"
JOB = "kubernetes:batch/v1:Job"


def migration_path(
    image: str,
    *,
    database_secret: str | None = "database-connection",
    down: MigrationDown | None = None,
    run_down: bool = False,
):
    def make() -> MigrationPath:
        previous = pulumi.CustomResource("test:index:Job", "create-table-job")
        return MigrationPath(
            NAME,
            MigrationPathArgs(
                migration=Migration(name="add-index", image=image, phase="expand", down=down),
                namespace="app",
                database_secret=database_secret,
                waits_for=[previous],
                timeout_minutes=12,
                down=run_down,
            ),
        )

    return build(make)


@pytest.fixture(scope="module")
def migration():
    return migration_path("migrations:7")


def expected_job_name(image: str) -> str:
    digest = hashlib.sha256(json.dumps([image]).encode()).hexdigest()[:8]
    return f"add-index-{digest}"


def test_the_job_hangs_off_the_path_and_waits_for_the_previous_one(migration):
    _, monitor = migration
    (path,) = monitor.of_type("deploypaths:index:MigrationPath")
    (job,) = monitor.children_of(path.urn)
    assert (job.type, job.name) == (JOB, f"{NAME}-job"), job.name
    previous = monitor.named("create-table-job", "test:index:Job")
    assert job.dependencies == (previous.urn,), job.name


def test_the_job_is_named_by_its_image_hash(migration):
    _, monitor = migration
    job = monitor.named(f"{NAME}-job", JOB)
    assert job.inputs["metadata"]["name"] == expected_job_name("migrations:7"), job.name
    # A new image is a new Job beside the old one; the same image keeps its Job.
    again = migration_path("migrations:7")[1].named(f"{NAME}-job", JOB)
    newer = migration_path("migrations:8")[1].named(f"{NAME}-job", JOB)
    assert again.inputs["metadata"]["name"] == job.inputs["metadata"]["name"], again.name
    assert newer.inputs["metadata"]["name"] == expected_job_name("migrations:8"), newer.name
    assert newer.inputs["metadata"]["name"] != job.inputs["metadata"]["name"], newer.name


def test_the_job_runs_once_within_its_deadline(migration):
    _, monitor = migration
    job = monitor.named(f"{NAME}-job", JOB)
    metadata, spec = job.inputs["metadata"], job.inputs["spec"]
    assert metadata["namespace"] == "app", job.name
    # Its tag-pinned image and the database Secret in its environment are accepted findings.
    assert metadata["annotations"] == {
        "deploypaths/phase": "expand",
        **accepted_findings(images=["migrations:7"], secret_env=True),
    }, job.name
    assert set(metadata["annotations"]) == {
        "deploypaths/phase",
        "checkov.io/skip1",
        "checkov.io/skip2",
    }, job.name
    assert metadata["labels"]["deploypaths/migration"] == "add-index", job.name
    assert spec["backoffLimit"] == 0, job.name
    assert spec["activeDeadlineSeconds"] == 720, job.name
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never", job.name
    assert pod["automountServiceAccountToken"] is False, job.name
    (container,) = pod["containers"]
    assert container["image"] == "migrations:7", job.name
    assert container["envFrom"] == [{"secretRef": {"name": "database-connection"}}], job.name
    assert container["securityContext"]["readOnlyRootFilesystem"] is True, job.name


def test_without_a_database_the_job_reads_no_secret():
    _, monitor = migration_path("migrations:7", database_secret=None)
    job = monitor.named(f"{NAME}-job", JOB)
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [], job.name


def test_registers_exactly_what_it_exposes(migration):
    component, monitor = migration
    (path,) = monitor.of_type("deploypaths:index:MigrationPath")
    outputs = monitor.outputs[path.urn]
    assert set(outputs) == declared_outputs(MigrationPath), path.name
    assert outputs["job"] == monitor.named(f"{NAME}-job", JOB).urn, path.name
    assert outputs["job_name"] == component.job_name == expected_job_name("migrations:7")
    assert outputs["direction"] == component.direction == "up", path.name


# --- down ----------------------------------------------------------------------------------

DOWN = MigrationDown(image="migrations:7-down", args=("--to", "6"))


@pytest.fixture(scope="module")
def undone():
    return migration_path("migrations:7", down=DOWN, run_down=True)


def test_a_declared_down_changes_nothing_until_the_region_runs_it(migration):
    _, plain = migration
    _, declared = migration_path("migrations:7", down=DOWN)
    (job,) = declared.of_type(JOB)
    (before,) = plain.of_type(JOB)
    assert (job.urn, job.inputs, job.dependencies) == (
        before.urn,
        before.inputs,
        before.dependencies,
    )
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    assert "args" not in container, job.name


def test_a_region_that_runs_the_down_declares_only_the_down_job(undone):
    component, monitor = undone
    (path,) = monitor.of_type("deploypaths:index:MigrationPath")
    (job,) = monitor.children_of(path.urn)
    assert (job.type, job.name) == (JOB, f"{NAME}-down-job"), job.name
    previous = monitor.named("create-table-job", "test:index:Job")
    assert job.dependencies == (previous.urn,), job.name
    metadata, spec = job.inputs["metadata"], job.inputs["spec"]
    assert metadata["name"] == f"add-index-down-{short_hash('migrations:7-down', ['--to', '6'])}"
    assert metadata["labels"] == {
        "app.kubernetes.io/part-of": "deploypaths",
        "deploypaths/migration": "add-index",
        "deploypaths/direction": "down",
    }, job.name
    assert spec["template"]["metadata"]["labels"] == metadata["labels"], job.name
    assert spec["backoffLimit"] == 0, job.name
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never", job.name
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }, job.name
    (container,) = pod["containers"]
    assert container["image"] == "migrations:7-down", job.name
    assert container["args"] == ["--to", "6"], job.name
    assert container["envFrom"] == [{"secretRef": {"name": "database-connection"}}], job.name
    assert container["securityContext"]["readOnlyRootFilesystem"] is True, job.name
    assert job.custom_timeouts.get("create") == "12m", job.name
    outputs = monitor.outputs[path.urn]
    assert outputs["job"] == job.urn == monitor.named(f"{NAME}-down-job", JOB).urn
    assert outputs["job_name"] == component.job_name == metadata["name"], path.name
    assert outputs["direction"] == component.direction == "down", path.name


def test_the_down_job_never_takes_the_name_of_the_change(undone):
    _, monitor = undone
    job = monitor.named(f"{NAME}-down-job", JOB)
    assert job.inputs["metadata"]["name"] != expected_job_name("migrations:7"), job.name
    newer = MigrationDown(image="migrations:7-down", args=("--to", "5"))
    other = migration_path("migrations:7", down=newer, run_down=True)[1]
    renamed = other.named(f"{NAME}-down-job", JOB)
    assert renamed.inputs["metadata"]["name"] != job.inputs["metadata"]["name"], renamed.name
