"""Rolling, canary and blue-green paths, and feature flags (AppConfig or ConfigMap)."""

from __future__ import annotations

import copy
import json

from tests.support.config import flat
from tests.support.ordering import assert_exact_ordering, settings_of

IMAGE = "r.example.com/orders:7.4.1"
NEXT = "r.example.com/orders:7.5.0"
BASE = {
    "regions": [{"name": "us-east-1"}],
    "kubernetes": {"mode": "kubeconfig"},
    "kubeconfigs": {"us-east-1": "apiVersion: v1"},
    "database": {"mode": "none"},
    "monitoring": {"mode": "cloudwatch"},
    "migrations": [
        {"name": "add-status", "image": "r.example.com/migrate:1", "phase": "expand"},
        {"name": "drop-legacy", "image": "r.example.com/migrate:2", "phase": "contract"},
    ],
    "services": [
        {"name": "auth", "image": "r.example.com/auth:1.0.0"},
        {
            "name": "orders",
            "image": IMAGE,
            "replicas": 4,
            "requires": ["add-status"],
            "after": ["auth"],
        },
        {"name": "search", "image": "r.example.com/search:1.0.0", "after": ["orders"]},
    ],
}


def with_orders(**fields) -> dict:
    raw = copy.deepcopy(BASE)
    raw["services"][1].update(fields)
    return raw


def deployments(recording, service: str = "orders") -> dict[str, dict]:
    return {
        r.name: r.inputs
        for r in recording.of_type("kubernetes:apps/v1:Deployment")
        if r.name.startswith(f"us-east-1-{service}-")
    }


def image(inputs: dict) -> str:
    return inputs["spec"]["template"]["spec"]["containers"][0]["image"]


def test_canary_runs_a_second_deployment_behind_the_same_service(run_stack):
    recording = run_stack(with_orders(strategy="canary", canary={"image": NEXT, "weight": 20}))
    found = deployments(recording)
    stable, canary = (
        found["us-east-1-orders-deployment"],
        found["us-east-1-orders-canary-deployment"],
    )
    assert image(stable) == IMAGE and image(canary) == NEXT
    # 20 % of the pods: 1 canary next to 4 stable ones.
    assert (stable["spec"]["replicas"], canary["spec"]["replicas"]) == (4, 1)
    assert recording.named("us-east-1-orders-service").inputs["spec"]["selector"] == {
        "app": "orders"
    }
    assert canary["spec"]["template"]["metadata"]["labels"] == {"app": "orders", "track": "canary"}
    rule = recording.named("us-east-1-orders-health").inputs["alarmRule"]
    assert 'ALARM("test-orders-us-east-1-canary-restarts")' in rule
    assert 'ALARM("test-orders-us-east-1-stable-restarts")' in rule


def test_canary_abort_scales_the_canary_to_zero_and_leaves_stable_untouched(run_stack):
    running = run_stack(with_orders(strategy="canary", canary={"image": NEXT, "weight": 20}))
    aborted = run_stack(with_orders(strategy="canary", canary={"image": NEXT, "weight": 0}))
    before, after = deployments(running), deployments(aborted)
    assert after["us-east-1-orders-deployment"] == before["us-east-1-orders-deployment"]
    assert after["us-east-1-orders-canary-deployment"]["spec"]["replicas"] == 0


def test_blue_green_service_selects_the_active_colour(run_stack):
    colours = {"blue": {"image": IMAGE}, "green": {"image": NEXT, "replicas": 2}}
    recording = run_stack(
        with_orders(strategy="blue-green", blue_green={"active": "green", **colours})
    )
    found = deployments(recording)
    blue, green = (
        found["us-east-1-orders-blue-deployment"],
        found["us-east-1-orders-green-deployment"],
    )
    assert (image(blue), blue["spec"]["replicas"]) == (IMAGE, 4)
    assert (image(green), green["spec"]["replicas"]) == (NEXT, 2)
    assert recording.named("us-east-1-orders-service").inputs["spec"]["selector"] == {
        "app": "orders",
        "colour": "green",
    }


def test_switching_blue_green_back_changes_only_the_service_selector(run_stack):
    colours = {"blue": {"image": IMAGE}, "green": {"image": NEXT}}
    green = run_stack(with_orders(strategy="blue-green", blue_green={"active": "green", **colours}))
    blue = run_stack(with_orders(strategy="blue-green", blue_green={"active": "blue", **colours}))
    changed = sorted(
        name
        for name, registration in green.registrations.items()
        if registration.custom and blue.registrations[name].inputs != registration.inputs
    )
    service_urn = green.named("us-east-1-orders-service").urn
    pdb_urn = green.named("us-east-1-orders-pdb").urn
    # The disruption budget follows the selector so it protects the pods that serve.
    assert changed == sorted([service_urn, pdb_urn]), changed


