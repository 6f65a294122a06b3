"""Jenkins: a declarative Jenkinsfile; a wave is a stage of parallel region stages, each on its
own agent under a lock named after its stack, and an `input` stage is the approval."""

from __future__ import annotations

from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import generated_header, indent

CI = "jenkins"
ABOUT = [
    "Run it as a Pipeline job started by hand (Build Now; no SCM trigger), on agents with "
    "Python {python}, make, curl and bash. The approval: the `Approve {env}` stage's `input` "
    "(restrict who may answer with the input's `submitter` or the job's permissions); it waits "
    "before taking an agent, so no executor idles meanwhile.",
    "Concurrency: disableConcurrentBuilds() keeps one build of this job at a time, and each "
    "region stage holds the lock `deploy-<stack>` (Lockable Resources plugin), which any other "
    "job that updates the stack (a rollback) should take too. Credentials: the secret texts "
    "`pulumi-backend-url` and `pulumi-config-passphrase`; AWS credentials come from the agent "
    "(an instance role) or its environment.",
]


def path(rollout: Rollout) -> str:
    return "Jenkinsfile"


def shell(lines: tuple[str, ...]) -> str:
    """An `sh` step running the lines in one shell: `export PATH` must reach the commands after it.
    Single-quoted, so Groovy leaves every `$` to the shell."""
    body = "".join(f"    {line}\n" for line in lines)
    return f"sh '''\n{body}'''\n"


def render(rollout: Rollout) -> str:
    env = rollout.environment
    about = [p.format(env=env, python=PYTHON_VERSION) for p in ABOUT]
    preview, deploy = rollout.region_commands(commit="$GIT_COMMIT")
    region_lines = (*rollout.install_cli, MAKE_VENV, preview, deploy)
    stages = [
        f"stage('Approve {env}') {{\n",
        "    agent any\n",
        "    input {\n",
        f"        message 'Deploy {env} region by region, wave by wave?'\n",
        f"        ok 'Deploy {env}'\n",
        "    }\n",
        "    steps {\n",
        indent(shell((MAKE_VENV, rollout.plan)), 8),
        "    }\n",
        "}\n",
    ]
    for number, regions in enumerate(rollout.waves, start=1):
        stages += [f"stage('{env} wave {number}') {{\n", "    failFast false\n", "    parallel {\n"]
        for region in regions:
            stack = rollout.stack(region)
            stages += [
                f"        stage('{stack}') {{\n",
                "            agent any\n",
                "            environment {\n",
                f"                STACK = '{stack}'\n",
                "            }\n",
                "            options {\n",
                f"                lock('deploy-{stack}')\n",
                "                timeout(time: 180, unit: 'MINUTES')\n",
                "            }\n",
                "            steps {\n",
                indent(shell(region_lines), 16),
                "            }\n",
                "        }\n",
            ]
        stages += ["    }\n", "}\n"]
    return "".join(
        [
            generated_header(CI, rollout, about, comment="//"),
            "pipeline {\n",
            "    // Each stage takes its own agent: a wave's regions run on as many executors.\n",
            "    agent none\n",
            "    options {\n",
            "        disableConcurrentBuilds()\n",
            "    }\n",
            "    environment {\n",
            "        PULUMI_BACKEND_URL = credentials('pulumi-backend-url')\n",
            "        PULUMI_CONFIG_PASSPHRASE = credentials('pulumi-config-passphrase')\n",
            "    }\n",
            "    stages {\n",
            indent("".join(stages), 8),
            "    }\n",
            "}\n",
        ]
    )
