"""`ops history`: paging through the whole history, diffing each update's paths and saying which
migrations each update ran up and which it ran down."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ops.__main__ import main
from ops.report_history import (
    entry_lines,
    fetch_all,
    history_entries,
    render_history,
    summary_from_json,
)
from tests.support.ops_fixtures import (
    FIXTURES,
    FakeStack,
    config_of,
    edit_json,
    history_json,
    summaries,
    update,
)


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
        (c.path.id, [(f.name, f.before, f.after) for f in c.fields]) for c in rollback.path_changes
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
    # A rotated secret is no change the history reports: v6 shows the rollback alone.
    newest = text.split("\nv5 ")[0].splitlines()[2:]
    assert newest == [
        "v6    2025-03-24 09:00:00 UTC  succeeded   update   commit 6f1d0c2a9b8e",
        "      message: rollback of orders@eu-west-1 to version 3 (by alice)",
        "      orders@eu-west-1: image orders:7.5.0 -> orders:7.4.1",
    ]


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


MIGRATIONS = "deploypaths:migrations"
REGIONS = "deploypaths:regions"
MIGRATE = "registry.example.com/shop/migrate"


def _lines(history):
    """Each update's lines under its heading, by version."""
    return {e.version: entry_lines(e)[1:] for e in history_entries(history, stack="prod")}


def _then(config, key, edit):
    """The next update's config: a copy of `config` with one structured value edited."""
    config = dict(config)
    edit_json(config, key, edit)
    return config


def _downs(region, names):
    def edit(regions):
        next(r for r in regions if r["name"] == region)["down_migrations"] = names

    return edit


def _image(name, image):
    def edit(migrations):
        next(m for m in migrations if m["name"] == name)["image"] = image

    return edit


def _undoable():
    """Today's prod config whose orders-add-status declares a down, and a second migration
    with a down (orders-add-index) after it."""

    def edit(migrations):
        migrations[0]["down"] = {"image": f"{MIGRATE}:0042-down"}
        index = {
            "name": "orders-add-index",
            "image": f"{MIGRATE}:0045",
            "phase": "expand",
            "down": {"image": f"{MIGRATE}:0045-down", "args": ["--drop-index"]},
        }
        migrations.insert(1, index)

    return _then(config_of(summaries(secrets=False)[0]), MIGRATIONS, edit)


def test_the_fixture_history_says_which_migrations_ran_up(entries):
    assert entry_lines(entries[3])[1:] == [
        "      message: drop the legacy orders columns; search canary to 50%",
        "      migrations added: orders-drop-legacy (contract)",
        "      migrations ran up: orders-drop-legacy",
        "      search@us-east-1: canary.weight 10 -> 50",
        "      settings changed: bake_minutes",
    ]
    assert "      migrations ran up: orders-add-status" in entry_lines(entries[1])
    for version in (2, 4, 5, 6):
        assert not any(
            "ran up" in line or "ran down" in line for line in entry_lines(entries[version])
        ), version


def test_each_update_says_which_migrations_ran_up_and_which_ran_down():
    base = config_of(summaries(secrets=False)[0])
    added = _undoable()
    bumped = _then(added, MIGRATIONS, _image("orders-add-index", f"{MIGRATE}:0046"))
    fallback = _then(bumped, REGIONS, _downs("eu-west-1", ["orders-add-index"]))
    rolled_back = _then(
        fallback, REGIONS, _downs("us-east-1", ["orders-add-index", "orders-add-status"])
    )

    def search_canary_at_60(services):
        next(s for s in services if s["name"] == "search")["canary"]["weight"] = 60

    canary = _then(rolled_back, "deploypaths:services", search_canary_at_60)
    history = [
        update(6, canary, message="search canary to 60%"),
        update(5, rolled_back, message="rollback of orders-add-status@us-east-1 to version 1"),
        update(4, fallback, message="automatic rollback of orders-add-index@eu-west-1"),
        update(3, bumped, result="failed"),
        update(2, added),
        update(1, base),
    ]
    lines = _lines(history)
    assert lines[2] == [
        "      migrations added: orders-add-index (expand)",
        "      migrations ran up: orders-add-index",
    ]
    assert lines[3] == [
        "      migrations ran up: orders-add-index",
        "      orders-add-index@us-east-1, orders-add-index@eu-west-1, "
        "orders-add-index@ap-southeast-2: image migrate:0045 -> migrate:0046",
    ]
    assert lines[4] == [
        "      message: automatic rollback of orders-add-index@eu-west-1",
        "      migrations ran down: orders-add-index@eu-west-1",
    ]
    # Newest first, as the region lists them (and runs them).
    assert lines[5] == [
        "      message: rollback of orders-add-status@us-east-1 to version 1",
        "      migrations ran down: orders-add-index@us-east-1, orders-add-status@us-east-1",
    ]
    # An update without migration changes reads as it always has.
    assert lines[6] == [
        "      message: search canary to 60%",
        "      search@us-east-1: canary.weight 50 -> 60",
    ]


