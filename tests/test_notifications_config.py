"""`notifications`, `notification_endpoints` and a service's `owner` in the stack config: what
validates, each rule's exact message, and secrets that never reach a message."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from deploypaths.config.problems import config_keys
from deploypaths.config.settings import MAX_ALARM_ACTIONS, Notification, alarm_topics
from deploypaths.mock_run import PROJECT_DIR
from deploypaths.validation import ConfigError, parse_settings

AUTH = "registry.example.com/shop/auth:3.2.0"
PAYMENTS = "registry.example.com/shop/payments:2.8.0"
TOKEN_URL = "https://events.example.com/integration/s3cr3t-token/enqueue"
ARN = "arn:aws:sns:{region}:123456789012:central"


def config(*notifications: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "regions": [{"name": "us-east-1"}, {"name": "eu-west-1"}],
        "services": [
            {"name": "auth", "image": AUTH},
            {"name": "payments", "image": PAYMENTS, "owner": "payments-team"},
        ],
        "notifications": list(copy.deepcopy(notifications)),
        **more,
    }


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack="prod")
    return caught.value.problems


EMAIL = {"name": "oncall", "protocol": "email", "endpoint": "oncall@example.com"}
PAGER = {"name": "pager", "protocol": "https", "owner": "payments-team"}
CENTRAL = {
    "name": "central",
    "protocol": "sns",
    "topic_arns": {r: ARN.format(region=r) for r in ("us-east-1", "eu-west-1")},
}


def test_every_kind_of_entry_validates():
    settings = parse_settings(
        config(EMAIL, PAGER, CENTRAL, notification_endpoints={"pager": TOKEN_URL}), stack="prod"
    )
    assert [n.name for n in settings.notifications] == ["oncall", "pager", "central"]
    assert settings.services[1].team == "payments-team"
    # The URL is secret: never in a repr or a dump.
    assert TOKEN_URL not in repr(settings) and TOKEN_URL not in str(settings.model_dump())


def test_an_owner_is_not_part_of_the_release():
    """Who gets paged is not what ships: a new owner does not make the gate bake again."""
    owned = parse_settings(config(), stack="prod").services[1]
    assert "owner" not in owned.model_dump()


def test_a_stack_file_read_offline_keeps_its_secret_placeholder():
    settings = parse_settings(
        config(EMAIL, PAGER, notification_endpoints={"pager": "[secret]"}), stack="prod"
    )
    assert settings.notification_endpoints == {"pager": "[secret]"}


RULES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "email without an address": (
        config({"name": "oncall", "protocol": "email"}),
        [
            "notifications[0] (oncall).endpoint: is required when protocol is email (an email "
            "address)"
        ],
    ),
    "email that is no address": (
        config({**EMAIL, "endpoint": "https://hooks.example.com/s3cr3t-token"}),
        [
            "notifications[0] (oncall).endpoint: got a value that is no email address (not "
            "shown: it may be a secret); allowed: an email address like oncall@example.com"
        ],
    ),
    "https URL written in plain config": (
        config({**PAGER, "endpoint": TOKEN_URL}, notification_endpoints={"pager": TOKEN_URL}),
        [
            "notifications[0] (pager).endpoint: got a value (not shown: an HTTPS endpoint may "
            "carry a token); allowed: none for https, whose URL is secret config: pulumi config "
            "set --secret --path 'deploypaths:notification_endpoints.pager' https://..."
        ],
    ),
    "https without its secret URL": (
        config(PAGER),
        [
            "notification_endpoints: needs a secret entry for pager (pulumi config set --secret "
            "--path 'deploypaths:notification_endpoints.pager' https://...)"
        ],
    ),
    "secret URL that is not https": (
        config(PAGER, notification_endpoints={"pager": "http://s3cr3t-token@example.com"}),
        [
            "notification_endpoints.pager: got a value that is no https:// URL (not shown: it "
            "is secret); allowed: an https:// URL with a host"
        ],
    ),
    "secret URL for no https entry": (
        config(EMAIL, notification_endpoints={"oncall": TOKEN_URL}),
        [
            "notification_endpoints.oncall: got 'oncall'; allowed: the name of an https "
            "notification (none configured)"
        ],
    ),
    "unknown protocol": (
        config({**EMAIL, "protocol": "slack"}),
        [
            "notifications[0] (oncall).protocol: got 'slack'; allowed: email | https | sns",
        ],
    ),
    "sns without topics": (
        config({"name": "central", "protocol": "sns"}),
        [
            "notifications[0] (central).topic_arns: is required when protocol is sns (region: "
            "topic ARN)"
        ],
    ),
    "sns topic of another region": (
        config(
            {
                **CENTRAL,
                "topic_arns": {
                    "us-east-1": ARN.format(region="us-east-1"),
                    "eu-west-1": ARN.format(region="us-east-1"),
                },
            }
        ),
        [
            "notifications[0] (central).topic_arns.eu-west-1: got "
            "'arn:aws:sns:us-east-1:123456789012:central'; allowed: a topic in eu-west-1 (an "
            "alarm notifies topics of its own region only)"
        ],
    ),
    "sns without a topic for every region": (
        config({**CENTRAL, "topic_arns": {"us-east-1": ARN.format(region="us-east-1")}}),
        [
            "notifications[0] (central).topic_arns: has no topic for eu-west-1; allowed: a topic "
            "for every configured region (an alarm notifies topics of its own region only)"
        ],
    ),
    "sns topic for a region not configured": (
        config(
            {
                **CENTRAL,
                "topic_arns": {
                    **CENTRAL["topic_arns"],
                    "ap-south-1": ARN.format(region="ap-south-1"),
                },
            }
        ),
        [
            "notifications[0] (central).topic_arns.ap-south-1: got 'ap-south-1'; allowed: one "
            "of the configured regions (us-east-1, eu-west-1)"
        ],
    ),
    "not a topic ARN": (
        config({**CENTRAL, "topic_arns": {"us-east-1": "central", "eu-west-1": "central"}}),
        [
            f"notifications[0] (central).topic_arns.{region}: got 'central'; allowed: an SNS "
            "topic ARN like arn:aws:sns:us-east-1:123456789012:oncall"
            for region in ("us-east-1", "eu-west-1")
        ],
    ),
    "an owner no service has": (
        config({**EMAIL, "owner": "payment-team"}),
        [
            "notifications[0] (oncall).owner: got 'payment-team'; allowed: the owner of a "
            "service (payments-team)"
        ],
    ),
    "two entries of one name": (
        config(EMAIL, {**EMAIL, "endpoint": "other@example.com"}),
        [
            "notifications[1].name: got 'oncall'; allowed: a unique name; "
            "notifications[0] already has it"
        ],
    ),
    "no alarms to tell of": (
        config(EMAIL, monitoring={"mode": "kubernetes"}),
        [
            "notifications: got 1 entries; allowed: notifications with monitoring.mode "
            "cloudwatch only (kubernetes creates no alarms or topics)"
        ],
    ),
    "more topics than CloudWatch runs per alarm": (
        config(
            *[{**CENTRAL, "name": f"central-{i}"} for i in range(MAX_ALARM_ACTIONS - 1)],
            {**CENTRAL, "name": "payments-chat", "owner": "payments-team"},
        ),
        [
            "notifications: owner payments-team's paths would notify 6 topics per alarm (the "
            "region's, sns:central-0, sns:central-1, sns:central-2, sns:central-3, "
            "sns:payments-chat); allowed: at most 5 (CloudWatch's limit of actions per alarm)"
        ],
    ),
    "an owner that is no label": (
        {
            **config(),
            "services": [{"name": "auth", "image": AUTH, "owner": "Payments Team"}],
        },
        [
            "services[0] (auth).owner: got 'Payments Team'; allowed: a DNS-1123 label "
            "(lowercase letters, digits, '-', at most 40)"
        ],
    ),
}


@pytest.mark.parametrize(("raw", "expected"), RULES.values(), ids=RULES.keys())
def test_rule(raw: dict[str, Any], expected: list[str]) -> None:
    problems = problems_of(raw)
    assert problems == expected
    # Neither the token nor a URL carrying it reaches a message.
    assert not any("s3cr3t-token" in problem for problem in problems), problems


def test_what_a_path_notifies_is_counted_per_owner():
    entries = (
        Notification(name="oncall", protocol="email", endpoint="oncall@example.com"),
        Notification(name="pager", protocol="https", owner="payments-team"),
        Notification(
            name="chat",
            protocol="sns",
            owner="payments-team",
            topic_arns={"us-east-1": ARN.format(region="us-east-1")},
        ),
    )
    assert alarm_topics(entries, None) == ["region"]
    assert alarm_topics(entries, "payments-team") == [
        "region",
        "owner:payments-team",
        "sns:chat",
    ]
    assert alarm_topics(entries, "discovery") == ["region"]


def test_pulumi_yaml_documents_every_key_of_an_entry():
    block = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    description = block["deploypaths:notifications"]["description"]
    example = description.split("`")[1]
    assert set(yaml.safe_load(example)) == set(config_keys(Notification))
    assert "owner" in block["deploypaths:services"]["description"]
    assert block["deploypaths:notification_endpoints"]["secret"] is True
