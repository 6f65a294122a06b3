"""Notifications against a real SNS, SQS and CloudWatch API: a moto server on loopback. The
region's topics and subscriptions as the program declares them (`components.notifications`),
with SQS queues standing in for the mailboxes and HTTPS endpoints, so what reaches whom can be
read back; and a failed health gate publishing to them."""

from __future__ import annotations

import json

import boto3
import pytest

from components.health_gate import _GateProvider
from components.notifications import listening_owners, subscriptions
from deploypaths import health
from deploypaths.config.settings import Notification, alarm_topics
from tests.support.moto_server import moto_endpoint, path_alarm

REGION = "eu-west-1"
ENTRIES = (
    Notification(name="oncall", protocol="email", endpoint="oncall@example.com"),
    Notification(name="payments-pager", protocol="https", owner="payments-team"),
    Notification(name="search-mail", protocol="email", endpoint="s@example.com", owner="discovery"),
)
ORDERS = f"prod-orders-{REGION}-health"  # no owner
PAYMENTS = f"prod-payments-{REGION}-health"  # payments-team
SEARCH = f"prod-search-{REGION}-health"  # discovery
OWNERS = {ORDERS: None, PAYMENTS: "payments-team", SEARCH: "discovery"}


@pytest.fixture
def aws(monkeypatch):
    with moto_endpoint(monkeypatch):
        yield {
            service: boto3.client(service, region_name=REGION)
            for service in ("sns", "sqs", "cloudwatch")
        }


