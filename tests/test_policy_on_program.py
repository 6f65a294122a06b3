"""The policy pack's rules against what the program really registers: prod passes every
mandatory policy, so a deploy is never blocked by the program's own resources."""

from __future__ import annotations

from deploypaths.recording import Recording
from policy.guardrails import (
    alarms_notify_regional_topic,
    container_images_pinned,
    container_resources_and_probes,
    database_hardening,
    required_tags,
    stateful_resources_protected,
)
from policy.guardrails.props import COMPOSITE_ALARM


def resource_violations(recording: Recording) -> list[str]:
    found = []
    for r in recording.registrations.values():
        if not r.custom:
            continue
        found += database_hardening.violations(r.type, r.name, r.inputs)
        found += container_images_pinned.violations(r.type, r.name, r.inputs)
        found += container_resources_and_probes.violations(r.type, r.name, r.inputs)
        found += stateful_resources_protected.violations(
            r.type, r.name, r.inputs, protect=r.protect
        )
        if required_tags.is_taggable(r.type, r.inputs):
            found += required_tags.violations(r.type, r.name, r.inputs)
    return found


def test_prod_passes_every_resource_policy(prod):
    assert resource_violations(prod) == []


def test_every_taggable_aws_resource_is_tagged(prod):
    taggable = [
        r for r in prod.registrations.values() if required_tags.is_taggable(r.type, r.inputs)
    ]
    assert len(taggable) > 100
    assert all("tags" in r.inputs for r in taggable), [
        r.name for r in taggable if "tags" not in r.inputs
    ]


def test_prod_alarms_all_notify_their_regions_topic(prod):
    registrations = prod.registrations
    resources = [
        alarms_notify_regional_topic.StackResource(
            resource_type=r.type,
            name=r.name,
            urn=r.urn,
            props=r.outputs,
            provider_props=registrations[r.provider].inputs if r.provider in registrations else {},
        )
        for r in registrations.values()
        if r.custom
    ]
    composite = [r for r in resources if r.resource_type == COMPOSITE_ALARM]
    assert len(composite) >= 15
    assert alarms_notify_regional_topic.violations(resources) == []
