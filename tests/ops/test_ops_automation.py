"""The pure parts of the Automation API wrappers: finding the engine, writing config back,
reading an engine failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto
from pulumi.automation import ConfigValue
from pulumi.automation._cmd import CommandResult

from ops import automation


@pytest.fixture
def engine_home(tmp_path: Path) -> Path:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "pulumi").write_text("#!/bin/sh\n")
    return tmp_path


def test_the_engine_built_by_install_engine_is_used_when_pulumi_is_not_on_path(engine_home):
    environ = {"DEPLOYPATHS_ENGINE_HOME": str(engine_home), "PATH": "/usr/bin"}
    home, env = automation.engine_env(environ)
    assert home == engine_home
    assert env == {
        "PATH": os.pathsep.join([str(engine_home / "bin"), "/usr/bin"]),
        "PULUMI_HOME": str(engine_home / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    # Settings the shell already has (`source scripts/engine-env`, CI) are left alone.
    _, env = automation.engine_env({**environ, "PULUMI_HOME": "/elsewhere"})
    assert "PULUMI_HOME" not in env


def test_a_pulumi_on_path_or_no_engine_changes_nothing(engine_home, tmp_path):
    on_path = {"DEPLOYPATHS_ENGINE_HOME": str(engine_home), "PATH": str(engine_home / "bin")}
    assert automation.engine_env(on_path) == (None, {})
    missing = {"DEPLOYPATHS_ENGINE_HOME": str(tmp_path / "none"), "PATH": "/usr/bin"}
    assert automation.engine_env(missing) == (None, {})


def test_the_engines_temporary_files_go_with_the_process_that_ran_it():
    """The upstream Kubernetes provider leaves a kubeconfig in TMPDIR per configure."""
    script = textwrap.dedent(
        """
        from pathlib import Path
        from ops import automation
        scratch = Path(automation.workspace_options().env_vars["TMPDIR"])
        (scratch / "kubeconfig1234").write_text("apiVersion: v1")
        assert automation.workspace_options().env_vars["TMPDIR"] == str(scratch)
        print(scratch)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=automation.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    scratch = Path(child.stdout.strip())
    assert scratch.name.startswith("deploypaths-engine-")
    assert not scratch.exists()


def test_config_goes_back_in_the_shape_config_set_all_json_reads():
    document = json.loads(
        automation.config_json(
            {
                "deploypaths:regions": ConfigValue('[{"name": "us-east-1"}]'),
                "deploypaths:bake_minutes": ConfigValue("10"),
                "aws:region": ConfigValue("us-east-1"),
                "deploypaths:kubeconfigs": ConfigValue('{"us-east-1": "kc"}', secret=True),
            }
        )
    )
    assert document == {
        "deploypaths:regions": {
            "value": '[{"name": "us-east-1"}]',
            "secret": False,
            "objectValue": [{"name": "us-east-1"}],
        },
        "deploypaths:bake_minutes": {"value": "10", "secret": False},
        "aws:region": {"value": "us-east-1", "secret": False},
        "deploypaths:kubeconfigs": {
            "value": '{"us-east-1": "kc"}',
            "secret": True,
            "objectValue": {"us-east-1": "kc"},
        },
    }


def test_an_engine_failure_is_told_by_its_error_lines():
    text = "\n code: 255\n stdout: Previewing...\n  42 unchanged\n stderr: error: preview failed\n"
    assert automation.failure_text(RuntimeError(text)) == "stderr: error: preview failed"
    assert automation.failure_text(RuntimeError("\n code: 1\n stdout: a\n b")) == (
        "code: 1; stdout: a; b"
    )
    assert automation.failure_text(RuntimeError("")) == "RuntimeError"
    program = (
        "stdout: Updating\n - not a problem\n"
        "  error: stack 'dev' has 2 configuration problem(s); nothing was deployed\n"
        "    - services[1] (orders): image: unpinned\n    - waves: region x is not in regions\n"
        "  Resources: 1 unchanged\n - not a problem either\n"
    )
    assert automation.failure_text(RuntimeError(program)) == (
        "error: stack 'dev' has 2 configuration problem(s); nothing was deployed "
        "- services[1] (orders): image: unpinned - waves: region x is not in regions"
    )


def test_the_policy_pack_and_the_stacks_enforcement_config():
    options = automation.policy_options("prod")
    assert options == {
        "policy_packs": [str(automation.REPO_ROOT / "policy")],
        "policy_pack_configs": [str(automation.REPO_ROOT / "policy" / "config" / "prod.json")],
    }
    # A stack without its own config runs the pack with its defaults (fail closed).
    assert "policy_pack_configs" not in automation.policy_options("qa")


def test_a_checkpoint_read_while_an_update_rewrites_it_is_read_again(monkeypatch):
    torn = auto.CommandError(CommandResult("", "error: failed to load checkpoint: EOF", 1))
    answers: list[object] = [torn, "the stack"]

    def select_stack(*args, **kwargs):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(auto, "select_stack", select_stack)
    monkeypatch.setattr(automation.time, "sleep", lambda seconds: None)
    assert automation.select("drills") == "the stack"
    assert answers == []


def test_an_update_runs_on_a_copy_of_the_stack_file_that_records_the_release_files(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(automation, "PROJECT_DIR", tmp_path)
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("# the team's comment\nconfig:\n  deploypaths:layout: single\n")
    with automation.update_config_file("dev", {"deploypaths:regions": '[{"name": "a"}]'}) as path:
        copy = yaml.safe_load(Path(path).read_text())["config"]
        assert copy == {"deploypaths:layout": "single", "deploypaths:regions": [{"name": "a"}]}
    (tmp_path / "releases").mkdir()
    (tmp_path / "releases" / "auth.yaml").write_text("image: r.example.com/auth:2.0.0\n")
    with automation.update_config_file("dev") as path:
        copy = yaml.safe_load(Path(path).read_text())["config"]
        assert copy["deploypaths:releases"] == {"auth": {"image": "r.example.com/auth:2.0.0"}}
    assert not Path(path).exists(), "the copy is removed after the update"
    assert stack_file.read_text().startswith("# the team's comment"), (
        "the stack file is not written"
    )
    # A stack file that sets the key itself keeps its own.
    stack_file.write_text("config:\n  deploypaths:releases: {}\n")
    with automation.update_config_file("dev") as path:
        assert yaml.safe_load(Path(path).read_text())["config"]["deploypaths:releases"] == {}