def inbox(aws, topic_arn: str, name: str) -> str:
    """An SQS queue subscribed to the topic: a mailbox whose mail can be read back."""
    url = aws["sqs"].create_queue(QueueName=name)["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    aws["sns"].subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return url


def read(aws, url: str) -> list[str]:
    messages = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [m["Body"] for m in messages.get("Messages", [])]


def region_topics(aws) -> dict[str, str]:
    """The region's topic and each listening owner's, as the program creates them."""
    topics = {"region": aws["sns"].create_topic(Name=f"{REGION}-alarms")["TopicArn"]}
    for owner in listening_owners(ENTRIES):
        name = f"{REGION}-notifications-{owner}-alarms"
        topics[f"owner:{owner}"] = aws["sns"].create_topic(Name=name)["TopicArn"]
    return topics


def test_the_topics_and_subscriptions_exist_as_declared(aws):
    topics = region_topics(aws)
    endpoints = {"payments-pager": "https://events.example.com/integration/token"}
    by_name = {entry.name: entry for entry in ENTRIES}
    for wanted in subscriptions(ENTRIES):
        entry = by_name[wanted.entry]
        aws["sns"].subscribe(
            TopicArn=topics[wanted.topic],
            Protocol=wanted.protocol,
            Endpoint=entry.endpoint or endpoints[entry.name],
        )
    listed = {
        topic: sorted(
            (s["Protocol"], s["Endpoint"])
            for s in aws["sns"].list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        )
        for topic, arn in topics.items()
    }
    assert listed == {
        "region": [("email", "oncall@example.com")],
        "owner:payments-team": [("https", endpoints["payments-pager"])],
        "owner:discovery": [("email", "s@example.com")],
    }


def test_an_alarm_reaches_every_path_entry_and_its_owners_only(aws):
    """An alarm notifies the topics `alarm_topics` names for its path's owner (its actions):
    the every-path mailbox hears of all alarms, an owner's of that owner's only."""
    topics = region_topics(aws)
    mailboxes = {
        wanted.entry: inbox(aws, topics[wanted.topic], wanted.entry)
        for wanted in subscriptions(ENTRIES)
    }
    for alarm, owner in OWNERS.items():
        for topic in alarm_topics(ENTRIES, owner):
            aws["sns"].publish(TopicArn=topics[topic], Message=json.dumps({"AlarmName": alarm}))
    heard = {
        entry: sorted(json.loads(body)["AlarmName"] for body in read(aws, url))
        for entry, url in mailboxes.items()
    }
    assert heard == {
        "oncall": sorted(OWNERS),
        "payments-pager": [PAYMENTS],
        "search-mail": [SEARCH],
    }


def gate_props(topics: dict[str, str]) -> dict:
    return {
        "wave": 1,
        "release": "r2",
        "alarms": {REGION: sorted(OWNERS)},
        "bake_seconds": 0.2,
        "poll_seconds": 0.1,
        "monitoring": "cloudwatch",
        "restart_threshold": 3,
        "rollout_timeout_seconds": 60,
        "gate": "gate-after-wave-1",
        "environment": "prod",
        "notify": {
            REGION: [
                {"topic_arn": topics["region"], "every": True, "alarms": []},
                {
                    "topic_arn": topics["owner:payments-team"],
                    "every": False,
                    "alarms": [PAYMENTS],
                },
                {"topic_arn": topics["owner:discovery"], "every": False, "alarms": [SEARCH]},
            ]
        },
    }


def gate_states(aws) -> tuple[float, float]:
    """The lowest and highest state the gate recorded (within the one minute a test takes)."""
    response = aws["cloudwatch"].get_metric_data(
        MetricDataQueries=[
            {
                "Id": stat.lower(),
                "MetricStat": {
                    "Metric": {
                        "Namespace": health.GATE_NAMESPACE,
                        "MetricName": health.GATE_METRIC,
                        "Dimensions": [
                            {"Name": "Environment", "Value": "prod"},
                            {"Name": "Gate", "Value": "gate-after-wave-1"},
                        ],
                    },
                    "Period": 3600,
                    "Stat": stat,
                },
            }
            for stat in ("Minimum", "Maximum")
        ],
        StartTime="2000-01-01T00:00:00Z",
        EndTime="2100-01-01T00:00:00Z",
    )
    low, high = (result["Values"] for result in response["MetricDataResults"])
    return low[0], high[0]


def test_a_failed_gate_tells_the_region_and_the_failed_paths_owners(aws):
    topics = region_topics(aws)
    region_inbox = inbox(aws, topics["region"], "region")
    payments_inbox = inbox(aws, topics["owner:payments-team"], "payments")
    discovery_inbox = inbox(aws, topics["owner:discovery"], "discovery")
    path_alarm(aws["cloudwatch"], ORDERS, "OK")
    path_alarm(aws["cloudwatch"], PAYMENTS, "ALARM")
    path_alarm(aws["cloudwatch"], SEARCH, "OK")

    with pytest.raises(Exception, match=f"{PAYMENTS} is in ALARM") as failure:
        _GateProvider().create(gate_props(topics))

    assert "not notified" not in str(failure.value)
    (notice,) = read(aws, region_inbox)
    assert "gate-after-wave-1 found wave 1 unhealthy" in notice
    assert f"- {REGION}: {PAYMENTS} is in ALARM (test says ALARM)" in notice
    assert read(aws, payments_inbox) == [notice]
    assert read(aws, discovery_inbox) == [], "discovery's paths are healthy"
    # The dashboards' gate widget: baking, then failed.
    assert gate_states(aws) == (health.GATE_STATES["baking"], health.GATE_STATES["failed"])


def test_a_passed_gate_tells_no_one_and_shows_passed(aws):
    topics = region_topics(aws)
    region_inbox = inbox(aws, topics["region"], "region")
    for alarm in OWNERS:
        path_alarm(aws["cloudwatch"], alarm, "OK")

    _GateProvider().create(gate_props(topics))

    assert read(aws, region_inbox) == []
    assert gate_states(aws) == (health.GATE_STATES["passed"], health.GATE_STATES["baking"])


def test_a_notice_that_cannot_be_sent_is_said_with_the_failure(aws):
    topics = region_topics(aws)
    path_alarm(aws["cloudwatch"], ORDERS, "ALARM")
    missing = f"arn:aws:sns:{REGION}:123456789012:deleted-topic"
    props = gate_props(topics)
    props["notify"][REGION][0]["topic_arn"] = missing

    with pytest.raises(Exception, match=f"{ORDERS} is in ALARM") as failure:
        _GateProvider().create(props)

    assert f"(not notified: {missing}: " in str(failure.value)
