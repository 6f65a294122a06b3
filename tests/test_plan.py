"""`python -m ops plan`: the offline view of what `pulumi up` would do."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from deploypaths.schedule import DEFAULT_LATENCY_MINUTES, Task, latency, schedule
from ops import UserError
from ops.mock_run import PROJECT_DIR
from ops.plan import load_latency


def run_plan(*args: str, cwd=PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops", "plan", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_schedule_runs_independent_tasks_in_parallel_and_finds_the_critical_path():
    tasks = [
        Task("a", "t", ()),
        Task("b", "t", ("a",)),
        Task("c", "t", ("a",), minutes=5),
        Task("d", "t", ("b", "c")),
    ]
    result = schedule(tasks, {"t": 1.0})
    assert result.times["b"].start == 1.0 and result.times["c"].start == 1.0
    assert result.critical_path == ["a", "c", "d"]
    assert result.total_minutes == 7.0
    assert result.sequential_minutes == 8.0


def test_latency_model_matches_exact_types_before_package_prefixes():
    assert latency("kubernetes:apps/v1:Deployment", DEFAULT_LATENCY_MINUTES) == 3.0
    assert latency("kubernetes:core/v1:Service", DEFAULT_LATENCY_MINUTES) == 0.1
    assert latency("unknown:x:Y", DEFAULT_LATENCY_MINUTES) == 0.0


def test_plan_json_describes_paths_waves_edges_and_times(tmp_path):
    picture = tmp_path / "prod.svg"
    result = run_plan("--stack", "prod", "--json", "--picture", str(picture))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["waves"] == [["us-east-1"], ["eu-west-1", "ap-southeast-2"]]
    ids = {path["id"] for path in plan["paths"]}
    assert {"orders@eu-west-1", "orders-drop-legacy@ap-southeast-2", "gate-after-wave-1"} <= ids
    assert "payments@ap-southeast-2" not in ids, "payments runs in two regions only"
    edges = {(e["from"], e["waits_for"]) for e in plan["edges"]}
    assert ("orders@us-east-1", "auth@us-east-1") in edges
    assert ("orders@us-east-1", "orders-add-status@us-east-1") in edges
    assert ("eu-west-1", "gate-after-wave-1") in edges
    assert ("catalog@us-east-1", "auth@us-east-1") not in edges
    assert plan["critical_path"][0] == "us-east-1"
    assert "gate-after-wave-1" in plan["critical_path"]
    assert 0 < plan["critical_path_minutes"] < plan["sequential_minutes"]
    finish = max(path["finish_minutes"] for path in plan["paths"])
    assert plan["critical_path_minutes"] == pytest.approx(finish, abs=0.01)
    svg = picture.read_text()
    assert svg.startswith("<svg") and "orders@eu-west-1" in svg and "#d62728" in svg


def test_plan_text_names_waves_the_critical_path_and_the_picture(tmp_path):
    picture = tmp_path / "dev.svg"
    result = run_plan("--stack", "dev", "--picture", str(picture))
    assert result.returncode == 0, result.stderr
    assert "Wave 1: us-east-1" in result.stdout
    assert "Critical path" in result.stdout and "Estimated deploy time" in result.stdout
    assert f"Picture: {picture}" in result.stdout


def test_latency_overrides_change_the_estimate(tmp_path):
    overrides = tmp_path / "latency.json"
    overrides.write_text(json.dumps({"kubernetes:apps/v1:Deployment": 30}))
    base = json.loads(
        run_plan("--stack", "dev", "--json", "--picture", str(tmp_path / "a.svg")).stdout
    )
    slow = run_plan(
        "--stack",
        "dev",
        "--json",
        "--latency",
        str(overrides),
        "--picture",
        str(tmp_path / "b.svg"),
    )
    slower = json.loads(slow.stdout)
    assert slower["critical_path_minutes"] > base["critical_path_minutes"] + 50


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], "expected a JSON object of resource type -> minutes >= 0, not a JSON list"),
        ({"kubernetes:apps/v1:Deployment": -1}, "bad entries: kubernetes:apps/v1:Deployment"),
    ],
)
def test_a_bad_latency_file_is_a_clear_error(tmp_path, document, expected):
    overrides = tmp_path / "latency.json"
    overrides.write_text(json.dumps(document))
    with pytest.raises(UserError, match=re.escape(expected)):
        load_latency(str(overrides))


def test_bad_stack_file_is_a_clear_error_without_traceback(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(
        "config:\n"
        "  deploypaths:regions: [{name: mars-north-1}]\n"
        "  deploypaths:services: [{name: Web_App, image: web, replicas: 0}]\n"
    )
    result = run_plan(
        "--stack", "bad", "--stack-file", str(bad), "--picture", str(tmp_path / "x.svg")
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for expected in (
        "regions[0].name: got 'mars-north-1'",
        "services[0].name",
        "services[0].replicas",
    ):
        assert expected in result.stderr, result.stderr
    assert not (tmp_path / "x.svg").exists(), "nothing is planned from an invalid config"


def test_missing_stack_file_is_a_clear_error(tmp_path):
    result = run_plan("--stack", "nope")
    assert result.returncode == 2
    assert "no stack file" in result.stderr and "Traceback" not in result.stderr
