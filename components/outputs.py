"""What a component registers as its outputs, in a shape that a failed child cannot break."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi


def tolerant(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """`outputs` with each resource as its URN and each value recovered to None when it faults.

    A failed Deployment or Job (or one held behind it) faults every output that reads it; the
    engine keeps deploying every path that does not wait for it, but a component that registered
    such an output would end the program with the SDK's traceback instead."""
    return {key: _tolerant(value) for key, value in outputs.items()}


def _none(_: Exception) -> Any:
    return None


def _tolerant(value: Any) -> Any:
    if isinstance(value, pulumi.Resource):
        return value.urn.recover(_none)
    if isinstance(value, pulumi.Output):
        return value.recover(_none)
    if isinstance(value, list | tuple):
        return [_tolerant(item) for item in value]
    if isinstance(value, dict):
        return {key: _tolerant(item) for key, item in value.items()}
    return value
