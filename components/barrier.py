"""Barrier: a no-op resource that completes once everything it depends on has: one edge per
waiter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic


class _BarrierProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(id_=props["label"], outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=olds.get("label") != news.get("label"))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=news)


@dataclass(frozen=True, kw_only=True)
class BarrierArgs:
    # What the barrier completes after: each waiter then needs one edge, not one per member.
    members: list[pulumi.Resource]


class Barrier(dynamic.Resource):
    """Many paths wait for one barrier instead of each waiting for every member (O(n) edges)."""

    def __init__(
        self, name: str, args: BarrierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            _BarrierProvider(),
            name,
            {"label": name},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=args.members)),
        )
