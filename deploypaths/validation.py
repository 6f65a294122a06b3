"""Turns raw stack configuration into Settings, or a ConfigError that lists every problem."""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from deploypaths.naming import path_id
from deploypaths.regions import KNOWN_REGIONS
from deploypaths.settings import (
    OVERRIDABLE_SERVICE_FIELDS,
    BlueGreen,
    Canary,
    DatabaseSettings,
    Flag,
    FlagDeliverySettings,
    KubernetesSettings,
    Migration,
    MonitoringSettings,
    Region,
    Service,
    Settings,
    SimulationSettings,
)

NAMESPACE = "deploypaths"
# Keys of the `deploypaths:` namespace; Pulumi.yaml declares each with a description.
KNOWN_KEYS = (
    "environment",
    "owner",
    "regions",
    "waves",
    "bake_minutes",
    "kubernetes",
    "database",
    "monitoring",
    "feature_flags",
    "migrations",
    "services",
    "decommission",
    "kubeconfigs",
    "database_urls",
    "simulation",
)
# Every pattern is ASCII-only: `\d` and `\w` would also accept Arabic-Indic digits and the like,
# which Kubernetes and AWS then reject at deploy time, half-way through a rollout.
# Kubernetes object names: RFC 1123 labels. Names become `{name}-{region}` component names and
# `{migration}-{hash}` Job names, so they stay well under the 63-character limit.
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 40
DNS_NAME_ALLOWED = (
    f"allowed: a DNS-1123 label (lowercase letters, digits, '-', at most {MAX_NAME_LENGTH})"
)
FLAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
FLAG_NAME_ALLOWED = "allowed: a flag name (a letter, then letters, digits, '_' or '-'; at most 64)"
IMAGE_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9]+(?:[._/:-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
# Registries cap a repository at 255 characters; with a tag and a digest no reference is longer.
# Checked before the regex, whose backtracking over `:` would otherwise grow with the length.
MAX_IMAGE_LENGTH = 512
# The owner becomes an AWS tag value: letters, digits, spaces and `_ . : / = + - @`, <= 256.
TAG_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+@-]{1,256}")
INSTANCE_TYPE = re.compile(r"[a-z0-9-]{1,24}\.[a-z0-9]{1,24}")
DB_INSTANCE_CLASS = re.compile(r"db\.[a-z0-9-]{1,24}\.[a-z0-9]{1,24}")
QUANTITY = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?(m|k|M|G|T|Ki|Mi|Gi|Ti)?")
HEALTH_PATH = re.compile(r"/[-A-Za-z0-9_./]{0,200}")
# A user value is never shown whole: long strings and big structures are cut to this many
# characters, so one bad value cannot flood the error or hide the others.
MAX_SHOWN = 60
# Lists of alternatives in a message (configured regions, services) are cut to this many names.
MAX_LISTED = 8
# Bounds on the config as a tree. A YAML alias is expanded once per use, so a few hundred bytes
# can describe billions of values (a "billion laughs"); real stacks are a few thousand values
# and six levels deep. Checked first, in time bounded by these numbers, before anything walks it.
MAX_VALUES = 100_000
MAX_DEPTH = 16

T = TypeVar("T")


class ConfigError(Exception):
    """The stack configuration is invalid; `problems` lists each one with its key path."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        header = (
            f"stack '{stack}' has {len(problems)} configuration problem(s); nothing was deployed"
        )
        super().__init__("\n".join([header, *(f"  - {problem}" for problem in problems)]))


class _Shown(reprlib.Repr):
    """reprlib's bounded rendering (a few items, a few levels), in ASCII: control characters,
    RTL marks and line separators are escaped, so one value is always one line of the error."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 4
        self.maxdict = 4
        self.maxstring = self.maxother = MAX_SHOWN

    def repr_str(self, value: str, level: int) -> str:
        return ascii(value[: MAX_SHOWN + 1])

    def repr_int(self, value: int, level: int) -> str:
        # repr() refuses integers beyond 4300 digits (int_max_str_digits); never compute it.
        if value.bit_length() > 128:
            return f"<integer of {value.bit_length()} bits>"
        return repr(value)

    def repr_instance(self, value: Any, level: int) -> str:
        text = ascii(value)  # floats, booleans, None, and YAML's dates and bytes
        return text if len(text) <= self.maxother else text[: self.maxother - 3] + "..."


_SHOWN = _Shown()


def show(value: Any) -> str:
    """A short, printable rendering of a user value: control characters escaped, long ones cut."""
    text = _SHOWN.repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _join(key: str, name: Any) -> str:
    """`key.name`, with a name that is not a plain identifier shown quoted and escaped, so a key
    path never carries a newline or a right-to-left mark into the message."""
    segment = name if isinstance(name, str) and SIMPLE_KEY.fullmatch(name) else show(name)
    return f"{key}.{segment}" if key else segment


def _listing(names: Iterable[str]) -> str:
    """`a, b, c`, cut after MAX_LISTED names so a huge topology does not make huge messages."""
    names = list(names)
    if not names:
        return "none configured"
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: Any, allowed: str) -> None:
        self.items.append(f"{key}: got {show(value)}; {allowed}")

    def note(self, key: str, message: str) -> None:
        self.items.append(f"{key}: {message}")


