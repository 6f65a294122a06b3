"""`python -m ops pipelines --per-service` and `--promote`: every file passes its CI system's
schema (check-jsonschema's vendored GitHub workflow, GitLab CI, CircleCI and Travis CI schemas) or,
for the Jenkinsfiles, the Groovy parse and declarative-pipeline check; and each one, read back,
starts a service's pipeline only on a change to its release file (and the infrastructure pipeline
on any other change), runs the migrations job before the release, asks the service's owners to
approve, holds one lock per service stack, and promotes one commit through the environments in
order. CODEOWNERS maps each release file and migration folder to its approvers.

The environments are built here, not parsed from stack files, because owners come from the
config's `owner` entries (`ops.pipelines.services.owners_of`); the tests at the end run the command
on the repository's stack files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploypaths.config.settings import Owner
from ops import pipelines
from ops.__main__ import main
from ops.pipelines import SYSTEMS, flow_files
from ops.pipelines.flow import PipelineSet, Trigger, pipeline_set
from ops.pipelines.gitlab import outside_globs
from ops.pipelines.rollout import Rollout, pulumi_pin
from ops.pipelines.services import Environment, ServiceEntry
from tests.ops.test_generated_pipelines import ALLOWED as REGION_ALLOWED
from tests.ops.test_generated_pipelines import (
    SCHEMAS,
    check_jsonschema,
    fetch_groovy,
    jenkinsfile_check,
)

ROOT = Path(__file__).resolve().parents[2]
PIN = pulumi_pin(ROOT)
PAYMENTS = Owner(team="payments", approvers=("@acme/payments-leads", "alice@example.com"))
IDENTITY = Owner(team="identity", approvers=("@acme/identity",))
ORDERS = Owner(team="orders")


def environment(
    name: str, waves: tuple[tuple[str, ...], ...], services: dict[str, Owner | None]
) -> Environment:
    return Environment(
        rollout=Rollout(environment=name, waves=waves, pulumi_version=PIN),
        services=tuple(ServiceEntry(name=s, owner=o) for s, o in services.items()),
        migrations=(
            ServiceEntry(name="orders-add-status", owner=ORDERS),
            ServiceEntry(name="payments-add-currency", owner=PAYMENTS),
        ),
    )


DEV = environment("dev", (("us-east-1",),), {"auth": IDENTITY, "orders": ORDERS})
STAGING = environment(
    "staging", (("us-east-1",), ("eu-west-1",)), {"auth": IDENTITY, "orders": ORDERS}
)
# payments runs in prod only: its pipeline has prod's jobs alone; search has no owner.
PROD = environment(
    "prod",
    (("us-east-1",), ("eu-west-1", "ap-southeast-2")),
    {"auth": IDENTITY, "orders": ORDERS, "payments": PAYMENTS, "search": None},
)
PROMOTION = (DEV, STAGING, PROD)
SERVICES = ("auth", "orders", "payments", "search")
# set -> ci -> relative path -> written file
Files = dict[str, dict[str, dict[str, Path]]]
SETS = {
    "prod-per-service": pipeline_set(
        [PROD], scope="prod", per_service=True, command="python -m ops pipelines --env prod"
    ),
    "promote-per-service": pipeline_set(
        PROMOTION, scope="promote", per_service=True, command="python -m ops pipelines --promote"
    ),
    "promote-regions": pipeline_set(
        PROMOTION, scope="promote", per_service=False, command="python -m ops pipelines --promote"
    ),
}
# Every line a job may run: what a region pipeline's may (setup, `ops plan`, a wave's `ops preview`
# and `ops up` of STACK), the per-service commands, and Travis CI's change guard.
OPS = r"\.venv/bin/python -m ops "
ALLOWED = (
    *REGION_ALLOWED,
    re.compile(rf"^{OPS}release --env [a-z]+ --service [a-z]+( --migrations)?$"),
    re.compile(rf"^{OPS}release --env [a-z]+ --infrastructure$"),
    re.compile(rf"^{OPS}preview( --stack [a-z0-9-]+)+ --markdown preview-[a-z0-9-]+\.md$"),
)


@pytest.fixture(scope="session")
def groovy_jar() -> Path:
    return fetch_groovy()


def write(pipelines: PipelineSet, ci: str, folder: Path) -> dict[str, Path]:
    written = {}
    for relative, text in flow_files(pipelines, ci).items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written[relative] = target
    return written


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """set -> ci -> relative path -> written file."""
    return {
        name: {ci: write(pipelines, ci, tmp_path_factory.mktemp(f"{name}-{ci}")) for ci in SYSTEMS}
        for name, pipelines in SETS.items()
    }


def load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), path
    return document


def only(written: dict[str, Path], pattern: str) -> dict[str, Path]:
    return {rel: path for rel, path in written.items() if re.fullmatch(pattern, rel)}


# --- which files, at which paths -----------------------------------------------------------------


def test_each_system_writes_its_files_at_their_conventional_paths(files: Files) -> None:
    assert sorted(files["prod-per-service"]["github"]) == [
        ".github/CODEOWNERS",
        ".github/workflows/infrastructure-prod.yml",
        ".github/workflows/release-prod-auth.yml",
        ".github/workflows/release-prod-orders.yml",
        ".github/workflows/release-prod-payments.yml",
        ".github/workflows/release-prod-search.yml",
    ]
    assert sorted(files["promote-per-service"]["gitlab"]) == [
        ".gitlab/CODEOWNERS",
        ".gitlab/ci/infrastructure-promote.yml",
        ".gitlab/ci/per-service-promote.yml",
        ".gitlab/ci/release-promote-auth.yml",
        ".gitlab/ci/release-promote-orders.yml",
        ".gitlab/ci/release-promote-payments.yml",
        ".gitlab/ci/release-promote-search.yml",
    ]
    assert sorted(files["prod-per-service"]["jenkins"]) == [
        f"jenkins/{name}.Jenkinsfile"
        for name in (
            "infrastructure-prod",
            "release-prod-auth",
            "release-prod-orders",
            "release-prod-payments",
            "release-prod-search",
        )
    ]
    assert sorted(files["prod-per-service"]["circleci"]) == [
        ".circleci/config.yml",
        ".circleci/continue_config.yml",
    ]
    assert sorted(files["prod-per-service"]["travis"]) == [".travis.yml"]
    assert sorted(files["promote-regions"]["github"]) == [
        ".github/workflows/deploy-promote-regions.yml"
    ]
    assert sorted(files["promote-regions"]["circleci"]) == [".circleci/config.yml"]


def test_gitlab_entry_file_includes_every_pipeline(files: Files) -> None:
    written = files["promote-per-service"]["gitlab"]
    entry = load(written[".gitlab/ci/per-service-promote.yml"])
    included = {item["local"] for item in entry["include"]}
    assert included == {rel for rel in only(written, r".gitlab/ci/(release|infra).*")}


# --- each system's own schema or parser ----------------------------------------------------------


@pytest.mark.parametrize("ci", sorted(SCHEMAS))
@pytest.mark.parametrize("name", sorted(SETS))
def test_each_file_passes_its_ci_systems_schema(ci: str, name: str, files: Files) -> None:
    paths = [p for rel, p in files[name][ci].items() if not rel.endswith("CODEOWNERS")]
    result = check_jsonschema(SCHEMAS[ci], *paths)
    assert result.returncode == 0, f"{name} {ci}: {result.stdout}{result.stderr}"


def jenkins_report(jar: Path, path: Path) -> list[list[str]]:
    result = jenkinsfile_check(jar, path)
    assert result.returncode == 0, f"{path}: {result.stderr}"
    return [line.split("\t") for line in result.stdout.splitlines()]


@pytest.mark.parametrize("name", sorted(SETS))
def test_each_jenkinsfile_parses_as_a_declarative_pipeline(
    name: str, files: Files, groovy_jar: Path
) -> None:
    for path in files[name]["jenkins"].values():
        jenkins_report(groovy_jar, path)


def test_the_jenkinsfile_check_rejects_an_unknown_when_condition(
    files: Files, groovy_jar: Path, tmp_path: Path
) -> None:
    path = files["prod-per-service"]["jenkins"]["jenkins/release-prod-orders.Jenkinsfile"]
    broken = tmp_path / "Jenkinsfile"
    broken.write_text(path.read_text().replace("beforeAgent true", "beforeAgnet true", 1))
    result = jenkinsfile_check(groovy_jar, broken)
    assert result.returncode == 1
    assert "`beforeAgnet` is not a when condition" in result.stderr, result.stderr


# --- what each file does, read back --------------------------------------------------------------


def commands_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def github_jobs(path: Path) -> dict[str, Any]:
    jobs: dict[str, Any] = load(path)["jobs"]
    return jobs


def test_github_starts_a_service_only_on_its_release_file_and_asks_its_owners(files: Files) -> None:
    written = files["prod-per-service"]["github"]
    path = written[".github/workflows/release-prod-payments.yml"]
    workflow = load(path)
    # YAML 1.1 reads a bare `on` key as the boolean True.
    assert workflow[True] == {
        "push": {"branches": ["main"], "paths": ["releases/payments.yaml"]},
        "workflow_dispatch": None,
    }
    jobs = workflow["jobs"]
    assert list(jobs) == ["payments-migrations-prod", "payments-release-prod"]
    migrations, release = jobs.values()
    assert "needs" not in migrations and "environment" not in migrations
    (run,) = [s["run"] for s in migrations["steps"] if s.get("name", "").startswith("Deploy")]
    assert run == ".venv/bin/python -m ops release --env prod --service payments --migrations"
    # One job needed: a scalar, as in the committed region workflow.
    assert release["needs"] == "payments-migrations-prod"
    assert release["environment"] == "prod-svc-payments"
    assert release["concurrency"] == {
        "group": "deploy-prod-svc-payments",
        "cancel-in-progress": False,
    }
    runs = [s["run"] for s in release["steps"] if "run" in s]
    assert runs[-2:] == [
        ".venv/bin/python -m ops preview --stack prod-svc-payments "
        "--markdown preview-prod-svc-payments.md",
        ".venv/bin/python -m ops release --env prod --service payments",
    ]
    text = " ".join(line.strip("# ") for line in path.read_text().splitlines())
    assert "environment `prod-svc-payments` (payments in prod), set in the repository's " in text
    assert "@acme/payments-leads, alice@example.com." in text


def test_github_infrastructure_runs_on_everything_but_release_files(files: Files) -> None:
    workflow = load(
        files["promote-per-service"]["github"][".github/workflows/infrastructure-promote.yml"]
    )
    assert workflow[True]["push"] == {"branches": ["main"], "paths-ignore": ["releases/**"]}
    jobs = workflow["jobs"]
    assert list(jobs) == ["infrastructure-dev", "infrastructure-staging", "infrastructure-prod"]
    assert [job.get("needs") for job in jobs.values()] == [
        None,
        "infrastructure-dev",
        "infrastructure-staging",
    ]
    assert [job["environment"] for job in jobs.values()] == ["dev", "staging", "production"]
    assert jobs["infrastructure-staging"]["concurrency"]["group"] == "deploy-staging-infrastructure"
    runs = [s["run"] for s in jobs["infrastructure-staging"]["steps"] if "run" in s]
    assert runs[-2:] == [
        ".venv/bin/python -m ops preview --stack staging-us-east-1 --stack staging-eu-west-1 "
        "--markdown preview-staging-infrastructure.md",
        ".venv/bin/python -m ops release --env staging --infrastructure",
    ]


def test_github_promotes_each_service_through_its_environments_in_order(files: Files) -> None:
    written = files["promote-per-service"]["github"]
    jobs = github_jobs(written[".github/workflows/release-promote-orders.yml"])
    order = [
        f"orders-{kind}-{env}"
        for env in ("dev", "staging", "prod")
        for kind in ("migrations", "release")
    ]
    assert list(jobs) == order
    for before, job in zip(order, order[1:], strict=False):
        assert jobs[job]["needs"] == before, job
    # A service that runs in prod only is promoted through prod only.
    jobs = github_jobs(written[".github/workflows/release-promote-payments.yml"])
    assert list(jobs) == ["payments-migrations-prod", "payments-release-prod"]


def test_github_region_promotion_asks_each_environment_then_runs_its_waves(files: Files) -> None:
    workflow = load(
        files["promote-regions"]["github"][".github/workflows/deploy-promote-regions.yml"]
    )
    assert workflow[True] == {"workflow_dispatch": None}
    jobs = workflow["jobs"]
    # As in the committed `--env` workflow: an approval job, then a job per wave with a matrix of
    # its regions, each environment after the last wave of the one before.
    assert list(jobs) == [
        "approve-dev",
        "deploy-dev-wave-1",
        "approve-staging",
        "deploy-staging-wave-1",
        "deploy-staging-wave-2",
        "approve-prod",
        "deploy-prod-wave-1",
        "deploy-prod-wave-2",
    ]
    assert jobs["approve-staging"]["needs"] == "deploy-dev-wave-1"
    assert jobs["approve-prod"]["needs"] == "deploy-staging-wave-2"
    assert jobs["approve-prod"]["environment"] == "production"
    wave = jobs["deploy-prod-wave-2"]
    assert wave["needs"] == "deploy-prod-wave-1"
    assert wave["strategy"]["matrix"]["region"] == ["eu-west-1", "ap-southeast-2"]
    assert wave["env"]["STACK"] == "prod-${{ matrix.region }}"
    assert wave["concurrency"]["group"] == "deploy-prod-${{ matrix.region }}"


def gitlab_jobs(written: dict[str, Path]) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for path in only(written, r".gitlab/ci/(release|infra|deploy).*").values():
        document = load(path)
        document.pop("variables", None)
        jobs.update(document)
    return jobs


def ruby_fnmatch(pattern: str, path: str) -> bool:
    """File.fnmatch(pattern, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB), as GitLab matches
    `changes`, for the glob features the generated files use: braces, `**/`, `*`, `?`, `[^x]`."""
    braces = re.fullmatch(r"(.*?)\{([^}]*)\}(.*)", pattern)
    if braces:
        head, options, tail = braces.groups()
        return any(ruby_fnmatch(head + option + tail, path) for option in options.split(","))
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:[^/]*/)*", i + 3
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            regex, i = regex + pattern[i:end].replace("[^", "[^/") + "]", end + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.fullmatch(regex, path) is not None


CHANGED = [
    ["releases/orders.yaml"],
    ["releases/auth.yaml", "releases/orders.yaml"],
    ["README.md"],
    [".github/workflows/deploy.yml"],
    ["components/service_path.py", "releases/orders.yaml"],
    ["release/notes.md"],
    ["releases-old/orders.yaml"],
    ["r/x"],
    ["Pulumi.prod.yaml"],
    ["releases/nested/thing.yaml"],
]


@pytest.mark.parametrize("changed", CHANGED)
def test_gitlab_changes_start_the_pipelines_the_model_says(
    changed: list[str], files: Files
) -> None:
    jobs = gitlab_jobs(files["prod-per-service"]["gitlab"])
    for name in ("payments-migrations-prod", "infrastructure-prod"):
        (rule,) = jobs[name]["rules"]
        assert rule["if"] == (
            '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
        )
        trigger = (
            Trigger(kind="changes", path="releases/payments.yaml")
            if name.startswith("payments")
            else Trigger(kind="outside", path="releases")
        )
        starts = any(ruby_fnmatch(g, p) for g in rule["changes"] for p in changed)
        assert starts == trigger.starts_on(changed), (name, changed)


def test_the_outside_globs_exclude_only_the_folder() -> None:
    assert outside_globs("ab") == ("*", "{[^a]*,a,a[^b]*,ab?*}/**/*")


def test_gitlab_approval_is_a_manual_job_in_the_services_protected_environment(
    files: Files,
) -> None:
    written = files["prod-per-service"]["gitlab"]
    jobs = gitlab_jobs(written)
    migrations, release = jobs["payments-migrations-prod"], jobs["payments-release-prod"]
    assert migrations["needs"] == [] and "environment" not in migrations
    assert migrations["resource_group"] == "deploy-prod-infrastructure"
    assert migrations["script"] == [
        ".venv/bin/python -m ops release --env prod --service payments --migrations"
    ]
    assert release["needs"] == ["payments-migrations-prod"]
    assert release["rules"][0]["when"] == "manual" and release["allow_failure"] is False
    assert release["environment"] == {"name": "prod-svc-payments"}
    assert release["resource_group"] == "deploy-prod-svc-payments"
    text = " ".join(
        line.strip("# ")
        for line in written[".gitlab/ci/release-prod-payments.yml"].read_text().splitlines()
    )
    assert "environment prod-svc-payments: @acme/payments-leads, alice@example.com." in text


def test_gitlab_promotion_chains_the_environments(files: Files) -> None:
    jobs = gitlab_jobs(files["promote-per-service"]["gitlab"])
    assert jobs["orders-migrations-staging"]["needs"] == ["orders-release-dev"]
    assert jobs["orders-migrations-prod"]["needs"] == ["orders-release-staging"]
    assert jobs["infrastructure-prod"]["needs"] == ["infrastructure-staging"]


def jenkins_whens(report: list[list[str]]) -> dict[str, str]:
    return {fields[1]: fields[2] for fields in report if fields[0] == "when"}


def test_jenkins_runs_a_service_only_on_its_changeset_with_its_owners_as_submitters(
    files: Files, groovy_jar: Path
) -> None:
    written = files["promote-per-service"]["jenkins"]
    report = jenkins_report(groovy_jar, written["jenkins/release-promote-auth.Jenkinsfile"])
    stages = [fields[1] for fields in report if fields[0] == "stage"]
    assert stages == [
        stage
        for env in ("dev", "staging", "prod")
        for stage in (f"auth migrations {env}", f"Approve auth in {env}", f"auth release {env}")
    ]
    whens = jenkins_whens(report)
    assert set(whens) == set(stages)
    for stage, conditions in whens.items():
        before = "beforeInput" if stage.startswith("Approve") else "beforeAgent"
        assert conditions == f"{before}=true;changeset=releases/auth.yaml", stage
    submitters = {fields[1]: fields[2] for fields in report if fields[0] == "input"}
    assert submitters == {
        f"Approve auth in {env}": "@acme/identity" for env in ("dev", "staging", "prod")
    }
    text = written["jenkins/release-promote-auth.Jenkinsfile"].read_text()
    assert "lock('deploy-staging-svc-auth')" in text
    assert "lock('deploy-staging-infrastructure')" in text


def test_jenkins_infrastructure_runs_on_any_change_outside_releases(
    files: Files, groovy_jar: Path
) -> None:
    written = files["prod-per-service"]["jenkins"]
    report = jenkins_report(groovy_jar, written["jenkins/infrastructure-prod.Jenkinsfile"])
    pattern = "changeset(pattern=^(?!releases/).*,comparator=REGEXP)"
    assert set(jenkins_whens(report).values()) == {
        f"beforeInput=true;{pattern}",
        f"beforeAgent=true;{pattern}",
    }
    expression = re.compile("^(?!releases/).*")
    for changed in CHANGED:
        # Jenkins' REGEXP comparator matches each changed path against the whole expression.
        starts = any(expression.fullmatch(path) for path in changed)
        assert starts == Trigger(kind="outside", path="releases").starts_on(changed), changed


def test_jenkins_region_promotion_runs_the_waves_in_parallel_stages(
    files: Files, groovy_jar: Path
) -> None:
    (path,) = files["promote-regions"]["jenkins"].values()
    report = jenkins_report(groovy_jar, path)
    stages = [fields[1] for fields in report if fields[0] == "stage"]
    assert stages[-3:] == ["Approve prod", "prod wave 1", "prod wave 2"]
    branches = [(f[1], f[2], f[3]) for f in report if f[0] == "branch"]
    assert branches[-3:] == [
        ("prod wave 1", "prod-us-east-1", "deploy-prod-us-east-1"),
        ("prod wave 2", "prod-eu-west-1", "deploy-prod-eu-west-1"),
        ("prod wave 2", "prod-ap-southeast-2", "deploy-prod-ap-southeast-2"),
    ]


def circleci_mapping(written: dict[str, Path]) -> list[tuple[str, str, str]]:
    setup = load(written[".circleci/config.yml"])
    assert setup["setup"] is True
    assert setup["orbs"] == {"path-filtering": "circleci/path-filtering@3.0.0"}
    ((_, job),) = [next(iter(j.items())) for j in setup["workflows"]["choose-pipelines"]["jobs"]]
    assert job["config-path"] == ".circleci/continue_config.yml"
    assert job["base-revision"] == "main"
    return [tuple(line.split()) for line in job["mapping"].splitlines()]


@pytest.mark.parametrize("changed", CHANGED)
def test_circleci_path_filter_sets_the_parameters_the_model_says(
    changed: list[str], files: Files
) -> None:
    written = files["prod-per-service"]["circleci"]
    continuation = load(written[".circleci/continue_config.yml"])
    mapping = circleci_mapping(written)
    pipelines = SETS["prod-per-service"].pipelines
    # Every pipeline a push starts has its line, so the loop below checks each of them.
    assert sorted(parameter for _, parameter, _ in mapping) == sorted(
        p.switch for p in pipelines if p.trigger.kind != "manual"
    )
    for expression, parameter, value in mapping:
        assert value == "true" and parameter in continuation["parameters"]
        # The orb's create_parameters.py: re.compile('^' + path + '$').match(change).
        starts = any(re.compile("^" + expression + "$").match(path) for path in changed)
        trigger = (
            Trigger(kind="outside", path="releases")
            if parameter.startswith("infrastructure")
            else Trigger(kind="changes", path=f"releases/{parameter.rsplit('-', 1)[1]}.yaml")
        )
        assert starts == trigger.starts_on(changed), (parameter, changed)


def test_circleci_workflows_approve_then_release_in_a_serial_group(files: Files) -> None:
    continuation = load(files["promote-per-service"]["circleci"][".circleci/continue_config.yml"])
    workflow = continuation["workflows"]["release-promote-orders"]
    assert workflow["when"] == "<< pipeline.parameters.release-promote-orders >>"
    entries = [next(iter(entry.items())) for entry in workflow["jobs"]]
    names = [name for name, _ in entries]
    assert names == [
        name
        for env in ("dev", "staging", "prod")
        for name in (
            f"orders-migrations-{env}",
            f"approve-orders-release-{env}",
            f"orders-release-{env}",
        )
    ]
    spec = dict(entries)
    assert "requires" not in spec["orders-migrations-dev"]
    assert spec["approve-orders-release-prod"] == {
        "type": "approval",
        "requires": ["orders-migrations-prod"],
    }
    assert spec["orders-release-prod"]["requires"] == ["approve-orders-release-prod"]
    assert spec["orders-migrations-prod"]["requires"] == ["orders-release-staging"]
    assert spec["orders-release-prod"]["serial-group"] == (
        "<< pipeline.project.slug >>/deploy-prod-svc-orders"
    )


def travis_jobs(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config = load(path)
    return config, config["jobs"]["include"]


def test_travis_stages_promote_the_environments_in_order(files: Files) -> None:
    config, jobs = travis_jobs(files["promote-per-service"]["travis"][".travis.yml"])
    assert config["if"] == "branch = main AND type = push"
    stages = [stage["name"] for stage in config["stages"]]
    assert stages == [
        f"{env} {phase}"
        for env in ("dev", "staging", "prod")
        for phase in ("infrastructure and migrations", "release")
    ]
    for job in jobs:
        assert job["stage"] in stages, job
    text = files["promote-per-service"]["travis"][".travis.yml"].read_text()
    assert "Travis CI has no approval step" in text


@pytest.fixture()
def repository(tmp_path: Path) -> tuple[Path, str]:
    """A git repository whose last push changed releases/orders.yaml, and stand-ins for the
    commands a job runs (each prints what it was asked to do)."""
    git = shutil.which("git")
    assert git, "git is needed to run the Travis CI guard"

    def run(*args: str) -> str:
        return subprocess.run(
            [git, "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    run("init", "-q")
    (tmp_path / "releases").mkdir()
    (tmp_path / "releases" / "orders.yaml").write_text("image: a:1\n")
    run("add", ".")
    run("commit", "-qm", "one")
    before = run("rev-parse", "HEAD")
    (tmp_path / "releases" / "orders.yaml").write_text("image: a:2\n")
    run("commit", "-qam", "two")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text('#!/bin/sh\necho "ran: $*"\n')
    python.chmod(0o755)
    return tmp_path, f"{before}...{run('rev-parse', 'HEAD')}"


def test_travis_guard_runs_a_job_only_when_its_pipeline_changed(
    files: Files, repository: tuple[Path, str]
) -> None:
    folder, commit_range = repository
    _, jobs = travis_jobs(files["prod-per-service"]["travis"][".travis.yml"])
    outputs = {}
    for job in jobs:
        result = subprocess.run(
            ["bash", "-c", f'travis_wait() {{ shift; "$@"; }}\n{job["script"]}'],
            cwd=folder,
            env={"PATH": "/usr/bin:/bin", "TRAVIS_COMMIT_RANGE": commit_range},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (job["name"], result.stderr)
        outputs[job["name"]] = result.stdout
    assert outputs["orders release prod"] == (
        "ran: -m ops preview --stack prod-svc-orders --markdown preview-prod-svc-orders.md\n"
        "ran: -m ops release --env prod --service orders\n"
    )
    assert outputs["orders migrations prod"] == (
        "ran: -m ops release --env prod --service orders --migrations\n"
    )
    assert outputs["auth release prod"] == (
        f"releases/auth.yaml unchanged in {commit_range}, nothing to deploy\n"
    )
    assert outputs["infrastructure prod"] == (
        f"nothing outside releases/ changed in {commit_range}, nothing to deploy\n"
    )


# --- every line any job runs --------------------------------------------------------------------


def lines_of(ci: str, rel: str, path: Path) -> list[str]:
    text = path.read_text()
    if ci == "jenkins":
        scripts = re.findall(r"sh '''\n(.*?)'''", text, re.DOTALL)
        return [line for script in scripts for line in commands_of(script)]
    document = load(path)
    if ci == "github":
        return [
            line
            for job in document["jobs"].values()
            for step in job["steps"]
            if "run" in step
            for line in commands_of(step["run"])
        ]
    if ci == "gitlab":
        return [
            line
            for job in document.values()
            if isinstance(job, dict) and "script" in job
            for line in job["before_script"] + job["script"]
        ]
    if ci == "circleci":
        return [
            line
            for job in document.get("jobs", {}).values()
            for step in job["steps"]
            if isinstance(step, dict)
            for line in commands_of(step["run"]["command"])
        ]
    lines = list(document["install"])
    # Region stacks' jobs share the build's script; the others have their own.
    for job in document["jobs"]["include"]:
        (script,) = [job["script"]] if "script" in job else document["script"]
        guarded = re.fullmatch(
            r"if (?P<guard>.*?); then (?P<run>.*); else (?P<skip>.*); fi", script
        )
        if guarded:
            diff = 'git diff --name-only "$TRAVIS_COMMIT_RANGE" | '
            assert guarded["guard"] in (
                diff + "grep -qv '^releases/'",
                *(diff + f"grep -qxF 'releases/{s}.yaml'" for s in SERVICES),
            ), script
            assert guarded["skip"].startswith('echo "'), script
            script = guarded["run"]
        lines += [part.removeprefix("travis_wait 180 ") for part in script.split(" && ")]
    return lines


@pytest.mark.parametrize("ci", sorted(SYSTEMS))
@pytest.mark.parametrize("name", sorted(SETS))
def test_every_job_runs_only_setup_and_the_projects_commands(
    ci: str, name: str, files: Files
) -> None:
    for rel, path in files[name][ci].items():
        if rel.endswith("CODEOWNERS") or "/per-service-" in rel:
            continue
        if ci == "circleci" and "setup: true" in path.read_text():
            continue
        lines = lines_of(ci, rel, path)
        assert lines, rel
        for line in lines:
            assert any(p.match(line) for p in ALLOWED), f"{ci} {rel}: {line}"
        result = subprocess.run(
            ["bash", "-n"], input="\n".join(lines), text=True, capture_output=True
        )
        assert result.returncode == 0, f"{ci} {rel}: {result.stderr}"


# --- CODEOWNERS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ci", "rel"), [("github", ".github/CODEOWNERS"), ("gitlab", ".gitlab/CODEOWNERS")]
)
def test_codeowners_maps_release_files_and_migrations_to_their_approvers(
    ci: str, rel: str, files: Files
) -> None:
    text = files["promote-per-service"][ci][rel].read_text()
    entries = [line for line in text.splitlines() if line and not line.startswith("# Generated")]
    assert [line for line in entries if not line.startswith("# ") or "/" in line] == [
        "/releases/auth.yaml @acme/identity",
        "# /releases/orders.yaml has no approvers: owner team orders names none",
        "/releases/payments.yaml @acme/payments-leads alice@example.com",
        "# /releases/search.yaml has no approvers: no owner is configured",
        "# /migrations/orders-add-status/ has no approvers: owner team orders names none",
        "/migrations/payments-add-currency/ @acme/payments-leads alice@example.com",
    ]


def test_codeowners_are_written_for_github_and_gitlab_only(files: Files) -> None:
    for ci in ("jenkins", "circleci", "travis"):
        assert not any("CODEOWNERS" in rel for rel in files["promote-per-service"][ci]), ci
    assert not any("CODEOWNERS" in rel for rel in files["promote-regions"]["github"])


# --- the command, on the repository's stack files ------------------------------------------------


@pytest.fixture
def per_service_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's stack files, dev, staging and prod with `layout: per-service`."""
    project = tmp_path / "project"
    project.mkdir()
    for source in ROOT.glob("Pulumi*.yaml"):
        text = source.read_text()
        if source.name in ("Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"):
            text = text.replace("config:\n", "config:\n  deploypaths:layout: per-service\n", 1)
        (project / source.name).write_text(text)
    (project / "requirements.txt").write_text((ROOT / "requirements.txt").read_text())
    monkeypatch.setattr(pipelines, "PROJECT_DIR", project)
    return project


