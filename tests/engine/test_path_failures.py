"""A failed path on real clusters, each through `ops up` with no flag: only that path stops, it
goes back by itself, its dependents are held, a failed migration runs its `down`, a failed
verification counts as a failed path, and the gate's checks catch what they exist for. After
each, the fixed release lands everything and a refresh finds no drift. What fails is set by
local/stages.yaml (image tags); `make drills` runs this module three times in a row."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from typing import Any

import kubernetes
import pytest

from tests.support.cluster import ClusterView, image_of, is_rolled_out, stamp
from tests.support.engine import Deployed, stack_config, up_stack

STACK = "paths"
REGISTRY = "registry.example.com/shop"
WAVE_1, WAVE_2 = "us-east-1", "eu-west-1"
# Short enough to keep the module quick, long enough for a real rollout (the stages' delays plus
# the Deployments' minReadySeconds).
TIMEOUT = 45
BASE = stack_config(
    STACK,
    regions=[{"name": WAVE_1}, {"name": WAVE_2}],
    waves=[[WAVE_1], [WAVE_2]],
    kubernetes={**stack_config(STACK)["kubernetes"], "rollout_timeout_seconds": TIMEOUT},
)
# One pod each: a path fails and goes back the same way with one pod as with two, and a
# rollout (one pod at a time, each Ready and then minReadySeconds) takes half as long.
BASE["services"] = [{**entry, "replicas": 1} for entry in BASE["services"]]


def release(config: dict[str, Any], **images: str) -> dict[str, Any]:
    """`config` with new images (`auth="3.3.0"` -> registry/auth:3.3.0)."""
    config = copy.deepcopy(config)
    for service in config["services"]:
        if service["name"] in images:
            service["image"] = f"{REGISTRY}/{service['name']}:{images[service['name']]}"
    return config


def with_expand(config: dict[str, Any], migration: dict[str, Any]) -> dict[str, Any]:
    """`config` with a new expand migration before its contract migration (the last)."""
    config = copy.deepcopy(config)
    migrations = config["migrations"]
    config["migrations"] = [*migrations[:-1], {**migration, "phase": "expand"}, migrations[-1]]
    return config


def fixed_expand(config: dict[str, Any], image: str) -> dict[str, Any]:
    """`config` with its newest expand migration (the one before the contract) fixed."""
    config = copy.deepcopy(config)
    config["migrations"][-2]["image"] = f"{REGISTRY}/migrate:{image}"
    return config


def service(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in config["services"] if s["name"] == name)


def images(view: ClusterView) -> dict[str, str]:
    return {name: image_of(d) for name, d in view.deployments().items()}


def generations(view: ClusterView) -> dict[str, int]:
    return {name: d["metadata"]["generation"] for name, d in view.deployments().items()}


def ops_up(stack: Deployed) -> subprocess.CompletedProcess:
    """`ops up --stack S --yes`, as a pipeline runs it: no flag."""
    return stack.project.ops("up", "--stack", STACK, "--yes")


def line_of(output: str, path: str) -> str:
    """The summary's line for `path` (the last one printed: after the failed paths went back)."""
    lines = [line for line in output.splitlines() if line.strip().startswith(f"{path} ")]
    assert lines, f"no summary line for {path}:\n{output}"
    return lines[-1]


class Scenario:
    """One failing release on the module's stack, then the fixed one, and their checks."""

    def __init__(self, stack: Deployed) -> None:
        self.stack = stack
        self.first, self.second = stack.views[WAVE_1], stack.views[WAVE_2]
        self.released = images(self.first)
        self.later_wave = generations(self.second)
        self.stack_file = stack.project.stack_file(STACK).read_text()

    def fail(self, config: dict[str, Any]) -> str:
        self.stack.configure(config)
        self.stack_file = self.stack.project.stack_file(STACK).read_text()
        done = ops_up(self.stack)
        output = done.stdout + done.stderr
        assert done.returncode == 1, output
        assert "Traceback" not in output, output
        assert self.stack.project.stack_file(STACK).read_text() == self.stack_file, (
            "the stack file is not changed: the next up tries the new release again"
        )
        assert generations(self.second) == self.later_wave, "no object of a later wave changed"
        return output

    def back_on_its_release(self, name: str) -> None:
        deployment = self.first.deployments()[name]
        assert image_of(deployment) == self.released[name], name
        assert is_rolled_out(deployment), (name, deployment["status"])

    def fixed(self, config: dict[str, Any]) -> None:
        """The fixed release lands everything; a refresh then finds no drift."""
        self.stack.configure(config)
        done = ops_up(self.stack)
        assert done.returncode == 0, done.stdout + done.stderr
        for view in (self.first, self.second):
            for name, deployment in view.deployments().items():
                assert is_rolled_out(deployment), (view.region, name)
        refreshed = self.stack.handle.preview_refresh(color="never")
        drift = {op: n for op, n in refreshed.change_summary.items() if op != "same"}
        assert not drift, drift


