"""The in-process runner: the program may tune the process it owns, not the caller's."""

from __future__ import annotations

import gc

import pytest

from deploypaths.mock_run import run_program
from tests.support.config import flat

ONE_REGION = {
    "regions": [{"name": "us-east-1"}],
    "services": [{"name": "web", "image": "registry.example.com/web:1.0.0"}],
}


@pytest.mark.parametrize("enabled", [True, False])
def test_the_callers_garbage_collector_is_left_as_it_was(enabled):
    was_enabled = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        recording = run_program(flat(ONE_REGION), stack="test")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was_enabled else gc.disable)()
    assert recording.of_type("kubernetes:apps/v1:Deployment")


def test_answers_carry_the_inputs_and_what_the_cloud_assigns():
    recording = run_program(flat(ONE_REGION), stack="test")
    deployment = recording.of_type("kubernetes:apps/v1:Deployment")[0]
    assert deployment.outputs["spec"] == deployment.inputs["spec"]
    topic = recording.of_type("aws:sns/topic:Topic")[0]
    assert topic.outputs["arn"].startswith("arn:aws:sns:us-east-1:")
