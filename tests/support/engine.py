"""Test stacks on the real engine and their own local clusters."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from deploypaths.mock_run import PROJECT_DIR
from tests.support.cluster import ClusterView
from tests.support.sandbox import Sandbox

# The local stack's config, as a newcomer's `make` deploys it.
LOCAL = {
    key.split(":", 1)[1]: value
    for key, value in yaml.safe_load((PROJECT_DIR / "Pulumi.local.yaml").read_text())[
        "config"
    ].items()
}


def stack_config(stack: str, **changes: Any) -> dict[str, Any]:
    """The local stack's config for a test stack: its own clusters' kubeconfigs and namespace."""
    config = copy.deepcopy(LOCAL)
    config["kubernetes"] = {
        **config["kubernetes"],
        "kubeconfig_dir": f".clusters/{stack}",
        "namespace": stack,
    }
    config.update(changes)
    return config


class Deployed:
    """One test stack on its own clusters: the engine's handle and a view of every region."""

    def __init__(
        self, project: Sandbox, stack: str, config: dict[str, Any], kubeconfigs: Mapping[str, Path]
    ) -> None:
        self.project, self.name, self.config = project, stack, config
        self.handle = project.stack(stack)
        self.views = {
            region: ClusterView(region, config["kubernetes"]["namespace"], path)
            for region, path in kubeconfigs.items()
        }

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config
        self.project.write_config(self.name, config)

    def up(self, **options: Any) -> tuple[auto.UpResult, list[auto.EngineEvent]]:
        events: list[auto.EngineEvent] = []
        result = self.handle.up(on_event=events.append, **options)
        return result, events


def deployed_stack(project: Sandbox, stack: str, config: dict[str, Any]) -> Iterator[Deployed]:
    project.write_config(stack, config)
    with project.clusters(stack) as kubeconfigs:
        yield Deployed(project, stack, config, kubeconfigs)


def up_stack(project: Sandbox, stack: str, config: dict[str, Any]) -> Iterator[Deployed]:
    """`deployed_stack`, once its first `up` has succeeded."""
    for deployed in deployed_stack(project, stack, config):
        result, _ = deployed.up()
        assert result.summary.result == "succeeded", result.summary
        yield deployed
