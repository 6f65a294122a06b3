"""`ops timeline` finds the recorded updates of a backend the user logged in to with a plain
`pulumi login file://...` (no PULUMI_BACKEND_URL), as a user does outside `make`."""

from __future__ import annotations

import os
import subprocess

from ops import automation, events


def test_the_logged_in_backend_is_where_the_events_are(tmp_path, monkeypatch):
    state = tmp_path / "state"
    state.mkdir()
    # A fresh user: their own (empty) home and Pulumi home, so the login does not touch the
    # engine's; no backend but the one they log in to.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    for variable in ("PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    # Not logged in yet: the CLI says so (an error the lookup expects), and no backend is known.
    assert events.logged_in_url() is None
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
