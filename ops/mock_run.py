"""Runs the Pulumi program in-process under the SDK's mocks, recording what the engine would get."""

from __future__ import annotations

import functools
import gc
import json
import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks, rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

PROJECT = "deploypaths"
PROJECT_DIR = Path(__file__).resolve().parent.parent
MOCK_ACCOUNT = "123456789012"
# What the mocked Secrets Manager hands back: tests look for it wherever a secret must not be.
MOCK_DATABASE_PASSWORD = "mock-db-password-5f3a9c"


@dataclass(frozen=True)
class Registration:
    """One RegisterResource call, as the engine receives it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    provider: str
    inputs: dict[str, Any] = field(default_factory=dict)
    # The request's property Struct, as the engine would store it: plain_inputs reads it only
    # when asked, which keeps the recorder's work out of what the registration benchmark times.
    properties: struct_pb2.Struct = field(default_factory=struct_pb2.Struct, repr=False)
    # What the mocks answered: the inputs plus cloud-assigned outputs such as ARNs.
    outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    custom_timeouts: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def plain_inputs(self) -> Any:
        """The inputs as they would reach state, with secret values masked: what anyone can read."""
        return _without_secrets(json_format.MessageToDict(self.properties))

    @property
    def waits_for(self) -> tuple[str, ...]:
        """Everything the engine must finish before this resource: its dependencies and, for a
        custom resource, its provider (a resource cannot be created before its provider is)."""
        return self.dependencies + ((self.provider,) if self.provider else ())


@dataclass
class Recording:
    registrations: dict[str, Registration] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations.values() if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children_of(self, urn: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.parent == urn]


class _Mocks(pulumi.runtime.Mocks):
    """Cloud-shaped answers: enough state for the program's outputs to resolve."""

    def __init__(self) -> None:
        self.provider_regions: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ == "pulumi:providers:aws":
            self.provider_regions[args.name] = state.get("region", "us-east-1")
        region = self._region(args.provider)
        service = args.typ.split(":")[1].split("/")[0] if args.typ.startswith("aws:") else ""
        name = state.get("name") or state.get("alarmName") or args.name
        state.setdefault("name", name)
        state.setdefault("arn", f"arn:aws:{service}:{region}:{MOCK_ACCOUNT}:{name}")
        if args.typ == "aws:eks/cluster:Cluster":
            state["endpoint"] = f"https://{name}.eks.{region}.amazonaws.com"
            state["certificateAuthority"] = {"data": "bW9jay1jYQ=="}
        if args.typ == "aws:rds/cluster:Cluster":
            state["endpoint"] = f"{name}.cluster.{region}.rds.amazonaws.com"
            state["port"] = 5432
            state["masterUserSecrets"] = [
                {"secretArn": f"arn:aws:secretsmanager:{region}:{MOCK_ACCOUNT}:secret:{name}"}
            ]
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            secret = {"username": "app_admin", "password": MOCK_DATABASE_PASSWORD}
            return {"secretString": json.dumps(secret)}
        return {}

    def _region(self, provider_ref: str | None) -> str:
        if not provider_ref:
            return "us-east-1"
        name = provider_ref.split("::")[-2] if "::" in provider_ref else ""
        return self.provider_regions.get(name, "us-east-1")


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that keeps every registration: the exact graph the engine would receive."""

    def __init__(self, mock: pulumi.runtime.Mocks) -> None:
        super().__init__(mock)
        self.recording = Recording()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
        """MockMonitor.RegisterResource without its round trip: the answer is the request's own
        Struct plus what the mocks added, so the inputs are decoded once and never re-encoded.
        A real engine does this work in its own process; here it shares the program's, and the
        registration benchmark should time the program, not the mock engine."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        # Deserializing a resource reference needs an event loop on this (executor) thread.
        _ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        resource_id, state = self.mocks.new_resource(
            mocks.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
            )
        )
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
        answer = struct_pb2.Struct()
        answer.CopyFrom(request.object)
        added = {key: value for key, value in state.items() if inputs.get(key) is not value}
        if added:
            answer.MergeFrom(_sync_await(rpc.serialize_properties(added, {})))
        self.recording.registrations[urn] = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=request.parent,
            dependencies=tuple(request.dependencies),
            provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
            inputs=inputs,
            properties=request.object,
            outputs=state,
            protect=request.protect,
            retain_on_delete=request.retainOnDelete,
            custom_timeouts={
                "create": request.customTimeouts.create,
                "update": request.customTimeouts.update,
            },
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=answer)


def run_program(
    flat_config: Mapping[str, str],
    *,
    stack: str,
    secret_keys: tuple[str, ...] = (),
    project_dir: Path = PROJECT_DIR,
    mocks: pulumi.runtime.Mocks | None = None,
) -> Recording:
    """Run `__main__.py` against the mocks (default: _Mocks). A config error surfaces as
    pulumi.RunError."""
    monitor = RecordingMonitor(mocks or _Mocks())
    ROOT.set(None)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor
    )
    config, secret_keys = _offline_kubeconfigs(dict(flat_config), secret_keys)
    pulumi.runtime.set_all_config(config, list(secret_keys))
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    collector_was_enabled = gc.isenabled()
    try:
        _sync_await(
            run_pulumi_func(
                lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
            )
        )
    finally:
        # __main__.py turns the collector off for the process it owns; this one is the caller's.
        # Freezing and unfreezing first hands the program's objects to the oldest generation,
        # so turning the collector back on does not scan all of them at the next allocation.
        if collector_was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
    return monitor.recording


def _offline_kubeconfigs(
    config: dict[str, str], secret_keys: tuple[str, ...]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """A stack that reads its kubeconfigs from `kubernetes.kubeconfig_dir` (the local clusters)
    gets a stand-in secret per region: nothing offline needs, or should need, a running cluster."""
    key = "deploypaths:kubeconfigs"
    try:
        kubernetes = json.loads(config.get("deploypaths:kubernetes", "{}"))
        regions = json.loads(config.get("deploypaths:regions", "[]"))
        given = json.loads(config.get(key) or "{}")
    except ValueError:
        return config, secret_keys
    if not (isinstance(kubernetes, dict) and kubernetes.get("kubeconfig_dir")):
        return config, secret_keys
    if not (isinstance(given, dict) and isinstance(regions, list)):
        return config, secret_keys
    names = [r["name"] for r in regions if isinstance(r, dict) and isinstance(r.get("name"), str)]
    config[key] = json.dumps({name: "offline" for name in names} | given)
    return config, (*secret_keys, key)


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return "[secret]"
        return {key: _without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value
