"""FeatureFlags on its own: a region's AppConfig application, environment and strategy, watched
by one composite alarm, and per service a flag profile, hosted version and deployment that
waits for the service's rollout and for the service before it."""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.runtime import rpc

from components.feature_flags import FeatureFlags, FeatureFlagsArgs
from deploypaths.config.settings import Flag, FlagDeliverySettings, Service
from tests.support.component_monitor import build, declared_outputs

NAME = "eu-west-1-flags"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"
TAGS = {"path": "flags@eu-west-1"}
SERVICES = (
    Service(name="orders", image="orders:1", flags=(Flag(name="new-checkout", enabled=True),)),
    Service(
        name="billing",
        image="billing:1",
        flags=(Flag(name="invoices-v2", enabled=False, rollout_percent=0),),
    ),
)
DEPLOYMENT = "aws:appconfig/deployment:Deployment"


@pytest.fixture(scope="module")
def flags():
    def make() -> FeatureFlags:
        rollouts = {
            "orders": [
                pulumi.CustomResource("test:index:Deployment", "orders"),
                pulumi.CustomResource("test:index:Deployment", "orders-canary"),
            ],
            "billing": [pulumi.CustomResource("test:index:Deployment", "billing")],
        }
        return FeatureFlags(
            NAME,
            FeatureFlagsArgs(
                environment="test",
                services=SERVICES,
                health_alarms={
                    "orders": "test-orders-eu-west-1-health",
                    "billing": "test-billing-eu-west-1-health",
                },
                rollouts=rollouts,
                topic_arn=TOPIC,
                delivery=FlagDeliverySettings(
                    duration_minutes=6, growth_factor=25, final_bake_minutes=4
                ),
                tags=TAGS,
            ),
        )

    return build(make)


def test_every_child_hangs_off_the_flags_and_is_tagged(flags):
    _, monitor = flags
    (component,) = monitor.of_type("deploypaths:index:FeatureFlags")
    children = monitor.children_of(component.urn)
    # 5 per region, 3 per service.
    assert len(children) == 5 + 3 * len(SERVICES)
    for child in children:
        assert child.name.startswith(f"{NAME}-"), child.name
        if child.type != "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion":
            assert child.inputs["tags"] == TAGS, child.name


def test_appconfig_watches_one_alarm_over_every_path_of_the_region(flags):
    _, monitor = flags
    health = monitor.named(f"{NAME}-health", "aws:cloudwatch/compositeAlarm:CompositeAlarm")
    assert health.inputs["alarmName"] == f"test-{NAME}-any-path-unhealthy", health.name
    assert health.inputs["alarmRule"] == (
        'ALARM("test-billing-eu-west-1-health") OR ALARM("test-orders-eu-west-1-health")'
    ), health.name
    assert health.inputs["alarmActions"] == [TOPIC], health.name
    assert health.inputs["okActions"] == [TOPIC], health.name
    role = monitor.named(f"{NAME}-monitor-role", "aws:iam/role:Role")
    principal = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]
    assert principal == {"Service": "appconfig.amazonaws.com"}, role.name
    environment = monitor.named(f"{NAME}-env", "aws:appconfig/environment:Environment")
    assert environment.inputs["name"] == "test", environment.name
    assert environment.inputs["applicationId"] == f"{NAME}-app-id", environment.name
    assert environment.inputs["monitors"] == [
        {
            "alarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:test-{NAME}-any-path-unhealthy",
            "alarmRoleArn": f"arn:aws:iam:us-east-1:123456789012:{NAME}-monitor-role",
        }
    ], environment.name
    assert {health.urn, role.urn} <= set(environment.dependencies), environment.name


def test_the_strategy_follows_the_delivery_settings(flags):
    _, monitor = flags
    application = monitor.named(f"{NAME}-app", "aws:appconfig/application:Application")
    assert application.inputs["name"] == "deploypaths-test", application.name
    strategy = monitor.named(
        f"{NAME}-strategy", "aws:appconfig/deploymentStrategy:DeploymentStrategy"
    )
    expected = {
        "name": f"deploypaths-test-{NAME}",
        "deploymentDurationInMinutes": 6,
        "growthFactor": 25,
        "growthType": "LINEAR",
        "finalBakeTimeInMinutes": 4,
        "replicateTo": "NONE",
    }
    assert {key: strategy.inputs[key] for key in expected} == expected, strategy.name


