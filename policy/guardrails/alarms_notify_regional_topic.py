"""alarms-notify-regional-topic: composite alarms notify an SNS topic of the stack in their region.

The one stack policy of the pack: whether an action names a topic of the stack needs every
resource at once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pulumi_policy import ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from .crossguard import plain
from .props import COMPOSITE_ALARM, MISSING, SNS_TOPIC, UNKNOWN, is_list, label, show

NAME = "alarms-notify-regional-topic"

ALARM_ACTION_KEYS: Final = ("alarmActions", "okActions", "insufficientDataActions")


@dataclass(frozen=True, kw_only=True)
class StackResource:
    """One resource of the stack as a stack policy sees it (outputs, and its provider's inputs)."""

    resource_type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider_props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StackViolation:
    urn: str
    message: str


def arn_region(arn: Any) -> str | None:
    """The region field of an ARN (`arn:aws:sns:<region>:<account>:<name>`), if it has one."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[3]:
        return None
    return parts[3]


def resource_region(resource: StackResource) -> str | None:
    """Where the resource lives: its own `region`, else its ARN, else its provider's region."""
    for candidate in (
        resource.props.get("region"),
        arn_region(resource.props.get("arn")),
        resource.provider_props.get("region"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def violations(resources: Sequence[StackResource]) -> list[StackViolation]:
    """Violations across the whole stack, each on the URN of the alarm it is about."""
    topic_arns = [r.props.get("arn") for r in resources if r.resource_type == SNS_TOPIC]
    known_topic_arns = {arn for arn in topic_arns if isinstance(arn, str) and arn}
    # During preview a new topic's ARN is not known yet, and an action may name that very topic.
    some_topic_unknown = any(not (isinstance(arn, str) and arn) for arn in topic_arns)
    found: list[StackViolation] = []
    for alarm in resources:
        if alarm.resource_type != COMPOSITE_ALARM:
            continue
        where = label(alarm.resource_type, alarm.name)
        actions = alarm.props.get("alarmActions", MISSING)
        if actions is UNKNOWN:
            continue
        if not is_list(actions) or not actions:
            found.append(
                StackViolation(
                    urn=alarm.urn,
                    message=f"{where}: alarmActions is {show(actions)}; "
                    "wire the alarm to its region's SNS topic",
                )
            )
        region = resource_region(alarm)
        for key in ALARM_ACTION_KEYS:
            listed = alarm.props.get(key)
            if not is_list(listed):
                continue
            for action in listed:
                if action is UNKNOWN or not isinstance(action, str):
                    continue
                problem = _action_problem(
                    action, region, known_topic_arns, unknown_topics=some_topic_unknown
                )
                if problem is not None:
                    found.append(
                        StackViolation(
                            urn=alarm.urn, message=f'{where}: {key} "{action}" {problem}'
                        )
                    )
    return found


def policy() -> StackValidationPolicy:
    return StackValidationPolicy(
        name=NAME,
        description=(
            "Every CloudWatch composite alarm has alarmActions, and each action is the ARN "
            "of an SNS topic in this stack in the alarm's own region."
        ),
        validate=_validate,
        severity=Severity.HIGH,
    )


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = [
        StackResource(
            resource_type=r.resource_type,
            name=r.name,
            urn=r.urn,
            props=plain(r.props),
            provider_props=plain(r.provider.props) if r.provider is not None else {},
        )
        for r in args.resources
        if r.resource_type in (COMPOSITE_ALARM, SNS_TOPIC)
    ]
    for violation in violations(resources):
        report_violation(violation.message, violation.urn)


def _action_problem(
    action: str, alarm_region: str | None, topic_arns: Collection[str], *, unknown_topics: bool
) -> str | None:
    if action not in topic_arns and not unknown_topics:
        return (
            f"is not the ARN of an {SNS_TOPIC} in this stack; "
            "notify the topic the stack creates for the alarm's region"
        )
    action_region = arn_region(action)
    if alarm_region and action_region and action_region != alarm_region:
        return (
            f"is in region {action_region} but the alarm is in {alarm_region}; "
            f"use the {alarm_region} topic"
        )
    return None
