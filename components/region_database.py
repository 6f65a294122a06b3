"""Database: the region's Aurora PostgreSQL cluster; AWS keeps its master password in Secrets
Manager."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.moved import moved_from_parent
from components.outputs import tolerant
from deploypaths.identity import DATABASE


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    # Snapshot names are per account and region: the environment keeps dev's and prod's apart.
    environment: str
    engine_version: str
    instance_class: str
    instances: int
    database_name: str
    username: str
    backup_retention_days: int
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    tags: dict[str, str]
    protected: bool


class Database(pulumi.ComponentResource):
    """An encrypted Aurora PostgreSQL cluster reachable from inside the region's VPC only."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    # Where AWS keeps the master password: read with `master_password`, never stored here.
    master_user_secret_arn: pulumi.Output[str]
    # The cluster accepts connections only once an instance is up.
    instances: list[aws.rds.ClusterInstance]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(DATABASE, name, None, opts)
        child = moved_from_parent(self, opts)
        tags, protected = args.tags, args.protected
        # In prod the data must survive any mistake in code or config: the engine refuses to
        # delete or replace protected resources, and retain_on_delete keeps them if protection
        # is lifted.
        keep = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(protect=protected, retain_on_delete=protected)
        )
        firewall = aws.ec2.SecurityGroup(
            f"{name}-db-sg",
            vpc_id=args.vpc_id,
            description="PostgreSQL from inside the region's VPC only",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 5432,
                    "to_port": 5432,
                    "cidr_blocks": [args.vpc_cidr],
                }
            ],
            tags=tags,
            opts=child,
        )
        subnets = aws.rds.SubnetGroup(
            f"{name}-db-subnets", subnet_ids=args.subnet_ids, tags=tags, opts=keep
        )
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-db-params",
            family=f"aurora-postgresql{args.engine_version.split('.')[0]}",
            parameters=[{"name": "rds.force_ssl", "value": "1"}],
            tags=tags,
            opts=keep,
        )
        cluster = aws.rds.Cluster(
            f"{name}-db",
            engine="aurora-postgresql",
            engine_version=args.engine_version,
            database_name=args.database_name,
            master_username=args.username,
            manage_master_user_password=True,
            storage_encrypted=True,
            deletion_protection=protected,
            backup_retention_period=args.backup_retention_days,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{args.environment}-{name}-db-final",
            copy_tags_to_snapshot=True,
            db_subnet_group_name=subnets.name,
            db_cluster_parameter_group_name=parameters.name,
            vpc_security_group_ids=[firewall.id],
            tags=tags,
            opts=keep,
        )
        self.instances = [
            aws.rds.ClusterInstance(
                f"{name}-db-{index}",
                cluster_identifier=cluster.id,
                engine=aws.rds.EngineType.AURORA_POSTGRESQL,
                engine_version=args.engine_version,
                instance_class=args.instance_class,
                publicly_accessible=False,
                tags=tags,
                opts=keep,
            )
            for index in range(args.instances)
        ]
        self.host = cluster.endpoint
        self.port = cluster.port
        self.master_user_secret_arn = cluster.master_user_secrets.apply(_secret_arn)
        self.register_outputs(
            tolerant(
                {
                    "host": self.host,
                    "port": self.port,
                    "master_user_secret_arn": self.master_user_secret_arn,
                    "instances": self.instances,
                }
            )
        )


def _secret_arn(secrets: Sequence[aws.rds.outputs.ClusterMasterUserSecret]) -> str:
    # AWS creates the secret with the cluster: manage_master_user_password is always on.
    arn = secrets[0].secret_arn
    assert arn is not None, "the cluster has no master user secret"
    return arn


def master_password(
    secret_arn: pulumi.Input[str], opts: pulumi.InvokeOutputOptions
) -> pulumi.Output[str]:
    """The password AWS generated, read from Secrets Manager by whoever hands it to the pods."""
    secret = aws.secretsmanager.get_secret_version_output(secret_id=secret_arn, opts=opts)
    return pulumi.Output.secret(
        secret.secret_string.apply(lambda text: str(json.loads(text)["password"]))
    )
