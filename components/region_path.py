"""RegionPath: one region's providers, cluster, database and alarm topic, and its release paths."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.barrier import Barrier, BarrierArgs
from components.feature_flags import (
    FeatureFlags,
    FeatureFlagsArgs,
    application_name,
    profile_name,
)
from components.migration_path import MigrationPath, MigrationPathArgs
from components.moved import renamed_path
from components.network_policy import callers, default_deny
from components.notifications import Notifications, NotificationsArgs, path_topics
from components.outputs import tolerant
from components.pod_security import NAMESPACE_LABELS
from components.region_cluster import Cluster, ClusterArgs
from components.region_dashboard import DashboardRow, RegionDashboard, RegionDashboardArgs
from components.region_database import Database, DatabaseArgs, master_password
from components.region_network import Network, NetworkArgs
from components.service_path import (
    Monitoring,
    ServicePath,
    ServicePathArgs,
    deployment_name,
    tracks,
)
from deploypaths.config.settings import (
    DatabaseSettings,
    FlagDeliverySettings,
    KubernetesSettings,
    Migration,
    MonitoringSettings,
    Notification,
    Service,
)
from deploypaths.identity import REGION_PATH, barrier_name, flags_id
from deploypaths.naming import component_name, path_id

DATABASE_SECRET = "database-connection"


@dataclass(frozen=True, kw_only=True)
class RegionPathArgs:
    region: str
    environment: str
    # The stack's render folder is `<render_root>/<stack>/<region>`.
    stack: str
    # Protected regions keep their control plane and data through any mistake in code or config.
    protected: bool
    kubernetes: KubernetesSettings
    database: DatabaseSettings
    monitoring: MonitoringSettings
    flag_delivery: FlagDeliverySettings
    # This region's services, its overrides applied, and the stack's migrations.
    services: tuple[Service, ...]
    migrations: tuple[Migration, ...]
    # The migrations whose `down` this region runs instead of their change.
    down_migrations: tuple[str, ...] = ()
    # The tags of a path of this stack, given its id (`orders@eu-west-1`, or the region).
    tags: Callable[[str], dict[str, str]]
    # The previous wave's gate: every resource of this region waits for it, through the region's
    # providers or through a resource that uses them, so a bad wave stops the next one.
    gate: pulumi.Resource | None = None
    # Secret config values, already wrapped as secrets by the composition root.
    kubeconfig: pulumi.Input[str] | None = None
    database_url: pulumi.Input[str] | None = None
    render_root: str = "rendered"
    # Who hears of this region's alarms and failed gates (monitoring cloudwatch), and the
    # secret URL of each https entry, by name.
    notifications: tuple[Notification, ...] = ()
    notification_endpoints: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # The gate that watches this region's paths before the next wave (None: the last wave); the
    # dashboard shows its state.
    watching_gate: str | None = None
    # `layout: per-service` (deploypaths/layout.py): the region's infrastructure without its
    # services (INFRASTRUCTURE), or services whose infrastructure another stack holds
    # (SERVICES, with that stack's exports in `infrastructure`).
    part: str = "all"
    # A service stack's one service (the others of `services` only say who calls it).
    service: str | None = None
    infrastructure: RegionInfrastructure | None = None
    # What the region's providers wait for besides the gate: a service stack's guards, which
    # fail an update before any of its resources is declared (deploypaths/service_guard.py).
    hold: pulumi.Output[Any] | None = None
    # What the contract and down migrations of a per-service infrastructure stack wait for: every
    # service of the region on its release, read from the service stacks (their guard).
    contract_hold: pulumi.Output[Any] | None = None


ALL, INFRASTRUCTURE, SERVICES = "all", "infrastructure", "services"


@dataclass(frozen=True, kw_only=True)
class RegionInfrastructure:
    """What a per-service environment's region stack exports for its service stacks
    (components/stack_references.py reads it back)."""

    kubeconfig: pulumi.Output[str] | None
    alarm_topic_arn: pulumi.Output[str] | None
    cluster_name: pulumi.Input[str]
    owner_topic_arns: pulumi.Output[dict[str, str]]


class RegionPath(pulumi.ComponentResource):
    """Everything of one region: infrastructure first, then its migration and service paths."""

    services: dict[str, ServicePath]
    migrations: dict[str, MigrationPath]
    # What the next wave's gate waits for: the region's paths are done.
    completion: list[pulumi.Resource]
    composite_alarm_names: pulumi.Output[list[str]]
    alarm_topic_arn: pulumi.Output[str] | None
    # The topics a failed gate publishes to, each for every path or for some paths' alarms
    # (`health.notify_failure`); empty without CloudWatch.
    notify_targets: pulumi.Output[list[dict[str, Any]]]
    dashboard: RegionDashboard | None
    cluster_name: pulumi.Input[str]
    owner_topic_arns: pulumi.Output[dict[str, str]]
    # What the next wave's gate reads through the API server (None in render mode).
    kubeconfig: pulumi.Output[str] | None
    deployment_names: list[str]

    def __init__(
        self, name: str, args: RegionPathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(REGION_PATH, name, None, opts)
        region = args.region
        self._tags = args.tags(region)
        held_back = pulumi.ResourceOptions(
            parent=self, depends_on=[args.gate] if args.gate else None
        )
        aws_provider = (
            aws.Provider(f"{name}-aws", region=_held(args, region), opts=held_back)
            if _needs_aws(args)
            else None
        )
        if args.part == SERVICES:
            self._services_only(name, args, held_back, aws_provider)
            return
        aws_opts = pulumi.ResourceOptions(
            parent=self, providers={"aws": aws_provider} if aws_provider else None
        )
        network = cluster = None
        if args.kubernetes.mode == "eks" or args.database.mode == "aurora":
            network = Network(name, NetworkArgs(region=region, tags=self._tags), aws_opts)
        if args.kubernetes.mode == "eks":
            assert network is not None
            kubernetes = args.kubernetes
            cluster = Cluster(
                name,
                ClusterArgs(
                    region=region,
                    version=kubernetes.version,
                    node_instance_type=kubernetes.node_instance_type,
                    node_count=kubernetes.node_count,
                    subnet_ids=network.private_subnet_ids,
                    tags=self._tags,
                    protected=args.protected,
                ),
                aws_opts,
            )
        self.kubeconfig = self._kubeconfig(args, cluster)
        k8s_provider = self._kubernetes_provider(name, args, held_back, cluster)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=k8s_provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args.kubernetes.namespace,
                "labels": {"deploypaths/region": region, **NAMESPACE_LABELS},
            },
            opts=k8s_opts,
        ).metadata.name
        default_deny(name, namespace, k8s_opts)
        database = self._database(name, args, network, aws_opts)
        database_secret = self._database_secret(
            name, args, database, aws_provider, k8s_opts, namespace
        )
        self.alarm_topic_arn = None
        self.dashboard = None
        monitoring_for = None
        notifications = None
        cluster_name: pulumi.Input[str] = f"{args.environment}-{region}"
        # The entries for every path, and those of owners with paths here: an owner without
        # any gets no topic in this region.
        owners_here = {service.team for service in args.services}
        notified = tuple(e for e in args.notifications if e.owner is None or e.owner in owners_here)
        if args.monitoring.mode == "cloudwatch":
            topic = aws.sns.Topic(
                f"{name}-alarms",
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self, provider=aws_provider),
            )
            self.alarm_topic_arn = topic.arn
            if cluster:
                cluster_name = cluster.cluster_name
            if notified:
                notifications = Notifications(
                    f"{name}-notifications",
                    NotificationsArgs(
                        region=region,
                        topic_arn=topic.arn,
                        entries=notified,
                        endpoints=args.notification_endpoints,
                        tags=self._tags,
                    ),
                    aws_opts,
                )
            owner_topics = notifications.owner_topic_arns if notifications else {}

            def monitoring_for(service: Service) -> Monitoring:
                return Monitoring(
                    cluster_name=cluster_name,
                    namespace=args.kubernetes.namespace,
                    topic_arn=topic.arn,
                    also_notify=tuple(path_topics(notified, service.team, region, owner_topics)),
                    restart_threshold=args.monitoring.restart_threshold,
                    alarm_prefix=_alarm_prefix(args, service.name),
                    tags=args.tags(path_id(service.name, region)),
                )

        paths_opts = pulumi.ResourceOptions(
            parent=self,
            providers={"kubernetes": k8s_provider}
            | ({"aws": aws_provider} if aws_provider else {}),
        )
        self._build_paths(name, args, paths_opts, namespace, database_secret, monitoring_for)
        self.notify_targets = self._notify_targets(args, notified, notifications)
        # What a per-service environment's service stacks read of the region (its export).
        self.cluster_name = cluster_name
        self.owner_topic_arns = pulumi.Output.all(
            **(notifications.owner_topic_arns if notifications else {})
        )
        if self.alarm_topic_arn is not None and args.services:
            self.dashboard = self._dashboard(name, args, cluster_name, aws_opts)
        self.register_outputs(
            tolerant(
                {
                    "services": self.services,
                    "migrations": self.migrations,
                    "completion": self.completion,
                    "composite_alarm_names": self.composite_alarm_names,
                    "alarm_topic_arn": self.alarm_topic_arn,
                    "notify_targets": self.notify_targets,
                    "dashboard": self.dashboard,
                    "kubeconfig": self.kubeconfig,
                    "deployment_names": self.deployment_names,
                    "cluster_name": self.cluster_name,
                    "owner_topic_arns": self.owner_topic_arns,
                }
            )
        )

    def _dashboard(
        self,
        name: str,
        args: RegionPathArgs,
        cluster_name: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
    ) -> RegionDashboard:
        """The region's dashboard. It names each path's alarm by the ARN it will have (account
        and partition from the region's topic) rather than taking it from the alarm: a resource
        of the region that waited for its paths' resources would make the region path wait for
        the paths that wait for it."""
        assert self.alarm_topic_arn is not None
        arn = self.alarm_topic_arn.apply(lambda topic: topic.split(":"))

        def alarm_arn(service: str) -> pulumi.Output[str]:
            alarm = f"{_alarm_prefix(args, service)}-health"
            return arn.apply(lambda p: f"arn:{p[1]}:cloudwatch:{args.region}:{p[4]}:alarm:{alarm}")

        return RegionDashboard(
            f"{name}-paths",
            RegionDashboardArgs(
                region=args.region,
                environment=args.environment,
                cluster_name=cluster_name,
                namespace=args.kubernetes.namespace,
                rows=tuple(
                    DashboardRow(
                        service=service.name,
                        deployments=tuple(
                            deployment_name(service, t.name) for t in tracks(service)
                        ),
                        composite_alarm_arn=alarm_arn(service.name),
                    )
                    for service in args.services
                ),
                gate=args.watching_gate,
            ),
            opts,
        )

    def _notify_targets(
        self,
        args: RegionPathArgs,
        notified: tuple[Notification, ...],
        notifications: Notifications | None,
    ) -> pulumi.Output[list[dict[str, Any]]]:
        """Where a failed gate tells of this region: its topic, for every path; each owner's
        topic and each owner's SNS topic, for that owner's paths; the other SNS topics, for all."""
        if self.alarm_topic_arn is None:
            return pulumi.Output.from_input([])
        owner_topics = notifications.owner_topic_arns if notifications else {}
        alarms_of: dict[str | None, list[pulumi.Output[str]]] = {}
        for service in (s for s in args.services if s.name in self.services):
            alarm = self.services[service.name].composite_alarm_name
            if alarm is not None:
                alarms_of.setdefault(service.team, []).append(alarm)
        targets: list[Any] = [{"topic_arn": self.alarm_topic_arn, "every": True, "alarms": []}]
        for owner, arn in owner_topics.items():
            targets.append({"topic_arn": arn, "every": False, "alarms": alarms_of.get(owner, [])})
        for entry in (e for e in notified if e.protocol == "sns"):
            targets.append(
                {
                    "topic_arn": entry.topic_arns[args.region],
                    "every": entry.owner is None,
                    "alarms": alarms_of.get(entry.owner, []) if entry.owner else [],
                }
            )
        resolved: pulumi.Output[list[dict[str, Any]]] = pulumi.Output.from_input(targets)
        return resolved

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
        if args.kubernetes.mode == "render":
            directory = os.path.join(args.render_root, args.stack, args.region)
            return k8s.Provider(f"{name}-k8s", render_yaml_to_directory=directory, opts=held_back)
        if cluster is not None:
            # Rollouts start only once nodes exist: their readiness wait must not run empty.
            held_back = pulumi.ResourceOptions.merge(
                held_back, pulumi.ResourceOptions(depends_on=[cluster.ready])
            )
        return k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, delete_unreachable=False, opts=held_back
        )

    def _database(
        self,
        name: str,
        args: RegionPathArgs,
        network: Network | None,
        aws_opts: pulumi.ResourceOptions,
    ) -> Database | None:
        """The region's Aurora cluster, when the stack runs one and the pods can reach it."""
        if args.database.mode != "aurora" or args.kubernetes.mode == "render":
            return None
        assert network is not None
        database = args.database
        return Database(
            name,
            DatabaseArgs(
                environment=args.environment,
                engine_version=database.engine_version,
                instance_class=database.instance_class,
                instances=database.instances,
                database_name=database.name,
                username=database.username,
                backup_retention_days=database.backup_retention_days,
                vpc_id=network.vpc_id,
                vpc_cidr=network.cidr,
                subnet_ids=network.private_subnet_ids,
                tags=self._tags,
                protected=args.protected,
            ),
            aws_opts,
        )

    def _database_secret(
        self,
        name: str,
        args: RegionPathArgs,
        database: Database | None,
        aws_provider: aws.Provider | None,
        k8s_opts: pulumi.ResourceOptions,
        namespace: pulumi.Output[str],
    ) -> pulumi.Output[str] | None:
        """The Kubernetes Secret pods read the database connection from (None without one)."""
        if args.database.mode == "none":
            return None
        if args.kubernetes.mode == "render":
            # The provider renders Secret data as plain base64: rendered manifests reference
            # the Secret by name, and whoever applies them provides it (sealed or external).
            return pulumi.Output.from_input(DATABASE_SECRET)
        ready: list[pulumi.Resource] = []
        data: dict[str, pulumi.Input[str]]
        if database is not None:
            data = {
                "PGHOST": database.host,
                "PGPORT": database.port.apply(str),
                "PGDATABASE": args.database.name,
                "PGUSER": args.database.username,
                "PGPASSWORD": master_password(
                    database.master_user_secret_arn,
                    pulumi.InvokeOutputOptions(parent=self, provider=aws_provider),
                ),
                "PGSSLMODE": "require",
            }
            ready = list(database.instances)
        else:
            # Validation requires an external database's URL for every region.
            assert args.database_url is not None, f"{args.region}: no database URL"
            data = {"DATABASE_URL": args.database_url}
        secret = k8s.core.v1.Secret(
            f"{name}-database",
            metadata={"name": DATABASE_SECRET, "namespace": namespace},
            type="Opaque",
            # `data` (base64) rather than `string_data`, so the rendered file holds no plain text
            # even in render mode; the provider marks Secret data as secret in state.
            data={key: _secret_base64(value) for key, value in data.items()},
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=ready)),
        )
        return secret.metadata.name

    def _build_paths(
        self,
        name: str,
        args: RegionPathArgs,
        opts: pulumi.ResourceOptions,
        namespace: pulumi.Output[str],
        database_secret: pulumi.Output[str] | None,
        monitoring_for: Callable[[Service], Monitoring] | None,
    ) -> None:
        """Declares exactly the edges a safe release needs (docs/how-a-release-runs.md,
        "Synchronization")."""
        region = args.region

        def migration_path(migration: Migration, waits_for: list[pulumi.Resource]) -> MigrationPath:
            after_services = migration.phase == "contract" or migration.name in undone
            path = MigrationPath(
                component_name(migration.name, region),
                MigrationPathArgs(
                    migration=migration,
                    # The services' own stacks' guard (per-service) holds what runs after them.
                    namespace=_after(args.contract_hold, namespace)
                    if after_services
                    else namespace,
                    database_secret=database_secret,
                    waits_for=waits_for,
                    down=migration.name in undone,
                ),
                renamed_path(migration.name, region, opts),
            )
            self.migrations[migration.name] = path
            return path

        self.migrations = {}
        undone = set(args.down_migrations)
        previous_job: list[pulumi.Resource] = []
        for migration in (
            m for m in args.migrations if m.phase == "expand" and m.name not in undone
        ):
            previous_job = [migration_path(migration, previous_job).job]

        services = {service.name: service for service in args.services}
        self._service_paths(args, opts, namespace, database_secret, monitoring_for, self.migrations)
        flag_deployments: list[pulumi.Resource] = []
        flagged = tuple(s for s in services.values() if s.flags)
        if _flags_via_appconfig(args) and flagged:
            assert self.alarm_topic_arn is not None
            flags = FeatureFlags(
                f"{name}-flags",
                FeatureFlagsArgs(
                    environment=args.environment,
                    services=flagged,
                    health_alarms={s.name: _alarm_name(self.services[s.name]) for s in flagged},
                    rollouts={s.name: list(self.services[s.name].deployments) for s in flagged},
                    topic_arn=self.alarm_topic_arn,
                    delivery=args.flag_delivery,
                    tags=args.tags(flags_id(region)),
                ),
                opts,
            )
            flag_deployments = list(flags.deployments)

        released: list[pulumi.Resource] = [
            r for path in self.services.values() for r in path.released
        ]
        services_ready = Barrier(
            barrier_name(region),
            BarrierArgs(members=released),
            pulumi.ResourceOptions(parent=self),
        )
        after_services: list[pulumi.Resource] = [services_ready]
        # Contracts once every service runs without what they remove; then the `down`s, newest
        # first, once the services run the release from before the changes they undo.
        contracts = [m for m in args.migrations if m.phase == "contract" and m.name not in undone]
        downs = [m for m in reversed(args.migrations) if m.name in undone]
        for migration in [*contracts, *downs]:
            previous_job = [migration_path(migration, previous_job + after_services).job]
            after_services = []
        # AppConfig deployments start a gradual rollout and return; AppConfig itself rolls a
        # bad flag back on the region's alarm, which is what the gate watches too.
        self.completion = [services_ready, *previous_job, *flag_deployments]

    def _service_paths(
        self,
        args: RegionPathArgs,
        opts: pulumi.ResourceOptions,
        namespace: pulumi.Input[str],
        database_secret: pulumi.Input[str] | None,
        monitoring_for: Callable[[Service], Monitoring] | None,
        migrations: Mapping[str, MigrationPath],
    ) -> None:
        """The region's service paths, each after the expand migrations it requires (those of
        this stack) and the services it names in `after`; none in an infrastructure stack."""
        self.services = {}
        services = {service.name: service for service in args.services}
        declared = {
            name: s
            for name, s in services.items()
            if args.part != INFRASTRUCTURE and args.service in (None, name)
        }
        undone = set(args.down_migrations)
        flags_via_appconfig = _flags_via_appconfig(args)
        self.deployment_names = [
            deployment_name(service, track.name)
            for service in declared.values()
            for track in tracks(service)
        ]
        graph = {name: [o for o in s.after if o in declared] for name, s in declared.items()}
        order = TopologicalSorter(graph).static_order()
        for service in (declared[name] for name in order):
            # A requirement this region undoes runs after the services (below), never before;
            # in a service stack the guards stand for the edges to other stacks' paths.
            waits_for: list[pulumi.Resource] = [
                migrations[m].job for m in service.requires if m not in undone and m in migrations
            ]
            for other in (o for o in service.after if o in self.services):
                waits_for.extend(self.services[other].released)
            self.services[service.name] = ServicePath(
                component_name(service.name, args.region),
                ServicePathArgs(
                    service=service,
                    namespace=namespace,
                    database_secret=database_secret,
                    waits_for=waits_for,
                    callers=callers(service, services.values()),
                    monitoring=monitoring_for(service) if monitoring_for else None,
                    flags_as_config_map=not flags_via_appconfig,
                    extra_env=_appconfig_env(args.environment, service.name)
                    if flags_via_appconfig and service.flags
                    else {},
                    rollout_timeout_seconds=args.kubernetes.rollout_timeout_seconds,
                ),
                renamed_path(service.name, args.region, opts),
            )
        self.composite_alarm_names = pulumi.Output.all(
            *[p.composite_alarm_name for p in self.services.values() if p.composite_alarm_name]
        ).apply(sorted)

    def _services_only(
        self,
        name: str,
        args: RegionPathArgs,
        held_back: pulumi.ResourceOptions,
        aws_provider: aws.Provider | None,
    ) -> None:
        """A service stack's part of the region: its providers and its service paths, on the
        cluster, namespace, database Secret and alarm topic that the region's infrastructure
        stack holds and exports (`args.infrastructure`)."""
        infrastructure = args.infrastructure
        assert infrastructure is not None, f"{name}: a service stack reads its infrastructure"
        self.kubeconfig = infrastructure.kubeconfig
        if args.kubernetes.mode == "render" or infrastructure.kubeconfig is None:
            k8s_provider = self._kubernetes_provider(name, args, held_back, None)
        else:
            kubeconfig = _after(args.hold, infrastructure.kubeconfig)
            k8s_provider = k8s.Provider(
                f"{name}-k8s",
                kubeconfig=pulumi.Output.secret(kubeconfig),
                delete_unreachable=False,
                opts=held_back,
            )
        opts = pulumi.ResourceOptions(
            parent=self,
            providers={"kubernetes": k8s_provider}
            | ({"aws": aws_provider} if aws_provider else {}),
        )
        self.alarm_topic_arn = topic_arn = infrastructure.alarm_topic_arn
        self.dashboard = None
        monitoring_for = None
        if args.monitoring.mode == "cloudwatch" and topic_arn is not None:
            owners = {s.team for s in args.services if s.team}
            notified = tuple(e for e in args.notifications if e.owner is None or e.owner in owners)
            owner_topics = {
                owner: _topic_of(infrastructure.owner_topic_arns, owner)
                for owner in owners
                if any(e.owner == owner and e.protocol != "sns" for e in notified)
            }

            def monitoring_for(service: Service) -> Monitoring:
                return Monitoring(
                    cluster_name=infrastructure.cluster_name,
                    namespace=args.kubernetes.namespace,
                    topic_arn=topic_arn,
                    also_notify=tuple(
                        path_topics(notified, service.team, args.region, owner_topics)
                    ),
                    restart_threshold=args.monitoring.restart_threshold,
                    alarm_prefix=_alarm_prefix(args, service.name),
                    tags=args.tags(path_id(service.name, args.region)),
                )

        database_secret = DATABASE_SECRET if args.database.mode != "none" else None
        self._service_paths(
            args, opts, args.kubernetes.namespace, database_secret, monitoring_for, {}
        )
        self.migrations = {}
        self.completion = [r for path in self.services.values() for r in path.released]
        self.notify_targets = pulumi.Output.from_input(
            [{"topic_arn": topic_arn, "every": True, "alarms": []}] if topic_arn else []
        )
        self.register_outputs(
            tolerant(
                {
                    "services": self.services,
                    "completion": self.completion,
                    "composite_alarm_names": self.composite_alarm_names,
                    "kubeconfig": self.kubeconfig,
                    "deployment_names": self.deployment_names,
                }
            )
        )


