"""`ops rollback`: which config keys change, which resources the update targets, what is refused,
and how the command drives a stack (through a recording stand-in, no engine)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from pulumi.automation import CommandError, ConfigValue

from deploypaths.identity import PathIdentity
from deploypaths.stack_config import decode, project_defaults
from ops import UserError, automation
from ops.__main__ import main
from ops.config_diff import settings_of
from ops.rollback.decision import (
    glob_matches,
    operator_name,
    parse_path,
    path_targets,
    plan_rollback,
    stack_rollback_config,
)
from tests.support.ops_fixtures import (
    KUBECONFIGS,
    PROD,
    REGION,
    SERVICE,
    FakeStack,
    checkpoint,
    config_of,
    edit_json,
    load_events,
    summaries,
    update,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
REGISTRY = "registry.example.com/shop"


def plan(*, version, paths=(), force=False, history=None, now=None, resources=None):
    history = history if history is not None else summaries()
    return plan_rollback(
        stack="prod",
        project="deploypaths",
        version=version,
        paths=list(paths),
        force=force,
        history=history,
        config_now=now if now is not None else config_of(history[0]),
        defaults=project_defaults(PROJECT_DIR),
        resources=resources if resources is not None else checkpoint(),
        user="alice",
    )


def regions_of(p) -> list[dict]:
    return json.loads(p.set_values["deploypaths:regions"].value)


def overrides(regions: list[dict], region: str) -> dict:
    return next(r for r in regions if r["name"] == region).get("overrides", {})


# --- Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (42, "stack has no update with version 42 (versions 1 to 6 exist)"),
        (5, "version 5 is a refresh, not an update: roll back to an update"),
        (
            4,
            "version 4 did not succeed (failed): its configuration never fully deployed; "
            "pass --force",
        ),
    ],
)
def test_versions_that_cannot_be_rolled_back_to(version, message):
    with pytest.raises(UserError) as refused:
        plan(version=version)
    assert str(refused.value).startswith(message), refused.value


def test_a_version_without_recorded_config_is_refused():
    history = summaries()
    history.append(update(7, {}))
    with pytest.raises(
        UserError, match="^version 7 has no recorded configuration to roll back to$"
    ):
        plan(version=7, history=history)


def test_a_failed_version_needs_force():
    assert plan(version=4, force=True).subject == "prod"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("orders@mars-north-1", "orders@mars-north-1: no region 'mars-north-1' in the stack"),
        ("eu-central-1", "'eu-central-1' is neither a path (service@region) nor a region"),
        (
            "orders-add-status@eu-west-1",
            "orders-add-status@eu-west-1: migration 'orders-add-status' already ran at version 3: "
            "there is nothing of it to undo",
        ),
        ("search@eu-west-1", "search@eu-west-1: no service 'search' runs in eu-west-1 today"),
        ("billing@us-east-1", "billing@us-east-1: no service 'billing' runs in us-east-1 today"),
    ],
)
def test_paths_must_exist_today_and_be_service_paths(path, message):
    with pytest.raises(UserError) as refused:
        plan(version=3, paths=[path])
    assert str(refused.value).startswith(message), refused.value


def _with_down(config: dict, *names: str) -> dict:
    """Today's config with a `down` on each named migration."""
    config = dict(config)

    def add(migrations: list) -> None:
        for migration in migrations:
            if migration["name"] in names:
                migration["down"] = {"image": f"{REGISTRY}/migrate:undo-{migration['name']}"}

    edit_json(config, "deploypaths:migrations", add)
    return config


def test_a_migration_path_without_a_down_is_refused_naming_it():
    with pytest.raises(UserError) as refused:
        plan(version=2, paths=["orders-drop-legacy@us-east-1"])
    assert str(refused.value) == (
        "cannot roll orders-drop-legacy@us-east-1 back to version 2: contract migration "
        "'orders-drop-legacy' has no `down` (the inverse of its change); add one, or roll "
        "forward with a fix"
    )


