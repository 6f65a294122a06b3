"""The guardrail rules as pure functions over engine-shaped props, testable without the engine.

Props arrive as the engine passes them to a policy: camelCase keys, plain dicts and lists, and
`UNKNOWN` wherever the engine cannot know a value yet (during preview, a value computed from
another resource's output). A rule never flags what it cannot see: the same rules run again
during `pulumi up`, when the engine has resolved those values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final


class Unknown:
    """A value the engine does not know yet; the only instance is `UNKNOWN`."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()

# Stands in for a key that is absent from the props, so "not set" and null stay distinguishable.
_MISSING: Final = object()

RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS_CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SNS_TOPIC = "aws:sns/topic:Topic"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"

K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    K8S_DEPLOYMENT: ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    K8S_JOB: ("spec", "template", "spec"),
    K8S_CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}

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

ALARM_ACTION_KEYS: Final = ("alarmActions", "okActions", "insufficientDataActions")


@dataclass(frozen=True, kw_only=True)
class StackResource:
    """One resource of the stack as a stack policy sees it (outputs, and its provider's inputs)."""

    resource_type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider_props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StackViolation:
    urn: str
    message: str


def label(resource_type: str, name: str) -> str:
    return f'{resource_type} "{name}"'


def show(value: Any) -> str:
    """A prop value as the user wrote it in the program's terms: JSON, or "not set"."""
    if value is _MISSING:
        return "not set"
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, float) and value.is_integer():
        # protobuf carries every number as a double; a retention of 7 arrives as 7.0.
        value = int(value)
    try:
        return json.dumps(value, sort_keys=True)
    except TypeError:
        return repr(value)


# --- 1. databases: encrypted, private, deletion-protected, backed up -------------------------


def database_violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of `database-hardening` for an RDS cluster, cluster instance or instance."""
    where = label(resource_type, name)
    violations: list[str] = []
    if resource_type in (RDS_CLUSTER, RDS_INSTANCE):
        encrypted = props.get("storageEncrypted", _MISSING)
        if encrypted is not UNKNOWN and encrypted is not True:
            violations.append(
                f"{where}: storageEncrypted is {show(encrypted)}; set storageEncrypted=true "
                "so data and snapshots are encrypted at rest"
            )
        protected = props.get("deletionProtection", _MISSING)
        if protected is not UNKNOWN and protected is not True:
            violations.append(
                f"{where}: deletionProtection is {show(protected)}; set deletionProtection=true "
                "so AWS refuses to delete the database"
            )
        retention = props.get("backupRetentionPeriod", _MISSING)
        if retention is not UNKNOWN and not (_is_number(retention) and retention >= 1):
            # Required explicitly although AWS defaults to 1 day: retention is a decision.
            violations.append(
                f"{where}: backupRetentionPeriod is {show(retention)}; "
                "set it to at least 1 (days) so automated backups are kept"
            )
        if props.get("skipFinalSnapshot", _MISSING) is True:
            violations.append(
                f"{where}: skipFinalSnapshot is true; set skipFinalSnapshot=false "
                "so deleting the database leaves a final snapshot"
            )
    public = props.get("publiclyAccessible", _MISSING)
    if resource_type in (RDS_CLUSTER_INSTANCE, RDS_INSTANCE) and public is True:
        violations.append(
            f"{where}: publiclyAccessible is true; set publiclyAccessible=false "
            "so the database is reachable only from inside its VPC"
        )
    return violations


# --- 2 and 3. containers: pinned images, resources and probes --------------------------------


@dataclass(frozen=True, kw_only=True)
class Container:
    """A container of a workload's pod spec, with how a message should name it."""

    title: str
    spec: Mapping[str, Any]


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The workload's pod spec, or None if the type has none or the spec is not known."""
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    node: Any = props
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, Mapping) else None


