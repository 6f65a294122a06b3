"""The validated stack configuration: frozen pydantic models, read once and handed down.

Each field's type says what it allows (`config.fields`) and its default is written here
(Pulumi.yaml's `config:` block is tested against them). A model checks only itself; the checks
that need the whole config are `config.references`, run by `config.parse` on the read entries."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

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
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from deploypaths.config.fields import (
    DNS_LABEL,
    DNS_NAME_ALLOWED,
    MAX_NAME_LENGTH,
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
    Location,
    Problem,
    explained,
    problem_error,
    unknown_key,
)

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


def _entry_problem(loc: Location, message: str) -> ValidationError:
    return problem_error([Problem(loc, message)], "entry")


def missing_release(
    strategy: str | None, canary: Canary | None, blue_green: BlueGreen | None
) -> tuple[Location, str] | None:
    """A strategy without the release it rolls out."""
    if strategy == "canary" and canary is None:
        return ("canary",), "is required when strategy is canary ({image, weight})"
    if strategy == "blue-green" and blue_green is None:
        return ("blue_green",), "is required when strategy is blue-green ({active, blue, green})"
    return None


def down_problem(
    phase: str, down: MigrationDown | None, down_phases: Iterable[str]
) -> tuple[Location, str] | None:
    """A `down` on a migration whose phase has no inverse to run."""
    allowed = tuple(down_phases)
    if down is None or phase in allowed:
        return None
    phases = " or ".join(allowed)
    return ("down",), f"is not allowed on a {phase} migration; allowed: on an {phases} migration"


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


# Who approves a path's release, as CODEOWNERS and the CI systems name them: a GitHub or GitLab
# user or group (`@alice`, `@acme/payments`), or an email address.
APPROVER = r"^(@[A-Za-z0-9][-A-Za-z0-9_.]*(/[-A-Za-z0-9_.]+)*|[^@\s]+@[^@\s]+\.[^@\s]+)$"
Approver = Annotated[
    str,
    Field(
        pattern=APPROVER,
        max_length=100,
        description="a user or group (@alice, @acme/payments) or an email address",
    ),
]


def _team_alone(value: Any) -> Any:
    """`owner: payments` is a team without approvers (refused as written, at `owner`)."""
    if not isinstance(value, str):
        return value
    if not re.fullmatch(DNS_LABEL, value) or len(value) > MAX_NAME_LENGTH:
        raise not_allowed(DNS_NAME_ALLOWED)
    return {"team": value}


class Owner(ConfigModel):
    """Who owns a path: a team (a tag and label value), and who approves its releases."""

    team: DnsName
    approvers: Annotated[
        tuple[Approver, ...], AsTuple, Field(description="a list of users, groups or emails")
    ] = ()


# Never in dumps: who owns a path is not what ships, so a new owner is no new release.
PathOwner = Annotated[
    Owner | None,
    BeforeValidator(_team_alone),
    Field(exclude=True, description="a team, or {team, approvers: [...]}"),
]


class MigrationDown(ConfigModel):
    """The inverse of a migration's change, written to be safe on a half-applied schema."""

    image: Image
    args: Args = ()


class Migration(ConfigModel):
    name: DnsName
    image: Image
    phase: Phase
    owner: PathOwner = None
    # Left out of dumps when unset, so what was fingerprinted before stays the same.
    down: Annotated[
        MigrationDown | None,
        Field(description="a mapping with an image (and args)", exclude_if=_unset),
    ] = None

    @model_validator(mode="after")
    def _down_has_an_inverse(self) -> Migration:
        problem = down_problem(self.phase, self.down, DOWN_PHASES)
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
            "blue_image": self.blue.image,
            "green_image": self.green.image,
            "blue_replicas": self.blue.replicas,
            "green_replicas": self.green.replicas,
        }


class FlagState(ConfigModel):
    enabled: bool
    rollout_percent: Percent = 100


class Flag(ConfigModel):
    name: FlagName
    enabled: bool
    rollout_percent: Percent = 100


_FLAGS = TypeAdapter(dict[FlagName, FlagState])


