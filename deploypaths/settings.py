"""The validated stack configuration: frozen pydantic models, read once and handed down.

Each field's type says what it allows (`deploypaths.config.fields`) and its default is written
here (Pulumi.yaml's `config:` block is tested against them); the checks that need the whole config
run as the model validator of `Settings` (`deploypaths.config.references`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticKnownError

from deploypaths.config import references
from deploypaths.config.fields import (
    AsTuple,
    BakeMinutes,
    Cpu,
    DbInstanceClass,
    DbVersion,
    DnsName,
    Environment,
    FlagName,
    HealthPath,
    Identifier,
    Image,
    InstanceType,
    KubernetesVersion,
    Label,
    Memory,
    Names,
    Percent,
    ProjectFolder,
    RegionCode,
    Replicas,
    Secret,
    SecretMap,
    TagValue,
    integer,
    not_allowed,
    text,
)
from deploypaths.config.problems import (
    NAMESPACE,
    Problem,
    explained,
    listing,
    problem_error,
    unknown_key,
)
from deploypaths.stack_config import SECRET_PLACEHOLDER

Phase = Literal["expand", "contract"]
# The phases whose change has an inverse a migration may declare as `down`. Written out rather
# than taken from Phase: a phase added later is refused a `down` until someone decides it has one.
DOWN_PHASES: tuple[str, ...] = ("expand", "contract")
Strategy = Literal["rolling", "canary", "blue-green"]
Colour = Literal["blue", "green"]


class ConfigModel(BaseModel):
    """A mapping of the config: frozen, strict, unknown keys refused, and every validation error
    put in words (`config.problems`). A null value (YAML's `key:`) counts as not set."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, validate_by_name=True, validate_by_alias=True
    )

    @model_validator(mode="wrap")
    @classmethod
    def _explained(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        unreadable: list[Any] = []
        if isinstance(data, Mapping):
            # A key that is no text (a lone surrogate) would make pydantic refuse the mapping.
            unreadable = [key for key in data if isinstance(key, str) and not _is_text(key)]
            data = {
                key: value
                for key, value in data.items()
                if value is not None and key not in unreadable
            }
        problems = [unknown_key(cls, key) for key in unreadable]
        try:
            model = handler(data)
        except ValidationError as error:
            problems += explained(cls, error)
        if problems:
            raise problem_error(problems, cls.__name__)
        return model


def _is_text(key: str) -> bool:
    try:
        key.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unset(value: Any) -> bool:
    return value is None


def _empty(value: Any) -> bool:
    return not value


def _entry_problem(loc: tuple[int | str, ...], message: str) -> ValidationError:
    return problem_error([Problem(loc, message)], "entry")


class KubernetesSettings(ConfigModel):
    mode: Literal["eks", "kubeconfig", "render"] = "eks"
    version: KubernetesVersion = "1.31"
    node_instance_type: InstanceType = "t3.large"
    node_count: Annotated[int, integer(1, 100)] = 3
    namespace: Label = "app"
    # kubeconfig mode: a folder holding `<region>.yaml` for regions without a secret entry in
    # `kubeconfigs` (the local clusters of `python -m ops local up` write theirs there).
    kubeconfig_dir: ProjectFolder = ""
    # How long a path waits for its Deployments to roll out before it fails.
    rollout_timeout_seconds: Annotated[int, integer(10, 3600)] = 600


class DatabaseSettings(ConfigModel):
    mode: Literal["aurora", "external", "none"] = "aurora"
    engine_version: DbVersion = "16.4"
    instance_class: DbInstanceClass = "db.r6g.large"
    instances: Annotated[int, integer(1, 15)] = 2
    name: Identifier = "app"
    username: Identifier = "app_admin"
    backup_retention_days: Annotated[int, integer(1, 35)] = 7


class MonitoringSettings(ConfigModel):
    # kubernetes: the gate watches the previous wave's Deployments through the API server.
    mode: Literal["cloudwatch", "kubernetes", "none"] = "cloudwatch"
    # Container restarts (per 5 minutes with CloudWatch; with kubernetes, of any current pod) at
    # which a path counts as unhealthy.
    restart_threshold: Annotated[int, integer(1, 1000)] = 3


class FlagDeliverySettings(ConfigModel):
    """How AppConfig rolls a flag change out: linear growth, then a final bake under the alarms."""

    duration_minutes: Annotated[int, integer(0, 1440)] = 10
    growth_factor: Annotated[int, integer(1, 100)] = 20
    final_bake_minutes: Annotated[int, integer(0, 1440)] = 10


Args = Annotated[
    tuple[Annotated[str, Field(description="a string")], ...],
    AsTuple,
    Field(description="a list of strings"),
]


class MigrationDown(ConfigModel):
    """The inverse of a migration's change, written to be safe on a half-applied schema."""

    image: Image
    args: Args = ()


class Migration(ConfigModel):
    name: DnsName
    image: Image
    phase: Phase
    # Left out of dumps when unset, so what was fingerprinted before stays the same.
    down: Annotated[
        MigrationDown | None,
        Field(description="a mapping with an image (and args)", exclude_if=_unset),
    ] = None

    @model_validator(mode="after")
    def _down_has_an_inverse(self) -> Migration:
        problem = references.down_problem(self.phase, self.down, DOWN_PHASES)
        if problem:
            raise _entry_problem(*problem)
        return self


class Canary(ConfigModel):
    image: Image
    weight: Percent


class ColourRelease(ConfigModel):
    image: Image
    # The colour's own scale (default: the service's replicas). The idle colour stays warm at
    # it, so switching `active` back and forth needs no scale-up and touches only the Service.
    replicas: Annotated[int | None, integer(0, 1000)] = None


class BlueGreen(ConfigModel):
    active: Colour
    blue: Annotated[ColourRelease, Field(description="a mapping with an image")]
    green: Annotated[ColourRelease, Field(description="a mapping with an image")]

    @model_validator(mode="after")
    def _active_colour_runs(self) -> BlueGreen:
        if getattr(self, self.active).replicas == 0:
            raise _entry_problem(
                (self.active, "replicas"),
                "got 0; allowed: at least 1 for the active colour (the Service would select no "
                "pod)",
            )
        return self

    @property
    def blue_image(self) -> str:
        return self.blue.image

    @property
    def green_image(self) -> str:
        return self.green.image

    @property
    def blue_replicas(self) -> int | None:
        return self.blue.replicas

    @property
    def green_replicas(self) -> int | None:
        return self.green.replicas

    @model_serializer(mode="wrap")
    def _dumped(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """As the config writes it with `round_trip=True`; otherwise flat, the shape release
        fingerprints (`naming.service_release`) were first taken of, so they stay the same."""
        if info.round_trip:
            return handler(self)  # type: ignore[no-any-return]
        return {
            "active": self.active,
            "blue_image": self.blue_image,
            "green_image": self.green_image,
            "blue_replicas": self.blue_replicas,
            "green_replicas": self.green_replicas,
        }


class FlagState(ConfigModel):
    enabled: bool
    rollout_percent: Percent = 100


class Flag(ConfigModel):
    name: FlagName
    enabled: bool
    rollout_percent: Percent = 100


_FLAGS = TypeAdapter(dict[FlagName, FlagState])


def _flags(value: Any, info: ValidationInfo) -> tuple[Flag, ...]:
    """The config writes flags as a mapping of name to state; the services hold a tuple."""
    if isinstance(value, tuple) and all(isinstance(flag, Flag) for flag in value):
        return value  # built in code: Service(..., flags=(Flag(...),))
    states = _FLAGS.validate_python(value, context=info.context)
    return tuple(Flag(name=name, **state.model_dump()) for name, state in states.items())


class Verify(ConfigModel):
    """A service path's verification: a Job run once per release, after its rollout."""

    image: Image
    args: Args = ()


class Service(ConfigModel):
    name: DnsName
    image: Image
    replicas: Replicas = 2
    port: Annotated[int, integer(1, 65535)] = 8080
    # Empty: every region.
    regions: Names = ()
    requires: Names = ()
    after: Names = ()
    # The services whose pods call this one besides those that name it in `after`: its
    # NetworkPolicy admits them (`components.network_policy`). Left out of dumps when empty, so
    # release fingerprints taken before the key existed stay the same.
    callers: Annotated[Names, Field(exclude_if=_empty)] = ()
    strategy: Strategy = "rolling"
    canary: Canary | None = None
    blue_green: BlueGreen | None = None
    flags: Annotated[
        tuple[Flag, ...],
        BeforeValidator(_flags),
        Field(description="a mapping of flag name to {enabled, rollout_percent}"),
    ] = ()
    cpu: Cpu = "250m"
    memory: Memory = "256Mi"
    health_path: HealthPath = "/healthz"
    # Opt-outs from the hardening every pod gets (see README, "Pod security"): the two the
    # restricted Pod Security Standard leaves to the workload.
    read_only_root_filesystem: bool = True
    service_account_token: bool = False
    # Left out of dumps when unset: `naming.service_release` hashes the dump, and a path without
    # verification keeps the fingerprint it had before the key existed.
    verify: Annotated[
        Verify | None,
        Field(description="a mapping with an image (and args)", exclude_if=_unset),
    ] = None
    # The team whose `notifications` hear of this path's alarms (besides those for every path).
    # Never in dumps: who gets paged is not what ships, so a new owner is no new release.
    owner: Annotated[DnsName | None, Field(exclude=True)] = None

    @model_validator(mode="after")
    def _strategy_has_its_release(self) -> Service:
        problem = references.missing_release(self.strategy, self.canary, self.blue_green)
        if problem:
            raise _entry_problem(*problem)
        return self

    @property
    def flag_values(self) -> dict[str, dict[str, object]]:
        """What each flag is set to, as the pods read it (ConfigMap or AppConfig)."""
        return {
            f.name: {"enabled": f.enabled, "rollout_percent": f.rollout_percent} for f in self.flags
        }

    @property
    def images(self) -> tuple[str, ...]:
        """Every image this release runs, whatever the strategy."""
        if self.strategy == "canary" and self.canary:
            return (self.image, self.canary.image)
        if self.strategy == "blue-green" and self.blue_green:
            return (self.blue_green.blue_image, self.blue_green.green_image)
        return (self.image,)


class ServiceOverride(ConfigModel):
    """What a region pins of one service's release (how one path is rolled back alone); a field
    left unset keeps the service's."""

    image: Image | None = None
    replicas: Replicas | None = None
    strategy: Strategy | None = None
    canary: Canary | None = None
    blue_green: BlueGreen | None = None
    # A release's verification goes back with it; `false` pins a release that ran none.
    verify: Annotated[
        Verify | Literal[False] | None,
        Field(description="a mapping with an image (and args), or false for none"),
    ] = None

    def applied_to(self, service: Service) -> Service:
        pinned = {name: getattr(self, name) for name in OVERRIDABLE_SERVICE_FIELDS}
        update = {name: value for name, value in pinned.items() if value is not None}
        if self.verify is False:
            update["verify"] = None
        return service.model_copy(update=update)


# Service fields a region may pin to another value.
OVERRIDABLE_SERVICE_FIELDS = tuple(ServiceOverride.model_fields)


def _without_null_overrides(overrides: Any) -> Any:
    """A service whose override is null (YAML's `auth:`) has none, like any unset field."""
    if isinstance(overrides, Mapping):
        return {name: fields for name, fields in overrides.items() if fields is not None}
    return overrides


class Region(ConfigModel):
    name: RegionCode
    overrides: Annotated[
        dict[str, ServiceOverride],
        BeforeValidator(_without_null_overrides),
        Field(description="a mapping of service name to overridden fields"),
    ] = {}
    # Written by the rollback tooling: the migrations whose `down` this region runs instead of
    # their change (newest first).
    down_migrations: Names = ()


Wave = Annotated[
    tuple[Annotated[str, Field(description="a region code")], ...],
    AsTuple,
    Field(min_length=1, description="a non-empty list of regions"),
]


EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63}){1,8}")
# Never shown in a message: an `endpoint` may be an HTTPS URL with a token, written by mistake.
Endpoint = Annotated[
    str, Field(json_schema_extra={"secret": True}, description="an email address (a string)")
]
TOPIC_ARN = r"^arn:aws[a-z-]{0,20}:sns:[a-z0-9-]{1,30}:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
TopicArn = Annotated[
    str,
    text(TOPIC_ARN, "an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:oncall"),
]
# CloudWatch runs at most this many actions per alarm state (`alarm_actions`, `ok_actions`).
MAX_ALARM_ACTIONS = 5


