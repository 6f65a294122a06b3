"""Test data of the ops commands: saved CLI documents and a stand-in for an Automation API stack.

The documents in tests/ops/fixtures/ have the shapes the Pulumi CLI prints: `pulumi preview --json`
(preview-*.json), the engine event log `Stack.preview(on_event=...)` reads (events-*.jsonl, one
event per line) and `pulumi stack history --json` (history-*.json, whose config values carry
both `value` and the readable `objectValue`, as the CLI prints them).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pulumi.automation import (
    ConfigValue,
    Deployment,
    EngineEvent,
    OutputValue,
    UpdateSummary,
    WhoAmIResult,
)

from ops.report_history import summary_from_json

FIXTURES = Path(__file__).resolve().parents[1] / "ops" / "fixtures"
# What `stack history --show-secrets` would hand back for the fixture's secret key.
KUBECONFIGS = '{"us-east-1":"kubeconfig-us","eu-west-1":"kubeconfig-eu"}'


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def load_events(name: str) -> list[EngineEvent]:
    lines = (FIXTURES / name).read_text().splitlines()
    return [EngineEvent.from_json(json.loads(line)) for line in lines if line.strip()]


def history_json(*, secrets: bool = True) -> list[dict[str, Any]]:
    """The prod history fixture; with `secrets`, as `--show-secrets` prints it."""
    entries = load("history-prod.json")
    if secrets:
        for entry in entries:
            if "deploypaths:kubeconfigs" in entry["config"]:
                entry["config"]["deploypaths:kubeconfigs"] = {"value": KUBECONFIGS, "secret": True}
    return entries


def summaries(*, secrets: bool = True) -> list[UpdateSummary]:
    return [summary_from_json(entry) for entry in history_json(secrets=secrets)]


def config_of(summary: UpdateSummary) -> dict[str, ConfigValue]:
    """A copy of an update's config, as `get_all_config` returns today's."""
    return {key: ConfigValue(v.value, v.secret) for key, v in summary.config.items()}


def edit_json(config: dict[str, ConfigValue], key: str, edit: Callable[[Any], None]) -> None:
    """Change one structured config value in place (decode, edit, encode)."""
    value = json.loads(config[key].value)
    edit(value)
    config[key] = ConfigValue(json.dumps(value), config[key].secret)


def update(
    version: int,
    config: Mapping[str, ConfigValue],
    *,
    kind: str = "update",
    result: str = "succeeded",
    message: str = "",
) -> UpdateSummary:
    """An extra history entry built like `summary_from_json` builds one."""
    return summary_from_json(
        {
            "version": version,
            "kind": kind,
            "startTime": f"2025-04-{version % 28 + 1:02d}T10:00:00.000Z",
            "message": message,
            "environment": {"git.head": f"{version:040x}"},
            "config": {k: {"value": v.value, "secret": v.secret} for k, v in config.items()},
            "result": result,
        }
    )


PROD = "urn:pulumi:prod::deploypaths::"
REGION = "deploypaths:index:RegionPath"
SERVICE = f"{REGION}$deploypaths:index:ServicePath"


# The service paths of the prod config's regions, as its checkpoint holds them.
PATHS = {
    "us-east-1": ("auth", "orders", "search"),
    "eu-west-1": ("auth", "orders"),
    "ap-southeast-2": ("auth", "orders"),
}


def checkpoint() -> list[dict[str, Any]]:
    """A few resources of the prod checkpoint, as `export_stack()` lists them."""
    resources = [
        {"urn": f"{PROD}pulumi:pulumi:Stack::deploypaths-prod", "type": "pulumi:pulumi:Stack"}
    ]
    for region, services in PATHS.items():
        region_urn = f"{PROD}{REGION}::{region}"
        resources.append({"urn": region_urn, "type": REGION})
        for service in services:
            component = f"{PROD}{SERVICE}::{region}-{service}"
            resources.append(
                {"urn": component, "type": "deploypaths:index:ServicePath", "parent": region_urn}
            )
            for role, type_ in (
                ("deployment", "kubernetes:apps/v1:Deployment"),
                ("service", "kubernetes:core/v1:Service"),
            ):
                resources.append(
                    {
                        "urn": f"{PROD}{SERVICE}${type_}::{region}-{service}-{role}",
                        "type": type_,
                        "parent": component,
                    }
                )
    return resources


class FakeStack:
    """Records what the ops commands ask of an Automation API `Stack`; no engine behind it."""

    def __init__(
        self,
        *,
        history: list[UpdateSummary] | None = None,
        config: dict[str, ConfigValue] | None = None,
        resources: list[dict[str, Any]] | None = None,
        events: list[EngineEvent] | None = None,
        preview_error: Exception | None = None,
        preview_errors: list[Exception | None] | None = None,
        up_error: Exception | None = None,
        outputs: dict[str, Any] | None = None,
        pending_operations: list[dict[str, Any]] | None = None,
    ) -> None:
        self._outputs = outputs or {}
        # The engine command the workspace runs (ops/interrupt.py swaps it during an update);
        # no backend URL known, so recordings go to the project folder unless the test sets
        # PULUMI_BACKEND_URL.
        self.workspace = SimpleNamespace(
            pulumi_command=SimpleNamespace(command="pulumi", version=None),
            who_am_i=lambda: WhoAmIResult(user="ops-tests"),
        )
        self.pending_operations = pending_operations or []
        self._history = history or []
        self.config = copy.deepcopy(config or {})
        self._resources = resources or []
        self._events = events or []
        self._preview_error = preview_error
        # One outcome per preview, in order (None: it succeeds); then preview_error's.
        self._preview_errors = list(preview_errors or [])
        self._up_error = up_error
        self.calls: list[tuple[str, Any]] = []

    def history(self, page_size=None, page=None, show_secrets=True):
        self.calls.append(("history", (page_size, page, show_secrets)))
        start = (page - 1) * page_size
        return self._history[start : start + page_size]

    def outputs(self):
        self.calls.append(("outputs", None))
        return {key: OutputValue(value, False) for key, value in self._outputs.items()}

    def get_all_config(self):
        self.calls.append(("get_all_config", None))
        return copy.deepcopy(self.config)

    def set_all_config_json(self, config_json: str) -> None:
        self.calls.append(("set_all_config_json", json.loads(config_json)))
        for key, entry in json.loads(config_json).items():
            self.config[key] = ConfigValue(entry["value"], entry["secret"])

    def remove_all_config(self, keys: list[str]) -> None:
        self.calls.append(("remove_all_config", list(keys)))
        for key in keys:
            self.config.pop(key, None)

    def export_stack(self) -> Deployment:
        self.calls.append(("export_stack", None))
        deployment = {"resources": self._resources}
        if self.pending_operations:
            deployment["pending_operations"] = self.pending_operations
        return Deployment(version=3, deployment=deployment)

    def import_stack(self, state: Deployment) -> None:
        self.calls.append(("import_stack", state.deployment))
        self._resources = state.deployment["resources"]

    def cancel(self) -> None:
        self.calls.append(("cancel", None))

    def preview(self, **kwargs):
        self.calls.append(("preview", kwargs))
        for event in self._events:
            kwargs["on_event"](event)
        error = self._preview_errors.pop(0) if self._preview_errors else self._preview_error
        if error:
            raise error

    def up(self, **kwargs):
        self.calls.append(("up", kwargs))
        if self._up_error:
            raise self._up_error

    def called(self, name: str) -> list[Any]:
        return [args for call, args in self.calls if call == name]


class UpdatingStack(FakeStack):
    """A FakeStack whose `up` streams engine events to `on_event`, as the Automation API does,
    and then appears in the history as the newest update (failed when `up_error` is set)."""

    def __init__(self, *, up_events: list[EngineEvent] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._up_events = up_events or []

    def up(self, **kwargs: Any) -> None:
        self.calls.append(("up", kwargs))
        for event in self._up_events:
            kwargs["on_event"](event)
        newest = max((s.version or 0 for s in self._history), default=0) + 1
        result = "failed" if self._up_error else "succeeded"
        self._history.insert(0, update(newest, self.config, result=result))
        if self._up_error:
            raise self._up_error
