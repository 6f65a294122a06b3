"""What the engine receives from a run of the program: every resource registration, in order.
Pure data (the mock run in `deploypaths.mock_run` records it), read by the plan and the tests."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

# No stubs for protobuf in the dev requirements; the two names used here are plain.
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]

# How the SDK marks a secret value on the wire (`pulumi.runtime.rpc`'s signature key and value).
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"


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
    # The URNs the resource had before (its aliases, as the engine resolves them).
    aliases: tuple[str, ...] = ()
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


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIGNATURE_KEY) == SECRET_SIGNATURE:
            return "[secret]"
        return {key: _without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value
