"""`ops history`: paging through the whole history and diffing each update's paths."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ops.__main__ import main
from ops.report_history import (
    fetch_all,
    history_entries,
    render_history,
    summary_from_json,
)
from tests.support.ops_fixtures import FIXTURES, FakeStack, history_json, summaries, update


def test_summaries_read_like_stack_history():
    latest = summary_from_json(history_json(secrets=False)[0])
    assert latest.version == 6 and latest.kind == "update" and latest.result == "succeeded"
    assert latest.start_time == datetime(2025, 3, 24, 9, 0)
    assert latest.environment["git.head"].startswith("6f1d0c2a")
    # Without --show-secrets the CLI leaves a secret's value out; the SDK fills in "[secret]".
    assert latest.config["deploypaths:kubeconfigs"].value == "[secret]"
    assert latest.config["deploypaths:kubeconfigs"].secret


def test_history_fixture_values_match_their_readable_object_values():
    for entry in json.loads((FIXTURES / "history-prod.json").read_text()):
        for key, value in entry["config"].items():
            if "objectValue" in value:
                assert json.loads(value["value"]) == value["objectValue"], (entry["version"], key)


def _paged(items, calls):
    def fetch(page_size, page):
        calls.append((page_size, page))
        return items[(page - 1) * page_size : page * page_size]

    return fetch


@pytest.mark.parametrize(("count", "pages"), [(23, 3), (20, 3), (0, 1), (9, 1)])
def test_every_page_is_fetched(count, pages):
    base = summaries()[0]
    items = [update(n, base.config) for n in range(count, 0, -1)]
    calls = []
    found = fetch_all(_paged(items, calls), page_size=10)
    assert [s.version for s in found] == list(range(count, 0, -1))
    assert calls == [(10, page) for page in range(1, pages + 1)]


def test_a_backend_that_ignores_paging_does_not_loop_forever():
    base = summaries()[0]
    first_page = [update(n, base.config) for n in range(10, 0, -1)]
    calls = []
    found = fetch_all(lambda size, page: calls.append(page) or first_page, page_size=10)
    assert len(found) == 10 and calls == [1, 2]


@pytest.fixture
def entries():
    return {e.version: e for e in history_entries(summaries(secrets=False), stack="prod")}


def test_each_update_lists_the_paths_it_changed(entries):
    rollback = entries[6]
    assert rollback.message == "rollback of orders@eu-west-1 to version 3 (by alice)"
    assert [
        (c.path, [(f.name, f.before, f.after) for f in c.fields]) for c in rollback.path_changes
    ] == [
        (
            "orders@eu-west-1",
            [
                (
                    "image",
                    "registry.example.com/shop/orders:7.5.0",
                    "registry.example.com/shop/orders:7.4.1",
                )
            ],
        )
    ]
    assert entries[5].kind == "refresh" and entries[5].path_changes == []
    assert entries[3].migrations_added == ("orders-drop-legacy (contract)",)
    assert entries[3].settings_changed == ["bake_minutes"]
    assert entries[1].first


def test_the_rendered_history_groups_regions_and_shows_commits(entries):
    text = render_history(list(entries.values()), stack="prod")
    lines = text.splitlines()
    assert lines[0] == "History of stack prod: 6 update(s), newest first"
    assert lines[2].startswith(
        "v6    2025-03-24 09:00:00 UTC  succeeded   update   commit 6f1d0c2a9b8e"
    )
    assert "      orders@eu-west-1: image orders:7.5.0 -> orders:7.4.1" in lines
    assert (
        "      orders@us-east-1, orders@eu-west-1, orders@ap-southeast-2: image orders:7.4.0 -> "
        "orders:7.4.1, flags.new-checkout (none) -> on 20%"
    ) in lines
    assert "      search@us-east-1: canary.weight 10 -> 50" in lines
    assert "      migrations added: orders-drop-legacy (contract)" in lines
    # The migration's new path in every region is the list change already shown.
    assert not any("orders-drop-legacy@" in line for line in lines)
    assert "v4    2025-03-22 16:00:00 UTC  failed" in text


def test_secret_values_are_never_compared_or_shown():
    entries_json = history_json(secrets=True)
    entries_json[0]["config"]["deploypaths:kubeconfigs"]["value"] = '{"us-east-1":"rotated-9f8e"}'
    text = render_history(
        history_entries([summary_from_json(e) for e in entries_json], stack="prod"), stack="prod"
    )
    assert "kubeconfig-us" not in text and "rotated-9f8e" not in text


def test_entries_without_config_or_with_invalid_config_say_so():
    base = summaries()[0]
    broken = dict(base.config)
    broken["deploypaths:waves"] = type(base.config["aws:region"])('[["mars-north-1"]]', False)
    text = render_history(
        history_entries([update(8, broken), update(7, {}, kind="update"), base], stack="prod"),
        stack="prod",
    )
    assert (
        "v8" in text and "configuration does not validate today: 2 configuration problem(s)" in text
    )
    assert "settings changed: waves" in text
    assert "v7" in text and "no configuration recorded" in text


def test_history_command_reads_a_saved_history(tmp_path, capsys):
    assert (
        main(["history", "--stack", "prod", "--from-json", str(FIXTURES / "history-prod.json")])
        == 0
    )
    assert "v6    2025-03-24" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('[{"version": 1}]')
    assert main(["history", "--stack", "prod", "--from-json", str(bad)]) == 2
    assert "is not a `pulumi stack history --json` document" in capsys.readouterr().err


def test_history_command_pages_through_the_backend_without_secrets(fake_stacks, capsys):
    history = summaries()
    fake_stacks["prod"] = FakeStack(history=history)
    assert main(["history", "--stack", "prod", "--page-size", "4"]) == 0
    assert fake_stacks["prod"].called("history") == [(4, 1, False), (4, 2, False)]
    out = capsys.readouterr().out
    assert "v1    2025-03-01" in out and "kubeconfig-us" not in out
    assert main(["history", "--stack", "prod", "--page-size", "0"]) == 2
