"""RegionDashboard: one region's CloudWatch dashboard, a row per service path: its composite
alarm, its requests and errors, its Deployments' available replicas, the state of its gate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.outputs import tolerant
from deploypaths.health import GATE_METRIC, GATE_NAMESPACE, GATE_STATES
from deploypaths.identity import PACKAGE

REGION_DASHBOARD = f"{PACKAGE}:index:RegionDashboard"
# The dashboard grid is 24 units wide: four widgets of 6 per row.
WIDTH = 6
HEIGHT = 6
HEADER_HEIGHT = 2
# CloudWatch takes at most 500 widgets per dashboard: a header and 124 rows of four. A region
# with more paths gets more pages (`-paths`, `-paths-2`, ...), in the order of the config.
MAX_WIDGETS = 500
ROWS_PER_PAGE = (MAX_WIDGETS - 1) // 4


@dataclass(frozen=True, kw_only=True)
class DashboardRow:
    """One service path on the dashboard."""

    service: str
    # The path's Deployments (`orders`, `orders-canary`, ...), as Container Insights names them.
    deployments: tuple[str, ...]
    composite_alarm_arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class RegionDashboardArgs:
    region: str
    environment: str
    cluster_name: pulumi.Input[str]
    namespace: str
    rows: tuple[DashboardRow, ...]
    # The gate that watches this region's paths before the next wave (None: the last wave).
    gate: str | None = None


class RegionDashboard(pulumi.ComponentResource):
    """The region's paths at a glance, where operators already look: the CloudWatch console."""

    # One per page of ROWS_PER_PAGE paths.
    dashboard_names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: RegionDashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(REGION_DASHBOARD, name, None, opts)
        pages = [
            args.rows[start : start + ROWS_PER_PAGE]
            for start in range(0, len(args.rows), ROWS_PER_PAGE)
        ]
        self.dashboard_names = [
            self._page(name, args, number, rows).dashboard_name
            for number, rows in enumerate(pages, start=1)
        ]
        self.register_outputs(tolerant({"dashboard_names": self.dashboard_names}))

    def _page(
        self, name: str, args: RegionDashboardArgs, number: int, rows: tuple[DashboardRow, ...]
    ) -> aws.cloudwatch.Dashboard:
        suffix = "" if number == 1 else f"-{number}"
        body = pulumi.Output.all(args.cluster_name, *[r.composite_alarm_arn for r in rows]).apply(
            lambda values: json.dumps(
                dashboard_body(
                    region=args.region,
                    environment=args.environment,
                    cluster_name=values[0],
                    namespace=args.namespace,
                    rows=[
                        (row.service, row.deployments, arn)
                        for row, arn in zip(rows, values[1:], strict=True)
                    ],
                    gate=args.gate,
                ),
                sort_keys=True,
            )
        )
        return aws.cloudwatch.Dashboard(
            f"{name}-dashboard{suffix}",
            dashboard_name=f"{args.environment}-{args.region}-paths{suffix}",
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )


def dashboard_body(
    *,
    region: str,
    environment: str,
    cluster_name: str,
    namespace: str,
    rows: Sequence[tuple[str, Sequence[str], str]],
    gate: str | None,
) -> dict[str, Any]:
    """The dashboard's body (CloudWatch's DashboardBody structure): a header, then per row
    `(service, deployments, composite alarm ARN)` an alarm, a metric graph of requests and
    errors, one of available replicas and the gate's state, left to right."""
    watched = (
        f"`{gate}` watches these paths before the next wave"
        if gate
        else ("no gate after this wave: it is the last")
    )
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 4 * WIDTH,
            "height": HEADER_HEIGHT,
            "properties": {
                "markdown": f"# {environment} in {region}: one row per service path\n{watched}."
            },
        }
    ]
    # Application Signals (part of the Container Insights add-on) names an EKS workload's
    # environment after its cluster and namespace.
    signals = f"eks:{cluster_name}/{namespace}"
    for index, (service, deployments, alarm_arn) in enumerate(rows):
        y = HEADER_HEIGHT + index * HEIGHT
        widgets.append(_cell(0, y, "alarm", {"title": f"{service}: health", "alarms": [alarm_arn]}))
        widgets.append(
            _cell(
                1,
                y,
                "metric",
                _graph(
                    region,
                    f"{service}: requests and errors",
                    "Sum",
                    [
                        _metric(
                            "ApplicationSignals",
                            "Latency",
                            signals,
                            service,
                            "requests",
                            "SampleCount",
                        ),
                        _metric("ApplicationSignals", "Fault", signals, service, "faults (5xx)"),
                        _metric("ApplicationSignals", "Error", signals, service, "errors (4xx)"),
                    ],
                ),
            )
        )
        widgets.append(
            _cell(
                2,
                y,
                "metric",
                _graph(
                    region,
                    f"{service}: available replicas",
                    "Minimum",
                    [
                        [
                            "ContainerInsights",
                            "kube_deployment_status_replicas_available",
                            "ClusterName",
                            cluster_name,
                            "Namespace",
                            namespace,
                            "PodName",
                            deployment,
                            {"label": deployment},
                        ]
                        for deployment in deployments
                    ],
                ),
            )
        )
        widgets.append(_cell(3, y, *_gate_widget(region, environment, gate)))
    return {"start": "-PT3H", "widgets": widgets}


def _cell(column: int, y: int, type_: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": type_,
        "x": column * WIDTH,
        "y": y,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": properties,
    }


def _metric(
    namespace: str,
    name: str,
    environment: str,
    service: str,
    label: str,
    stat: str | None = None,
) -> list[Any]:
    options: dict[str, Any] = {"label": label}
    if stat:
        options["stat"] = stat
    return [namespace, name, "Environment", environment, "Service", service, options]


def _graph(region: str, title: str, stat: str, metrics: list[list[Any]]) -> dict[str, Any]:
    return {
        "title": title,
        "region": region,
        "view": "timeSeries",
        "stat": stat,
        "period": 60,
        "metrics": metrics,
    }


def _gate_widget(region: str, environment: str, gate: str | None) -> tuple[str, dict[str, Any]]:
    if gate is None:
        return "text", {"markdown": "**No gate**: this is the last wave."}
    legend = ", ".join(f"{value} {state}" for state, value in GATE_STATES.items())
    return "metric", {
        "title": f"{gate} ({legend})",
        "region": region,
        "view": "singleValue",
        "stat": "Maximum",
        "period": 60,
        "metrics": [[GATE_NAMESPACE, GATE_METRIC, "Environment", environment, "Gate", gate]],
    }
