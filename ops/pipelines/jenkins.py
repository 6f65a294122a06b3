"""Jenkins: a declarative Jenkinsfile per pipeline; a wave is a stage of parallel region stages,
each on its own agent under a lock named after its stack, and an `input` is an approval."""

from __future__ import annotations

from ops.pipelines.flow import COMMIT, STACK, Approval, Job, Pipeline, PipelineSet, Trigger
from ops.pipelines.rollout import MAKE_VENV, PYTHON_VERSION
from ops.pipelines.text import WIDTH, comment_lines, header, indent

CI = "jenkins"
# By region (the committed Jenkinsfile).
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


def shell(lines: tuple[str, ...]) -> str:
    """An `sh` step running the lines in one shell: `export PATH` must reach the commands after it.
    Single-quoted, so Groovy leaves every `$` to the shell."""
    body = "".join(f"    {line}\n" for line in lines)
    return f"sh '''\n{body}'''\n"


# Per service.
FLOW_ABOUT = (
    "Jenkins: one Pipeline job per file (its Script Path), built on every push to the main "
    "branch (an SCM webhook or polling); the stages run in order. {trigger} An approval is an "
    "`input` stage: its `submitter` lists who may approve (Jenkins user IDs or group names, as "
    "your security realm names them), and it waits before taking an agent. "
    "disableConcurrentBuilds() keeps one build of the job at a time, and each stage holds the "
    "lock of what it deploys (Lockable Resources plugin). Credentials: the secret texts "
    "`pulumi-backend-url` and `pulumi-config-passphrase`."
)
AGENTS = {
    True: "// Each stage takes its own agent: a wave's regions run on as many executors.\n",
    False: "// Each stage takes its own agent; an approval waits without one.\n",
}
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


def flow_files(pipelines: PipelineSet) -> dict[str, str]:
    """`--env E` alone: the repository's Jenkinsfile; otherwise one Jenkinsfile per pipeline."""
    if pipelines.by_region and len(pipelines.environments) == 1:
        (pipeline,) = pipelines.pipelines
        return {"Jenkinsfile": render_pipeline(pipelines, pipeline)}
    return {
        f"jenkins/{p.name}.Jenkinsfile": render_pipeline(pipelines, p) for p in pipelines.pipelines
    }


def when_of(trigger: Trigger, *, before_input: bool) -> str:
    if trigger.kind == "manual":
        return ""
    if trigger.kind == "changes":
        condition = f"changeset '{trigger.path}'"
    else:
        condition = f"changeset pattern: '^(?!{trigger.path}/).*', comparator: 'REGEXP'"
    before = "    beforeInput true\n" if before_input else "    beforeAgent true\n"
    return f"when {{\n{before}    {condition}\n}}\n"


def input_of(job: Job, approval: Approval) -> list[str]:
    submitter = ",".join(approval.approvers)
    return [
        "    input {\n",
        f"        message 'Deploy {approval.what}?'\n",
        # A job that only shows the plan names its environment; another, what it deploys.
        f"        ok 'Deploy {approval.what if job.deploys else job.env}'\n",
        f"        submitter '{submitter}'\n" if submitter else "",
        "    }\n",
    ]


def approval_stage(pipeline: Pipeline, job: Job, approval: Approval) -> str:
    """The stage in front of a job that deploys: its input waits before the job's lock is taken
    (a stage's options apply before its input)."""
    return "".join(
        [
            f"stage('Approve {approval.what}') {{\n",
            indent(when_of(pipeline.trigger, before_input=True), 4),
            # The stage sits in `stages`, 8 spaces in.
            comment_lines(f"Who may approve: {approval.who}.", 4, comment="//", width=WIDTH - 8),
            *input_of(job, approval),
            "    steps {\n",
            f"        echo 'Approved: {approval.what}'\n",
            "    }\n",
            "}\n",
        ]
    )


def job_stage(pipelines: PipelineSet, pipeline: Pipeline, job: Job, stack: str = "") -> str:
    """The job's stage (for a wave, one stack's: STACK set to it); a job that only shows the plan
    takes its approval's input itself, having no lock to hold while it waits."""
    setup = (*pipelines.install_cli, MAKE_VENV) if job.deploys else (MAKE_VENV,)
    lines = (*setup, *(step.command.replace(COMMIT, "$GIT_COMMIT") for step in job.steps))
    environment = ["    environment {\n", f"        STACK = '{stack}'\n", "    }\n"]
    lock = [f"        lock('{job.lock.replace(STACK, stack)}')\n"] if job.lock else []
    options = [
        "    options {\n",
        *lock,
        "        timeout(time: 180, unit: 'MINUTES')\n",
        "    }\n",
    ]
    return "".join(
        [
            f"stage('{stack or job.title}') {{\n",
            "    agent any\n",
            indent(when_of(pipeline.trigger, before_input=False), 4),
            *(input_of(job, job.approval) if job.approval and not job.deploys else []),
            *(environment if stack else []),
            *(options if job.deploys else []),
            "    steps {\n",
            indent(shell(lines), 8),
            "    }\n",
            "}\n",
        ]
    )


def render_pipeline(pipelines: PipelineSet, pipeline: Pipeline) -> str:
    if pipelines.by_region:
        values = {"env": pipelines.env, "python": PYTHON_VERSION}
        paragraphs = [*pipeline.about, *(p.format(**values) for p in ABOUT)]
    else:
        trigger = TRIGGERS[pipeline.trigger.kind].format(path=pipeline.trigger.path)
        paragraphs = [*pipeline.about, FLOW_ABOUT.format(trigger=trigger)]
    stages: list[str] = []
    # Stages run one after another, as the pipeline's jobs do; a wave's stacks, side by side.
    for job in pipeline.jobs:
        if job.wave:
            stages += [
                f"stage('{job.title}') {{\n",
                "    failFast false\n",
                "    parallel {\n",
                *(indent(job_stage(pipelines, pipeline, job, s), 8) for s in job.wave.stacks),
                "    }\n",
                "}\n",
            ]
            continue
        if job.approval and job.deploys:
            stages.append(approval_stage(pipeline, job, job.approval))
        stages.append(job_stage(pipelines, pipeline, job))
    return "".join(
        [
            header(pipelines, CI, paragraphs, comment="//"),
            "pipeline {\n",
            "    " + AGENTS[pipelines.by_region],
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
