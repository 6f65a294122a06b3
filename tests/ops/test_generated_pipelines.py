"""`python -m ops pipelines`: the committed pipelines are its output byte for byte; each passes its
CI system's published schema (check-jsonschema's vendored GitHub workflow, GitLab CI, CircleCI and
Travis CI schemas) or, for the Jenkinsfile, the Groovy parser Jenkins runs pipelines with plus a
declarative-pipeline structure check; and each one, read back, deploys the environment's waves in
order (every region job of a wave after every job of the wave before), behind one approval, with
one concurrency group per region stack, running only `make venv` and `ops` commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ops.__main__ import main
from ops.pipelines import SYSTEMS, flow_files
from ops.pipelines.flow import pipeline_set
from ops.pipelines.rollout import Rollout, pulumi_pin
from ops.pipelines.services import Environment, environment_of

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCHEMAS = {
    "github": "vendor.github-workflows",
    "gitlab": "vendor.gitlab-ci",
    "circleci": "vendor.circle-ci",
    "travis": "vendor.travis",
}
# The Groovy that Jenkins (2.x LTS) runs pipelines with; Maven Central serves it.
GROOVY = "org.codehaus.groovy:groovy:2.4.21"
GROOVY_JAR = "org/codehaus/groovy/groovy/2.4.21/groovy-2.4.21.jar"
MAVEN_REPO = Path.home() / ".cache" / "deploypaths" / "maven"
JENKINSFILE_CHECK = Path(__file__).with_name("jenkinsfile_check.groovy")
PIN = pulumi_pin(ROOT)
# Every line any generated pipeline may run: setup, then only the project's own commands.
ALLOWED = (
    re.compile(rf"^curl -fsSL https://get\.pulumi\.com \| sh -s -- --version {re.escape(PIN)}$"),
    re.compile(r'^export PATH="\$HOME/\.pulumi/bin:\$PATH"$'),
    re.compile(r"""^echo 'export PATH="\$HOME/\.pulumi/bin:\$PATH"' >> "\$BASH_ENV"$"""),
    re.compile(r"^make venv$"),
    re.compile(r"^\.venv/bin/python -m ops plan --stack [a-z0-9-]+$"),
    re.compile(
        r'^\.venv/bin/python -m ops preview --stack "\$STACK" --markdown "preview-\$STACK\.md"'
        r"( && travis_wait \d+ (?P<up>.*))?$"
    ),
    re.compile(
        r'^\.venv/bin/python -m ops up --stack "\$STACK" --yes '
        r'--message "deploy of \$\{?\w+(::12)?\}?"$'
    ),
)
# Not one file or wave shape only: a bigger, uneven rollout goes through the same checks.
UNEVEN = Rollout(
    environment="staging",
    waves=(("us-east-1",), ("eu-west-1", "eu-central-1", "ap-south-1"), ("sa-east-1",)),
    pulumi_version=PIN,
)


def committed_rollout() -> Rollout:
    return environment_of("prod", ROOT, per_service=False).rollout


def generated_files(rollout: Rollout, ci: str) -> dict[str, str]:
    """What `python -m ops pipelines --env E --ci ci` writes for the rollout's environment."""
    env = rollout.environment
    pipelines = pipeline_set(
        [Environment(rollout=rollout, services=(), migrations=())],
        scope=env,
        per_service=False,
        command=f"python -m ops pipelines --env {env}",
    )
    return flow_files(pipelines, ci)


# --- regenerate and compare ----------------------------------------------------------------------


@pytest.mark.parametrize("ci", sorted(SYSTEMS))
def test_the_committed_pipeline_is_the_generators_output(ci):
    for relative, text in generated_files(committed_rollout(), ci).items():
        committed = (ROOT / relative).read_bytes()
        assert committed == text.encode(), (
            f"{relative} differs from `python -m ops pipelines --env prod --ci {ci}`: regenerate it"
        )


