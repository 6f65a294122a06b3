"""`ops timeline` finds the recorded updates of a backend the user logged in to with a plain
`pulumi login file://...` (no PULUMI_BACKEND_URL), as a user does outside `make`."""

from __future__ import annotations

import os
import subprocess

from ops import automation, events


def test_the_logged_in_backend_is_where_the_events_are(tmp_path, monkeypatch):
    state = tmp_path / "state"
    state.mkdir()
    # The user's own Pulumi home, so the login does not touch the engine's.
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    _, env = automation.engine_env(os.environ)
    login = subprocess.run(
        ["pulumi", "login", f"file://{state}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert login.returncode == 0, login.stderr
    assert events.logged_in_url() == f"file://{state}"
    assert events.events_dir("local", events.logged_in_url()) == state / "events" / "local"
