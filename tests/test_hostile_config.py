"""Random and adversarial stack configs thrown at validation (hypothesis): every input either
validates into consistent Settings or fails with the documented message listing its problems;
never another exception, never a registration, never longer than a bounded time per case.

Run: `.venv/bin/python -m pytest tests/test_hostile_config.py -q --hypothesis-show-statistics`;
`HYPOTHESIS_PROFILE=deep` runs many more cases per test."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from deploypaths.config.settings import Settings
from deploypaths.mock_run import PROJECT_DIR
from deploypaths.regions import KNOWN_REGIONS
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import (
    KNOWN_KEYS,
    MAX_DEPTH,
    MAX_VALUES,
    NAMESPACE,
    ConfigError,
    parse_settings,
)
from tests.support.refusal import assert_refused_with_nothing_registered

# --- profiles and bounds ---------------------------------------------------------------------

settings.register_profile(
    "hostile-ci",
    max_examples=200,
    deadline=timedelta(seconds=3),
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile("hostile-deep", settings.get_profile("hostile-ci"), max_examples=5_000)
PROFILE = settings.get_profile(
    "hostile-deep" if os.environ.get("HYPOTHESIS_PROFILE") == "deep" else "hostile-ci"
)
EXAMPLES = PROFILE.max_examples
# Wall-clock bound on one validation. Real stacks take milliseconds; the bound is loose enough
# for a loaded CI machine and tight enough that anything super-linear shows.
CASE_SECONDS = 2.0
HUGE_CASE_SECONDS = 5.0

HEADER = re.compile(
    r"stack '(?P<stack>[^'\n]*)' has (?P<count>[1-9][0-9]*) configuration problem\(s\); "
    r"nothing was deployed"
)
REGION_CODES = tuple(sorted(KNOWN_REGIONS))
STACK = "hostile"


class CaseTimeout(Exception):
    """A case ran past its bound: validation hangs or is super-linear on this input."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the case after `seconds`, so a hang fails the test instead of stalling CI
    (hypothesis' deadline is only checked once the case has returned)."""

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- the property ----------------------------------------------------------------------------


def outcome(raw: Any, *, seconds: float = CASE_SECONDS) -> Settings | ConfigError:
    """parse_settings(raw), checked: Settings that hold together, or a ConfigError in the
    documented shape. Any other exception propagates and fails the test."""
    started = time.perf_counter()
    with time_limit(seconds):
        try:
            result: Settings | ConfigError = parse_settings(raw, stack=STACK)
        except ConfigError as error:
            result = error
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"validation took {elapsed:.2f}s"
    if currently_in_test_context():
        event("refused" if isinstance(result, ConfigError) else "validated")
    if isinstance(result, ConfigError):
        check_message(result)
    else:
        check_settings(result)
    return result


def check_message(error: ConfigError) -> None:
    lines = str(error).split("\n")
    header = HEADER.fullmatch(lines[0])
    assert header, f"not the documented header: {lines[0]!r}"
    assert header["stack"] == STACK
    assert int(header["count"]) == len(error.problems) == len(lines) - 1 >= 1
    for line, problem in zip(lines[1:], error.problems, strict=True):
        assert line == f"  - {problem}"
        # One problem, one line: letters print as they are, control and invisible characters
        # (not printable for Python: bidi marks, line separators, ...) arrive escaped.
        assert problem.isprintable(), f"unescaped text in {problem!r}"
        key, separator, message = problem.partition(": ")
        assert key.strip() == key and key and separator and message, problem
        assert any(
            word in message
            for word in ("allowed", "is required", "unknown key", "needs a secret", "a cycle")
        ), f"says nothing of what is allowed: {problem}"


def check_settings(settings: Settings) -> None:
    """What valid Settings promise the components, checked independently of validation."""
    for text in _strings(settings.model_dump()):
        assert text.isascii() and text.isprintable(), f"unescaped text got through: {text!r}"
    regions = settings.region_names
    assert len(set(regions)) == len(regions) and set(regions) <= KNOWN_REGIONS
    assert sorted(r for wave in settings.waves for r in wave) == sorted(regions)
    assert all(settings.waves) and not set(settings.decommission) & set(regions)
    migrations = [m.name for m in settings.migrations]
    phases = [m.phase for m in settings.migrations]
    assert len(set(migrations)) == len(migrations) and all(map(_is_dns_name, migrations))
    assert phases == sorted(phases, key=lambda phase: phase == "contract")
    expands = {m.name for m in settings.migrations if m.phase == "expand"}
    by_name = {s.name: s for s in settings.services}
    assert len(by_name) == len(settings.services) and all(map(_is_dns_name, by_name))
    for service in settings.services:
        assert service.regions and set(service.regions) <= set(regions), service.name
        assert set(service.requires) <= expands, service.name
        assert service.name not in service.after and set(service.after) <= set(by_name)
        for other in service.after:
            assert set(service.regions) <= set(by_name[other].regions), service.name
    assert not _has_cycle({s.name: set(s.after) for s in settings.services})
    for migration in settings.migrations:
        _check_image(migration.image, settings.environment)
        if migration.down is not None:
            assert migration.phase in ("expand", "contract"), migration.name
            _check_image(migration.down.image, settings.environment)
    undoable = {m.name for m in settings.migrations if m.down is not None}
    for region_settings in settings.regions:
        assert set(region_settings.down_migrations) <= undoable, region_settings.name
    for region in regions:
        for service in settings.services_in(region):
            assert service.replicas >= 1 and 1 <= service.port <= 65535, service.name
            assert (service.strategy == "canary") <= (service.canary is not None)
            assert (service.strategy == "blue-green") <= (service.blue_green is not None)
            for image in service.images:
                _check_image(image, settings.environment)
            if service.verify is not None:
                _check_image(service.verify.image, settings.environment)


def _check_image(image: str, environment: str) -> None:
    """Pinned, and never by the mutable `latest`, in every environment."""
    last = image.rsplit("/", 1)[-1]
    pinned_by_digest = re.search(r"@sha256:[a-f0-9]{64}$", image) is not None
    assert pinned_by_digest or ":" in last, f"unpinned image {image!r}"
    assert pinned_by_digest or not last.lower().endswith(":latest"), image


def _is_dns_name(name: str) -> bool:
    return re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) is not None and len(name) <= 40


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _has_cycle(graph: dict[str, set[str]]) -> bool:
    """Kahn's algorithm: a graph is acyclic when every node can be peeled off."""
    waiting = {node: {n for n in after if n in graph} for node, after in graph.items()}
    ready = [node for node, after in waiting.items() if not after]
    peeled = 0
    while ready:
        done = ready.pop()
        peeled += 1
        for node, after in waiting.items():
            if done in after:
                after.discard(done)
                if not after:
                    ready.append(node)
    return peeled < len(graph)