def _topic_of(owner_topic_arns: pulumi.Output[dict[str, str]], owner: str) -> pulumi.Output[str]:
    return owner_topic_arns.apply(lambda topics: topics[owner])


def _flags_via_appconfig(args: RegionPathArgs) -> bool:
    """AppConfig needs alarms to watch and a real cluster to serve; otherwise flags reach the
    pods as a mounted ConfigMap. A per-service environment's flags travel with their service's
    path as that ConfigMap: the region-wide AppConfig alarm would name alarms of other stacks."""
    return (
        args.monitoring.mode == "cloudwatch"
        and args.kubernetes.mode != "render"
        and args.part == ALL
    )


def _held(args: RegionPathArgs, value: str) -> pulumi.Input[str]:
    """`value`, once the service stack's guards passed (itself when nothing holds the region)."""
    return _after(args.hold, value)


def _after(hold: pulumi.Output[Any] | None, value: pulumi.Input[str]) -> pulumi.Input[str]:
    """`value`, once `hold` resolved: a guard that fails the update before what takes `value`
    is declared (itself when nothing holds it)."""
    if hold is None:
        return value
    return pulumi.Output.all(hold, value).apply(lambda held: held[1])


def _alarm_name(path: ServicePath) -> pulumi.Output[str]:
    # Monitoring is on whenever flags go through AppConfig, so every path has its alarm.
    assert path.composite_alarm_name is not None
    return path.composite_alarm_name


def _alarm_prefix(args: RegionPathArgs, service: str) -> str:
    """What a path's alarms are named after; its composite alarm is `<prefix>-health`."""
    return f"{args.environment}-{service}-{args.region}"


def _needs_aws(args: RegionPathArgs) -> bool:
    return (
        args.kubernetes.mode == "eks"
        or args.database.mode == "aurora"
        or args.monitoring.mode == "cloudwatch"
    )


def _appconfig_env(environment: str, service: str) -> dict[str, str]:
    """Where the service's AppConfig agent or SDK finds its flags."""
    return {
        "APPCONFIG_APPLICATION": application_name(environment),
        "APPCONFIG_ENVIRONMENT": environment,
        "APPCONFIG_PROFILE": profile_name(service),
    }


def _secret_base64(value: pulumi.Input[str]) -> pulumi.Output[str]:
    encoded: pulumi.Output[str] = pulumi.Output.from_input(value).apply(
        lambda text: base64.b64encode(text.encode()).decode()
    )
    return pulumi.Output.secret(encoded)