class _Reader:
    """Reads typed fields of one mapping, recording a problem for each bad one."""

    def __init__(self, problems: _Problems, key: str, data: Any, allowed_keys: tuple[str, ...]):
        self.problems = problems
        self.key = key
        self.data: Mapping[Any, Any] = data if isinstance(data, Mapping) else {}
        # A value of the wrong kind is one problem, not one more per key it lacks.
        self.wrong_kind = data is not None and not isinstance(data, Mapping)
        if self.wrong_kind:
            problems.add(key or NAMESPACE, data, "allowed: a mapping")
        for name in self.data:
            if name not in allowed_keys:
                # The value is not shown: a key set with `--secret --path` under a misspelt
                # parent reaches the program decrypted, and the error is printed in the clear.
                problems.note(
                    _join(key, name),
                    f"unknown key{_guess(name, allowed_keys)}; "
                    f"allowed keys: {', '.join(allowed_keys)}",
                )

    def path(self, name: str) -> str:
        return _join(self.key, name)

    def present(self, name: str) -> bool:
        """Set to something: YAML's `key:` with no value (null) counts as not set."""
        return self.data.get(name) is not None

    def get(self, name: str, check: Callable[[Any], bool], allowed: str, default: T) -> T:
        if not self.present(name):
            return default
        value = self.data[name]
        if not check(value):
            self.problems.add(self.path(name), value, f"allowed: {allowed}")
            return default
        return value  # type: ignore[no-any-return]

    def required(self, name: str, check: Callable[[Any], bool], allowed: str) -> Any:
        if not self.present(name):
            if not self.wrong_kind:
                self.problems.note(self.path(name), f"is required ({allowed})")
            return None
        value = self.data[name]
        if not check(value):
            self.problems.add(self.path(name), value, f"allowed: {allowed}")
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        return self.get(name, lambda v: v in choices, " | ".join(choices), default)

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        return self.get(name, lambda v: _is_int(v) and low <= v <= high, _range(low, high), default)

    def text(self, name: str, default: str, pattern: re.Pattern[str], allowed: str) -> str:
        return self.get(name, lambda v: _is_text(v, pattern), allowed, default)

    def names(self, name: str) -> list[tuple[int, str]]:
        """The string items of a list, each with its index in the list as written."""
        value = self.get(name, _is_list, "a list of names", [])
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problems.add(f"{self.path(name)}[{index}]", item, "allowed: a name (string)")
            else:
                result.append((index, item))
        return result


def _guess(name: Any, allowed_keys: tuple[str, ...]) -> str:
    if not isinstance(name, str) or len(name) > 64:
        return ""
    close = difflib.get_close_matches(name, allowed_keys, n=1, cutoff=0.8)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_text(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _range(low: int, high: int) -> str:
    return f"an integer from {low} to {high}"


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls)}


def image_problem(image: str, environment: str) -> str | None:
    """Why an image reference cannot be deployed, or None when it is pinned well enough."""
    if not isinstance(image, str) or len(image) > MAX_IMAGE_LENGTH:
        match = None
    else:
        match = IMAGE_REFERENCE.fullmatch(image)
    if not match:
        return "allowed: an image reference like registry.example.com/team/app:1.2.3 or @sha256:..."
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    tag = last.split(":", 1)[1] if ":" in last else None
    if tag is None and not match.group("digest"):
        return "allowed: an image pinned by tag or digest (this one has neither)"
    if tag == "latest" and not match.group("digest") and environment == "prod":
        return "allowed: a pinned tag or digest; 'latest' is refused for prod"
    return None