def test_the_command_writes_per_service_and_promotion_pipelines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], per_service_project: Path
) -> None:
    out = tmp_path / "out"
    argv = ["pipelines", "--promote", "dev,staging,prod", "--per-service", "--out", str(out)]
    for ci in SYSTEMS:
        assert main([*argv, "--ci", ci]) == 0, capsys.readouterr().err
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {
        ".github/CODEOWNERS",
        ".github/workflows/infrastructure-promote.yml",
        ".gitlab/CODEOWNERS",
        ".gitlab/ci/per-service-promote.yml",
        ".circleci/config.yml",
        ".circleci/continue_config.yml",
        ".travis.yml",
        "jenkins/infrastructure-promote.Jenkinsfile",
    } <= written
    assert ".github/workflows/release-promote-orders.yml" in written
    header = (out / ".travis.yml").read_text().splitlines()[0]
    assert header.startswith(
        "# Generated by `python -m ops pipelines --promote dev,staging,prod --per-service --ci "
    )
    # The owners the stack files name: the release file and the migration's folder.
    codeowners = (out / ".github/CODEOWNERS").read_text().splitlines()
    assert "/releases/orders.yaml @acme/checkout checkout-leads@example.com" in codeowners
    assert "/migrations/orders-add-status/ @acme/checkout checkout-leads@example.com" in codeowners