# --- strategies: hostile text and values -----------------------------------------------------

# Control characters, invisible and bidi marks, line separators, look-alikes (fullwidth, Cyrillic,
# Arabic-Indic digits), combining marks, emoji, a lone surrogate, shell and format metacharacters.
HOSTILE_PIECES = (
    "\x00",
    "\n",
    "\r",
    "\t",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\u200b",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\ufffd",
    "\u0301",
    "\ud800",
    "\U0001f4a5",
    "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\u540d\u524d",
    "\uff55\uff53-\uff45\uff41\uff53\uff54-\uff11",
    "\u0662\u0665\u0660",
    "\u0130",
    "\u00df",
    "\u0441\u0435\u0440\u0432\u0438\u0441",
    "\u2010",
    " ",
    "-",
    ".",
    ":",
    "@",
    "/",
    "'",
    '"',
    "\\",
    "${X}",
    "%s",
    "{}",
    "[0]",
)
PLAUSIBLE_WORDS = (
    "auth",
    "orders",
    "us-east-1",
    "eu-west-1",
    "orders-add-status",
    "registry.example.com/shop/auth:3.2.0",
    "latest",
    "prod",
)


def _spliced(word: str, piece: str, position: int) -> str:
    position %= len(word) + 1
    return word[:position] + piece + word[position:]


