"""stateful-resources-protected: in protected environments, databases and clusters have protect."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from pulumi_policy import (
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from .crossguard import plain, provider_default_tags, resource_validate
from .props import (
    EKS_CLUSTER,
    RDS_CLUSTER,
    RDS_CLUSTER_INSTANCE,
    RDS_CLUSTER_PARAMETER_GROUP,
    RDS_INSTANCE,
    RDS_SUBNET_GROUP,
    Unknown,
    label,
    show,
)
from .required_tags import effective_tags

NAME = "stateful-resources-protected"
PROTECTED_ENVIRONMENTS_KEY = "protectedEnvironments"

# Resources whose loss or replacement loses data or a whole region's cluster.
PROTECTED_TYPES: Final = frozenset(
    {
        RDS_CLUSTER,
        RDS_CLUSTER_INSTANCE,
        RDS_INSTANCE,
        RDS_SUBNET_GROUP,
        RDS_CLUSTER_PARAMETER_GROUP,
        EKS_CLUSTER,
    }
)
DEFAULT_PROTECTED_ENVIRONMENTS: Final = ("prod",)


def violations(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    *,
    protect: bool,
    protected_environments: Collection[str] = DEFAULT_PROTECTED_ENVIRONMENTS,
    default_tags: Any = None,
) -> list[str]:
    """Violations for a stateful resource; `protect` is the resource's option."""
    if resource_type not in PROTECTED_TYPES or protect:
        return []
    tags = effective_tags(props, default_tags)
    if isinstance(tags, Unknown):
        return []
    environment = tags.get("environment")
    # A missing environment tag is `required-tags`' finding; here it only decides applicability.
    if not isinstance(environment, str) or environment not in protected_environments:
        return []
    return [
        f'{label(resource_type, name)} in environment "{environment}" has protect={show(protect)}; '
        "set ResourceOptions(protect=True) so the engine refuses to delete or replace it"
    ]


def protected_environments(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The policy's `protectedEnvironments`; the engine fills in the schema default normally."""
    configured = config.get(PROTECTED_ENVIRONMENTS_KEY)
    if configured is None:
        return DEFAULT_PROTECTED_ENVIRONMENTS
    return tuple(str(environment) for environment in configured)


def policy() -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=NAME,
        description=(
            "In protected environments, RDS clusters, instances, subnet and parameter groups "
            "and EKS clusters have protect=True, so the engine refuses to delete or replace "
            "them."
        ),
        validate=resource_validate(_check),
        config_schema=PolicyConfigSchema(
            properties={
                PROTECTED_ENVIRONMENTS_KEY: {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "default": list(DEFAULT_PROTECTED_ENVIRONMENTS),
                    "description": "Values of the `environment` tag that are protected.",
                }
            }
        ),
        severity=Severity.CRITICAL,
    )


def _check(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type not in PROTECTED_TYPES:
        return []
    return violations(
        args.resource_type,
        args.name,
        plain(args.props),
        # PolicyResourceOptions carries `protect` but not `retain_on_delete`: the engine's
        # analyzer protocol does not send it, so protect is the one option a policy can require.
        protect=bool(args.opts.protect),
        protected_environments=protected_environments(args.get_config()),
        default_tags=provider_default_tags(args),
    )
