"""GitHub Actions: a workflow per pipeline beside the hand-written single-stack ones; a wave is a
job with a region matrix, a lock is a concurrency group, an approval is a job's environment."""

from __future__ import annotations

from ops.pipelines.flow import BRANCH, COMMIT, STACK, Job, Pipeline, PipelineSet, Trigger
from ops.pipelines.rollout import PYTHON_VERSION
from ops.pipelines.text import comment_lines, flow_list, header, indent

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
# By region (the committed deploy-<env>-regions.yml).
ABOUT = [
    'Started by hand (Actions > "{title}" > Run workflow), so it never races deploy.yml, which '
    "deploys {env} as one stack on a push to main: an environment has one layout at a time.",
    "The approval: the `{approve}` job runs in the `{approval}` environment, whose required "
    "reviewers are the gate; the region jobs need no environment, so reviewers approve once per "
    "run (the region jobs read the backend and AWS settings from repository variables and "
    "secrets).",
    "One concurrency group per region stack, `deploy-{env}-<region>`: a queued deploy waits "
    "instead of cancelling a running one.",
]
# Per service.
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
# A wave's matrix runs its regions; the job's steps see the stack as STACK.
MATRIX_STACK = "{env}-${{{{ matrix.region }}}}"


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


def key_of(pipelines: PipelineSet, job: Job) -> str:
    """The job's key in its workflow: the model's id, but a region workflow of one environment
    keeps the short keys it has always had (`approve`, `wave-<n>`)."""
    if len(pipelines.environments) > 1 or (job.deploys and job.wave is None):
        return job.id
    return f"wave-{job.wave.number}" if job.wave else "approve"


def name_of(pipelines: PipelineSet, job: Job) -> str:
    if job.wave is None:
        return job.title
    wave = f"Wave {job.wave.number}" if len(pipelines.environments) == 1 else job.title
    return f"{wave} ${{{{ matrix.region }}}}"


def about_of(pipelines: PipelineSet, pipeline: Pipeline) -> list[str]:
    if not pipelines.by_region:
        return [*pipeline.about, FLOW_ABOUT]
    approve, approval = pipeline.first_approval
    values = {
        "env": pipelines.env,
        "title": pipeline.title,
        "approve": key_of(pipelines, approve),
        "approval": approval.environment,
    }
    return [*pipeline.about, *(p.format(**values) for p in ABOUT)]


def render_pipeline(pipelines: PipelineSet, pipeline: Pipeline) -> str:
    setup = SETUP_PYTHON.format(python=PYTHON_VERSION)
    install_cli = INSTALL_CLI.format(version=pipelines.pulumi_version)
    parts = [
        header(pipelines, CI, about_of(pipelines, pipeline)),
        f"name: {pipeline.title}\n",
        triggers_of(pipeline.trigger),
        "\npermissions:\n  contents: read\n  id-token: write\n",
        "\njobs:\n",
    ]
    for number, job in enumerate(pipeline.jobs):
        needs = [key_of(pipelines, pipeline.job(need)) for need in job.needs]
        parts += [
            "" if number == 0 else "\n",
            f"  {key_of(pipelines, job)}:\n",
            f"    name: {name_of(pipelines, job)}\n",
        ]
        if needs:
            parts.append(f"    needs: {needs[0] if len(needs) == 1 else flow_list(needs)}\n")
        # A job that only shows the plan waits for its approval, not for a deploy.
        parts += [
            "    runs-on: ubuntu-latest\n",
            f"    timeout-minutes: {180 if job.deploys else 30}\n",
        ]
        if job.approval:
            if job.deploys:
                parts.append(
                    comment_lines(
                        f"The approval: required reviewers of the environment "
                        f"`{job.approval.environment}` ({job.approval.what}), set in the "
                        f"repository's environment settings: {job.approval.who}.",
                        4,
                    )
                )
            parts.append(f"    environment: {job.approval.environment}\n")
        stack = MATRIX_STACK.format(env=job.env) if job.wave else ""
        if job.wave:
            parts += [
                "    strategy:\n",
                "      fail-fast: false\n",
                "      matrix:\n",
                f"        region: {flow_list(job.wave.regions)}\n",
            ]
        if job.lock and job.shared_lock:
            parts.append(comment_lines(SHARED_LOCK.format(lock=job.lock), 4))
        elif job.lock:
            parts += [
                "    concurrency:\n",
                f"      group: {job.lock.replace(STACK, stack)}\n",
                "      cancel-in-progress: false\n",
            ]
        if job.deploys:
            parts += [
                "    env:\n",
                f"      STACK: {stack}\n" if stack else "",
                indent(BACKEND_ENV, 6),
            ]
        parts += ["    steps:\n", indent(setup + (install_cli if job.deploys else "") + VENV, 6)]
        for step in job.steps:
            command = step.command.replace(COMMIT, "${GITHUB_SHA::12}")
            parts += [f"      - name: {step.name}\n", f"        run: {command}\n"]
    return "".join(parts)
