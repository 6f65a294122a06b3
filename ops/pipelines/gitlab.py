"""GitLab CI: a file per environment that .gitlab-ci.yml includes beside its hand-written
single-stack jobs; a wave is a job with a stack matrix, one resource group per region stack, a
manual job in the protected environment is the approval."""

from __future__ import annotations

from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import flow_list, generated_header, indent

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
