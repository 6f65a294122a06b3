"""RegionPath: one region's providers, cluster, database and alarm topic, and its release paths."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from graphlib import TopologicalSorter

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.barrier import Barrier
from components.feature_flags import (
    FeatureFlags,
    FeatureFlagsArgs,
    application_name,
    profile_name,
)
from components.migration_path import MigrationPath, MigrationPathArgs
from components.pod_security import NAMESPACE_LABELS
from components.region_cluster import Cluster, build_cluster
from components.region_database import build_database
from components.region_network import Network, build_network
from components.service_path import (
    Monitoring,
    ServicePath,
    ServicePathArgs,
    deployment_name,
    tracks,
)
from deploypaths.naming import component_name, path_id, tags
from deploypaths.settings import Migration, Settings

DATABASE_SECRET = "database-connection"


@dataclass(frozen=True, kw_only=True)
class RegionPathArgs:
    settings: Settings
    region: str
    # The previous wave's gate: every resource of this region waits for it, through the region's
    # providers or through a resource that uses them, so a bad wave stops the next one.
    gate: pulumi.Resource | None = None
    # Secret config values, already wrapped as secrets by the composition root.
    kubeconfig: pulumi.Input[str] | None = None
    database_url: pulumi.Input[str] | None = None
    render_root: str = "rendered"


class RegionPath(pulumi.ComponentResource):
    """Everything of one region: infrastructure first, then its migration and service paths."""

    services: dict[str, ServicePath]
    migrations: dict[str, MigrationPath]
    completion: list[pulumi.Resource]
    composite_alarm_names: pulumi.Output[list[str]]
    alarm_topic_arn: pulumi.Output[str] | None
    # What the next wave's gate reads through the API server (None in render mode).
    kubeconfig: pulumi.Output[str] | None
    deployment_names: list[str]

    def __init__(
        self, name: str, args: RegionPathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deploypaths:index:RegionPath", name, None, opts)
        settings, region = args.settings, args.region
        self._tags = tags(settings, region)
        held_back = pulumi.ResourceOptions(
            parent=self, depends_on=[args.gate] if args.gate else None
        )
        self.aws_provider = (
            aws.Provider(f"{name}-aws", region=region, opts=held_back)
            if _needs_aws(settings)
            else None
        )
        aws_opts = pulumi.ResourceOptions(parent=self, provider=self.aws_provider)
        network = cluster = None
        if settings.kubernetes.mode == "eks" or settings.database.mode == "aurora":
            network = build_network(name, region, self._tags, aws_opts)
        if settings.kubernetes.mode == "eks":
            assert network is not None
            cluster = build_cluster(
                name,
                region,
                settings.kubernetes,
                network,
                self._tags,
                settings.is_protected_region(region),
                aws_opts,
            )
        self.kubeconfig = self._kubeconfig(args, cluster)
        self.k8s_provider = self._kubernetes_provider(name, args, held_back, cluster)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": settings.kubernetes.namespace,
                "labels": {"deploypaths/region": region, **NAMESPACE_LABELS},
            },
            opts=k8s_opts,
        )
        namespace = self.namespace.metadata.name
        database_secret = self._database_secret(name, args, network, aws_opts, k8s_opts, namespace)
        self.alarm_topic_arn = None
        monitoring_for = None
        if settings.monitoring.mode == "cloudwatch":
            topic = aws.sns.Topic(f"{name}-alarms", tags=self._tags, opts=aws_opts)
            self.alarm_topic_arn = topic.arn
            cluster_name = cluster.name if cluster else f"{settings.environment}-{region}"

            def monitoring_for(service: str) -> Monitoring:
                return Monitoring(
                    cluster_name=cluster_name,
                    namespace=settings.kubernetes.namespace,
                    topic_arn=topic.arn,
                    restart_threshold=settings.monitoring.restart_threshold,
                    alarm_prefix=f"{settings.environment}-{service}-{region}",
                    tags=tags(settings, path_id(service, region)),
                )

        paths_opts = pulumi.ResourceOptions(
            parent=self,
            providers={"kubernetes": self.k8s_provider}
            | ({"aws": self.aws_provider} if self.aws_provider else {}),
        )
        self._build_paths(args, paths_opts, namespace, database_secret, monitoring_for)
        self.register_outputs(
            {
                "services": list(self.services),
                "migrations": list(self.migrations),
                "composite_alarm_names": self.composite_alarm_names,
                "alarm_topic_arn": self.alarm_topic_arn,
            }
        )

    @staticmethod
    def _kubeconfig(args: RegionPathArgs, cluster: Cluster | None) -> pulumi.Output[str] | None:
        if cluster is not None:
            return pulumi.Output.secret(cluster.kubeconfig)
        if args.kubeconfig is not None:
            return pulumi.Output.secret(args.kubeconfig)
        return None

    def _kubernetes_provider(
        self,
        name: str,
        args: RegionPathArgs,
        held_back: pulumi.ResourceOptions,
        cluster: Cluster | None,
    ) -> k8s.Provider:
        if args.settings.kubernetes.mode == "render":
            directory = os.path.join(args.render_root, args.settings.stack, args.region)
            return k8s.Provider(f"{name}-k8s", render_yaml_to_directory=directory, opts=held_back)
        if cluster is not None:
            # Rollouts start only once nodes exist: their readiness wait must not run empty.
            held_back = pulumi.ResourceOptions.merge(
                held_back, pulumi.ResourceOptions(depends_on=[cluster.ready])
            )
        return k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, delete_unreachable=False, opts=held_back
        )

    def _database_secret(
        self,
        name: str,
        args: RegionPathArgs,
        network: Network | None,
        aws_opts: pulumi.ResourceOptions,
        k8s_opts: pulumi.ResourceOptions,
        namespace: pulumi.Output[str],
    ) -> pulumi.Output[str] | None:
        """The Kubernetes Secret pods read the database connection from (None without one)."""
        database = args.settings.database
        if database.mode == "none":
            return None
        if args.settings.kubernetes.mode == "render":
            # The provider renders Secret data as plain base64: rendered manifests reference
            # the Secret by name, and whoever applies them provides it (sealed or external).
            return pulumi.Output.from_input(DATABASE_SECRET)
        ready: list[pulumi.Resource] = []
        if database.mode == "aurora":
            built = build_database(
                name,
                args.settings.environment,
                database,
                network,
                self._tags,
                args.settings.is_protected_region(args.region),
                aws_opts,
            )
            data = {
                "PGHOST": built.host,
                "PGPORT": built.port.apply(str),
                "PGDATABASE": database.name,
                "PGUSER": database.username,
                "PGPASSWORD": built.password,
                "PGSSLMODE": "require",
            }
            ready = list(built.instances)
        else:
            data = {"DATABASE_URL": args.database_url}
        secret = k8s.core.v1.Secret(
            f"{name}-database",
            metadata={"name": DATABASE_SECRET, "namespace": namespace},
            type="Opaque",
            # `data` (base64) rather than `string_data`, so the rendered file holds no plain text
            # even in render mode; the provider marks Secret data as secret in state.
            data={
                key: pulumi.Output.secret(pulumi.Output.from_input(value).apply(_b64))
                for key, value in data.items()
            },
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=ready)),
        )
        return secret.metadata.name

    def _build_paths(
        self,
        args: RegionPathArgs,
        opts: pulumi.ResourceOptions,
        namespace: pulumi.Output[str],
        database_secret: pulumi.Output[str] | None,
        monitoring_for: Callable[[str], Monitoring] | None,
    ) -> None:
        """Declares exactly the edges a safe release needs (see README, "Synchronization")."""
        settings, region = args.settings, args.region

        def migration_path(migration: Migration, waits_for: list[pulumi.Resource]) -> MigrationPath:
            path = MigrationPath(
                component_name(migration.name, region),
                MigrationPathArgs(
                    migration=migration,
                    namespace=namespace,
                    database_secret=database_secret,
                    waits_for=waits_for,
                ),
                opts,
            )
            self.migrations[migration.name] = path
            return path

        self.migrations = {}
        previous_job: list[pulumi.Resource] = []
        for migration in (m for m in settings.migrations if m.phase == "expand"):
            previous_job = [migration_path(migration, previous_job).job]

        self.services = {}
        services = {service.name: service for service in settings.services_in(region)}
        # AppConfig needs alarms to watch and a real cluster to serve; otherwise flags reach
        # the pods as a mounted ConfigMap.
        flags_via_appconfig = (
            settings.monitoring.mode == "cloudwatch" and settings.kubernetes.mode != "render"
        )
        order = TopologicalSorter({name: s.after for name, s in services.items()}).static_order()
        for service in (services[name] for name in order):
            waits_for = [self.migrations[m].job for m in service.requires]
            for other in service.after:
                waits_for.extend(self.services[other].deployments)
            self.services[service.name] = ServicePath(
                component_name(service.name, region),
                ServicePathArgs(
                    service=service,
                    namespace=namespace,
                    database_secret=database_secret,
                    waits_for=waits_for,
                    monitoring=monitoring_for(service.name) if monitoring_for else None,
                    flags_as_config_map=not flags_via_appconfig,
                    extra_env=_appconfig_env(settings.environment, service.name)
                    if flags_via_appconfig and service.flags
                    else {},
                    rollout_timeout_seconds=settings.kubernetes.rollout_timeout_seconds,
                ),
                opts,
            )
        flag_deployments: list[pulumi.Resource] = []
        flagged = tuple(s for s in services.values() if s.flags)
        if flags_via_appconfig and flagged:
            flags = FeatureFlags(
                f"{region}-flags",
                FeatureFlagsArgs(
                    environment=settings.environment,
                    services=flagged,
                    health_alarms={
                        s.name: self.services[s.name].composite_alarm_name for s in flagged
                    },
                    rollouts={s.name: self.services[s.name].deployments for s in flagged},
                    topic_arn=self.alarm_topic_arn,
                    delivery=settings.flag_delivery,
                    tags=tags(settings, f"flags@{region}"),
                ),
                opts,
            )
            flag_deployments = list(flags.deployments)

        deployments = [d for path in self.services.values() for d in path.deployments]
        self.services_ready = Barrier(
            f"{region}-services-ready", deployments, pulumi.ResourceOptions(parent=self)
        )
        after_services: list[pulumi.Resource] = [self.services_ready]
        for migration in (m for m in settings.migrations if m.phase == "contract"):
            previous_job = [migration_path(migration, previous_job + after_services).job]
            after_services = []
        # AppConfig deployments start a gradual rollout and return; AppConfig itself rolls a
        # bad flag back on the region's alarm, which is what the gate watches too.
        self.completion = [self.services_ready, *previous_job, *flag_deployments]
        self.deployment_names = [
            deployment_name(service, track.name)
            for service in services.values()
            for track in tracks(service)
        ]
        self.composite_alarm_names = pulumi.Output.all(
            *[p.composite_alarm_name for p in self.services.values() if p.composite_alarm_name]
        ).apply(sorted)


def _needs_aws(settings: Settings) -> bool:
    return (
        settings.kubernetes.mode == "eks"
        or settings.database.mode == "aurora"
        or settings.monitoring.mode == "cloudwatch"
    )


def _appconfig_env(environment: str, service: str) -> dict[str, str]:
    """Where the service's AppConfig agent or SDK finds its flags."""
    return {
        "APPCONFIG_APPLICATION": application_name(environment),
        "APPCONFIG_ENVIRONMENT": environment,
        "APPCONFIG_PROFILE": profile_name(service),
    }


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()
