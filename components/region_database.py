"""The region's Aurora PostgreSQL cluster; AWS keeps its master password in Secrets Manager."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.region_network import Network
from deploypaths.settings import DatabaseSettings


@dataclass(frozen=True)
class Database:
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    password: pulumi.Output[str]
    # The cluster accepts connections only once an instance is up.
    instances: list[aws.rds.ClusterInstance]


def build_database(
    name: str,
    environment: str,
    database: DatabaseSettings,
    network: Network,
    tags: dict[str, str],
    protected: bool,
    opts: pulumi.ResourceOptions,
) -> Database:
    # In prod the data must survive any mistake in code or config: the engine refuses to delete
    # or replace protected resources, and retain_on_delete keeps them if protection is lifted.
    keep = pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(protect=protected, retain_on_delete=protected)
    )
    firewall = aws.ec2.SecurityGroup(
        f"{name}-db-sg",
        vpc_id=network.vpc.id,
        description="PostgreSQL from inside the region's VPC only",
        ingress=[
            {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "cidr_blocks": [network.cidr]}
        ],
        tags=tags,
        opts=opts,
    )
    subnets = aws.rds.SubnetGroup(
        f"{name}-db-subnets", subnet_ids=network.private_subnet_ids, tags=tags, opts=keep
    )
    family = f"aurora-postgresql{database.engine_version.split('.')[0]}"
    parameters = aws.rds.ClusterParameterGroup(
        f"{name}-db-params",
        family=family,
        parameters=[{"name": "rds.force_ssl", "value": "1"}],
        tags=tags,
        opts=keep,
    )
    cluster = aws.rds.Cluster(
        f"{name}-db",
        engine="aurora-postgresql",
        engine_version=database.engine_version,
        database_name=database.name,
        master_username=database.username,
        manage_master_user_password=True,
        storage_encrypted=True,
        deletion_protection=protected,
        backup_retention_period=database.backup_retention_days,
        skip_final_snapshot=False,
        # Snapshot names are per account and region: the environment keeps dev's and prod's apart.
        final_snapshot_identifier=f"{environment}-{name}-db-final",
        copy_tags_to_snapshot=True,
        db_subnet_group_name=subnets.name,
        db_cluster_parameter_group_name=parameters.name,
        vpc_security_group_ids=[firewall.id],
        tags=tags,
        opts=keep,
    )
    instances = [
        aws.rds.ClusterInstance(
            f"{name}-db-{index}",
            cluster_identifier=cluster.id,
            engine="aurora-postgresql",
            engine_version=database.engine_version,
            instance_class=database.instance_class,
            publicly_accessible=False,
            tags=tags,
            opts=keep,
        )
        for index in range(database.instances)
    ]
    secret_arn = cluster.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
    secret = aws.secretsmanager.get_secret_version_output(
        secret_id=secret_arn,
        opts=pulumi.InvokeOutputOptions(parent=opts.parent, provider=opts.provider),
    )
    password = pulumi.Output.secret(
        secret.secret_string.apply(lambda text: json.loads(text)["password"])
    )
    return Database(
        host=cluster.endpoint, port=cluster.port, password=password, instances=instances
    )