def parse_settings(raw: Mapping[str, Any], *, stack: str) -> Settings:
    """Validate the `deploypaths:` config (keys without the namespace) of one stack."""
    oversized = _oversized(raw)
    if oversized:
        # Reading such a value is what costs; report only the bound it breaks.
        raise ConfigError(stack, oversized)
    problems = _Problems()
    top = _Reader(problems, "", raw, KNOWN_KEYS)

    # Pulumi.yaml's defaults, "" and [], mean "the stack name" and "one wave".
    environment = (
        top.text("environment", stack, DNS_1123_LABEL, "a DNS-1123 label like dev or prod")
        if top.data.get("environment") != ""
        else stack
    )
    owner = top.text(
        "owner", "platform", TAG_VALUE, "an AWS tag value (letters, digits, ' _.:/=+-@', <= 256)"
    )
    regions = _regions(problems, top)
    names = tuple(region.name for region in regions)
    waves = _waves(problems, top, names)
    bake_minutes = top.integer("bake_minutes", 0, 240, 10)
    kubernetes = _kubernetes(problems, top.data.get("kubernetes"))
    database = _database(problems, top.data.get("database"))
    monitoring = _monitoring(problems, top.data.get("monitoring"))
    flag_delivery = _flag_delivery(problems, top.data.get("feature_flags"))
    migrations, phases = _migrations(problems, top, environment)
    services = _services(problems, top, names, phases, environment)
    regions = _region_overrides(problems, top, regions, services, environment)
    decommission = _decommission(problems, top, names)
    _secret_maps(problems, top, names, kubernetes, database)
    simulation = _simulation(
        problems, top.data.get("simulation"), kubernetes, names, migrations, services
    )

    if problems.items:
        raise ConfigError(stack, problems.items)
    return Settings(
        stack=stack,
        environment=environment,
        owner=owner,
        regions=regions,
        waves=waves,
        bake_minutes=bake_minutes,
        kubernetes=kubernetes,
        database=database,
        monitoring=monitoring,
        flag_delivery=flag_delivery,
        migrations=migrations,
        services=tuple(service for _, service in services),
        decommission=decommission,
        simulation=simulation,
    )


def _oversized(raw: Any) -> list[str]:
    """The top-level keys whose value breaks MAX_VALUES or MAX_DEPTH, found without recursion
    and without visiting more than MAX_VALUES values (aliases and cycles included)."""
    if not isinstance(raw, Mapping):
        return []
    budget = MAX_VALUES
    problems = _Problems()
    for key, value in raw.items():
        pending = [(value, 0)]
        while pending:
            node, depth = pending.pop()
            budget -= 1
            # The value is not shown: it may be one of the secret maps.
            if budget < 0:
                problems.note(
                    _join("", key),
                    f"got more than {MAX_VALUES} values in the whole configuration (a YAML alias "
                    f"counts once per use); allowed: at most {MAX_VALUES}",
                )
                return problems.items
            if depth > MAX_DEPTH:
                problems.note(
                    _join("", key),
                    f"got values nested more than {MAX_DEPTH} deep; allowed: at most {MAX_DEPTH}",
                )
                break
            if isinstance(node, Mapping):
                pending.extend((item, depth + 1) for item in node.values())
            elif isinstance(node, list | tuple | set | frozenset):
                pending.extend((item, depth + 1) for item in node)
    return problems.items


def _duplicates(problems: _Problems, key: str, names: Iterable[tuple[int, str]]) -> None:
    first: dict[str, int] = {}
    for index, name in names:
        if name in first:
            problems.add(
                f"{key}[{index}].name",
                name,
                f"allowed: a unique name; {key}[{first[name]}] already has it",
            )
        else:
            first[name] = index


def _dns_name(problems: _Problems, key: str, name: Any) -> bool:
    if (
        not isinstance(name, str)
        or len(name) > MAX_NAME_LENGTH
        or not DNS_1123_LABEL.fullmatch(name)
    ):
        problems.add(key, name, DNS_NAME_ALLOWED)
        return False
    return True


def _list_of_mappings(problems: _Problems, top: _Reader, key: str, required: bool) -> list[Any]:
    if required:
        value = top.required(key, lambda v: _is_list(v) and len(v) > 0, "a non-empty list")
    else:
        value = top.get(key, _is_list, "a list", [])
    return list(value or [])


