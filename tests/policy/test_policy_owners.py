"""paths-have-owners: every Deployment and Job of a deploy path carries its owner team and its
approvers; workloads that are not part of deploypaths are left alone."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.guardrails import paths_have_owners as owners
from policy.guardrails.props import UNKNOWN
from tests.support.policy_args import validate_resource

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
PART_OF = {"app.kubernetes.io/part-of": "deploypaths"}
OWNED_LABELS = {**PART_OF, "deploypaths/owner": "payments"}
APPROVERS = {"deploypaths/approvers": "@acme/payments-leads,alice@example.com"}
FIX = (
    "give the path an `owner` (a team and its approvers) in the stack config, which labels it "
    '"deploypaths/owner" and annotates it "deploypaths/approvers"'
)


def workload(labels: Any, annotations: Any = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "payments", "namespace": "app", "labels": labels}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": {}}


@pytest.mark.parametrize("resource_type", [DEPLOYMENT, JOB])
def test_an_owned_deployment_or_job_passes(resource_type: str) -> None:
    props = workload(OWNED_LABELS, APPROVERS)
    assert owners.violations(resource_type, "use1-payments", props) == []


@pytest.mark.parametrize("resource_type", [DEPLOYMENT, JOB])
def test_a_path_without_owner_or_approvers_names_both(resource_type: str) -> None:
    props = workload(PART_OF)
    assert owners.violations(resource_type, "use1-payments", props) == [
        f'{resource_type} "use1-payments" is part of deploypaths but has no label '
        '"deploypaths/owner" (not set) and no annotation "deploypaths/approvers" (not set); ' + FIX
    ]


@pytest.mark.parametrize(
    ("labels", "annotations", "missing"),
    [
        (PART_OF, APPROVERS, 'label "deploypaths/owner" (not set)'),
        ({**PART_OF, "deploypaths/owner": " "}, APPROVERS, 'label "deploypaths/owner" (" ")'),
        (OWNED_LABELS, None, 'annotation "deploypaths/approvers" (not set)'),
        (OWNED_LABELS, {}, 'annotation "deploypaths/approvers" (not set)'),
        (
            OWNED_LABELS,
            {"deploypaths/approvers": ""},
            'annotation "deploypaths/approvers" ("")',
        ),
        (
            OWNED_LABELS,
            {"deploypaths/approvers": " , "},
            'annotation "deploypaths/approvers" (" , ")',
        ),
    ],
)
def test_what_is_missing_is_named(labels: Any, annotations: Any, missing: str) -> None:
    props = workload(labels, annotations)
    assert owners.violations(DEPLOYMENT, "euw1-orders", props) == [
        f'{DEPLOYMENT} "euw1-orders" is part of deploypaths but has no {missing}; {FIX}'
    ]


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"app.kubernetes.io/part-of": "someone-else"},
        {"app": "payments"},
        UNKNOWN,
    ],
)
def test_workloads_outside_deploypaths_or_unknown_are_not_flagged(labels: Any) -> None:
    assert owners.violations(DEPLOYMENT, "other", workload(labels)) == []


def test_values_unknown_at_preview_are_not_flagged() -> None:
    labels = {**PART_OF, "deploypaths/owner": UNKNOWN}
    assert owners.violations(JOB, "use1-migrate", workload(labels, UNKNOWN)) == []
    assert (
        owners.violations(JOB, "use1-migrate", workload(labels, {"deploypaths/approvers": UNKNOWN}))
        == []
    )


def test_other_kinds_are_outside_this_policy() -> None:
    for resource_type in (
        "kubernetes:batch/v1:CronJob",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:core/v1:Service",
    ):
        assert owners.violations(resource_type, "x", workload(PART_OF)) == [], resource_type


def test_served_by_the_pack_as_the_engine_runs_it() -> None:
    reported = validate_resource("paths-have-owners", JOB, "use1-migrate", workload(PART_OF))
    assert reported == [
        (
            f'{JOB} "use1-migrate" is part of deploypaths but has no label "deploypaths/owner" '
            f'(not set) and no annotation "deploypaths/approvers" (not set); {FIX}',
            None,
        )
    ]


def test_unknown_props_from_the_engine_are_skipped() -> None:
    props = workload(OWNED_LABELS, {"deploypaths/approvers": UNKNOWN_STRING_VALUE})
    assert validate_resource("paths-have-owners", DEPLOYMENT, "use1-payments", props) == []