@pytest.fixture(scope="module")
def stack(project):
    yield from up_stack(project, STACK, BASE)


def test_a_service_that_never_gets_ready_goes_back_alone_while_the_others_land(stack):
    scenario = Scenario(stack)
    failing = with_expand(
        release(BASE, auth="3.3.0-never-ready", catalog="5.1.0", orders="7.5.0"),
        {"name": "orders-add-index", "image": f"{REGISTRY}/migrate:0043"},
    )
    service(failing, "search")["canary"]["image"] = f"{REGISTRY}/search:1.13.1"
    output = scenario.fail(failing)
    # The failed path is back on its previous template, every replica updated and Available.
    scenario.back_on_its_release("auth")
    auth = line_of(output, "auth@us-east-1")
    assert " rolled back " in auth and "back to the release of update 1" in auth, auth
    # What waits for it kept its old release and says why.
    assert images(scenario.first)["orders"] == scenario.released["orders"]
    assert line_of(output, "orders@us-east-1").endswith("held: waits for auth@us-east-1")
    # The paths beside it landed.
    now = scenario.first.deployments()
    assert image_of(now["catalog"]).endswith("catalog:5.1.0") and is_rolled_out(now["catalog"])
    assert image_of(now["search-canary"]).endswith("search:1.13.1")
    assert "orders-add-index" in " ".join(scenario.first.jobs())
    # While it ran, a line per change of a path's state (no terminal: plain lines).
    for said in (
        "path auth@us-east-1: rolling out after",
        "path catalog@us-east-1: done after",
        "path orders@us-east-1: held: waits for auth@us-east-1",
        "path auth@us-east-1: rolled back after",
    ):
        assert said in output, f"no {said!r}:\n{output}"
    assert re.search(r"path auth@us-east-1: failed after \S+ \(plan \S+\): .*auth", output)
    # Its story, the Kubernetes Events of its Deployment and ReplicaSets included.
    number = re.search(r"^Events: .* --update (\d+)\)$", output, re.MULTILINE)
    assert number, output
    story = stack.project.ops(
        "logs", "--stack", STACK, "--path", "auth@us-east-1", "--update", number[1]
    )
    assert story.returncode == 0, story.stderr
    assert "us-east-1-auth-deployment (Deployment): update, failed" in story.stdout, story.stdout
    assert "Deployment/auth in us-east-1: Normal ScalingReplicaSet" in story.stdout, story.stdout
    # The preview after the rollback shows the failed and held paths pending, not the landed.
    pending = stack.handle.preview(color="never", diff=True).stdout
    assert "us-east-1-auth-deployment" in pending
    assert "us-east-1-catalog-deployment" not in pending, pending
    scenario.fixed(release(failing, auth="3.3.1"))


def test_a_path_the_gate_names_goes_back_and_the_next_wave_never_starts(stack):
    scenario = Scenario(stack)
    output = scenario.fail(release(stack.config, catalog="5.3.0-restarts"))
    assert "restarted 5 times" in line_of(output, "catalog@us-east-1")
    scenario.back_on_its_release("catalog")
    assert line_of(output, "catalog@eu-west-1").endswith("held: waits for gate-after-wave-1")
    scenario.fixed(release(stack.config, catalog="5.3.1"))


def test_a_failed_expand_migration_runs_its_down_and_holds_what_requires_it(stack):
    scenario = Scenario(stack)
    failing = with_expand(
        release(stack.config, catalog="5.4.0", orders="7.6.0"),
        {
            "name": "orders-add-column",
            "image": f"{REGISTRY}/migrate:0050-fails",
            "down": {"image": f"{REGISTRY}/migrate:0050-down", "args": ["--to=0049"]},
        },
    )
    service(failing, "orders")["requires"] = ["orders-add-status", "orders-add-column"]
    output = scenario.fail(failing)
    assert "down ran" in line_of(output, "orders-add-column@us-east-1"), output
    assert images(scenario.first)["orders"] == scenario.released["orders"]
    assert image_of(scenario.first.deployments()["catalog"]).endswith("catalog:5.4.0")
    down = next(
        job
        for name, job in scenario.first.jobs().items()
        if name.startswith("orders-add-column-down-")
    )
    assert down["status"].get("succeeded") == 1, down["status"]
    # The down Job started after the failed Job had failed, in the cluster's own clock.
    failed_at = job_failed_at(scenario.first, "orders-add-column-")
    assert stamp(down["metadata"]["creationTimestamp"]) >= failed_at
    scenario.fixed(fixed_expand(failing, "0051"))


