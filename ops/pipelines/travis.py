"""Travis CI: a build stage per wave with a job per region stack; Travis has no approval step and
no per-stack concurrency group, so the build runs only when started by hand."""

from __future__ import annotations

from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import generated_header

CI = "travis"
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


def path(rollout: Rollout) -> str:
    return ".travis.yml"


def render(rollout: Rollout) -> str:
    env = rollout.environment
    preview, deploy = rollout.region_commands(commit="$TRAVIS_COMMIT")
    about = [p.format(env=env) for p in ABOUT]
    names = [f"{env} wave {number}" for number in range(1, len(rollout.waves) + 1)]
    parts = [
        generated_header(CI, rollout, about),
        "os: linux\n",
        "dist: jammy\n",
        "language: python\n",
        f'python: "{PYTHON_VERSION}"\n',
        "if: type = api\n",
        "\ninstall:\n",
        *(f"  - {line}\n" for line in (*rollout.install_cli, MAKE_VENV)),
        "\nscript:\n",
        # Travis runs every script line even after one failed: the deploy must follow the
        # checks in one line. A health gate bakes without printing, and Travis ends a job that
        # is silent for 10 minutes: travis_wait keeps it alive.
        f"  - {preview} && travis_wait 180 {deploy}\n",
        "\nstages:\n",
        *(f"  - name: {name}\n" for name in names),
        "\njobs:\n",
        "  include:\n",
    ]
    for name, regions in zip(names, rollout.waves, strict=True):
        for region in regions:
            stack = rollout.stack(region)
            parts += [
                f"    - stage: {name}\n",
                f"      name: {stack}\n",
                f"      env: STACK={stack}\n",
            ]
    return "".join(parts)
