"""A deploy path's identity: its names built and taken apart again, without running the program."""

from __future__ import annotations

import pytest

from deploypaths.identity import (
    PathIdentity,
    Urn,
    UrnError,
    barrier_id,
    component_of_child,
    current_urns,
    flags_id,
    former_component_name,
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
        (PathIdentity("service", "orders", "eu-west-1"), "orders@eu-west-1", "eu-west-1-orders"),
        (
            PathIdentity("migration", "add-col", "us-east-1"),
            "add-col@us-east-1",
            "us-east-1-add-col",
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
    # `eu-west-1-svc` holds `west-1-` too; a known region wins over a shorter one, in either form.
    regions = ("west-1", "eu-west-1")
    for name in ("eu-west-1-svc", "svc-eu-west-1"):
        path = PathIdentity.parse_component_name(name, "service", regions)
        assert path == PathIdentity("service", "svc", "eu-west-1"), name


def test_a_component_of_a_region_the_configuration_dropped_splits_on_the_aws_code():
    for name in ("sa-east-1-orders-api", "orders-api-sa-east-1"):
        path = PathIdentity.parse_component_name(name, "service", REGIONS)
        assert path == PathIdentity("service", "orders-api", "sa-east-1"), name
    assert PathIdentity.parse_component_name("orders", "service", REGIONS) is None


@pytest.mark.parametrize("kind", ["service", "migration"])
def test_updates_recorded_before_the_rename_name_the_same_paths(kind):
    """Components were `<path>-<region>` before they started with their region's name."""
    path = PathIdentity(kind, "orders-add-status", "ap-southeast-2")
    former = former_component_name(path.name, path.region)
    assert former == "orders-add-status-ap-southeast-2" != path.component_name
    assert PathIdentity.parse_component_name(former, kind, REGIONS) == path
    assert PathIdentity.of_component(former, kind, path.region) == path
    assert PathIdentity.of_component(path.component_name, kind, path.region) == path


def test_children_belong_to_their_component_or_region():
    components = ("eu-west-1-orders", "eu-west-1-orders-api", "orders-eu-west-1")
    assert component_of_child("eu-west-1-orders-api-deployment", components) == (
        "eu-west-1-orders-api"
    )
    assert component_of_child("eu-west-1-orders-pdb", components) == "eu-west-1-orders"
    assert component_of_child("orders-eu-west-1-deployment", components) == "orders-eu-west-1"
    assert component_of_child("orders-deployment", components) is None
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
        "$kubernetes:apps/v1:Deployment::eu-west-1-orders-deployment"
    )
    urn = Urn.parse(text)
    assert urn.stack == "prod" and urn.project == "deploypaths"
    assert urn.types == (
        "deploypaths:index:RegionPath",
        "deploypaths:index:ServicePath",
        "kubernetes:apps/v1:Deployment",
    )
    assert urn.name == "eu-west-1-orders-deployment"
    assert urn.format() == text
    assert urn_key(text) == "kubernetes:apps/v1:Deployment::eu-west-1-orders-deployment"
    with pytest.raises(UrnError, match="not a Pulumi URN: 'eu-west-1-orders'"):
        Urn.parse("eu-west-1-orders")


def test_a_service_path_urn_names_its_region_path_parent():
    assert service_path_urn("prod", "deploypaths", "orders", "eu-west-1") == (
        "urn:pulumi:prod::deploypaths::deploypaths:index:RegionPath$"
        "deploypaths:index:ServicePath::eu-west-1-orders"
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


def test_a_recorded_urn_gets_todays_name_only_when_a_path_had_it_before():
    chain = "deploypaths:index:RegionPath$deploypaths:index:ServicePath"
    before = f"urn:pulumi:prod::deploypaths::{chain}$kubernetes:apps/v1:Deployment::"
    region_child = "urn:pulumi:prod::deploypaths::deploypaths:index:RegionPath$aws:ec2/vpc:Vpc::"
    paths = [
        PathIdentity("service", "orders", "eu-west-1"),
        PathIdentity("service", "orders-api", "eu-west-1"),
        # Its former name starts with a region code, and its today's name ends with one.
        PathIdentity("service", "us-east-1-bridge", "eu-west-1"),
        PathIdentity("service", "bridge", "us-east-1"),
    ]
    expected = {
        f"{before}orders-api-eu-west-1-canary-deployment": (
            f"{before}eu-west-1-orders-api-canary-deployment"
        ),
        f"urn:pulumi:prod::deploypaths::{chain}::orders-eu-west-1": (
            f"urn:pulumi:prod::deploypaths::{chain}::eu-west-1-orders"
        ),
        f"{before}us-east-1-bridge-eu-west-1-deployment": (
            f"{before}eu-west-1-us-east-1-bridge-deployment"
        ),
        f"{before}eu-west-1-orders-deployment": f"{before}eu-west-1-orders-deployment",
        f"{before}us-east-1-bridge-deployment": f"{before}us-east-1-bridge-deployment",
        f"{region_child}eu-west-1-vpc": f"{region_child}eu-west-1-vpc",
        f"{before}payments-eu-west-1-deployment": f"{before}payments-eu-west-1-deployment",
    }
    assert current_urns(expected, paths) == expected