def _regions(problems: _Problems, top: _Reader) -> tuple[Region, ...]:
    regions: list[tuple[int, Region]] = []
    for index, entry in enumerate(_list_of_mappings(problems, top, "regions", required=True)):
        reader = _Reader(problems, f"regions[{index}]", entry, ("name", "overrides"))
        name = reader.required("name", lambda v: isinstance(v, str), "an AWS region code")
        if name is None:
            continue
        if name not in KNOWN_REGIONS:
            problems.add(
                f"regions[{index}].name", name, "allowed: a known AWS region code such as us-east-1"
            )
            continue
        regions.append((index, Region(name=name)))
    _duplicates(problems, "regions", [(index, region.name) for index, region in regions])
    unique = {region.name: region for _, region in regions}
    return tuple(unique.values())


def _waves(
    problems: _Problems, top: _Reader, regions: tuple[str, ...]
) -> tuple[tuple[str, ...], ...]:
    raw = top.get(
        "waves",
        lambda v: _is_list(v) and all(_is_list(w) for w in v),
        "a list of lists of regions",
        None,
    )
    if not raw:
        return (regions,) if regions else ()
    placed: dict[str, int] = {}
    waves = []
    for index, wave in enumerate(raw):
        members = []
        if not wave:
            problems.add(f"waves[{index}]", wave, "allowed: a non-empty list of regions")
        for position, region in enumerate(wave):
            key = f"waves[{index}][{position}]"
            if not isinstance(region, str) or region not in regions:
                problems.add(
                    key, region, f"allowed: one of the configured regions ({_listing(regions)})"
                )
            elif region in placed:
                problems.add(
                    key,
                    region,
                    f"allowed: each region in exactly one wave; it is in waves[{placed[region]}]",
                )
            else:
                placed[region] = index
                members.append(region)
        waves.append(tuple(members))
    missing = [region for region in regions if region not in placed]
    if missing:
        problems.add(
            "waves", raw, f"allowed: waves that hold every region; missing: {_listing(missing)}"
        )
    return tuple(wave for wave in waves if wave)


def _kubernetes(problems: _Problems, data: Any) -> KubernetesSettings:
    reader = _Reader(problems, "kubernetes", data, tuple(_defaults(KubernetesSettings)))
    default = KubernetesSettings()
    mode: Any = reader.choice("mode", ("eks", "kubeconfig", "render"), default.mode)
    return KubernetesSettings(
        mode=mode,
        version=reader.text(
            "version", default.version, re.compile(r"1\.[0-9]{1,2}"), "a string like '1.31'"
        ),
        node_instance_type=reader.text(
            "node_instance_type",
            default.node_instance_type,
            INSTANCE_TYPE,
            "an EC2 instance type like t3.large",
        ),
        node_count=reader.integer("node_count", 1, 100, default.node_count),
        namespace=reader.text("namespace", default.namespace, DNS_1123_LABEL, "a DNS-1123 label"),
    )


def _database(problems: _Problems, data: Any) -> DatabaseSettings:
    reader = _Reader(problems, "database", data, tuple(_defaults(DatabaseSettings)))
    default = DatabaseSettings()
    identifier = re.compile(r"[a-z][a-z0-9_]{0,62}")
    mode: Any = reader.choice("mode", ("aurora", "external", "none"), default.mode)
    return DatabaseSettings(
        mode=mode,
        engine_version=reader.text(
            "engine_version",
            default.engine_version,
            re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){0,3}"),
            "a string like '16.4'",
        ),
        instance_class=reader.text(
            "instance_class",
            default.instance_class,
            DB_INSTANCE_CLASS,
            "an RDS instance class like db.r6g.large",
        ),
        instances=reader.integer("instances", 1, 15, default.instances),
        name=reader.text(
            "name", default.name, identifier, "a lowercase identifier (a-z, 0-9, _), <= 63"
        ),
        username=reader.text(
            "username", default.username, identifier, "a lowercase identifier (a-z, 0-9, _), <= 63"
        ),
        backup_retention_days=reader.integer(
            "backup_retention_days", 1, 35, default.backup_retention_days
        ),
    )


def _monitoring(problems: _Problems, data: Any) -> MonitoringSettings:
    reader = _Reader(problems, "monitoring", data, tuple(_defaults(MonitoringSettings)))
    default = MonitoringSettings()
    mode: Any = reader.choice("mode", ("cloudwatch", "none"), default.mode)
    return MonitoringSettings(
        mode=mode,
        restart_threshold=reader.integer("restart_threshold", 1, 1000, default.restart_threshold),
    )