hostile_text = st.one_of(
    st.text(max_size=24),
    st.lists(st.sampled_from(HOSTILE_PIECES + PLAUSIBLE_WORDS), max_size=6).map("".join),
    # Almost right: one hostile piece inside a name that would otherwise pass.
    st.builds(
        _spliced,
        st.sampled_from(PLAUSIBLE_WORDS),
        st.sampled_from(HOSTILE_PIECES),
        st.integers(0, 40),
    ),
    st.builds(str.upper, st.sampled_from(PLAUSIBLE_WORDS)),
    # Very long: names, and image references whose `:`s invite regex backtracking.
    st.builds(lambda piece, n: piece * n, st.sampled_from("a-:\u202e"), st.integers(41, 20_000)),
    st.builds(lambda n: "a:" * n + "!", st.integers(1, 10_000)),
    st.just(""),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63),
    st.floats(),
    hostile_text,
    st.sampled_from(KNOWN_KEYS + REGION_CODES[:3]),
)
json_keys = st.one_of(hostile_text, st.sampled_from(KNOWN_KEYS + ("name", "image", "after")))
# What `json.loads` can produce: what the engine hands the program.
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=12,
)
# What `yaml.safe_load` can produce besides: dates, bytes, sets, non-string keys, huge integers.
yaml_scalars = st.one_of(
    json_scalars,
    st.dates(),
    st.datetimes(),
    st.binary(max_size=8),
    st.frozensets(st.integers(), max_size=3),
    st.integers(4300, 6000).map(lambda digits: 10**digits),  # beyond int_max_str_digits
    st.just(float("nan")),
)
yaml_keys = st.one_of(json_keys, st.integers(), st.none(), st.booleans(), st.dates())
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(yaml_keys, children, max_size=4)
    ),
    max_leaves=12,
)


# --- strategies: plausible configs, then mutated ---------------------------------------------

SERVICE_NAMES = ("auth", "catalog", "orders", "payments", "search", "cart", "email", "gateway")
MIGRATION_NAMES = ("orders-add-status", "payments-add-currency", "orders-drop-legacy", "m-0042")


