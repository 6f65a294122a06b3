"""How every policy reads props and names what it found: values, pod specs, containers."""

from __future__ import annotations

from typing import Any

import pytest

from policy.guardrails.props import MISSING, UNKNOWN, containers, label, pod_spec, show


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (MISSING, "not set"),
        (UNKNOWN, "unknown"),
        (None, "null"),
        (False, "false"),
        # protobuf carries every number as a double; the user wrote 7.
        (7.0, "7"),
        (0.5, "0.5"),
        ("", '""'),
        ({"b": 1, "a": [2]}, '{"a": [2], "b": 1}'),
        ({1, 2}, "{1, 2}"),
    ],
)
def test_show_prints_values_as_the_program_wrote_them(value: Any, shown: str) -> None:
    assert show(value) == shown


def test_label_names_type_and_resource() -> None:
    assert label("aws:rds/cluster:Cluster", "eu-db") == 'aws:rds/cluster:Cluster "eu-db"'


def test_pod_spec_follows_each_workload_kinds_path() -> None:
    spec = {"containers": []}
    assert pod_spec("kubernetes:core/v1:Pod", {"spec": spec}) is spec
    template = {"template": {"spec": spec}}
    assert pod_spec("kubernetes:apps/v1:Deployment", {"spec": template}) is spec
    cron = {"spec": {"jobTemplate": {"spec": template}}}
    assert pod_spec("kubernetes:batch/v1:CronJob", cron) is spec


def test_pod_spec_is_none_when_absent_unknown_or_not_a_workload() -> None:
    assert pod_spec("kubernetes:core/v1:ConfigMap", {"spec": {}}) is None
    assert pod_spec("kubernetes:apps/v1:Deployment", {"spec": UNKNOWN}) is None
    assert pod_spec("kubernetes:apps/v1:Deployment", {"spec": {"template": {}}}) is None
    assert pod_spec("kubernetes:core/v1:Pod", {}) is None


def test_containers_are_titled_by_kind_and_name_or_position() -> None:
    spec = {
        "containers": [{"name": "web"}, {"image": "envoy:1.30"}, UNKNOWN],
        "initContainers": [{"name": "migrate"}],
    }
    titles = [c.title for c in containers(spec, include_init=True)]
    assert titles == ['init container "migrate"', 'container "web"', "containers[1]"]
    assert [c.title for c in containers(spec, include_init=False)] == [
        'container "web"',
        "containers[1]",
    ]


def test_unknown_container_lists_yield_nothing() -> None:
    assert list(containers({"containers": UNKNOWN}, include_init=True)) == []
