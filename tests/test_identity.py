"""A deploy path's identity: its names built and taken apart again, without running the program."""

from __future__ import annotations

import pytest

from deploypaths.identity import (
    PathIdentity,
    Urn,
    UrnError,
    barrier_id,
    component_of_child,
    flags_id,
    gate_name,
    gate_wave,
    id_region,
    is_flags_id,
    provider_urn,
    region_of_child,
    service_path_urn,
    stack_prefix,
    stack_urn,
    urn_key,
)

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


@pytest.mark.parametrize(
    ("path", "operator_id", "component"),
    [
        (PathIdentity("service", "orders", "eu-west-1"), "orders@eu-west-1", "orders-eu-west-1"),
        (
            PathIdentity("migration", "add-col", "us-east-1"),
            "add-col@us-east-1",
            "add-col-us-east-1",
        ),
        (PathIdentity.of_region("ap-southeast-2"), "ap-southeast-2", "ap-southeast-2"),
    ],
)
def test_a_path_formats_and_parses_back(path, operator_id, component):
    assert path.id == operator_id
    assert path.component_name == component
    assert (
        PathIdentity.parse_id(
            operator_id, kind="migration" if path.kind == "migration" else "service"
        )
        == path
    )
    if path.kind != "region":
        assert PathIdentity.parse_component_name(component, path.kind, REGIONS) == path


def test_a_component_name_splits_on_the_longest_known_region():
    # `svc-eu-west-1` also ends with `-west-1`; a known region wins over a shorter suffix.
    path = PathIdentity.parse_component_name("svc-eu-west-1", "service", ("west-1", "eu-west-1"))
    assert path == PathIdentity("service", "svc", "eu-west-1")


def test_a_component_of_a_region_the_configuration_dropped_splits_on_the_aws_code():
    path = PathIdentity.parse_component_name("orders-sa-east-1", "service", REGIONS)
    assert path == PathIdentity("service", "orders", "sa-east-1")
    assert PathIdentity.parse_component_name("orders", "service", REGIONS) is None


def test_children_belong_to_their_component_or_region():
    assert component_of_child("orders-eu-west-1-deployment", REGIONS) == "orders-eu-west-1"
    assert component_of_child("orders-deployment", REGIONS) is None
    assert region_of_child("eu-west-1-cluster", REGIONS) == "eu-west-1"
    assert region_of_child("payments-cluster", REGIONS) is None


def test_plan_ids_of_gates_barriers_and_regions():
    assert gate_wave(gate_name(3)) == 3
    assert barrier_id("eu-west-1-services-ready") == "services-ready@eu-west-1"
    assert barrier_id("eu-west-1-cluster") is None
    assert id_region("orders@eu-west-1", REGIONS) == "eu-west-1"
    assert id_region("gate-after-wave-1", REGIONS) is None


def test_urns_split_into_stack_project_type_chain_and_name():
    text = (
        "urn:pulumi:prod::deploypaths::deploypaths:index:RegionPath$deploypaths:index:ServicePath"
        "$kubernetes:apps/v1:Deployment::orders-eu-west-1-deployment"
    )
    urn = Urn.parse(text)
    assert urn.stack == "prod" and urn.project == "deploypaths"
    assert urn.types == (
        "deploypaths:index:RegionPath",
        "deploypaths:index:ServicePath",
        "kubernetes:apps/v1:Deployment",
    )
    assert urn.name == "orders-eu-west-1-deployment"
    assert urn.format() == text
    assert urn_key(text) == "kubernetes:apps/v1:Deployment::orders-eu-west-1-deployment"
    with pytest.raises(UrnError, match="not a Pulumi URN: 'orders-eu-west-1'"):
        Urn.parse("orders-eu-west-1")


def test_a_service_path_urn_names_its_region_path_parent():
    assert service_path_urn("prod", "deploypaths", "orders", "eu-west-1") == (
        "urn:pulumi:prod::deploypaths::deploypaths:index:RegionPath$"
        "deploypaths:index:ServicePath::orders-eu-west-1"
    )


def test_a_stacks_root_urn_and_prefix_are_what_its_resources_urns_start_with():
    root = stack_urn("prod-eu-west-1", "deploypaths")
    assert (
        root
        == "urn:pulumi:prod-eu-west-1::deploypaths::pulumi:pulumi:Stack::deploypaths-prod-eu-west-1"
    )
    assert Urn.parse(root).project == "deploypaths"
    assert root.startswith(stack_prefix("prod-eu-west-1"))
    assert provider_urn(f"{root}::0a1b") == root and provider_urn("") == ""


def test_a_regions_flags_have_a_plan_id_in_the_operators_form():
    assert flags_id("eu-west-1") == "flags@eu-west-1"
    assert is_flags_id(flags_id("eu-west-1")) and not is_flags_id("orders@eu-west-1")
    assert id_region(flags_id("eu-west-1"), REGIONS) == "eu-west-1"


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("orders@eu-west-1", "service", PathIdentity("service", "orders", "eu-west-1")),
        ("add-col@us-east-1", "migration", PathIdentity("migration", "add-col", "us-east-1")),
        ("eu-west-1", "service", PathIdentity("region", "eu-west-1", "eu-west-1")),
    ],
)
def test_an_operator_id_parses_to_the_kind_asked_for_or_a_region(text, kind, expected):
    path = PathIdentity.parse_id(text, kind=kind)
    assert path == expected and path.id == text
