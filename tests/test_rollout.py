"""How long a Deployment's operation waits for its pods, in rounds of pods becoming ready."""

from __future__ import annotations

import pytest

from deploypaths.rollout import DEPLOYMENT_TYPE, rollout_steps


def deployment(replicas: int, **rolling: object) -> dict:
    strategy = {"type": "RollingUpdate", "rollingUpdate": rolling} if rolling else {}
    return {"spec": {"replicas": replicas, "strategy": strategy}}


@pytest.mark.parametrize(
    ("replicas", "rolling", "steps"),
    [
        (1, {"maxSurge": "25%", "maxUnavailable": 0}, 1),
        # 25 % of 3 rounds up to one surge pod: one pod at a time.
        (3, {"maxSurge": "25%", "maxUnavailable": 0}, 3),
        (8, {"maxSurge": "25%", "maxUnavailable": 0}, 4),
        # The controller's defaults (25 % / 25 %): 8 replicas, 2 up and 2 down per round.
        (8, {}, 2),
        (4, {"maxSurge": 2, "maxUnavailable": 1}, 2),
        (5, {"maxSurge": "0%", "maxUnavailable": "0%"}, 5),
    ],
)
def test_a_rolling_update_takes_a_round_per_surge_batch(replicas, rolling, steps):
    assert rollout_steps(DEPLOYMENT_TYPE, deployment(replicas, **rolling), "update") == steps


def test_creates_replacements_recreates_and_other_types_are_one_round():
    eight = deployment(8, maxSurge="25%", maxUnavailable=0)
    assert rollout_steps(DEPLOYMENT_TYPE, eight, "create") == 1
    assert rollout_steps(DEPLOYMENT_TYPE, eight, "replace") == 1
    recreate = {"spec": {"replicas": 8, "strategy": {"type": "Recreate"}}}
    assert rollout_steps(DEPLOYMENT_TYPE, recreate, "update") == 1
    assert rollout_steps("kubernetes:batch/v1:Job", eight, "update") == 1