def test_a_migration_path_runs_its_down_in_its_region_only():
    history = summaries()
    now = _with_down(config_of(history[0]), "orders-drop-legacy")
    p = plan(version=2, paths=["orders-drop-legacy@us-east-1"], now=now)
    regions = regions_of(p)
    assert next(r for r in regions if r["name"] == "us-east-1")["down_migrations"] == [
        "orders-drop-legacy"
    ]
    assert all("down_migrations" not in r for r in regions if r["name"] != "us-east-1")
    component = (
        "urn:pulumi:prod::deploypaths::deploypaths:index:RegionPath$"
        "deploypaths:index:MigrationPath::us-east-1-orders-drop-legacy"
    )
    assert p.targets is not None and p.targets[0] == component
    assert all("us-east-1-orders-drop-legacy" in target for target in p.targets), p.targets
    assert p.changes == ["orders-drop-legacy@us-east-1: its `down` runs"]


def test_a_migration_path_and_a_service_path_are_rolled_back_apart():
    now = _with_down(config_of(summaries()[0]), "orders-drop-legacy")
    with pytest.raises(UserError) as refused:
        plan(version=2, paths=["orders-drop-legacy@us-east-1", "orders@us-east-1"], now=now)
    assert str(refused.value).startswith("roll migration paths back on their own")


def test_a_path_goes_back_without_the_verification_its_old_release_did_not_have():
    history = _without_contract(summaries())
    now = config_of(history[0])

    def verify_auth(services: list) -> None:
        next(s for s in services if s["name"] == "auth")["verify"] = {
            "image": f"{REGISTRY}/smoke:1.0.0"
        }

    edit_json(now, "deploypaths:services", verify_auth)
    p = plan(version=2, paths=["auth@us-east-1"], now=now, history=history)
    pinned = overrides(regions_of(p), "us-east-1")["auth"]
    assert pinned["verify"] is False, pinned


def test_a_path_cannot_cross_a_contract_migration_that_ran_since():
    with pytest.raises(UserError) as refused:
        plan(version=2, paths=["orders@us-east-1"])
    message = str(refused.value)
    assert message.startswith(
        "cannot roll orders@us-east-1 back: contract migration 'orders-drop-legacy'"
    )
    assert "ran (or will run) after version 2" in message


def test_the_whole_stack_crosses_a_contract_migration_only_with_force():
    with pytest.raises(UserError, match="or pass --force"):
        plan(version=2)
    forced = plan(version=2, force=True)
    assert forced.warnings == [
        "--force: contract migration 'orders-drop-legacy' is in today's configuration but not in "
        "version 2's: it ran (or will run) after version 2 and may have dropped what the release "
        "of version 2 still reads. Roll forward with a fix instead"
    ]
    assert "migrations leaving the list: orders-drop-legacy (contract)" in forced.changes
    migrations = json.loads(forced.set_values["deploypaths:migrations"].value)
    assert [m["name"] for m in migrations] == ["orders-add-status"]


def test_a_service_that_did_not_exist_at_the_version_is_refused():
    now = config_of(summaries()[0])
    edit_json(
        now,
        "deploypaths:services",
        lambda services: services.append({"name": "billing", "image": f"{REGISTRY}/billing:1.0.0"}),
    )
    for paths in (["billing@us-east-1"], ["us-east-1"]):
        with pytest.raises(
            UserError, match="billing@us-east-1: service 'billing' did not exist at version 3"
        ):
            plan(version=3, paths=paths, now=now)


def test_a_path_that_did_not_run_at_the_version_is_refused():
    now = config_of(summaries()[0])

    def spread_search(services):
        next(s for s in services if s["name"] == "search")["regions"] = ["us-east-1", "eu-west-1"]

    edit_json(now, "deploypaths:services", spread_search)
    with pytest.raises(
        UserError, match="^search@eu-west-1 did not run at version 3: nothing to roll back to$"
    ):
        plan(version=3, paths=["search@eu-west-1"], now=now)


def test_a_version_that_fails_todays_validation_is_refused():
    history = summaries()
    old = config_of(history[3])  # version 3
    edit_json(old, "deploypaths:waves", lambda waves: waves.append(["mars-north-1"]))
    history.append(update(7, old))
    with pytest.raises(
        UserError, match="version 7's configuration does not pass today's validation"
    ):
        plan(version=7, history=history)


def test_an_undecryptable_secret_is_refused_without_showing_any_value():
    history = summaries(secrets=False)  # the secret came back as "[secret]"
    now = config_of(summaries()[0])
    with pytest.raises(UserError) as refused:
        plan(version=3, history=history, now=now)
    assert str(refused.value) == (
        "the secret deploypaths:kubeconfigs of version 3 cannot be decrypted with the stack's "
        "secrets provider today, so it cannot be put back"
    )


