"""CircleCI: a workflow whose region jobs `require` every job of the wave before; an `approval`
job is the approval, and a serial group per region stack keeps two updates of it apart."""

from __future__ import annotations

from ops.pipelines.flow import BRANCH, COMMIT, Pipeline, PipelineSet, combined_about
from ops.pipelines.rollout import INSTALLER_PATH, MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import comment_lines, flow_header, generated_header

CI = "circleci"
IMAGE = f"cimg/python:{PYTHON_VERSION}"
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


def path(rollout: Rollout) -> str:
    return ".circleci/config.yml"


def run_step(name: str, command: str, extra: str = "") -> str:
    return f"      - run:\n          name: {name}\n          command: {command}\n{extra}"


def render(rollout: Rollout) -> str:
    env = rollout.environment
    parameter = f"deploy-{env}-by-region"
    approve = f"approve-{env}"
    install, _ = rollout.install_cli
    preview, deploy = rollout.region_commands(commit="$CIRCLE_SHA1")
    about = [p.format(env=env, parameter=parameter, approve=approve) for p in ABOUT]
    parts = [
        generated_header(CI, rollout, about),
        "version: 2.1\n",
        "\nparameters:\n",
        f"  {parameter}:\n",
        "    type: boolean\n",
        "    default: false\n",
        f"    description: Deploy {env} region by region, wave by wave, after {approve}\n",
        "\njobs:\n",
        "  deploy-region-stack:\n",
        "    parameters:\n",
        "      stack:\n",
        "        type: string\n",
        f"    docker:\n      - image: {IMAGE}\n",
        "    environment:\n      STACK: << parameters.stack >>\n",
        "    steps:\n",
        "      - checkout\n",
        # Each step is a new shell; $BASH_ENV is sourced by the ones after it.
        run_step(
            "Install the Pulumi CLI",
            f"|\n            {install}\n            echo '{INSTALLER_PATH}' >> \"$BASH_ENV\"",
        ),
        run_step("Set up the virtualenv", MAKE_VENV),
        run_step("Refuse unsafe changes", preview),
        # A health gate bakes without printing; CircleCI ends a silent step after 10 minutes.
        run_step("Deploy", deploy, "          no_output_timeout: 3h\n"),
        "\nworkflows:\n",
        f"  deploy-{env}-by-region:\n",
        f"    when: << pipeline.parameters.{parameter} >>\n",
        "    jobs:\n",
        f"      - {approve}:\n",
        "          type: approval\n",
    ]
    previous = [approve]
    for regions in rollout.waves:
        stacks = [rollout.stack(region) for region in regions]
        for stack in stacks:
            parts += [
                "      - deploy-region-stack:\n",
                f"          name: {stack}\n",
                f"          stack: {stack}\n",
                f"          requires: [{', '.join(previous)}]\n",
                f"          serial-group: << pipeline.project.slug >>/deploy-{stack}\n",
            ]
        previous = stacks
    return "".join(parts)


# --- per service and promotion (ops/pipelines/flow.py) ------------------------------------------

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
FLOW_ABOUT = (
    "CircleCI: `requires` orders the jobs; an approval is an `approve-<job>` job of type "
    "approval (anyone with write access may approve it: CircleCI cannot name approvers, so "
    "the approvers are listed above each; restrict the job's context to their security group "
    "to enforce it). Each job joins the serial group `<project>/<lock>`: CircleCI runs the "
    "jobs of a group one at a time across the organisation, queued in order. Backend and AWS "
    "settings come from the project's environment variables."
)


def parameter_of(pipeline: Pipeline) -> str:
    return pipeline.name


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
    return f"{expression} {parameter_of(pipeline)} true"


def render_setup(pipelines: PipelineSet) -> str:
    mapping = [mapping_of(p) for p in pipelines.pipelines if p.trigger.kind != "manual"]
    return "".join(
        [
            flow_header(f"{pipelines.command} --ci {CI}", (SETUP_ABOUT.format(branch=BRANCH),)),
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


def render_workflows(pipelines: PipelineSet, *, setup: bool) -> str:
    install, _ = pipelines.install_cli
    # Each step is a new shell; $BASH_ENV is sourced by the ones after it.
    install_command = (
        f"|\n            {install}\n            echo '{INSTALLER_PATH}' >> \"$BASH_ENV\""
    )
    about = [
        *combined_about(pipelines),
        FLOW_ABOUT,
    ]
    if setup:
        about.insert(0, "The continuation of .circleci/config.yml (the setup workflow).")
    else:
        about.insert(0, "Trigger a pipeline by hand with a workflow's parameter set to true.")
    parts = [flow_header(f"{pipelines.command} --ci {CI}", about), "version: 2.1\n"]
    parts.append("\nparameters:\n")
    for pipeline in pipelines.pipelines:
        parts += [
            f"  {parameter_of(pipeline)}:\n",
            "    type: boolean\n",
            "    default: false\n",
            f"    description: {pipeline.title}\n",
        ]
    parts.append("\njobs:\n")
    for pipeline in pipelines.pipelines:
        for job in pipeline.jobs:
            parts += [
                f"  {job.id}:\n",
                f"    docker:\n      - image: {IMAGE}\n",
                "    steps:\n",
                "      - checkout\n",
                run_step("Install the Pulumi CLI", install_command),
                run_step("Set up the virtualenv", MAKE_VENV),
                *(
                    # A health gate bakes without printing; CircleCI ends a silent step after 10
                    # minutes.
                    run_step(
                        step.name,
                        step.command.replace(COMMIT, "$CIRCLE_SHA1"),
                        "          no_output_timeout: 3h\n",
                    )
                    for step in job.steps
                ),
            ]
    parts.append("\nworkflows:\n")
    for pipeline in pipelines.pipelines:
        parts += [
            f"  {pipeline.name}:\n",
            f"    when: << pipeline.parameters.{parameter_of(pipeline)} >>\n",
            "    jobs:\n",
        ]
        for job in pipeline.jobs:
            requires = list(job.needs)
            if job.approval:
                approve = f"approve-{job.id}"
                parts += [
                    comment_lines(f"Approvers of {job.approval.what}: {job.approval.who}.", 6),
                    f"      - {approve}:\n",
                    "          type: approval\n",
                ]
                if requires:
                    parts.append(f"          requires: [{', '.join(requires)}]\n")
                requires = [approve]
            parts.append(f"      - {job.id}:\n")
            if requires:
                parts.append(f"          requires: [{', '.join(requires)}]\n")
            if job.lock:
                parts.append(f"          serial-group: << pipeline.project.slug >>/{job.lock}\n")
    return "".join(parts)
