"""MigrationPath: one schema migration in one region, run as a Kubernetes Job (its change, or
its `down` where the region runs that instead)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.outputs import tolerant
from components.ownership import owner_annotations, owner_labels
from components.run_once_job import RunOnce, run_once_job
from deploypaths.config.settings import Migration
from deploypaths.identity import MIGRATION_PATH
from deploypaths.naming import down_job_name, job_name


@dataclass(frozen=True, kw_only=True)
class MigrationPathArgs:
    migration: Migration
    namespace: pulumi.Input[str]
    database_secret: pulumi.Input[str] | None
    # Custom resources that must finish first: the previous migration and, for a contract
    # migration, the services barrier.
    waits_for: list[pulumi.Resource]
    timeout_minutes: int = 30
    # Run the migration's `down` instead of its change (the region lists it in down_migrations).
    down: bool = False


class MigrationPath(pulumi.ComponentResource):
    """Runs the migration image once per version, or its `down` where the region undoes it; the
    deploy waits for the Job to complete."""

    # What the paths after this one wait for: the provider reports it once the Job completed.
    job: k8s.batch.v1.Job
    job_name: str
    # `up` (the change) or `down` (its inverse): which Job the path declares.
    direction: str

    def __init__(
        self, name: str, args: MigrationPathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(MIGRATION_PATH, name, None, opts)
        migration = args.migration
        self.direction = "down" if args.down else "up"
        labels = {
            "app.kubernetes.io/part-of": "deploypaths",
            "deploypaths/migration": migration.name,
        }
        if args.down:
            assert migration.down is not None, f"{migration.name}: no down to run"
            # A child of its own name: the inverse is another Job beside the change's (which
            # this region no longer declares), never an update that would reuse its name.
            self.job_name = down_job_name(migration)
            self.job = self._job(
                f"{name}-down-job",
                args,
                image=migration.down.image,
                container_args=list(migration.down.args),
                labels={**labels, "deploypaths/direction": "down"},
            )
        else:
            self.job_name = job_name(migration.name, migration.image)
            self.job = self._job(f"{name}-job", args, image=migration.image, labels=labels)
        self.register_outputs(
            tolerant({"job": self.job, "job_name": self.job_name, "direction": self.direction})
        )

    def _job(
        self,
        resource_name: str,
        args: MigrationPathArgs,
        *,
        image: str,
        labels: dict[str, str],
        container_args: list[str] | None = None,
    ) -> k8s.batch.v1.Job:
        secret = [{"secret_ref": {"name": args.database_secret}}] if args.database_secret else []
        run = RunOnce(
            job_name=self.job_name,
            namespace=args.namespace,
            labels=labels,
            job_labels=owner_labels(args.migration.owner),
            annotations={
                "deploypaths/phase": args.migration.phase,
                **owner_annotations(args.migration.owner),
            },
            container="migrate",
            image=image,
            # Only the down Job has args: the change's Job keeps its inputs.
            args=container_args,
            env_from=secret,
            timeout_minutes=args.timeout_minutes,
        )
        return run_once_job(resource_name, run, parent=self, waits_for=args.waits_for)