@st.composite
def plausible_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid config exercising every feature: waves, migrations, requires, acyclic `after`
    within matching regions, canary and blue-green, flags, region overrides, secret maps."""
    regions = draw(st.lists(st.sampled_from(REGION_CODES), min_size=1, max_size=4, unique=True))
    # "" and [] are Pulumi.yaml's defaults: the stack name, one wave.
    environment = draw(st.sampled_from(["dev", "prod", "staging", "", None]))
    config: dict[str, Any] = {"regions": [{"name": region} for region in regions]}
    if environment is not None:
        config["environment"] = environment
    if draw(st.booleans()):
        config["waves"] = []
    elif draw(st.booleans()):
        order = draw(st.permutations(regions))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=3)))
        config["waves"] = [
            list(order[start:end])
            for start, end in zip([0, *cuts], [*cuts, len(order)], strict=True)
            if order[start:end]
        ]
    phases = sorted(
        draw(st.lists(st.sampled_from(["expand", "contract"]), max_size=len(MIGRATION_NAMES))),
        key=lambda phase: phase == "contract",
    )
    config["migrations"] = [
        {"name": name, "image": f"registry.example.com/shop/migrate:{index}", "phase": phase}
        for index, (name, phase) in enumerate(zip(MIGRATION_NAMES, phases, strict=False))
    ]
    expands = [m["name"] for m in config["migrations"] if m["phase"] == "expand"]
    services: list[dict[str, Any]] = []
    placed: dict[str, list[str]] = {}
    for name in draw(st.lists(st.sampled_from(SERVICE_NAMES), min_size=1, unique=True)):
        service: dict[str, Any] = {"name": name, "image": _image(draw, name)}
        where = regions
        if draw(st.booleans()):
            where = draw(st.lists(st.sampled_from(regions), min_size=1, unique=True))
            service["regions"] = where
        possible = [other for other, at in placed.items() if set(where) <= set(at)]
        if possible:
            service["after"] = draw(st.lists(st.sampled_from(possible), unique=True, max_size=3))
        if expands:
            service["requires"] = draw(st.lists(st.sampled_from(expands), unique=True))
        for key, value in draw(_service_extras(name)).items():
            service[key] = value
        services.append(service)
        placed[name] = where
    config["services"] = services
    for entry in config["regions"]:
        here = [s["name"] for s in services if entry["name"] in s.get("regions", regions)]
        if here and draw(st.booleans()):
            target = draw(st.sampled_from(here))
            entry["overrides"] = {
                target: draw(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "image": st.just(f"registry.example.com/shop/{target}:0.9.0"),
                            "replicas": st.integers(1, 9),
                        },
                    )
                )
            }
    mode = draw(st.sampled_from(["eks", "kubeconfig", "render"]))
    config["kubernetes"] = {"mode": mode, "node_count": draw(st.integers(1, 100))}
    if mode == "kubeconfig":
        config["kubeconfigs"] = {region: "[secret]" for region in regions}
    database = draw(st.sampled_from(["aurora", "external", "none"]))
    config["database"] = {"mode": database}
    if database == "external":
        config["database_urls"] = {region: "[secret]" for region in regions}
    spare = [region for region in REGION_CODES if region not in regions]
    if draw(st.booleans()):
        config["decommission"] = draw(st.lists(st.sampled_from(spare), max_size=2, unique=True))
    return config


def _image(draw: st.DrawFn, name: str) -> str:
    pin = draw(st.sampled_from(["tag", "digest", "both"]))
    tag = f":{draw(st.integers(0, 99))}.0.0" if pin != "digest" else ""
    digest = "@sha256:" + "0" * 64 if pin != "tag" else ""
    return f"registry.example.com/shop/{name}{tag}{digest}"


def _service_extras(name: str) -> st.SearchStrategy[dict[str, Any]]:
    image = f"registry.example.com/shop/{name}:1.0.1"
    return st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {"strategy": st.just("canary"), "canary": st.just({"image": image, "weight": 10})}
        ),
        st.fixed_dictionaries(
            {
                "strategy": st.just("blue-green"),
                "blue_green": st.fixed_dictionaries(
                    {
                        "active": st.sampled_from(["blue", "green"]),
                        "blue": st.just({"image": image}),
                        "green": st.just({"image": image, "replicas": 1}),
                    }
                ),
            }
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "replicas": st.integers(1, 1000),
                "port": st.integers(1, 65535),
                "flags": st.dictionaries(
                    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True),
                    st.fixed_dictionaries(
                        {"enabled": st.booleans()},
                        optional={"rollout_percent": st.integers(0, 100)},
                    ),
                    max_size=2,
                ),
                "cpu": st.sampled_from(["250m", "1", "0.5"]),
                "memory": st.sampled_from(["256Mi", "1Gi"]),
            },
        ),
    )


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path to every value inside a config, containers and leaves."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _at(config: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        config = config[step]
    return config


@st.composite
def mutated_configs(
    draw: st.DrawFn, values: st.SearchStrategy[Any] = json_values, min_mutations: int = 0
) -> dict[str, Any]:
    """A plausible config with up to three things broken anywhere in it."""
    config = draw(plausible_configs())
    for _ in range(draw(st.integers(min_mutations, 3))):
        path = draw(st.sampled_from(list(_paths(config))))
        if not path:
            key = draw(json_keys)
            config[key] = draw(values)
            continue
        parent, last = _at(config, path[:-1]), path[-1]
        how = draw(st.sampled_from(["value", "text", "delete", "unknown key", "duplicate", "wrap"]))
        if how == "value":
            parent[last] = draw(values)
        elif how == "text":
            parent[last] = draw(hostile_text)
        elif how == "delete":
            del parent[last]
        elif how == "unknown key" and isinstance(parent[last], dict):
            parent[last][draw(json_keys)] = draw(values)
        elif how == "duplicate" and isinstance(parent, list):
            parent.append(parent[last])
        else:
            parent[last] = [parent[last]]
    return config


# --- (a) and (b): arbitrary values, and plausible configs with broken fields ------------------


@PROFILE
@given(raw=st.dictionaries(st.sampled_from(KNOWN_KEYS) | yaml_keys, yaml_values, max_size=8))
def test_arbitrary_values_at_every_key(raw: dict[Any, Any]) -> None:
    outcome(raw)


@PROFILE
@given(raw=yaml_values)
def test_a_config_of_any_shape(raw: Any) -> None:
    outcome(raw)


@PROFILE
@given(config=plausible_configs())
def test_plausible_configs_validate(config: dict[str, Any]) -> None:
    """The generator and the validator agree on what is valid: the mutations below start here."""
    assert isinstance(outcome(config), Settings)


@PROFILE
@given(config=mutated_configs(values=yaml_values, min_mutations=1))
def test_plausible_configs_with_broken_fields(config: dict[str, Any]) -> None:
    outcome(config)


# --- (c) huge topologies ---------------------------------------------------------------------

FAULTS = ("none", "cycle", "duplicate", "unknown after", "replicas", "image", "wave")


@st.composite
def huge_topologies(draw: st.DrawFn, fault: str) -> dict[str, Any]:
    """Up to 8 regions x 200 services with `after` edges, overrides and waves, built from a seed
    (generating them value by value would be slow), with `fault` planted."""
    rng = draw(st.randoms(use_true_random=False))
    full_size = draw(st.booleans())
    regions = rng.sample(REGION_CODES, 8 if full_size else draw(st.integers(1, 8)))
    count = 200 if full_size else draw(st.integers(20, 200))
    names = [f"svc-{index:03d}" for index in range(count)]
    migrations = [
        {"name": f"m-{index}", "image": f"registry.example.com/m:{index}", "phase": "expand"}
        for index in range(20)
    ]
    services = [
        {
            "name": name,
            "image": f"registry.example.com/team/{name}:1.{index}.0",
            "replicas": rng.randint(1, 5),
            "after": rng.sample(names[:index], min(index, rng.randint(0, 4))),
            "requires": [m["name"] for m in rng.sample(migrations, 2)],
        }
        for index, name in enumerate(names)
    ]
    order = regions[:]
    rng.shuffle(order)
    config = {
        "regions": [
            {"name": region, "overrides": {n: {"replicas": 9} for n in rng.sample(names[:-1], 5)}}
            for region in regions
        ],
        "waves": [order[:1], order[1:]] if len(order) > 1 else [order],
        "migrations": migrations,
        "services": services,
    }
    last = services[-1]
    if fault == "cycle":
        services[0]["after"] = [last["name"]]
        last["after"] = [services[0]["name"]]
    elif fault == "duplicate":
        last["name"] = services[0]["name"]
        last["after"] = []
    elif fault == "unknown after":
        last["after"] = ["svc-missing"]
    elif fault == "replicas":
        last["replicas"] = 0
    elif fault == "image":
        last["image"] = "registry.example.com/team/untagged"
    elif fault == "wave":
        config["waves"] = [order, order[:1]]
    return config


# The one problem each planted fault must produce (the key path it starts with).
FAULT_KEYS = {
    "cycle": "services.after: services wait for each other in a cycle: svc-000 -> ",
    "duplicate": "services[{last}].name: got 'svc-000'; allowed: a unique name",
    "unknown after": "services[{last}] ({name}).after[0]: got 'svc-missing'",
    "replicas": "services[{last}] ({name}).replicas: got 0",
    "image": "services[{last}] ({name}).image: got 'registry.example.com/team/untagged'",
    "wave": "waves[1][0]: got ",
}


# No shrinking: a topology built from a seed does not shrink, it only takes minutes trying.
@pytest.mark.parametrize("fault", FAULTS)
@settings(
    PROFILE,
    max_examples=max(3, EXAMPLES // 40),
    deadline=timedelta(seconds=10),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def test_huge_topologies(fault: str, data: st.DataObject) -> None:
    config = data.draw(huge_topologies(fault), label="config")
    size = f"{len(config['regions'])} regions x {len(config['services'])} services"
    event("8 regions x 200 services" if size == "8 regions x 200 services" else "smaller")

    result = outcome(config, seconds=HUGE_CASE_SECONDS)

    if fault == "none":
        assert isinstance(result, Settings)
        return
    assert isinstance(result, ConfigError)
    last = config["services"][-1]
    expected = FAULT_KEYS[fault].format(last=len(config["services"]) - 1, name=last["name"])
    assert len(result.problems) == 1 and result.problems[0].startswith(expected), result


# --- (d) YAML: anchors, aliases and merge keys; deep nesting; alias bombs ----------------------


def _canon(value: Any) -> Any:
    """A key equal only for values of the same types in the same order (YAML `1` and `true`
    must not stand in for each other, and key order decides the order of problems)."""
    if isinstance(value, dict):
        return ("map", tuple((_canon(k), _canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("seq", tuple(_canon(item) for item in value))
    return (type(value).__name__, value)


class YamlWriter:
    """Flow-style YAML for a config. With `aliases`, containers carry anchors, a repeat of an
    anchored value is written as an alias, and some mappings pull their first keys in with a
    merge key (`<<: *t1`) from templates: the document differs, the data must not."""

    def __init__(self, rng: Any, aliases: bool) -> None:
        self.rng = rng
        self.aliases = aliases
        self.anchored: dict[Any, str] = {}
        self.templates: list[str] = []

    def document(self, config: Mapping[Any, Any]) -> str:
        body = ""
        for key, value in config.items():
            name = self.scalar(f"{NAMESPACE}:{key}")
            # YAML caps an implicit key at 1024 characters; longer ones need the `?` form.
            body += f"  ? {name}\n  : " if len(name) > 1000 else f"  {name}: "
            body += f"{self.value(value)}\n"
        templates = "".join(f"  - {template}\n" for template in self.templates)
        return (f"x-templates:\n{templates}" if templates else "") + f"config:\n{body}"

    def value(self, value: Any) -> str:
        if not isinstance(value, dict | list):
            return self.scalar(value)
        canon = _canon(value)
        if self.aliases and canon in self.anchored:
            return f"*{self.anchored[canon]}"
        if isinstance(value, list):
            text = "[" + ", ".join(self.value(item) for item in value) + "]"
        else:
            items = list(value.items())
            merged = ""
            if self.aliases and len(items) > 1 and self.rng.random() < 0.3:
                split = self.rng.randint(1, len(items) - 1)
                name = f"t{len(self.templates) + 1}"
                # Written before `config:`, so it may not use the anchors found in there.
                template = YamlWriter(self.rng, aliases=False).mapping(items[:split])
                self.templates.append(f"&{name} {template}")
                merged, items = f"<<: *{name}, ", items[split:]
            text = "{" + merged + self.mapping(items)[1:]
        if not self.aliases:
            return text
        name = f"n{len(self.anchored) + 1}"
        self.anchored.setdefault(canon, name)
        return f"&{name} {text}"

    def mapping(self, items: list[tuple[Any, Any]]) -> str:
        pairs = []
        for key, value in items:
            name = self.scalar(key)
            pairs.append(f"{'? ' if len(name) > 1000 else ''}{name}: {self.value(value)}")
        return "{" + ", ".join(pairs) + "}"

    @staticmethod
    def scalar(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return "!!float " + {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}.get(
                repr(value), repr(value)
            )
        return '"' + "".join(_yaml_char(char) for char in str(value)) + '"'


def _yaml_char(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if " " <= char <= "~":
        return char
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def _load_stack_text(text: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "Pulumi.hostile.yaml"
        path.write_text(text)
        return namespace_values(load_stack_file(path, PROJECT_DIR))


def _same(left: Settings | ConfigError, right: Settings | ConfigError) -> bool:
    if isinstance(left, ConfigError) and isinstance(right, ConfigError):
        return left.problems == right.problems
    return left == right


# JSON-safe values only: stack_config cannot yet load dates, binary, sets or 4300-digit
# integers from a stack file (see test_stack_file_loading_fails_cleanly below).
@PROFILE
@given(config=mutated_configs(), rng=st.randoms(use_true_random=False))
def test_yaml_anchors_aliases_and_merge_keys_change_nothing(
    config: dict[str, Any], rng: Any
) -> None:
    plain = YamlWriter(rng, aliases=False).document(config)
    aliased = YamlWriter(rng, aliases=True).document(config)
    event(f"aliases used: {min(aliased.count('*'), 5)}+")

    expected = outcome(_load_stack_text(plain))
    got = outcome(_load_stack_text(aliased))

    assert _same(got, expected), f"{aliased}\ngot: {got}\nexpected: {expected}"


def _nested(depth: int, kind: str) -> str:
    if kind == "seq":
        return "[" * depth + "x" + "]" * depth
    return "{a: " * depth + "x" + "}" * depth


@PROFILE
@given(
    key=st.sampled_from(KNOWN_KEYS),
    depth=st.integers(0, 300),
    kind=st.sampled_from(["seq", "map"]),
)
def test_deep_nesting_in_yaml(key: str, depth: int, kind: str) -> None:
    document = yaml.safe_load(f"{key}: {_nested(depth, kind)}\n")

    result = outcome(document)

    if depth > MAX_DEPTH:
        assert isinstance(result, ConfigError)
        assert result.problems == [
            f"{key}: got values nested more than {MAX_DEPTH} deep; allowed: at most {MAX_DEPTH}"
        ]


def _alias_bomb(key: str, levels: int, width: int) -> str:
    """A "billion laughs": `width ** levels` strings once expanded, in a few hundred bytes."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    lines.append(f"{key}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