def _flag_delivery(problems: _Problems, data: Any) -> FlagDeliverySettings:
    reader = _Reader(problems, "feature_flags", data, tuple(_defaults(FlagDeliverySettings)))
    default = FlagDeliverySettings()
    return FlagDeliverySettings(
        duration_minutes=reader.integer("duration_minutes", 0, 1440, default.duration_minutes),
        growth_factor=reader.integer("growth_factor", 1, 100, default.growth_factor),
        final_bake_minutes=reader.integer(
            "final_bake_minutes", 0, 1440, default.final_bake_minutes
        ),
    )


def _image(problems: _Problems, key: str, image: Any, environment: str) -> str | None:
    if not isinstance(image, str):
        problems.add(key, image, "allowed: an image reference (string)")
        return None
    why = image_problem(image, environment)
    if why:
        problems.add(key, image, why)
        return None
    return image


def _migrations(
    problems: _Problems, top: _Reader, environment: str
) -> tuple[tuple[Migration, ...], dict[str, str | None]]:
    """The valid migrations, and the phase (None when invalid) of every well-named one: a
    service requiring a migration whose entry has a problem gets no second, misleading one."""
    migrations: list[tuple[int, Migration]] = []
    phases: dict[str, str | None] = {}
    for index, entry in enumerate(_list_of_mappings(problems, top, "migrations", required=False)):
        key = f"migrations[{index}]"
        reader = _Reader(problems, key, entry, ("name", "image", "phase"))
        name = reader.required("name", lambda v: isinstance(v, str), "a DNS-1123 name")
        image = reader.required("image", lambda v: isinstance(v, str), "an image reference")
        phase = reader.required("phase", lambda v: v in ("expand", "contract"), "expand | contract")
        valid_name = name is not None and _dns_name(problems, f"{key}.name", name)
        valid_image = image is not None and _image(problems, f"{key}.image", image, environment)
        if valid_name:
            phases.setdefault(name, phase)
        if valid_name and valid_image and phase:
            migrations.append((index, Migration(name=name, image=image, phase=phase)))
    _duplicates(problems, "migrations", [(index, m.name) for index, m in migrations])
    contracts = [(index, m) for index, m in migrations if m.phase == "contract"]
    if contracts:
        first_index, first = contracts[0]
        for index, migration in migrations:
            if index > first_index and migration.phase == "expand":
                problems.add(
                    f"migrations[{index}].phase",
                    "expand",
                    f"listed after contract migrations[{first_index}] ({first.name!r}); "
                    "allowed: every expand before every contract",
                )
    return tuple(migration for _, migration in migrations), phases


def _canary(problems: _Problems, key: str, data: Any, environment: str) -> Canary | None:
    reader = _Reader(problems, key, data, ("image", "weight"))
    image = reader.required("image", lambda v: isinstance(v, str), "an image reference")
    weight = reader.required("weight", lambda v: _is_int(v) and 0 <= v <= 100, _range(0, 100))
    image = _image(problems, f"{key}.image", image, environment) if image is not None else None
    return Canary(image=image, weight=weight) if image is not None and weight is not None else None


def _blue_green(problems: _Problems, key: str, data: Any, environment: str) -> BlueGreen | None:
    reader = _Reader(problems, key, data, ("active", "blue", "green"))
    active = reader.required("active", lambda v: v in ("blue", "green"), "blue | green")
    colours: dict[str, tuple[str | None, int | None]] = {}
    for colour in ("blue", "green"):
        if not reader.present(colour):
            if not reader.wrong_kind:
                problems.note(f"{key}.{colour}", "is required (a mapping with an image)")
            continue
        colour_reader = _Reader(
            problems, f"{key}.{colour}", reader.data[colour], ("image", "replicas")
        )
        image = colour_reader.required("image", lambda v: isinstance(v, str), "an image reference")
        if image is not None:
            image = _image(problems, f"{key}.{colour}.image", image, environment)
        replicas = colour_reader.get(
            "replicas", lambda v: _is_int(v) and 0 <= v <= 1000, _range(0, 1000), None
        )
        colours[colour] = (image, replicas)
    blue, green = colours.get("blue", (None, None)), colours.get("green", (None, None))
    if active is not None and colours.get(active, (None, None))[1] == 0:
        problems.add(
            f"{key}.{active}.replicas",
            0,
            "allowed: at least 1 for the active colour (the Service would select no pod)",
        )
        return None
    if active is None or blue[0] is None or green[0] is None:
        return None
    return BlueGreen(
        active=active,
        blue_image=blue[0],
        green_image=green[0],
        blue_replicas=blue[1],
        green_replicas=green[1],
    )


