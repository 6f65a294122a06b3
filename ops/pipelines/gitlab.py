"""GitLab CI: a file per pipeline that .gitlab-ci.yml includes beside its hand-written
single-stack jobs; a wave is a job with a stack matrix, a lock is a resource group, a manual job
in a protected environment is an approval."""

from __future__ import annotations

from ops.pipelines.flow import COMMIT, Job, Pipeline, PipelineSet
from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION
from ops.pipelines.text import comment_lines, flow_list, header

CI = "gitlab"
IMAGE = f"python:{PYTHON_VERSION}-bookworm"
# By region (the committed .gitlab/ci/deploy-<env>-regions.yml).
ABOUT = [
    "GitLab reads one .gitlab-ci.yml, which includes this file (`include: local`). It runs in "
    "a pipeline started by hand (Build > Pipelines > Run pipeline) "
    "with {variable} set to yes, so it never races the single-stack deploy of {env} that "
    ".gitlab-ci.yml runs on the default branch: an environment has one layout at a time.",
    "The approval: `{approve}` is a manual job in the `{approval}` environment (protect it: "
    "who may deploy to it may start the waves); the waves need it, and it blocks the pipeline "
    "until someone runs it. One resource group per region stack, `deploy-<stack>`: two "
    "updates of a stack never race.",
    "The jobs set up their own image and before_script (the pinned Pulumi CLI, then the "
    "virtualenv), so they do not depend on the including file's defaults.",
]


# Per service.
FLOW_ABOUT = (
    "GitLab: .gitlab-ci.yml includes {entry} (`include: local`); GitLab runs one pipeline per "
    "push, in which each job's `rules` decide whether it runs. `needs` orders the jobs; an "
    "approval is a manual job (`when: manual`, `allow_failure: false`) in a protected "
    "environment: protect it (Settings > CI/CD > Protected environments) and allow only the "
    "approvers named above the job to deploy to it. One resource group per lock: updates of a "
    "stack queue, never race."
)
PUSHED = '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'


def outside_globs(folder: str) -> tuple[str, ...]:
    """Globs that match every path whose first component is not `folder`. GitLab's `changes`
    globs have no negation (File.fnmatch with FNM_PATHNAME, FNM_DOTMATCH and FNM_EXTGLOB), so
    "anything else" is spelled as: a top-level file, or a first component that differs from
    `folder` at some character, is shorter than it, or is longer."""
    heads = []
    for position, character in enumerate(folder):
        head = folder[:position]
        if head:
            heads.append(head)
        heads.append(f"{head}[^{character}]*")
    heads.append(f"{folder}?*")
    return ("*", "{" + ",".join(heads) + "}/**/*")


def flow_entry(pipelines: PipelineSet) -> str:
    if pipelines.per_service:
        return f".gitlab/ci/per-service-{pipelines.scope}.yml"
    return f".gitlab/ci/{pipelines.pipelines[0].name}.yml"


def flow_files(pipelines: PipelineSet) -> dict[str, str]:
    """Relative path -> text: a file per pipeline and, per service, the one file that includes
    them all (what .gitlab-ci.yml includes)."""
    files = {
        f".gitlab/ci/{pipeline.name}.yml": render_pipeline(pipelines, pipeline)
        for pipeline in pipelines.pipelines
    }
    if pipelines.per_service:
        files[flow_entry(pipelines)] = "".join(
            [
                header(
                    pipelines,
                    CI,
                    (
                        "Include this file from .gitlab-ci.yml (`include: local`): it includes "
                        "one file per service's pipeline and the infrastructure pipeline.",
                    ),
                ),
                "include:\n",
                *(f"  - local: {path}\n" for path in files),
            ]
        )
    return files


def manual_variable(pipeline: Pipeline) -> str:
    return pipeline.switch.upper().replace("-", "_")