@PROFILE
@given(
    key=st.sampled_from(KNOWN_KEYS),
    levels=st.integers(1, 12),
    width=st.integers(1, 12),
)
def test_alias_bombs_are_refused_quickly(key: str, levels: int, width: int) -> None:
    with time_limit(CASE_SECONDS):
        document = yaml.safe_load(_alias_bomb(key, levels, width))
    raw = {key: document[key]}
    values = sum(width**level for level in range(levels + 1))  # the lists, then the strings
    too_many = values > MAX_VALUES
    event("expands past MAX_VALUES" if too_many else "expands within MAX_VALUES")

    result = outcome(raw)

    refused_for_size = isinstance(result, ConfigError) and result.problems[0].startswith(
        f"{key}: got more than {MAX_VALUES} values"
    )
    assert refused_for_size == too_many, result


@PROFILE
@given(key=st.sampled_from(KNOWN_KEYS), kind=st.sampled_from(["&a [*a]", "&a {k: *a}"]))
def test_self_referencing_yaml_is_refused(key: str, kind: str) -> None:
    raw = yaml.safe_load(f"{key}: {kind}\n")

    result = outcome(raw)

    assert isinstance(result, ConfigError)
    assert result.problems == [
        f"{key}: got values nested more than {MAX_DEPTH} deep; allowed: at most {MAX_DEPTH}"
    ]


