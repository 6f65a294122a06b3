"""The values config fields hold: each type with its constraints and, as its description, what
a message says is allowed. The models in `config.settings` are built from these."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator
from pydantic_core import PydanticCustomError, PydanticKnownError

from deploypaths.image_pinning import unpinned_reason
from deploypaths.regions import KNOWN_REGIONS

# The error type of a value refused with its own explanation (not the field's description).
NOT_ALLOWED = "not_allowed"


def not_allowed(allowed: str) -> PydanticCustomError:
    return PydanticCustomError(NOT_ALLOWED, "allowed: {allowed}", {"allowed": allowed})


def _listed(value: Any) -> Any:
    """Lists as YAML and JSON write them; sets, strings and generators are not lists."""
    if isinstance(value, list | tuple):
        return tuple(value)
    raise PydanticKnownError("tuple_type")


AsTuple = BeforeValidator(_listed)


# Patterns run on pydantic's regex engine, which is linear-time and matches ASCII classes only
# as written: `[0-9]`, never Arabic-Indic digits, which Kubernetes and AWS would reject at
# deploy time, half-way through a rollout.
# Kubernetes object names: RFC 1123 labels. Names become `{region}-{name}` component names and
# `{migration}-{hash}` Job names, so they stay well under the 63-character limit.
MAX_NAME_LENGTH = 40
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_NAME_ALLOWED = f"a DNS-1123 label (lowercase letters, digits, '-', at most {MAX_NAME_LENGTH})"
DnsName = Annotated[
    str, Field(pattern=DNS_LABEL, max_length=MAX_NAME_LENGTH, description=DNS_NAME_ALLOWED)
]
Name = Annotated[str, Field(description="a name (string)")]
Names = Annotated[tuple[Name, ...], AsTuple, Field(description="a list of names")]

REGION_ALLOWED = "a known AWS region code such as us-east-1"


def _known_region(region: str) -> str:
    if region not in KNOWN_REGIONS:
        raise not_allowed(REGION_ALLOWED)
    return region


RegionCode = Annotated[str, AfterValidator(_known_region), Field(description="an AWS region code")]

# Registries cap a repository at 255 characters; with a tag and a digest no reference is longer.
# Checked before the regex, whose backtracking over `:` would otherwise grow with the length.
MAX_IMAGE_LENGTH = 512
IMAGE_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9]+(?:[._/:-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _pinned_image(image: str) -> str:
    """A well-formed reference, pinned by the rule the policy pack enforces (`image_pinning`)."""
    if len(image) > MAX_IMAGE_LENGTH or not IMAGE_REFERENCE.fullmatch(image):
        raise not_allowed(
            "an image reference like registry.example.com/team/app:1.2.3 or @sha256:..."
        )
    reason = unpinned_reason(image)
    if reason:
        raise not_allowed(f"an image pinned by tag or digest (this one {reason})")
    return image


Image = Annotated[str, AfterValidator(_pinned_image), Field(description="an image reference")]

FLAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def _flag_name(name: Any) -> str:
    if not isinstance(name, str) or not FLAG_NAME.fullmatch(name):
        raise not_allowed("a flag name (a letter, then letters, digits, '_' or '-'; at most 64)")
    return name


FlagName = Annotated[str, PlainValidator(_flag_name)]


def _minutes(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 240:
        return value
    raise not_allowed("a number of minutes from 0 to 240 (fractions allowed)")


# An integer stays an integer: the plan prints the value as it was written.
BakeMinutes = Annotated[int | float, PlainValidator(_minutes)]


def integer(low: int, high: int) -> Any:
    return Field(ge=low, le=high, description=f"an integer from {low} to {high}")


def text(pattern: str, allowed: str, max_length: int | None = None) -> Any:
    return Field(pattern=pattern, max_length=max_length, description=allowed)


Replicas = Annotated[int, integer(1, 1000)]
Percent = Annotated[int, integer(0, 100)]
Environment = Annotated[
    str,
    # "" is Pulumi.yaml's default: the stack name.
    text(r"^$|" + DNS_LABEL, "a DNS-1123 label like dev or prod"),
]
# The owner becomes an AWS tag value: letters, digits, spaces and `_ . : / = + - @`, <= 256.
TagValue = Annotated[
    str,
    text(
        r"^[A-Za-z0-9 _.:/=+@-]{1,256}$", "an AWS tag value (letters, digits, ' _.:/=+-@', <= 256)"
    ),
]
KubernetesVersion = Annotated[str, text(r"^1\.[0-9]{1,2}$", "a string like '1.31'")]
InstanceType = Annotated[
    str, text(r"^[a-z0-9-]{1,24}\.[a-z0-9]{1,24}$", "an EC2 instance type like t3.large")
]
DbInstanceClass = Annotated[
    str,
    text(r"^db\.[a-z0-9-]{1,24}\.[a-z0-9]{1,24}$", "an RDS instance class like db.r6g.large"),
]
DbVersion = Annotated[str, text(r"^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$", "a string like '16.4'")]
Identifier = Annotated[
    str, text(r"^[a-z][a-z0-9_]{0,62}$", "a lowercase identifier (a-z, 0-9, _), <= 63")
]
QUANTITY = r"^[0-9]{1,9}(\.[0-9]{1,6})?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
Cpu = Annotated[str, text(QUANTITY, "a Kubernetes CPU quantity like 250m or 1")]
Memory = Annotated[str, text(QUANTITY, "a Kubernetes quantity like 256Mi")]
HealthPath = Annotated[str, text(r"^/[-A-Za-z0-9_./]{0,200}$", "an HTTP path like /healthz")]
Label = Annotated[str, text(DNS_LABEL, "a DNS-1123 label")]


def _inside_project(folder: str) -> str:
    """Relative, without `..` steps: the folder stays inside the project."""
    if folder and (folder.startswith("/") or ".." in folder.split("/")):
        raise not_allowed("a folder inside the project")
    return folder


ProjectFolder = Annotated[
    str,
    text(r"^[-A-Za-z0-9_./]{1,200}$", "a folder inside the project"),
    AfterValidator(_inside_project),
]
Secret = Annotated[str, Field(min_length=1, description="a non-empty string (the secret)")]
# One secret per region; never shown in a message, a repr or a dump.
SecretMap = Annotated[
    dict[str, Secret | None],
    Field(
        repr=False,
        exclude=True,
        json_schema_extra={"secret": True},
        description="a mapping of region to a secret value (set with --secret --path)",
    ),
]