# --- Path rollbacks: which config keys ----------------------------------------------------------


def test_one_path_gets_an_override_pinning_its_old_release():
    p = plan(version=3, paths=["orders@us-east-1"])
    assert list(p.set_values) == ["deploypaths:regions"] and p.remove == []
    regions = regions_of(p)
    assert overrides(regions, "us-east-1") == {
        "orders": {"image": f"{REGISTRY}/orders:7.4.1", "replicas": 3, "strategy": "rolling"}
    }
    # Every other path keeps its release: eu-west-1's own pin stays, ap-southeast-2 has none.
    assert overrides(regions, "eu-west-1") == {
        "orders": {"image": f"{REGISTRY}/orders:7.4.1", "replicas": 3, "strategy": "rolling"}
    }
    assert overrides(regions, "ap-southeast-2") == {}
    assert p.changes == [
        f"orders@us-east-1: image {REGISTRY}/orders:7.5.0 -> {REGISTRY}/orders:7.4.1"
    ]
    assert p.message == "rollback of orders@us-east-1 to version 3 (by alice)"


def with_releases(config: dict, orders_image: str) -> dict:
    """`config` as an update recorded it with releases/orders.yaml saying `orders_image`."""
    releases = json.dumps({"orders": {"image": f"{REGISTRY}/{orders_image}"}})
    return {**config, "deploypaths:releases": ConfigValue(releases)}


def test_a_path_goes_back_to_the_release_file_its_version_recorded():
    history = summaries()
    history[3].config = with_releases(history[3].config, "orders:7.4.2")
    now = with_releases(config_of(history[0]), "orders:7.6.0")
    p = plan(version=3, paths=["orders@us-east-1"], history=history, now=now)
    assert list(p.set_values) == ["deploypaths:regions"]
    assert overrides(regions_of(p), "us-east-1")["orders"]["image"] == f"{REGISTRY}/orders:7.4.2"
    assert p.changes == [
        f"orders@us-east-1: image {REGISTRY}/orders:7.6.0 -> {REGISTRY}/orders:7.4.2"
    ]


def test_the_whole_stack_pins_the_recorded_releases_and_leaves_the_release_files_theirs():
    history = summaries()
    history[3].config = with_releases(history[3].config, "orders:7.4.2")
    now = with_releases(config_of(history[0]), "orders:7.6.0")
    p = plan(version=3, history=history, now=now)
    assert "deploypaths:releases" not in p.set_values and "deploypaths:releases" not in p.remove
    regions = regions_of(p)
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        assert overrides(regions, region)["orders"]["image"] == f"{REGISTRY}/orders:7.4.2", region
    # Deployed as the rolled-back stack file and today's release file say, it runs 7.4.2.
    deployed = settings_of({**now, **p.set_values}, stack="prod")
    assert {
        s.image
        for r in deployed.region_names
        for s in deployed.services_in(r)
        if s.name == "orders"
    } == {f"{REGISTRY}/orders:7.4.2"}


def test_a_path_rollback_keeps_todays_flags_and_does_not_list_them():
    history = summaries()
    now = config_of(history[0])
    edit_json(
        now,
        "deploypaths:services",
        lambda services: services[1]["flags"]["new-checkout"].update(rollout_percent=50),
    )
    p = plan(version=3, paths=["orders@us-east-1"], history=history, now=now)
    assert p.changes == [
        f"orders@us-east-1: image {REGISTRY}/orders:7.5.0 -> {REGISTRY}/orders:7.4.1"
    ]
    assert "deploypaths:services" not in p.set_values


def test_an_override_equal_to_the_service_level_release_is_removed():
    # Today: orders 7.4.1 everywhere except eu-west-1, pinned to 7.3.0. At version 8 eu-west-1
    # ran the service-level release, so rolling it back to 8 removes the pin.
    history = summaries()
    at_8 = config_of(history[3])  # version 3: orders 7.4.1 at service level, no override
    now = config_of(history[3])
    edit_json(
        now,
        "deploypaths:regions",
        lambda regions: regions[1].update(
            overrides={"orders": {"image": f"{REGISTRY}/orders:7.3.0"}}
        ),
    )
    history.insert(0, update(9, now))
    history.insert(1, update(8, at_8))
    p = plan(version=8, paths=["eu-west-1"], history=history, now=now)
    assert overrides(regions_of(p), "eu-west-1") == {}
    assert "overrides" not in regions_of(p)[1]
    assert (
        f"orders@eu-west-1: image {REGISTRY}/orders:7.3.0 -> {REGISTRY}/orders:7.4.1" in p.changes
    )