# stack_config.load_stack_file on hostile documents: StackFileError or config, quickly. The second
# element names what each case exercises.
BOMB = _alias_bomb(f"{NAMESPACE}:services", 10, 10).replace("\n", "\n  ")
STACK_FILES = {
    "dates stay values": ("config:\n  deploypaths:owner: 2024-01-01\n", "json: date"),
    "binary": ("config:\n  deploypaths:owner: !!binary aGVsbG8=\n", "json: bytes"),
    "set": ("config:\n  deploypaths:owner: !!set {a, b}\n", "json: set"),
    "huge integer": (f"config:\n  deploypaths:bake_minutes: {'9' * 5000}\n", "int digits"),
    "self-reference": ("config:\n  deploypaths:services: &a [*a]\n", "recursion"),
    "deep nesting": (f"config:\n  deploypaths:services: {'[' * 3000}{']' * 3000}\n", "recursion"),
    "tabs": ("config:\n\tdeploypaths:owner: x\n", None),
    "two documents": ("config: {}\n---\nconfig: {}\n", None),
    "not a mapping": ("- config\n", None),
}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            text,
            id=name,
            marks=[],
        )
        for name, (text, why) in STACK_FILES.items()
    ],
)
def test_stack_file_loading_fails_cleanly(text: str) -> None:
    with time_limit(CASE_SECONDS):
        try:
            raw = _load_stack_text(text)
        except StackFileError as error:
            assert str(error).count("\n") < 10
            return
    outcome(raw)


