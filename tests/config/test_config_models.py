"""The settings models on their own: frozen and closed, region overrides typed, secrets kept
out of sight, and dumps that keep release fingerprints and the config's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deploypaths.config.problems import key_path, show
from deploypaths.config.settings import (
    OVERRIDABLE_SERVICE_FIELDS,
    Flag,
    MigrationDown,
    Service,
    ServiceOverride,
    Settings,
    Verify,
)
from deploypaths.naming import wave_release
from deploypaths.stack_config import load_stack_file, namespace_values
from deploypaths.validation import KNOWN_KEYS, ConfigError, parse_settings
from ops.config_diff import release_override

PROJECT_DIR = Path(__file__).resolve().parents[2]
BLUE = "registry.example.com/shop/auth:3.2.0"
GREEN = "registry.example.com/shop/auth:3.3.0"
BLUE_GREEN_SERVICE: dict[str, Any] = {
    "name": "auth",
    "image": BLUE,
    "strategy": "blue-green",
    "blue_green": {"active": "green", "blue": {"image": BLUE}, "green": {"image": GREEN}},
    "flags": {"new-login": {"enabled": True, "rollout_percent": 20}},
}


def stack_settings(stack: str) -> Settings:
    flat = load_stack_file(PROJECT_DIR / f"Pulumi.{stack}.yaml", PROJECT_DIR)
    return parse_settings(namespace_values(flat), stack=stack)


# Each wave's release fingerprint as computed before the settings became pydantic models (from
# frozen dataclasses and `dataclasses.asdict`): a changed one would make existing stacks show a
# change on their health gates.
FINGERPRINTS = {
    "dev": ["0b53b64a"],
    "prod": ["b6a0f103", "a3417a69"],
    "local": ["10d714a1", "b3a99b23"],
}


@pytest.mark.parametrize("stack", sorted(FINGERPRINTS))
def test_release_fingerprints_of_the_stack_files_are_unchanged(stack: str) -> None:
    settings = stack_settings(stack)

    fingerprints = [wave_release(settings, wave) for wave in range(len(settings.waves))]

    assert fingerprints == FINGERPRINTS[stack]


def test_a_service_dumps_as_its_dataclass_did() -> None:
    """`naming.service_release` hashes this dump: flat blue-green fields, flags with names."""
    service = Service.model_validate(BLUE_GREEN_SERVICE)

    assert service.model_dump() == {
        "name": "auth",
        "image": BLUE,
        "replicas": 2,
        "port": 8080,
        "regions": (),
        "requires": (),
        "after": (),
        "strategy": "blue-green",
        "canary": None,
        "blue_green": {
            "active": "green",
            "blue_image": BLUE,
            "green_image": GREEN,
            "blue_replicas": None,
            "green_replicas": None,
        },
        "flags": ({"name": "new-login", "enabled": True, "rollout_percent": 20},),
        "cpu": "250m",
        "memory": "256Mi",
        "health_path": "/healthz",
        "read_only_root_filesystem": True,
        "service_account_token": False,
    }


def test_a_release_override_is_the_config_shape_and_validates_back() -> None:
    service = Service.model_validate(BLUE_GREEN_SERVICE)

    override = release_override(service)

    assert override == {
        "image": BLUE,
        "replicas": 2,
        "strategy": "blue-green",
        "blue_green": {"active": "green", "blue": {"image": BLUE}, "green": {"image": GREEN}},
    }
    plain = service.model_copy(update={"strategy": "rolling", "blue_green": None})
    assert ServiceOverride.model_validate(override).applied_to(plain) == service


def test_region_overrides_are_typed_and_applied_to_that_region_only() -> None:
    raw = {
        "regions": [
            {"name": "us-east-1"},
            {"name": "eu-west-1", "overrides": {"auth": {"image": GREEN, "replicas": 5}}},
        ],
        "services": [{"name": "auth", "image": BLUE, "replicas": 3}],
    }

    settings = parse_settings(raw, stack="dev")

    override = settings.region("eu-west-1").overrides["auth"]
    assert isinstance(override, ServiceOverride)
    assert (override.image, override.replicas, override.strategy) == (GREEN, 5, None)
    (pinned,) = settings.services_in("eu-west-1")
    (unpinned,) = settings.services_in("us-east-1")
    assert (pinned.image, pinned.replicas) == (GREEN, 5)
    assert (unpinned.image, unpinned.replicas) == (BLUE, 3)
    assert set(ServiceOverride.model_fields) == set(OVERRIDABLE_SERVICE_FIELDS)


def test_a_service_built_in_code_takes_its_flags_as_a_tuple() -> None:
    flag = Flag(name="new-login", enabled=True)

    service = Service(name="auth", image=BLUE, flags=(flag,))

    assert service.flags == (flag,)
    assert service.flag_values == {"new-login": {"enabled": True, "rollout_percent": 100}}


def test_settings_are_frozen() -> None:
    settings = stack_settings("dev")

    with pytest.raises(ValidationError, match="frozen"):
        settings.owner = "someone else"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        settings.services[0].replicas = 9  # type: ignore[misc]


def test_a_model_built_in_code_refuses_unknown_fields() -> None:
    with pytest.raises(
        ValidationError, match=r"replica\n  unknown key \(did you mean 'replicas'\?\)"
    ):
        Service(name="auth", image=BLUE, replica=3)  # type: ignore[call-arg]


def test_secrets_stay_out_of_reprs_and_dumps() -> None:
    raw = {
        "regions": [{"name": "us-east-1"}],
        "services": [{"name": "auth", "image": BLUE}],
        "database": {"mode": "external"},
        "database_urls": {"us-east-1": "postgres://app:hunter2@db/app"},
    }

    settings = parse_settings(raw, stack="dev")

    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    assert settings.database_urls["us-east-1"] == "postgres://app:hunter2@db/app"


def test_the_stack_is_not_a_config_key() -> None:
    raw = {
        "regions": [{"name": "us-east-1"}],
        "services": [{"name": "auth", "image": BLUE}],
        "stack": "other",
    }

    with pytest.raises(ConfigError) as refused:
        parse_settings(raw, stack="dev")
    assert refused.value.problems == [f"stack: unknown key; allowed keys: {', '.join(KNOWN_KEYS)}"]
    assert (
        parse_settings({k: v for k, v in raw.items() if k != "stack"}, stack="dev").stack == "dev"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("café", "'café'"),
        ("名前", "'名前'"),
        ("orders\u202e", "'orders\\u202e'"),
        ("a\u2028b\x1b[31m", "'a\\u2028b\\x1b[31m'"),
        ("zero\u200bwidth", "'zero\\u200bwidth'"),
    ],
)
def test_letters_show_as_they_are_and_invisible_characters_escaped(value: str, shown: str) -> None:
    assert show(value) == shown


def test_a_key_path_names_the_entry_as_written() -> None:
    raw = {"services": [{"name": "auth"}, {"name": "payments"}, {"name": 42}, {"name": "Pay"}]}

    assert key_path(("services", 1, "requires", 0), raw) == "services[1] (payments).requires[0]"
    assert key_path(("services", 1, "name"), raw) == "services[1].name"
    assert key_path(("services", 2, "image"), raw) == "services[2].image"
    assert key_path(("services", 3, "image"), raw) == "services[3].image"
    assert key_path(("services", "after"), raw) == "services.after"


def test_verify_and_down_change_fingerprints_only_where_they_run() -> None:
    settings = stack_settings("local")
    service = settings.services[0]
    verified = service.model_copy(
        update={"verify": Verify(image="registry.example.com/shop/smoke:1")}
    )

    assert "verify" not in service.model_dump()
    assert verified.model_dump()["verify"] == {
        "image": "registry.example.com/shop/smoke:1",
        "args": (),
    }
    # A declared `down` changes no wave; a region that runs it changes its own wave only.
    migrations = tuple(
        m.model_copy(update={"down": MigrationDown(image=f"{m.image}-down")})
        for m in settings.migrations
    )
    declared = settings.model_copy(update={"migrations": migrations})
    before = [wave_release(settings, w) for w in range(len(settings.waves))]
    assert [wave_release(declared, w) for w in range(len(settings.waves))] == before
    first = settings.waves[0][0]
    regions = tuple(
        r.model_copy(update={"down_migrations": (migrations[0].name,)}) if r.name == first else r
        for r in settings.regions
    )
    undone = declared.model_copy(update={"regions": regions})
    after = [wave_release(undone, w) for w in range(len(settings.waves))]
    assert after[0] != before[0]
    assert after[1:] == before[1:]
