"""Stateful resources are protected in prod, and secrets never appear in plain text."""

from __future__ import annotations

import json

import pytest

from deploypaths.mock_run import MOCK_DATABASE_PASSWORD, PROJECT_DIR, run_program
from deploypaths.stack_config import load_stack_file
from ops import plan

STATEFUL = (
    "aws:rds/cluster:Cluster",
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup",
    "aws:eks/cluster:Cluster",
)


@pytest.mark.parametrize("name,protected", [("prod", True), ("dev", False)])
def test_stateful_resources_are_protected_and_retained_only_in_prod(run_stack, name, protected):
    recording = run_stack(name)
    stateful = [r for r in recording.registrations.values() if r.type in STATEFUL]
    assert len(stateful) >= 5
    for registration in stateful:
        assert registration.protect is protected, registration.name
        assert registration.retain_on_delete is protected, registration.name
    cluster = recording.of_type("aws:rds/cluster:Cluster")[0]
    assert cluster.inputs["deletionProtection"] is protected, cluster.name
    assert cluster.inputs["storageEncrypted"] is True, cluster.name
    assert cluster.inputs["manageMasterUserPassword"] is True, cluster.name
    assert "masterPassword" not in cluster.inputs, cluster.name
    assert cluster.inputs["skipFinalSnapshot"] is False, cluster.name
    for instance in recording.of_type("aws:rds/clusterInstance:ClusterInstance"):
        assert instance.inputs["publiclyAccessible"] is False, instance.name


def test_every_aws_resource_is_tagged_with_environment_path_and_owner(prod):
    recording = prod
    tagged = [r for r in recording.registrations.values() if "tags" in r.inputs]
    assert len(tagged) > 50
    # A service path's resources carry its team; the rest the stack's `owner`.
    teams = {"auth": "identity", "catalog": "catalog", "orders": "checkout", "payments": "payments"}
    teams["search"] = "search"
    for registration in tagged:
        tags = registration.inputs["tags"]
        assert tags["environment"] == "prod", registration.name
        service = tags["path"].split("@")[0] if "@" in tags["path"] else None
        assert tags["owner"] == teams.get(service or "", "platform"), registration.name
        assert tags["path"], registration.name
    health = recording.named("eu-west-1-orders-health").inputs["tags"]
    assert (health["path"], health["owner"]) == ("orders@eu-west-1", "checkout")
    assert recording.named("eu-west-1-alarms").inputs["tags"]["owner"] == "platform"


def test_database_password_reaches_pods_only_as_a_secret(prod):
    recording = prod
    secret = recording.named("eu-west-1-database")
    assert secret.plain_inputs["data"] == "[secret]", secret.name
    for registration in recording.registrations.values():
        text = json.dumps(registration.plain_inputs)
        assert MOCK_DATABASE_PASSWORD not in text, f"{registration.name} holds the password"
    kubeconfig = recording.named("eu-west-1-k8s").plain_inputs["kubeconfig"]
    assert kubeconfig == "[secret]"


def test_external_database_url_and_kubeconfig_come_from_secret_config():
    config = {
        "deploypaths:regions": json.dumps([{"name": "us-east-1"}]),
        "deploypaths:kubernetes": json.dumps({"mode": "kubeconfig"}),
        "deploypaths:database": json.dumps({"mode": "external"}),
        "deploypaths:monitoring": json.dumps({"mode": "none"}),
        "deploypaths:services": json.dumps([{"name": "web", "image": "r.example.com/web:1.0.0"}]),
        "deploypaths:kubeconfigs": json.dumps({"us-east-1": "apiVersion: v1 # kubeconfig-s3cr3t"}),
        "deploypaths:database_urls": json.dumps({"us-east-1": "postgres://u:url-s3cr3t@db/app"}),
    }
    recording = run_program(
        config,
        stack="staging",
        secret_keys=("deploypaths:kubeconfigs", "deploypaths:database_urls"),
    )
    everything = json.dumps([r.plain_inputs for r in recording.registrations.values()])
    assert "kubeconfig-s3cr3t" not in everything
    assert "url-s3cr3t" not in everything
    assert recording.named("us-east-1-k8s").plain_inputs["kubeconfig"] == "[secret]"
    database = recording.named("us-east-1-database")
    assert database.plain_inputs["data"] == "[secret]", database.name
    assert "DATABASE_URL" in database.inputs["data"]["value"], database.name


def test_plan_output_and_picture_hold_no_secret(tmp_path, capsys):
    parser = plan.argparse.ArgumentParser()
    plan.add_parser(parser.add_subparsers())
    picture = tmp_path / "plan.svg"
    for extra in ([], ["--json"]):
        args = parser.parse_args(["plan", "--stack", "prod", "--picture", str(picture), *extra])
        assert args.func(args) == 0
        printed = capsys.readouterr().out
        assert MOCK_DATABASE_PASSWORD not in printed
        assert MOCK_DATABASE_PASSWORD not in picture.read_text()


def prod_config(**changes) -> dict[str, str]:
    config = load_stack_file(PROJECT_DIR / "Pulumi.prod.yaml", PROJECT_DIR)
    config.update({f"deploypaths:{key}": json.dumps(value) for key, value in changes.items()})
    return config


PROD_WAVES = [["us-east-1"], ["eu-west-1", "ap-southeast-2"]]


def test_removing_a_prod_region_is_refused_unless_decommissioned():
    from ops.preview.command import region_removal_failure

    two_regions = [{"name": "us-east-1"}, {"name": "eu-west-1"}]
    dropped = prod_config(regions=two_regions, waves=[["us-east-1"], ["eu-west-1"]])
    failure = region_removal_failure(PROD_WAVES, dropped, stack="prod")
    assert (
        failure is not None and "'ap-southeast-2' is deployed but no longer configured" in failure
    )
    assert "decommission" in failure
    decommissioned = {**dropped, "deploypaths:decommission": json.dumps(["ap-southeast-2"])}
    assert region_removal_failure(PROD_WAVES, decommissioned, stack="prod") is None
    dev = {**dropped, "deploypaths:environment": "dev"}
    assert region_removal_failure(PROD_WAVES, dev, stack="dev") is None, "only prod is protected"
    assert region_removal_failure(None, dropped, stack="prod") is None, (
        "a new stack removes nothing"
    )


def test_a_region_being_decommissioned_gives_up_protection_alone():
    recording = run_program(prod_config(decommission=["ap-southeast-2"]), stack="prod")
    for registration in recording.registrations.values():
        if registration.type in STATEFUL:
            winding_down = "ap-southeast-2" in registration.name
            assert registration.protect is not winding_down, registration.name
