"""A state from before the path components started with their region's name, renamed in the
state alone (`ops.state_names`), which a targeted update needs first."""

from __future__ import annotations

from deploypaths.identity import SERVICE_PATH
from ops.state_names import with_current_names
from tests.support.former_names import with_former_path_names
from tests.support.ops_fixtures import PATHS, PROD, REGION, SERVICE, checkpoint


def test_every_former_path_urn_gets_todays_name_wherever_it_appears():
    today = {"resources": checkpoint()}
    for resource in today["resources"]:
        if resource.get("parent"):
            resource["dependencies"] = [resource["parent"]]
            resource["outputs"] = {"component": {"urn": resource["parent"]}}
    before = with_former_path_names(today)
    assert before != today
    renamed, count = with_current_names(before)
    assert renamed == today
    # Each service path: its component, its Deployment and its Service.
    assert count == sum(len(services) for services in PATHS.values()) * 3


def test_a_state_with_todays_names_stays_as_it_is():
    today = {"resources": checkpoint()}
    assert with_current_names(today) == (today, 0)


def test_a_service_named_after_a_region_is_read_by_its_components_parent():
    """`us-east-1-bridge-eu-west-1` was the service `us-east-1-bridge` in eu-west-1: its name
    starts with a region code too, so only its parent RegionPath says which region it is in."""
    region = f"{PROD}{REGION}::eu-west-1"
    bridge = f"{PROD}{SERVICE}::{{}}"
    child = f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::{{}}-deployment"

    def state(component: str) -> dict:
        return {
            "resources": [
                {"urn": f"{PROD}{REGION}::us-east-1", "type": REGION},
                {"urn": region, "type": REGION},
                {"urn": bridge.format(component), "type": SERVICE_PATH, "parent": region},
                {
                    "urn": child.format(component),
                    "type": "kubernetes:apps/v1:Deployment",
                    "parent": bridge.format(component),
                    "dependencies": [bridge.format(component)],
                },
            ]
        }

    today = state("eu-west-1-us-east-1-bridge")
    assert with_current_names(state("us-east-1-bridge-eu-west-1")) == (today, 2)
    assert with_current_names(today) == (today, 0)