def test_stack_file_alias_bomb_is_refused_quickly() -> None:
    """In a child process capped at 128 MiB and 3 s: unbounded, this one fills memory."""
    script = textwrap.dedent(
        """
        import resource, sys, tempfile
        from pathlib import Path
        resource.setrlimit(resource.RLIMIT_AS, (1 << 27, 1 << 27))
        from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
        from deploypaths.validation import ConfigError, parse_settings
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "Pulumi.bomb.yaml"
            path.write_text(sys.stdin.read())
            try:
                parse_settings(namespace_values(load_stack_file(path, Path.cwd())), stack="bomb")
            except (StackFileError, ConfigError):
                sys.exit(0)
        sys.exit(1)
        """
    )
    try:
        child = subprocess.run(
            [sys.executable, "-c", script],
            input=f"config:\n  {BOMB}",
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=3,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("loading a 1 KB alias bomb ran past 3 s")
    assert child.returncode == 0, child.stderr[-2000:]


# --- (e) `after` graphs with cycles ----------------------------------------------------------


@st.composite
def after_graphs(draw: st.DrawFn) -> dict[str, list[str]]:
    count = draw(st.integers(1, 12))
    names = [f"s{index}" for index in range(count)]
    edges = draw(
        st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=3 * count)
    )
    graph: dict[str, list[str]] = {name: [] for name in names}
    for waiter, waited in edges:
        graph[waiter].append(waited)
    return graph


