"""What every policy needs from CrossGuard: the engine's props as plain values, and a check
served as a resource policy's `validate` callback."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .props import UNKNOWN

ResourceCheck = Callable[[ResourceValidationArgs], list[str]]
ResourceValidate = Callable[[ResourceValidationArgs, ReportViolation], None]


def plain(value: Any) -> Any:
    """Copy engine props into plain dicts and lists, with `UNKNOWN` for unknown values.

    The engine hands a policy proxies that raise `UnknownValueError` when an unknown value is
    read; the policies would rather see the marker and skip just that value.
    """
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        # Index rather than iterate: iterating a proxy raises at the first unknown element.
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def provider_default_tags(args: ResourceValidationArgs) -> Any:
    """The `defaultTags.tags` of the resource's provider, which AWS adds to the resource."""
    if args.provider is None:
        return None
    default_tags = plain(args.provider.props).get("defaultTags")
    if default_tags is UNKNOWN:
        return UNKNOWN
    return default_tags.get("tags") if isinstance(default_tags, Mapping) else None


def resource_validate(check: ResourceCheck) -> ResourceValidate:
    """A `validate` callback that reports each message `check` returns for the resource."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args):
            # The engine attaches the validated resource's URN to resource-policy violations.
            report_violation(message, None)

    return validate