class Notification(ConfigModel):
    """Who hears of alarms and failed gates: an email address, an HTTPS endpoint (its URL is
    secret config) or an existing SNS topic per region; for every path, or one owner's."""

    name: DnsName
    protocol: Literal["email", "https", "sns"]
    endpoint: Endpoint | None = None
    topic_arns: Annotated[
        dict[RegionCode, TopicArn],
        Field(description="a mapping of region to the SNS topic ARN alarms there notify"),
    ] = {}
    # Only the paths of services with this owner; unset: every path.
    owner: DnsName | None = None

    @model_validator(mode="after")
    def _has_its_endpoint(self) -> Notification:
        problems = []
        if self.protocol == "email" and self.endpoint is None:
            problems.append(
                Problem(("endpoint",), "is required when protocol is email (an email address)")
            )
        if (
            self.protocol == "email"
            and self.endpoint is not None
            and not (len(self.endpoint) <= 254 and EMAIL.fullmatch(self.endpoint))
        ):
            problems.append(
                Problem(
                    ("endpoint",),
                    "got a value that is no email address (not shown: it may be a secret); "
                    "allowed: an email address like oncall@example.com",
                )
            )
        if self.protocol == "https" and self.endpoint is not None:
            problems.append(
                Problem(
                    ("endpoint",),
                    "got a value (not shown: an HTTPS endpoint may carry a token); allowed: none "
                    "for https, whose URL is secret config: pulumi config set --secret --path "
                    f"'{NAMESPACE}:notification_endpoints.{self.name}' https://...",
                )
            )
        if self.protocol == "sns" and self.endpoint is not None:
            problems.append(
                Problem(("endpoint",), "got a value; allowed: none for sns (set topic_arns)")
            )
        if self.protocol == "sns" and not self.topic_arns:
            problems.append(
                Problem(("topic_arns",), "is required when protocol is sns (region: topic ARN)")
            )
        if self.protocol != "sns" and self.topic_arns:
            problems.append(
                Problem(("topic_arns",), f"got a mapping; allowed: none for {self.protocol}")
            )
        for region, arn in self.topic_arns.items():
            if arn.split(":")[3] != region:
                problems.append(
                    Problem(
                        ("topic_arns", region),
                        f"got {arn!r}; allowed: a topic in {region} (an alarm notifies topics "
                        "of its own region only)",
                    )
                )
        if problems:
            raise problem_error(problems, "entry")
        return self


