"""Reading a region's cluster for the health gate: an API server that does not answer is a
GateFailed naming the region (the gate polls again until its deadline), and the kubeconfig, a
secret, is never in the message."""

from __future__ import annotations

import socket

import pytest
import yaml

from deploypaths.cluster_health import cluster_reader
from deploypaths.health import GateFailed

TOKEN = "s3cret-token-never-shown"


def kubeconfig(server: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": TOKEN}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_api_server_that_does_not_answer_fails_the_read_not_the_gate():
    read = cluster_reader(
        "eu-west-1", kubeconfig(f"http://127.0.0.1:{a_closed_port()}"), "app", ["orders"]
    )

    with pytest.raises(GateFailed) as failed:
        read()

    assert str(failed.value) == "eu-west-1: the API server cannot be read (MaxRetryError)"


def test_a_kubeconfig_that_cannot_be_read_is_said_without_its_content():
    with pytest.raises(GateFailed) as failed:
        cluster_reader("eu-west-1", f"token: {TOKEN}\nnot: [a kubeconfig", "app", ["orders"])

    assert str(failed.value) == "eu-west-1: the kubeconfig cannot be read"
