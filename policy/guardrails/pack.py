"""The deploypaths-guardrails pack: its name, its default enforcement and its policies."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from . import (
    alarms_notify_regional_topic,
    container_images_pinned,
    container_resources_and_probes,
    database_hardening,
    paths_have_owners,
    required_tags,
    stateful_resources_protected,
)

PACK_NAME = "deploypaths-guardrails"
# Without a --policy-pack-config the pack fails closed; config/dev.json relaxes it to advisory.
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY


def build_policies() -> list[Policy]:
    """Every policy of the pack; `__main__` serves them, tests inspect them without serving."""
    return [
        database_hardening.policy(),
        container_images_pinned.policy(),
        container_resources_and_probes.policy(),
        required_tags.policy(),
        stateful_resources_protected.policy(),
        alarms_notify_regional_topic.policy(),
        paths_have_owners.policy(),
    ]
