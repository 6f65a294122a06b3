"""`ops logs`: one path's steps, engine messages and Kubernetes Events in a recorded update,
with its objects' ReplicaSets and Pods, and no other path's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from ops import events, kube_events
from ops.__main__ import main
from ops.logs import path_lines

FIXTURES = Path(__file__).parent / "fixtures"
RECORDING = FIXTURES / "events-drills-created.jsonl"


def kube(kind: str, name: str, reason: str, at: float, region: str = "us-east-1") -> dict:
    return {
        "time": at, "region": region, "kind": kind, "name": name, "type": "Normal",
        "reason": reason, "message": f"{reason} {name}", "count": 1,
    }  # fmt: skip


@pytest.fixture
def recorded_stack(tmp_path):
    """The drills' first update recorded as update 1 of stack `drills`, with Kubernetes Events
    of orders, of the migration whose name starts like it, and of auth."""
    directory = tmp_path / "events"
    directory.mkdir()
    shutil.copy(RECORDING, directory / "1.jsonl")
    start = events.read_events(RECORDING)[0]["timestamp"]
    kept = [
        kube("Deployment", "orders", "ScalingReplicaSet", start + 20),
        kube("ReplicaSet", "orders-7d4b9c8f6", "SuccessfulCreate", start + 21),
        kube("Pod", "orders-7d4b9c8f6-x2k9p", "Scheduled", start + 22),
        kube("Pod", "orders-add-status-202d538c-q8w2z", "Scheduled", start + 5),
        kube("Job", "orders-add-status-202d538c", "Completed", start + 8),
        kube("Deployment", "orders", "ScalingReplicaSet", start + 20, region="eu-west-1"),
        kube("Deployment", "auth", "ScalingReplicaSet", start + 3),
    ]
    with events.private_file(kube_events.path_for(directory / "1.jsonl")) as sink:
        sink.writelines(json.dumps(item) + "\n" for item in kept)
    return directory


def test_a_paths_story_has_its_steps_messages_and_its_objects_events(recorded_stack, capsys):
    code = main(
        ["logs", "--stack", "drills", "--events", str(recorded_stack), "--path", "orders@us-east-1"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("orders@us-east-1 in update 1 of stack drills")
    assert "orders-us-east-1-deployment (Deployment): create, done" in out
    assert "Found {.status.availableReplicas}=2" in out
    for said in (
        "ScalingReplicaSet orders",
        "SuccessfulCreate orders-7d4b9c8f6",
        "Scheduled orders-7d4b9c8f6-x2k9p",
    ):
        assert said in out, out
    assert "orders-add-status" not in out, "another path's (the migration's) events are shown"
    assert "auth" not in out.replace("orders@us-east-1", "")
    assert "in eu-west-1" not in out, "the other region's events are shown"
    times = [float(line.split("s", 1)[0]) for line in out.splitlines()[1:] if line.strip()]
    assert times == sorted(times), "not in time order"


def test_the_migration_gets_its_job_and_pod(recorded_stack):
    lines = path_lines(
        events.read_events(recorded_stack / "1.jsonl"),
        kube_events.read(recorded_stack / "1.jsonl"),
        "orders-add-status@us-east-1",
    )
    text = "\n".join(lines)
    assert "Job/orders-add-status-202d538c in us-east-1: Normal Completed" in text
    assert "Pod/orders-add-status-202d538c-q8w2z" in text
    assert "ReplicaSet/orders-7d4b9c8f6" not in text


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["--path", "nope@us-east-1"],
            "update 1 of stack drills: --path nope@us-east-1: no such path in it (its paths: "
            "auth@eu-west-1,",
        ),
        (
            ["--path", "orders@us-east-1", "--update", "7"],
            "stack drills has no recorded update 7 (recorded: 1)",
        ),
    ],
)
def test_an_unknown_path_or_update_is_one_line_and_exit_2(recorded_stack, capsys, argv, said):
    assert main(["logs", "--stack", "drills", "--events", str(recorded_stack), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {said}"), err
    assert len(err.strip().splitlines()) == 1


def test_a_stack_with_no_recorded_updates_is_refused(tmp_path, capsys):
    assert main(["logs", "--stack", "empty", "--events", str(tmp_path), "--path", "x"]) == 2
    assert "stack empty has no recorded updates" in capsys.readouterr().err


UNANSWERED = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def test_a_cluster_that_cannot_be_read_is_reported_and_the_others_kept(tmp_path):
    clusters = tmp_path / "clusters"
    clusters.mkdir()
    (clusters / "us-east-1.yaml").write_text(UNANSWERED)
    (clusters / "eu-west-1.yaml").write_text("not: [a kubeconfig")
    (clusters / "ap-south-1.yaml").write_text("a string, not a kubeconfig\n")
    kubernetes = SimpleNamespace(mode="kubeconfig", kubeconfig_dir="clusters", namespace="default")
    regions = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"]
    settings = SimpleNamespace(kubernetes=kubernetes, region_names=regions)
    said: list[str] = []
    recording = tmp_path / "events" / "1.jsonl"
    kept = kube_events.keep(recording, settings, since=0, say=said.append, project=tmp_path)
    assert kept is not None and kube_events.read(recording) == []
    assert [line.split(":")[0] for line in said] == [
        f"Kubernetes events of {region} not kept" for region in regions
    ], said
    assert "Max retries exceeded" in said[0], said[0]
    assert said[3].endswith(f"no kubeconfig at {clusters / 'sa-east-1.yaml'}"), said[3]
