"""The policy pack's rules against what the program really registers: prod passes every
mandatory policy, so a deploy is never blocked by the program's own resources."""

from __future__ import annotations

from ops.mock_run import Recording
from policy.guardrails import rules


def resource_violations(recording: Recording) -> list[str]:
    found = []
    for r in recording.registrations.values():
        if not r.custom:
            continue
        found += rules.database_violations(r.type, r.name, r.inputs)
        found += rules.image_violations(r.type, r.name, r.inputs)
        found += rules.workload_resource_violations(r.type, r.name, r.inputs)
        found += rules.protection_violations(r.type, r.name, r.inputs, protect=r.protect)
        if rules.is_taggable(r.type, r.inputs):
            found += rules.tag_violations(r.type, r.name, r.inputs)
    return found


def test_prod_passes_every_resource_policy(prod):
    assert resource_violations(prod) == []


def test_every_taggable_aws_resource_is_tagged(prod):
    taggable = [r for r in prod.registrations.values() if rules.is_taggable(r.type, r.inputs)]
    assert len(taggable) > 100
    assert all("tags" in r.inputs for r in taggable), [
        r.name for r in taggable if "tags" not in r.inputs
    ]


def test_prod_alarms_all_notify_their_regions_topic(prod):
    registrations = prod.registrations
    resources = [
        rules.StackResource(
            resource_type=r.type,
            name=r.name,
            urn=r.urn,
            props=r.outputs,
            provider_props=registrations[r.provider].inputs if r.provider in registrations else {},
        )
        for r in registrations.values()
        if r.custom
    ]
    composite = [r for r in resources if r.resource_type == rules.COMPOSITE_ALARM]
    assert len(composite) >= 15
    assert rules.alarm_wiring_violations(resources) == []
