"""The CrossGuard policies of the deploypaths pack, each a thin adapter over a pure rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from . import rules

PACK_NAME = "deploypaths-guardrails"
# Without a --policy-pack-config the pack fails closed; config/dev.json relaxes it to advisory.
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY

DATABASE_HARDENING = "database-hardening"
CONTAINER_IMAGES_PINNED = "container-images-pinned"
CONTAINER_RESOURCES_AND_PROBES = "container-resources-and-probes"
REQUIRED_TAGS = "required-tags"
STATEFUL_RESOURCES_PROTECTED = "stateful-resources-protected"
ALARMS_NOTIFY_REGIONAL_TOPIC = "alarms-notify-regional-topic"

PROTECTED_ENVIRONMENTS_KEY = "protectedEnvironments"


def plain(value: Any) -> Any:
    """Copy engine props into plain dicts and lists, with `rules.UNKNOWN` for unknown values.

    The engine hands a policy proxies that raise `UnknownValueError` when an unknown value is
    read; the rules would rather see the marker and skip just that value.
    """
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = rules.UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        # Index rather than iterate: iterating a proxy raises at the first unknown element.
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(rules.UNKNOWN)
        return items
    return value


def _default_tags(args: ResourceValidationArgs) -> Any:
    """The `defaultTags.tags` of the resource's provider, which AWS adds to the resource."""
    if args.provider is None:
        return None
    default_tags = plain(args.provider.props).get("defaultTags")
    if default_tags is rules.UNKNOWN:
        return rules.UNKNOWN
    return default_tags.get("tags") if isinstance(default_tags, Mapping) else None


def _report(messages: Sequence[str], report_violation: ReportViolation) -> None:
    for message in messages:
        # The engine attaches the validated resource's URN to resource-policy violations.
        report_violation(message, None)


def _resource_policy(
    check: Callable[[ResourceValidationArgs], list[str]],
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        _report(check(args), report_violation)

    return validate


def _check_database(args: ResourceValidationArgs) -> list[str]:
    return rules.database_violations(args.resource_type, args.name, plain(args.props))


def _check_images(args: ResourceValidationArgs) -> list[str]:
    return rules.image_violations(args.resource_type, args.name, plain(args.props))


def _check_workload_resources(args: ResourceValidationArgs) -> list[str]:
    return rules.workload_resource_violations(args.resource_type, args.name, plain(args.props))


def _check_tags(args: ResourceValidationArgs) -> list[str]:
    if not args.resource_type.startswith("aws:"):
        return []
    return rules.tag_violations(
        args.resource_type, args.name, plain(args.props), default_tags=_default_tags(args)
    )


def protected_environments(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The policy's `protectedEnvironments`; the engine fills in the schema default normally."""
    configured = config.get(PROTECTED_ENVIRONMENTS_KEY)
    if configured is None:
        return rules.DEFAULT_PROTECTED_ENVIRONMENTS
    return tuple(str(environment) for environment in configured)


def _check_protection(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type not in rules.PROTECTED_TYPES:
        return []
    return rules.protection_violations(
        args.resource_type,
        args.name,
        plain(args.props),
        # PolicyResourceOptions carries `protect` but not `retain_on_delete`: the engine's
        # analyzer protocol does not send it, so protect is the one option a policy can require.
        protect=bool(args.opts.protect),
        protected_environments=protected_environments(args.get_config()),
        default_tags=_default_tags(args),
    )


def _validate_alarm_wiring(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = [
        rules.StackResource(
            resource_type=r.resource_type,
            name=r.name,
            urn=r.urn,
            props=plain(r.props),
            provider_props=plain(r.provider.props) if r.provider is not None else {},
        )
        for r in args.resources
        if r.resource_type in (rules.COMPOSITE_ALARM, rules.SNS_TOPIC)
    ]
    for violation in rules.alarm_wiring_violations(resources):
        report_violation(violation.message, violation.urn)


def build_policies() -> list[Policy]:
    """Every policy of the pack; `__main__` serves them, tests inspect them without serving."""
    return [
        ResourceValidationPolicy(
            name=DATABASE_HARDENING,
            description=(
                "RDS databases are encrypted at rest, not publicly accessible, deletion-protected "
                "and backed up (backupRetentionPeriod >= 1, skipFinalSnapshot false)."
            ),
            validate=_resource_policy(_check_database),
            severity=Severity.CRITICAL,
        ),
        ResourceValidationPolicy(
            name=CONTAINER_IMAGES_PINNED,
            description=(
                "Every container image of a workload is pinned by a version tag or a digest; "
                "never untagged, never `latest`."
            ),
            validate=_resource_policy(_check_images),
            severity=Severity.HIGH,
        ),
        ResourceValidationPolicy(
            name=CONTAINER_RESOURCES_AND_PROBES,
            description=(
                "Deployment containers set cpu and memory requests and limits and a readinessProbe;"
                " Job and CronJob containers set cpu and memory requests and limits."
            ),
            validate=_resource_policy(_check_workload_resources),
            severity=Severity.MEDIUM,
        ),
        ResourceValidationPolicy(
            name=REQUIRED_TAGS,
            description=(
                "Every taggable AWS resource carries non-empty `environment`, `path` and `owner` "
                "tags (its own or its provider's default tags)."
            ),
            validate=_resource_policy(_check_tags),
            severity=Severity.MEDIUM,
        ),
        ResourceValidationPolicy(
            name=STATEFUL_RESOURCES_PROTECTED,
            description=(
                "In protected environments, RDS clusters, instances, subnet and parameter groups "
                "and EKS clusters have protect=True, so the engine refuses to delete or replace "
                "them."
            ),
            validate=_resource_policy(_check_protection),
            config_schema=PolicyConfigSchema(
                properties={
                    PROTECTED_ENVIRONMENTS_KEY: {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "default": list(rules.DEFAULT_PROTECTED_ENVIRONMENTS),
                        "description": "Values of the `environment` tag that are protected.",
                    }
                }
            ),
            severity=Severity.CRITICAL,
        ),
        StackValidationPolicy(
            name=ALARMS_NOTIFY_REGIONAL_TOPIC,
            description=(
                "Every CloudWatch composite alarm has alarmActions, and each action is the ARN "
                "of an SNS topic in this stack in the alarm's own region."
            ),
            validate=_validate_alarm_wiring,
            severity=Severity.HIGH,
        ),
    ]