def test_the_command_writes_every_system_at_its_conventional_path(tmp_path, capsys):
    for ci in SYSTEMS:
        assert main(["pipelines", "--env", "prod", "--ci", ci, "--out", str(tmp_path)]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        ".circleci/config.yml",
        ".github/workflows/deploy-prod-regions.yml",
        ".gitlab/ci/deploy-prod-regions.yml",
        ".travis.yml",
        "Jenkinsfile",
    ]
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (ROOT / relative).read_bytes(), relative
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'Jenkinsfile'} (2 wave(s), 3 region stack(s))" in out


def test_gitlab_ci_includes_the_generated_file():
    pipeline = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    assert {"local": ".gitlab/ci/deploy-prod-regions.yml"} in pipeline["include"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--env", "qa", "--ci", "github"],
            "error: --env qa: not a stack of this project (stacks: dev, local, prod, staging)",
        ),
        (
            ["--env", "prod", "--ci", "bamboo"],
            "error: --ci bamboo: not a CI system this writes "
            "(one of: github, gitlab, jenkins, circleci, travis)",
        ),
        (
            ["--env", "prod-eu-west-1", "--ci", "azure"],
            "error: --env prod-eu-west-1: not a stack of this project "
            "(stacks: dev, local, prod, staging); "
            "--ci azure: not a CI system this writes "
            "(one of: github, gitlab, jenkins, circleci, travis)",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert main(["pipelines", *argv, "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n"
    assert not any(tmp_path.iterdir()), "nothing is written on bad input"


# --- each system's own schema or parser ----------------------------------------------------------


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_all(rollout: Rollout, folder: Path) -> dict[str, Path]:
    paths = {}
    for ci in SYSTEMS:
        for relative, text in generated_files(rollout, ci).items():
            paths[ci] = folder / relative
            paths[ci].parent.mkdir(parents=True, exist_ok=True)
            paths[ci].write_text(text)
    return paths


@pytest.fixture(scope="module")
def uneven(tmp_path_factory) -> dict[str, Path]:
    return write_all(UNEVEN, tmp_path_factory.mktemp("uneven"))


@pytest.mark.parametrize("ci", sorted(SCHEMAS))
def test_each_pipeline_passes_its_ci_systems_schema(ci, uneven):
    committed = [ROOT / relative for relative in generated_files(committed_rollout(), ci)]
    if ci == "gitlab":
        committed.append(ROOT / ".gitlab-ci.yml")
    result = check_jsonschema(SCHEMAS[ci], *committed, uneven[ci])
    assert result.returncode == 0, f"{ci}: {result.stdout}{result.stderr}"


# A mistake each schema must catch, so the check above cannot pass by checking nothing.
BREAKAGES = {
    "github": ("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"),
    "gitlab": ("when: manual", "when: by-hand"),
    "circleci": ("type: boolean", "type: bool"),
    "travis": ("os: linux", "os: [linux, amiga]"),
}


@pytest.mark.parametrize("ci", sorted(SCHEMAS))
def test_each_schema_rejects_a_broken_pipeline(ci, uneven, tmp_path):
    before, after = BREAKAGES[ci]
    broken = tmp_path / uneven[ci].name
    text = uneven[ci].read_text()
    assert before in text, ci
    broken.write_text(text.replace(before, after, 1))
    result = check_jsonschema(SCHEMAS[ci], broken)
    assert result.returncode == 1 and "Schema validation errors" in result.stdout, (
        f"{ci}: {result.stdout}{result.stderr}"
    )


@pytest.fixture(scope="session")
def groovy_jar() -> Path:
    return fetch_groovy()


def fetch_groovy() -> Path:
    """Groovy from Maven Central through mvn, into a cache of this project's own (~5 MB, once)."""
    jar = MAVEN_REPO / GROOVY_JAR
    if not jar.exists():
        mvn, java = shutil.which("mvn"), shutil.which("java")
        assert mvn and java, "the Jenkinsfile check needs Java and Maven (mvn) on PATH"
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                f"-Dmaven.repo.local={MAVEN_REPO}",
                "dependency:get",
                f"-Dartifact={GROOVY}",
                "-Dtransitive=false",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0 and jar.exists(), f"mvn: {result.stdout}{result.stderr}"
    return jar


def jenkinsfile_check(jar: Path, jenkinsfile: Path) -> subprocess.CompletedProcess[str]:
    java = shutil.which("java")
    assert java, "the Jenkinsfile check needs Java on PATH"
    return subprocess.run(
        [java, "-cp", str(jar), "groovy.ui.GroovyMain", str(JENKINSFILE_CHECK), str(jenkinsfile)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JAVA_TOOL_OPTIONS": ""},
    )


def jenkins_stages(report: str) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """The check's report: top-level (stage, flags) in order, and each stage's (branch, lock)."""
    stages, branches = [], {}
    for line in report.splitlines():
        kind, *fields = line.split("\t")
        if kind == "stage":
            stages.append((fields[0], fields[1]))
        elif kind == "branch":
            branches.setdefault(fields[0], []).append((fields[1], fields[2]))
    return stages, branches


@pytest.mark.parametrize("which", ["committed", "uneven"])
def test_the_jenkinsfile_parses_as_a_declarative_pipeline_of_the_waves(which, groovy_jar, uneven):
    rollout, path = (
        (committed_rollout(), ROOT / "Jenkinsfile")
        if which == "committed"
        else (UNEVEN, uneven["jenkins"])
    )
    result = jenkinsfile_check(groovy_jar, path)
    assert result.returncode == 0, f"{path}: {result.stderr}"
    stages, branches = jenkins_stages(result.stdout)
    env = rollout.environment
    waves = [f"{env} wave {n}" for n in range(1, len(rollout.waves) + 1)]
    assert stages == [(f"Approve {env}", "input"), *((wave, "") for wave in waves)], path
    for wave, regions in zip(waves, rollout.waves, strict=True):
        stacks = [rollout.stack(region) for region in regions]
        assert branches[wave] == [(stack, f"deploy-{stack}") for stack in stacks], wave


@pytest.mark.parametrize(
    ("before", "after", "problem"),
    [
        ("            steps {", "            stepz {", "`stepz` is not allowed here"),
        ("    agent none\n", "", "pipeline: `agent` is required"),
        (
            "        stage('prod wave 1') {",
            "        stage(wave) {",
            "a stage is named by one string",
        ),
        ("pipeline {", "pipeline {\n    def x = 1", "expected a directive or step call"),
        (
            "        ok 'Deploy prod'\n",
            "        ok 'Deploy prod'\n        oops 'x'\n",
            "`oops` is not allowed",
        ),
        ("    stages {\n", "    stages {\n        stage('{'\n", "unexpected token"),
    ],
)
def test_the_jenkinsfile_check_rejects_what_jenkins_would(
    before, after, problem, groovy_jar, tmp_path
):
    text = (ROOT / "Jenkinsfile").read_text()
    assert before in text, before
    broken = tmp_path / "Jenkinsfile"
    broken.write_text(text.replace(before, after, 1))
    result = jenkinsfile_check(groovy_jar, broken)
    assert result.returncode == 1 and problem in result.stderr, result.stderr


# --- what each pipeline does, read back ----------------------------------------------------------


@dataclass
class Shape:
    """A pipeline as the CI system would run it: the approval, then each wave's region stacks,
    each stack's concurrency group, and every shell line any job runs."""

    approval: str
    waves: list[list[str]]
    groups: dict[str, str]
    lines: list[str]


def lines_of(script: str | list[str]) -> list[str]:
    text = script if isinstance(script, str) else "\n".join(script)
    return [line.strip() for line in text.splitlines() if line.strip()]


def github_shape(path: Path) -> Shape:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads a bare `on` key as the boolean True.
    assert workflow[True] == {"workflow_dispatch": None}, "started by hand only"
    jobs = workflow["jobs"]
    approve = jobs.pop("approve")
    waves, groups, lines, previous = [], {}, [], "approve"
    for name, job in jobs.items():
        assert job["needs"] == previous, name
        assert job["strategy"]["fail-fast"] is False, name
        regions = job["strategy"]["matrix"]["region"]
        stacks = [job["env"]["STACK"].replace("${{ matrix.region }}", r) for r in regions]
        waves.append(stacks)
        for region, stack in zip(regions, stacks, strict=True):
            group = job["concurrency"]["group"].replace("${{ matrix.region }}", region)
            groups[stack] = group
        assert job["concurrency"]["cancel-in-progress"] is False, name
        installs = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/")]
        assert installs == [
            {
                "name": "Install the Pulumi CLI",
                "uses": "pulumi/actions@v6",
                "with": {"pulumi-version": PIN},
            }
        ], name
        lines += [line for step in job["steps"] if "run" in step for line in lines_of(step["run"])]
        previous = name
    lines += [line for step in approve["steps"] if "run" in step for line in lines_of(step["run"])]
    return Shape(approve["environment"], waves, groups, lines)


def gitlab_shape(path: Path) -> Shape:
    pipeline = yaml.safe_load(path.read_text())
    (variable,) = pipeline.pop("variables")
    started = f'$CI_PIPELINE_SOURCE == "web" && ${variable} == "yes"'
    approve_name = next(name for name in pipeline if name.startswith("approve-"))
    approve = pipeline.pop(approve_name)
    assert approve["rules"] == [{"if": started, "when": "manual"}]
    assert approve["allow_failure"] is False, "a manual job that may fail blocks nothing"
    template_name = next(name for name in pipeline if name.startswith("."))
    template = pipeline.pop(template_name)
    assert template["rules"] == [{"if": started}]
    waves, groups, previous = [], {}, approve_name
    for name, job in pipeline.items():
        assert job["extends"] == template_name and job["needs"] == [previous], name
        (matrix,) = job["parallel"]["matrix"]
        waves.append(matrix["STACK"])
        groups.update({s: template["resource_group"].replace("$STACK", s) for s in matrix["STACK"]})
        previous = name
    lines = lines_of(template["before_script"] + template["script"])
    lines += lines_of(approve["before_script"] + approve["script"])
    return Shape(approve["environment"]["name"], waves, groups, lines)


def circleci_shape(path: Path) -> Shape:
    config = yaml.safe_load(path.read_text())
    ((parameter, spec),) = config["parameters"].items()
    assert spec == {"type": "boolean", "default": False, "description": spec["description"]}
    (workflow,) = config["workflows"].values()
    assert workflow["when"] == f"<< pipeline.parameters.{parameter} >>"
    (job,) = config["jobs"].values()
    steps = job["steps"]
    lines = [
        line
        for step in steps
        if isinstance(step, dict)
        for line in lines_of(step["run"]["command"])
    ]
    entries = [next(iter(entry.items())) for entry in workflow["jobs"]]
    (approval, spec), *regions = entries
    assert spec == {"type": "approval"}
    # A wave: the jobs that require the same jobs, which must be the whole wave before it.
    waves: list[list[str]] = []
    requires: list[list[str]] = []
    groups = {}
    for _, region in regions:
        assert region["name"] == region["stack"]
        if not requires or region["requires"] != requires[-1]:
            requires.append(region["requires"])
            waves.append([])
        waves[-1].append(region["stack"])
        groups[region["stack"]] = region["serial-group"].removeprefix(
            "<< pipeline.project.slug >>/"
        )
    assert requires == [[approval], *waves[:-1]], requires
    return Shape(approval, waves, groups, lines)


def travis_shape(path: Path) -> Shape:
    config = yaml.safe_load(path.read_text())
    assert config["if"] == "type = api", "started by hand only"
    stage_names = [stage["name"] for stage in config["stages"]]
    waves: dict[str, list[str]] = {name: [] for name in stage_names}
    for job in config["jobs"]["include"]:
        stack = job["env"].removeprefix("STACK=")
        assert job["name"] == stack
        waves[job["stage"]].append(stack)
    lines = lines_of(config["install"] + config["script"])
    # No concurrency group exists on Travis CI: the backend's stack lock is what there is.
    return Shape("the start of the build", list(waves.values()), {}, lines)


SHAPES = {
    "github": github_shape,
    "gitlab": gitlab_shape,
    "circleci": circleci_shape,
    "travis": travis_shape,
}


def jenkins_shape(path: Path) -> Shape:
    # The structure comes from the Groovy parse (test above); here, the scripts of its sh steps.
    scripts = re.findall(r"sh '''\n(.*?)'''", path.read_text(), re.DOTALL)
    return Shape("input", [], {}, [line for script in scripts for line in lines_of(script)])


@pytest.mark.parametrize("ci", sorted(SYSTEMS))
@pytest.mark.parametrize("which", ["committed", "uneven"])
def test_each_pipeline_deploys_the_waves_in_order_behind_one_approval(ci, which, uneven):
    rollout = committed_rollout() if which == "committed" else UNEVEN
    path = ROOT / next(iter(generated_files(rollout, ci))) if which == "committed" else uneven[ci]
    shape = (SHAPES.get(ci) or jenkins_shape)(path)
    stacks = [[rollout.stack(region) for region in wave] for wave in rollout.waves]
    if ci != "jenkins":
        assert shape.waves == stacks, f"{ci} {path}"
    if ci in ("github", "gitlab"):
        assert shape.approval == rollout.approval_environment, ci
    if ci in ("github", "gitlab", "circleci"):
        assert shape.groups == {s: f"deploy-{s}" for wave in stacks for s in wave}, ci
    for line in shape.lines:
        assert any(p.match(line) for p in ALLOWED), f"{ci}: {line}"
    assert any("-m ops up " in line for line in shape.lines), ci
    assert any(f"ops plan --stack {rollout.environment}" in line for line in shape.lines) or ci in (
        "circleci",
        "travis",
    ), ci


@pytest.mark.parametrize("ci", ["gitlab", "jenkins", "circleci", "travis"])
def test_each_job_installs_the_pinned_cli_then_the_venv_before_ops(ci):
    path = ROOT / next(iter(generated_files(committed_rollout(), ci)))
    shape = (SHAPES.get(ci) or jenkins_shape)(path)
    up = next(i for i, line in enumerate(shape.lines) if "-m ops up " in line)
    # The setup a deploy runs after is the last one before it, in the same job.
    before = shape.lines[:up]
    install = max(i for i, line in enumerate(before) if line.startswith("curl "))
    venv = max(i for i, line in enumerate(before) if line == "make venv")
    assert install < venv < up, f"{ci}: {shape.lines}"


def test_the_prod_approval_is_the_reviewers_of_the_single_stack_deploy():
    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    assert committed_rollout().approval_environment == deploy["jobs"]["prod"]["environment"]


def test_every_shell_script_passes_bash_n():
    bash = shutil.which("bash")
    assert bash, "bash is needed to check the scripts"
    for ci, shape_of in {**SHAPES, "jenkins": jenkins_shape}.items():
        path = ROOT / next(iter(generated_files(committed_rollout(), ci)))
        script = re.sub(r"\$\{\{[^}]*\}\}", "x", "\n".join(shape_of(path).lines))
        # travis_wait is a function of Travis CI's own shell.
        result = subprocess.run(
            [bash, "-n"], input=f"travis_wait() {{ :; }}\n{script}", text=True, capture_output=True
        )
        assert result.returncode == 0, f"{ci}: {result.stderr}"