def _some(entries: Any, info: ValidationInfo) -> Any:
    """A list that needs entries has some, unless a second look left out all it had."""
    left_out_all = references.Where.of(info.context).left_out_all(str(info.field_name))
    if isinstance(entries, list | tuple) and not entries and not left_out_all:
        raise PydanticKnownError(
            "too_short", {"field_type": "List", "min_length": 1, "actual_length": 0}
        )
    return entries


def _lists_of_lists(value: Any) -> Any:
    if isinstance(value, list | tuple) and all(isinstance(wave, list | tuple) for wave in value):
        return tuple(value)
    raise not_allowed("a list of lists of regions")


class Settings(ConfigModel):
    """The whole `deploypaths:` namespace of one stack."""

    # Pulumi.yaml's default "" means the stack name.
    environment: Environment = ""
    owner: TagValue = "platform"
    regions: Annotated[
        tuple[Region, ...], AsTuple, BeforeValidator(_some), Field(description="a non-empty list")
    ]
    # Pulumi.yaml's default [] means one wave of every region.
    waves: Annotated[tuple[Wave, ...], BeforeValidator(_lists_of_lists)] = ()
    bake_minutes: BakeMinutes = 10
    kubernetes: KubernetesSettings = KubernetesSettings()
    database: DatabaseSettings = DatabaseSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    flag_delivery: FlagDeliverySettings = Field(
        default=FlagDeliverySettings(), alias="feature_flags"
    )
    migrations: Annotated[
        tuple[Migration, ...],
        AsTuple,
        Field(description="a list"),
    ] = ()
    services: Annotated[
        tuple[Service, ...], AsTuple, BeforeValidator(_some), Field(description="a non-empty list")
    ]
    decommission: Annotated[
        tuple[RegionCode, ...],
        AsTuple,
        Field(description="a list of names"),
    ] = ()
    kubeconfigs: SecretMap = {}
    database_urls: SecretMap = {}
    notifications: Annotated[
        tuple[Notification, ...],
        AsTuple,
        Field(description="a list"),
    ] = ()
    # The URL of each https notification, by its name: it may carry a token.
    notification_endpoints: Annotated[
        dict[str, Secret | None],
        Field(
            repr=False,
            exclude=True,
            json_schema_extra={"secret": True},
            description="a mapping of notification name to its HTTPS URL (set with --secret "
            "--path)",
        ),
    ] = {}

    _stack: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _whole_config(self, info: ValidationInfo) -> Settings:
        """Defaults that depend on other fields, then the checks across the config."""
        where = references.Where.of(info.context)
        settings = references.resolved(self, where.stack)
        settings._stack = where.stack
        problems = references.problems(self, settings, where)
        problems += _notification_problems(settings, where)
        if problems:
            raise problem_error(problems, "Settings")
        return settings

    @property
    def stack(self) -> str:
        return self._stack

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(region.name for region in self.regions)

    @property
    def is_protected(self) -> bool:
        """Production keeps its stateful resources through any mistake."""
        return self.environment == "prod"

    def is_protected_region(self, region: str) -> bool:
        """A region being decommissioned on purpose gives up protection, so it can be removed."""
        return self.is_protected and region not in self.decommission

    @property
    def gate_bake_minutes(self) -> float:
        """How long a health gate watches: without monitoring there is nothing to watch, and
        baking would only wait."""
        return 0 if self.monitoring.mode == "none" else self.bake_minutes

    @property
    def gate_poll_seconds(self) -> float:
        """CloudWatch alarms change at most once a minute and cost per call; the API server is
        watched closely enough for a bake of a few seconds on the local clusters."""
        return 30.0 if self.monitoring.mode == "cloudwatch" else 2.0

    def region(self, name: str) -> Region:
        return next(region for region in self.regions if region.name == name)

    def services_in(self, region: str) -> tuple[Service, ...]:
        """The services deployed in a region, with that region's overrides applied."""
        overrides = self.region(region).overrides
        return tuple(
            overrides[service.name].applied_to(service) if service.name in overrides else service
            for service in self.services
            if region in service.regions
        )

    def wave_of(self, region: str) -> int:
        return next(index for index, wave in enumerate(self.waves) if region in wave)