def test_a_region_that_runs_a_down_runs_nothing_of_a_new_image_until_it_leaves_the_list():
    fallback = _then(_undoable(), REGIONS, _downs("eu-west-1", ["orders-add-index"]))
    bumped = _then(fallback, MIGRATIONS, _image("orders-add-index", f"{MIGRATE}:0046"))
    forward = _then(bumped, REGIONS, _downs("eu-west-1", []))
    lines = _lines([update(3, forward), update(2, bumped), update(1, fallback)])
    assert lines[2] == [
        "      migrations ran up: orders-add-index@us-east-1, orders-add-index@ap-southeast-2",
        "      orders-add-index@us-east-1, orders-add-index@eu-west-1, "
        "orders-add-index@ap-southeast-2: image migrate:0045 -> migrate:0046",
    ]
    assert lines[3] == ["      migrations ran up: orders-add-index@eu-west-1"]


def test_a_new_down_where_a_region_runs_it_runs_again():
    fallback = _then(_undoable(), REGIONS, _downs("eu-west-1", ["orders-add-index"]))

    def new_args(migrations):
        migrations[1]["down"]["args"] = ["--drop-index", "--concurrently"]

    fixed = _then(fallback, MIGRATIONS, new_args)
    assert _lines([update(2, fixed), update(1, fallback)])[2] == [
        "      migrations ran down: orders-add-index@eu-west-1"
    ]


def test_a_first_recorded_configuration_runs_its_migrations_and_its_downs():
    first = _then(_undoable(), REGIONS, _downs("eu-west-1", ["orders-add-index"]))
    assert _lines([update(1, first)])[1] == [
        "      migrations added: orders-add-status (expand), orders-add-index (expand), "
        "orders-drop-legacy (contract)",
        "      migrations ran up: orders-add-status, orders-add-index@us-east-1, "
        "orders-add-index@ap-southeast-2, orders-drop-legacy",
        "      migrations ran down: orders-add-index@eu-west-1",
        "      first recorded configuration: 16 path(s)",
    ]


def test_a_new_region_runs_every_migration_up_there():
    before = _undoable()
    added = _then(before, REGIONS, lambda regions: regions.append({"name": "us-west-2"}))
    added = _then(added, "deploypaths:waves", lambda waves: waves[1].append("us-west-2"))
    assert _lines([update(2, added), update(1, before)])[2] == [
        "      migrations ran up: orders-add-status@us-west-2, orders-add-index@us-west-2, "
        "orders-drop-legacy@us-west-2",
        "      auth@us-west-2, orders@us-west-2: path added",
        "      orders-add-status@us-west-2, orders-add-index@us-west-2, "
        "orders-drop-legacy@us-west-2: migration path added",
        "      settings changed: waves",
    ]


def test_a_killed_updates_kept_recording_is_listed(fake_stacks, file_backend, capsys):
    folder = file_backend / "events" / "prod"
    folder.mkdir(parents=True)
    (folder / "5-interrupted-4242.jsonl").write_text("{}\n")
    fake_stacks["prod"] = FakeStack(history=summaries())
    assert main(["history", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "Cut short before the backend recorded them (1), events kept:" in out
    listed = "update 5, interrupted (its command, pid 4242, was killed): python -m ops timeline "
    assert listed + "--stack prod --update 5-interrupted-4242" in out
