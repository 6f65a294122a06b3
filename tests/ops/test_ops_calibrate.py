"""`python -m ops calibrate`: a latency file from a stack's recorded updates, for `ops plan`.

In the recorded updates (fixtures/events-local-N.jsonl) every Deployment took 6 s except
orders@eu-west-1's in update 2 (9 s), every Job 4 s, every Namespace 1 s; update 3's failed
Deployment and the gates (their time is the bake) do not count.
"""

from __future__ import annotations

import json

import pytest

from ops import events
from ops.__main__ import main
from ops.calibrate import durations, quantile
from ops.plan import load_latency

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def test_quantiles_interpolate_between_ranks():
    assert quantile([3.0], 0.9) == 3.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([6, 6, 6, 6, 6, 9], 0.9) == pytest.approx(7.5)


def test_calibrate_writes_median_and_p90_per_resource_type(recorded_local, capsys, tmp_path):
    out = tmp_path / "latency.json"
    assert main(["calibrate", "--stack", "local", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document[DEPLOYMENT] == {
        "median": pytest.approx(0.1),
        "p90": pytest.approx(7.5 / 60, abs=1e-4),
        "samples": 6,
    }
    assert document["kubernetes:batch/v1:Job"]["median"] == pytest.approx(4 / 60, abs=1e-4)
    assert document["kubernetes:core/v1:Namespace"]["samples"] == 2
    assert "pulumi-python:dynamic:Resource" in document  # the barriers, not the gates
    assert document["pulumi-python:dynamic:Resource"]["median"] == 0
    printed = capsys.readouterr().out
    assert "from 3 recorded update(s) (1, 2, 3)" in printed and str(out) in printed
    # `ops plan --latency` reads it: the median by default, the p90 on request.
    assert load_latency(str(out))[DEPLOYMENT] == pytest.approx(0.1)
    assert load_latency(str(out), "p90")[DEPLOYMENT] == pytest.approx(0.125, abs=1e-4)


def test_a_stack_with_no_recorded_updates_is_one_line_and_exit_2(file_backend, capsys):
    assert main(["calibrate", "--stack", "local"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: stack local has no recorded updates")


def test_a_corrupt_event_file_is_one_line_and_exit_2(recorded_local, capsys, tmp_path):
    (recorded_local / "2.jsonl").write_text("not json\n")
    code = main(["calibrate", "--stack", "local", "--out", str(tmp_path / "l.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err == f"error: corrupt event file {recorded_local / '2.jsonl'}: line 1 is not JSON "
        "(Expecting value)\n"
    )
    assert not (tmp_path / "l.json").exists()


def test_updates_that_changed_nothing_are_nothing_to_calibrate_from(
    recorded_local, capsys, tmp_path
):
    only_same = [
        json.loads(line)
        for line in (recorded_local / "2.jsonl").read_text().splitlines()
        if '"op": "update"' not in line
    ]
    for name in ("1.jsonl", "2.jsonl", "3.jsonl"):
        (recorded_local / name).unlink()
    (recorded_local / "1.jsonl").write_text("".join(json.dumps(e) + "\n" for e in only_same))
    assert main(["calibrate", "--stack", "local", "--out", str(tmp_path / "l.json")]) == 2
    assert "nothing to calibrate from" in capsys.readouterr().err


def deployment_events(op: str, replicas: int, seconds: float) -> list[dict]:
    """One Deployment's step, as the engine logs it: pre-event (with its inputs), outputs."""
    urn = "urn:pulumi:s::p::deploypaths:index:ServicePath$kubernetes:apps/v1:Deployment::web"
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    state = {"custom": True, "inputs": {"spec": {"replicas": replicas, "strategy": strategy}}}
    metadata = {"op": op, "urn": urn, "type": DEPLOYMENT, "new": state}
    return [
        {"timestamp": 100, "resourcePreEvent": {"metadata": metadata}},
        {"timestamp": 100 + seconds, "resOutputsEvent": {"metadata": metadata}},
    ]


def test_a_rolling_update_is_learnt_per_surge_batch_and_apart_from_creates():
    updates = [
        events.parse_update(deployment_events("create", 3, 12)),
        # 3 replicas, one surge pod at a time: 3 rounds of 13 s.
        events.parse_update(deployment_events("update", 3, 39)),
    ]
    samples = durations(updates)
    assert samples[f"{DEPLOYMENT} create"] == [pytest.approx(12 / 60)]
    assert samples[f"{DEPLOYMENT} update"] == [pytest.approx(13 / 60)]
    assert sorted(samples[DEPLOYMENT]) == [pytest.approx(12 / 60), pytest.approx(13 / 60)]
