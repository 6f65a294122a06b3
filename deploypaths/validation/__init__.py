"""Turns raw stack configuration into Settings, or a ConfigError that lists every problem.

The rules and the models live in `deploypaths.config`; this is the interface the program and
the ops commands import."""

from __future__ import annotations

from deploypaths.config.limits import MAX_DEPTH, MAX_VALUES
from deploypaths.config.parse import KNOWN_KEYS, parse_settings
from deploypaths.config.problems import NAMESPACE, ConfigError
from deploypaths.config.references import find_cycle, removed_region_problems

__all__ = [
    "KNOWN_KEYS",
    "MAX_DEPTH",
    "MAX_VALUES",
    "NAMESPACE",
    "ConfigError",
    "find_cycle",
    "parse_settings",
    "removed_region_problems",
]