def _notification_problems(settings: Settings, where: references.Where) -> list[Problem]:
    """`notifications` fit the rest of the config: unique names, owners some service has, a
    topic for every region, a secret https URL for each https entry, and no alarm that would
    have to notify more topics than CloudWatch allows."""
    entries = settings.notifications
    found: list[Problem] = []
    if entries and settings.monitoring.mode != "cloudwatch":
        found.append(
            Problem(
                ("notifications",),
                f"got {len(entries)} entries; allowed: notifications with monitoring.mode "
                f"cloudwatch only ({settings.monitoring.mode} creates no alarms or topics)",
                across=True,
            )
        )
    owners = sorted({s.owner for s in settings.services if s.owner})
    regions = references.unique(settings.region_names)
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        at = where.at("notifications", index)
        if entry.name in first:
            found.append(
                Problem(
                    ("notifications", at, "name"),
                    f"got {entry.name!r}; allowed: a unique name; notifications"
                    f"[{first[entry.name]}] already has it",
                    across=True,
                )
            )
        first.setdefault(entry.name, at)
        if entry.owner is not None and entry.owner not in owners:
            found.append(
                Problem(
                    ("notifications", at, "owner"),
                    f"got {entry.owner!r}; allowed: the owner of a service ({listing(owners)})",
                    across=True,
                )
            )
        for region in entry.topic_arns:
            if region not in regions:
                found.append(
                    Problem(
                        ("notifications", at, "topic_arns", region),
                        f"got {region!r}; allowed: one of the configured regions "
                        f"({listing(regions)})",
                        across=True,
                    )
                )
        missing = [r for r in regions if r not in entry.topic_arns]
        if entry.protocol == "sns" and entry.topic_arns and missing:
            found.append(
                Problem(
                    ("notifications", at, "topic_arns"),
                    f"has no topic for {listing(missing)}; allowed: a topic for every "
                    "configured region (an alarm notifies topics of its own region only)",
                    across=True,
                )
            )
    found += _endpoint_problems(settings, where)
    found += _action_problems(settings, owners)
    return found


