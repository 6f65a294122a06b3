"""Travis CI: a build stage per wave with a job per region stack; Travis has no approval step and
no per-stack concurrency group, so the build runs only when started by hand."""

from __future__ import annotations

from ops.pipelines.flow import BRANCH, COMMIT, Job, Pipeline, PipelineSet, combined_about
from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import flow_header, generated_header

CI = "travis"
ABOUT = [
    "Travis CI has no approval step: the build runs only when someone with write access starts "
    "it by hand (Trigger build in the web app, or the API: build type `api`), and that start is "
    "the approval for {env}. Pushes and pull requests build nothing here.",
    "Travis CI has no per-stack concurrency group either: what keeps two updates of a region "
    "stack apart is the backend's stack lock, so a second `ops up` of a stack fails at once "
    "instead of racing the first (set the repository's concurrent-jobs limit to 1 to queue "
    "whole builds instead, at the cost of the waves' parallelism). Backend and AWS settings "
    "come from the repository's environment variables.",
]


def path(rollout: Rollout) -> str:
    return ".travis.yml"


def render(rollout: Rollout) -> str:
    env = rollout.environment
    preview, deploy = rollout.region_commands(commit="$TRAVIS_COMMIT")
    about = [p.format(env=env) for p in ABOUT]
    names = [f"{env} wave {number}" for number in range(1, len(rollout.waves) + 1)]
    parts = [
        generated_header(CI, rollout, about),
        "os: linux\n",
        "dist: jammy\n",
        "language: python\n",
        f'python: "{PYTHON_VERSION}"\n',
        "if: type = api\n",
        "\ninstall:\n",
        *(f"  - {line}\n" for line in (*rollout.install_cli, MAKE_VENV)),
        "\nscript:\n",
        # Travis runs every script line even after one failed: the deploy must follow the
        # checks in one line. A health gate bakes without printing, and Travis ends a job that
        # is silent for 10 minutes: travis_wait keeps it alive.
        f"  - {preview} && travis_wait 180 {deploy}\n",
        "\nstages:\n",
        *(f"  - name: {name}\n" for name in names),
        "\njobs:\n",
        "  include:\n",
    ]
    for name, regions in zip(names, rollout.waves, strict=True):
        for region in regions:
            stack = rollout.stack(region)
            parts += [
                f"    - stage: {name}\n",
                f"      name: {stack}\n",
                f"      env: STACK={stack}\n",
            ]
    return "".join(parts)


# --- per service and promotion (ops/pipelines/flow.py) ------------------------------------------

FLOW_ABOUT = (
    "Travis CI: one .travis.yml per repository, so every pipeline above is a set of jobs in one "
    "build, in build stages that run one after another (a failed job stops the stages after "
    "it, for every pipeline of the build). Travis CI has no approval step: {approvals} It has "
    "no per-stack concurrency group either: the backend's stack lock makes a second update of "
    "a stack fail at once instead of racing the first (jobs of one stage run side by side, so "
    "two services' migrations jobs that both deploy the region stacks: one fails). Backend and "
    "AWS settings come from the repository's environment variables."
)
APPROVALS = {
    True: (
        "nothing here waits for the owners' approval; a push to the branch is the release, so "
        "protect the branch and require the owners' review of the release files (CODEOWNERS)."
    ),
    False: "the build runs only when started by hand, and that start is the approval.",
}
GUARDS = {
    # Travis has no path filter: each job compares the pushed commit range itself.
    "changes": "git diff --name-only \"$TRAVIS_COMMIT_RANGE\" | grep -qxF '{path}'",
    "outside": "git diff --name-only \"$TRAVIS_COMMIT_RANGE\" | grep -qv '^{path}/'",
}
UNCHANGED = {
    "changes": 'echo "{path} unchanged in $TRAVIS_COMMIT_RANGE, nothing to deploy"',
    "outside": 'echo "nothing outside {path}/ changed in $TRAVIS_COMMIT_RANGE, nothing to deploy"',
}


def flow_files(pipelines: PipelineSet) -> dict[str, str]:
    return {".travis.yml": render_pipelines(pipelines)}


def stages_of(pipelines: PipelineSet) -> list[str]:
    """Every job's stage, in an order that keeps each pipeline's jobs after what they need."""
    after: dict[str, set[str]] = {}
    for pipeline in pipelines.pipelines:
        jobs = {job.id: job for job in pipeline.jobs}
        for job in pipeline.jobs:
            after.setdefault(job.stage, set())
            after[job.stage] |= {jobs[need].stage for need in job.needs} - {job.stage}
    ordered: list[str] = []
    while len(ordered) < len(after):
        ready = [s for s in after if s not in ordered and after[s] <= set(ordered)]
        if not ready:
            raise ValueError(f"stages wait for each other: {sorted(set(after) - set(ordered))}")
        ordered.append(ready[0])
    return ordered


def script_of(pipeline: Pipeline, job: Job) -> str:
    commands = [step.command.replace(COMMIT, "$TRAVIS_COMMIT") for step in job.steps]
    # Travis runs every script line even after one failed: one line, the deploy last. A health
    # gate bakes without printing, and Travis ends a job silent for 10 minutes: travis_wait.
    commands[-1] = f"travis_wait 180 {commands[-1]}"
    deploy = " && ".join(commands)
    trigger = pipeline.trigger
    if trigger.kind == "manual":
        return deploy
    guard = GUARDS[trigger.kind].format(path=trigger.path)
    unchanged = UNCHANGED[trigger.kind].format(path=trigger.path)
    return f"if {guard}; then {deploy}; else {unchanged}; fi"


def render_pipelines(pipelines: PipelineSet) -> str:
    manual = all(p.trigger.kind == "manual" for p in pipelines.pipelines)
    about = [
        *combined_about(pipelines),
        FLOW_ABOUT.format(approvals=APPROVALS[not manual]),
    ]
    parts = [
        flow_header(f"{pipelines.command} --ci {CI}", about),
        "os: linux\n",
        "dist: jammy\n",
        "language: python\n",
        f'python: "{PYTHON_VERSION}"\n',
        "if: type = api\n" if manual else f"if: branch = {BRANCH} AND type = push\n",
        "\ninstall:\n",
        *(f"  - {line}\n" for line in (*pipelines.install_cli, MAKE_VENV)),
        "\nstages:\n",
        *(f"  - name: {stage}\n" for stage in stages_of(pipelines)),
        "\njobs:\n",
        "  include:\n",
    ]
    for pipeline in pipelines.pipelines:
        for job in pipeline.jobs:
            parts += [
                f"    - stage: {job.stage}\n",
                f"      name: {job.title}\n",
                f"      script: {script_of(pipeline, job)}\n",
            ]
    return "".join(parts)
