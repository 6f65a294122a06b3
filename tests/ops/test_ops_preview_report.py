"""The preview report: saved `pulumi preview --json` documents and engine events in, Markdown
out."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
from pulumi.automation import CommandError, EngineEvent

from deploypaths.identity import PathIdentity
from deploypaths.mock_run import PROJECT_DIR
from deploypaths.stack_config import load_stack_file, namespace_values
from deploypaths.validation import parse_settings
from ops.__main__ import main
from ops.preview.command import PROVIDER_CRASH, markdown_path, preview_stack
from ops.preview.engine_events import digest_from_events
from ops.preview.markdown import render, render_preview_json
from ops.preview.model import STACK_LEVEL, analyse, collapse_steps, locate
from tests.support.ops_fixtures import FIXTURES, FakeStack, load, load_events

PROD = "urn:pulumi:prod::deploypaths::"
REGION = "deploypaths:index:RegionPath"
SERVICE = f"{REGION}$deploypaths:index:ServicePath"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def section(text: str, heading: str) -> str:
    """The body of one `## heading` section."""
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.fixture
def prod_report():
    return analyse(load("preview-prod.json"), stack="prod")


def test_counts_fold_a_replacement_into_one_change(prod_report):
    # The fixture reports the cluster's replacement as create-replacement, replace and
    # delete-replaced steps; `same` steps and the stack itself are not changes.
    assert prod_report.counts == {"create": 0, "update": 4, "replace": 1, "delete": 1}
    markdown = render(prod_report)
    assert markdown.splitlines()[0] == (
        "# Preview of stack `prod`: 0 to create, 4 to update, 1 to replace, 1 to delete"
    )


def test_stateful_replacements_are_flagged_first(prod_report):
    markdown = render(prod_report)
    stateful = section(markdown, "⚠ Stateful resources")
    assert "**REPLACE** `aws:rds/cluster:Cluster` `eu-west-1-db` (eu-west-1 infrastructure)" in (
        stateful
    ), stateful
    assert "replaced because of `storageEncrypted`" in stateful
    assert "protected" in stateful
    # The canary Deployment is deleted too, but it holds no data: not in the stateful list.
    assert "canary" not in stateful
    assert markdown.index("## ⚠ Stateful resources") < markdown.index("## Waves")
    assert markdown.index("## Waves") < markdown.index("## us-east-1")


def test_changes_are_grouped_by_deploy_path(prod_report):
    keys = set(prod_report.changes)
    assert keys == {
        PathIdentity("service", "orders", "us-east-1"),
        PathIdentity("service", "search", "us-east-1"),
        PathIdentity("service", "orders", "ap-southeast-2"),
        PathIdentity.of_region("eu-west-1"),
        STACK_LEVEL,
    }
    markdown = render(prod_report)
    orders = section(markdown, "us-east-1")
    assert "### Service path `orders@us-east-1`" in orders
    assert (
        "- `~ update` Deployment `orders-us-east-1-deployment`; changes "
        "`spec.template.spec.containers[0].image`; image `orders:7.4.1` → `orders:7.5.1`"
    ) in orders
    assert "- `- delete` Deployment `search-us-east-1-canary-deployment`" in orders
    assert "### Infrastructure" in section(markdown, "eu-west-1")
    assert "`gate-after-wave-1-watch`" in section(markdown, "Stack level")


def test_waves_and_untouched_paths_come_from_the_stack_config(prod_report):
    markdown = render(prod_report)
    waves = section(markdown, "Waves")
    assert "1. runs: us-east-1 (changes)" in waves
    assert "then `gate-after-wave-1` watches the wave's alarms for 15 min" in waves
    assert "2. runs: eu-west-1 (changes), ap-southeast-2 (changes)" in waves
    untouched = section(markdown, "Untouched paths")
    # eu-west-1's orders is pinned by an override, so the service-level bump leaves it alone.
    assert "`orders@eu-west-1`" in untouched
    assert "`orders@us-east-1`" not in untouched
    assert "`orders-drop-legacy@ap-southeast-2`" in untouched


def test_an_error_diagnostic_fails_the_report_on_one_quoted_line(prod_report):
    assert prod_report.blocks_ship
    verdict = render(prod_report).split("## ⚠")[0]
    quoted = [line for line in verdict.splitlines() if line.startswith(">")]
    assert len(quoted) == 1 and "marked for protection" in quoted[0], verdict


def test_a_clean_preview_may_ship():
    report = analyse(load("preview-dev.json"), stack="dev")
    assert not report.blocks_ship
    markdown = render(report)
    assert "> ✔ The preview succeeded" in markdown
    assert "No database, cluster, network or volume is replaced or deleted." in markdown
    migration = section(markdown, "us-east-1")
    assert "### Migration path `orders-add-index@us-east-1`" in migration
    assert "`+ create` Job `orders-add-index-us-east-1-job`" in migration
    assert "- us-east-1: `auth@us-east-1`, `orders-add-status@us-east-1`" in markdown


def test_values_never_reach_the_report_only_property_names():
    document = load("preview-dev.json")
    step = document["steps"][2]
    step["oldState"]["inputs"]["masterPassword"] = "old-password-5f3a"
    step["newState"]["inputs"]["masterPassword"] = "new-password-9c1e"
    step["detailedDiff"]["masterPassword"] = {"kind": "update", "inputDiff": True}
    markdown = render_preview_json(document, stack="dev")
    assert "`masterPassword`" in markdown
    assert "password-5f3a" not in markdown and "password-9c1e" not in markdown
    # The config's blinded secret is not printed either.
    assert "[secret]" not in render_preview_json(load("preview-prod.json"), stack="prod")


def test_collapse_keeps_the_strongest_op_and_every_reason():
    urn = f"{PROD}{REGION}$aws:rds/cluster:Cluster::eu-west-1-db"
    steps = [
        {"op": "create-replacement", "urn": urn, "replaceReasons": ["a"], "diffReasons": ["a"]},
        {"op": "replace", "urn": urn, "replaceReasons": ["b"], "detailedDiff": {"b": {}}},
        {"op": "delete-replaced", "urn": urn},
        {"op": "same", "urn": f"{PROD}{REGION}::eu-west-1"},
        {"op": "read", "urn": f"{PROD}aws:index/getCallerIdentity:getCallerIdentity::me"},
    ]
    (change,) = collapse_steps(steps)
    assert (change.op, change.replace_reasons, change.properties) == (
        "replace",
        ("a", "b"),
        ("a", "b"),
    )
    assert change.stateful


# The path components a preview lists beside their children.
COMPONENTS = ("eu-west-1-orders-api", "ap-southeast-2-orders-add-status", "eu-west-1-orders")


@pytest.mark.parametrize(
    ("urn", "parents", "expected"),
    [
        # By the parent chain the states carry.
        (
            f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::eu-west-1-orders-api-deployment",
            {
                f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::eu-west-1-orders-api-deployment": (
                    f"{PROD}{SERVICE}::eu-west-1-orders-api"
                )
            },
            PathIdentity("service", "orders-api", "eu-west-1"),
        ),
        # A preview from before the components started with their region's name.
        (
            f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::orders-api-eu-west-1-deployment",
            {
                f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::orders-api-eu-west-1-deployment": (
                    f"{PROD}{SERVICE}::orders-api-eu-west-1"
                )
            },
            PathIdentity("service", "orders-api", "eu-west-1"),
        ),
        # Without states: by the type chain and the `<component>-<role>` names.
        (
            f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::eu-west-1-orders-api-canary-deployment",
            {},
            PathIdentity("service", "orders-api", "eu-west-1"),
        ),
        (
            f"{PROD}{REGION}$deploypaths:index:MigrationPath$kubernetes:batch/v1:Job"
            "::ap-southeast-2-orders-add-status-job",
            {},
            PathIdentity("migration", "orders-add-status", "ap-southeast-2"),
        ),
        (
            f"{PROD}{SERVICE}$kubernetes:apps/v1:Deployment::eu-west-1-payments-deployment",
            {},
            STACK_LEVEL,
        ),
        (f"{PROD}{REGION}$aws:ec2/vpc:Vpc::us-east-1-vpc", {}, PathIdentity.of_region("us-east-1")),
        (f"{PROD}{REGION}::eu-west-1", {}, PathIdentity.of_region("eu-west-1")),
        (
            f"{PROD}{SERVICE}::eu-central-1-auth",
            {},
            PathIdentity("service", "auth", "eu-central-1"),
        ),
        (f"{PROD}pulumi:providers:aws::default_7_51_1", {}, STACK_LEVEL),
    ],
)
def test_locate(urn, parents, expected):
    assert locate(urn, parents, REGIONS, COMPONENTS) == expected


def test_a_preview_without_config_still_reports_the_paths():
    document = copy.deepcopy(load("preview-dev.json"))
    del document["config"]
    markdown = render_preview_json(document, stack="dev")
    assert "Unknown: the preview carries no configuration." in section(markdown, "Waves")
    assert "### Service path `orders@us-east-1`" in markdown


# --- Engine events --------------------------------------------------------------------------


def test_engine_events_become_the_same_digest_plus_policy_violations():
    digest = digest_from_events(load_events("events-prod.jsonl"))
    assert digest["config"]["deploypaths:kubeconfigs"] == "[secret]"
    assert [s["op"] for s in digest["steps"]] == ["same", "update"]
    update = digest["steps"][1]
    assert update["detailedDiff"] == {
        "spec.template.spec.containers[0].image": {"kind": "update", "inputDiff": True}
    }
    assert update["oldState"]["parent"] == f"{PROD}{SERVICE}::orders-us-east-1"
    # The ephemeral progress message is display-only.
    assert digest["diagnostics"] == []
    assert [v["enforcementLevel"] for v in digest["policyViolations"]] == ["mandatory", "advisory"]


def test_a_mandatory_policy_violation_means_the_change_must_not_ship():
    report = analyse(digest_from_events(load_events("events-prod.jsonl")), stack="prod")
    assert report.blocks_ship
    markdown = render(report)
    assert "**⛔ 1 mandatory policy violation(s): this change must not ship.**" in markdown
    policies = section(markdown, "Policy violations")
    lines = [line for line in policies.splitlines() if line.startswith("- ")]
    assert lines[0].startswith("- **mandatory** `container-resources-and-probes` on ")
    # Colour directives of engine messages are stripped.
    assert (
        lines[1] == "- **advisory** `required-tags` on `orders-us-east-1-deployment`: "
        "missing tag cost-centre"
    )


# --- The command ----------------------------------------------------------------------------


def test_from_json_writes_one_report_per_stack_and_exits_by_the_verdict(tmp_path: Path, capsys):
    template = str(tmp_path / "preview-{stack}.md")
    prod = ["preview", "--stack", "prod", "--from-json", str(FIXTURES / "preview-prod.json")]
    assert main([*prod, "--markdown", template]) == 1
    assert (tmp_path / "preview-prod.md").read_text().startswith("# Preview of stack `prod`")
    assert "prod: 0 to create, 4 to update, 1 to replace, 1 to delete; must not ship" in (
        capsys.readouterr().out
    )
    dev = ["preview", "--stack", "dev", "--from-json", str(FIXTURES / "preview-dev.json")]
    assert main(dev) == 0
    assert capsys.readouterr().out.startswith("# Preview of stack `dev`")


def test_from_json_refuses_several_stacks_and_foreign_documents(tmp_path: Path, capsys):
    path = str(FIXTURES / "preview-dev.json")
    assert main(["preview", "--stack", "dev", "--stack", "prod", "--from-json", path]) == 2
    assert "error: --from-json renders one document" in capsys.readouterr().err
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"steps": [{"op": "create", "urn": "not-a-urn"}]}))
    assert main(["preview", "--stack", "dev", "--from-json", str(foreign)]) == 2
    assert "is not a `pulumi preview --json` document: not a Pulumi URN" in capsys.readouterr().err
    foreign.write_text(json.dumps({"steps": 5}))
    assert main(["preview", "--stack", "dev", "--from-json", str(foreign)]) == 2
    assert "document: `steps` of a preview document is a list, not 5" in capsys.readouterr().err


def test_markdown_paths():
    assert markdown_path("out/{stack}.md", "prod", several=True) == Path("out/prod.md")
    assert markdown_path("preview.md", "prod", several=True) == Path("preview-prod.md")
    assert markdown_path("preview.md", "prod", several=False) == Path("preview.md")


def test_previews_run_through_the_automation_api_with_the_policy_pack(fake_stacks, tmp_path):
    fake_stacks["prod"] = FakeStack(events=load_events("events-prod.jsonl"))
    fake_stacks["dev"] = FakeStack()
    args = ["preview", "--stack", "prod", "--stack", "dev", "--markdown", str(tmp_path / "p.md")]
    assert main(args) == 1
    (options,) = fake_stacks["prod"].called("preview")
    assert options["policy_packs"][0].endswith("/policy")
    assert options["policy_pack_configs"][0].endswith("/policy/config/prod.json")
    assert "container-resources-and-probes" in (tmp_path / "p-prod.md").read_text()
    # No events at all (the engine stopped at once): the report still says what it knows.
    assert "0 to create, 0 to update" in (tmp_path / "p-dev.md").read_text()


def test_a_failed_preview_reports_the_engine_error_and_the_events_seen(fake_stacks):
    failure = CommandError("\n code: 255\n stdout: \n stderr: error: preview failed: boom\n")
    fake_stacks["prod"] = FakeStack(events=load_events("events-prod.jsonl"), preview_error=failure)
    report = preview_stack("prod", policies=False)
    assert report.failure == "stderr: error: preview failed: boom"
    assert report.counts["update"] == 1
    assert "policy_packs" not in fake_stacks["prod"].called("preview")[0]
    unknown = preview_stack("qa", policies=True)
    assert unknown.failure == "there is no stack 'qa' in the test backend"
    assert unknown.blocks_ship


def test_a_preview_a_crashed_provider_broke_runs_once_more_and_says_so(fake_stacks, capsys):
    crash = CommandError(
        "\n code: 255\n stderr: error: Detected that /home/plugins/pulumi-resource-kubernetes "
        "exited prematurely. This is *always* a bug in the provider.\n"
    )
    fake_stacks["prod"] = FakeStack(preview_errors=[crash, None])
    report = preview_stack("prod", policies=False)
    assert report.failure is None and not report.blocks_ship
    assert len(fake_stacks["prod"].called("preview")) == 2
    assert "[prod] a provider crashed during the preview, previewing once more" in (
        capsys.readouterr().err
    )
    # Only once: a provider that crashes again fails the preview.
    fake_stacks["prod"] = FakeStack(preview_error=crash)
    assert PROVIDER_CRASH in (preview_stack("prod", policies=False).failure or "")
    assert len(fake_stacks["prod"].called("preview")) == 2
    # Any other failure is reported at once.
    fake_stacks["prod"] = FakeStack(preview_errors=[CommandError("stderr: error: boom")])
    assert preview_stack("prod", policies=False).failure == "stderr: error: boom"
    assert len(fake_stacks["prod"].called("preview")) == 1


def test_a_provider_crash_reported_as_an_engine_diagnostic_also_previews_once_more(fake_stacks):
    message = "Detected that pulumi-resource-kubernetes exited prematurely."
    diagnostic = {"prefix": "error: ", "message": message, "severity": "error", "color": "never"}
    event = EngineEvent.from_json({"sequence": 1, "timestamp": 1, "diagnosticEvent": diagnostic})
    fake_stacks["prod"] = FakeStack(events=[event])
    report = preview_stack("prod", policies=False)
    assert len(fake_stacks["prod"].called("preview")) == 2
    assert report.blocks_ship and any(PROVIDER_CRASH in error for error in report.errors)


def test_a_paths_section_names_its_owner_and_approvers(prod_report):
    stack_file = load_stack_file(PROJECT_DIR / "Pulumi.prod.yaml", PROJECT_DIR)
    settings = parse_settings(namespace_values(stack_file), stack="prod")
    markdown = render(replace(prod_report, settings=settings))
    assert (
        "### Service path `orders@us-east-1` (owner: checkout; approved by @acme/checkout, "
        "checkout-leads@example.com)"
    ) in markdown
    assert "### Infrastructure\n" in markdown, "a region's infrastructure has no owner line"
