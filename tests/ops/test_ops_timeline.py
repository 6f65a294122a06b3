"""`python -m ops timeline`: a recorded update, per path, beside the plan's prediction.

The recorded updates (fixtures/events-local-N.jsonl) are a two-region, two-wave stack: update 1
creates everything, update 2 changes the orders image (orders' Deployments and the gate work,
everything else is `same`), update 3 changes the auth image and auth@us-east-1 never becomes
ready: the update fails and nothing that waits for it starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.__main__ import main
from tests.support.ops_fixtures import FIXTURES

WAVE_1_CHAIN = [
    "us-east-1",
    "auth@us-east-1",
    "orders@us-east-1",
    "services-ready@us-east-1",
    "gate-after-wave-1",
    "eu-west-1",
]


@pytest.fixture(autouse=True)
def calibrated(tmp_path, monkeypatch) -> Path:
    """Where `ops calibrate` would have written the stack's latency file: a folder of the test,
    so a file a developer calibrated in the checkout does not change the predictions."""
    folder = tmp_path / "calibrated"
    monkeypatch.setattr(
        "ops.plan.calibrated_file", lambda stack, project_dir: folder / f"latency-{stack}.json"
    )
    return folder


def timeline_json(capsys, tmp_path, *args: str) -> dict:
    picture = tmp_path / "timeline.svg"
    code = main(["timeline", "--stack", "local", "--json", "--picture", str(picture), *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def paths_of(document: dict) -> dict[str, dict]:
    return {path["id"]: path for path in document["paths"]}


def test_the_newest_update_is_shown_by_default(recorded_local, capsys, tmp_path):
    document = timeline_json(capsys, tmp_path)
    assert document["update"] == 3 and document["result"] == "failed"
    assert document["events_file"] == str(recorded_local / "3.jsonl")


def test_actual_releases_come_from_the_engines_timestamps(recorded_local, capsys, tmp_path):
    document = timeline_json(capsys, tmp_path, "--update", "1")
    paths = paths_of(document)
    auth, orders = paths["auth@us-east-1"]["actual"], paths["orders@us-east-1"]["actual"]
    migration = paths["orders-add-status@us-east-1"]["actual"]
    # auth's Deployment: pre-event at 10:00:01, outputs at 10:00:07 (minutes from 10:00:00).
    assert (auth["start_minutes"], auth["finish_minutes"]) == (
        pytest.approx(1 / 60, abs=1e-3),
        pytest.approx(7 / 60, abs=1e-3),
    )
    assert auth["lead_in_minutes"] <= auth["start_minutes"]
    assert orders["start_minutes"] >= auth["finish_minutes"]
    assert orders["start_minutes"] >= migration["finish_minutes"]
    assert document["actual_minutes"] == pytest.approx(33 / 60, abs=1e-3)
    assert document["actual_critical_path"] == [
        *WAVE_1_CHAIN,
        "auth@eu-west-1",
        "orders@eu-west-1",
    ]
    assert document["prediction_config"] == "recorded with the update"
    for path in document["paths"]:
        assert path["predicted"] is not None and path["actual"] is not None, path["id"]
        error = path["actual"]["finish_minutes"] - path["predicted"]["finish_minutes"]
        assert path["finish_error_minutes"] == pytest.approx(error, abs=1e-2), path["id"]


def test_an_update_that_recorded_release_files_is_planned_with_them(
    recorded_local, capsys, tmp_path
):
    # Update 2 as `ops release` runs it: the orders image in its release file, recorded as
    # `deploypaths:releases`, and the stack file's image still update 1's.
    path = recorded_local / "2.jsonl"
    lines = path.read_text().splitlines()
    prelude = json.loads(lines[0])
    config = prelude["preludeEvent"]["config"]
    services = json.loads(config["deploypaths:services"])
    released = next(entry for entry in services if entry["name"] == "orders")
    config["deploypaths:releases"] = json.dumps({"orders": {"image": released["image"]}})
    released["image"] = "registry.example.com/shop/orders:7.4.0"
    config["deploypaths:services"] = json.dumps(services)
    path.write_text("\n".join([json.dumps(prelude), *lines[1:]]) + "\n")
    document = timeline_json(capsys, tmp_path, "--update", "2")
    assert document["prediction_config"] == "recorded with the update"
    assert paths_of(document)["orders@eu-west-1"]["predicted"]["finish_minutes"] > 0


def test_the_prediction_is_for_the_same_update_unchanged_resources_take_no_time(
    recorded_local, capsys, tmp_path
):
    document = timeline_json(capsys, tmp_path, "--update", "2")
    paths = paths_of(document)
    auth = paths["auth@us-east-1"]["predicted"]
    assert auth["finish_minutes"] == auth["start_minutes"], "auth did not change in update 2"
    orders = paths["orders@eu-west-1"]["predicted"]
    # The local stack's latency file (Pulumi.local.yaml names local/latency.json): 0.23 minutes
    # per Deployment step; a rolling update of orders' 2 replicas, one surge pod at a time, is 2.
    assert document["latency"] == "local/latency.json (deploypaths:latency)"
    assert orders["finish_minutes"] - orders["start_minutes"] == pytest.approx(2 * 0.23)
    assert document["predicted_critical_path"][0] == "us-east-1"
    assert "orders@eu-west-1" in document["actual_critical_path"]


def test_a_failed_update_shows_what_never_ran(recorded_local, capsys, tmp_path):
    document = timeline_json(capsys, tmp_path, "--update", "3")
    paths = paths_of(document)
    assert paths["auth@us-east-1"]["failed"] is True
    for never in ("orders@us-east-1", "gate-after-wave-1", "eu-west-1", "orders@eu-west-1"):
        assert paths[never]["actual"] is None, never
        assert paths[never]["predicted"] is not None, never
    assert document["actual_critical_path"] == ["us-east-1", "auth@us-east-1"]


def test_text_and_picture_show_prediction_actual_and_error(recorded_local, capsys, tmp_path):
    picture = tmp_path / "t.svg"
    code = main(["timeline", "--stack", "local", "--update", "1", "--picture", str(picture)])
    out = capsys.readouterr().out
    assert code == 0
    assert "deploypaths timeline: stack local, update 1 (succeeded)" in out
    assert "Actual critical path (0.55 min, marked *):" in out
    assert "Predicted critical path (" in out and "Prediction error: the update took 0.55" in out
    assert "service orders@us-east-1" in out
    svg = picture.read_text()
    assert svg.startswith("<svg") and "orders@us-east-1 predicted:" in svg
    assert 'stroke-dasharray="3 2"' in svg and "orders@us-east-1: " in svg


def test_calibrated_latency_makes_the_prediction_match(recorded_local, capsys, tmp_path):
    latency = tmp_path / "latency.json"
    assert main(["calibrate", "--stack", "local", "--out", str(latency)]) == 0
    capsys.readouterr()
    document = timeline_json(capsys, tmp_path, "--update", "1", "--latency", str(latency))
    assert abs(document["critical_path_error_percent"]) <= 15
    assert document["paths_within_tolerance"] == document["paths_compared"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--update", "9"], "error: stack local has no recorded update 9 (recorded: 1-3)"),
        (["--update", "0"], "error: --update is an update number from 1, not 0"),
        (["--parallel", "0"], "error: --parallel 0: allowed 1 or more"),
    ],
)
def test_an_update_that_does_not_exist_is_one_line_and_exit_2(
    recorded_local, capsys, tmp_path, args, message
):
    code = main(["timeline", "--stack", "local", *args, "--picture", str(tmp_path / "x.svg")])
    assert code == 2
    assert capsys.readouterr().err.strip() == message


def test_a_stack_with_no_recorded_updates_is_one_line_and_exit_2(file_backend, capsys):
    assert main(["timeline", "--stack", "local"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: stack local has no recorded updates in ")
    assert "python -m ops up --stack local" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "3 is not JSON"),  # the fixture: a line cut off mid-write
        ('{"sequence": 0}\n', "line 1 is not an engine event"),
        ("", "it holds no events"),
        (
            '{"sequence": 0, "timestamp": 1, "resourcePreEvent": {"metadata": {"op": "same"}}}\n',
            "a resource event lacks 'urn'",
        ),
    ],
)
def test_a_corrupt_event_file_is_one_line_and_exit_2(
    recorded_local, capsys, tmp_path, content, expected
):
    corrupt = recorded_local / "4.jsonl"
    if content is None:
        content = (FIXTURES / "events-corrupt.jsonl").read_text()
    corrupt.write_text(content)
    code = main(["timeline", "--stack", "local", "--picture", str(tmp_path / "x.svg")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: ") and expected in err and str(corrupt) in err


def test_a_killed_updates_kept_recording_is_drawn_by_its_name(recorded_local, capsys, tmp_path):
    (recorded_local / "3.jsonl").rename(recorded_local / "3-interrupted-4242.jsonl")
    picture = tmp_path / "t.svg"
    args = ["--update", "3-interrupted-4242", "--json", "--picture", str(picture)]
    assert main(["timeline", "--stack", "local", *args]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["update"] == 3
    assert document["events_file"] == str(recorded_local / "3-interrupted-4242.jsonl")
    assert main(["timeline", "--stack", "local", "--update", "3-interrupted-1"]) == 2
    assert "cut-short updates kept: 3-interrupted-4242" in capsys.readouterr().err


def test_a_calibrated_latency_file_comes_before_the_one_the_stack_names(
    recorded_local, capsys, tmp_path, calibrated
):
    calibrated.mkdir()
    deployment = "kubernetes:apps/v1:Deployment"
    (calibrated / "latency-local.json").write_text(json.dumps({deployment: {"median": 1.0}}))
    document = timeline_json(capsys, tmp_path, "--update", "2")
    assert document["latency"].endswith("latency-local.json (calibrated: ops calibrate)")
    orders = paths_of(document)["orders@eu-west-1"]["predicted"]
    assert orders["finish_minutes"] - orders["start_minutes"] == pytest.approx(2 * 1.0)
    # --latency still wins over both.
    given = tmp_path / "given.json"
    given.write_text(json.dumps({deployment: 0.5}))
    document = timeline_json(capsys, tmp_path, "--update", "2", "--latency", str(given))
    assert document["latency"] == f"{given} (--latency)"
    assert document["latency_model_minutes"][deployment] == 0.5
