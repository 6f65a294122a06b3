"""The config outside the paths: regions and waves, the cluster, the database, monitoring,
flag delivery, decommissioned regions and the secret maps."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from deploypaths.regions import KNOWN_REGIONS
from deploypaths.settings import (
    DatabaseSettings,
    FlagDeliverySettings,
    KubernetesSettings,
    MonitoringSettings,
    Region,
    Settings,
)
from deploypaths.validation._reader import (
    NAMESPACE,
    _duplicates,
    _is_list,
    _list_of_mappings,
    _Problems,
    _Reader,
)
from deploypaths.validation._shown import _join, _listing
from deploypaths.validation.patterns import (
    DB_INSTANCE_CLASS,
    DNS_1123_LABEL,
    INSTANCE_TYPE,
    RELATIVE_DIR,
)

# Every problem with a region code says the same thing.
REGION_ALLOWED = "allowed: a known AWS region code such as us-east-1"


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _regions(problems: _Problems, top: _Reader) -> tuple[Region, ...]:
    regions: list[tuple[int, Region]] = []
    for index, entry in enumerate(_list_of_mappings(top, "regions", required=True)):
        reader = _Reader(problems, f"regions[{index}]", entry, ("name", "overrides"))
        name = reader.required("name", lambda v: isinstance(v, str), "an AWS region code")
        if name is None:
            continue
        if name not in KNOWN_REGIONS:
            problems.add(f"regions[{index}].name", name, REGION_ALLOWED)
            continue
        regions.append((index, Region(name=name)))
    _duplicates(problems, "regions", [(index, region.name) for index, region in regions])
    unique = {region.name: region for _, region in regions}
    return tuple(unique.values())


def _waves(
    problems: _Problems, top: _Reader, regions: tuple[str, ...]
) -> tuple[tuple[str, ...], ...]:
    raw = top.get(
        "waves",
        lambda v: _is_list(v) and all(_is_list(w) for w in v),
        "a list of lists of regions",
        None,
    )
    if not raw:
        return (regions,) if regions else ()
    placed: dict[str, int] = {}
    waves = []
    for index, wave in enumerate(raw):
        members = []
        if not wave:
            problems.add(f"waves[{index}]", wave, "allowed: a non-empty list of regions")
        for position, region in enumerate(wave):
            key = f"waves[{index}][{position}]"
            if not isinstance(region, str) or region not in regions:
                problems.add(
                    key, region, f"allowed: one of the configured regions ({_listing(regions)})"
                )
            elif region in placed:
                problems.add(
                    key,
                    region,
                    f"allowed: each region in exactly one wave; it is in waves[{placed[region]}]",
                )
            else:
                placed[region] = index
                members.append(region)
        waves.append(tuple(members))
    missing = [region for region in regions if region not in placed]
    if missing:
        problems.add(
            "waves", raw, f"allowed: waves that hold every region; missing: {_listing(missing)}"
        )
    return tuple(wave for wave in waves if wave)


def _kubernetes(problems: _Problems, data: Any) -> KubernetesSettings:
    reader = _Reader(problems, "kubernetes", data, _field_names(KubernetesSettings))
    default = KubernetesSettings()
    mode: Any = reader.choice("mode", ("eks", "kubeconfig", "render"), default.mode)
    return KubernetesSettings(
        mode=mode,
        version=reader.text(
            "version", default.version, re.compile(r"1\.[0-9]{1,2}"), "a string like '1.31'"
        ),
        node_instance_type=reader.text(
            "node_instance_type",
            default.node_instance_type,
            INSTANCE_TYPE,
            "an EC2 instance type like t3.large",
        ),
        node_count=reader.integer("node_count", 1, 100, default.node_count),
        namespace=reader.text("namespace", default.namespace, DNS_1123_LABEL, "a DNS-1123 label"),
        kubeconfig_dir=reader.text(
            "kubeconfig_dir", default.kubeconfig_dir, RELATIVE_DIR, "a folder inside the project"
        ),
        rollout_timeout_seconds=reader.integer(
            "rollout_timeout_seconds", 10, 3600, default.rollout_timeout_seconds
        ),
    )


def _database(problems: _Problems, data: Any) -> DatabaseSettings:
    reader = _Reader(problems, "database", data, _field_names(DatabaseSettings))
    default = DatabaseSettings()
    identifier = re.compile(r"[a-z][a-z0-9_]{0,62}")
    mode: Any = reader.choice("mode", ("aurora", "external", "none"), default.mode)
    return DatabaseSettings(
        mode=mode,
        engine_version=reader.text(
            "engine_version",
            default.engine_version,
            re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){0,3}"),
            "a string like '16.4'",
        ),
        instance_class=reader.text(
            "instance_class",
            default.instance_class,
            DB_INSTANCE_CLASS,
            "an RDS instance class like db.r6g.large",
        ),
        instances=reader.integer("instances", 1, 15, default.instances),
        name=reader.text(
            "name", default.name, identifier, "a lowercase identifier (a-z, 0-9, _), <= 63"
        ),
        username=reader.text(
            "username", default.username, identifier, "a lowercase identifier (a-z, 0-9, _), <= 63"
        ),
        backup_retention_days=reader.integer(
            "backup_retention_days", 1, 35, default.backup_retention_days
        ),
    )


def _monitoring(
    problems: _Problems, data: Any, kubernetes: KubernetesSettings
) -> MonitoringSettings:
    reader = _Reader(problems, "monitoring", data, _field_names(MonitoringSettings))
    default = MonitoringSettings()
    mode: Any = reader.choice("mode", ("cloudwatch", "kubernetes", "none"), default.mode)
    if mode == "kubernetes" and kubernetes.mode == "render":
        # Rendered manifests run nowhere the gate could watch: it would bake on nothing.
        problems.add(
            reader.path("mode"), mode, "allowed with kubernetes.mode render: cloudwatch | none"
        )
    return MonitoringSettings(
        mode=mode,
        restart_threshold=reader.integer("restart_threshold", 1, 1000, default.restart_threshold),
    )


def _flag_delivery(problems: _Problems, data: Any) -> FlagDeliverySettings:
    reader = _Reader(problems, "feature_flags", data, _field_names(FlagDeliverySettings))
    default = FlagDeliverySettings()
    return FlagDeliverySettings(
        duration_minutes=reader.integer("duration_minutes", 0, 1440, default.duration_minutes),
        growth_factor=reader.integer("growth_factor", 1, 100, default.growth_factor),
        final_bake_minutes=reader.integer(
            "final_bake_minutes", 0, 1440, default.final_bake_minutes
        ),
    )


def _decommission(problems: _Problems, top: _Reader) -> tuple[str, ...]:
    """Regions being wound down: still configured (their stateful resources lose protection, so
    the next update may delete them) or already removed (the removal is on purpose)."""
    result = []
    for index, region in top.names("decommission"):
        if region not in KNOWN_REGIONS:
            problems.add(f"decommission[{index}]", region, REGION_ALLOWED)
        else:
            result.append(region)
    return tuple(result)


def removed_region_problems(deployed: Iterable[str], settings: Settings) -> list[str]:
    """In a protected environment, a deployed region that the config no longer has is removed
    only on purpose: `decommission` must name it."""
    if not settings.is_protected:
        return []
    return [
        f"regions: {region!r} is deployed but no longer configured; removing it deletes its "
        f"paths. To remove it on purpose, list it in decommission (first while it is still "
        f"in regions, which lifts the protection of its databases and cluster)"
        for region in deployed
        if region not in settings.region_names and region not in settings.decommission
    ]


def _secret_maps(
    problems: _Problems,
    top: _Reader,
    regions: tuple[str, ...],
    kubernetes: KubernetesSettings,
    database: DatabaseSettings,
) -> None:
    """`kubeconfigs` and `database_urls` hold secrets: no message ever shows their values."""
    needed = {
        "kubeconfigs": kubernetes.mode == "kubeconfig" and not kubernetes.kubeconfig_dir,
        "database_urls": database.mode == "external",
    }
    for key, required in needed.items():
        value = top.data.get(key)
        if value is not None and not isinstance(value, Mapping):
            problems.note(
                key,
                f"got {_secret(value)}; allowed: a mapping of region to a secret value "
                "(set with --secret --path)",
            )
            continue
        entries = value or {}
        for region, secret in entries.items():
            if secret is not None and not (isinstance(secret, str) and secret):
                problems.note(
                    _join(key, region),
                    f"got {_secret(secret)}; allowed: a non-empty string (the secret)",
                )
        if required:
            missing = [r for r in regions if not entries.get(r)]
            if missing:
                problems.note(
                    key,
                    f"needs a secret entry for {_listing(missing)} "
                    f"(pulumi config set --secret --path '{NAMESPACE}:{key}.{missing[0]}' ...)",
                )


def _secret(value: Any) -> str:
    return f"a value of type {type(value).__name__} (not shown: it may be a secret)"
