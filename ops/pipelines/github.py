"""GitHub Actions: a workflow per environment beside the hand-written single-stack ones; a wave is
a job with a region matrix, one concurrency group per region stack, the `approve` job's
environment is the approval."""

from __future__ import annotations

from ops.pipelines.rollout import PYTHON_VERSION, Rollout
from ops.pipelines.text import flow_list, generated_header, indent

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
