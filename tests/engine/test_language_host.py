"""The project's Python language host (engine/pulumi-language-python) answers the CLI as the
upstream host does: the interpreter of the project's virtualenv, and the provider plugins its
installed packages ask for."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from tests.support.engine import stack_config


def pinned_versions() -> dict[str, str]:
    requirements = Path(__file__).resolve().parents[2] / "requirements.txt"
    pins = dict(
        line.split("==", 1) for line in requirements.read_text().splitlines() if "==" in line
    )
    return {name: pins[f"pulumi-{name}"] for name in ("aws", "kubernetes")}


def test_about_names_the_virtualenvs_interpreter_and_the_pinned_provider_plugins(project):
    project.write_config("about", stack_config("about"))
    project.stack("about")
    about = json.loads(project.pulumi("about", "--json", "--stack", "about").stdout)

    assert about["runtime"] == {
        "executable": str(project.root / ".venv" / "bin" / "python"),
        "language": "python",
        "version": platform.python_version(),
    }
    plugins = {(p["name"], p["kind"]): p["version"] for p in about["plugins"]}
    for name, version in pinned_versions().items():
        assert plugins[(name, "resource")] == version, about["plugins"]
