"""The Pulumi side of region stacks (see deploypaths.layout): what a region stack exports for the
gate in front of the next wave, and the previous wave's regions as that gate reads them back
through `StackReference`s."""

from __future__ import annotations

from typing import Any, Protocol

import pulumi

from components.service_path import deployment_name, tracks
from deploypaths.layout import GATE_OUTPUT, KUBECONFIG_OUTPUT, StackLayout, unshipped
from deploypaths.naming import wave_release
from deploypaths.settings import Settings


class WatchedRegion(Protocol):
    """What a health gate reads of one region of the wave it watches (a RegionPath has it)."""

    @property
    def composite_alarm_names(self) -> pulumi.Output[list[str]]: ...

    @property
    def deployment_names(self) -> list[str]: ...

    @property
    def kubeconfig(self) -> pulumi.Output[str] | None: ...

    @property
    def completion(self) -> list[pulumi.Resource]: ...

    @property
    def notify_targets(self) -> pulumi.Output[list[dict[str, Any]]]: ...


class ReferencedRegion:
    """A region of the previous wave, read from its region stack's outputs (its Deployments'
    names follow from the config the stacks share, as they do in the RegionPath)."""

    def __init__(self, layout: StackLayout, region: str, settings: Settings) -> None:
        stack = layout.reference(region)
        release = wave_release(settings, settings.wave_of(region))
        self.reference = pulumi.StackReference(stack)
        watch = self.reference.get_output(GATE_OUTPUT).apply(
            lambda exported: trusted_watch(stack, exported, release)
        )
        self.composite_alarm_names: pulumi.Output[list[str]] = watch.apply(lambda w: w["alarms"])
        # Where a failed gate says so (a stack exported before notifications had none).
        self.notify_targets: pulumi.Output[list[dict[str, Any]]] = watch.apply(
            lambda w: w.get("notify", [])
        )
        self.deployment_names = [
            deployment_name(service, track.name)
            for service in settings.services_in(region)
            for track in tracks(service)
        ]
        # Render mode has no cluster to watch; every other mode exports its kubeconfig.
        # A secret output of the referenced stack, so secret here too (and the gate wraps it).
        kubeconfig: pulumi.Output[str] = self.reference.get_output(KUBECONFIG_OUTPUT)
        self.kubeconfig = None if settings.kubernetes.mode == "render" else kubeconfig
        # The reference's outputs are data edges already; this keeps the edge without outputs.
        self.completion: list[pulumi.Resource] = [self.reference]


def trusted_watch(stack: str, exported: Any, release: str) -> dict[str, Any]:
    """The exported watch, when the stack shipped the release the gate watches. A preview only
    warns (the previous wave is usually deployed after the whole change is previewed); an update
    stops, because the gate would otherwise pass a wave that never received the release."""
    problem = unshipped(stack, exported, release)
    if problem is None:
        return dict(exported)
    if not pulumi.runtime.is_dry_run():
        raise pulumi.RunError(f"health gate: {problem}")
    pulumi.log.warn(f"health gate: {problem}; `up` refuses until it has")
    last = exported if isinstance(exported, dict) else {}
    return {"alarms": last.get("alarms") or []}


def export_for_next_wave(settings: Settings, region: str, path: WatchedRegion) -> None:
    """A region stack's outputs for the gate in front of the next wave: the release it shipped,
    its alarm names, the topics its failure goes to, and its kubeconfig as a secret."""
    pulumi.export(
        GATE_OUTPUT,
        {
            "release": wave_release(settings, settings.wave_of(region)),
            "alarms": path.composite_alarm_names,
            "notify": path.notify_targets,
        },
    )
    if path.kubeconfig is not None:
        pulumi.export(KUBECONFIG_OUTPUT, pulumi.Output.secret(path.kubeconfig))
