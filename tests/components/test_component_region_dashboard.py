"""A region's dashboard and notifications under the mocks (preview off): the dashboard body is
CloudWatch's DashboardBody structure with a row per service path; every configured email and
HTTPS entry is subscribed to the right topic (the HTTPS URL only as a secret); each composite
alarm notifies the region's topic and the topics of its owner's entries; and a failed gate knows
which topics to tell."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pulumi
import pytest
from pulumi.runtime import rpc

from components.region_dashboard import (
    ROWS_PER_PAGE,
    DashboardRow,
    RegionDashboard,
    RegionDashboardArgs,
    dashboard_body,
)
from components.region_path import RegionPath, RegionPathArgs
from deploypaths.config.settings import (
    Canary,
    DatabaseSettings,
    FlagDeliverySettings,
    KubernetesSettings,
    MonitoringSettings,
    Notification,
    Service,
)
from deploypaths.mock_run import MOCK_ACCOUNT
from tests.support.component_monitor import build, declared_outputs

REGION = "eu-west-1"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
PAGER_URL = "https://events.pagerduty.example/integration/s3cr3t-token/enqueue"
CENTRAL = f"arn:aws:sns:{REGION}:210987654321:central-oncall"
PAYMENTS_CHAT = f"arn:aws:sns:{REGION}:210987654321:payments-chat"
SERVICES = (
    Service(name="auth", image="auth:1"),
    Service(
        name="payments",
        image="payments:1",
        owner="payments-team",
        strategy="canary",
        canary=Canary(image="payments:2", weight=25),
    ),
    Service(name="search", image="search:1", owner="discovery"),
)
NOTIFICATIONS = (
    Notification(name="oncall", protocol="email", endpoint="oncall@example.com"),
    Notification(name="payments-pager", protocol="https", owner="payments-team"),
    Notification(name="central", protocol="sns", topic_arns={REGION: CENTRAL}),
    Notification(
        name="payments-chat",
        protocol="sns",
        topic_arns={REGION: PAYMENTS_CHAT},
        owner="payments-team",
    ),
)

# CloudWatch's DashboardBody structure (the CloudWatch API reference, "Dashboard Body Structure
# and Syntax"), for the widget types the dashboard uses: a grid 24 units wide, at most 500
# widgets, and each type's required properties.
METRIC = {
    "type": "array",
    "minItems": 2,
    # Namespace, metric name, then dimension name and value pairs, then rendering options.
    "prefixItems": [{"type": "string", "minLength": 1}, {"type": "string", "minLength": 1}],
    "items": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "object"}]},
}
WIDGET_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["widgets"],
    "properties": {
        "start": {"type": "string"},
        "widgets": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "required": ["type", "x", "y", "width", "height", "properties"],
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["metric", "text", "alarm"]},
                    "x": {"type": "integer", "minimum": 0, "maximum": 23},
                    "y": {"type": "integer", "minimum": 0},
                    "width": {"type": "integer", "minimum": 1, "maximum": 24},
                    "height": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "properties": {"type": "object"},
                },
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": "metric"}}},
                        "then": {
                            "properties": {
                                "properties": {
                                    "required": ["metrics", "region"],
                                    "properties": {
                                        "metrics": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": METRIC,
                                        },
                                        "region": {"type": "string"},
                                        "view": {"enum": ["timeSeries", "singleValue"]},
                                        "stat": {"type": "string"},
                                        "period": {"type": "integer", "multipleOf": 60},
                                        "title": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "alarm"}}},
                        "then": {
                            "properties": {
                                "properties": {
                                    "required": ["alarms"],
                                    "properties": {
                                        "alarms": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": 100,
                                            "items": {
                                                "type": "string",
                                                "pattern": (
                                                    r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:"
                                                    r"[0-9]{12}:alarm:[^:]+$"
                                                ),
                                            },
                                        },
                                        "title": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "text"}}},
                        "then": {
                            "properties": {
                                "properties": {
                                    "required": ["markdown"],
                                    "properties": {"markdown": {"type": "string", "minLength": 1}},
                                }
                            }
                        },
                    },
                ],
            },
        },
    },
}


def check_dashboard(body: dict[str, Any]) -> None:
    """Valid against the schema, and a layout CloudWatch can draw: inside the grid, no overlap."""
    jsonschema.validate(body, WIDGET_SCHEMA)
    taken: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24, widget
        cells = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & taken, f"overlaps another widget: {widget}"
        taken |= cells


def region_path(
    monitoring: str = "cloudwatch", notifications=NOTIFICATIONS, gate="gate-after-wave-1"
):
    def make() -> RegionPath:
        return RegionPath(
            REGION,
            RegionPathArgs(
                region=REGION,
                environment="prod",
                stack="prod",
                protected=False,
                kubernetes=KubernetesSettings(mode="eks"),
                database=DatabaseSettings(mode="none"),
                monitoring=MonitoringSettings(mode=monitoring),
                flag_delivery=FlagDeliverySettings(),
                services=SERVICES,
                migrations=(),
                tags=lambda path: {"environment": "prod", "path": path},
                notifications=notifications,
                notification_endpoints={"payments-pager": pulumi.Output.secret(PAGER_URL)},
                watching_gate=gate,
            ),
        )

    return build(make, stack="prod")


@pytest.fixture(scope="module")
def notified():
    return region_path()


def body_of(monitor) -> dict[str, Any]:
    (dashboard,) = monitor.of_type(DASHBOARD)
    return json.loads(dashboard.inputs["dashboardBody"])


def rows(body: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """The widgets below the header, by row (their y), left to right."""
    found: dict[int, list[dict[str, Any]]] = {}
    for widget in sorted(body["widgets"][1:], key=lambda w: (w["y"], w["x"])):
        found.setdefault(widget["y"], []).append(widget)
    return found


def test_the_dashboard_body_is_cloudwatchs_widget_schema(notified):
    _, monitor = notified
    (dashboard,) = monitor.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == f"prod-{REGION}-paths", dashboard.name
    check_dashboard(body_of(monitor))


def test_every_service_path_has_its_row(notified):
    _, monitor = notified
    body = body_of(monitor)
    alarms = {
        r.inputs["alarmName"] for r in monitor.of_type(COMPOSITE) if r.name.endswith("-health")
    }
    (eks,) = monitor.of_type("aws:eks/cluster:Cluster")
    cluster = eks.outputs["name"]
    by_service = {}
    for widgets in rows(body).values():
        assert [w["type"] for w in widgets] == ["alarm", "metric", "metric", "metric"], widgets
        service = widgets[0]["properties"]["title"].split(":")[0]
        by_service[service] = widgets
    assert sorted(by_service) == ["auth", "payments", "search"]
    for service, (alarm, traffic, replicas, gate) in by_service.items():
        # The alarm widget shows the composite alarm the path really registers.
        (arn,) = alarm["properties"]["alarms"]
        name = f"prod-{service}-{REGION}-health"
        assert name in alarms, service
        assert arn == f"arn:aws:cloudwatch:{REGION}:{MOCK_ACCOUNT}:alarm:{name}", service
        assert [m[1] for m in traffic["properties"]["metrics"]] == ["Latency", "Fault", "Error"]
        # Application Signals' environment and Container Insights' cluster: the region's cluster.
        assert {m[3] for m in traffic["properties"]["metrics"]} == {f"eks:{cluster}/app"}, service
        assert {m[3] for m in replicas["properties"]["metrics"]} == {cluster}, service
        assert gate["properties"]["metrics"] == [
            ["deploypaths", "GateState", "Environment", "prod", "Gate", "gate-after-wave-1"]
        ], service
        deployments = [m[7] for m in replicas["properties"]["metrics"]]
        expected = ["payments", "payments-canary"] if service == "payments" else [service]
        assert deployments == expected, service


def test_the_dashboard_waits_for_no_path(notified):
    """A resource of the region that waited for its paths would make the region path wait for
    the paths that wait for it (the plan's release order)."""
    _, monitor = notified
    (dashboard,) = monitor.of_type(DASHBOARD)
    (region,) = monitor.of_type("deploypaths:index:RegionPath")
    paths = {r.urn for r in monitor.of_type("deploypaths:index:ServicePath")}
    for urn in dashboard.dependencies:
        cursor = urn
        while cursor and cursor != region.urn:
            assert cursor not in paths, f"{dashboard.name} waits for {urn}"
            cursor = monitor.registered[cursor].parent


def test_every_email_and_https_entry_is_subscribed_to_its_topic(notified):
    _, monitor = notified
    region_topic = monitor.named(f"{REGION}-alarms", TOPIC)
    owner_topic = monitor.named(f"{REGION}-notifications-payments-team-alarms", TOPIC)
    subscriptions = {r.name: r for r in monitor.of_type(SUBSCRIPTION)}
    assert sorted(subscriptions) == [
        f"{REGION}-notifications-oncall",
        f"{REGION}-notifications-payments-pager",
    ]
    email = subscriptions[f"{REGION}-notifications-oncall"]
    assert email.inputs["protocol"] == "email"
    assert email.inputs["endpoint"] == "oncall@example.com"
    assert email.inputs["topic"] == region_topic.outputs["arn"], email.name
    https = subscriptions[f"{REGION}-notifications-payments-pager"]
    assert https.inputs["protocol"] == "https"
    assert https.inputs["topic"] == owner_topic.outputs["arn"], https.name
    assert https.inputs["endpoint"] == {
        rpc._special_sig_key: rpc._special_secret_sig,
        "value": PAGER_URL,
    }, https.name
    assert https.inputs["endpointAutoConfirms"] is True, https.name
    # Anyone can read plain inputs and state: the URL and its token appear nowhere in them.
    for resource in monitor.registered.values():
        assert "s3cr3t-token" not in json.dumps(resource.plain_inputs), resource.name
    # No topic for an owner only SNS entries listen to, none per path.
    assert sorted(r.name for r in monitor.of_type(TOPIC)) == [
        f"{REGION}-alarms",
        f"{REGION}-notifications-payments-team-alarms",
    ]


def test_each_alarm_notifies_its_region_its_owner_and_the_sns_entries_for_it(notified):
    _, monitor = notified
    region_topic = monitor.named(f"{REGION}-alarms", TOPIC).outputs["arn"]
    owner_topic = monitor.named(f"{REGION}-notifications-payments-team-alarms", TOPIC)
    expected = {
        "auth": [region_topic, CENTRAL],
        "payments": [region_topic, owner_topic.outputs["arn"], CENTRAL, PAYMENTS_CHAT],
        "search": [region_topic, CENTRAL],
    }
    for service, topics in expected.items():
        alarm = monitor.named(f"{REGION}-{service}-health", COMPOSITE)
        assert alarm.inputs["alarmActions"] == topics, alarm.name
        assert alarm.inputs["okActions"] == topics, alarm.name


def test_a_failed_gate_knows_which_topics_to_tell(notified):
    component, monitor = notified
    (region,) = monitor.of_type("deploypaths:index:RegionPath")
    outputs = monitor.outputs[region.urn]
    assert set(outputs) == declared_outputs(RegionPath), region.name
    region_topic = monitor.named(f"{REGION}-alarms", TOPIC).outputs["arn"]
    owner_topic = monitor.named(f"{REGION}-notifications-payments-team-alarms", TOPIC)
    payments = f"prod-payments-{REGION}-health"
    assert outputs["notify_targets"] == [
        {"topic_arn": region_topic, "every": True, "alarms": []},
        {"topic_arn": owner_topic.outputs["arn"], "every": False, "alarms": [payments]},
        {"topic_arn": CENTRAL, "every": True, "alarms": []},
        {"topic_arn": PAYMENTS_CHAT, "every": False, "alarms": [payments]},
    ], region.name


def test_without_notifications_the_region_has_its_dashboard_and_topic_only():
    component, monitor = region_path(notifications=(), gate=None)
    assert monitor.of_type(SUBSCRIPTION) == []
    assert monitor.of_type("deploypaths:index:Notifications") == []
    assert [r.name for r in monitor.of_type(TOPIC)] == [f"{REGION}-alarms"]
    alarm = monitor.named(f"{REGION}-payments-health", COMPOSITE)
    assert alarm.inputs["alarmActions"] == [monitor.named(f"{REGION}-alarms", TOPIC).outputs["arn"]]
    body = body_of(monitor)
    check_dashboard(body)
    # The last wave: no gate watches it, and its rows say so.
    gates = [widgets[3] for widgets in rows(body).values()]
    assert len(gates) == 3
    assert all(g["type"] == "text" and "No gate" in g["properties"]["markdown"] for g in gates)


def test_kubernetes_monitoring_has_no_dashboard_and_no_notice():
    component, monitor = region_path(monitoring="kubernetes", notifications=())
    assert monitor.of_type(DASHBOARD) == [] and monitor.of_type(TOPIC) == []
    assert component.dashboard is None


def test_a_full_page_stays_in_the_schema():
    """A page holds ROWS_PER_PAGE paths: 4 widgets each and the header, at most 500."""
    services = [
        (f"svc-{i:03d}", [f"svc-{i:03d}"], f"arn:aws:cloudwatch:{REGION}:{MOCK_ACCOUNT}:alarm:a{i}")
        for i in range(ROWS_PER_PAGE)
    ]
    body = dashboard_body(
        region=REGION,
        environment="prod",
        cluster_name="prod-cluster",
        namespace="app",
        rows=services,
        gate="gate-after-wave-2",
    )
    check_dashboard(body)
    assert len(rows(body)) == ROWS_PER_PAGE


def test_a_region_with_more_paths_than_a_page_gets_more_pages():
    def make() -> RegionDashboard:
        return RegionDashboard(
            REGION,
            RegionDashboardArgs(
                region=REGION,
                environment="prod",
                cluster_name="prod-cluster",
                namespace="app",
                rows=tuple(
                    DashboardRow(
                        service=f"svc-{i:03d}",
                        deployments=(f"svc-{i:03d}",),
                        composite_alarm_arn=f"arn:aws:cloudwatch:{REGION}:{MOCK_ACCOUNT}:alarm:a{i}",
                    )
                    for i in range(ROWS_PER_PAGE + 3)
                ),
            ),
        )

    _, monitor = build(make)
    pages = {
        r.inputs["dashboardName"]: json.loads(r.inputs["dashboardBody"])
        for r in monitor.of_type(DASHBOARD)
    }
    assert sorted(pages) == [f"prod-{REGION}-paths", f"prod-{REGION}-paths-2"]
    for body in pages.values():
        check_dashboard(body)
    services = [
        widgets[0]["properties"]["title"].split(":")[0]
        for body in (pages[f"prod-{REGION}-paths"], pages[f"prod-{REGION}-paths-2"])
        for widgets in rows(body).values()
    ]
    assert services == [f"svc-{i:03d}" for i in range(ROWS_PER_PAGE + 3)]
