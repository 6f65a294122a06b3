"""Bounds on the config as a tree, and the one walk that checks them in bounded time."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

# Bounds on the config as a tree. A YAML alias is expanded once per use, so a few hundred bytes
# can describe billions of values (a "billion laughs"); real stacks are a few thousand values
# and six levels deep. Checked first, in time bounded by these numbers, before anything walks it.
MAX_VALUES = 100_000
MAX_DEPTH = 16


class Breach(enum.Enum):
    """The bound a tree breaks."""

    TOO_MANY_VALUES = enum.auto()
    TOO_DEEP = enum.auto()


def check_tree(
    value: Any, budget: int, refuse: Callable[[Any], str | None] | None = None
) -> tuple[Breach | str | None, int]:
    """The first problem under `value`, and the budget left: more than `budget` values, values
    nested more than MAX_DEPTH deep, or the reason `refuse` gives for a value (asked before its
    children are visited). Walked without recursion and never past the budget, so aliases and
    cycles cost no more than `budget` steps."""
    pending = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        budget -= 1
        if budget < 0:
            return Breach.TOO_MANY_VALUES, budget
        if depth > MAX_DEPTH:
            return Breach.TOO_DEEP, budget
        reason = refuse(node) if refuse else None
        if reason:
            return reason, budget
        if isinstance(node, Mapping):
            pending.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list | tuple | set | frozenset):
            pending.extend((child, depth + 1) for child in node)
    return None, budget
