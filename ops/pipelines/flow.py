"""The pipelines `ops pipelines` writes, as graphs of jobs before any CI system's syntax: what
starts each pipeline, its jobs in order, each job's lock and approval, and the project's own
commands each job runs. Each CI module renders the same graphs.

By region (`--env E`, or `--promote` without `--per-service`): per environment, an approval job
that shows the plan (`ops plan`), then a job per wave that deploys the wave's region stacks side
by side (`ops preview`, then `ops up`, with STACK set to the stack), each wave once every stack
of the wave before it succeeded, one lock per region stack. Started by hand only: an environment
has one layout at a time.

Per service (`--per-service`): one pipeline per service, started only by a change to its release
file (`releases/<service>.yaml`): per environment, a migrations job (`ops release --migrations`
deploys the environment's region stacks first when the service requires an expand migration
they have not run, and otherwise says none is needed), then, once the service's owners approved,
the release (`ops preview` of the service stack, then `ops release`), under one lock per service
stack. Beside them, the infrastructure pipeline, started by any change outside `releases/`:
per environment, `ops preview` of its region stacks, then `ops release --infrastructure`, which
deploys them wave by wave.

Promotion (`--promote dev,staging,prod`): the same pipelines run the environments in that order
for one commit: an environment's jobs start only once every job of the environment before it
succeeded in the same run. `ops up` and `ops release` fail a path whose `verify` Job failed, so
an environment's success includes its verification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from deploypaths.config.settings import Owner
from ops.pipelines.services import Environment, release_file

BRANCH = "main"
# Filled in by each CI system with how its shell names the commit.
COMMIT = "{commit}"
PYTHON = ".venv/bin/python -m ops"
MIGRATIONS = PYTHON + " release --env {env} --service {service} --migrations"
RELEASE = PYTHON + " release --env {env} --service {service}"
INFRASTRUCTURE = PYTHON + " release --env {env} --infrastructure"
PREVIEW = PYTHON + " preview {stacks} --markdown {markdown}"
PLAN = PYTHON + " plan --stack {env}"
UP = PYTHON + ' up --stack {stack} --yes --message "deploy of ' + COMMIT + '"'
# A wave job's steps run once per region stack, with the shell variable STACK set to the stack.
STACK = "$STACK"


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    command: str


@dataclass(frozen=True, kw_only=True)
class Approval:
    """Who must approve before a job starts: the CI system's protected environment (or approval
    step) named `environment`, and, when the configuration names them, the approvers."""

    environment: str
    what: str
    approvers: tuple[str, ...] = ()
    team: str | None = None

    @property
    def who(self) -> str:
        """The approvers as a sentence's object, for the files' comments."""
        if self.approvers:
            return ", ".join(self.approvers)
        team = f"team {self.team}" if self.team else "no owner"
        return f"no approvers configured ({team}): whoever the CI system lets approve"


@dataclass(frozen=True, kw_only=True)
class Wave:
    """The region stacks (`<env>-<region>`) a job deploys side by side: its steps and its lock
    name the stack as STACK."""

    number: int
    env: str
    regions: tuple[str, ...]

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(f"{self.env}-{region}" for region in self.regions)


@dataclass(frozen=True, kw_only=True)
class Job:
    id: str
    title: str
    env: str
    # The Travis CI build stage the job runs in (Travis has one list of stages per build).
    stage: str
    steps: tuple[Step, ...]
    needs: tuple[str, ...] = ()
    lock: str | None = None
    # Many pipelines' jobs take this lock side by side (every service's migrations job takes the
    # region stacks'), where a CI system that cancels all but one queued job must not use it.
    shared_lock: bool = False
    approval: Approval | None = None
    wave: Wave | None = None
    # False: the job only shows the plan, so it needs neither the Pulumi CLI nor the backend.
    deploys: bool = True


@dataclass(frozen=True, kw_only=True)
class Trigger:
    """`changes`: a push to the main branch that changes `path`; `outside`: a push that changes
    anything outside the folder `path`; `manual`: started by hand only."""

    kind: Literal["changes", "outside", "manual"]
    path: str = ""

    def starts_on(self, changed: Sequence[str]) -> bool:
        """Whether a push changing these files starts the pipeline (what each system's filter
        must say)."""
        if self.kind == "changes":
            return self.path in changed
        if self.kind == "outside":
            return any(not p.startswith(self.path + "/") for p in changed)
        return False


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    name: str
    title: str
    trigger: Trigger
    jobs: tuple[Job, ...]
    about: tuple[str, ...]
    # The name of the switch that starts a pipeline by hand (a pipeline parameter or variable),
    # and what setting it does.
    switch: str
    action: str

    def job(self, id: str) -> Job:
        return next(job for job in self.jobs if job.id == id)

    @property
    def first_approval(self) -> tuple[Job, Approval]:
        """The first job that waits for an approval, and the approval (for the files' prose)."""
        return next((job, job.approval) for job in self.jobs if job.approval)

    @property
    def summary(self) -> str:
        """One line on the pipeline, for files that hold several."""
        starts = {
            "changes": f"started by a push to {BRANCH} that changes {self.trigger.path}",
            "outside": f"started by a push to {BRANCH} that changes anything outside "
            f"{self.trigger.path}/",
            "manual": "started by hand",
        }[self.trigger.kind]
        return f"`{self.name}`: {self.title}, {starts}."


@dataclass(frozen=True, kw_only=True)
class PipelineSet:
    """Everything one `ops pipelines` command writes for one CI system."""

    command: str
    scope: str
    environments: tuple[Environment, ...]
    pipelines: tuple[Pipeline, ...]
    per_service: bool

    @property
    def pulumi_version(self) -> str:
        return self.environments[0].rollout.pulumi_version

    @property
    def install_cli(self) -> tuple[str, str]:
        return self.environments[0].rollout.install_cli

    @property
    def by_region(self) -> bool:
        """The `--env E` pipeline, whose files are committed, or its promotion."""
        return not self.per_service

    @property
    def env(self) -> str:
        """The environment, or `<env>` when the set promotes through several (for the prose)."""
        return self.environments[0].name if len(self.environments) == 1 else "<env>"


def service_stack(env: str, service: str) -> str:
    return f"{env}-svc-{service}"


def infrastructure_lock(env: str) -> str:
    return f"deploy-{env}-infrastructure"


def refuse_unsafe(stacks: str, markdown: str) -> Step:
    return Step(
        name="Refuse unsafe changes",
        command=PREVIEW.format(stacks=stacks, markdown=markdown),
    )


def in_order(jobs: Sequence[Job]) -> tuple[Job, ...]:
    """The jobs, each needing the one before it: every pipeline here is one line of jobs (a wave's
    region stacks run side by side inside its one job)."""
    return tuple(
        replace(job, needs=(before.id,)) if before else job
        for before, job in zip((None, *jobs[:-1]), jobs, strict=True)
    )


def promotion_paragraph(environments: Sequence[Environment]) -> tuple[str, ...]:
    if len(environments) < 2:
        return ()
    order = " -> ".join(e.name for e in environments)
    return (
        f"Promotion {order}: one run takes one commit through the environments in that order; "
        "an environment's jobs start only once every job of the environment before it "
        "succeeded in the same run. `ops up` and `ops release` fail a path whose `verify` Job "
        "failed, so that success includes the environment's verification Jobs.",
    )


def service_pipeline(service: str, environments: Sequence[Environment], scope: str) -> Pipeline:
    """The pipeline that releases one service through the environments that run it."""
    jobs: list[Job] = []
    approvers: list[str] = []
    for environment in environments:
        entry = environment.service(service)
        if entry is None:
            continue
        env = environment.name
        stack = service_stack(env, service)
        migrations = Job(
            id=f"{service}-migrations-{env}",
            title=f"{service} migrations {env}",
            env=env,
            stage=f"{env} infrastructure and migrations",
            steps=(
                Step(
                    name="Deploy the region stacks if a required migration has not run",
                    command=MIGRATIONS.format(env=env, service=service),
                ),
            ),
            lock=infrastructure_lock(env),
            shared_lock=True,
        )
        approval = approval_of(entry.owner, environment=stack, what=f"{service} in {env}")
        approvers += [a for a in approval.approvers if a not in approvers]
        release = Job(
            id=f"{service}-release-{env}",
            title=f"{service} release {env}",
            env=env,
            stage=f"{env} release",
            steps=(
                refuse_unsafe(f"--stack {stack}", f"preview-{stack}.md"),
                Step(name="Release", command=RELEASE.format(env=env, service=service)),
            ),
            lock=f"deploy-{stack}",
            approval=approval,
        )
        jobs += [migrations, release]
    path = release_file(service)
    names = [e.name for e in environments if e.service(service)]
    title = f"Release {service} ({', '.join(names)})"
    return Pipeline(
        name=f"release-{scope}-{service}",
        title=title,
        switch=f"release-{scope}-{service}",
        action=title.lower(),
        trigger=Trigger(kind="changes", path=path),
        jobs=in_order(jobs),
        about=(
            f"Releases the service {service} and nothing else, started only by a push to "
            f"{BRANCH} that changes {path}. Per environment: the migrations job first (`ops "
            "release --migrations` deploys the environment's region stacks when the service "
            "requires an expand migration they have not run, and otherwise says none is "
            "needed), then, once the service's owners approved, the release of its stack "
            f"`<env>-svc-{service}` under the lock `deploy-<env>-svc-{service}`: other "
            "services' pipelines run beside it.",
            f"Approvers of {service}: {', '.join(approvers) or 'none configured'}.",
            *promotion_paragraph(environments),
        ),
    )


def approval_of(owner: Owner | None, *, environment: str, what: str) -> Approval:
    return Approval(
        environment=environment,
        what=what,
        approvers=owner.approvers if owner else (),
        team=owner.team if owner else None,
    )


def infrastructure_pipeline(environments: Sequence[Environment], scope: str) -> Pipeline:
    """The pipeline of every change outside `releases/`: each environment's region stacks."""
    jobs: list[Job] = []
    for environment in environments:
        env = environment.name
        rollout = environment.rollout
        stacks = " ".join(f"--stack {rollout.stack(r)}" for wave in rollout.waves for r in wave)
        job = Job(
            id=f"infrastructure-{env}",
            title=f"infrastructure {env}",
            env=env,
            stage=f"{env} infrastructure and migrations",
            steps=(
                refuse_unsafe(stacks, f"preview-{env}-infrastructure.md"),
                Step(
                    name="Deploy the region stacks wave by wave",
                    command=INFRASTRUCTURE.format(env=env),
                ),
            ),
            lock=infrastructure_lock(env),
            approval=Approval(environment=rollout.approval_environment, what=f"{env} regions"),
        )
        jobs.append(job)
    title = f"Infrastructure ({', '.join(e.name for e in environments)})"
    return Pipeline(
        name=f"infrastructure-{scope}",
        title=title,
        switch=f"infrastructure-{scope}",
        action=title.lower(),
        trigger=Trigger(kind="outside", path="releases"),
        jobs=in_order(jobs),
        about=(
            f"Deploys the region stacks (`<env>-<region>`: network, cluster, database, "
            f"migrations, flags), started by a push to {BRANCH} that changes anything outside "
            "releases/ (a change to release files only starts the services' pipelines). Per "
            "environment, after its approval: `ops preview` of its region stacks, then `ops "
            "release --infrastructure`, wave by wave, under the lock "
            "`deploy-<env>-infrastructure` that the services' migrations jobs take too.",
            *promotion_paragraph(environments),
        ),
    )


WAVES = (
    "Deploys environment {env} as one stack per region (`{env}-<region>`), wave by wave: the "
    "region jobs of a wave run side by side and start once every job of the wave before it "
    "succeeded (the health gate in front of a wave is part of that wave's region stacks, so it "
    "bakes inside their jobs). A failed region lets the others of its wave finish and stops the "
    "waves after it. Each job runs `make venv` and the project's own `ops` commands only."
)


def region_pipeline(environments: Sequence[Environment], scope: str) -> Pipeline:
    """Without `--per-service`: each environment's region stacks in their waves, one approval per
    environment, the environments one after another."""
    jobs: list[Job] = []
    for environment in environments:
        env = environment.name
        rollout = environment.rollout
        approve = Job(
            id=f"approve-{env}",
            title=f"Approve {env}",
            env=env,
            stage=f"{env} plan",
            steps=(Step(name="Show the waves to deploy", command=PLAN.format(env=env)),),
            approval=Approval(
                environment=rollout.approval_environment,
                what=f"{env} region by region, wave by wave",
            ),
            deploys=False,
        )
        jobs.append(approve)
        for number, regions in enumerate(rollout.waves, start=1):
            wave = Job(
                id=f"deploy-{env}-wave-{number}",
                title=f"{env} wave {number}",
                env=env,
                stage=f"{env} wave {number}",
                steps=(
                    refuse_unsafe(f'--stack "{STACK}"', f'"preview-{STACK}.md"'),
                    Step(name="Deploy", command=UP.format(stack=f'"{STACK}"', commit=COMMIT)),
                ),
                lock=f"deploy-{STACK}",
                wave=Wave(number=number, env=env, regions=regions),
            )
            jobs.append(wave)
    names = [e.name for e in environments]
    approvals = ", ".join(job.id for job in jobs if job.approval)
    return Pipeline(
        name=f"deploy-{scope}-regions",
        title=f"Deploy {' then '.join(names)} by region",
        trigger=Trigger(kind="manual"),
        jobs=in_order(jobs),
        about=(
            WAVES.format(env=names[0] if len(names) == 1 else "<env>"),
            *promotion_paragraph(environments),
        ),
        switch=f"deploy-{scope}-by-region",
        action=f"deploy {' then '.join(names)} region by region, wave by wave, after {approvals}",
    )


PER_SERVICE = (
    "One pipeline per service and the infrastructure pipeline. Per environment, a service's "
    "migrations job (`ops release --migrations`: the region stacks, when the service requires "
    "an expand migration they have not run; otherwise it says none is needed) runs before its "
    "release (`ops preview` of the service stack `<env>-svc-<service>`, then `ops release`); "
    "the infrastructure job runs `ops preview` of the region stacks, then `ops release "
    "--infrastructure`, wave by wave."
)


def combined_about(pipelines: PipelineSet) -> list[str]:
    """The paragraphs of a file that holds every pipeline of the set (CircleCI, Travis CI)."""
    if pipelines.by_region:
        return list(pipelines.pipelines[0].about)
    return [
        PER_SERVICE,
        *(pipeline.summary for pipeline in pipelines.pipelines),
        *promotion_paragraph(pipelines.environments),
    ]


def pipeline_set(
    environments: Sequence[Environment], *, scope: str, per_service: bool, command: str
) -> PipelineSet:
    if per_service:
        services: list[str] = []
        for environment in environments:
            services += [s.name for s in environment.services if s.name not in services]
        pipelines = (
            *(service_pipeline(s, environments, scope) for s in services),
            infrastructure_pipeline(environments, scope),
        )
    else:
        pipelines = (region_pipeline(environments, scope),)
    return PipelineSet(
        command=command,
        scope=scope,
        environments=tuple(environments),
        pipelines=pipelines,
        per_service=per_service,
    )
