"""The pipelines `--per-service` and `--promote` write, as graphs of jobs before any CI system's
syntax: what starts each pipeline, its jobs in order, each job's lock and approval, and the
project's own commands each job runs. Each CI module renders the same graphs.

Per service (`--per-service`): one pipeline per service, started only by a change to its release
file (`releases/<service>.yaml`): per environment, a migrations job (`ops release --migrations`
deploys the environment's region stacks first when the service requires an expand migration
they have not run, and otherwise says none is needed), then, once the service's owners approved,
the release (`ops preview` of the service stack, then `ops release`), under one lock per service
stack. Beside them, the infrastructure pipeline, started by any change outside `releases/`:
per environment, `ops preview` of its region stacks, then `ops release --infrastructure`, which
deploys them wave by wave.

Promotion (`--promote dev,staging,prod`): the same pipelines (or, without `--per-service`, the
region stacks' waves behind one approval per environment) run the environments in that order
for one commit: an environment's jobs start only once every job of the environment before it
succeeded in the same run. `ops up` and `ops release` fail a path whose `verify` Job failed, so
an environment's success includes its verification.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
class Job:
    id: str
    title: str
    # The Travis CI build stage the job runs in (Travis has one list of stages per build).
    stage: str
    steps: tuple[Step, ...]
    needs: tuple[str, ...] = ()
    lock: str | None = None
    # Many pipelines' jobs take this lock side by side (every service's migrations job takes the
    # region stacks'), where a CI system that cancels all but one queued job must not use it.
    shared_lock: bool = False
    approval: Approval | None = None


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

    def job(self, id: str) -> Job:
        return next(job for job in self.jobs if job.id == id)

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


def service_stack(env: str, service: str) -> str:
    return f"{env}-svc-{service}"


def infrastructure_lock(env: str) -> str:
    return f"deploy-{env}-infrastructure"


def layers(jobs: Sequence[Job]) -> Iterator[tuple[Job, ...]]:
    """The jobs in dependency order, those that can run side by side together (for CI systems
    whose stages run one after another)."""
    done: set[str] = set()
    left = list(jobs)
    while left:
        ready = tuple(job for job in left if set(job.needs) <= done)
        if not ready:
            raise ValueError(f"jobs wait for each other: {', '.join(j.id for j in left)}")
        yield ready
        done |= {job.id for job in ready}
        left = [job for job in left if job.id not in done]


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
    previous: tuple[str, ...] = ()
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
            stage=f"{env} infrastructure and migrations",
            steps=(
                Step(
                    name="Deploy the region stacks if a required migration has not run",
                    command=MIGRATIONS.format(env=env, service=service),
                ),
            ),
            needs=previous,
            lock=infrastructure_lock(env),
            shared_lock=True,
        )
        approval = approval_of(entry.owner, environment=stack, what=f"{service} in {env}")
        approvers += [a for a in approval.approvers if a not in approvers]
        release = Job(
            id=f"{service}-release-{env}",
            title=f"{service} release {env}",
            stage=f"{env} release",
            steps=(
                Step(
                    name="Refuse unsafe changes",
                    command=PREVIEW.format(
                        stacks=f"--stack {stack}", markdown=f"preview-{stack}.md"
                    ),
                ),
                Step(name="Release", command=RELEASE.format(env=env, service=service)),
            ),
            needs=(migrations.id,),
            lock=f"deploy-{stack}",
            approval=approval,
        )
        jobs += [migrations, release]
        previous = (release.id,)
    path = release_file(service)
    names = [e.name for e in environments if e.service(service)]
    return Pipeline(
        name=f"release-{scope}-{service}",
        title=f"Release {service} ({', '.join(names)})",
        trigger=Trigger(kind="changes", path=path),
        jobs=tuple(jobs),
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
    previous: tuple[str, ...] = ()
    for environment in environments:
        env = environment.name
        rollout = environment.rollout
        stacks = " ".join(f"--stack {rollout.stack(r)}" for wave in rollout.waves for r in wave)
        job = Job(
            id=f"infrastructure-{env}",
            title=f"infrastructure {env}",
            stage=f"{env} infrastructure and migrations",
            steps=(
                Step(
                    name="Refuse unsafe changes",
                    command=PREVIEW.format(
                        stacks=stacks, markdown=f"preview-{env}-infrastructure.md"
                    ),
                ),
                Step(
                    name="Deploy the region stacks wave by wave",
                    command=INFRASTRUCTURE.format(env=env),
                ),
            ),
            needs=previous,
            lock=infrastructure_lock(env),
            approval=Approval(environment=rollout.approval_environment, what=f"{env} regions"),
        )
        jobs.append(job)
        previous = (job.id,)
    return Pipeline(
        name=f"infrastructure-{scope}",
        title=f"Infrastructure ({', '.join(e.name for e in environments)})",
        trigger=Trigger(kind="outside", path="releases"),
        jobs=tuple(jobs),
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


def region_pipeline(environments: Sequence[Environment], scope: str) -> Pipeline:
    """Without `--per-service`: each environment's region stacks in their waves, one approval per
    environment, the environments one after another."""
    jobs: list[Job] = []
    previous: tuple[str, ...] = ()
    for environment in environments:
        env = environment.name
        rollout = environment.rollout
        plan = Job(
            id=f"plan-{env}",
            title=f"plan {env}",
            stage=f"{env} plan",
            steps=(Step(name="Show the waves to deploy", command=PLAN.format(env=env)),),
            needs=previous,
            approval=Approval(environment=rollout.approval_environment, what=f"{env} regions"),
        )
        jobs.append(plan)
        previous = (plan.id,)
        for number, wave in enumerate(rollout.waves, start=1):
            wave_jobs = []
            for region in wave:
                stack = rollout.stack(region)
                wave_jobs.append(
                    Job(
                        id=stack,
                        title=stack,
                        stage=f"{env} wave {number}",
                        steps=(
                            Step(
                                name="Refuse unsafe changes",
                                command=PREVIEW.format(
                                    stacks=f"--stack {stack}", markdown=f"preview-{stack}.md"
                                ),
                            ),
                            Step(name="Deploy", command=UP.format(stack=stack, commit=COMMIT)),
                        ),
                        needs=previous,
                        lock=f"deploy-{stack}",
                    )
                )
            jobs += wave_jobs
            previous = tuple(job.id for job in wave_jobs)
    names = [e.name for e in environments]
    return Pipeline(
        name=f"deploy-{scope}-regions",
        title=f"Deploy {' then '.join(names)} by region",
        trigger=Trigger(kind="manual"),
        jobs=tuple(jobs),
        about=(
            "Deploys each environment as one stack per region (`<env>-<region>`), wave by wave, "
            "behind one approval per environment: the region jobs of a wave run side by side "
            "and start once every job of the wave before it succeeded. Started by hand only: "
            "an environment has one layout at a time.",
            *promotion_paragraph(environments),
        ),
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
    first = pipelines.pipelines[0]
    return [
        *((PER_SERVICE,) if pipelines.per_service else first.about[:1]),
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