def _flags(problems: _Problems, key: str, data: Any) -> tuple[Flag, ...]:
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        problems.add(key, data, "allowed: a mapping of flag name to {enabled, rollout_percent}")
        return ()
    flags = []
    for name, value in data.items():
        flag_key = _join(key, name)
        if not isinstance(name, str) or not FLAG_NAME.fullmatch(name):
            problems.add(flag_key, name, FLAG_NAME_ALLOWED)
            continue
        reader = _Reader(problems, flag_key, value, ("enabled", "rollout_percent"))
        enabled = reader.required("enabled", lambda v: isinstance(v, bool), "true | false")
        percent = reader.integer("rollout_percent", 0, 100, 100)
        if enabled is not None:
            flags.append(Flag(name=name, enabled=enabled, rollout_percent=percent))
    return tuple(flags)


SERVICE_KEYS = (
    "name",
    "image",
    "replicas",
    "port",
    "regions",
    "requires",
    "after",
    "strategy",
    "canary",
    "blue_green",
    "flags",
    "cpu",
    "memory",
    "health_path",
)


def _release_fields(
    problems: _Problems, reader: _Reader, environment: str, defaults: Service | None
) -> dict[str, Any]:
    """The fields a release changes (and a region may override): image, replicas, strategy.
    In an override (`defaults` given) a field left unset or null keeps the service's value."""
    key = reader.key
    values: dict[str, Any] = {}
    if reader.present("image") or defaults is None:
        image = reader.required("image", lambda v: isinstance(v, str), "an image reference")
        if image is not None and _image(problems, f"{key}.image", image, environment):
            values["image"] = image
    if reader.present("replicas"):
        values["replicas"] = reader.integer("replicas", 1, 1000, 2)
    strategy = reader.choice(
        "strategy",
        ("rolling", "canary", "blue-green"),
        defaults.strategy if defaults else "rolling",
    )
    if reader.present("strategy"):
        values["strategy"] = strategy
    if reader.present("canary"):
        values["canary"] = _canary(problems, f"{key}.canary", reader.data["canary"], environment)
    if reader.present("blue_green"):
        values["blue_green"] = _blue_green(
            problems, f"{key}.blue_green", reader.data["blue_green"], environment
        )
    canary = values.get("canary", defaults.canary if defaults else None)
    blue_green = values.get("blue_green", defaults.blue_green if defaults else None)
    if strategy == "canary" and canary is None and not reader.present("canary"):
        problems.note(f"{key}.canary", "is required when strategy is canary ({image, weight})")
    if strategy == "blue-green" and blue_green is None and not reader.present("blue_green"):
        problems.note(
            f"{key}.blue_green", "is required when strategy is blue-green ({active, blue, green})"
        )
    return values


