"""A file the operator names for a command's output that cannot be written (a folder, or a file
where a folder must be) is one line and exit 2, never a traceback; a preview says so before it
runs the previews."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.__main__ import main
from tests.support.ops_fixtures import FIXTURES


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "taken.json"
    path.write_text("{}")
    return path


def commands(folder: Path, file: Path) -> dict[str, list[str]]:
    return {
        "plan": ["plan", "--stack", "prod", "--picture", str(folder)],
        "timeline": ["timeline", "--stack", "local", "--picture", str(folder)],
        "calibrate": ["calibrate", "--stack", "local", "--out", str(folder)],
        "pipelines": ["pipelines", "--env", "prod", "--ci", "github", "--out", str(file)],
        "preview": [
            "preview",
            "--stack",
            "prod",
            "--from-json",
            str(FIXTURES / "preview-prod.json"),
            "--markdown",
            str(folder),
        ],
    }


@pytest.mark.parametrize("command", ["plan", "timeline", "calibrate", "pipelines", "preview"])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(
    command, recorded_local, tmp_path, a_file, capsys
):
    argv = commands(tmp_path, a_file)[command]

    assert main(argv) == 2

    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_a_preview_report_that_cannot_be_written_is_said_before_any_preview(
    tmp_path, monkeypatch, capsys
):
    ran = []
    monkeypatch.setattr(
        "ops.preview.command.preview_stack", lambda stack, policies: ran.append(stack)
    )

    assert main(["preview", "--stack", "prod", "--markdown", str(tmp_path)]) == 2

    assert capsys.readouterr().err.startswith(f"error: cannot write {tmp_path}")
    assert ran == []
