"""`ops dashboard`'s app in-process (starlette's TestClient): the page, the server-sent events
of a recorded update and of a running one whose events file grows while the page reads it, the
paths each update changed, and the command's refusals (one line, exit 2)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.__main__ import main
from ops.live import dashboard
from ops.live.dashboard import Source, create_app
from ops.plan import load_latency
from tests.support.ops_fixtures import FIXTURES

with warnings.catch_warnings():
    # starlette 1.x points its TestClient users at httpx2; the requirements pin httpx.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

STACK = "local"


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A stack's events folder with updates 2 (succeeded) and 3 (auth failed)."""
    for number in (2, 3):
        shutil.copy(FIXTURES / f"events-local-{number}.jsonl", tmp_path / f"{number}.jsonl")
    return tmp_path


def client_of(directory: Path, **kwargs: Any) -> TestClient:
    source = Source(STACK, directory, model=load_latency(None), **kwargs)
    return TestClient(create_app(source))


def messages(response: Any, until: str = "ended") -> Iterator[tuple[str, dict[str, Any]]]:
    """The stream's (event, data) pairs, up to and with the first `until`."""
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            yield name, json.loads(line.removeprefix("data: "))
            if name in (until, "error"):
                return


def by_id(paths: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in paths}


def test_the_page_is_served_with_its_stack_and_its_stream(recorded):
    with client_of(recorded) as client:
        page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>deploypaths · local</title>" in page.text
    assert "new EventSource(chosen ? `/stream?update=" in page.text


def test_a_recorded_update_shows_its_bars_its_failure_and_what_it_changed(recorded):
    with client_of(recorded) as client, client.stream("GET", "/stream?update=3") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        received = dict(messages(response))
    update = received["update"]
    assert update["update"] == "3" and update["status"] == "failed" and not update["live"]
    rows = [row["id"] for row in update["rows"]]
    # Wave 1's paths, then the gate between the waves, then wave 2's.
    gate = rows.index("gate-after-wave-1")
    assert {"us-east-1", "auth@us-east-1", "orders@us-east-1"} <= set(rows[:gate]), rows
    assert {"eu-west-1", "auth@eu-west-1", "orders@eu-west-1"} <= set(rows[gate + 1 :]), rows
    auth = next(row for row in update["rows"] if row["id"] == "auth@us-east-1")
    assert 0 <= auth["lead_in"] <= auth["start"] < auth["finish"], auth
    paths = by_id(update["paths"])
    assert paths["auth@us-east-1"]["state"] == "failed"
    assert "timed out waiting to be Ready" in paths["auth@us-east-1"]["message"]
    assert paths["orders@us-east-1"]["text"] == "held: waits for auth@us-east-1"
    # What `ops history` says update 3 changed, from the recorded configurations here.
    changes = received["changes"]
    assert changes["paths"] == [
        "auth@eu-west-1",
        "auth@us-east-1",
        "orders@eu-west-1",
        "orders@us-east-1",
    ]
    assert "auth@us-east-1, auth@eu-west-1: image auth:3.2.0 -> auth:3.3.0" in changes["lines"]
    assert received["ended"]["status"] == "failed"


def test_what_an_update_changed_comes_from_the_backends_history_when_it_has_it(recorded):
    config = dashboard.prelude_config(recorded / "3.jsonl")
    previous = dashboard.prelude_config(recorded / "2.jsonl")
    assert config and previous
    history = [
        dashboard._summary(2, previous, 1767261000),
        dashboard._summary(3, {**config, "deploypaths:bake_minutes": "0.5"}, 1767261600),
    ]
    client = client_of(recorded, summaries=lambda: history)
    with client, client.stream("GET", "/stream?update=3") as response:
        changes = dict(messages(response))["changes"]
    assert changes["source"] == "history"
    assert "settings changed: bake_minutes" in changes["lines"], changes


def test_a_running_update_reaches_the_page_as_its_events_file_grows(tmp_path, recorded):
    """The follower reads the running update's `.partial` file as `ops up` writes it: a path's
    change is sent before the rest of the update is written, and the end when it comes."""
    lines = (FIXTURES / "events-drills-created.jsonl").read_text().splitlines(keepends=True)
    events = [json.loads(line) for line in lines]
    cut = next(
        i
        for i, e in enumerate(events)
        if e.get("resourcePreEvent", {}).get("metadata", {}).get("type")
        == "kubernetes:apps/v1:Deployment"
        and "auth-us-east-1" in e["resourcePreEvent"]["metadata"]["urn"]
    )
    # This process stands for the `ops up` writing it: it runs.
    partial = recorded / f"4.{os.getpid()}.jsonl.partial"
    partial.write_text("".join(lines[: cut + 1]))
    with client_of(recorded) as client, client.stream("GET", "/stream") as response:
        assert [u["key"] for u in client.get("/api/updates").json()["updates"]][0] == partial.name
        received = messages(response)
        name, update = next(received)
        assert name == "update" and update["live"] and update["status"] == "running"
        assert update["number"] == 4
        assert by_id(update["paths"])["auth@us-east-1"]["state"] == "rolling out"
        # The rest, written while the page follows, half of it without its last line's end.
        with partial.open("a") as sink:
            sink.write("".join(lines[cut + 1 :])[:-10])
            sink.flush()
            seen: dict[str, list[str]] = {}
            for name, data in received:
                if name == "paths":
                    for path in data["paths"]:
                        states = seen.setdefault(path["id"], [])
                        if not states or states[-1] != path["state"]:
                            states.append(path["state"])
                if seen.get("orders@eu-west-1", [""])[-1] == "done":
                    break
            assert seen["auth@us-east-1"] == ["done"], seen
            done = next(p for p in data["paths"] if p["id"] == "orders@eu-west-1")
            assert done["event"]["sequence"] > events[cut]["sequence"]
            sink.write("".join(lines[cut + 1 :])[-10:])
        rest = dict(received)
    assert rest["ended"]["status"] == "succeeded", rest
    assert rest["ended"]["update"] == partial.name


def test_with_no_update_running_the_page_shows_the_newest_recorded(recorded):
    with client_of(recorded) as client, client.stream("GET", "/stream") as response:
        name, update = next(messages(response))
    assert name == "update" and update["update"] == "3" and update["status"] == "failed"


def test_an_update_that_does_not_exist_is_a_404_with_the_reason(recorded):
    with client_of(recorded) as client:
        page = client.get("/?update=9")
        stream = client.get("/stream?update=9")
    for response in (page, stream):
        assert response.status_code == 404
        assert "stack local has no recorded update 9 (recorded: 2-3)" in response.text


def refusal(capsys, *args: str) -> str:
    assert main(["dashboard", "--stack", STACK, *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_the_command_refuses_a_port_in_use(capsys, recorded):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = refusal(capsys, "--events", str(recorded), "--port", str(port))
    assert err == (
        f"error: port {port} on 127.0.0.1 is in use: pick another with --port N (0: any free one)\n"
    )


def test_the_command_refuses_an_update_that_does_not_exist(capsys, recorded):
    err = refusal(capsys, "--events", str(recorded), "--update", "9")
    assert err == "error: stack local has no recorded update 9 (recorded: 2-3)\n"


def test_the_command_refuses_a_stack_with_no_recorded_updates(capsys, tmp_path):
    err = refusal(capsys, "--events", str(tmp_path))
    assert err.startswith(f"error: stack local has no recorded updates in {tmp_path}: run ")


def test_the_command_refuses_a_port_out_of_range(capsys, recorded):
    err = refusal(capsys, "--events", str(recorded), "--port", "70000")
    assert err == "error: --port 70000: a port is 0 to 65535\n"
