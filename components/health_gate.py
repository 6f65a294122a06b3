"""HealthGate: holds a wave back until the previous wave's new release has rolled out and baked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.outputs import tolerant
from deploypaths import cluster_health, health
from deploypaths.identity import HEALTH_GATE


class _GateProvider(dynamic.ResourceProvider):
    """Watches only when the watched wave's release changed; otherwise the gate is a no-op."""

    def _watch(self, props: dict[str, Any]) -> None:
        poll = float(props["poll_seconds"])
        self._record(props, "baking")
        try:
            readers = {
                region: cluster_health.cluster_reader(
                    region, cluster["kubeconfig"], cluster["namespace"], cluster["deployments"]
                )
                for region, cluster in (props.get("clusters") or {}).items()
            }
            # The provider's own wait is not trusted alone (see deploypaths/rollout.py).
            cluster_health.wait_rolled_out(readers, float(props["rollout_timeout_seconds"]), poll)
            checks: list[Callable[[], list[str]]] = []
            if props.get("monitoring") == "cloudwatch":
                checks.append(health.alarm_check(props["alarms"]))
            if props.get("monitoring") == "kubernetes":
                threshold = int(props["restart_threshold"])
                checks.extend(
                    _restart_check(region, read, threshold) for region, read in readers.items()
                )
            health.bake(
                lambda: [problem for check in checks for problem in check()],
                bake_seconds=float(props["bake_seconds"]),
                poll_seconds=poll,
            )
        except health.GateFailed as failure:
            self._record(props, "failed")
            # Numbers reach a dynamic provider as floats: the wave is a whole number.
            wave = int(props["wave"])
            message = f"health gate after wave {wave}: {failure}"
            if props.get("monitoring") == "cloudwatch" and props.get("notify"):
                unsent = health.notify_failure(
                    str(props.get("gate") or f"gate-after-wave-{wave}"),
                    wave,
                    str(failure),
                    props["notify"],
                )
                if unsent:
                    message += f" (not notified: {'; '.join(unsent)})"
            raise Exception(message) from None
        self._record(props, "passed")

    @staticmethod
    def _record(props: dict[str, Any], state: str) -> None:
        """The gate's state for the regions' dashboards (CloudWatch mode, environment known)."""
        if (
            props.get("monitoring") == "cloudwatch"
            and props.get("environment")
            and props.get("gate")
        ):
            health.record_state(
                str(props["gate"]), str(props["environment"]), list(props["alarms"]), state
            )

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        self._watch(props)
        return dynamic.CreateResult(id_=f"gate-wave-{props['wave']}", outs=_public(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [key for key in WATCHED_KEYS if olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        if olds.get("release") != news.get("release"):
            self._watch(news)
        return dynamic.UpdateResult(outs=_public(news))


def _restart_check(region: str, read: Callable[[], Any], threshold: int) -> Callable[[], list[str]]:
    return lambda: cluster_health.health_problems(region, read(), threshold)


# What, when changed, makes the gate update (and watch again if the release is among them).
WATCHED_KEYS = ("release", "alarms", "bake_seconds", "monitoring", "restart_threshold")


def _public(props: dict[str, Any]) -> dict[str, Any]:
    """The gate's state, without the clusters' kubeconfigs: credentials are not recorded."""
    return {key: value for key, value in props.items() if key != "clusters"}


@dataclass(frozen=True, kw_only=True)
class WatchedCluster:
    """One region of the watched wave, read through its API server."""

    kubeconfig: pulumi.Input[str]
    namespace: str
    deployments: list[str]


@dataclass(frozen=True, kw_only=True)
class GateWatchArgs:
    """What the watch checks; its inputs, under these keys, are what `_GateProvider` reads."""

    wave: int
    release: str
    alarms: pulumi.Input[Mapping[str, pulumi.Input[list[str]]]]
    bake_seconds: float
    poll_seconds: float
    monitoring: str
    restart_threshold: int
    rollout_timeout_seconds: int
    clusters: dict[str, WatchedCluster]
    # The gate's own name and environment, which its state metric is published under.
    gate: str = ""
    environment: str = ""
    # Per watched region, the topics a failure is published to (`RegionPath.notify_targets`).
    notify: pulumi.Input[Mapping[str, pulumi.Input[list[dict[str, Any]]]]] = field(
        default_factory=dict
    )


class GateWatch(dynamic.Resource):
    """The gate's watch, a real resource so the engine orders the next wave behind it."""

    def __init__(
        self, name: str, args: GateWatchArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "wave": args.wave,
            "release": args.release,
            "alarms": args.alarms,
            "bake_seconds": args.bake_seconds,
            "poll_seconds": args.poll_seconds,
            "monitoring": args.monitoring,
            "restart_threshold": args.restart_threshold,
            "rollout_timeout_seconds": args.rollout_timeout_seconds,
            "gate": args.gate,
            "environment": args.environment,
            "notify": args.notify,
            "clusters": {
                region: {
                    "kubeconfig": pulumi.Output.secret(cluster.kubeconfig),
                    "namespace": cluster.namespace,
                    "deployments": cluster.deployments,
                }
                for region, cluster in args.clusters.items()
            },
        }
        super().__init__(_GateProvider(), name, props, opts)


@dataclass(frozen=True, kw_only=True)
class HealthGateArgs:
    wave: int
    release: str
    alarms: pulumi.Input[Mapping[str, pulumi.Input[list[str]]]]
    bake_minutes: float
    waits_for: list[pulumi.Resource]
    monitoring: str = "cloudwatch"
    restart_threshold: int = 3
    clusters: dict[str, WatchedCluster] = field(default_factory=dict)
    rollout_timeout_seconds: int = 600
    poll_seconds: float = 30.0
    # Where a failure is published and the state metric's dimension (monitoring cloudwatch).
    environment: str = ""
    notify: pulumi.Input[Mapping[str, pulumi.Input[list[dict[str, Any]]]]] = field(
        default_factory=dict
    )


class HealthGate(pulumi.ComponentResource):
    """The gate between wave k and k+1: a dynamic resource that checks wave k's rollouts, then
    watches its health (CloudWatch alarms or the API server) for the bake time."""

    watch: GateWatch

    def __init__(
        self, name: str, args: HealthGateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(HEALTH_GATE, name, None, opts)
        self.watch = GateWatch(
            f"{name}-watch",
            GateWatchArgs(
                wave=args.wave,
                release=args.release,
                alarms=args.alarms,
                bake_seconds=args.bake_minutes * 60,
                poll_seconds=args.poll_seconds,
                monitoring=args.monitoring,
                restart_threshold=args.restart_threshold,
                rollout_timeout_seconds=args.rollout_timeout_seconds,
                clusters=args.clusters,
                gate=name,
                environment=args.environment,
                notify=args.notify,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=args.waits_for),
        )
        self.register_outputs(tolerant({"watch": self.watch}))
