"""The pack as the engine loads it: its policy list, its entry point and its configs."""

from __future__ import annotations

import json
import re
import runpy
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pulumi_policy
import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from policy.guardrails.pack import PACK_NAME, build_policies

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"


def load_config(environment: str) -> dict[str, Any]:
    return json.loads((POLICY_DIR / "config" / f"{environment}.json").read_text())


# --- the policy list -------------------------------------------------------------------------


def test_pack_has_the_seven_policies() -> None:
    assert [p.name for p in build_policies()] == [
        "database-hardening",
        "container-images-pinned",
        "container-resources-and-probes",
        "required-tags",
        "stateful-resources-protected",
        "alarms-notify-regional-topic",
        "paths-have-owners",
    ]


def test_every_policy_is_named_in_kebab_case_and_described() -> None:
    for policy in build_policies():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+", policy.name), policy.name
        assert len(policy.description) > 40, policy.name
        assert policy.enforcement_level is None, f"{policy.name}: level belongs to the config"


def test_only_the_alarm_policy_looks_at_the_whole_stack() -> None:
    stack = [p.name for p in build_policies() if isinstance(p, StackValidationPolicy)]
    assert stack == ["alarms-notify-regional-topic"]


def test_pack_name_is_accepted_by_pulumi_policy() -> None:
    assert re.fullmatch(r"[a-zA-Z0-9-_.]{1,100}", PACK_NAME)


def test_main_builds_the_pack_from_the_policy_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs `policy/__main__.py` as the engine does, with PolicyPack (which serves) recorded."""
    built: dict[str, Any] = {}

    def record(**kwargs: Any) -> None:
        built.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", record)
    monkeypatch.chdir(POLICY_DIR)
    # `__main__` may add the repository root to sys.path; the copy is restored afterwards.
    monkeypatch.setattr(sys, "path", list(sys.path))
    # A directory: runpy puts it first on sys.path, like `python -m pulumi.policy <addr> .`.
    runpy.run_path(".", run_name="__main__")
    assert built["name"] == PACK_NAME
    assert [p.name for p in built["policies"]] == [p.name for p in build_policies()]
    assert built["enforcement_level"] is EnforcementLevel.MANDATORY


# --- the configs -----------------------------------------------------------------------------


def enforcement_levels(config: dict[str, Any]) -> dict[str, str]:
    """Each entry's level, in either of the two shapes `--policy-pack-config` accepts."""
    return {
        name: entry if isinstance(entry, str) else entry.get("enforcementLevel")
        for name, entry in config.items()
    }


# Staging enforces what prod does: a commit promoted to prod meets no policy there first.
@pytest.mark.parametrize(
    ("environment", "level"),
    [("prod", "mandatory"), ("staging", "mandatory"), ("dev", "advisory")],
)
def test_config_sets_every_policy_of_the_pack(environment: str, level: str) -> None:
    levels = enforcement_levels(load_config(environment))
    names = {p.name for p in build_policies()}
    assert set(levels) == names, f"config/{environment}.json names exactly the pack's policies"
    wrong = {name: got for name, got in levels.items() if got != level}
    assert wrong == {}, f"config/{environment}.json must make every policy {level}"


@pytest.mark.parametrize("environment", ["prod", "staging", "dev"])
def test_config_satisfies_each_policys_schema(environment: str) -> None:
    """The engine validates each policy's config against its schema before configuring."""
    config = load_config(environment)
    for policy in build_policies():
        properties = dict(policy.config_schema.properties) if policy.config_schema else {}
        # The engine adds enforcementLevel to every schema and lifts it out of the object.
        properties["enforcementLevel"] = {
            "type": "string",
            "enum": ["advisory", "mandatory", "remediate", "disabled"],
        }
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        entry = config[policy.name]
        document = {"enforcementLevel": entry} if isinstance(entry, str) else entry
        jsonschema.validate(document, schema)


@pytest.mark.parametrize("environment", ["prod", "staging"])
def test_prod_config_protects_the_prod_environment(environment: str) -> None:
    entry = load_config(environment)["stateful-resources-protected"]
    assert entry["protectedEnvironments"] == ["prod"]