@PROFILE
@given(graph=after_graphs())
def test_after_cycles_are_real_cycles(graph: dict[str, list[str]]) -> None:
    config = {
        "regions": [{"name": "us-east-1"}, {"name": "eu-west-1"}],
        "services": [
            {"name": name, "image": f"registry.example.com/x/{name}:1", "after": after}
            for name, after in graph.items()
        ],
    }
    without_self = {name: {n for n in after if n != name} for name, after in graph.items()}
    cyclic = _has_cycle(without_self)
    event("cyclic" if cyclic else "acyclic")

    result = outcome(config)

    problems = result.problems if isinstance(result, ConfigError) else []
    prefix = "services.after: services wait for each other in a cycle: "
    cycles = [problem[len(prefix) :].split(" -> ") for problem in problems if prefix in problem]
    assert len(cycles) == int(cyclic), problems
    for cycle in cycles:
        assert cycle[0] == cycle[-1] and len(cycle) >= 3, cycle
        assert len(set(cycle[:-1])) == len(cycle) - 1, f"not a simple cycle: {cycle}"
        for waiter, waited in zip(cycle, cycle[1:], strict=False):
            assert waited in graph[waiter], f"{waiter} does not wait for {waited}: {cycle}"
    loops = [name for name, after in graph.items() for other in after if other == name]
    assert sum("cannot wait for itself" in problem for problem in problems) == len(loops)
    assert isinstance(result, Settings) == (not cyclic and not loops)


# --- the whole program: refused configs register nothing -------------------------------------


@settings(PROFILE, max_examples=max(5, EXAMPLES // 20), deadline=timedelta(seconds=10))
@given(config=mutated_configs(min_mutations=1))
def test_the_program_registers_nothing_for_a_refused_config(config: dict[str, Any]) -> None:
    try:
        parse_settings(config, stack=STACK)
    except ConfigError:
        event("refused: run through the program")
        with time_limit(HUGE_CASE_SECONDS):
            assert_refused_with_nothing_registered(config, STACK)
    else:
        event("validated: not run (the valid path is the program tests' job)")
