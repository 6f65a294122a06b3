"""A stand-in for rollout time in render mode, where nothing is applied and so nothing waits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic


@dataclass(frozen=True, kw_only=True)
class Simulation:
    """How long each rollout unit of the path takes, and whether it fails (render mode only)."""

    seconds: float
    fail: bool


class _SimulatedRolloutProvider(dynamic.ResourceProvider):
    def _roll_out(self, props: dict[str, Any]) -> None:
        time.sleep(float(props["seconds"]))
        if props["fail"]:
            raise Exception(f"simulated rollout failure of {props['path']}")

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        self._roll_out(props)
        return dynamic.CreateResult(id_=props["path"], outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=olds.get("release") != news.get("release"))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        self._roll_out(news)
        return dynamic.UpdateResult(outs=news)


class SimulatedRollout(dynamic.Resource):
    """Takes `seconds` whenever the path's release changes, so the engine's schedule of paths
    (what overlaps, what waits) shows in its event timestamps even when manifests only render."""

    def __init__(
        self,
        name: str,
        *,
        path: str,
        release: str,
        simulation: Simulation,
        opts: pulumi.ResourceOptions,
    ) -> None:
        props = {
            "path": path,
            "release": release,
            "seconds": simulation.seconds,
            "fail": simulation.fail,
        }
        super().__init__(_SimulatedRolloutProvider(), name, props, opts)