def _flags(value: Any) -> tuple[Flag, ...]:
    """The config writes flags as a mapping of name to state; the services hold a tuple."""
    if isinstance(value, tuple) and all(isinstance(flag, Flag) for flag in value):
        return value  # built in code: Service(..., flags=(Flag(...),))
    states = _FLAGS.validate_python(value)
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
    # Opt-outs from the hardening every pod gets (see docs/safety.md, "Pod security"): the two the
    # restricted Pod Security Standard leaves to the workload.
    read_only_root_filesystem: bool = True
    service_account_token: bool = False
    # Left out of dumps when unset: `naming.service_release` hashes the dump, and a path without
    # verification keeps the fingerprint it had before the key existed.
    verify: Annotated[
        Verify | None,
        Field(description="a mapping with an image (and args)", exclude_if=_unset),
    ] = None
    # Its team's `notifications` hear of this path's alarms (besides those for every path).
    owner: PathOwner = None

    @property
    def team(self) -> str | None:
        return self.owner.team if self.owner else None

    @model_validator(mode="after")
    def _strategy_has_its_release(self) -> Service:
        problem = missing_release(self.strategy, self.canary, self.blue_green)
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
            return (self.blue_green.blue.image, self.blue_green.green.image)
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


def _lists_of_lists(value: Any) -> Any:
    if isinstance(value, list | tuple) and all(isinstance(wave, list | tuple) for wave in value):
        return tuple(value)
    raise not_allowed("a list of lists of regions")


class Settings(ConfigModel):
    """The whole `deploypaths:` namespace of one stack, as `config.parse` builds it (which also
    refuses empty `regions` and `services`)."""

    # Pulumi.yaml's default "" means the stack name.
    environment: Environment = ""
    owner: TagValue = "platform"
    # How the environment is split into stacks (deploypaths/layout.py).
    layout: Literal["single", "per-region", "per-service"] = "single"
    regions: Annotated[tuple[Region, ...], AsTuple, Field(description="a non-empty list")]
    # Pulumi.yaml's default [] means one wave of every region.
    waves: Annotated[tuple[Wave, ...], BeforeValidator(_lists_of_lists)] = ()
    bake_minutes: BakeMinutes = 10
    kubernetes: KubernetesSettings = KubernetesSettings()
    database: DatabaseSettings = DatabaseSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    flag_delivery: FlagDeliverySettings = Field(
        default=FlagDeliverySettings(), alias="feature_flags"
    )
    migrations: Annotated[tuple[Migration, ...], AsTuple, Field(description="a list")] = ()
    services: Annotated[tuple[Service, ...], AsTuple, Field(description="a non-empty list")]
    decommission: Annotated[
        tuple[RegionCode, ...], AsTuple, Field(description="a list of names")
    ] = ()
    kubeconfigs: SecretMap = {}
    database_urls: SecretMap = {}
    notifications: Annotated[tuple[Notification, ...], AsTuple, Field(description="a list")] = ()
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

    def owner_of(self, kind: str, name: str) -> Owner | None:
        """Who owns the service or migration `name` (`kind` says which); None for other kinds."""
        entries: tuple[Service | Migration, ...] = ()
        if kind == "service":
            entries = self.services
        elif kind == "migration":
            entries = self.migrations
        return next((e.owner for e in entries if e.name == name), None)

    def wave_of(self, region: str) -> int:
        return next(index for index, wave in enumerate(self.waves) if region in wave)


def alarm_topics(entries: tuple[Notification, ...], owner: str | None) -> list[str]:
    """What a path of this owner notifies, by name: the region's topic (`region`), its owner's
    topic (`owner:<owner>`) if some email or https entry listens to that owner only, and the
    SNS topics of the entries for every path or for that owner (`sns:<entry>`)."""
    topics = ["region"]
    if owner is not None and any(e.owner == owner and e.protocol != "sns" for e in entries):
        topics.append(f"owner:{owner}")
    topics += [f"sns:{e.name}" for e in entries if e.protocol == "sns" and e.owner in (None, owner)]
    return topics