def _services(
    problems: _Problems,
    top: _Reader,
    regions: tuple[str, ...],
    phases: dict[str, str | None],
    environment: str,
) -> list[tuple[int, Service]]:
    """The valid services, each with its index in `services` as written."""
    expands = _listing(name for name, phase in phases.items() if phase == "expand")
    services: list[tuple[int, Service]] = []
    # Well-named services, valid or not: waiting for one with a problem is not a second one.
    named: set[str] = set()
    entries = _list_of_mappings(problems, top, "services", required=True)
    for index, entry in enumerate(entries):
        key = f"services[{index}]"
        reader = _Reader(problems, key, entry, SERVICE_KEYS)
        name = reader.required("name", lambda v: isinstance(v, str), "a DNS-1123 name")
        if name is not None and not _dns_name(problems, f"{key}.name", name):
            name = None
        if name is not None:
            named.add(name)
        release = _release_fields(problems, reader, environment, None)
        port = reader.integer("port", 1, 65535, 8080)
        listed = reader.names("regions")
        for position, region in listed:
            if region not in regions:
                problems.add(
                    f"{key}.regions[{position}]",
                    region,
                    f"allowed: one of the configured regions ({_listing(regions)})",
                )
        # An unset or empty list means every region.
        if reader.present("regions") and reader.data["regions"]:
            service_regions = tuple(region for _, region in listed if region in regions)
        else:
            service_regions = regions
        if regions and listed and not service_regions:
            problems.note(
                f"{key}.regions",
                f"service {name or '(unnamed)'} has no configured region left to run in; "
                f"allowed: some of {_listing(regions)}",
            )
        requires = reader.names("requires")
        for position, migration in requires:
            # None: the migration's entry has a problem of its own, already reported.
            phase = phases.get(migration, "unknown")
            if phase in ("unknown", "contract"):
                problems.add(
                    f"{key}.requires[{position}]",
                    migration,
                    f"{'an unknown' if phase == 'unknown' else 'a contract'} migration; "
                    f"allowed: an expand migration ({expands})",
                )
        after = reader.names("after")
        flags = _flags(problems, f"{key}.flags", reader.data.get("flags"))
        cpu = reader.text("cpu", "250m", QUANTITY, "a Kubernetes CPU quantity like 250m or 1")
        memory = reader.text("memory", "256Mi", QUANTITY, "a Kubernetes quantity like 256Mi")
        health_path = reader.text(
            "health_path", "/healthz", HEALTH_PATH, "an HTTP path like /healthz"
        )
        if name is None or "image" not in release:
            continue
        service = Service(
            name=name,
            port=port,
            regions=service_regions,
            requires=tuple(migration for _, migration in requires),
            after=tuple(other for _, other in after),
            flags=flags,
            cpu=cpu,
            memory=memory,
            health_path=health_path,
            **release,
        )
        services.append((index, service))
    _duplicates(problems, "services", [(index, s.name) for index, s in services])
    _check_after(problems, services, named)
    return services


def _check_after(problems: _Problems, services: list[tuple[int, Service]], named: set[str]) -> None:
    # A duplicate name is reported on its own; `after` means the first service of that name.
    by_name: dict[str, Service] = {}
    for _, service in services:
        by_name.setdefault(service.name, service)
    for index, service in services:
        for position, other in enumerate(service.after):
            key = f"services[{index}].after[{position}]"
            if other == service.name:
                problems.add(
                    key, other, "allowed: another service (a service cannot wait for itself)"
                )
                continue
            if other not in by_name and other in named:
                continue  # that service's own entry has a problem, already reported
            if other not in by_name:
                problems.add(
                    key, other, f"allowed: another configured service ({_listing(by_name)})"
                )
                continue
            missing = [r for r in service.regions if r not in by_name[other].regions]
            if missing:
                problems.add(
                    key,
                    other,
                    f"allowed: a service deployed wherever {service.name!r} runs "
                    f"({other!r} is not in {_listing(missing)})",
                )
    cycle = find_cycle(
        {s.name: [a for a in s.after if a in by_name and a != s.name] for s in by_name.values()}
    )
    if cycle:
        problems.note(
            "services.after", f"services wait for each other in a cycle: {' -> '.join(cycle)}"
        )