def test_a_region_rolls_back_each_of_its_services():
    p = plan(version=2, paths=["ap-southeast-2"], history=_without_contract(summaries()))
    assert overrides(regions_of(p), "ap-southeast-2") == {
        "orders": {"image": f"{REGISTRY}/orders:7.4.1", "replicas": 3, "strategy": "rolling"}
    }
    assert p.changes == [
        "auth@ap-southeast-2: already runs the release of version 2",
        f"orders@ap-southeast-2: image {REGISTRY}/orders:7.5.0 -> {REGISTRY}/orders:7.4.1",
    ]
    # Only the path whose release changes is in the update.
    assert p.targets == [
        f"{PROD}{SERVICE}::ap-southeast-2-orders",
        f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::ap-southeast-2-orders-deployment",
        f"{PROD}{SERVICE}$kubernetes:core/v1:Service::ap-southeast-2-orders-service",
        f"{PROD}{SERVICE}$**::ap-southeast-2-orders-*",
    ]


def _without_contract(history):
    """The fixture's history as if the contract migration had never been added."""
    for summary in history:
        if "deploypaths:migrations" in summary.config:
            migrations = [
                m
                for m in json.loads(summary.config["deploypaths:migrations"].value)
                if m["phase"] != "contract"
            ]
            summary.config["deploypaths:migrations"] = ConfigValue(json.dumps(migrations), False)
    return history


def test_canary_and_blue_green_releases_are_pinned_whole():
    history = _without_contract(summaries())
    p = plan(version=2, paths=["search@us-east-1"], history=history)
    # Version 2 ran search as a 10% canary; today it is a 50% canary.
    assert overrides(regions_of(p), "us-east-1") == {
        "search": {
            "image": f"{REGISTRY}/search:1.12.0",
            "replicas": 2,
            "strategy": "canary",
            "canary": {"image": f"{REGISTRY}/search:1.13.0", "weight": 10},
        }
    }
    assert p.changes == ["search@us-east-1: canary.weight 50 -> 10"]


def test_nothing_to_do_when_the_path_already_runs_that_release():
    p = plan(version=3, paths=["orders@eu-west-1"])
    assert p.empty
    assert p.changes == ["orders@eu-west-1: already runs the release of version 3"]


# --- Path rollbacks: which targets ------------------------------------------------------------


def test_the_update_targets_the_path_component_its_children_and_new_children():
    p = plan(version=3, paths=["orders@us-east-1"])
    component = f"{PROD}{SERVICE}::us-east-1-orders"
    assert p.targets == [
        component,
        f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::us-east-1-orders-deployment",
        f"{PROD}{SERVICE}$kubernetes:core/v1:Service::us-east-1-orders-service",
        f"{PROD}{SERVICE}$**::us-east-1-orders-*",
    ]
    assert p.warnings == []


def test_what_waits_for_the_path_is_not_targeted():
    """What waits for the path outside it (the region's barrier, another path) keeps its release:
    it lets go of the path's workloads in the state instead (`ops.rollback.holds`)."""
    resources = checkpoint()
    deployment = f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::us-east-1-orders-deployment"
    barrier = f"{PROD}{REGION}$pulumi-python:dynamic:Resource::us-east-1-services-ready"
    resources.append({"urn": barrier, "dependencies": [deployment]})
    p = plan(version=3, paths=["orders@us-east-1"], resources=resources)
    assert p.targets is not None and barrier not in p.targets
    assert p.warnings == []


def test_a_pattern_that_would_catch_another_path_is_left_out():
    resources = checkpoint()
    # A service named `orders-legacy` would match `us-east-1-orders-*`.
    legacy = "us-east-1-orders-legacy"
    stray = f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::{legacy}-deployment"
    resources.append({"urn": stray, "parent": f"{PROD}{SERVICE}::{legacy}"})
    targets, warnings = path_targets(f"{PROD}{SERVICE}::us-east-1-orders", resources)
    assert not any("*" in target for target in targets)
    assert warnings == [
        f"not targeting new children of us-east-1-orders by pattern: {PROD}{SERVICE}$**::"
        f"us-east-1-orders-* also matches {stray}"
    ]


