"""What the policies take from CrossGuard: the engine's proxies read into plain values."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyProviderResource, ResourceValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.guardrails.crossguard import plain, provider_default_tags, resource_validate
from policy.guardrails.props import UNKNOWN
from tests.support.policy_args import options, provider


def args_for(props: dict[str, Any], **extra: Any) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        "aws:ec2/vpc:Vpc",
        unknown_checking_proxy(props),
        "urn:pulumi:prod::deploypaths::aws:ec2/vpc:Vpc::eu-vpc",
        "eu-vpc",
        options(),
        extra.get("provider", provider("eu-central-1")),
        None,
    )


def test_plain_marks_each_unknown_value_and_keeps_the_rest() -> None:
    props = {
        "name": "eu-vpc",
        "arn": UNKNOWN_STRING_VALUE,
        "subnets": ["a", UNKNOWN_STRING_VALUE, "c"],
        "tags": {"owner": UNKNOWN_STRING_VALUE, "path": "eu"},
        "count": 3.0,
    }
    assert plain(unknown_checking_proxy(props)) == {
        "name": "eu-vpc",
        "arn": UNKNOWN,
        "subnets": ["a", UNKNOWN, "c"],
        "tags": {"owner": UNKNOWN, "path": "eu"},
        "count": 3.0,
    }


def test_provider_default_tags_are_read_from_the_provider() -> None:
    tagged = provider("eu-central-1", {"environment": "prod"})
    assert provider_default_tags(args_for({}, provider=tagged)) == {"environment": "prod"}
    assert provider_default_tags(args_for({})) is None
    assert provider_default_tags(args_for({}, provider=None)) is None


def test_provider_default_tags_unknown_at_preview_stay_unknown() -> None:
    pending = PolicyProviderResource(
        "pulumi:providers:aws",
        unknown_checking_proxy({"region": "eu-central-1", "defaultTags": UNKNOWN_STRING_VALUE}),
        "urn:pulumi:prod::deploypaths::pulumi:providers:aws::eu-central-1",
        "eu-central-1",
    )
    assert provider_default_tags(args_for({}, provider=pending)) is UNKNOWN


def test_resource_validate_reports_each_message_on_the_resource() -> None:
    validate = resource_validate(lambda args: [f"{args.name}: one", f"{args.name}: two"])
    reported: list[tuple[str, str | None]] = []
    validate(args_for({}), lambda message, urn=None: reported.append((message, urn)))
    assert reported == [("eu-vpc: one", None), ("eu-vpc: two", None)]
