"""database-hardening: RDS databases are encrypted, private, deletion-protected and backed up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, Severity

from .crossguard import plain, resource_validate
from .props import (
    MISSING,
    RDS_CLUSTER,
    RDS_CLUSTER_INSTANCE,
    RDS_INSTANCE,
    UNKNOWN,
    is_number,
    label,
    show,
)

NAME = "database-hardening"


def violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """Violations for an RDS cluster, cluster instance or instance; other types have none."""
    where = label(resource_type, name)
    found: list[str] = []
    if resource_type in (RDS_CLUSTER, RDS_INSTANCE):
        encrypted = props.get("storageEncrypted", MISSING)
        if encrypted is not UNKNOWN and encrypted is not True:
            found.append(
                f"{where}: storageEncrypted is {show(encrypted)}; set storageEncrypted=true "
                "so data and snapshots are encrypted at rest"
            )
        protected = props.get("deletionProtection", MISSING)
        if protected is not UNKNOWN and protected is not True:
            found.append(
                f"{where}: deletionProtection is {show(protected)}; set deletionProtection=true "
                "so AWS refuses to delete the database"
            )
        retention = props.get("backupRetentionPeriod", MISSING)
        if retention is not UNKNOWN and not (is_number(retention) and retention >= 1):
            # Required explicitly although AWS defaults to 1 day: retention is a decision.
            found.append(
                f"{where}: backupRetentionPeriod is {show(retention)}; "
                "set it to at least 1 (days) so automated backups are kept"
            )
        if props.get("skipFinalSnapshot", MISSING) is True:
            found.append(
                f"{where}: skipFinalSnapshot is true; set skipFinalSnapshot=false "
                "so deleting the database leaves a final snapshot"
            )
    public = props.get("publiclyAccessible", MISSING)
    if resource_type in (RDS_CLUSTER_INSTANCE, RDS_INSTANCE) and public is True:
        found.append(
            f"{where}: publiclyAccessible is true; set publiclyAccessible=false "
            "so the database is reachable only from inside its VPC"
        )
    return found


def policy() -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=NAME,
        description=(
            "RDS databases are encrypted at rest, not publicly accessible, deletion-protected "
            "and backed up (backupRetentionPeriod >= 1, skipFinalSnapshot false)."
        ),
        validate=resource_validate(_check),
        severity=Severity.CRITICAL,
    )


def _check(args: ResourceValidationArgs) -> list[str]:
    return violations(args.resource_type, args.name, plain(args.props))