def rules_of(pipeline: Pipeline, manual: bool) -> list[str]:
    trigger = pipeline.trigger
    when = ["      when: manual\n"] if manual else []
    if trigger.kind == "manual":
        started = f'$CI_PIPELINE_SOURCE == "web" && ${manual_variable(pipeline)} == "yes"'
        return ["  rules:\n", f"    - if: {started}\n", *when]
    paths = (trigger.path,) if trigger.kind == "changes" else outside_globs(trigger.path)
    return [
        "  rules:\n",
        f"    - if: {PUSHED}\n",
        "      changes:\n",
        *(f'        - "{path}"\n' for path in paths),
        *when,
    ]


def about_of(pipelines: PipelineSet, pipeline: Pipeline) -> list[str]:
    if not pipelines.by_region:
        return [*pipeline.about, FLOW_ABOUT.format(entry=flow_entry(pipelines))]
    approve, approval = pipeline.first_approval
    values = {
        "env": pipelines.env,
        "variable": manual_variable(pipeline),
        "approve": approve.id,
        "approval": approval.environment,
    }
    return [*pipeline.about, *(p.format(**values) for p in ABOUT)]


def steps_of(pipelines: PipelineSet, job: Job) -> list[str]:
    """The job's before_script (the Pulumi CLI when it deploys, then the virtualenv) and script."""
    setup = (*pipelines.install_cli, MAKE_VENV) if job.deploys else (MAKE_VENV,)
    return [
        "  before_script:\n",
        *(f"    - {line}\n" for line in setup),
        "  script:\n",
        *(f"    - {step.command.replace(COMMIT, '$CI_COMMIT_SHORT_SHA')}\n" for step in job.steps),
    ]


def render_pipeline(pipelines: PipelineSet, pipeline: Pipeline) -> str:
    parts = [header(pipelines, CI, about_of(pipelines, pipeline))]
    if pipeline.trigger.kind == "manual":
        parts += [
            "\nvariables:\n",
            f"  {manual_variable(pipeline)}:\n",
            '    value: "no"\n',
            '    options: ["no", "yes"]\n',
            f'    description: "yes: {pipeline.action}"\n',
        ]
    # The wave jobs extend one template: the same steps, each stack of the matrix as STACK.
    template = f".deploy-{pipelines.scope}-region"
    waves = [job for job in pipeline.jobs if job.wave]
    for job in pipeline.jobs:
        if job.wave:
            if job is waves[0]:
                parts += [f"\n{template}:\n", "  stage: deploy\n", f"  image: {IMAGE}\n"]
                parts += rules_of(pipeline, manual=False)
                parts += [f"  resource_group: {job.lock}\n", "  timeout: 3h\n"]
                parts += steps_of(pipelines, job)
            parts += [
                f"\n{job.id}:\n",
                f"  extends: {template}\n",
                f"  needs: {flow_list(job.needs)}\n",
                "  parallel:\n",
                "    matrix:\n",
                f"      - STACK: {flow_list(job.wave.stacks)}\n",
            ]
            continue
        parts += [f"\n{job.id}:\n", "  stage: deploy\n", f"  image: {IMAGE}\n"]
        parts += rules_of(pipeline, manual=job.approval is not None)
        if job.approval:
            parts.append("  allow_failure: false\n")
            if job.deploys:
                parts.append(
                    comment_lines(
                        f"The approval ({job.approval.what}): who may deploy to the protected "
                        f"environment {job.approval.environment}: {job.approval.who}.",
                        2,
                    )
                )
            parts += ["  environment:\n", f"    name: {job.approval.environment}\n"]
        # `needs: []` starts the first jobs at once, not after the earlier stages' jobs; the
        # approval of a region pipeline waits for them.
        if job.needs or job.deploys:
            parts.append(f"  needs: {flow_list(job.needs)}\n")
        if job.lock:
            parts.append(f"  resource_group: {job.lock}\n")
        if job.deploys:
            parts.append("  timeout: 3h\n")
        parts += steps_of(pipelines, job)
    return "".join(parts)
