"""CircleCI: a workflow per pipeline whose jobs `require` every job they need (a wave's, each of
its region stacks); an `approval` job is an approval, and a serial group per lock keeps two
updates of a stack apart."""

from __future__ import annotations

from ops.pipelines.flow import BRANCH, COMMIT, STACK, Job, Pipeline, PipelineSet, combined_about
from ops.pipelines.rollout import INSTALLER_PATH, MAKE_VENV, PYTHON_VERSION
from ops.pipelines.text import comment_lines, header

CI = "circleci"
IMAGE = f"cimg/python:{PYTHON_VERSION}"
# By region (the committed .circleci/config.yml).
ABOUT = [
    "The workflow runs only in a pipeline triggered by hand with the parameter {parameter} set "
    "to true (Trigger Pipeline in the web app, or the API), so it never races another deploy "
    "of {env}. The approval: the `{approve}` job of type approval (anyone with write access may "
    "approve it, unless the region jobs use a context restricted to a security group).",
    "Concurrency: CircleCI has no concurrency groups; each region job joins the serial group "
    "`<project>/deploy-<stack>`, which runs the jobs of a group one at a time across the "
    "organisation, queued in order. Backend and AWS settings come from the project's "
    "environment variables.",
]

PATH_FILTERING = "circleci/path-filtering@3.0.0"
CONTINUATION = ".circleci/continue_config.yml"
SETUP_ABOUT = (
    "CircleCI reads one .circleci/config.yml per project: this one is a setup workflow (turn on "
    "Project Settings > Advanced > Dynamic config using setup workflows). On a push to {branch}, "
    "the path-filtering orb's `filter` job diffs the commit against its parent, turns each "
    "mapping line (a regular expression over the changed paths, a pipeline parameter, a value) "
    "whose expression matches a changed file into a parameter, and continues the pipeline with "
    f"{CONTINUATION}, whose workflows run when their parameter is true."
)
# Per service.
FLOW_ABOUT = (
    "CircleCI: `requires` orders the jobs; an approval is an `approve-<job>` job of type "
    "approval (anyone with write access may approve it: CircleCI cannot name approvers, so "
    "the approvers are listed above each; restrict the job's context to their security group "
    "to enforce it). Each job joins the serial group `<project>/<lock>`: CircleCI runs the "
    "jobs of a group one at a time across the organisation, queued in order. Backend and AWS "
    "settings come from the project's environment variables."
)
# The one job definition every region stack of every wave runs, with its stack as a parameter.
REGION_JOB = "deploy-region-stack"


def run_step(name: str, command: str, extra: str = "") -> str:
    return f"      - run:\n          name: {name}\n          command: {command}\n{extra}"


def flow_files(pipelines: PipelineSet) -> dict[str, str]:
    """The setup config and its continuation (path-filtered pipelines), or for pipelines started
    by hand, one config whose workflows run when their parameter is set."""
    if all(p.trigger.kind == "manual" for p in pipelines.pipelines):
        return {".circleci/config.yml": render_workflows(pipelines, setup=False)}
    return {
        ".circleci/config.yml": render_setup(pipelines),
        CONTINUATION: render_workflows(pipelines, setup=True),
    }


def mapping_of(pipeline: Pipeline) -> str:
    trigger = pipeline.trigger
    if trigger.kind == "changes":
        expression = trigger.path.replace(".", r"\.")
    else:
        expression = f"(?!{trigger.path}/).*"
    return f"{expression} {pipeline.switch} true"


def render_setup(pipelines: PipelineSet) -> str:
    mapping = [mapping_of(p) for p in pipelines.pipelines if p.trigger.kind != "manual"]
    return "".join(
        [
            header(pipelines, CI, (SETUP_ABOUT.format(branch=BRANCH),)),
            "version: 2.1\n",
            "setup: true\n",
            f"\norbs:\n  path-filtering: {PATH_FILTERING}\n",
            "\nworkflows:\n",
            "  choose-pipelines:\n",
            "    jobs:\n",
            "      - path-filtering/filter:\n",
            "          name: choose-pipelines\n",
            f"          base-revision: {BRANCH}\n",
            f"          config-path: {CONTINUATION}\n",
            "          mapping: |\n",
            *(f"            {line}\n" for line in mapping),
            "          filters:\n",
            "            branches:\n",
            f"              only: {BRANCH}\n",
        ]
    )


