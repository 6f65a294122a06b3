"""GitHub Actions: a workflow per environment beside the hand-written single-stack ones; a wave is
a job with a region matrix, one concurrency group per region stack, the `approve` job's
environment is the approval."""

from __future__ import annotations

from ops.pipelines.flow import BRANCH, COMMIT, Pipeline, PipelineSet, Trigger
from ops.pipelines.rollout import PYTHON_VERSION, Rollout
from ops.pipelines.text import comment_lines, flow_header, flow_list, generated_header, indent

CI = "github"
# Each step as in deploy.yml, so the two layouts set up a runner the same way.
SETUP_PYTHON = """\
- uses: actions/checkout@v4
- uses: actions/setup-python@v5
  with:
    python-version: "{python}"
    cache: pip
    cache-dependency-path: requirements*.txt
"""
INSTALL_CLI = """\
# Without `command:` the action only installs the CLI and puts it on PATH.
- name: Install the Pulumi CLI
  uses: pulumi/actions@v6
  with:
    pulumi-version: "{version}"
- uses: aws-actions/configure-aws-credentials@v4
  with:
    role-to-assume: ${{{{ vars.AWS_ROLE_ARN }}}}
    aws-region: us-east-1
"""
VENV = """\
- name: Set up the virtualenv
  run: make venv
"""
BACKEND_ENV = """\
PULUMI_BACKEND_URL: ${{ vars.PULUMI_BACKEND_URL }}
PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
"""
ABOUT = [
    'Started by hand (Actions > "{title}" > Run workflow), so it never races deploy.yml, which '
    "deploys {env} as one stack on a push to main: an environment has one layout at a time.",
    "The approval: the `approve` job runs in the `{approval}` environment, whose required "
    "reviewers are the gate; the region jobs need no environment, so reviewers approve once per "
    "run (the region jobs read the backend and AWS settings from repository variables and "
    "secrets).",
    "One concurrency group per region stack, `deploy-{env}-<region>`: a queued deploy waits "
    "instead of cancelling a running one.",
]


def path(rollout: Rollout) -> str:
    return f".github/workflows/deploy-{rollout.environment}-regions.yml"


def render(rollout: Rollout) -> str:
    env = rollout.environment
    title = f"Deploy {env} by region"
    approval = rollout.approval_environment
    setup_python = SETUP_PYTHON.format(python=PYTHON_VERSION)
    install_cli = INSTALL_CLI.format(version=rollout.pulumi_version)
    preview, deploy = rollout.region_commands(commit="${GITHUB_SHA::12}")
    parts = [
        generated_header(
            CI, rollout, [p.format(env=env, title=title, approval=approval) for p in ABOUT]
        ),
        f"name: {title}\n",
        "\non:\n  workflow_dispatch:\n",
        "\npermissions:\n  contents: read\n  id-token: write\n",
        "\njobs:\n",
        "  approve:\n",
        f"    name: Approve {env}\n",
        "    runs-on: ubuntu-latest\n",
        "    timeout-minutes: 30\n",
        f"    environment: {approval}\n",
        "    steps:\n",
        indent(setup_python + VENV, 6),
        "      - name: Show the waves to deploy\n",
        f"        run: {rollout.plan}\n",
    ]
    previous = "approve"
    for number, regions in enumerate(rollout.waves, start=1):
        job = f"wave-{number}"
        parts += [
            f"\n  {job}:\n",
            f"    name: Wave {number} ${{{{ matrix.region }}}}\n",
            f"    needs: {previous}\n",
            "    runs-on: ubuntu-latest\n",
            "    timeout-minutes: 180\n",
            "    strategy:\n",
            "      fail-fast: false\n",
            "      matrix:\n",
            f"        region: {flow_list(regions)}\n",
            "    concurrency:\n",
            f"      group: deploy-{env}-${{{{ matrix.region }}}}\n",
            "      cancel-in-progress: false\n",
            "    env:\n",
            f"      STACK: {env}-${{{{ matrix.region }}}}\n",
            indent(BACKEND_ENV, 6),
            "    steps:\n",
            indent(setup_python + install_cli + VENV, 6),
            "      - name: Refuse unsafe changes\n",
            f"        run: {preview}\n",
            "      - name: Deploy\n",
            f"        run: {deploy}\n",
        ]
        previous = job
    return "".join(parts)


