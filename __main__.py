"""Composition root: validate the stack config, then declare the regions wave by wave."""

import atexit
import functools
import gc
import os
import signal
import sys
from pathlib import Path

import pulumi

from components import stack_references as references
from components.health_gate import HealthGate, HealthGateArgs, WatchedCluster
from components.region_path import ALL, INFRASTRUCTURE, SERVICES, RegionPath, RegionPathArgs
from components.stack_references import ReferencedRegion, WatchedRegion
from deploypaths import layout as stack_layout
from deploypaths import releases, stack_config
from deploypaths.naming import gate_name, service_wave_release, tags, wave_release
from deploypaths.validation import ConfigError, parse_settings

# Registration keeps every resource, Output and input alive until the program ends, so the
# collector would keep re-scanning an ever-growing heap that holds almost no garbage; the process
# ends with the deployment, which frees everything at once.
gc.disable()
# The interpreter still collects once at exit, over that whole heap (0.25 s for 300 resources,
# paid by every preview and update); moving it to the permanent generation skips that pass.
atexit.register(gc.freeze)


def end_on_interrupt(signum: int, frame: object) -> None:
    """The first Ctrl-C of `ops up` ends the program alone (see ops/interrupt.py): it registers
    nothing more, so no path starts, and the engine finishes the steps in flight."""
    sys.stderr.write("Interrupted: no path starts any more; the steps in flight finish\n")
    os._exit(128 + signal.SIGINT)


signal.signal(signal.SIGINT, end_on_interrupt)

raw = stack_config.from_runtime()
# A region stack (`<env>-<region>`) runs on its environment's config (see deploypaths/layout.py).
layout = stack_layout.of_stack(pulumi.get_stack(), raw)
PROJECT_DIR = Path(__file__).resolve().parent
try:
    # The teams' release files (`releases/<service>.yaml`) over the stack file's services.
    raw = releases.apply(
        raw, layout.environment_stack, PROJECT_DIR, releases.environments_of(PROJECT_DIR)
    )
    settings = parse_settings(raw, stack=layout.environment_stack)
except (releases.ReleaseFileError, ConfigError) as error:
    # A user mistake, not a bug: the message lists every problem, a traceback would hide it.
    raise pulumi.RunError(str(error)) from None


def secret_for(key: str, region: str) -> pulumi.Output[str] | None:
    """One region's entry of a secret config map (validated above), kept secret."""
    value = (raw.get(key) or {}).get(region)
    return pulumi.Output.secret(value) if value else None


def notification_endpoints() -> dict[str, pulumi.Output[str]]:
    """The secret URL of each https notification (validated above), kept secret."""
    entries = raw.get("notification_endpoints") or {}
    return {name: pulumi.Output.secret(url) for name, url in entries.items() if url}


def kubeconfig_for(region: str) -> pulumi.Output[str] | None:
    """The region's secret kubeconfig, else its file in `kubernetes.kubeconfig_dir`."""
    secret, directory = secret_for("kubeconfigs", region), settings.kubernetes.kubeconfig_dir
    if settings.kubernetes.mode != "kubeconfig" or secret or not directory:
        return secret
    path = PROJECT_DIR / directory / f"{region}.yaml"
    if not path.is_file():
        raise pulumi.RunError(
            f"kubernetes.kubeconfig_dir: no kubeconfig for {region} at {path}; for the local "
            f"clusters run `python -m ops local up --stack {layout.environment_stack}` first"
        )
    return pulumi.Output.secret(path.read_text())


gate = None
regions: dict[str, RegionPath] = {}
# What each gate watches: this stack's regions, or the previous wave's region stacks.
watched: dict[str, WatchedRegion] = {}
service = layout.service
# A service stack (`layout: per-service`) runs its service in the regions the config names.
runs_in = next((s.regions for s in settings.services if s.name == service), ())
declared = layout.declared_regions(settings.waves, runs_in)
gated = layout.gated_waves(settings.waves, runs_in)
referenced = layout.referenced_regions(settings.waves)
part = SERVICES if service else INFRASTRUCTURE if layout.infrastructure_only else ALL
# A service stack reads each region's infrastructure stack, and holds every region until its
# requirements are met in all of them: nothing is half-deployed.
infrastructure = (
    {region: references.read_infrastructure(settings, region) for region in declared}
    if service
    else {}
)
hold = (
    references.service_stack_guard(settings, service, {r: i[1] for r, i in infrastructure.items()})
    if service
    else None
)
for wave, members in enumerate(settings.waves):
    for region in members:
        if region in referenced:
            watched[region] = ReferencedRegion(layout, region, settings)
        if region not in declared:
            continue
        regions[region] = watched[region] = RegionPath(
            region,
            RegionPathArgs(
                region=region,
                environment=settings.environment,
                stack=settings.stack,
                protected=settings.is_protected_region(region),
                kubernetes=settings.kubernetes,
                database=settings.database,
                monitoring=settings.monitoring,
                flag_delivery=settings.flag_delivery,
                services=settings.services_in(region),
                migrations=tuple(settings.migrations),
                down_migrations=settings.region(region).down_migrations,
                tags=functools.partial(tags, settings),
                gate=gate.watch if gate else None,
                kubeconfig=kubeconfig_for(region),
                database_url=secret_for("database_urls", region),
                notifications=settings.notifications,
                notification_endpoints=notification_endpoints(),
                watching_gate=gate_name(wave + 1) if wave + 1 < len(settings.waves) else None,
                part=part,
                service=service,
                infrastructure=infrastructure[region][0] if service else None,
                hold=hold,
                contract_hold=references.contract_guard(settings, region)
                if layout.infrastructure_only
                else None,
            ),
        )
    if wave in gated:
        gate = HealthGate(
            gate_name(wave + 1),
            HealthGateArgs(
                wave=wave + 1,
                release=service_wave_release(settings, service, wave)
                if service
                else wave_release(settings, wave),
                alarms={region: watched[region].composite_alarm_names for region in members},
                bake_minutes=settings.gate_bake_minutes,
                waits_for=[r for region in members for r in watched[region].completion],
                monitoring=settings.monitoring.mode,
                restart_threshold=settings.monitoring.restart_threshold,
                clusters={
                    region: WatchedCluster(
                        kubeconfig=kubeconfig,
                        namespace=settings.kubernetes.namespace,
                        deployments=watched[region].deployment_names,
                    )
                    for region in members
                    if (kubeconfig := watched[region].kubeconfig) is not None
                },
                rollout_timeout_seconds=settings.kubernetes.rollout_timeout_seconds,
                poll_seconds=settings.gate_poll_seconds,
                environment=settings.environment,
                notify={region: watched[region].notify_targets for region in members},
            ),
        )

pulumi.export("environment", settings.environment)
pulumi.export("waves", [list(wave) for wave in settings.waves])
pulumi.export(
    "paths",
    {
        region: {"services": list(path.services), "migrations": list(path.migrations)}
        for region, path in regions.items()
    },
)
pulumi.export(
    "alarm_topics",
    {region: path.alarm_topic_arn for region, path in regions.items() if path.alarm_topic_arn},
)
if layout.per_region:
    assert layout.region is not None
    references.export_for_next_wave(settings, layout.region, regions[layout.region])
if layout.infrastructure_only:
    assert layout.region is not None
    references.export_infrastructure(settings, layout.region, regions[layout.region])
if service:
    references.export_released(settings, service, regions)
