"""Notifications: who hears of one region's alarms and failed gates: each listening owner's
topic, and the email and HTTPS subscriptions to the region's topic or to an owner's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.outputs import tolerant
from deploypaths.config.settings import Notification, alarm_topics
from deploypaths.identity import PACKAGE

NOTIFICATIONS = f"{PACKAGE}:index:Notifications"

# Routing an entry to one owner's paths: a topic per owner (in each region), which that owner's
# composite alarms notify besides the region's topic, and to which the owner's entries are
# subscribed. Not a subscription filter policy: CloudWatch publishes alarm notifications without
# message attributes, so a filter could only match alarm names inside the message body, a format
# CloudWatch owns; a topic keeps the routing in the alarms' own actions, visible in the console.


@dataclass(frozen=True)
class Subscription:
    """One subscription the region makes: which entry, to which topic (`region` or
    `owner:<owner>`, as `settings.alarm_topics` names them), by which protocol."""

    entry: str
    topic: str
    protocol: str


def subscriptions(entries: tuple[Notification, ...]) -> list[Subscription]:
    """Every email and https entry, subscribed to its owner's topic, or to the region's topic
    when it listens to every path. SNS entries are no subscription (a topic cannot subscribe to
    a topic): the alarms notify them directly."""
    return [
        Subscription(
            entry=entry.name,
            topic=f"owner:{entry.owner}" if entry.owner else "region",
            protocol=entry.protocol,
        )
        for entry in entries
        if entry.protocol != "sns"
    ]


def listening_owners(entries: tuple[Notification, ...]) -> list[str]:
    """The owners that get a topic of their own: some email or https entry listens to them."""
    return sorted({e.owner for e in entries if e.owner and e.protocol != "sns"})


@dataclass(frozen=True, kw_only=True)
class NotificationsArgs:
    region: str
    # The region's alarm topic, which every path's composite alarm notifies.
    topic_arn: pulumi.Input[str]
    entries: tuple[Notification, ...]
    # The URL of each https entry, by name, already wrapped as a secret by the composition root.
    endpoints: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


class Notifications(pulumi.ComponentResource):
    """The owners' alarm topics of one region and every email or HTTPS subscription to them."""

    # Owner -> the topic their paths' composite alarms notify besides the region's.
    owner_topic_arns: dict[str, pulumi.Output[str]]
    # Entry name -> its subscription.
    subscriptions: dict[str, aws.sns.TopicSubscription]

    def __init__(
        self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(NOTIFICATIONS, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.owner_topic_arns = {
            owner: aws.sns.Topic(f"{name}-{owner}-alarms", tags=args.tags, opts=child).arn
            for owner in listening_owners(args.entries)
        }
        topics: dict[str, pulumi.Input[str]] = {
            "region": args.topic_arn,
            **{f"owner:{owner}": arn for owner, arn in self.owner_topic_arns.items()},
        }
        by_name = {entry.name: entry for entry in args.entries}
        self.subscriptions = {
            wanted.entry: self._subscription(
                name, by_name[wanted.entry], topics[wanted.topic], args.endpoints, child
            )
            for wanted in subscriptions(args.entries)
        }
        self.register_outputs(
            tolerant(
                {"owner_topic_arns": self.owner_topic_arns, "subscriptions": self.subscriptions}
            )
        )

    @staticmethod
    def _subscription(
        name: str,
        entry: Notification,
        topic_arn: pulumi.Input[str],
        endpoints: Mapping[str, pulumi.Input[str]],
        opts: pulumi.ResourceOptions,
    ) -> aws.sns.TopicSubscription:
        extra: dict[str, Any] = {}
        if entry.protocol == "https":
            # Validation requires the URL of every https entry.
            assert entry.name in endpoints, f"{entry.name}: no HTTPS endpoint"
            endpoint: pulumi.Input[str] = pulumi.Output.secret(endpoints[entry.name])
            # The provider waits for the endpoint to confirm (incident tools such as PagerDuty
            # do it by themselves) and fails the update if it does not: a subscription left
            # pending would look configured and deliver nothing.
            extra = {"endpoint_auto_confirms": True, "confirmation_timeout_in_minutes": 5}
            opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["endpoint"])
            )
        else:
            # Email: AWS mails a confirmation link; the subscription is pending until clicked.
            assert entry.endpoint is not None, entry.name
            endpoint = entry.endpoint
        return aws.sns.TopicSubscription(
            f"{name}-{entry.name}",
            topic=topic_arn,
            protocol=entry.protocol,
            endpoint=endpoint,
            opts=opts,
            **extra,
        )


def path_topics(
    entries: tuple[Notification, ...],
    owner: str | None,
    region: str,
    owner_topic_arns: Mapping[str, pulumi.Input[str]],
) -> list[pulumi.Input[str]]:
    """The topics a path of this owner notifies besides the region's (`Monitoring.also_notify`),
    in the order `settings.alarm_topics` counts them against CloudWatch's limit."""
    sns_topics = {e.name: e.topic_arns[region] for e in entries if e.protocol == "sns"}
    found: list[pulumi.Input[str]] = []
    for topic in alarm_topics(entries, owner)[1:]:
        kind, _, key = topic.partition(":")
        found.append(owner_topic_arns[key] if kind == "owner" else sns_topics[key])
    return found
