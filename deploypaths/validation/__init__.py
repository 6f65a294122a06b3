"""Turns raw stack configuration into Settings, or a ConfigError that lists every problem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deploypaths.settings import Settings
from deploypaths.validation._reader import NAMESPACE, ConfigError, _Problems, _Reader
from deploypaths.validation._shown import _join
from deploypaths.validation.limits import MAX_DEPTH, MAX_VALUES, Breach, check_tree
from deploypaths.validation.paths import _migrations, _region_overrides, _services, find_cycle
from deploypaths.validation.patterns import DNS_1123_LABEL, TAG_VALUE
from deploypaths.validation.sections import (
    _database,
    _decommission,
    _flag_delivery,
    _kubernetes,
    _monitoring,
    _regions,
    _secret_maps,
    _waves,
    removed_region_problems,
)

# The public interface of validation; its helpers live in the submodules.
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

# Keys of the `deploypaths:` namespace; Pulumi.yaml declares each with a description.
KNOWN_KEYS = (
    "environment",
    "owner",
    "regions",
    "waves",
    "bake_minutes",
    "kubernetes",
    "database",
    "monitoring",
    "feature_flags",
    "migrations",
    "services",
    "decommission",
    "kubeconfigs",
    "database_urls",
)


def parse_settings(raw: Mapping[str, Any], *, stack: str) -> Settings:
    """Validate the `deploypaths:` config (keys without the namespace) of one stack."""
    oversized = _oversized(raw)
    if oversized:
        # Reading such a value is what costs; report only the bound it breaks.
        raise ConfigError(stack, oversized)
    problems = _Problems()
    top = _Reader(problems, "", raw, KNOWN_KEYS)

    # Pulumi.yaml's defaults, "" and [], mean "the stack name" and "one wave".
    environment = (
        top.text("environment", stack, DNS_1123_LABEL, "a DNS-1123 label like dev or prod")
        if top.data.get("environment") != ""
        else stack
    )
    owner = top.text(
        "owner", "platform", TAG_VALUE, "an AWS tag value (letters, digits, ' _.:/=+-@', <= 256)"
    )
    regions = _regions(problems, top)
    names = tuple(region.name for region in regions)
    waves = _waves(problems, top, names)
    bake_minutes = top.get(
        "bake_minutes",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 240,
        "a number of minutes from 0 to 240 (fractions allowed)",
        10,
    )
    kubernetes = _kubernetes(problems, top.data.get("kubernetes"))
    database = _database(problems, top.data.get("database"))
    monitoring = _monitoring(problems, top.data.get("monitoring"), kubernetes)
    flag_delivery = _flag_delivery(problems, top.data.get("feature_flags"))
    migrations, phases = _migrations(problems, top, environment)
    services = _services(problems, top, names, phases, environment)
    regions = _region_overrides(problems, top, regions, services, environment)
    decommission = _decommission(problems, top)
    _secret_maps(problems, top, names, kubernetes, database)

    if problems.items:
        raise ConfigError(stack, problems.items)
    return Settings(
        stack=stack,
        environment=environment,
        owner=owner,
        regions=regions,
        waves=waves,
        bake_minutes=bake_minutes,
        kubernetes=kubernetes,
        database=database,
        monitoring=monitoring,
        flag_delivery=flag_delivery,
        migrations=migrations,
        services=tuple(service for _, service in services),
        decommission=decommission,
    )


def _oversized(raw: Any) -> list[str]:
    """The top-level keys whose value breaks MAX_VALUES or MAX_DEPTH, found without recursion
    and without visiting more than MAX_VALUES values (aliases and cycles included)."""
    if not isinstance(raw, Mapping):
        return []
    budget = MAX_VALUES
    problems = _Problems()
    for key, value in raw.items():
        breach, budget = check_tree(value, budget)
        # The value is not shown: it may be one of the secret maps.
        if breach is Breach.TOO_MANY_VALUES:
            problems.note(
                _join("", key),
                f"got more than {MAX_VALUES} values in the whole configuration (a YAML alias "
                f"counts once per use); allowed: at most {MAX_VALUES}",
            )
            return problems.items
        if breach is Breach.TOO_DEEP:
            problems.note(
                _join("", key),
                f"got values nested more than {MAX_DEPTH} deep; allowed: at most {MAX_DEPTH}",
            )
    return problems.items
