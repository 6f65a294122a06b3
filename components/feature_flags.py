"""FeatureFlags: a region's AppConfig feature flags, rolled out gradually under its alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy
from components.outputs import tolerant
from deploypaths.config.settings import FlagDeliverySettings, Service
from deploypaths.health import any_in_alarm
from deploypaths.identity import FEATURE_FLAGS


def application_name(environment: str) -> str:
    return f"deploypaths-{environment}"


def profile_name(service: str) -> str:
    return f"{service}-flags"


def appconfig_document(service: Service) -> str:
    """The AWS.AppConfig.FeatureFlags document of one service's flags."""
    return json.dumps(
        {
            "version": "1",
            "flags": {
                flag.name: {
                    "name": flag.name,
                    "attributes": {
                        "rollout_percent": {
                            "constraints": {"type": "number", "minimum": 0, "maximum": 100}
                        }
                    },
                }
                for flag in service.flags
            },
            "values": service.flag_values,
        },
        sort_keys=True,
    )


@dataclass(frozen=True, kw_only=True)
class FeatureFlagsArgs:
    environment: str
    services: tuple[Service, ...]
    # Each service's composite alarm; a flag change is rolled back when any goes to ALARM.
    health_alarms: dict[str, pulumi.Input[str]]
    # Each service's Deployments: its flags flip only once the code that reads them is out.
    rollouts: dict[str, list[pulumi.Resource]]
    # The region's alarm topic: the region-wide alarm notifies like every path's alarm does.
    topic_arn: pulumi.Input[str]
    delivery: FlagDeliverySettings
    tags: dict[str, str]


class FeatureFlags(pulumi.ComponentResource):
    """One AppConfig application and environment per region and stack; a flag profile, hosted
    version and gradual deployment per service."""

    deployments: list[aws.appconfig.Deployment]

    def __init__(
        self, name: str, args: FeatureFlagsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(FEATURE_FLAGS, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        application = aws.appconfig.Application(
            f"{name}-app", name=application_name(args.environment), tags=args.tags, opts=child
        )
        # AppConfig watches at most five alarms per environment, so it watches one composite
        # alarm that is in ALARM whenever any path of the region is.
        region_health = aws.cloudwatch.CompositeAlarm(
            f"{name}-health",
            alarm_name=f"{args.environment}-{name}-any-path-unhealthy",
            alarm_rule=pulumi.Output.all(*args.health_alarms.values()).apply(
                lambda names: any_in_alarm(sorted(names))
            ),
            alarm_actions=[args.topic_arn],
            ok_actions=[args.topic_arn],
            tags=args.tags,
            opts=child,
        )
        monitor_role = aws.iam.Role(
            f"{name}-monitor-role",
            assume_role_policy=assume_role_policy("appconfig.amazonaws.com"),
            inline_policies=[
                {
                    "name": "describe-alarms",
                    "policy": json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "cloudwatch:DescribeAlarms",
                                    "Resource": "*",
                                }
                            ],
                        }
                    ),
                }
            ],
            tags=args.tags,
            opts=child,
        )
        environment = aws.appconfig.Environment(
            f"{name}-env",
            application_id=application.id,
            name=args.environment,
            monitors=[{"alarm_arn": region_health.arn, "alarm_role_arn": monitor_role.arn}],
            tags=args.tags,
            opts=child,
        )
        delivery = args.delivery
        strategy = aws.appconfig.DeploymentStrategy(
            f"{name}-strategy",
            name=f"{application_name(args.environment)}-{name}",
            deployment_duration_in_minutes=delivery.duration_minutes,
            growth_factor=delivery.growth_factor,
            growth_type="LINEAR",
            final_bake_time_in_minutes=delivery.final_bake_minutes,
            replicate_to="NONE",
            tags=args.tags,
            opts=child,
        )
        self.deployments = []
        # AppConfig runs one deployment per environment at a time, so services take turns.
        previous: list[pulumi.Resource] = []
        for service in args.services:
            profile = aws.appconfig.ConfigurationProfile(
                f"{name}-{service.name}-profile",
                application_id=application.id,
                name=profile_name(service.name),
                location_uri="hosted",
                type="AWS.AppConfig.FeatureFlags",
                tags=args.tags,
                opts=child,
            )
            version = aws.appconfig.HostedConfigurationVersion(
                f"{name}-{service.name}-version",
                application_id=application.id,
                configuration_profile_id=profile.configuration_profile_id,
                content_type="application/json",
                content=appconfig_document(service),
                opts=child,
            )
            deployment = aws.appconfig.Deployment(
                f"{name}-{service.name}-deployment",
                application_id=application.id,
                environment_id=environment.environment_id,
                configuration_profile_id=profile.configuration_profile_id,
                configuration_version=version.version_number.apply(str),
                deployment_strategy_id=strategy.id,
                tags=args.tags,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*args.rollouts.get(service.name, []), *previous]
                ),
            )
            self.deployments.append(deployment)
            previous = [deployment]
        self.register_outputs(tolerant({"deployments": self.deployments}))