def test_a_failed_migration_without_a_down_says_the_schema_may_be_half_changed(stack):
    scenario = Scenario(stack)
    failing = with_expand(
        release(stack.config, catalog="5.5.0"),
        {"name": "orders-add-flag", "image": f"{REGISTRY}/migrate:0060-fails"},
    )
    output = scenario.fail(failing)
    flag = line_of(output, "orders-add-flag@us-east-1")
    assert "schema may be half-changed" in flag and "the next up runs it again" in flag, flag
    # Its failed Job is gone, so the next `up` runs the migration again instead of finding it
    # failed.
    assert not [name for name in scenario.first.jobs() if name.startswith("orders-add-flag-")]
    assert image_of(scenario.first.deployments()["catalog"]).endswith("catalog:5.5.0")
    scenario.fixed(fixed_expand(failing, "0061"))


def test_a_new_service_whose_first_deploy_fails_is_removed_again(stack):
    scenario = Scenario(stack)
    failing = release(stack.config, catalog="5.6.0")
    failing["services"].append(
        {"name": "payments", "image": f"{REGISTRY}/payments:1.0.0-never-ready", "regions": [WAVE_1]}
    )
    output = scenario.fail(failing)
    assert " removed " in line_of(output, "payments@us-east-1"), output
    assert "payments" not in scenario.first.deployments()
    assert not scenario.first.pods(app="payments")
    assert image_of(scenario.first.deployments()["catalog"]).endswith("catalog:5.6.0")
    fixed = copy.deepcopy(failing)
    service(fixed, "payments")["image"] = f"{REGISTRY}/payments:1.0.1"
    scenario.fixed(fixed)


def test_a_failed_verification_sends_its_service_back_and_holds_its_dependents(stack):
    scenario = Scenario(stack)
    failing = release(stack.config, auth="3.4.0", orders="7.7.0")
    service(failing, "auth")["verify"] = {"image": f"{REGISTRY}/smoke:1.0.0-fails"}
    output = scenario.fail(failing)
    assert " rolled back " in line_of(output, "auth@us-east-1"), output
    scenario.back_on_its_release("auth")
    assert images(scenario.first)["orders"] == scenario.released["orders"]
    assert line_of(output, "orders@us-east-1").endswith("held: waits for auth@us-east-1")
    fixed = copy.deepcopy(failing)
    service(fixed, "auth")["verify"] = {"image": f"{REGISTRY}/smoke:1.0.0"}
    scenario.fixed(fixed)


def test_the_gate_fails_a_wave_whose_deployment_loses_availability_after_its_rollout(stack):
    """The rollout passed (the provider's wait), then pods turn NotReady: only the gate's own
    check through the API server (deploypaths/rollout.py) can see it."""
    scenario = Scenario(stack)
    failing = release(stack.config, search="1.14.0-goes-unready")
    failing["bake_minutes"] = 1.5
    output = scenario.fail(failing)
    gate = line_of(output, "search@us-east-1")
    assert "Deployment search " in gate and "rolled back" in gate, output
    # The long bake was for the failure: the fix bakes as the stack always does.
    fixed = release({**stack.config, "bake_minutes": BASE["bake_minutes"]}, search="1.14.1")
    scenario.fixed(fixed)


def test_admission_refuses_a_pod_that_breaks_the_restricted_standard(stack):
    view = stack.views[WAVE_1]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged-probe"},
        "spec": {
            "containers": [
                {
                    "name": "probe",
                    "image": f"{REGISTRY}/probe:1.0.0",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    with pytest.raises(kubernetes.client.ApiException) as refused:
        view.core.create_namespaced_pod(view.namespace, pod)
    assert refused.value.status == 403, refused.value
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest": privileged' in message, message


def job_failed_at(view: ClusterView, prefix: str) -> float:
    """When the Job controller gave up on the Job named `prefix<hash>` (its Event outlives the
    Job, which the fallback deleted)."""
    found = view.core.list_namespaced_event(view.namespace).items
    times = [
        stamp(event.last_timestamp or event.event_time or event.metadata.creation_timestamp)
        for event in found
        if event.involved_object.kind == "Job"
        and event.involved_object.name.startswith(prefix)
        and "-down-" not in event.involved_object.name
        and event.reason in ("BackoffLimitExceeded", "DeadlineExceeded")
    ]
    assert times, "no Event says the Job failed"
    return min(times)
