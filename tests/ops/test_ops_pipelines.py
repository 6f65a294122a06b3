"""The CI pipelines parse and have the structure the ops commands rely on: GitHub Actions
workflows and the GitLab twin, each checked as YAML plus the rules that keep deploys safe
(stack matrix, one concurrency group per stack, an approval before prod, only `make` and `ops`
commands), and every shell script in them passes `bash -n`. Every job runs the official Pulumi
CLI at the version requirements.txt pins, never the engine `make setup` builds from Go modules
for this repository's offline tests (its Kubernetes provider is a render-only stand-in)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.test_generated_pipelines import committed_rollout, generated_files

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
STACKS = ("dev", "prod")
# The Python SDK's pin; the CLI installed in CI must be the same version.
PULUMI_VERSION = re.search(
    r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE
).group(1)
PULUMI_ACTION = "pulumi/actions@v6"
GITLAB_INSTALL = f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PULUMI_VERSION}"
GITLAB_PATH = 'export PATH="$HOME/.pulumi/bin:$PATH"'
# What only the offline engine uses; no pipeline may mention them outside comments.
ENGINE_ONLY = (
    "make setup",
    "engine-env",
    "install-engine",
    "DEPLOYPATHS_ENGINE_HOME",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
    "PULUMI_HOME",
    "setup-go",
    "golang",
)
# What a pipeline may run: make targets, the ops commands, the pinned deploy, and the glue
# that builds their arguments.
ALLOWED_LINES = (
    re.compile(r"^make( [a-z-]+)*$"),
    re.compile(r"^\.venv/bin/python -m ops (preview|history|rollback) "),
    # `ops up` with no flag: failure isolation and the rollback of a failed path are its defaults.
    re.compile(
        r'^\.venv/bin/python -m ops up --stack "\$STACK" --yes '
        r'--message "deploy of \$\{?[A-Z_:0-9]+\}?"$'
    ),
    re.compile(r"^paths=\(\);? ?(for path in \$\w+; do paths\+=\(--path \"\$path\"\); done)?$"),
    re.compile(r"^for path in \$\w+; do paths\+=\(--path \"\$path\"\); done$"),
)
# GitLab has no setup action: its jobs also install the CLI with the documented installer.
GITLAB_ALLOWED_LINES = (
    *ALLOWED_LINES,
    re.compile(r"^curl -fsSL https://get\.pulumi\.com \| sh -s -- --version \d+\.\d+\.\d+$"),
    re.compile(r'^export PATH="\$HOME/\.pulumi/bin:\$PATH"$'),
)


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path}: not a mapping"
    return document


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads a bare `on` key as the boolean True.
    return workflow.get("on", workflow.get(True))


def commands(script: str) -> list[str]:
    """A script's commands: lines joined at trailing backslashes, spaces folded, blanks dropped."""
    lines = script.replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()]


def bash_syntax_ok(script: str) -> None:
    bash = shutil.which("bash")
    assert bash, "bash is needed to check the scripts"
    # `${{ ... }}` is expanded by GitHub before the shell sees the script.
    plain = re.sub(r"\$\{\{[^}]*\}\}", "x", script)
    result = subprocess.run([bash, "-n"], input=plain, text=True, capture_output=True)
    assert result.returncode == 0, f"bash -n failed: {result.stderr}\n{script}"


# The single-stack workflows, written by hand; `ops pipelines` writes the region ones, which
# test_generated_pipelines.py checks.
HAND_WRITTEN = ("deploy", "preview", "rollback")


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {name: load(WORKFLOWS / f"{name}.yml") for name in HAND_WRITTEN}


def test_every_workflow_is_hand_written_or_generated():
    generated = {Path(p).stem for p in generated_files(committed_rollout(), "github")}
    assert {path.stem for path in WORKFLOWS.glob("*.yml")} == {*HAND_WRITTEN, *generated}


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job["steps"]]


def test_the_three_workflows_exist(workflows):
    assert {"preview", "deploy", "rollback"} <= set(workflows)
    for stack in STACKS:
        assert (ROOT / f"Pulumi.{stack}.yaml").exists(), stack
        assert (ROOT / "policy" / "config" / f"{stack}.json").exists(), stack


def test_every_workflow_is_well_formed(workflows):
    for name, workflow in workflows.items():
        assert workflow.get("name") and triggers(workflow), name
        assert workflow["jobs"], name
        for job_name, job in workflow["jobs"].items():
            assert job.get("runs-on") == "ubuntu-latest", (name, job_name)
            assert job.get("timeout-minutes"), (name, job_name)
            for step in job["steps"]:
                assert ("uses" in step) != ("run" in step), (name, job_name, step)
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_run_steps_only_call_make_and_ops(workflows):
    for name, workflow in workflows.items():
        for job_name, step in steps(workflow):
            if "run" not in step:
                continue
            bash_syntax_ok(step["run"])
            for command in commands(step["run"]):
                assert any(p.match(command) for p in ALLOWED_LINES), (name, job_name, command)


