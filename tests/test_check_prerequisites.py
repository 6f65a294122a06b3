"""`make` checks Go and Python before it runs anything, and stops with one line when one is missing
or too old (scripts/check-prerequisites): the line the README shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "check-prerequisites"
# What make, the Makefile's shell and the script call, besides go and python3.
TOOLS = ("bash", "make", "sed", "env", "sh")


def project_copy(root: Path) -> Path:
    """The Makefile, its scripts and the files its rules name, outside the repository."""
    copy = root / "project"
    copy.mkdir()
    shutil.copy2(REPO / "Makefile", copy / "Makefile")
    shutil.copytree(REPO / "scripts", copy / "scripts")
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-checkov.txt"):
        shutil.copy2(REPO / name, copy / name)
    return copy


def bin_folder(root: Path, *, go: str | None = None, python: str | None = None) -> Path:
    """A PATH of one folder: the tools make needs, python3 (this interpreter unless `python` is a
    fake's version), and go only when `go` is the version a fake reports."""
    folder = root / "bin"
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is not installed"
        (folder / tool).symlink_to(found)
    if python is None:
        (folder / "python3").symlink_to(sys.executable)
    else:
        fake(folder / "python3", f"echo {python}")
    if go is not None:
        fake(folder / "go", f"echo go{go}")
    return folder


def fake(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def make(copy: Path, folder: Path, *goals: str) -> subprocess.CompletedProcess[str]:
    # Not the `make test` this may run under: its MAKEFLAGS would make the child print its
    # directories.
    inherited = ("PYTHON", "GO", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    environment = {key: value for key, value in os.environ.items() if key not in inherited}
    environment["PATH"] = str(folder)
    return subprocess.run(
        ["make", "-n", *goals],
        cwd=copy,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def readme_line() -> str:
    """The line the README says a missing Go gives."""
    shown = [
        line for line in (REPO / "README.md").read_text().splitlines() if "*** make needs" in line
    ]
    assert len(shown) == 1, "the README shows the line a missing Go gives, once"
    return shown[0]


def without_line_number(line: str) -> str:
    return re.sub(r"^Makefile:\d+:", "Makefile:N:", line)


def test_make_without_go_says_so_in_one_line(tmp_path: Path) -> None:
    done = make(project_copy(tmp_path), bin_folder(tmp_path))
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"Makefile:\d+: \*\*\* make needs Go >= 1\.26 \(found none\): install it from "
        r"https://go\.dev/dl/ and put its bin/ on PATH\.  Stop\.",
        lines[0],
    ), lines[0]
    assert without_line_number(lines[0]) == without_line_number(readme_line())


@pytest.mark.parametrize("goal", ["test", "drills", "setup", "up"])
def test_every_goal_that_builds_the_engine_checks_go(tmp_path: Path, goal: str) -> None:
    done = make(project_copy(tmp_path), bin_folder(tmp_path), goal)
    assert done.returncode != 0
    assert "make needs Go >= 1.26 (found none)" in done.stderr


def test_too_old_a_go(tmp_path: Path) -> None:
    done = make(project_copy(tmp_path), bin_folder(tmp_path, go="1.22.5"))
    assert done.returncode != 0
    assert "make needs Go >= 1.26 (found 1.22.5): install it from https://go.dev/dl/" in (
        done.stderr
    )


def test_too_old_a_python(tmp_path: Path) -> None:
    done = make(project_copy(tmp_path), bin_folder(tmp_path, go="1.26.8", python="3.9.18"))
    lines = done.stderr.splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert "make needs Python >= 3.11 as python3 (found 3.9.18)" in lines[0]


def test_goals_that_need_no_go_run_without_it(tmp_path: Path) -> None:
    """A CI job that runs only `make venv`, or `make down`, needs no Go."""
    copy, folder = project_copy(tmp_path), bin_folder(tmp_path)
    for goal in ("venv", "down", "plan"):
        done = make(copy, folder, goal)
        assert done.returncode == 0, done.stderr


def test_new_enough_go_and_python_pass(tmp_path: Path) -> None:
    done = make(project_copy(tmp_path), bin_folder(tmp_path, go="1.26.0"))
    assert done.returncode == 0, done.stderr
    assert "make needs" not in done.stdout + done.stderr


def test_the_go_on_this_machine(tmp_path: Path) -> None:
    """The script reads a real `go` too (the engine tests need one; skipped where there is none)."""
    if shutil.which("go") is None:
        pytest.skip("no go on PATH")
    done = subprocess.run([str(SCRIPT), "go"], capture_output=True, text=True, timeout=60)
    version = subprocess.run(
        ["go", "env", "GOVERSION"], capture_output=True, text=True, cwd="/", timeout=60
    ).stdout
    newer = re.match(r"go(\d+)\.(\d+)", version)
    assert newer, version
    if (int(newer.group(1)), int(newer.group(2))) >= (1, 26):
        assert (done.returncode, done.stderr) == (0, "")
    else:
        assert done.returncode == 1 and "make needs Go >= 1.26" in done.stderr