@pytest.mark.parametrize(
    ("pattern", "urn", "matches"),
    [
        (
            "urn:pulumi:prod::p::a$**::x-*",
            "urn:pulumi:prod::p::a$b$k:apps/v1:D::x-deployment",
            True,
        ),
        ("urn:pulumi:prod::p::a$**::x-*", "urn:pulumi:prod::p::a::x-deployment", False),
        ("urn:pulumi:prod::p::a$*::x-*", "urn:pulumi:prod::p::a$k:apps/v1:D::x-deployment", False),
        ("urn:pulumi:prod::p::a$*::x-*", "urn:pulumi:prod::p::a$D::x-d", True),
        ("urn:pulumi:prod::p::a.b::x", "urn:pulumi:prod::p::aXb::x", False),
    ],
)
def test_patterns_follow_the_engines_target_globs(pattern, urn, matches):
    assert glob_matches(pattern, urn) is matches


# --- Whole-stack rollbacks --------------------------------------------------------------------


def test_the_whole_stack_goes_back_key_by_key():
    p = plan(version=3)
    assert p.targets is None
    assert sorted(p.set_values) == ["deploypaths:regions", "deploypaths:services"]
    assert p.changes == [
        "orders@us-east-1, orders@ap-southeast-2: image orders:7.5.0 -> orders:7.4.1",
    ]
    assert p.message == "rollback of prod to version 3 (by alice)"


def test_secrets_go_back_as_secrets_and_are_never_listed_with_values():
    history = summaries()
    version_3 = history[3]
    version_3.config["deploypaths:kubeconfigs"] = ConfigValue('{"us-east-1":"older-kc-77"}', True)
    p = plan(version=3, history=history)
    assert p.set_values["deploypaths:kubeconfigs"].secret
    assert "secrets put back (values not shown): deploypaths:kubeconfigs" in p.changes
    assert not any("older-kc-77" in line or KUBECONFIGS in line for line in p.changes)


def test_keys_added_since_are_removed_and_defaults_come_back():
    now = {
        "aws:region": ConfigValue("us-east-1"),
        "deploypaths:owner": ConfigValue("payments"),
        "deploypaths:decommission": ConfigValue('["ap-southeast-2"]'),
        "deploypaths:bake_minutes": ConfigValue("15"),
    }
    then = {
        "aws:region": ConfigValue("us-east-1"),
        "deploypaths:bake_minutes": ConfigValue("10"),
        # Equal to Pulumi.yaml's default, and unset today: nothing to write.
        "deploypaths:monitoring": ConfigValue('{"mode": "cloudwatch"}'),
    }
    # Keys N did not set go back to Pulumi.yaml's default; owner and decommission have one.
    set_values, remove = stack_rollback_config(now, then, project_defaults(PROJECT_DIR), version=3)
    assert {k: v.value for k, v in set_values.items()} == {
        "deploypaths:bake_minutes": "10",
        "deploypaths:owner": "platform",
        "deploypaths:decommission": "[]",
    }
    assert remove == []


def test_json_formatting_is_not_a_change():
    now = {"deploypaths:waves": ConfigValue('[["us-east-1"], ["eu-west-1"]]')}
    then = {"deploypaths:waves": ConfigValue('[["us-east-1"],["eu-west-1"]]')}
    assert stack_rollback_config(now, then, {}, version=1) == ({}, [])


def test_the_operator_is_named_from_the_environment():
    assert operator_name({"USER": "alice", "LOGNAME": "root"}) == "alice"
    assert operator_name({"LOGNAME": "bob"}) == "bob"


# --- The command, against a recording stand-in --------------------------------------------------


@pytest.fixture
def prod(fake_stacks, monkeypatch, tmp_path):
    monkeypatch.setenv("USER", "alice")
    history = summaries()
    config = config_of(history[0])
    # The rollback rewrites the stack file: a copy of the project's, never the repository's.
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path)
    document = {
        key: {"secure": "v1:c2VjcmV0"} if value.secret else decode(value.value)
        for key, value in config.items()
    }
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": document}))
    monkeypatch.setattr(automation, "PROJECT_DIR", tmp_path)
    stack = CliLikeStack(
        tmp_path / "Pulumi.prod.yaml", history=history, config=config, resources=checkpoint()
    )
    fake_stacks["prod"] = stack
    return stack