def find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """One cycle of the graph as a closed list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        trail: list[str] = []
        while stack:
            node, child = stack.pop()
            if child == 0:
                state[node] = 1
                trail.append(node)
            successors = graph.get(node, [])
            if child < len(successors):
                stack.append((node, child + 1))
                nxt = successors[child]
                if state.get(nxt) == 1:
                    return trail[trail.index(nxt) :] + [nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                trail.pop()
    return None


def _region_overrides(
    problems: _Problems,
    top: _Reader,
    regions: tuple[Region, ...],
    services: list[tuple[int, Service]],
    environment: str,
) -> tuple[Region, ...]:
    raw_regions = top.data.get("regions")
    entries = {
        entry["name"]: (index, entry.get("overrides"))
        for index, entry in enumerate(raw_regions if _is_list(raw_regions) else [])
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    }
    by_name = {s.name: s for _, s in services}
    result = []
    for region in regions:
        index, raw = entries.get(region.name, (0, None))
        key = f"regions[{index}].overrides"
        if raw is None:
            result.append(region)
            continue
        if not isinstance(raw, Mapping):
            problems.add(key, raw, "allowed: a mapping of service name to overridden fields")
            continue
        overrides: dict[str, dict[str, object]] = {}
        for service_name, fields_raw in raw.items():
            service = by_name.get(service_name) if isinstance(service_name, str) else None
            if service is None or region.name not in service.regions:
                deployed = [s.name for s in by_name.values() if region.name in s.regions]
                problems.add(
                    _join(key, service_name),
                    service_name,
                    f"allowed: a service deployed in {region.name} ({_listing(deployed)})",
                )
                continue
            reader = _Reader(
                problems, _join(key, service_name), fields_raw, OVERRIDABLE_SERVICE_FIELDS
            )
            overrides[service_name] = _release_fields(problems, reader, environment, service)
        result.append(Region(name=region.name, overrides=overrides))
    return tuple(result)


def _decommission(problems: _Problems, top: _Reader, regions: tuple[str, ...]) -> tuple[str, ...]:
    """Regions being wound down: still configured (their stateful resources lose protection, so
    the next update may delete them) or already removed (the removal is on purpose)."""
    result = []
    for index, region in top.names("decommission"):
        if region not in KNOWN_REGIONS:
            problems.add(
                f"decommission[{index}]",
                region,
                "allowed: a known AWS region code such as us-east-1",
            )
        else:
            result.append(region)
    return tuple(result)


def removed_region_problems(deployed: Iterable[str], settings: Settings) -> list[str]:
    """In a protected environment, a deployed region that the config no longer has is removed
    only on purpose: `decommission` must name it."""
    if not settings.is_protected:
        return []
    return [
        f"regions: {region!r} is deployed but no longer configured; removing it deletes its "
        f"paths. To remove it on purpose, list it in decommission (first while it is still "
        f"in regions, which lifts the protection of its databases and cluster)"
        for region in deployed
        if region not in settings.region_names and region not in settings.decommission
    ]


def _simulation(
    problems: _Problems,
    data: Any,
    kubernetes: KubernetesSettings,
    regions: tuple[str, ...],
    migrations: tuple[Migration, ...],
    services: list[tuple[int, Service]],
) -> SimulationSettings:
    """Render mode only: rollouts that take time, or fail, to watch the engine schedule paths."""
    reader = _Reader(problems, "simulation", data, ("rollout_seconds", "fail"))
    seconds = reader.get(
        "rollout_seconds",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 3600,
        "a number of seconds from 0 to 3600",
        0,
    )
    paths = [path_id(s.name, region) for _, s in services for region in s.regions]
    paths += [path_id(m.name, region) for m in migrations for region in regions]
    fail = []
    for index, path in reader.names("fail"):
        if path in paths:
            fail.append(path)
        else:
            problems.add(
                f"simulation.fail[{index}]",
                path,
                f"allowed: a path id <service or migration>@<region> ({_listing(paths)})",
            )
    simulation = SimulationSettings(rollout_seconds=float(seconds), fail=tuple(fail))
    # A simulated rollout is a dynamic resource before each Deployment and Job: harmless when
    # manifests are only rendered, a delay or a failure injected into real clusters otherwise.
    if simulation.enabled and kubernetes.mode != "render":
        problems.note(
            "simulation",
            f"got rollouts simulated with kubernetes.mode {kubernetes.mode}; "
            "allowed: only with kubernetes.mode render",
        )
    return simulation


def _secret_maps(
    problems: _Problems,
    top: _Reader,
    regions: tuple[str, ...],
    kubernetes: KubernetesSettings,
    database: DatabaseSettings,
) -> None:
    """`kubeconfigs` and `database_urls` hold secrets: no message ever shows their values."""
    needed = {
        "kubeconfigs": kubernetes.mode == "kubeconfig",
        "database_urls": database.mode == "external",
    }
    for key, required in needed.items():
        value = top.data.get(key)
        if value is not None and not isinstance(value, Mapping):
            problems.note(
                key,
                f"got {_secret(value)}; allowed: a mapping of region to a secret value "
                "(set with --secret --path)",
            )
            continue
        entries = value or {}
        for region, secret in entries.items():
            if secret is not None and not (isinstance(secret, str) and secret):
                problems.note(
                    _join(key, region),
                    f"got {_secret(secret)}; allowed: a non-empty string (the secret)",
                )
        if required:
            missing = [r for r in regions if not entries.get(r)]
            if missing:
                problems.note(
                    key,
                    f"needs a secret entry for {_listing(missing)} "
                    f"(pulumi config set --secret --path '{NAMESPACE}:{key}.{missing[0]}' ...)",
                )


def _secret(value: Any) -> str:
    return f"a value of type {type(value).__name__} (not shown: it may be a secret)"
