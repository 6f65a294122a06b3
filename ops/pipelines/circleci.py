"""CircleCI: a workflow whose region jobs `require` every job of the wave before; an `approval`
job is the approval, and a serial group per region stack keeps two updates of it apart."""

from __future__ import annotations

from ops.pipelines.rollout import INSTALLER_PATH, MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import generated_header

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