def regions_written(stack: FakeStack) -> list[list[dict]]:
    return [
        json.loads(call["deploypaths:regions"]["value"])
        for call in stack.called("set_all_config_json")
        if "deploypaths:regions" in call
    ]


def test_a_path_rollback_previews_then_deploys_only_the_path(prod, capsys):
    before = prod.config["deploypaths:regions"].value
    assert (
        main(["rollback", "--stack", "prod", "--to", "3", "--path", "orders@us-east-1", "--yes"])
        == 0
    )
    (written,) = regions_written(prod)
    assert written[0]["overrides"]["orders"]["image"].endswith("orders:7.4.1")
    # Structured values go back as objects, so the stack file keeps YAML structure.
    (call,) = prod.called("set_all_config_json")
    assert call["deploypaths:regions"]["objectValue"] == written
    (preview,) = prod.called("preview")
    (up,) = prod.called("up")
    assert preview["target"] == up["target"] and preview["target_dependents"] is False
    assert up["target"][0] == f"{PROD}{SERVICE}::us-east-1-orders"
    assert up["target_dependents"] is False
    assert up["message"] == "rollback of orders@us-east-1 to version 3 (by alice)"
    assert up["policy_pack_configs"][0].endswith("policy/config/prod.json")
    assert prod.config["deploypaths:regions"].value != before  # kept: the rollback happened
    out = capsys.readouterr().out
    assert "Rolling back orders@us-east-1 of stack prod to version 3:" in out
    assert "commit it, or the next deploy rolls forward again" in out


def test_what_waits_for_the_path_lets_go_of_its_workloads_before_the_preview(prod, capsys):
    deployment = f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::us-east-1-orders-deployment"
    barrier = f"{PROD}{REGION}$pulumi-python:dynamic:Resource::us-east-1-services-ready"
    prod._resources = [*prod._resources, {"urn": barrier, "dependencies": [deployment]}]
    assert (
        main(["rollback", "--stack", "prod", "--to", "3", "--path", "orders@us-east-1", "--yes"])
        == 0
    )
    calls = [call for call, _ in prod.calls]
    assert calls.index("import_stack") < calls.index("preview") < calls.index("up")
    (imported,) = prod.called("import_stack")
    held = next(r for r in imported["resources"] if r["urn"] == barrier)
    assert held["dependencies"] == []
    assert "1 resource(s) outside the targets waited for their workloads (us-east-1-services-" in (
        capsys.readouterr().out
    )


def test_a_rollback_that_nothing_outside_holds_leaves_the_state_alone(prod):
    assert (
        main(["rollback", "--stack", "prod", "--to", "3", "--path", "orders@us-east-1", "--yes"])
        == 0
    )
    assert prod.called("import_stack") == []


def test_a_whole_stack_rollback_updates_everything(prod):
    assert main(["rollback", "--stack", "prod", "--to", "3", "--yes"]) == 0
    (up,) = prod.called("up")
    assert "target" not in up
    assert up["message"] == "rollback of prod to version 3 (by alice)"
    assert prod.called("history")[0] == (50, 1, True)  # secrets are needed to put them back


def test_declining_restores_the_configuration(prod, monkeypatch, capsys):
    before = prod.config["deploypaths:regions"].value
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["rollback", "--stack", "prod", "--to", "3", "--path", "orders@us-east-1"]) == 1
    assert prod.called("up") == []
    assert json.loads(prod.config["deploypaths:regions"].value) == json.loads(before)
    assert "Not confirmed; the configuration is restored." in capsys.readouterr().out


def test_a_preview_that_must_not_ship_restores_the_configuration(prod):
    prod._events = load_events("events-prod.jsonl")  # a mandatory policy violation
    before = dict(prod.config)
    assert main(["rollback", "--stack", "prod", "--to", "3", "--yes"]) == 1
    assert prod.called("up") == []
    assert {k: v.value for k, v in prod.config.items()} == {k: v.value for k, v in before.items()}


def test_a_rollback_that_drops_a_deployed_region_is_refused_like_a_preview(prod, capsys):
    deployed = json.loads(prod.config["deploypaths:waves"].value)
    prod._outputs = {"waves": [*deployed, ["sa-east-1"]]}
    before = {k: v.value for k, v in prod.config.items()}
    assert main(["rollback", "--stack", "prod", "--to", "3", "--yes"]) == 1
    assert prod.called("up") == []
    assert {k: v.value for k, v in prod.config.items()} == before
    assert "sa-east-1" in capsys.readouterr().out


