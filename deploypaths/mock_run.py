"""Runs the Pulumi program in-process under the SDK's mocks, recording what the engine would get.

`ops plan` and `ops timeline` plan from this recording, and the tests and benchmarks run the
program through it. It drives the SDK's runtime (some of it private) but creates no resources of
its own: the program does."""

from __future__ import annotations

import gc
import json
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
from google.protobuf import struct_pb2  # type: ignore[import-untyped]  # no stubs installed
from pulumi.runtime import mocks, rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from deploypaths.identity import Urn, provider_name, provider_urn, urn_name
from deploypaths.recording import Recording, Registration

PROJECT = "deploypaths"
PROJECT_DIR = Path(__file__).resolve().parent.parent
MOCK_ACCOUNT = "123456789012"
# What the mocked Secrets Manager hands back: tests look for it wherever a secret must not be.
MOCK_DATABASE_PASSWORD = "mock-db-password-5f3a9c"


class CloudMocks(pulumi.runtime.Mocks):
    """Cloud-shaped answers: enough state for the program's outputs to resolve."""

    def __init__(self) -> None:
        self.provider_regions: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            # Offline there is no other stack to read: it exported nothing.
            return args.name, {"name": args.name, "outputs": {}, "secretOutputNames": []}
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
        # AppConfig's ids, which later resources take as inputs (and so as dependencies).
        if args.typ == "aws:appconfig/environment:Environment":
            state["environmentId"] = f"{args.name}-environment-id"
        if args.typ == "aws:appconfig/configurationProfile:ConfigurationProfile":
            state["configurationProfileId"] = f"{args.name}-profile-id"
        if args.typ == "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion":
            state["versionNumber"] = 1
        if args.typ == "aws:rds/cluster:Cluster":
            state["endpoint"] = f"{name}.cluster.{region}.rds.amazonaws.com"
            state["port"] = 5432
            state["masterUserSecrets"] = [
                {"secretArn": f"arn:aws:secretsmanager:{region}:{MOCK_ACCOUNT}:secret:{name}"}
            ]
        return resource_id, state

    # The monitor takes a bare dict as "no failures"; the SDK's annotation allows only a tuple.
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            secret = {"username": "app_admin", "password": MOCK_DATABASE_PASSWORD}
            return {"secretString": json.dumps(secret)}
        return {}

    def _region(self, provider_ref: str | None) -> str:
        if not provider_ref:
            return "us-east-1"
        return self.provider_regions.get(provider_name(provider_ref), "us-east-1")


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that keeps every registration: the exact graph the engine would receive."""

    def __init__(self, mock: CloudMocks) -> None:
        super().__init__(mock)
        # The same mocks as `self.mocks`, typed as the ones that always answer with an id.
        self.cloud = mock
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
        _ensure_event_loop()  # type: ignore[no-untyped-call]
        inputs = rpc.deserialize_properties(request.object)
        resource_id, state = self.cloud.new_resource(
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
            provider=provider_urn(request.provider) if request.provider else "",
            inputs=inputs,
            properties=request.object,
            outputs=state,
            protect=request.protect,
            aliases=self.alias_urns(request),
            retain_on_delete=request.retainOnDelete,
            custom_timeouts={
                "create": request.customTimeouts.create,
                "update": request.customTimeouts.update,
            },
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=answer)

    def alias_urns(self, request: Any) -> tuple[str, ...]:
        """The engine's reading of alias specs: a name or type left empty is the resource's own,
        a parent left empty is its current parent, `noParent` is the top of the stack. A child
        also inherits each of its parent's aliases, renamed with it when its name starts with
        the parent's (the engine's `generateAliases`)."""
        own = []
        for alias in request.aliases:
            if alias.urn:
                own.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            own.append(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        parent = self.recording.registrations.get(request.parent)
        if parent is None:
            return tuple(own)
        urns = dict.fromkeys(own)
        for parent_alias in parent.aliases:
            for child_urn in (self.make_urn(request.parent, request.type, request.name), *own):
                child = Urn.parse(child_urn)
                renamed = child.name.removeprefix(parent.name)
                name = child.name if renamed == child.name else urn_name(parent_alias) + renamed
                urns[self.make_urn(parent_alias, child.type, name)] = None
        return tuple(urns)


def run_program(
    flat_config: Mapping[str, str],
    *,
    stack: str,
    secret_keys: tuple[str, ...] = (),
    project_dir: Path = PROJECT_DIR,
    mocks: CloudMocks | None = None,
) -> Recording:
    """Run `__main__.py` against the mocks (default: CloudMocks). A config error surfaces as
    pulumi.RunError."""
    monitor = RecordingMonitor(mocks or CloudMocks())
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

        def program() -> None:
            runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

        _sync_await(run_pulumi_func(program))
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
