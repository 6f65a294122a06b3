"""HealthGate on its own: one GateWatch dynamic resource, behind the wave it watches, whose
inputs are what the gate's provider reads and whose kubeconfigs never show in plain text."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from components.health_gate import (
    HealthGate,
    HealthGateArgs,
    WatchedCluster,
    _GateProvider,
)
from tests.support.component_monitor import build, declared_outputs

WATCH = "pulumi-python:dynamic:Resource"
KUBECONFIG = "apiVersion: v1\nusers: [{name: admin, user: {token: s3cr3t}}]\n"
ALARMS = {"eu-west-1": ["test-orders-eu-west-1-health"]}


def gate(**args):
    def make() -> HealthGate:
        waves = [pulumi.CustomResource("test:index:Barrier", f"{r}-services-ready") for r in "ab"]
        return HealthGate(
            "gate-after-wave-0",
            HealthGateArgs(
                wave=0,
                release="3f9a1c2e",
                alarms=ALARMS,
                bake_minutes=2.5,
                waits_for=waves,
                restart_threshold=5,
                rollout_timeout_seconds=480,
                poll_seconds=20.0,
                **args,
            ),
        )

    return build(make)


@pytest.fixture(scope="module")
def cloudwatch():
    return gate()


@pytest.fixture(scope="module")
def kubernetes():
    clusters = {
        "eu-west-1": WatchedCluster(
            kubeconfig=KUBECONFIG, namespace="app", deployments=["orders", "orders-canary"]
        )
    }
    return gate(monitoring="kubernetes", clusters=clusters)


def test_the_watch_hangs_off_the_gate_and_waits_for_the_whole_wave(cloudwatch):
    _, monitor = cloudwatch
    (registered,) = monitor.of_type("deploypaths:index:HealthGate")
    (watch,) = monitor.children_of(registered.urn)
    assert (watch.type, watch.name) == (WATCH, "gate-after-wave-0-watch"), watch.name
    assert watch.custom, watch.name
    barriers = {r.urn for r in monitor.of_type("test:index:Barrier")}
    assert len(barriers) == 2
    assert set(watch.dependencies) == barriers, watch.name


def test_the_watch_gets_what_the_provider_reads(cloudwatch):
    _, monitor = cloudwatch
    watch = monitor.named("gate-after-wave-0-watch", WATCH)
    inputs = {key: value for key, value in watch.inputs.items() if key != "__provider"}
    assert inputs == {
        "wave": 0,
        "release": "3f9a1c2e",
        "alarms": ALARMS,
        "bake_seconds": 150,
        "poll_seconds": 20,
        "monitoring": "cloudwatch",
        "restart_threshold": 5,
        "rollout_timeout_seconds": 480,
        # The gate's state metric and failure notices (not configured here).
        "gate": "gate-after-wave-0",
        "environment": "",
        "notify": {},
        "clusters": {},
    }, watch.name


def test_the_kubeconfig_goes_to_the_watch_as_a_secret(kubernetes):
    component, monitor = kubernetes
    watch = monitor.named("gate-after-wave-0-watch", WATCH)
    assert watch.inputs["monitoring"] == "kubernetes", watch.name
    assert watch.inputs["clusters"] == secret(
        {
            "eu-west-1": {
                "kubeconfig": KUBECONFIG,
                "namespace": "app",
                "deployments": ["orders", "orders-canary"],
            }
        }
    ), watch.name
    assert _sync_await(component.watch.clusters.is_secret()), watch.name


def test_the_kubeconfig_is_not_kept_in_the_watchs_state():
    news = {
        "wave": 0,
        "release": "3f9a1c2e",
        "monitoring": "kubernetes",
        "clusters": {"eu-west-1": {"kubeconfig": KUBECONFIG}},
    }
    # The same release: the provider does not watch again, and records what it would keep.
    outs = _GateProvider().update("gate-wave-0", {**news, "clusters": {}}, news).outs
    assert outs == {"wave": 0, "release": "3f9a1c2e", "monitoring": "kubernetes"}


def test_registers_exactly_what_it_exposes_and_no_kubeconfig(kubernetes):
    _, monitor = kubernetes
    (registered,) = monitor.of_type("deploypaths:index:HealthGate")
    outputs = monitor.outputs[registered.urn]
    assert set(outputs) == declared_outputs(HealthGate), registered.name
    watch = monitor.named("gate-after-wave-0-watch", WATCH)
    assert outputs["watch"] == watch.urn, registered.name
    assert KUBECONFIG not in repr(outputs), registered.name


def secret(value):
    """A value as the engine receives it when the program marked it secret."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}
