"""ServicePath: one service in one region: Deployments, Service, NetworkPolicy, disruption
budget, alarms, and the verification Job run after each release."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.network_policy import pod_labels, service_ingress, verify_labels
from components.outputs import tolerant
from components.ownership import owner_annotations, owner_labels
from components.pod_security import (
    IMAGE_PULL_POLICY,
    SCRATCH_MOUNT,
    SCRATCH_VOLUME,
    accepted_findings,
    container_security_context,
    pod_security_context,
)
from components.run_once_job import RunOnce, run_once_job
from deploypaths.config.settings import Service
from deploypaths.health import any_in_alarm
from deploypaths.identity import SERVICE_PATH
from deploypaths.naming import verify_job_name
from deploypaths.rollout import rollout_annotations


@dataclass(frozen=True, kw_only=True)
class Monitoring:
    """Where a path's alarms read metrics from and send notifications to."""

    cluster_name: pulumi.Input[str]
    # Plain names, known from config: alarms then need nothing of the rollout and exist before
    # it starts, watching it.
    namespace: str
    topic_arn: pulumi.Input[str]
    # Topics the alarm notifies besides the region's: its owner's, and existing SNS topics
    # named in `notifications` (see components/notifications.py).
    also_notify: tuple[pulumi.Input[str], ...] = ()
    restart_threshold: int
    alarm_prefix: str
    tags: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class ServicePathArgs:
    service: Service
    namespace: pulumi.Input[str]
    database_secret: pulumi.Input[str] | None
    # Custom resources every Deployment of the path waits for: required expand Jobs and the
    # Deployments of the services named in `after`.
    waits_for: list[pulumi.Resource]
    # The services of the region whose pods call this one (`network_policy.callers`): the only
    # pods, with the verification's, its NetworkPolicy admits.
    callers: tuple[str, ...] = ()
    monitoring: Monitoring | None = None
    # When flags are not delivered by AppConfig they reach pods as this mounted ConfigMap.
    flags_as_config_map: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    # Past this the path fails: its Deployments have not rolled out the new template.
    rollout_timeout_seconds: int = 600
    # Past this a verification Job fails the path.
    verify_timeout_minutes: int = 10


@dataclass(frozen=True)
class _Track:
    """One Deployment of the path: `stable`, `canary`, `blue` or `green`."""

    name: str
    image: str
    replicas: int


def canary_replicas(stable_replicas: int, weight: int) -> int:
    """Replicas that give the canary about `weight` percent of the pods behind one Service."""
    if weight <= 0:
        return 0
    if weight >= 100:
        return stable_replicas
    return max(1, round(stable_replicas * weight / (100 - weight)))


def tracks(service: Service) -> list[_Track]:
    if service.strategy == "canary" and service.canary:
        canary = canary_replicas(service.replicas, service.canary.weight)
        return [
            _Track("stable", service.image, service.replicas),
            _Track("canary", service.canary.image, canary),
        ]
    if service.strategy == "blue-green" and service.blue_green:
        bg = service.blue_green
        # Each colour's scale is its own setting, so flipping `active` touches only the Service.
        return [
            _Track("blue", bg.blue.image, _scale(bg.blue.replicas, service.replicas)),
            _Track("green", bg.green.image, _scale(bg.green.replicas, service.replicas)),
        ]
    return [_Track("stable", service.image, service.replicas)]


def _scale(colour_replicas: int | None, service_replicas: int) -> int:
    return service_replicas if colour_replicas is None else colour_replicas


def deployment_name(service: Service, track: str) -> str:
    return service.name if track == "stable" else f"{service.name}-{track}"


def service_selector(service: Service) -> dict[str, str]:
    selector = pod_labels(service.name)
    if service.strategy == "blue-green" and service.blue_green:
        selector["colour"] = service.blue_green.active
    return selector


def flags_document(service: Service) -> str:
    return json.dumps(service.flag_values, sort_keys=True)


