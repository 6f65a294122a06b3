"""The health gate against a real CloudWatch API: a moto server on loopback."""

from __future__ import annotations

import boto3
import pytest

from components.health_gate import _GateProvider
from deploypaths import health
from tests.support.moto_server import moto_endpoint, path_alarm

REGION = "eu-west-1"


@pytest.fixture
def cloudwatch(monkeypatch):
    with moto_endpoint(monkeypatch):
        yield boto3.client("cloudwatch", region_name=REGION)


def gate_props(release: str = "r1") -> dict:
    return {
        "wave": 1,
        "release": release,
        "alarms": {REGION: ["prod-orders-eu-west-1-health", "prod-auth-eu-west-1-health"]},
        "bake_seconds": 0.3,
        "poll_seconds": 0.1,
        "monitoring": "cloudwatch",
        "restart_threshold": 3,
        "rollout_timeout_seconds": 60,
    }


def test_gate_passes_when_every_alarm_stays_ok(cloudwatch):
    path_alarm(cloudwatch, "prod-orders-eu-west-1-health", "OK")
    path_alarm(cloudwatch, "prod-auth-eu-west-1-health", "OK")
    result = _GateProvider().create(gate_props())
    assert result.id == "gate-wave-1"
    polls = health.watch(gate_props()["alarms"], bake_seconds=0.3, poll_seconds=0.1)
    assert polls >= 3, f"the gate must keep watching for the whole bake time, polled {polls}x"


def test_gate_fails_and_names_the_alarm_in_alarm(cloudwatch):
    path_alarm(cloudwatch, "prod-orders-eu-west-1-health", "ALARM")
    path_alarm(cloudwatch, "prod-auth-eu-west-1-health", "OK")
    with pytest.raises(Exception, match="prod-orders-eu-west-1-health is in ALARM") as failure:
        _GateProvider().create(gate_props())
    assert "health gate after wave 1" in str(failure.value)
    assert "prod-auth" not in str(failure.value)


def test_gate_fails_when_an_alarm_goes_to_alarm_during_the_bake(cloudwatch):
    path_alarm(cloudwatch, "prod-orders-eu-west-1-health", "OK")
    path_alarm(cloudwatch, "prod-auth-eu-west-1-health", "OK")
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            cloudwatch.set_alarm_state(
                AlarmName="prod-auth-eu-west-1-health", StateValue="ALARM", StateReason="restarts"
            )

    with pytest.raises(health.GateFailed, match="prod-auth-eu-west-1-health is in ALARM"):
        health.watch(gate_props()["alarms"], bake_seconds=60, poll_seconds=0.01, sleep=sleep)
    assert len(polls) == 2


def test_gate_fails_when_a_watched_alarm_does_not_exist(cloudwatch):
    path_alarm(cloudwatch, "prod-orders-eu-west-1-health", "OK")
    with pytest.raises(Exception, match="prod-auth-eu-west-1-health does not exist"):
        _GateProvider().create(gate_props())


def test_unchanged_release_skips_the_watch(cloudwatch):
    path_alarm(cloudwatch, "prod-orders-eu-west-1-health", "ALARM")
    path_alarm(cloudwatch, "prod-auth-eu-west-1-health", "ALARM")
    provider = _GateProvider()
    olds, news = gate_props("r1"), gate_props("r1")
    assert not provider.diff("gate-wave-1", olds, news).changes
    # Even asked to update, an unchanged release is not watched, so the alarms cannot fail it.
    assert provider.update("gate-wave-1", olds, news).outs == news


def test_changed_release_is_watched(cloudwatch):
    path_alarm(cloudwatch, "prod-orders-eu-west-1-health", "ALARM")
    path_alarm(cloudwatch, "prod-auth-eu-west-1-health", "OK")
    provider = _GateProvider()
    olds, news = gate_props("r1"), gate_props("r2")
    assert provider.diff("gate-wave-1", olds, news).changes
    with pytest.raises(Exception, match="is in ALARM"):
        provider.update("gate-wave-1", olds, news)
