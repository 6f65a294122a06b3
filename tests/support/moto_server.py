"""A moto server on loopback that boto3 is pointed at (never boto3 patched): AWS APIs for the
tests that need one, started empty and stopped by the test that started it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.request import Request, urlopen

import pytest
from moto.server import ThreadedMotoServer


@contextmanager
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh moto server's URL, with the environment boto3 reads set to reach it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto keeps its state per process, not per server: start every test from nothing.
        urlopen(Request(f"http://{host}:{port}/moto-api/reset", method="POST")).close()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def path_alarm(client: Any, name: str, state: str) -> None:
    """A path's health alarm in the moto server, in the given state. moto implements no
    PutCompositeAlarm, so the stand-in is a metric alarm of the same name; the gate reads both
    kinds through the same DescribeAlarms call."""
    client.put_metric_alarm(
        AlarmName=name,
        MetricName="pod_number_of_container_restarts",
        Namespace="ContainerInsights",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=3,
        ComparisonOperator="GreaterThanThreshold",
    )
    client.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test says {state}")