# --- per service and promotion (ops/pipelines/flow.py) ------------------------------------------

FLOW_ABOUT = (
    "GitHub Actions: `needs` orders the jobs; an approval is the job's `environment:`, whose "
    "required reviewers (set in the repository's Settings > Environments, which this file "
    "cannot set) must approve before the job starts; a job's `concurrency` group is its "
    "stack's lock: a queued run waits instead of cancelling a running one."
)
SHARED_LOCK = (
    "No concurrency group: GitHub keeps one pending job per group and cancels the others, so "
    "the migrations jobs of several services sharing {lock} would cancel each other. The "
    "backend's lock on each region stack keeps two updates apart instead (the second fails, "
    "nothing races)."
)


def flow_files(pipelines: PipelineSet) -> dict[str, str]:
    """Relative path -> text: one workflow per pipeline."""
    return {
        f".github/workflows/{pipeline.name}.yml": render_pipeline(pipelines, pipeline)
        for pipeline in pipelines.pipelines
    }


def triggers_of(trigger: Trigger) -> str:
    if trigger.kind == "manual":
        return "\non:\n  workflow_dispatch:\n"
    paths = (
        f"    paths: [{trigger.path}]\n"
        if trigger.kind == "changes"
        else f'    paths-ignore: ["{trigger.path}/**"]\n'
    )
    # workflow_dispatch: a run started by hand deploys the branch's head, as a push would.
    return f"\non:\n  push:\n    branches: [{BRANCH}]\n{paths}  workflow_dispatch:\n"


def render_pipeline(pipelines: PipelineSet, pipeline: Pipeline) -> str:
    setup = SETUP_PYTHON.format(python=PYTHON_VERSION)
    install_cli = INSTALL_CLI.format(version=pipelines.pulumi_version)
    parts = [
        flow_header(f"{pipelines.command} --ci {CI}", (*pipeline.about, FLOW_ABOUT)),
        f"name: {pipeline.title}\n",
        triggers_of(pipeline.trigger),
        "\npermissions:\n  contents: read\n  id-token: write\n",
        "\njobs:\n",
    ]
    for number, job in enumerate(pipeline.jobs):
        parts += ["" if number == 0 else "\n", f"  {job.id}:\n", f"    name: {job.title}\n"]
        if job.needs:
            parts.append(f"    needs: {flow_list(job.needs)}\n")
        parts += ["    runs-on: ubuntu-latest\n", "    timeout-minutes: 180\n"]
        if job.approval:
            parts += [
                comment_lines(
                    f"The approval: required reviewers of the environment "
                    f"`{job.approval.environment}` ({job.approval.what}), set in the "
                    f"repository's environment settings: {job.approval.who}.",
                    4,
                ),
                f"    environment: {job.approval.environment}\n",
            ]
        if job.lock and job.shared_lock:
            parts.append(comment_lines(SHARED_LOCK.format(lock=job.lock), 4))
        elif job.lock:
            parts += [
                "    concurrency:\n",
                f"      group: {job.lock}\n",
                "      cancel-in-progress: false\n",
            ]
        parts += ["    env:\n", indent(BACKEND_ENV, 6), "    steps:\n"]
        parts.append(indent(setup + install_cli + VENV, 6))
        for step in job.steps:
            command = step.command.replace(COMMIT, "${GITHUB_SHA::12}")
            parts += [f"      - name: {step.name}\n", f"        run: {command}\n"]
    return "".join(parts)