def test_the_pin_is_read_from_requirements():
    assert re.fullmatch(r"\d+\.\d+\.\d+", PULUMI_VERSION), PULUMI_VERSION


def test_every_job_installs_the_pinned_cli_then_the_venv(workflows):
    for name, workflow in workflows.items():
        for job_name, job in workflow["jobs"].items():
            job_steps = job["steps"]
            installs = [
                i for i, s in enumerate(job_steps) if s.get("uses", "").startswith("pulumi/")
            ]
            assert len(installs) == 1, (name, job_name)
            install = job_steps[installs[0]]
            assert install["uses"] == PULUMI_ACTION, (name, job_name)
            # Only `pulumi-version`: without `command` the action installs the CLI and stops.
            assert install["with"] == {"pulumi-version": PULUMI_VERSION}, (name, job_name)
            runs = [(i, s["run"]) for i, s in enumerate(job_steps) if "run" in s]
            venv = [i for i, run in runs if run == "make venv"]
            assert len(venv) == 1, (name, job_name)
            # Both come before the first step that needs the CLI or the virtualenv.
            needs_cli = [i for i, run in runs if "pulumi up" in run or "-m ops " in run]
            assert needs_cli, (name, job_name)
            assert installs[0] < min(needs_cli) and venv[0] < min(needs_cli), (name, job_name)


def test_no_job_uses_the_offline_engine(workflows):
    for name, workflow in workflows.items():
        # Dumped without comments, which may still explain why the engine is not used.
        text = yaml.safe_dump(workflow)
        for word in ENGINE_ONLY:
            assert word not in text, (name, word)
        for job_name, step in steps(workflow):
            assert not step.get("uses", "").startswith("actions/cache"), (name, job_name)


