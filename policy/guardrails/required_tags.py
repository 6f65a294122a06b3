"""required-tags: every taggable AWS resource carries environment, path and owner tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, Severity

from .crossguard import plain, provider_default_tags, resource_validate
from .props import (
    COMPOSITE_ALARM,
    EKS_CLUSTER,
    RDS_CLUSTER,
    RDS_CLUSTER_INSTANCE,
    RDS_CLUSTER_PARAMETER_GROUP,
    RDS_SUBNET_GROUP,
    SNS_TOPIC,
    UNKNOWN,
    Unknown,
    is_list,
    label,
    show,
)

NAME = "required-tags"

# AWS types that must carry tags even when the program passes none (their props then have no
# `tags` key at all). Any other AWS resource is taggable when its props have a `tags` key.
TAGGABLE_TYPES: Final = frozenset(
    {
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/eip:Eip",
        EKS_CLUSTER,
        "aws:eks/nodeGroup:NodeGroup",
        RDS_CLUSTER,
        RDS_CLUSTER_INSTANCE,
        RDS_SUBNET_GROUP,
        RDS_CLUSTER_PARAMETER_GROUP,
        SNS_TOPIC,
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        COMPOSITE_ALARM,
        "aws:appconfig/application:Application",
        "aws:appconfig/environment:Environment",
        "aws:appconfig/configurationProfile:ConfigurationProfile",
        "aws:appconfig/deploymentStrategy:DeploymentStrategy",
        "aws:secretsmanager/secret:Secret",
    }
)
REQUIRED_TAGS: Final = ("environment", "path", "owner")


def is_taggable(resource_type: str, props: Mapping[str, Any]) -> bool:
    return resource_type.startswith("aws:") and ("tags" in props or resource_type in TAGGABLE_TYPES)


def effective_tags(
    props: Mapping[str, Any], default_tags: Any = None
) -> Mapping[str, Any] | Unknown:
    """The tags AWS will put on the resource: the provider's default tags overlaid by its own."""
    own = _tag_map(props.get("tags"))
    defaults = _tag_map(default_tags)
    if isinstance(own, Unknown) or isinstance(defaults, Unknown):
        return UNKNOWN
    return {**defaults, **own}


def violations(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    *,
    default_tags: Any = None,
    required: Sequence[str] = REQUIRED_TAGS,
) -> list[str]:
    """Violations for a taggable AWS resource; `default_tags` is the provider's default tags."""
    if not is_taggable(resource_type, props):
        return []
    own = _tag_map(props.get("tags"))
    if isinstance(own, Unknown):
        return []
    defaults = _tag_map(default_tags)
    tags = own if isinstance(defaults, Unknown) else {**defaults, **own}
    where = label(resource_type, name)
    # With unknown provider defaults, a tag absent here may still arrive from the provider.
    missing = [] if isinstance(defaults, Unknown) else [k for k in required if k not in tags]
    empty = [
        key
        for key in required
        if key in tags
        and tags[key] is not UNKNOWN
        and not (isinstance(tags[key], str) and tags[key].strip())
    ]
    found: list[str] = []
    if missing:
        found.append(
            f"{where} is missing required tags {', '.join(missing)} "
            f"(tags are {show(_known(tags))}); tag every AWS resource with {', '.join(required)}"
        )
    for key in empty:
        found.append(f'{where}: tag "{key}" is {show(tags[key])}; it must be a non-empty string')
    return found


def policy() -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=NAME,
        description=(
            "Every taggable AWS resource carries non-empty `environment`, `path` and `owner` "
            "tags (its own or its provider's default tags)."
        ),
        validate=resource_validate(_check),
        severity=Severity.MEDIUM,
    )


def _check(args: ResourceValidationArgs) -> list[str]:
    if not args.resource_type.startswith("aws:"):
        return []
    return violations(
        args.resource_type,
        args.name,
        plain(args.props),
        default_tags=provider_default_tags(args),
    )


def _tag_map(tags: Any) -> dict[str, Any] | Unknown:
    if isinstance(tags, Unknown):
        return tags
    if isinstance(tags, Mapping):
        return dict(tags)
    # Some older types (autoscaling groups) take a list of {key, value} blocks.
    if is_list(tags):
        pairs = (t for t in tags if isinstance(t, Mapping) and isinstance(t.get("key"), str))
        return {t["key"]: t.get("value") for t in pairs}
    return {}


def _known(tags: Mapping[str, Any]) -> dict[str, Any]:
    return {key: ("<unknown>" if value is UNKNOWN else value) for key, value in tags.items()}
