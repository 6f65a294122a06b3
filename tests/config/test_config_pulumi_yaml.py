"""Pulumi.yaml's `config:` block against the models: the same keys, the same secrets, defaults
that change nothing, and the defaults its descriptions quote are the models' own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from deploypaths.config.problems import config_keys
from deploypaths.config.settings import Settings
from deploypaths.stack_config import OPS_KEYS
from deploypaths.validation import KNOWN_KEYS, NAMESPACE, parse_settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
BLOCK: dict[str, Any] = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
MINIMAL = {
    "regions": [{"name": "us-east-1"}],
    "services": [{"name": "auth", "image": "registry.example.com/shop/auth:3.2.0"}],
}


def spec(key: str) -> dict[str, Any]:
    return BLOCK[f"{NAMESPACE}:{key}"]  # type: ignore[no-any-return]


def test_the_block_declares_every_key_of_the_model_in_its_order() -> None:
    # The ops commands' own keys come last; the program never sees them.
    assert list(BLOCK) == [f"{NAMESPACE}:{key}" for key in (*KNOWN_KEYS, *OPS_KEYS)]
    assert config_keys(Settings) == KNOWN_KEYS


def test_secret_keys_are_the_models_secret_fields() -> None:
    secret_fields = {
        field.alias or name
        for name, field in Settings.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
    }

    assert {key for key in KNOWN_KEYS if spec(key).get("secret")} == secret_fields


def test_a_default_is_declared_for_every_key_the_model_has_one_for() -> None:
    with_default = {
        field.alias or name
        for name, field in Settings.model_fields.items()
        if not field.is_required()
    }

    assert {key for key in KNOWN_KEYS if "default" in spec(key)} == with_default


def test_the_declared_defaults_change_nothing() -> None:
    """The engine passes Pulumi.yaml's defaults for unset keys: they must mean the models'."""
    defaults = {key: spec(key)["default"] for key in KNOWN_KEYS if "default" in spec(key)}
    # As the engine hands them over: JSON-encoded, then decoded by the program.
    passed = {key: json.loads(json.dumps(value)) for key, value in defaults.items()}

    assert parse_settings({**MINIMAL, **passed}, stack="dev") == parse_settings(
        MINIMAL, stack="dev"
    )


def _examples(description: str) -> list[dict[str, Any]]:
    """The `{key: value, ...}` examples a description quotes, as YAML reads them."""
    found = []
    for text in re.findall(r"`(\{.*?\})`", description):
        example = yaml.safe_load(text)
        if isinstance(example, dict):
            found.append(example)
    return found


def _quoted_defaults(example: dict[str, Any], model: type[BaseModel], path: str) -> list[str]:
    """Mismatches between an example's keys and values and the model's keys and defaults."""
    wrong = []
    keys = config_keys(model)
    if set(example) != set(keys):
        wrong.append(f"{path}: documents {sorted(example)}, the model reads {sorted(keys)}")
    for key, value in example.items():
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == key), None)
        if field is None:
            continue
        annotation = field.annotation
        nested = next(
            (a for a in (annotation, *getattr(annotation, "__args__", ())) if _is_model(a)), None
        )
        if isinstance(value, dict) and nested is not None and "<" not in str(value):
            wrong += _quoted_defaults(value, nested, f"{path}.{key}")
        elif (
            isinstance(value, str | int | float | bool)
            and "|" not in str(value)
            and not field.is_required()
            and value != field.default
        ):
            wrong.append(f"{path}.{key}: documents {value!r}, the default is {field.default!r}")
    return wrong


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@pytest.mark.parametrize(
    "key", ["kubernetes", "database", "monitoring", "feature_flags", "migrations", "services"]
)
def test_the_defaults_a_description_quotes_are_the_models(key: str) -> None:
    field = next(f for n, f in Settings.model_fields.items() if (f.alias or n) == key)
    annotation = field.annotation
    model = next(a for a in (annotation, *getattr(annotation, "__args__", ())) if _is_model(a))
    (example,) = _examples(spec(key)["description"])

    assert _quoted_defaults(example, model, key) == []
