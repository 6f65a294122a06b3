"""alarms-notify-regional-topic: composite alarms notify an SNS topic of their own region."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.guardrails import alarms_notify_regional_topic as alarms
from policy.guardrails.alarms_notify_regional_topic import StackResource, arn_region
from policy.guardrails.props import UNKNOWN
from tests.support.policy_args import options, policy_named, provider

EU_TOPIC = "arn:aws:sns:eu-central-1:123456789012:eu-alerts"
US_TOPIC = "arn:aws:sns:us-east-1:123456789012:us-alerts"
ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"


def topic(name: str, arn: Any, region: str) -> StackResource:
    props = {"name": name, "region": region}
    if arn is not None:
        props["arn"] = arn
    return StackResource(
        resource_type="aws:sns/topic:Topic",
        name=name,
        urn=f"urn:pulumi:prod::deploypaths::aws:sns/topic:Topic::{name}",
        props=props,
    )


def alarm(name: str, provider_region: str = "eu-central-1", **props: Any) -> StackResource:
    return StackResource(
        resource_type=ALARM,
        name=name,
        urn=f"urn:pulumi:prod::deploypaths::{ALARM}::{name}",
        props={"alarmName": name, "alarmRule": 'ALARM("eu-api-5xx")', **props},
        provider_props={"region": provider_region},
    )


def messages(resources: list[StackResource]) -> list[str]:
    return [v.message for v in alarms.violations(resources)]


def test_arn_region() -> None:
    assert arn_region(EU_TOPIC) == "eu-central-1"
    assert arn_region("arn:aws:iam::123456789012:role/x") is None
    assert arn_region("eu-alerts") is None
    assert arn_region(UNKNOWN) is None


def test_alarm_wired_to_its_regions_topic_passes() -> None:
    resources = [
        topic("eu-alerts", EU_TOPIC, "eu-central-1"),
        topic("us-alerts", US_TOPIC, "us-east-1"),
        alarm("eu-health", alarmActions=[EU_TOPIC], okActions=[EU_TOPIC]),
        alarm("us-health", provider_region="us-east-1", alarmActions=[US_TOPIC]),
    ]
    assert messages(resources) == []


def test_alarm_without_actions_is_flagged_on_its_urn() -> None:
    resources = [topic("eu-alerts", EU_TOPIC, "eu-central-1"), alarm("eu-health")]
    violations = alarms.violations(resources)
    assert [v.urn for v in violations] == [resources[1].urn]
    assert [v.message for v in violations] == [
        f'{ALARM} "eu-health": alarmActions is not set; wire the alarm to its region\'s SNS topic'
    ]


def test_alarm_with_empty_actions_is_flagged() -> None:
    resources = [topic("eu-alerts", EU_TOPIC, "eu-central-1"), alarm("eu-health", alarmActions=[])]
    assert messages(resources) == [
        f'{ALARM} "eu-health": alarmActions is []; wire the alarm to its region\'s SNS topic'
    ]


def test_alarm_wired_to_another_regions_topic_is_flagged() -> None:
    resources = [
        topic("eu-alerts", EU_TOPIC, "eu-central-1"),
        topic("us-alerts", US_TOPIC, "us-east-1"),
        alarm("eu-health", alarmActions=[US_TOPIC]),
    ]
    assert messages(resources) == [
        f'{ALARM} "eu-health": alarmActions "{US_TOPIC}" is in region us-east-1 '
        "but the alarm is in eu-central-1; use the eu-central-1 topic"
    ]


def test_alarm_region_prefers_its_own_region_property() -> None:
    resources = [
        topic("us-alerts", US_TOPIC, "us-east-1"),
        alarm(
            "us-health", provider_region="eu-central-1", region="us-east-1", alarmActions=[US_TOPIC]
        ),
    ]
    assert messages(resources) == []


def test_action_that_is_not_a_topic_of_the_stack_is_flagged() -> None:
    foreign = "arn:aws:sns:eu-central-1:999999999999:someone-elses-topic"
    resources = [
        topic("eu-alerts", EU_TOPIC, "eu-central-1"),
        alarm("eu-health", alarmActions=[EU_TOPIC], insufficientDataActions=[foreign]),
    ]
    assert messages(resources) == [
        f'{ALARM} "eu-health": insufficientDataActions "{foreign}" is not the ARN of an '
        "aws:sns/topic:Topic in this stack; "
        "notify the topic the stack creates for the alarm's region"
    ]


def test_unknown_actions_at_preview_are_not_flagged() -> None:
    resources = [
        topic("eu-alerts", UNKNOWN, "eu-central-1"),
        alarm("eu-health", alarmActions=[UNKNOWN]),
        alarm("eu-latency", alarmActions=UNKNOWN),
    ]
    assert messages(resources) == []


def test_topic_arn_unknown_at_preview_does_not_flag_a_matching_action() -> None:
    # The topic is new (ARN unknown, or absent from the preview's outputs); the alarm's action
    # was built from the topic's name, so it may well be that topic.
    built = "arn:aws:sns:eu-central-1:123456789012:eu-alerts"
    for missing_arn in (UNKNOWN, None):
        resources = [
            topic("eu-alerts", missing_arn, "eu-central-1"),
            alarm("eu-health", alarmActions=[built]),
        ]
        assert messages(resources) == [], missing_arn


def test_region_is_still_checked_while_a_topic_arn_is_unknown() -> None:
    resources = [
        topic("eu-alerts", UNKNOWN, "eu-central-1"),
        alarm("eu-health", alarmActions=[US_TOPIC]),
    ]
    assert messages(resources) == [
        f'{ALARM} "eu-health": alarmActions "{US_TOPIC}" is in region us-east-1 '
        "but the alarm is in eu-central-1; use the eu-central-1 topic"
    ]


def test_stack_without_alarms_passes() -> None:
    assert messages([topic("eu-alerts", EU_TOPIC, "eu-central-1")]) == []


def test_alarm_policy_reports_on_the_alarms_urn() -> None:
    us_topic = "arn:aws:sns:us-east-1:123456789012:us-alerts"

    def resource(resource_type: str, name: str, props: dict[str, Any]) -> PolicyResource:
        return PolicyResource(
            resource_type,
            unknown_checking_proxy(props),
            f"urn:pulumi:prod::deploypaths::{resource_type}::{name}",
            name,
            options(),
            provider("eu-central-1"),
            None,
            [],
            {},
        )

    alarm = resource(
        "aws:cloudwatch/compositeAlarm:CompositeAlarm", "eu-health", {"alarmActions": [us_topic]}
    )
    resources = [
        resource("aws:sns/topic:Topic", "us-alerts", {"arn": us_topic}),
        resource("aws:sns/topic:Topic", "eu-alerts", {"arn": UNKNOWN_STRING_VALUE}),
        alarm,
    ]
    policy = policy_named("alarms-notify-regional-topic")
    reported: list[tuple[str, str | None]] = []
    policy.validate(
        StackValidationArgs(resources), lambda message, urn=None: reported.append((message, urn))
    )
    assert reported == [
        (
            'aws:cloudwatch/compositeAlarm:CompositeAlarm "eu-health": alarmActions '
            f'"{us_topic}" is in region us-east-1 but the alarm is in eu-central-1; '
            "use the eu-central-1 topic",
            alarm.urn,
        )
    ]