def containers(spec: Mapping[str, Any], *, include_init: bool) -> Iterator[Container]:
    keys = ("initContainers", "containers") if include_init else ("containers",)
    for key in keys:
        listed = spec.get(key)
        if not _is_list(listed):
            continue
        for index, container in enumerate(listed):
            if not isinstance(container, Mapping):
                continue
            name = container.get("name")
            kind = "init container" if key == "initContainers" else "container"
            title = f'{kind} "{name}"' if isinstance(name, str) else f"{key}[{index}]"
            yield Container(title=title, spec=container)


# The OCI distribution spec's digest grammar: algorithm ":" encoded.
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
_TAG = re.compile(r"[\w][\w.-]{0,127}")


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None when a tag or digest pins it."""
    if not image.strip():
        return "is empty"
    if "@" in image:
        # The digest decides what is pulled, whatever tag precedes it.
        digest = image.rsplit("@", 1)[1]
        return None if _DIGEST.fullmatch(digest) else f'has a malformed digest "{digest}"'
    # A colon before the last slash belongs to the registry's port (`registry:5000/app`).
    last_segment = image.rsplit("/", 1)[-1]
    if ":" not in last_segment:
        return "has no tag or digest"
    tag = last_segment.rsplit(":", 1)[1]
    if not _TAG.fullmatch(tag):
        return f'has an invalid tag "{tag}"'
    if tag.lower() == "latest":
        return 'uses the mutable tag "latest"'
    return None


def image_violations(resource_type: str, name: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of `container-images-pinned` for any workload that has a pod spec."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    where = label(resource_type, name)
    violations: list[str] = []
    for container in containers(spec, include_init=True):
        image = container.spec.get("image", _MISSING)
        if image is UNKNOWN:
            continue
        if not isinstance(image, str):
            violations.append(f"{where}: {container.title} has no image ({show(image)})")
            continue
        problem = image_problem(image)
        if problem is not None:
            violations.append(
                f'{where}: {container.title} image "{image}" {problem}; '
                "pin a version tag (app:1.4.2) or a digest (app@sha256:...)"
            )
    return violations


def workload_resource_violations(
    resource_type: str, name: str, props: Mapping[str, Any]
) -> list[str]:
    """Violations of `container-resources-and-probes` for Deployments, Jobs and CronJobs."""
    if resource_type not in (K8S_DEPLOYMENT, K8S_JOB, K8S_CRON_JOB):
        return []
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    where = label(resource_type, name)
    violations: list[str] = []
    # Init containers are left out: they run before the pod is ready and cannot have probes.
    for container in containers(spec, include_init=False):
        missing = _missing_resources(container.spec.get("resources", _MISSING))
        if missing:
            violations.append(
                f"{where}: {container.title} has no resources {', '.join(missing)}; "
                "set requests and limits for cpu and memory"
            )
        if resource_type == K8S_DEPLOYMENT:
            probe = container.spec.get("readinessProbe", _MISSING)
            if probe is not UNKNOWN and not (isinstance(probe, Mapping) and probe):
                violations.append(
                    f"{where}: {container.title} has no readinessProbe ({show(probe)}); "
                    "add one so traffic and rollouts wait until the container is ready"
                )
    return violations


def _missing_resources(resources: Any) -> list[str]:
    if resources is UNKNOWN:
        return []
    wanted = [(group, kind) for group in ("requests", "limits") for kind in ("cpu", "memory")]
    if not isinstance(resources, Mapping):
        return [f"{group}.{kind}" for group, kind in wanted]
    missing: list[str] = []
    for group, kind in wanted:
        section = resources.get(group)
        if section is UNKNOWN:
            continue
        value = section.get(kind) if isinstance(section, Mapping) else None
        if value is UNKNOWN:
            continue
        if value is None or value == "":
            missing.append(f"{group}.{kind}")
    return missing


# --- 4. tags --------------------------------------------------------------------------------


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


def _tag_map(tags: Any) -> dict[str, Any] | Unknown:
    if tags is UNKNOWN:
        return UNKNOWN
    if isinstance(tags, Mapping):
        return dict(tags)
    # Some older types (autoscaling groups) take a list of {key, value} blocks.
    if _is_list(tags):
        pairs = (t for t in tags if isinstance(t, Mapping) and isinstance(t.get("key"), str))
        return {t["key"]: t.get("value") for t in pairs}
    return {}


def tag_violations(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    *,
    default_tags: Any = None,
    required: Sequence[str] = REQUIRED_TAGS,
) -> list[str]:
    """Violations of `required-tags`; `default_tags` is the provider's `defaultTags.tags`."""
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
    violations: list[str] = []
    if missing:
        violations.append(
            f"{where} is missing required tags {', '.join(missing)} "
            f"(tags are {show(_known(tags))}); tag every AWS resource with {', '.join(required)}"
        )
    for key in empty:
        violations.append(
            f'{where}: tag "{key}" is {show(tags[key])}; it must be a non-empty string'
        )
    return violations


