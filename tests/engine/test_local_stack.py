"""The local stack's lifecycle on the real engine: up, no-op up, a one-path change, preview,
history, and rollback of the whole stack and of one path. The tests run in file order and
share one project copy, like a team's week on one stack."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from ops.mock_run import PROJECT_DIR

STACK = "local"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
BASE = {
    key.split(":", 1)[1]: value
    for key, value in yaml.safe_load((PROJECT_DIR / "Pulumi.local.yaml").read_text())[
        "config"
    ].items()
}
ORDERS = "deployment-app-orders.yaml"


def orders_image(config: dict) -> str:
    return next(s for s in config["services"] if s["name"] == "orders")["image"]


def with_orders_image(config: dict, image: str) -> dict:
    changed = copy.deepcopy(config)
    next(s for s in changed["services"] if s["name"] == "orders")["image"] = image
    return changed


def image_in(manifest: str) -> str:
    return yaml.safe_load(manifest)["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.fixture(scope="module")
def stack(project):
    project.write_config(STACK, BASE)
    return project.stack(STACK)


def test_up_renders_every_path(project, stack):
    result = stack.up()
    assert result.summary.result == "succeeded"
    rendered = project.rendered(STACK)
    for region in REGIONS:
        for service in ("auth", "catalog", "orders", "search", "search-canary"):
            assert f"{region}/1-manifest/deployment-app-{service}.yaml" in rendered, region
        jobs = [name for name in rendered if name.startswith(f"{region}/1-manifest/job-app-")]
        assert len(jobs) == 2, f"{region}: {jobs}"
    assert image_in(rendered[f"eu-west-1/1-manifest/{ORDERS}"]) == orders_image(BASE)


def test_second_up_with_no_change_is_a_no_op(project, stack):
    result = stack.up()
    changes = result.summary.resource_changes
    assert set(changes) == {"same"}, changes


def test_changing_one_service_image_changes_only_that_paths_manifests(project, stack):
    before = project.rendered(STACK)
    project.write_config(STACK, with_orders_image(BASE, "registry.example.com/shop/orders:7.5.0"))
    stack.up()
    after = project.rendered(STACK)
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == [f"{region}/1-manifest/{ORDERS}" for region in sorted(REGIONS)], changed


def test_preview_json_feeds_ops_preview(project, tmp_path):
    config = project.read_config(STACK)
    project.write_config(STACK, with_orders_image(config, "registry.example.com/shop/orders:7.6.0"))
    preview = project.pulumi("preview", "--stack", STACK, "--json")
    saved = tmp_path / "preview.json"
    saved.write_text(preview.stdout)
    assert json.loads(preview.stdout)["steps"], "the engine's preview JSON has steps"
    report = tmp_path / "report.md"
    result = project.ops(
        "preview", "--stack", STACK, "--from-json", str(saved), "--markdown", str(report)
    )
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    for region in REGIONS:
        assert f"orders@{region}" in text, text
    assert "catalog@us-east-1" in text.split("Untouched")[-1], "catalog is listed as untouched"
    project.write_config(STACK, config)


def test_history_lists_every_update(project):
    result = project.ops("history", "--stack", STACK)
    assert result.returncode == 0, result.stderr
    for version in ("1", "2", "3"):
        assert version in result.stdout
    assert "orders" in result.stdout and "7.5.0" in result.stdout, result.stdout


def test_rollback_of_one_path_restores_only_that_paths_manifests(project, stack):
    project.write_config(STACK, with_orders_image(BASE, "registry.example.com/shop/orders:7.6.0"))
    stack.up()
    # Updates so far: 1 create, 2 no-op, 3 orders 7.5.0, 4 orders 7.6.0 (the file backend keeps
    # no version numbers; ops numbers them oldest first, as the Pulumi Cloud does).
    assert len(stack.history()) == 4
    result = project.ops(
        "rollback", "--stack", STACK, "--to", "3", "--path", "orders@eu-west-1", "--yes"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = project.rendered(STACK)
    images = {region: image_in(rendered[f"{region}/1-manifest/{ORDERS}"]) for region in REGIONS}
    assert images == {
        "us-east-1": "registry.example.com/shop/orders:7.6.0",
        "eu-west-1": "registry.example.com/shop/orders:7.5.0",
        "ap-southeast-2": "registry.example.com/shop/orders:7.6.0",
    }
    assert "rollback" in stack.history(page_size=1)[0].message


def test_rollback_of_the_stack_restores_the_first_release(project, stack):
    result = project.ops("rollback", "--stack", STACK, "--to", "1", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = project.rendered(STACK)
    for region in REGIONS:
        assert image_in(rendered[f"{region}/1-manifest/{ORDERS}"]) == orders_image(BASE), region


def test_rollback_to_a_version_that_does_not_exist_is_refused(project):
    result = project.ops("rollback", "--stack", STACK, "--to", "99", "--yes")
    assert result.returncode == 2
    assert "99" in result.stderr and "Traceback" not in result.stderr
