"""HealthGate: holds a wave back until the previous wave's new release has baked healthy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from deploypaths import health


class _GateProvider(dynamic.ResourceProvider):
    """Watches only when the watched wave's release changed; otherwise the gate is a no-op."""

    def _watch(self, props: dict[str, Any]) -> None:
        try:
            health.watch(
                props["alarms"],
                bake_seconds=float(props["bake_seconds"]),
                poll_seconds=float(props["poll_seconds"]),
            )
        except health.GateFailed as failure:
            raise Exception(f"health gate after wave {props['wave']}: {failure}") from None

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        self._watch(props)
        return dynamic.CreateResult(id_=f"gate-wave-{props['wave']}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [
            key for key in ("release", "alarms", "bake_seconds") if olds.get(key) != news.get(key)
        ]
        return dynamic.DiffResult(changes=bool(changed))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        if olds.get("release") != news.get("release"):
            self._watch(news)
        return dynamic.UpdateResult(outs=news)


class GateWatch(dynamic.Resource):
    """The gate's watch, a real resource so the engine orders the next wave behind it."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(_GateProvider(), name, props, opts)


@dataclass(frozen=True, kw_only=True)
class HealthGateArgs:
    wave: int
    release: str
    alarms: pulumi.Input[dict[str, list[str]]]
    bake_minutes: float
    waits_for: list[pulumi.Resource]
    poll_seconds: float = 30.0


class HealthGate(pulumi.ComponentResource):
    """The gate between wave k and k+1: a dynamic resource that watches wave k's alarms."""

    watch: GateWatch

    def __init__(
        self, name: str, args: HealthGateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deploypaths:index:HealthGate", name, None, opts)
        self.watch = GateWatch(
            f"{name}-watch",
            {
                "wave": args.wave,
                "release": args.release,
                "alarms": args.alarms,
                "bake_seconds": args.bake_minutes * 60,
                "poll_seconds": args.poll_seconds,
            },
            pulumi.ResourceOptions(parent=self, depends_on=args.waits_for),
        )
        self.register_outputs({"watch": self.watch.id})
