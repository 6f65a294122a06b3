"""`python -m ops plan`: the offline view of what `pulumi up` would do."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from benchmarks.topology import generate
from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.plan import GATED_TYPES, Plan, build_plan, owner_paths
from deploypaths.schedule import DEFAULT_LATENCY_MINUTES, Task, grouped_minutes, latency, schedule
from deploypaths.stack_config import load_stack_file, namespace_values
from ops import UserError
from ops.plan import DEFAULT_MODEL, latency_model, load_latency, stack_latency


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


def test_grouped_minutes_run_groups_one_after_another_and_tasks_in_parallel_inside():
    tasks = [
        Task("a1", "t", ()),
        Task("a2", "t", ("a1",)),
        Task("b1", "t", ("a2",)),
        Task("b2", "t", ("a1",)),
    ]
    groups = {"a1": "a", "a2": "a", "b1": "b", "b2": "b"}
    assert grouped_minutes(tasks, {"t": 1.0}, lambda task: groups[task.id]) == 3.0
    assert grouped_minutes(tasks, {"t": 1.0}, lambda task: task.id) == 4.0


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


# --- Bars a reader can trust ----------------------------------------------------------------


def plan_of(config: dict[str, str], stack: str) -> tuple[Plan, dict]:
    recording = run_program(config, stack=stack)
    plan = build_plan(recording, stack, namespace_values(config), dict(DEFAULT_LATENCY_MINUTES))
    return plan, recording.registrations


def stack_file_config(stack: str) -> dict[str, str]:
    return load_stack_file(PROJECT_DIR / f"Pulumi.{stack}.yaml", PROJECT_DIR)


def generated(size: tuple[int, int, int, int], **modes: str) -> dict[str, str]:
    config = generate(*size, seed=7, **modes)
    config["deploypaths:bake_minutes"] = "5"
    return config


TOPOLOGIES = {
    "prod": lambda: stack_file_config("prod"),
    "dev": lambda: stack_file_config("dev"),
    "render-3x8x4/2": lambda: generated((3, 8, 4, 2)),
    "cloud-2x6x3/2": lambda: generated(
        (2, 6, 3, 2), kubernetes_mode="eks", database_mode="aurora", monitoring_mode="cloudwatch"
    ),
    "kubeconfig-4x10x5/3": lambda: generated((4, 10, 5, 3), kubernetes_mode="kubeconfig"),
}


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_no_release_starts_before_a_path_it_waits_for_has_finished(topology):
    plan, registrations = plan_of(TOPOLOGIES[topology](), stack=topology.split("-")[0])
    paths = {p.id: p for p in plan.paths}
    problems = [
        f"{waiter} starts at {paths[waiter].start:.2f} min, before {waited} finishes at "
        f"{paths[waited].finish:.2f}"
        for waiter, waited in plan.edges
        # A region's flag deployments each wait for their own service only: checked below.
        if paths[waiter].kind != "flags" and paths[waiter].start < paths[waited].finish - 1e-9
    ]
    owners = owner_paths(registrations)
    for urn, registration in registrations.items():
        kind = paths[owners[urn]].kind if urn in owners else None
        if registration.type not in GATED_TYPES.get(kind, ()):
            continue
        start = plan.resource_times[urn][0]
        for dependency in registration.waits_for:
            waited = paths.get(owners.get(dependency, ""))
            if (
                waited
                and waited.id != owners[urn]
                and waited.kind != "region"
                and start < waited.finish - 1e-9
            ):
                problems.append(
                    f"{registration.name} starts at {start:.2f} min, before {waited.id} "
                    f"finishes at {waited.finish:.2f}"
                )
    assert not problems, "\n".join(problems[:10])
    assert any(p.lead_in < p.start for p in plan.paths if p.kind == "service"), (
        "services create their Service and budget before their release: a lead-in"
    )


def test_text_json_and_picture_show_the_same_release_bars(tmp_path):
    picture = tmp_path / "prod.svg"
    document = json.loads(run_plan("--stack", "prod", "--json", "--picture", str(picture)).stdout)
    text = run_plan("--stack", "prod", "--picture", str(tmp_path / "again.svg")).stdout
    svg = picture.read_text()
    paths = {p["id"]: p for p in document["paths"]}
    orders, auth = paths["orders@us-east-1"], paths["auth@us-east-1"]
    migration = paths["orders-add-status@us-east-1"]
    assert orders["start_minutes"] >= auth["finish_minutes"]
    assert orders["start_minutes"] >= migration["finish_minutes"]
    assert orders["lead_in_minutes"] < orders["start_minutes"], "the Service comes first"
    for path in document["paths"]:
        start, finish = path["start_minutes"], path["finish_minutes"]
        assert f"<title>{path['id']}: {start:.2f}-{finish:.2f} min</title>" in svg, path["id"]
        owner = f" ({path['owner']})" if path["owner"] else ""
        label = re.escape(f"{path['kind']} {path['id']}{owner}")
        assert re.search(rf"{label}\s+{start:.1f} ->\s+{finish:.1f} min", text), path["id"]


def test_baselines_are_in_text_json_and_the_picture_title(tmp_path):
    picture = tmp_path / "prod.svg"
    document = json.loads(run_plan("--stack", "prod", "--json", "--picture", str(picture)).stdout)
    baselines = document["baselines"]
    assert list(baselines) == [
        "one_resource_at_a_time",
        "paths_one_after_another",
        "regions_one_at_a_time",
    ]
    minutes = [baselines[key]["minutes"] for key in baselines]
    assert baselines["one_resource_at_a_time"]["minutes"] == document["sequential_minutes"]
    assert minutes == sorted(minutes, reverse=True), minutes
    assert minutes[-1] > document["critical_path_minutes"]
    svg = picture.read_text()
    for value in minutes:
        assert f"{value:.1f} min" in svg
    text = run_plan("--stack", "prod", "--picture", str(tmp_path / "again.svg")).stdout
    for key in baselines:
        assert baselines[key]["description"] in text


def test_a_calibrated_latency_file_plans_with_its_median_or_p90(tmp_path):
    calibrated = tmp_path / "latency.json"
    deployment = "kubernetes:apps/v1:Deployment"
    calibrated.write_text(json.dumps({deployment: {"median": 0.5, "p90": 0.9, "samples": 4}}))
    assert load_latency(str(calibrated))[deployment] == 0.5
    assert load_latency(str(calibrated), "p90")[deployment] == 0.9
    calibrated.write_text(json.dumps({deployment: {"p90": 0.9}}))
    with pytest.raises(UserError, match="bad entries: kubernetes:apps/v1:Deployment"):
        load_latency(str(calibrated))


def test_a_verification_is_a_step_of_its_service_path_that_its_dependents_wait_for():
    config = stack_file_config("dev")
    services = json.loads(config["deploypaths:services"])
    services[0]["verify"] = {"image": "registry.example.com/shop/auth-smoke:3.2.0"}
    config["deploypaths:services"] = json.dumps(services)
    plan, registrations = plan_of(config, stack="dev")
    owners = owner_paths(registrations)
    (verify,) = [r for r in registrations.values() if r.name.endswith("-verify-job")]
    auth, orders = plan.path("auth@us-east-1"), plan.path("orders@us-east-1")
    assert owners[verify.urn] == auth.id, verify.name
    start, finish = plan.resource_times[verify.urn]
    others = [r.urn for r in registrations.values() if owners.get(r.urn) == auth.id]
    assert start >= max(plan.resource_times[u][1] for u in others if u != verify.urn)
    # The path is done once its verification is: what orders waits for.
    assert auth.finish == finish, auth.id
    assert orders.start >= finish, orders.id
    assert (orders.id, auth.id) in plan.edges


def test_a_stack_plans_with_the_latency_file_its_stack_file_names(tmp_path, monkeypatch, capsys):
    from ops.__main__ import main

    # Not a file a developer calibrated in the checkout: none.
    monkeypatch.setattr(
        "ops.plan.calibrated_file", lambda stack, project_dir: tmp_path / f"latency-{stack}.json"
    )
    picture = str(tmp_path / "plan.svg")
    assert main(["plan", "--stack", "local", "--json", "--picture", picture]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["latency"] == "local/latency.json (deploypaths:latency)"
    local = json.loads((PROJECT_DIR / "local" / "latency.json").read_text())
    deployment = "kubernetes:apps/v1:Deployment"
    assert document["latency_model_minutes"][deployment] == local[deployment]
    assert main(["plan", "--stack", "prod", "--json", "--picture", picture]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["latency"] == DEFAULT_MODEL
    assert document["latency_model_minutes"][deployment] == DEFAULT_LATENCY_MINUTES[deployment]


def test_the_stacks_calibrated_latency_file_comes_first_and_latency_wins_over_both(tmp_path):
    deployment = "kubernetes:apps/v1:Deployment"
    (tmp_path / "named.json").write_text(json.dumps({deployment: 0.2}))
    config = {"deploypaths:latency": "named.json"}
    assert stack_latency("local", config, tmp_path) == (
        tmp_path / "named.json",
        "named.json (deploypaths:latency)",
    )
    assert stack_latency("local", {"deploypaths:latency": ""}, tmp_path) == (None, DEFAULT_MODEL)
    (tmp_path / "out").mkdir()
    calibrated = tmp_path / "out" / "latency-local.json"
    calibrated.write_text(json.dumps({deployment: {"median": 0.4, "p90": 0.6}}))
    model, source = latency_model(None, "p90", stack="local", config=config, project_dir=tmp_path)
    assert (model[deployment], source) == (
        0.6,
        "out/latency-local.json (calibrated: ops calibrate)",
    )
    given = tmp_path / "given.json"
    given.write_text(json.dumps({deployment: 0.9}))
    model, source = latency_model(
        str(given), "median", stack="local", config=config, project_dir=tmp_path
    )
    assert (model[deployment], source) == (0.9, f"{given} (--latency)")


def test_a_missing_named_latency_file_is_refused_naming_the_key(tmp_path):
    with pytest.raises(UserError, match=re.escape("missing.json (deploypaths:latency): ")):
        latency_model(
            None,
            "median",
            stack="local",
            config={"deploypaths:latency": "missing.json"},
            project_dir=tmp_path,
        )


def test_the_plan_names_each_service_and_migration_paths_owner():
    text = run_plan("--stack", "prod").stdout
    assert re.search(r"service orders@us-east-1 \(checkout\)\s+\d", text), text[:2000]
    assert re.search(r"migration payments-add-currency@us-east-1 \(payments\)\s+\d", text)
    assert re.search(r"region us-east-1\s+\d", text), "a region path has no owner of its own"
    document = json.loads(run_plan("--stack", "prod", "--json").stdout)
    owners = {path["id"]: path["owner"] for path in document["paths"]}
    assert owners["auth@eu-west-1"] == "identity"
    assert owners["us-east-1"] is None