def _endpoint_problems(settings: Settings, where: references.Where) -> list[Problem]:
    """Each https notification has its secret URL, an https:// one; the values are never shown."""
    if "notification_endpoints" in where.dropped_keys:
        return []
    https = [entry.name for entry in settings.notifications if entry.protocol == "https"]
    endpoints = settings.notification_endpoints
    found = []
    missing = [name for name in https if not endpoints.get(name)]
    if missing:
        found.append(
            Problem(
                ("notification_endpoints",),
                f"needs a secret entry for {listing(missing)} (pulumi config set "
                f"--secret --path '{NAMESPACE}:notification_endpoints.{missing[0]}' https://...)",
                across=True,
            )
        )
    for name, url in endpoints.items():
        if name not in https:
            if where.was_left_out("notifications", name):
                continue  # its entry is wrong, and said so
            found.append(
                Problem(
                    ("notification_endpoints", name),
                    f"got {name!r}; allowed: the name of an https notification ({listing(https)})",
                    across=True,
                )
            )
        elif url and url != SECRET_PLACEHOLDER and not _https_url(url):
            found.append(
                Problem(
                    ("notification_endpoints", name),
                    "got a value that is no https:// URL (not shown: it is secret); allowed: an "
                    "https:// URL with a host",
                    across=True,
                )
            )
    return found


