"""Before a path rollback's targeted update, what outside the targets waits for their workloads
lets go of them in the state (`ops.rollback.holds`): the engine keeps whatever an untargeted
resource's recorded dependencies name, so a canary the old release lacks would stay."""

from __future__ import annotations

import copy

from ops.rollback.holds import without_holds
from tests.support.ops_fixtures import PROD

REGION = f"{PROD}deploypaths:index:RegionPath"
ORDERS = f"{REGION}$deploypaths:index:ServicePath"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STABLE = f"{ORDERS}${DEPLOYMENT}::us-east-1-orders-deployment"
CANARY = f"{ORDERS}${DEPLOYMENT}::us-east-1-orders-canary-deployment"
SERVICE = f"{ORDERS}$kubernetes:core/v1:Service::us-east-1-orders-service"
ELSEWHERE = f"{ORDERS}${DEPLOYMENT}::eu-west-1-orders-deployment"
BARRIER = f"{REGION}$pulumi-python:dynamic:Resource::us-east-1-services-ready"
CHECKOUT = f"{ORDERS}${DEPLOYMENT}::us-east-1-checkout-deployment"
ALARM = f"{REGION}$aws:cloudwatch/compositeAlarm:CompositeAlarm::us-east-1-health"
TARGETS = [f"{ORDERS}::us-east-1-orders", STABLE, SERVICE, f"{ORDERS}$**::us-east-1-orders-*"]


def state() -> dict:
    return {
        "manifest": {"version": "3.259.0"},
        "resources": [
            {"urn": STABLE, "type": DEPLOYMENT, "dependencies": [ELSEWHERE]},
            {"urn": CANARY, "type": DEPLOYMENT},
            {"urn": SERVICE, "type": "kubernetes:core/v1:Service"},
            {"urn": ELSEWHERE, "type": DEPLOYMENT},
            {"urn": BARRIER, "dependencies": [STABLE, CANARY, ELSEWHERE]},
            {
                "urn": CHECKOUT,
                "type": DEPLOYMENT,
                "dependencies": [CANARY, ELSEWHERE],
                "propertyDependencies": {"metadata": [STABLE], "spec": [CANARY, SERVICE]},
            },
            # Not a workload of the targets: an AWS alarm deletes only after what names it.
            {"urn": ALARM, "dependencies": [SERVICE]},
        ],
    }


def by_urn(deployment: dict) -> dict[str, dict]:
    return {r["urn"]: r for r in deployment["resources"]}


def test_what_waits_for_a_targeted_workload_lets_go_of_it_and_of_nothing_else():
    before = state()
    after, holders = without_holds(before, TARGETS)
    assert holders == [BARRIER, CHECKOUT]
    resources = by_urn(after)
    assert resources[BARRIER]["dependencies"] == [ELSEWHERE]
    assert resources[CHECKOUT]["dependencies"] == [ELSEWHERE]
    assert resources[CHECKOUT]["propertyDependencies"] == {"metadata": [], "spec": [SERVICE]}
    # The targets' own dependencies, what holds no targeted workload, and the rest of the state.
    for urn in (STABLE, CANARY, SERVICE, ELSEWHERE, ALARM):
        assert resources[urn] == by_urn(state())[urn], urn
    assert [r["urn"] for r in after["resources"]] == [r["urn"] for r in state()["resources"]]
    assert after["manifest"] == before["manifest"]
    assert before == state(), "the exported state is not changed in place"


def test_only_what_the_update_targets_is_let_go_of():
    # Without the pattern for the path's children the canary is not targeted: it stays waited for.
    after, holders = without_holds(state(), TARGETS[:-1])
    assert by_urn(after)[BARRIER]["dependencies"] == [CANARY, ELSEWHERE]
    assert holders == [BARRIER, CHECKOUT]


def test_a_state_where_nothing_holds_the_targets_stays_as_it_is():
    unheld = copy.deepcopy(state())
    unheld["resources"] = [r for r in unheld["resources"] if r["urn"] not in (BARRIER, CHECKOUT)]
    assert without_holds(unheld, TARGETS) == (unheld, [])
