"""The pack's policies run as the engine's servicer runs them: proxied props, options, config."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policy.guardrails.pack import build_policies


def policy_named(name: str) -> Policy:
    return next(p for p in build_policies() if p.name == name)


def options(*, protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent=None
    )


def provider(region: str, default_tags: dict[str, str] | None = None) -> PolicyProviderResource:
    props: dict[str, Any] = {"region": region}
    if default_tags is not None:
        props["defaultTags"] = {"tags": default_tags}
    return PolicyProviderResource(
        "pulumi:providers:aws",
        unknown_checking_proxy(props),
        f"urn:pulumi:prod::deploypaths::pulumi:providers:aws::{region}",
        region,
    )


def validate_resource(
    policy_name: str,
    resource_type: str,
    name: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
    config: dict[str, Any] | None = None,
    default_tags: dict[str, str] | None = None,
) -> list[tuple[str, str | None]]:
    """Runs one resource policy of the pack; returns what it reported as (message, urn)."""
    policy = policy_named(policy_name)
    assert isinstance(policy, ResourceValidationPolicy)
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(props),
        f"urn:pulumi:prod::deploypaths::{resource_type}::{name}",
        name,
        options(protect=protect),
        provider("eu-central-1", default_tags),
        config,
    )
    reported: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    return reported