def test_preview_runs_on_pull_requests_per_stack_and_comments_in_place(workflows):
    workflow = workflows["preview"]
    assert "pull_request" in triggers(workflow)
    assert workflow["permissions"]["pull-requests"] == "write"
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == list(STACKS)
    assert job["strategy"]["fail-fast"] is False
    assert job["env"]["STACK"] == "${{ matrix.stack }}"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any(
        '.venv/bin/python -m ops preview --stack "$STACK" --markdown "preview-$STACK.md"' in run
        for run in runs
    )
    (comment,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script")]
    assert comment["if"] == "always()"
    script = comment["with"]["script"]
    assert "<!-- deploypaths-preview:${stack} -->" in script
    assert "updateComment" in script and "createComment" in script and "paginate" in script


def test_deploy_runs_dev_then_prod_behind_an_approval(workflows):
    workflow = workflows["deploy"]
    assert triggers(workflow) == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    assert list(jobs) == ["dev", "prod"]
    assert jobs["prod"]["needs"] == "dev"
    assert jobs["prod"]["environment"] == "production"
    groups = set()
    for stack, job in jobs.items():
        assert job["env"]["STACK"] == stack
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        groups.add(job["concurrency"]["group"])
        runs = [s.get("run", "") for s in job["steps"]]
        (deploy,) = [run for run in runs if "-m ops up" in run]
        # `ops up` attaches the policy pack; no flag: isolation and rollback are its defaults.
        assert "--stop-on-first-error" not in deploy and "--on-failure" not in deploy
        (check,) = [run for run in runs if "-m ops preview" in run]
        assert runs.index(check) < runs.index(deploy), f"{stack}: the ops checks come first"
    assert len(groups) == len(STACKS)


def test_rollback_is_dispatched_by_hand_and_shares_the_deploy_group(workflows):
    workflow = workflows["rollback"]
    inputs = triggers(workflow)["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["type"] == "choice" and inputs["stack"]["options"] == list(STACKS)
    assert inputs["version"]["required"] is True
    assert inputs["path"]["required"] is False
    (job,) = workflow["jobs"].values()
    assert job["concurrency"] == {
        "group": "deploy-${{ inputs.stack }}",
        "cancel-in-progress": False,
    }
    assert job["environment"] == "${{ inputs.stack == 'prod' && 'production' || 'dev' }}"
    # Inputs reach the script through the environment, never pasted into it.
    assert job["env"]["VERSION"] == "${{ inputs.version }}"
    assert job["env"]["USER"] == "${{ github.actor }}"
    for _, step in steps(workflow):
        assert "inputs." not in step.get("run", ""), step
    (rollback,) = [s["run"] for s in job["steps"] if "ops rollback" in s.get("run", "")]
    assert '-m ops rollback --stack "$STACK" --to "$VERSION" "${paths[@]}" --yes' in rollback


def test_deploy_and_rollback_use_the_same_group_names(workflows):
    deploy_groups = {job["concurrency"]["group"] for job in workflows["deploy"]["jobs"].values()}
    (rollback,) = workflows["rollback"]["jobs"].values()
    template = rollback["concurrency"]["group"]
    assert {template.replace("${{ inputs.stack }}", stack) for stack in STACKS} == deploy_groups


# --- GitLab -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gitlab() -> dict[str, Any]:
    return load(ROOT / ".gitlab-ci.yml")


def gitlab_jobs(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    reserved = {"workflow", "stages", "variables", "default", "include"}
    return {name: job for name, job in pipeline.items() if name not in reserved}


def job_script(pipeline: dict[str, Any], name: str) -> list[str]:
    job = gitlab_jobs(pipeline)[name]
    parent = gitlab_jobs(pipeline).get(job.get("extends", ""), {})
    return job.get("script") or parent["script"]


def test_gitlab_pipeline_is_well_formed(gitlab):
    jobs = gitlab_jobs(gitlab)
    assert set(jobs) == {"preview", ".deploy", "deploy-dev", "deploy-prod", "rollback"}
    stages = gitlab["stages"]
    for name, job in jobs.items():
        stage = job.get("stage") or jobs[job["extends"]]["stage"]
        assert stage in stages, name
    setup = gitlab["default"]["before_script"]
    for name, job in jobs.items():
        # A job's own before_script would replace the default one and skip the CLI install.
        assert "before_script" not in job and "image" not in job, name
        if name.startswith("."):
            continue
        script = job_script(gitlab, name)
        bash_syntax_ok("\n".join([*setup, *script]))
        for command in [c for line in [*setup, *script] for c in commands(line)]:
            assert any(p.match(command) for p in GITLAB_ALLOWED_LINES), (name, command)


def test_gitlab_installs_the_pinned_cli_then_the_venv(gitlab):
    # before_script and script share one shell, so the PATH export reaches the ops commands.
    assert gitlab["default"]["before_script"] == [GITLAB_INSTALL, GITLAB_PATH, "make venv"]
    assert gitlab["default"]["image"].startswith("python:3.11")
    text = yaml.safe_dump(gitlab)
    for word in ENGINE_ONLY:
        assert word not in text, word


def test_gitlab_previews_each_stack_on_merge_requests(gitlab):
    job = gitlab_jobs(gitlab)["preview"]
    assert job["parallel"]["matrix"] == [{"STACK": list(STACKS)}]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job_script(gitlab, "preview") == [
        '.venv/bin/python -m ops preview --stack "$STACK" --markdown "preview-$STACK.md"'
    ]
    (note,) = job["after_script"]
    bash_syntax_ok(note)
    assert "<!-- deploypaths-preview:{stack} -->" in note and '"PUT"' in note


def test_gitlab_deploys_one_resource_group_per_stack_and_prod_by_hand(gitlab):
    jobs = gitlab_jobs(gitlab)
    assert jobs["deploy-dev"]["resource_group"] == "deploy-dev"
    assert jobs["deploy-prod"]["resource_group"] == "deploy-prod"
    assert jobs["deploy-prod"]["needs"] == ["deploy-dev"]
    assert jobs["deploy-prod"]["environment"]["name"] == "production"
    assert jobs["deploy-prod"]["rules"][0]["when"] == "manual"
    assert jobs["deploy-prod"]["allow_failure"] is False
    for stack in STACKS:
        assert jobs[f"deploy-{stack}"]["variables"]["STACK"] == stack
    check, deploy = job_script(gitlab, "deploy-dev")
    assert check.startswith('.venv/bin/python -m ops preview --stack "$STACK"'), check
    assert deploy.startswith('.venv/bin/python -m ops up --stack "$STACK" --yes --message')


def test_gitlab_rollback_runs_from_the_web_form(gitlab):
    job = gitlab_jobs(gitlab)["rollback"]
    assert job["resource_group"] == "deploy-$ROLLBACK_STACK"
    assert {rule["variables"]["ROLLBACK_ENVIRONMENT"] for rule in job["rules"]} == {
        "production",
        "dev",
    }
    assert all('$CI_PIPELINE_SOURCE == "web"' in rule["if"] for rule in job["rules"])
    assert gitlab["variables"]["ROLLBACK_STACK"]["options"] == ["", *STACKS]
    script = job_script(gitlab, "rollback")
    assert script[-1] == (
        '.venv/bin/python -m ops rollback --stack "$ROLLBACK_STACK" --to "$ROLLBACK_VERSION" '
        '"${paths[@]}" --yes'
    )
