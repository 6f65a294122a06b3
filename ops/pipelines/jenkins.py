"""Jenkins: a declarative Jenkinsfile; a wave is a stage of parallel region stages, each on its
own agent under a lock named after its stack, and an `input` stage is the approval."""

from __future__ import annotations

from ops.pipelines.flow import COMMIT, Job, Pipeline, PipelineSet, Trigger, layers
from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION, Rollout
from ops.pipelines.text import WIDTH, comment_lines, flow_header, generated_header, indent

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


# --- per service and promotion (ops/pipelines/flow.py) ------------------------------------------

FLOW_ABOUT = (
    "Jenkins: one Pipeline job per file (its Script Path), built on every push to the main "
    "branch (an SCM webhook or polling); the stages run in order. {trigger} An approval is an "
    "`input` stage: its `submitter` lists who may approve (Jenkins user IDs or group names, as "
    "your security realm names them), and it waits before taking an agent. "
    "disableConcurrentBuilds() keeps one build of the job at a time, and each stage holds the "
    "lock of what it deploys (Lockable Resources plugin). Credentials: the secret texts "
    "`pulumi-backend-url` and `pulumi-config-passphrase`."
)
TRIGGERS = {
    "changes": (
        "Each stage runs only when the build's changeset touches {path} (`when {{ changeset }}`, "
        "checked before the input and the agent), so a build of any other change does nothing."
    ),
    "outside": (
        "Each stage runs only when the build's changeset touches a file outside {path}/ "
        "(`when {{ changeset }}` with a regular expression), so a build of a release file "
        "change alone does nothing here."
    ),
    "manual": "Start it by hand (Build Now); it has no `when`.",
}


def flow_path(pipeline: Pipeline) -> str:
    return f"jenkins/{pipeline.name}.Jenkinsfile"


def flow_files(pipelines: PipelineSet) -> dict[str, str]:
    return {flow_path(p): render_pipeline(pipelines, p) for p in pipelines.pipelines}


def when_of(trigger: Trigger, *, before_input: bool) -> str:
    if trigger.kind == "manual":
        return ""
    if trigger.kind == "changes":
        condition = f"changeset '{trigger.path}'"
    else:
        condition = f"changeset pattern: '^(?!{trigger.path}/).*', comparator: 'REGEXP'"
    before = "    beforeInput true\n" if before_input else "    beforeAgent true\n"
    return f"when {{\n{before}    {condition}\n}}\n"


def approval_stage(pipeline: Pipeline, job: Job) -> str:
    approval = job.approval
    assert approval is not None
    approvers = ",".join(approval.approvers)
    submitter = f"        submitter '{approvers}'\n" if approval.approvers else ""
    return "".join(
        [
            f"stage('Approve {approval.what}') {{\n",
            indent(when_of(pipeline.trigger, before_input=True), 4),
            # The stage sits in `stages`, 8 spaces in.
            comment_lines(f"Who may approve: {approval.who}.", 4, comment="//", width=WIDTH - 8),
            "    input {\n",
            f"        message 'Deploy {approval.what}?'\n",
            f"        ok 'Deploy {approval.what}'\n",
            submitter,
            "    }\n",
            "    steps {\n",
            f"        echo 'Approved: {approval.what}'\n",
            "    }\n",
            "}\n",
        ]
    )


def job_stage(pipelines: PipelineSet, pipeline: Pipeline, job: Job) -> str:
    lines = (
        *pipelines.install_cli,
        MAKE_VENV,
        *(step.command.replace(COMMIT, "$GIT_COMMIT") for step in job.steps),
    )
    options = [f"        lock('{job.lock}')\n"] if job.lock else []
    return "".join(
        [
            f"stage('{job.title}') {{\n",
            "    agent any\n",
            indent(when_of(pipeline.trigger, before_input=False), 4),
            "    options {\n",
            *options,
            "        timeout(time: 180, unit: 'MINUTES')\n",
            "    }\n",
            "    steps {\n",
            indent(shell(lines), 8),
            "    }\n",
            "}\n",
        ]
    )


def render_pipeline(pipelines: PipelineSet, pipeline: Pipeline) -> str:
    about = FLOW_ABOUT.format(
        trigger=TRIGGERS[pipeline.trigger.kind].format(path=pipeline.trigger.path)
    )
    stages: list[str] = []
    for layer in layers(pipeline.jobs):
        if len(layer) == 1:
            (job,) = layer
            if job.approval:
                stages.append(approval_stage(pipeline, job))
            stages.append(job_stage(pipelines, pipeline, job))
            continue
        if any(job.approval for job in layer):
            raise ValueError(f"{pipeline.name}: an approval inside a parallel stage")
        stages += [f"stage('{layer[0].stage}') {{\n", "    failFast false\n", "    parallel {\n"]
        stages += [indent(job_stage(pipelines, pipeline, job), 8) for job in layer]
        stages += ["    }\n", "}\n"]
    return "".join(
        [
            flow_header(f"{pipelines.command} --ci {CI}", (*pipeline.about, about), comment="//"),
            "pipeline {\n",
            "    // Each stage takes its own agent; an approval waits without one.\n",
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
