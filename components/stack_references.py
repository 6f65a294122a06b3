"""The Pulumi side of split layouts (see deploypaths.layout): what a region stack exports for the
gate in front of the next wave, and the previous wave's regions as that gate reads them back
through `StackReference`s; under `layout: per-service`, what the infrastructure and service stacks
export for each other and the guards they read back (deploypaths.service_guard)."""

from __future__ import annotations

from typing import Any, Protocol

import pulumi

from components.region_path import RegionInfrastructure, RegionPath
from components.service_path import deployment_name, tracks
from deploypaths import service_guard
from deploypaths.config.settings import Settings
from deploypaths.layout import (
    GATE_OUTPUT,
    KUBECONFIG_OUTPUT,
    StackLayout,
    region_stack,
    service_stack,
    unshipped,
)
from deploypaths.naming import wave_release


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


def read_infrastructure(settings: Settings, region: str) -> tuple[RegionInfrastructure, Any]:
    """A region's infrastructure as its per-service infrastructure stack exported it, and that
    export as read (for the guards)."""
    reference = pulumi.StackReference(region_stack(settings.stack, region))
    exported = reference.get_output(service_guard.INFRASTRUCTURE_OUTPUT)
    field = exported.apply(lambda e: e if isinstance(e, dict) else {})
    # Secret in the referenced stack, so secret here too.
    kubeconfig: pulumi.Output[str] = reference.get_output(KUBECONFIG_OUTPUT)
    infrastructure = RegionInfrastructure(
        kubeconfig=None if settings.kubernetes.mode == "render" else kubeconfig,
        alarm_topic_arn=field.apply(lambda e: str(e.get("alarm_topic_arn") or ""))
        if settings.monitoring.mode == "cloudwatch"
        else None,
        cluster_name=field.apply(lambda e: str(e.get("cluster_name") or "")),
        owner_topic_arns=field.apply(lambda e: e.get("owner_topic_arns") or {}),
    )
    return infrastructure, exported


def read_released(settings: Settings, services: set[str]) -> dict[str, pulumi.Output[Any]]:
    """Each named service's `released` export, read from its service stack."""
    return {
        service: pulumi.StackReference(service_stack(settings.stack, service)).get_output(
            service_guard.RELEASED_OUTPUT
        )
        for service in sorted(services)
    }


def guard(what: str, refusals: pulumi.Output[list[str]]) -> pulumi.Output[bool]:
    """Resolves once nothing is refused (see `checked`)."""
    return refusals.apply(lambda found: checked(what, found))


def checked(what: str, found: list[str]) -> bool:
    """In an update a refusal fails the program before what waits for the guard is declared; a
    preview warns only, as the other stacks are usually deployed after the whole change is
    previewed."""
    if found and not pulumi.runtime.is_dry_run():
        raise pulumi.RunError(f"{what} refused: " + "; ".join(found))
    for line in found:
        pulumi.log.warn(f"{line}; `up` refuses until then")
    return not found


def service_stack_guard(
    settings: Settings,
    service: str,
    infrastructure: dict[str, pulumi.Output[Any]],
) -> pulumi.Output[bool]:
    """What every region of a service stack waits for: its required migrations ran and the
    services it names in `after` rolled out, in every region it runs in."""
    after = {o for s in settings.services if s.name == service for o in s.after}
    released = read_released(settings, after)
    regions, names = list(infrastructure), list(released)
    found = pulumi.Output.all(*infrastructure.values(), *released.values()).apply(
        lambda values: service_guard.service_refusals(
            settings,
            service,
            dict(zip(regions, values[: len(regions)], strict=True)),
            dict(zip(names, values[len(regions) :], strict=True)),
        )
    )
    return guard(f"release of {service}", found)


def contract_guard(settings: Settings, region: str) -> pulumi.Output[bool] | None:
    """What a per-service infrastructure stack's contract and down migrations wait for: no
    service of the region still running an older release there (None when it runs none)."""
    if not service_guard.after_services(settings, region):
        return None
    released = read_released(settings, {s.name for s in settings.services_in(region)})
    names = list(released)
    found = pulumi.Output.all(*released.values()).apply(
        lambda values: service_guard.contract_refusals(
            settings, region, dict(zip(names, values, strict=True))
        )
    )
    return guard(f"contract migrations of {region}", found)


def export_infrastructure(settings: Settings, region: str, path: RegionPath) -> None:
    """A per-service infrastructure stack's outputs for its service stacks: the expand migrations
    it ran (each once its Job completed), its alarm topic and cluster, and its kubeconfig."""
    runs = service_guard.migration_runs(settings, region)
    pulumi.export(
        service_guard.INFRASTRUCTURE_OUTPUT,
        {
            "migrations": {
                name: once(path.migrations[name].job.id, run)
                for name, run in runs.items()
                if name in path.migrations
            },
            "alarm_topic_arn": path.alarm_topic_arn,
            "cluster_name": path.cluster_name,
            "owner_topic_arns": path.owner_topic_arns,
        },
    )
    if path.kubeconfig is not None:
        pulumi.export(KUBECONFIG_OUTPUT, pulumi.Output.secret(path.kubeconfig))


def export_released(settings: Settings, service: str, regions: dict[str, RegionPath]) -> None:
    """A service stack's release per region, each once its path's Deployments (and verification)
    are done: what the stacks of the services after it and the contracts check."""
    released = {}
    for region, path in regions.items():
        fingerprint = next(
            service_guard.release_of(s) for s in settings.services_in(region) if s.name == service
        )
        done = pulumi.Output.all(
            *[r.id for r in path.services[service].released if isinstance(r, pulumi.CustomResource)]
        )
        released[region] = once(done, fingerprint)
    pulumi.export(service_guard.RELEASED_OUTPUT, released)


def once(done: pulumi.Output[Any], value: str) -> pulumi.Output[str]:
    """`value`, once `done` resolved: an export that tells other stacks what has completed."""
    return done.apply(lambda _: value)
