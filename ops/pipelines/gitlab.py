"""GitLab CI: a file per environment that .gitlab-ci.yml includes beside its hand-written
single-stack jobs; a wave is a job with a stack matrix, one resource group per region stack, a
manual job in the protected environment is the approval."""

from __future__ import annotations

from ops.pipelines.flow import COMMIT, Pipeline, PipelineSet
from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import comment_lines, flow_header, flow_list, generated_header, indent

CI = "gitlab"
IMAGE = f"python:{PYTHON_VERSION}-bookworm"
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


def path(rollout: Rollout) -> str:
    return f".gitlab/ci/deploy-{rollout.environment}-regions.yml"


def render(rollout: Rollout) -> str:
    env = rollout.environment
    variable = f"DEPLOY_{env.upper().replace('-', '_')}_BY_REGION"
    approve = f"approve-{env}"
    template = f".deploy-{env}-region"
    started = f'$CI_PIPELINE_SOURCE == "web" && ${variable} == "yes"'
    preview, deploy = rollout.region_commands(commit="$CI_COMMIT_SHORT_SHA")
    about = [
        p.format(env=env, variable=variable, approve=approve, approval=rollout.approval_environment)
        for p in ABOUT
    ]
    setup = "".join(f"- {line}\n" for line in (*rollout.install_cli, MAKE_VENV))
    parts = [
        generated_header(CI, rollout, about),
        "\nvariables:\n",
        f"  {variable}:\n",
        '    value: "no"\n',
        '    options: ["no", "yes"]\n',
        f'    description: "yes: deploy {env} region by region, wave by wave, after {approve}"\n',
        f"\n{approve}:\n",
        "  stage: deploy\n",
        f"  image: {IMAGE}\n",
        "  rules:\n",
        f"    - if: {started}\n",
        "      when: manual\n",
        "  allow_failure: false\n",
        "  environment:\n",
        f"    name: {rollout.approval_environment}\n",
        "  before_script:\n",
        f"    - {MAKE_VENV}\n",
        "  script:\n",
        f"    - {rollout.plan}\n",
        f"\n{template}:\n",
        "  stage: deploy\n",
        f"  image: {IMAGE}\n",
        "  rules:\n",
        f"    - if: {started}\n",
        "  resource_group: deploy-$STACK\n",
        "  timeout: 3h\n",
        "  before_script:\n",
        indent(setup, 4),
        "  script:\n",
        f"    - {preview}\n",
        f"    - {deploy}\n",
    ]
    previous = approve
    for number, regions in enumerate(rollout.waves, start=1):
        job = f"deploy-{env}-wave-{number}"
        stacks = [rollout.stack(region) for region in regions]
        parts += [
            f"\n{job}:\n",
            f"  extends: {template}\n",
            f"  needs: [{previous}]\n",
            "  parallel:\n",
            "    matrix:\n",
            f"      - STACK: {flow_list(stacks)}\n",
        ]
        previous = job
    return "".join(parts)


# --- per service and promotion (ops/pipelines/flow.py) ------------------------------------------

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
                flow_header(
                    f"{pipelines.command} --ci {CI}",
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
    return pipeline.name.upper().replace("-", "_")


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


def render_pipeline(pipelines: PipelineSet, pipeline: Pipeline) -> str:
    about = FLOW_ABOUT.format(entry=flow_entry(pipelines))
    setup = "".join(f"- {line}\n" for line in (*pipelines.install_cli, MAKE_VENV))
    parts = [flow_header(f"{pipelines.command} --ci {CI}", (*pipeline.about, about))]
    if pipeline.trigger.kind == "manual":
        parts += [
            "\nvariables:\n",
            f"  {manual_variable(pipeline)}:\n",
            '    value: "no"\n',
            '    options: ["no", "yes"]\n',
            f'    description: "yes: {pipeline.title.lower()}"\n',
        ]
    for job in pipeline.jobs:
        parts += [f"\n{job.id}:\n", "  stage: deploy\n", f"  image: {IMAGE}\n"]
        parts += rules_of(pipeline, manual=job.approval is not None)
        if job.approval:
            parts += [
                "  allow_failure: false\n",
                comment_lines(
                    f"The approval ({job.approval.what}): who may deploy to the protected "
                    f"environment {job.approval.environment}: {job.approval.who}.",
                    2,
                ),
                "  environment:\n",
                f"    name: {job.approval.environment}\n",
            ]
        # `needs: []` starts the first jobs at once, not after the earlier stages' jobs.
        parts.append(f"  needs: {flow_list(job.needs)}\n")
        if job.lock:
            parts.append(f"  resource_group: {job.lock}\n")
        parts += [
            "  timeout: 3h\n",
            "  before_script:\n",
            indent(setup, 4),
            "  script:\n",
            *(
                f"    - {step.command.replace(COMMIT, '$CI_COMMIT_SHORT_SHA')}\n"
                for step in job.steps
            ),
        ]
    return "".join(parts)