def test_a_failed_update_keeps_the_rolled_back_configuration(prod, capsys):
    prod._up_error = CommandError("\n code: 255\n stderr: error: update failed\n")
    assert (
        main(["rollback", "--stack", "prod", "--to", "3", "--path", "orders@us-east-1", "--yes"])
        == 1
    )
    assert len(regions_written(prod)) == 1
    assert "The update failed: stderr: error: update failed" in capsys.readouterr().err


def test_without_a_terminal_it_asks_for_yes_before_touching_anything(prod, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["rollback", "--stack", "prod", "--to", "3"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    # Only read: whether an update cut short left anything to resolve first.
    assert [call for call, _ in prod.calls] == ["export_stack"]


def test_refusals_exit_2_with_the_reason(prod, capsys):
    assert main(["rollback", "--stack", "prod", "--to", "2", "--path", "eu-west-1", "--yes"]) == 2
    assert "error: cannot roll eu-west-1 back: contract migration 'orders-drop-legacy'" in (
        capsys.readouterr().err
    )
    assert prod.called("set_all_config_json") == []
    assert (
        main(
            ["rollback", "--stack", "prod", "--to", "2", "--path", "eu-west-1", "--force", "--yes"]
        )
        == 2
    )
    assert "--force applies to a whole-stack rollback only" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["0", "-5"])
def test_a_version_below_1_is_refused_before_the_stack_is_touched(prod, capsys, version):
    assert main(["rollback", "--stack", "prod", "--to", version, "--yes"]) == 2
    assert (
        capsys.readouterr().err.strip() == f"error: --to is a stack version from 1, not {version}"
    )
    assert prod.calls == []


def test_nothing_to_roll_back_deploys_nothing(prod, capsys):
    assert main(["rollback", "--stack", "prod", "--to", "6", "--yes"]) == 0
    assert prod.called("up") == [] and prod.called("set_all_config_json") == []
    assert "Nothing to roll back" in capsys.readouterr().out


# --- The stack file keeps its values, types and comments ------------------------------------------

LOCAL_FILE = """\
# The local stack.
config:
  deploypaths:environment: local  # tags
  # minutes, fractions allowed
  deploypaths:bake_minutes: 0.1
  deploypaths:owner: "0042"
  deploypaths:kubernetes:
    mode: kubeconfig
    rollout_timeout_seconds: 120
  deploypaths:waves: [[us-east-1], [eu-west-1]]
encryptionsalt: v1:salt
"""


class CliLikeStack(FakeStack):
    """Writes the stack file as the Pulumi CLI does: every scalar as a string, comments gone,
    a secret as its ciphertext."""

    def __init__(self, stack_file: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stack_file = stack_file

    def set_all_config_json(self, config_json: str) -> None:
        super().set_all_config_json(config_json)
        document = yaml.safe_load(self.stack_file.read_text())
        for key, entry in json.loads(config_json).items():
            document["config"][key] = {"secure": "v1:bmV3"} if entry["secret"] else entry["value"]
        document["config"] = {
            key: value if isinstance(value, dict | list) else str(value)
            for key, value in document["config"].items()
        }
        self.stack_file.write_text(yaml.safe_dump(document))

    def remove_all_config(self, keys: list[str]) -> None:
        super().remove_all_config(keys)
        document = yaml.safe_load(self.stack_file.read_text())
        for key in keys:
            document["config"].pop(key, None)
        self.stack_file.write_text(yaml.safe_dump(document))


def changed_lines(before: str, after: str) -> list[str]:
    import difflib

    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.local.yaml"
    path.write_text(LOCAL_FILE)
    return path


def test_a_rollback_rewrites_only_the_lines_of_the_keys_it_changes(tmp_path):
    from ops.rollback import stack_file

    path = local_file(tmp_path)
    stack_file.write_config(
        CliLikeStack(path),
        path,
        set_values={
            "deploypaths:kubernetes": ConfigValue(
                json.dumps({"mode": "kubeconfig", "rollout_timeout_seconds": 300})
            ),
            "deploypaths:owner": ConfigValue("0043"),
            "deploypaths:waves": ConfigValue('[["us-east-1", "eu-west-1"]]'),
        },
    )
    assert changed_lines(LOCAL_FILE, path.read_text()) == [
        '-  deploypaths:owner: "0042"',
        '+  deploypaths:owner: "0043"',
        "-    rollout_timeout_seconds: 120",
        "-  deploypaths:waves: [[us-east-1], [eu-west-1]]",
        "+    rollout_timeout_seconds: 300",
        "+  deploypaths:waves: [[us-east-1, eu-west-1]]",
    ]
    document = yaml.safe_load(path.read_text())["config"]
    assert document["deploypaths:bake_minutes"] == 0.1  # a float still, not "0.1"
    assert document["deploypaths:owner"] == "0043"  # a string still, though it reads as a number


def test_a_rolled_back_number_stays_a_number_and_keeps_its_comment(tmp_path):
    from ops.rollback import stack_file

    path = local_file(tmp_path)
    text = LOCAL_FILE.replace("0.1\n", "0.1  # quick\n")
    path.write_text(text)
    stack_file.write_config(
        CliLikeStack(path),
        path,
        set_values={"deploypaths:bake_minutes": ConfigValue("2"), "a:b": ConfigValue("true")},
        remove=["deploypaths:environment"],
    )
    assert changed_lines(text, path.read_text()) == [
        "-  deploypaths:environment: local  # tags",
        "-  deploypaths:bake_minutes: 0.1  # quick",
        "+  deploypaths:bake_minutes: 2  # quick",
        "+  a:b: true",
    ]


def test_a_secret_goes_back_as_the_clis_ciphertext_and_nothing_else_moves(tmp_path):
    from ops.rollback import stack_file

    path = local_file(tmp_path)
    stack_file.write_config(
        CliLikeStack(path),
        path,
        set_values={"deploypaths:kubeconfigs": ConfigValue("{}", secret=True)},
    )
    assert changed_lines(LOCAL_FILE, path.read_text()) == [
        "+  deploypaths:kubeconfigs:",
        "+    secure: v1:bmV3",
    ]


def test_a_whole_stack_rollback_keeps_the_untouched_lines_of_the_stack_file(prod):
    path = automation.PROJECT_DIR / "Pulumi.prod.yaml"
    before = "# prod: reviewed in pull requests\n" + path.read_text()
    path.write_text(before)
    assert main(["rollback", "--stack", "prod", "--to", "3", "--yes"]) == 0
    (written,) = prod.called("set_all_config_json")
    removed = [key for call in prod.called("remove_all_config") for key in call]
    after = path.read_text()
    assert after.startswith("# prod: reviewed in pull requests\n")
    old, new = yaml.safe_load(before)["config"], yaml.safe_load(after)["config"]
    for key, value in old.items():
        if key not in written and key not in removed:
            assert new[key] == value, key
    for key, value in new.items():
        if key in written and not written[key]["secret"]:
            assert value == decode(written[key]["value"]), key  # typed, not a string
    untouched = [k for k in old if k not in written and k not in removed]
    assert untouched and all(f"  {k}:" in after for k in untouched)


def test_declining_puts_the_stack_file_back_byte_for_byte(prod, monkeypatch):
    path = automation.PROJECT_DIR / "Pulumi.prod.yaml"
    before = "config:\n  # a comment\n" + path.read_text().removeprefix("config:\n")
    path.write_text(before)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["rollback", "--stack", "prod", "--to", "3"]) == 1
    assert path.read_text() == before


def test_a_path_names_a_service_a_migration_or_a_region_of_today():
    now = settings_of(config_of(summaries()[0]), stack="prod")
    assert parse_path("orders@us-east-1", now) == PathIdentity("service", "orders", "us-east-1")
    assert parse_path("eu-west-1", now) == PathIdentity.of_region("eu-west-1")
    migration = now.migrations[0].name
    assert parse_path(f"{migration}@eu-west-1", now) == PathIdentity(
        "migration", migration, "eu-west-1"
    )


def test_a_stack_file_the_cli_did_not_write_is_left_alone(tmp_path):
    """Another workspace's stack (a stand-in that writes no file): its file is not this one."""
    from ops.rollback import stack_file

    path = local_file(tmp_path)
    stack = FakeStack(config={})
    stack_file.write_config(stack, path, set_values={"deploypaths:owner": ConfigValue("x")})
    stack_file.restore(stack, path, LOCAL_FILE, set_values={}, remove=["deploypaths:owner"])
    assert path.read_text() == LOCAL_FILE
    assert stack.called("set_all_config_json") == [
        {"deploypaths:owner": {"value": "x", "secret": False}}
    ]
