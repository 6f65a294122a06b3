"""Split layouts under the mocks: an environment's region stacks run wave by wave, each stack's
`StackReference`s answered with what the previous wave's stacks exported; a per-service
environment's infrastructure stacks, then its service stacks in `after` order."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from graphlib import TopologicalSorter
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import massage
from pulumi.runtime.sync_await import _sync_await

from deploypaths import service_guard
from deploypaths.layout import region_stack, region_stacks, service_stack
from deploypaths.mock_run import PROJECT_DIR, CloudMocks, run_program
from deploypaths.recording import Recording, Registration
from deploypaths.stack_config import load_stack_file, namespace_values
from deploypaths.validation import parse_settings

STACK_REFERENCE = "pulumi:pulumi:StackReference"


def stack_file(name: str) -> dict[str, str]:
    """A committed stack file's flat config."""
    return load_stack_file(PROJECT_DIR / f"Pulumi.{name}.yaml", PROJECT_DIR)


def enclosing(recording: Recording, registration: Registration, type_: str) -> str | None:
    """The name of the nearest resource of `type_` a resource sits under, itself included (None
    when there is none)."""
    while registration.type != type_:
        if registration.parent not in recording.registrations:
            return None
        registration = recording.registrations[registration.parent]
    return registration.name


class StackReferenceMocks(CloudMocks):
    """CloudMocks, plus stack references read from other stacks' recorded exports."""

    def __init__(self, exports: Mapping[str, RegionStackRun | Exported]) -> None:
        super().__init__()
        self.exports = exports
        self.read: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ != STACK_REFERENCE:
            return super().new_resource(args)
        self.read.append(args.name)
        run = self.exports.get(args.name)
        outputs, secret = (run.exports, list(run.secret_exports)) if run else ({}, [])
        return args.name, {"name": args.name, "outputs": outputs, "secretOutputNames": secret}


@dataclass(frozen=True)
class Exported:
    """What a stack exported, for the stacks that reference it."""

    exports: dict[str, Any]
    secret_exports: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegionStackRun:
    """One region stack's run under the mocks."""

    stack: str
    wave: int
    recording: Recording
    exports: dict[str, Any]
    secret_exports: tuple[str, ...]
    references: tuple[str, ...]
    seconds: float


def run_region_stacks(
    flat_config: Mapping[str, str], *, environment_stack: str, secret_keys: tuple[str, ...] = ()
) -> list[RegionStackRun]:
    """Every region stack of the environment, in wave order, as a wave-by-wave rollout runs them."""
    settings = parse_settings(namespace_values(flat_config), stack=environment_stack)
    exports: dict[str, RegionStackRun] = {}
    runs = []
    for wave, stacks in enumerate(region_stacks(environment_stack, settings.waves)):
        for stack in stacks:
            mocks = StackReferenceMocks(exports)
            started = time.perf_counter()
            recording = run_program(flat_config, stack=stack, secret_keys=secret_keys, mocks=mocks)
            seconds = time.perf_counter() - started
            outputs, secret = stack_exports()
            runs.append(
                RegionStackRun(stack, wave, recording, outputs, secret, tuple(mocks.read), seconds)
            )
        # The next wave reads this one only once all of it has run, as the rollout orders it.
        exports.update({run.stack: run for run in runs if run.wave == wave})
    return runs


def stack_exports() -> tuple[dict[str, Any], tuple[str, ...]]:
    """The last program run's `pulumi.export`s, resolved as the engine stores them, and the names
    of those that are secret. The mocks never register the stack's outputs: read off its root."""
    root = get_root_resource()
    outputs = {name: massage(value, []) for name, value in getattr(root, "outputs", {}).items()}
    resolved = rpc.deserialize_properties(_sync_await(rpc.serialize_properties(outputs, {})))
    plain: dict[str, Any] = {}
    secret: list[str] = []
    for name, value in resolved.items():
        if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            plain[name] = value["value"]
            secret.append(name)
        else:
            plain[name] = value
    return plain, tuple(secret)


PER_SERVICE = {"deploypaths:layout": "per-service"}


def run_service_stacks(
    flat_config: Mapping[str, str],
    *,
    environment_stack: str,
    released: Mapping[str, Exported] | None = None,
) -> list[RegionStackRun]:
    """Every stack of a per-service environment: the infrastructure stacks, then each service's
    stack once the stacks of the services it runs after have run. The infrastructure stacks read
    the service stacks' `released` from `released` (default: every service on its release, as
    after a move of a running environment)."""
    config = {**flat_config, **PER_SERVICE}
    settings = parse_settings(namespace_values(config), stack=environment_stack)
    exports: dict[str, RegionStackRun | Exported] = dict(
        released if released is not None else every_service_released(settings)
    )
    runs = [
        _run(config, region_stack(environment_stack, region), exports)
        for wave in settings.waves
        for region in wave
    ]
    exports.update({run.stack: run for run in runs})
    order = TopologicalSorter({s.name: s.after for s in settings.services}).static_order()
    for service in order:
        run = _run(config, service_stack(environment_stack, service), exports)
        exports[run.stack] = run
        runs.append(run)
    return runs


def every_service_released(settings: Any) -> dict[str, Exported]:
    """Each service stack's `released` export, every service on its configured release."""
    released: dict[str, dict[str, str]] = {}
    for region in settings.region_names:
        for service in settings.services_in(region):
            released.setdefault(service.name, {})[region] = service_guard.release_of(service)
    return {
        service_stack(settings.stack, name): Exported({service_guard.RELEASED_OUTPUT: regions})
        for name, regions in released.items()
    }


def _run(
    config: Mapping[str, str], stack: str, exports: Mapping[str, RegionStackRun | Exported]
) -> RegionStackRun:
    mocks = StackReferenceMocks(exports)
    started = time.perf_counter()
    recording = run_program(config, stack=stack, mocks=mocks)
    seconds = time.perf_counter() - started
    outputs, secret = stack_exports()
    return RegionStackRun(stack, 0, recording, outputs, secret, tuple(mocks.read), seconds)