def _known(tags: Mapping[str, Any]) -> dict[str, Any]:
    return {key: ("<unknown>" if value is UNKNOWN else value) for key, value in tags.items()}


# --- 5. protection of stateful resources in protected environments --------------------------


def protection_violations(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    *,
    protect: bool,
    protected_environments: Collection[str] = DEFAULT_PROTECTED_ENVIRONMENTS,
    default_tags: Any = None,
) -> list[str]:
    """Violations of `stateful-resources-protected`; `protect` is the resource's option."""
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


# --- 6. composite alarms wired to their region's topic ---------------------------------------


def arn_region(arn: Any) -> str | None:
    """The region field of an ARN (`arn:aws:sns:<region>:<account>:<name>`), if it has one."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[3]:
        return None
    return parts[3]


def resource_region(resource: StackResource) -> str | None:
    """Where the resource lives: its own `region`, else its ARN, else its provider's region."""
    for candidate in (
        resource.props.get("region"),
        arn_region(resource.props.get("arn")),
        resource.provider_props.get("region"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def alarm_wiring_violations(resources: Sequence[StackResource]) -> list[StackViolation]:
    """Violations of `alarms-notify-regional-topic` across the whole stack."""
    topic_arns = [r.props.get("arn") for r in resources if r.resource_type == SNS_TOPIC]
    known_topic_arns = {arn for arn in topic_arns if isinstance(arn, str) and arn}
    # During preview a new topic's ARN is not known yet, and an action may name that very topic.
    some_topic_unknown = any(not (isinstance(arn, str) and arn) for arn in topic_arns)
    violations: list[StackViolation] = []
    for alarm in resources:
        if alarm.resource_type != COMPOSITE_ALARM:
            continue
        where = label(alarm.resource_type, alarm.name)
        actions = alarm.props.get("alarmActions", _MISSING)
        if actions is UNKNOWN:
            continue
        if not _is_list(actions) or not actions:
            violations.append(
                StackViolation(
                    urn=alarm.urn,
                    message=f"{where}: alarmActions is {show(actions)}; "
                    "wire the alarm to its region's SNS topic",
                )
            )
        region = resource_region(alarm)
        for key in ALARM_ACTION_KEYS:
            listed = alarm.props.get(key)
            if not _is_list(listed):
                continue
            for action in listed:
                if action is UNKNOWN or not isinstance(action, str):
                    continue
                message = _action_problem(
                    action, region, known_topic_arns, unknown_topics=some_topic_unknown
                )
                if message is not None:
                    violations.append(
                        StackViolation(
                            urn=alarm.urn, message=f'{where}: {key} "{action}" {message}'
                        )
                    )
    return violations


def _action_problem(
    action: str, alarm_region: str | None, topic_arns: Collection[str], *, unknown_topics: bool
) -> str | None:
    if action not in topic_arns and not unknown_topics:
        return (
            f"is not the ARN of an {SNS_TOPIC} in this stack; "
            "notify the topic the stack creates for the alarm's region"
        )
    action_region = arn_region(action)
    if alarm_region and action_region and action_region != alarm_region:
        return (
            f"is in region {action_region} but the alarm is in {alarm_region}; "
            f"use the {alarm_region} topic"
        )
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)