def about_of(pipelines: PipelineSet, *, setup: bool) -> list[str]:
    if pipelines.by_region:
        (pipeline,) = pipelines.pipelines
        approve, _ = pipeline.first_approval
        values = {"env": pipelines.env, "parameter": pipeline.switch, "approve": approve.id}
        return [*pipeline.about, *(p.format(**values) for p in ABOUT)]
    first = (
        "The continuation of .circleci/config.yml (the setup workflow)."
        if setup
        else "Trigger a pipeline by hand with a workflow's parameter set to true."
    )
    return [first, *combined_about(pipelines), FLOW_ABOUT]


def definition(pipelines: PipelineSet, name: str, job: Job) -> list[str]:
    """The job's definition: the Pulumi CLI, the virtualenv, then its steps (a wave's with STACK
    set to the stack it is given)."""
    install, _ = pipelines.install_cli
    wave = [
        "    parameters:\n      stack:\n        type: string\n",
        f"    docker:\n      - image: {IMAGE}\n",
        "    environment:\n      STACK: << parameters.stack >>\n",
    ]
    parts = [
        f"  {name}:\n",
        *(wave if job.wave else [f"    docker:\n      - image: {IMAGE}\n"]),
        "    steps:\n",
        "      - checkout\n",
        # Each step is a new shell; $BASH_ENV is sourced by the ones after it.
        run_step(
            "Install the Pulumi CLI",
            f"|\n            {install}\n            echo '{INSTALLER_PATH}' >> \"$BASH_ENV\"",
        ),
        run_step("Set up the virtualenv", MAKE_VENV),
    ]
    for number, step in enumerate(job.steps, start=1):
        # A health gate bakes without printing; CircleCI ends a silent step after 10 minutes.
        last = "          no_output_timeout: 3h\n" if number == len(job.steps) else ""
        parts.append(run_step(step.name, step.command.replace(COMMIT, "$CIRCLE_SHA1"), last))
    return parts


def requires_of(pipeline: Pipeline, job: Job) -> list[str]:
    """What the job waits for: each job it needs, or each region stack of a wave it needs."""
    requires: list[str] = []
    for need in job.needs:
        wave = pipeline.job(need).wave
        requires += wave.stacks if wave else [need]
    return requires


def entries(pipeline: Pipeline, job: Job) -> list[str]:
    """The job's entries in its workflow: its approval first, if any; a wave's, one per stack."""
    requires = requires_of(pipeline, job)
    parts = []
    if job.approval:
        # A job that only shows the plan is its approval alone: the region jobs print their
        # own previews.
        approve = f"approve-{job.id}" if job.deploys else job.id
        if job.deploys:
            parts.append(comment_lines(f"Approvers of {job.approval.what}: {job.approval.who}.", 6))
        parts += [f"      - {approve}:\n", "          type: approval\n"]
        if requires:
            parts.append(f"          requires: [{', '.join(requires)}]\n")
        if not job.deploys:
            return parts
        requires = [approve]
    runs = [
        (stack, f"      - {REGION_JOB}:\n          name: {stack}\n          stack: {stack}\n")
        for stack in (job.wave.stacks if job.wave else ())
    ] or [("", f"      - {job.id}:\n")]
    for stack, entry in runs:
        parts.append(entry)
        if requires:
            parts.append(f"          requires: [{', '.join(requires)}]\n")
        if job.lock:
            group = job.lock.replace(STACK, stack)
            parts.append(f"          serial-group: << pipeline.project.slug >>/{group}\n")
    return parts


def render_workflows(pipelines: PipelineSet, *, setup: bool) -> str:
    parts = [header(pipelines, CI, about_of(pipelines, setup=setup)), "version: 2.1\n"]
    parts.append("\nparameters:\n")
    for pipeline in pipelines.pipelines:
        parts += [
            f"  {pipeline.switch}:\n",
            "    type: boolean\n",
            "    default: false\n",
            f"    description: {pipeline.action[0].upper()}{pipeline.action[1:]}\n",
        ]
    parts.append("\njobs:\n")
    jobs = [job for pipeline in pipelines.pipelines for job in pipeline.jobs if job.deploys]
    waves = [job for job in jobs if job.wave]
    for job in jobs:
        if not job.wave:
            parts += definition(pipelines, job.id, job)
        elif job is waves[0]:
            parts += definition(pipelines, REGION_JOB, job)
    parts.append("\nworkflows:\n")
    for pipeline in pipelines.pipelines:
        parts += [
            f"  {pipeline.switch}:\n",
            f"    when: << pipeline.parameters.{pipeline.switch} >>\n",
            "    jobs:\n",
        ]
        for job in pipeline.jobs:
            parts += entries(pipeline, job)
    return "".join(parts)
