"""`python -m ops local`: bad input gets one line that says what to do, and nothing starts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deploypaths.mock_run import PROJECT_DIR

STACK_FILE = "config:\n  deploypaths:regions:\n    - name: us-east-1\n    - name: eu-west-1\n"


def ops_local(project: Path, *args: str, engine_home: Path | None = None):
    env = {**os.environ, "DEPLOYPATHS_PROJECT_DIR": str(project)}
    if engine_home is not None:
        env["DEPLOYPATHS_ENGINE_HOME"] = str(engine_home)
    return subprocess.run(
        [sys.executable, "-m", "ops", "local", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.demo.yaml").write_text(STACK_FILE)
    return tmp_path


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_binaries_say_how_to_build_them(project, tmp_path):
    result = ops_local(project, "up", "--stack", "demo", engine_home=tmp_path / "empty")
    line = one_line_error(result)
    assert "missing" in line and "kube-apiserver" in line and "make setup" in line, line
    assert not (project / ".clusters" / "kwok" / "clusters").exists()


def test_a_port_in_use_is_refused(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ops_local(project, "up", "--stack", "demo", "--port", str(port))
    line = one_line_error(result)
    assert f"port {port}" in line and "in use" in line, line


def test_a_stale_cluster_folder_says_to_run_down(project):
    (project / ".clusters" / "kwok" / "clusters" / "demo-us-east-1").mkdir(parents=True)
    line = one_line_error(ops_local(project, "up", "--stack", "demo"))
    assert "stale cluster folder" in line and "ops local delete --stack demo" in line, line


def test_a_stack_without_a_file_is_named(project):
    line = one_line_error(ops_local(project, "status", "--stack", "nowhere"))
    assert "Pulumi.nowhere.yaml" in line, line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- config\n", "a stack file is a mapping with a `config:` mapping"),
        ("config: [1]\n", "a stack file is a mapping with a `config:` mapping"),
        ("config:\n  deploypaths:regions: 7\n", "names no regions (deploypaths:regions)"),
    ],
)
def test_a_stack_file_of_another_shape_is_one_line(project, text, expected):
    (project / "Pulumi.odd.yaml").write_text(text)
    line = one_line_error(ops_local(project, "status", "--stack", "odd"))
    assert expected in line and "Pulumi.odd.yaml" in line, line


def test_status_of_a_stack_with_no_clusters(project):
    result = ops_local(project, "status", "--stack", "demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        f"us-east-1: absent (demo-us-east-1, kubeconfig {project}/.clusters/demo/us-east-1.yaml)",
        f"eu-west-1: absent (demo-eu-west-1, kubeconfig {project}/.clusters/demo/eu-west-1.yaml)",
    ]