class ServicePath(pulumi.ComponentResource):
    """Deploys one release of a service in one region and reports its health as one alarm."""

    deployments: list[k8s.apps.v1.Deployment]
    # The Job that checks the release once its Deployments rolled out (None without `verify`).
    verify_job: k8s.batch.v1.Job | None
    # What "released" means for whatever waits for this path (the services after it, the
    # services barrier): its Deployments rolled out and, with `verify`, its verification passed.
    released: list[pulumi.Resource]
    # The one alarm that says whether the path is healthy (None without monitoring).
    composite_alarm_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ServicePathArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SERVICE_PATH, name, None, opts)
        service = args.service
        flags_map = (
            self._flags_config_map(name, args)
            if service.flags and args.flags_as_config_map
            else None
        )
        self.deployments = [
            self._deployment(name, args, track, flags_map) for track in tracks(service)
        ]
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={
                "name": service.name,
                "namespace": args.namespace,
                "labels": pod_labels(service.name),
            },
            spec={
                "selector": service_selector(service),
                "ports": [{"name": "http", "port": 80, "target_port": service.port}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Selects every track's pods. Waits for nothing of the rollout (its one edge is the
        # namespace), so a caller is admitted before the first new pod serves.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": f"{service.name}-ingress", "namespace": args.namespace},
            spec=service_ingress(service, args.callers, verified=service.verify is not None),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": service.name, "namespace": args.namespace},
            spec={
                "max_unavailable": 1,
                "selector": {"match_labels": service_selector(service)},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        composite_alarm = self._alarms(name, args, args.monitoring) if args.monitoring else None
        self.composite_alarm_name = composite_alarm.alarm_name if composite_alarm else None
        self.verify_job = self._verify_job(name, args) if service.verify else None
        self.released = [*self.deployments, *([self.verify_job] if self.verify_job else [])]
        self.register_outputs(
            tolerant(
                {
                    "deployments": self.deployments,
                    "verify_job": self.verify_job,
                    "released": self.released,
                    "composite_alarm_name": self.composite_alarm_name,
                }
            )
        )

    def _verify_job(self, name: str, args: ServicePathArgs) -> k8s.batch.v1.Job:
        """The service's `verify` image run once against the release that just rolled out, with
        the hardening of the service's own pods (its namespace enforces `restricted`)."""
        service = args.service
        assert service.verify is not None, service.name
        run = RunOnce(
            job_name=verify_job_name(service),
            namespace=args.namespace,
            labels=verify_labels(service.name),
            job_labels=owner_labels(service.owner),
            annotations=owner_annotations(service.owner),
            container="verify",
            image=service.verify.image,
            args=list(service.verify.args),
            # The release under test, through its Service (port 80).
            env=[
                {"name": "DEPLOYPATHS_SERVICE", "value": service.name},
                {"name": "DEPLOYPATHS_SERVICE_URL", "value": f"http://{service.name}"},
            ],
            timeout_minutes=args.verify_timeout_minutes,
            # The hardening of the service's own pods.
            service_account_token=service.service_account_token,
            read_only_root_filesystem=service.read_only_root_filesystem,
        )
        return run_once_job(
            f"{name}-verify-job", run, parent=self, waits_for=list(self.deployments)
        )

    def _flags_config_map(self, name: str, args: ServicePathArgs) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            f"{name}-flags",
            metadata={"name": f"{args.service.name}-flags", "namespace": args.namespace},
            data={"flags.json": flags_document(args.service)},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deployment(
        self,
        name: str,
        args: ServicePathArgs,
        track: _Track,
        flags_map: k8s.core.v1.ConfigMap | None,
    ) -> k8s.apps.v1.Deployment:
        service = args.service
        label = "colour" if track.name in ("blue", "green") else "track"
        labels = {**pod_labels(service.name), label: track.name}
        k8s_name = deployment_name(service, track.name)
        role = "deployment" if track.name == "stable" else f"{track.name}-deployment"
        env_from = [{"secret_ref": {"name": args.database_secret}}] if args.database_secret else []
        volumes: list[dict[str, Any]] = [SCRATCH_VOLUME]
        mounts: list[dict[str, Any]] = [SCRATCH_MOUNT]
        if flags_map is not None:
            volumes.append({"name": "flags", "config_map": {"name": flags_map.metadata.name}})
            mounts.append({"name": "flags", "mount_path": "/etc/flags", "read_only": True})
        probe = {"http_get": {"path": service.health_path, "port": service.port}}
        return k8s.apps.v1.Deployment(
            f"{name}-{role}",
            metadata={
                "name": k8s_name,
                "namespace": args.namespace,
                # Who owns it on the Deployment alone: a new owner rolls no pod.
                "labels": {**labels, **owner_labels(service.owner)},
                "annotations": {
                    **rollout_annotations(track.replicas, args.rollout_timeout_seconds),
                    **accepted_findings(images=[track.image], secret_env=bool(env_from)),
                    **owner_annotations(service.owner),
                },
            },
            spec={
                "replicas": track.replicas,
                "selector": {"match_labels": labels},
                # Never fewer ready pods than asked for: new pods must pass readiness first.
                "strategy": {
                    "type": "RollingUpdate",
                    "rolling_update": {"max_unavailable": 0, "max_surge": "25%"},
                },
                "min_ready_seconds": 10,
                "progress_deadline_seconds": 600,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automount_service_account_token": service.service_account_token,
                        "security_context": pod_security_context(),
                        "containers": [
                            {
                                "name": service.name,
                                "image": track.image,
                                "image_pull_policy": IMAGE_PULL_POLICY,
                                "ports": [{"name": "http", "container_port": service.port}],
                                "env": [{"name": k, "value": v} for k, v in args.extra_env.items()],
                                "env_from": env_from,
                                "readiness_probe": {
                                    **probe,
                                    "period_seconds": 5,
                                    "failure_threshold": 3,
                                },
                                "liveness_probe": {
                                    **probe,
                                    "initial_delay_seconds": 15,
                                    "period_seconds": 10,
                                },
                                "resources": {
                                    "requests": {"cpu": service.cpu, "memory": service.memory},
                                    "limits": {"cpu": service.cpu, "memory": service.memory},
                                },
                                "security_context": container_security_context(
                                    read_only_root_filesystem=service.read_only_root_filesystem
                                ),
                                "volume_mounts": mounts,
                            }
                        ],
                        "volumes": volumes,
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.waits_for),
        )

    def _alarms(
        self, name: str, args: ServicePathArgs, monitoring: Monitoring
    ) -> aws.cloudwatch.CompositeAlarm:
        service = args.service
        opts = pulumi.ResourceOptions(parent=self)
        alarms = []
        for track in tracks(service):
            if track.replicas == 0:
                continue
            alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{track.name}-restarts",
                    name=f"{monitoring.alarm_prefix}-{track.name}-restarts",
                    namespace="ContainerInsights",
                    metric_name="pod_number_of_container_restarts",
                    dimensions={
                        "ClusterName": monitoring.cluster_name,
                        "Namespace": monitoring.namespace,
                        "PodName": deployment_name(service, track.name),
                    },
                    statistic="Sum",
                    period=300,
                    evaluation_periods=1,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    threshold=monitoring.restart_threshold,
                    treat_missing_data="notBreaching",
                    tags=monitoring.tags,
                    opts=opts,
                )
            )
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-running-pods",
                name=f"{monitoring.alarm_prefix}-running-pods",
                namespace="ContainerInsights",
                metric_name="service_number_of_running_pods",
                dimensions={
                    "ClusterName": monitoring.cluster_name,
                    "Namespace": monitoring.namespace,
                    "Service": service.name,
                },
                statistic="Minimum",
                period=60,
                evaluation_periods=3,
                comparison_operator="LessThanThreshold",
                threshold=1,
                # No data means no pods reporting: that is the outage this alarm exists for.
                treat_missing_data="breaching",
                tags=monitoring.tags,
                opts=opts,
            )
        )
        rule = pulumi.Output.all(*[alarm.name for alarm in alarms]).apply(any_in_alarm)
        return aws.cloudwatch.CompositeAlarm(
            f"{name}-health",
            alarm_name=f"{monitoring.alarm_prefix}-health",
            alarm_description=f"{service.name} is unhealthy in this region",
            alarm_rule=rule,
            alarm_actions=[monitoring.topic_arn, *monitoring.also_notify],
            ok_actions=[monitoring.topic_arn, *monitoring.also_notify],
            tags=monitoring.tags,
            opts=opts,
        )
