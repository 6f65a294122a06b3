"""The health gate's bake: a wave's health, polled for the bake time; its CloudWatch source; and
what the gate tells operators: its state as a metric, its failure on the regions' topics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


class GateFailed(Exception):
    """A watched wave went unhealthy; later waves must not start."""


def any_in_alarm(names: Iterable[str]) -> str:
    """A composite alarm rule that is in ALARM whenever any of the named alarms is."""
    return " OR ".join(f'ALARM("{name}")' for name in names)


def cloudwatch_client(region: str) -> Any:
    # Imported here: only the gate's bake in CloudWatch mode needs it, and every preview and
    # update of the program imports this module (boto3 costs 0.1 s).
    import boto3

    # boto3 honours AWS_ENDPOINT_URL, which is how tests point this at a local moto server.
    return boto3.client("cloudwatch", region_name=region)


def sns_client(region: str) -> Any:
    import boto3

    return boto3.client("sns", region_name=region)


# The gate's state as a CloudWatch metric, which the regions' dashboards show.
GATE_NAMESPACE = "deploypaths"
GATE_METRIC = "GateState"
GATE_STATES = {"passed": 0, "baking": 1, "failed": 2}


def record_state(
    gate: str,
    environment: str,
    regions: Iterable[str],
    state: str,
    *,
    client_for: Callable[[str], Any] = cloudwatch_client,
) -> list[str]:
    """Put the gate's state in each watched region; the problems doing so (never raises: a
    dashboard that lags must not decide a release)."""
    problems = []
    for region in regions:
        try:
            client_for(region).put_metric_data(
                Namespace=GATE_NAMESPACE,
                MetricData=[
                    {
                        "MetricName": GATE_METRIC,
                        "Dimensions": [
                            {"Name": "Environment", "Value": environment},
                            {"Name": "Gate", "Value": gate},
                        ],
                        "Value": GATE_STATES[state],
                    }
                ],
            )
        except Exception as error:  # noqa: BLE001 - reported, never decides the gate
            problems.append(f"{region}: {error}")
    return problems


def failure_notice(gate: str, wave: int, failure: str) -> tuple[str, str]:
    """The subject and text of the message a failed gate publishes."""
    subject = f"deploypaths: {gate} failed, wave {wave + 1} held back"
    problems = "\n".join(f"- {problem}" for problem in failure.split("; "))
    text = (
        f"The health gate {gate} found wave {wave} unhealthy and stopped the release: the "
        f"regions after it keep their previous release.\n\n{problems}\n"
    )
    # SNS takes subjects of at most 100 printable ASCII characters.
    return subject[:100], text


def notify_failure(
    gate: str,
    wave: int,
    failure: str,
    targets: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    client_for: Callable[[str], Any] = sns_client,
) -> list[str]:
    """Publish the failure to each region's topics: those for every path, and those for some
    paths (an owner's) when one of their alarms is among the failure's problems. Returns the
    problems publishing (never raises: the gate's own failure is what the update reports)."""
    subject, text = failure_notice(gate, wave, failure)
    problems = []
    for region, region_targets in targets.items():
        client = None
        for target in region_targets:
            # `alarm_check` words each alarm's problem `<region>: <name> <what>`.
            named = any(f"{region}: {name} " in failure for name in target.get("alarms") or [])
            if not (target.get("every") or named):
                continue
            try:
                client = client or client_for(region)
                client.publish(
                    TopicArn=target["topic_arn"],
                    Subject=subject,
                    Message=text,
                    MessageAttributes={"gate": {"DataType": "String", "StringValue": gate}},
                )
            except Exception as error:  # noqa: BLE001 - reported with the gate's failure
                problems.append(f"{target['topic_arn']}: {error}")
    return problems


def alarms_in_alarm(client: Any, names: Sequence[str]) -> list[str]:
    """Problems with the named alarms now: in ALARM, or missing (a missing alarm is no proof of
    health). Paths report composite alarms, but any alarm name can be watched."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names.
        response = client.describe_alarms(
            AlarmNames=list(names[start : start + 100]),
            AlarmTypes=["CompositeAlarm", "MetricAlarm"],
        )
        for kind in ("CompositeAlarms", "MetricAlarms"):
            found.update({alarm["AlarmName"]: alarm for alarm in response.get(kind, [])})
    problems = []
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            problems.append(f"{name} does not exist")
        elif alarm["StateValue"] == "ALARM":
            problems.append(f"{name} is in ALARM ({alarm.get('StateReason', 'no reason given')})")
    return problems


def alarm_check(
    alarms: Mapping[str, Sequence[str]], *, client_for: Callable[[str], Any] = cloudwatch_client
) -> Callable[[], list[str]]:
    """A health check of every region's alarms, for `bake`."""
    clients = {region: client_for(region) for region in alarms}
    return lambda: [
        f"{region}: {problem}"
        for region, names in alarms.items()
        for problem in alarms_in_alarm(clients[region], list(names))
    ]


def watch(
    alarms: Mapping[str, Sequence[str]],
    bake_seconds: float,
    poll_seconds: float,
    *,
    client_for: Callable[[str], Any] = cloudwatch_client,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Bake on every region's alarms (see `bake`)."""
    check = alarm_check(alarms, client_for=client_for)
    return bake(check, bake_seconds, poll_seconds, clock=clock, sleep=sleep)


def bake(
    check: Callable[[], list[str]],
    bake_seconds: float,
    poll_seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll `check` until the bake time is over; raise GateFailed on the first unhealthy poll.
    Returns the number of polls made."""
    deadline = clock() + bake_seconds
    polls = 0
    while True:
        polls += 1
        problems = check()
        if problems:
            raise GateFailed("; ".join(problems))
        remaining = deadline - clock()
        if remaining <= 0:
            return polls
        sleep(min(poll_seconds, remaining))