def _https_url(url: str) -> bool:
    parts = urlsplit(url) if url.isprintable() and url.isascii() else None
    return parts is not None and parts.scheme == "https" and bool(parts.hostname)


def _action_problems(settings: Settings, owners: list[str]) -> list[Problem]:
    """What a path's composite alarm notifies must fit in CloudWatch's actions per state."""
    found = []
    for owner in [None, *owners]:
        topics = alarm_topics(settings.notifications, owner)
        if len(topics) > MAX_ALARM_ACTIONS:
            whose = f"owner {owner}'s paths" if owner else "paths without an owner"
            found.append(
                Problem(
                    ("notifications",),
                    f"{whose} would notify {len(topics)} topics per alarm (the region's, "
                    f"{', '.join(topics[1:])}); allowed: at most {MAX_ALARM_ACTIONS} (CloudWatch's "
                    "limit of actions per alarm)",
                    across=True,
                )
            )
    return found


def alarm_topics(entries: tuple[Notification, ...], owner: str | None) -> list[str]:
    """What a path of this owner notifies, by name: the region's topic (`region`), its owner's
    topic (`owner:<owner>`) if some email or https entry listens to that owner only, and the
    SNS topics of the entries for every path or for that owner (`sns:<entry>`)."""
    topics = ["region"]
    if owner is not None and any(e.owner == owner and e.protocol != "sns" for e in entries):
        topics.append(f"owner:{owner}")
    topics += [f"sns:{e.name}" for e in entries if e.protocol == "sns" and e.owner in (None, owner)]
    return topics