def test_each_service_gets_a_profile_and_a_version_of_its_flags(flags):
    _, monitor = flags
    for service in SERVICES:
        profile = monitor.named(
            f"{NAME}-{service.name}-profile",
            "aws:appconfig/configurationProfile:ConfigurationProfile",
        )
        assert profile.inputs["name"] == f"{service.name}-flags", profile.name
        assert profile.inputs["type"] == "AWS.AppConfig.FeatureFlags", profile.name
        assert profile.inputs["locationUri"] == "hosted", profile.name
        version = monitor.named(
            f"{NAME}-{service.name}-version",
            "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion",
        )
        # The provider marks hosted content secret.
        content = version.inputs["content"]
        assert content[rpc._special_sig_key] == rpc._special_secret_sig, version.name
        document = json.loads(content["value"])
        assert document["values"] == service.flag_values, version.name
        assert set(document["flags"]) == {flag.name for flag in service.flags}, version.name
        assert version.inputs["applicationId"] == f"{NAME}-app-id", version.name


def test_each_deployment_reads_its_profile_version_and_environment(flags):
    _, monitor = flags
    environment = monitor.named(f"{NAME}-env", "aws:appconfig/environment:Environment")
    for service in SERVICES:
        profile = monitor.named(
            f"{NAME}-{service.name}-profile",
            "aws:appconfig/configurationProfile:ConfigurationProfile",
        )
        version = monitor.named(
            f"{NAME}-{service.name}-version",
            "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion",
        )
        deployment = monitor.named(f"{NAME}-{service.name}-deployment", DEPLOYMENT)
        assert profile.urn in version.dependencies, version.name
        assert {profile.urn, version.urn, environment.urn} <= set(deployment.dependencies), (
            deployment.name
        )
        assert deployment.inputs["configurationVersion"] != "None", deployment.name


def test_deployments_wait_for_their_rollout_and_take_turns(flags):
    _, monitor = flags
    rollouts = {r.name: r.urn for r in monitor.of_type("test:index:Deployment")}
    orders = monitor.named(f"{NAME}-orders-deployment", DEPLOYMENT)
    billing = monitor.named(f"{NAME}-billing-deployment", DEPLOYMENT)
    strategy = monitor.named(
        f"{NAME}-strategy", "aws:appconfig/deploymentStrategy:DeploymentStrategy"
    )
    assert {rollouts["orders"], rollouts["orders-canary"]} <= set(orders.dependencies), orders.name
    assert rollouts["billing"] not in orders.dependencies, orders.name
    assert billing.urn not in orders.dependencies, orders.name
    # One deployment per AppConfig environment at a time: billing goes after orders.
    assert {rollouts["billing"], orders.urn} <= set(billing.dependencies), billing.name
    assert rollouts["orders"] not in billing.dependencies, billing.name
    for deployment in (orders, billing):
        assert deployment.inputs["deploymentStrategyId"] == f"{NAME}-strategy-id", deployment.name
        assert strategy.urn in deployment.dependencies, deployment.name
        version = monitor.named(
            deployment.name.replace("-deployment", "-version"),
            "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion",
        )
        assert version.urn in deployment.dependencies, deployment.name


def test_registers_exactly_what_it_exposes(flags):
    component, monitor = flags
    (registered,) = monitor.of_type("deploypaths:index:FeatureFlags")
    outputs = monitor.outputs[registered.urn]
    assert set(outputs) == declared_outputs(FeatureFlags), registered.name
    assert outputs["deployments"] == [
        monitor.named(f"{NAME}-{service.name}-deployment", DEPLOYMENT).urn for service in SERVICES
    ], registered.name
    assert len(component.deployments) == len(SERVICES)
