"""MigrationPath: one schema migration in one region, run as a Kubernetes Job."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.pod_security import (
    SCRATCH_MOUNT,
    SCRATCH_VOLUME,
    container_security_context,
    pod_security_context,
)
from deploypaths.identity import MIGRATION_PATH
from deploypaths.naming import job_name
from deploypaths.settings import Migration


@dataclass(frozen=True, kw_only=True)
class MigrationPathArgs:
    migration: Migration
    namespace: pulumi.Input[str]
    database_secret: pulumi.Input[str] | None
    # Custom resources that must finish first: the previous migration and, for a contract
    # migration, the services barrier.
    waits_for: list[pulumi.Resource]
    timeout_minutes: int = 30


class MigrationPath(pulumi.ComponentResource):
    """Runs the migration image once per version; the deploy waits for the Job to complete."""

    # What the paths after this one wait for: the provider reports it once the Job completed.
    job: k8s.batch.v1.Job
    job_name: str

    def __init__(
        self, name: str, args: MigrationPathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(MIGRATION_PATH, name, None, opts)
        migration = args.migration
        self.job_name = job_name(migration.name, migration.image)
        env_from = [{"secret_ref": {"name": args.database_secret}}] if args.database_secret else []
        labels = {
            "app.kubernetes.io/part-of": "deploypaths",
            "deploypaths/migration": migration.name,
        }
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata={
                "name": self.job_name,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": {"deploypaths/phase": migration.phase},
            },
            spec={
                # A failed migration is investigated, not retried blindly against a live schema.
                "backoff_limit": 0,
                "active_deadline_seconds": args.timeout_minutes * 60,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restart_policy": "Never",
                        "automount_service_account_token": False,
                        "security_context": pod_security_context(),
                        "volumes": [SCRATCH_VOLUME],
                        "containers": [
                            {
                                "name": "migrate",
                                "image": migration.image,
                                "env_from": env_from,
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "128Mi"},
                                    "limits": {"cpu": "500m", "memory": "256Mi"},
                                },
                                "security_context": container_security_context(),
                                "volume_mounts": [SCRATCH_MOUNT],
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.waits_for,
                # The provider waits for completion and fails the path when the Job fails.
                custom_timeouts=pulumi.CustomTimeouts(create=f"{args.timeout_minutes}m"),
            ),
        )
        self.register_outputs({"job": self.job, "job_name": self.job_name})