def test_region_pipelines_promote_environments_of_region_stacks(tmp_path: Path) -> None:
    argv = ["pipelines", "--promote", "dev,staging,prod", "--ci", "gitlab", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert (tmp_path / ".gitlab/ci/deploy-promote-regions.yml").exists()


def test_per_service_pipelines_need_per_service_environments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["pipelines", "--env", "prod", "--per-service", "--ci", "github", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --per-service: environment prod's layout is single; set "
        "`deploypaths:layout: per-service` in Pulumi.prod.yaml first (docs/per-service.md)"
    )
    assert not list(tmp_path.iterdir()), "nothing is written"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--promote", "dev,qa,prod", "--ci", "github"],
            "error: --promote dev,qa,prod: qa not a stack of this project "
            "(stacks: dev, local, prod, staging)",
        ),
        (
            ["--promote", "dev", "--ci", "github"],
            "error: --promote dev: two or more different environments, in promotion order "
            "(dev,staging,prod)",
        ),
        (
            ["--promote", "dev,dev", "--ci", "github", "--per-service"],
            "error: --promote dev,dev: two or more different environments, in promotion order "
            "(dev,staging,prod)",
        ),
        (
            ["--env", "qa", "--ci", "gitlab", "--per-service"],
            "error: --env qa: not a stack of this project (stacks: dev, local, prod, staging)",
        ),
    ],
)
def test_bad_promotion_arguments_are_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pipelines", *argv, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not any(tmp_path.iterdir()), "nothing is written on bad input"
