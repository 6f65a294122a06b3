"""Travis CI: one build of every pipeline's jobs in build stages, a wave's being a job per region
stack; Travis has no approval step and no per-stack concurrency group, so a region build runs
only when started by hand."""

from __future__ import annotations

from collections.abc import Iterator

from ops.pipelines.flow import BRANCH, COMMIT, Job, Pipeline, PipelineSet, combined_about
from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION
from ops.pipelines.text import header

CI = "travis"
# By region (the committed .travis.yml).
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


# Per service.
FLOW_ABOUT = (
    "Travis CI: one .travis.yml per repository, so every pipeline above is a set of jobs in one "
    "build, in build stages that run one after another (a failed job stops the stages after "
    "it, for every pipeline of the build). Travis CI has no approval step: {approvals} It has "
    "no per-stack concurrency group either: the backend's stack lock makes a second update of "
    "a stack fail at once instead of racing the first (jobs of one stage run side by side, so "
    "two services' migrations jobs that both deploy the region stacks: one fails). Backend and "
    "AWS settings come from the repository's environment variables."
)
APPROVALS = (
    "nothing here waits for the owners' approval; a push to the branch is the release, so "
    "protect the branch and require the owners' review of the release files (CODEOWNERS)."
)
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


def deploying(pipelines: PipelineSet) -> Iterator[tuple[Pipeline, Job]]:
    """The jobs of the build: a job that only shows the plan has no approval to wait for here,
    where the start of the build is the approval."""
    for pipeline in pipelines.pipelines:
        yield from ((pipeline, job) for job in pipeline.jobs if job.deploys)


def stages_of(pipelines: PipelineSet) -> list[str]:
    """Every job's stage, in an order that keeps each pipeline's jobs after what they need."""

    def needed(pipeline: Pipeline, job: Job) -> Iterator[str]:
        for need in map(pipeline.job, job.needs):
            yield from [need.stage] if need.deploys else needed(pipeline, need)

    after: dict[str, set[str]] = {}
    for pipeline, job in deploying(pipelines):
        after.setdefault(job.stage, set())
        after[job.stage] |= set(needed(pipeline, job)) - {job.stage}
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
    if pipelines.by_region:
        about = [*combined_about(pipelines), *(p.format(env=pipelines.env) for p in ABOUT)]
    else:
        about = [*combined_about(pipelines), FLOW_ABOUT.format(approvals=APPROVALS)]
    manual = all(p.trigger.kind == "manual" for p in pipelines.pipelines)
    jobs = list(deploying(pipelines))
    # Every wave runs the same script, each region stack's job with STACK set to the stack.
    waves = [script_of(pipeline, job) for pipeline, job in jobs if job.wave]
    parts = [
        header(pipelines, CI, about),
        "os: linux\n",
        "dist: jammy\n",
        "language: python\n",
        f'python: "{PYTHON_VERSION}"\n',
        "if: type = api\n" if manual else f"if: branch = {BRANCH} AND type = push\n",
        "\ninstall:\n",
        *(f"  - {line}\n" for line in (*pipelines.install_cli, MAKE_VENV)),
        f"\nscript:\n  - {waves[0]}\n" if waves else "",
        "\nstages:\n",
        *(f"  - name: {stage}\n" for stage in stages_of(pipelines)),
        "\njobs:\n",
        "  include:\n",
    ]
    for pipeline, job in jobs:
        if job.wave:
            for stack in job.wave.stacks:
                parts += [
                    f"    - stage: {job.stage}\n",
                    f"      name: {stack}\n",
                    f"      env: STACK={stack}\n",
                ]
        else:
            parts += [
                f"    - stage: {job.stage}\n",
                f"      name: {job.title}\n",
                f"      script: {script_of(pipeline, job)}\n",
            ]
    return "".join(parts)
