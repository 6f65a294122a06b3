"""A state from before the path components started with their region's name, renamed in the
state alone (`ops.state_names`), which a targeted update needs first."""

from __future__ import annotations

from ops.state_names import with_current_names
from tests.support.former_names import with_former_path_names
from tests.support.ops_fixtures import PATHS, checkpoint


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