def test_every_strategy_keeps_the_paths_ordering_contract(run_stack):
    for fields in (
        {},
        {"strategy": "canary", "canary": {"image": NEXT, "weight": 50}},
        {
            "strategy": "blue-green",
            "blue_green": {"active": "blue", "blue": {"image": IMAGE}, "green": {"image": NEXT}},
        },
    ):
        raw = with_orders(**fields)
        assert_exact_ordering(run_stack(raw), settings_of(flat(raw), "test"))


def test_flags_become_appconfig_with_alarm_monitors_and_a_gradual_strategy(run_stack):
    raw = with_orders(flags={"new-checkout": {"enabled": True, "rollout_percent": 20}})
    raw["feature_flags"] = {"duration_minutes": 30, "growth_factor": 10, "final_bake_minutes": 5}
    recording = run_stack(raw)
    environment = recording.named("us-east-1-flags-env")
    (monitor,) = environment.inputs["monitors"]
    region_health = recording.named("us-east-1-flags-health")
    assert (
        monitor["alarmArn"]
        == f"arn:aws:cloudwatch:us-east-1:123456789012:{region_health.inputs['alarmName']}"
    )
    assert monitor["alarmRoleArn"].endswith("us-east-1-flags-monitor-role")
    assert region_health.inputs["alarmRule"] == 'ALARM("test-orders-us-east-1-health")'
    strategy = recording.named("us-east-1-flags-strategy").inputs
    assert (strategy["deploymentDurationInMinutes"], strategy["growthFactor"]) == (30, 10)
    assert (strategy["finalBakeTimeInMinutes"], strategy["growthType"]) == (5, "LINEAR")
    profile = recording.named("us-east-1-flags-orders-profile").inputs
    assert profile["type"] == "AWS.AppConfig.FeatureFlags"
    # The provider marks hosted content secret; the value sits inside the secret wrapper.
    content = recording.named("us-east-1-flags-orders-version").inputs["content"]["value"]
    content = json.loads(content)
    assert content["values"] == {"new-checkout": {"enabled": True, "rollout_percent": 20}}
    deployment = recording.named("us-east-1-flags-orders-deployment")
    orders = recording.named("us-east-1-orders-deployment")
    assert orders.urn in deployment.dependencies, "flags flip only after the code is rolled out"
    env = orders.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "APPCONFIG_PROFILE", "value": "orders-flags"} in env


def test_flags_are_a_mounted_config_map_without_monitoring(run_stack):
    raw = with_orders(flags={"new-checkout": {"enabled": False}})
    raw["monitoring"] = {"mode": "none"}
    recording = run_stack(raw)
    assert not recording.of_type("aws:appconfig/application:Application")
    config_map = recording.named("us-east-1-orders-flags").inputs
    assert json.loads(config_map["data"]["flags.json"]) == {
        "new-checkout": {"enabled": False, "rollout_percent": 100}
    }
    pod = recording.named("us-east-1-orders-deployment").inputs["spec"]["template"]["spec"]
    assert {"name": "flags", "configMap": {"name": "orders-flags"}} in pod["volumes"]


def test_an_idle_colour_can_be_scaled_to_zero(run_stack):
    colours = {"blue": {"image": IMAGE, "replicas": 0}, "green": {"image": NEXT}}
    recording = run_stack(
        with_orders(strategy="blue-green", blue_green={"active": "green", **colours})
    )
    found = deployments(recording)
    assert found["us-east-1-orders-blue-deployment"]["spec"]["replicas"] == 0
    assert found["us-east-1-orders-green-deployment"]["spec"]["replicas"] == 4


def test_flag_deployments_of_one_region_take_turns(run_stack):
    # AppConfig refuses a second deployment to an environment while one is in progress.
    raw = with_orders(flags={"new-checkout": {"enabled": True}})
    raw["services"][0]["flags"] = {"sso": {"enabled": False}}
    recording = run_stack(raw)
    auth = recording.named("us-east-1-flags-auth-deployment")
    orders = recording.named("us-east-1-flags-orders-deployment")
    assert auth.urn in orders.dependencies or orders.urn in auth.dependencies
