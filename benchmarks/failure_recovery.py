"""`python -m benchmarks.failure_recovery [--size 3x20x4/2] [--kinds never-ready,gate,verify]`:
how soon a failed deploy path is back on its previous release when `ops up` puts it back by
itself (ops.recovery), and whether the paths beside it finish as fast as without the failure.

On the local clusters (benchmarks.engine_up's local topology: kubeconfig mode, the gate watching
the clusters), after a first `ops up` (not timed): a control round changes the image of every
service of wave 1 (a new tag) and lands it; then, per failure kind, another new tag for every
wave-1 service, with ONE wave-1 service failing by that kind (local/stages.yaml): `never-ready`
(its pods never get Ready: the rollout times out), `gate` (its pods restart: the gate after
wave 1 names it), `verify` (its `verify` Job fails). Each round is `ops up --stack S --yes`, as a
pipeline runs it, in a background process while this one polls the failed path's Deployment
through the API server. Per kind, from the update's recorded events (ops.events) and the poll:
- failure -> available: from the failed resource's failure event to the moment the Deployment is
  back on its previous image with every replica updated, Ready and Available;
- update end -> available: from the failed update's last event to that same moment;
- path rollout: the Deployment's step in the recovery's own update; the floor is that plus 30 s,
  which update end -> available must keep;
- the other wave-1 paths' last finish (from their update's first step) against the same paths
  in the control round, as a ratio.
Ends with one JSON line: every figure, the machine's cores and its load at start and end.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes

from benchmarks.engine_up import STACK, local_topology
from benchmarks.topology import Size
from deploypaths.identity import component_name, path_id
from deploypaths.stack_config import namespace_values
from ops import events
from ops.path_results import PathResult, path_results
from tests.support.cluster import ClusterView, condition, image_of, is_rolled_out, stamp
from tests.support.sandbox import Sandbox

# What `floor` adds to the path's own rollout: the recovery's fixed cost (its preview, the
# rollback decision, the engine's start) is allowed this much.
FLOOR_MARGIN_SECONDS = 30
POLL_SECONDS = 0.5
# Short enough for a quick never-ready round, long enough for a real rollout at this size under
# load (the stages' delays plus minReadySeconds, queued behind the engine's parallelism).
DEFAULT_TIMEOUT_SECONDS = 60
# The local stack's bake: the gate polls the wave for a few seconds, so restarts are seen.
DEFAULT_BAKE_MINUTES = 0.1


def never_ready(service: dict[str, Any], tag: str) -> None:
    service["image"] = f"{repository(service['image'])}:{tag}-never-ready"


def restarts(service: dict[str, Any], tag: str) -> None:
    service["image"] = f"{repository(service['image'])}:{tag}-restarts"


def failing_verification(service: dict[str, Any], tag: str) -> None:
    service["verify"] = {"image": "registry.example.com/shop/smoke:1.0.0-fails"}


# Failure kind -> how the failing service's release is made to fail (after its new tag is set).
KINDS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "never-ready": never_ready,
    "gate": restarts,
    "verify": failing_verification,
}


def repository(image: str) -> str:
    return image.rsplit(":", 1)[0]


def runs_in(service: Mapping[str, Any], regions: Sequence[str]) -> list[str]:
    return [r for r in regions if r in service.get("regions", regions)]


def failing_service(config: Mapping[str, Any], wave: Sequence[str]) -> tuple[str, str]:
    """(service, region): a rolling wave-1 service, the one that waits for the least, so it
    fails early in the update (the first such, for the same choice every run)."""
    candidates = [
        (len(s.get("after", [])), len(s.get("requires", [])), index, s["name"], where[0])
        for index, s in enumerate(config["services"])
        if s.get("strategy", "rolling") == "rolling" and (where := runs_in(s, wave))
    ]
    if not candidates:
        sys.exit("the topology has no rolling service in wave 1 to fail; pick another --size")
    *_, name, region = min(candidates)
    return name, region


def release(
    config: Mapping[str, Any], wave: Sequence[str], tag: str, failure: tuple[str, str] | None
) -> dict[str, Any]:
    """`config` with a new image tag for every service that runs in `wave` (a blue-green one: its
    active colour), and, for `failure` (service, kind), that service's release made to fail."""
    changed = copy.deepcopy(dict(config))
    for service in changed["services"]:
        if not runs_in(service, wave):
            continue
        if service.get("strategy") == "blue-green":
            active = service["blue_green"][service["blue_green"]["active"]]
            active["image"] = f"{repository(active['image'])}:{tag}"
        else:
            service["image"] = f"{repository(service['image'])}:{tag}"
        if failure and service["name"] == failure[0]:
            KINDS[failure[1]](service, tag)
    return changed


@dataclass
class Watch:
    """A Deployment polled through the API server: when it left its image, when it was put back
    on it (the template), and when it was back with every replica updated, Ready, Available."""

    view: ClusterView
    name: str
    previous: str
    left_at: float | None = None
    reverted_at: float | None = None
    back_at: float | None = None
    # The poll before `back_at`: the moment lies between the two.
    back_after: float | None = None
    polls: int = 0
    errors: int = 0
    _last_poll: float | None = None

    def poll(self) -> None:
        try:
            found = self.view.apps.read_namespaced_deployment(self.name, self.view.namespace)
        except (kubernetes.client.ApiException, OSError, ValueError):
            self.errors += 1  # an API server busy with the rollout: the next poll says
            return
        now = time.time()
        self.polls += 1
        deployment = self.view.api.sanitize_for_serialization(found)
        image = image_of(deployment)
        if image != self.previous:
            self.left_at = self.left_at or now
        elif self.left_at is not None and self.back_at is None:
            self.reverted_at = self.reverted_at or now
            if is_rolled_out(deployment):
                self.back_at, self.back_after = now, self._last_poll
        self._last_poll = now

    def condition_time(self) -> float | None:
        """When the controller last said the rollout completed (Progressing:
        NewReplicaSetAvailable), in whole seconds: a check on the poll."""
        found = self.view.apps.read_namespaced_deployment(self.name, self.view.namespace)
        deployment = self.view.api.sanitize_for_serialization(found)
        try:
            progressing = condition(deployment, "Progressing")
        except StopIteration:
            return None
        if progressing.get("reason") != "NewReplicaSetAvailable":
            return None
        return stamp(progressing["lastUpdateTime"])


@dataclass
class Round:
    """One `ops up` and what its recorded updates say."""

    returncode: int
    wall_seconds: float
    output: str
    # Event files of the updates it ran: the update itself, then the recovery's.
    files: list[Path] = field(default_factory=list)

    def raw(self, index: int = 0) -> list[dict[str, Any]]:
        return events.read_events(self.files[index])

    def update(self, index: int = 0) -> events.Update:
        return events.parse_update(self.raw(index), source=str(self.files[index]))


class Bench:
    """The sandbox's stack on its clusters, deployed round after round through `ops up`."""

    def __init__(self, sandbox: Sandbox, up_options: Sequence[str]) -> None:
        self.sandbox = sandbox
        self.up_args = ("up", "--stack", STACK, "--yes", *up_options)
        self.directory = events.events_dir(STACK, f"file://{sandbox.root / '.state'}")

    def run(self, config: Mapping[str, Any], watch: Watch | None = None) -> Round:
        self.sandbox.write_config(STACK, dict(config))
        before = set(events.recorded_updates(self.directory))
        finished: dict[str, Any] = {}

        def up() -> None:
            try:
                finished["done"] = self.sandbox.ops(*self.up_args)
            except OSError as error:  # no interpreter to run: reported below, the poll stops
                finished["error"] = error

        started = time.perf_counter()
        runner = threading.Thread(target=up, name="ops-up")
        runner.start()
        while runner.is_alive():
            if watch is not None:
                watch.poll()
            runner.join(POLL_SECONDS)
        wall = time.perf_counter() - started
        if "error" in finished:
            sys.exit(f"`ops {' '.join(self.up_args)}` did not run: {finished['error']}")
        done = finished["done"]
        updates = events.recorded_updates(self.directory)
        files = [updates[n] for n in sorted(set(updates) - before)]
        return Round(done.returncode, wall, done.stdout + done.stderr, files)

    def landed(self, config: Mapping[str, Any], what: str) -> Round:
        outcome = self.run(config)
        if outcome.returncode != 0:
            sys.exit(f"{what}: `ops {' '.join(self.up_args)}` failed:\n{outcome.output[-4000:]}")
        return outcome


def first_failure(raw: Sequence[Mapping[str, Any]]) -> tuple[float, str]:
    """(timestamp, URN) of the update's first failed resource operation; else its first error
    about a resource."""
    failed = [
        (float(e["timestamp"]), e["resOpFailedEvent"]["metadata"]["urn"])
        for e in raw
        if "resOpFailedEvent" in e
    ]
    if not failed:
        failed = [
            (float(e["timestamp"]), e["diagnosticEvent"]["urn"])
            for e in raw
            if e.get("diagnosticEvent", {}).get("severity") == "error"
            and e["diagnosticEvent"].get("urn")
        ]
    if not failed:
        raise RuntimeError("the update recorded no failure")
    return min(failed)


def step_seconds(update: events.Update, name: str) -> float | None:
    step = next((s for s in update.steps.values() if s.name == name), None)
    if step is None or step.start is None or step.finish is None:
        return None
    return step.finish - step.start


def landed_finishes(results: Sequence[PathResult], wave: Sequence[str]) -> dict[str, float]:
    """Seconds from the update's first step to each wave-1 service path's finish, for the paths
    whose new release landed."""
    return {
        r.id: r.finish * 60
        for r in results
        if r.kind == "service"
        and r.result == "changed"
        and r.finish is not None
        and r.path is not None
        and r.path.region in wave
    }


def summary_line(output: str, path: str) -> str:
    """`ops up`'s summary line for `path` (the last: after the failed paths went back)."""
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith(f"{path} ")]
    return lines[-1] if lines else ""


def recovery_seconds(line: str) -> float | None:
    found = re.search(r"\bin (\d+)s\b", line)
    return float(found.group(1)) if found else None


def failure_round(
    bench: Bench,
    view: ClusterView,
    config: Mapping[str, Any],
    wave: Sequence[str],
    kind: str,
    tag: str,
    failing: tuple[str, str],
    control: Mapping[str, float],
) -> dict[str, Any]:
    service, region = failing
    path = path_id(service, region)
    deployment = service  # a rolling service's one Deployment is named after it
    previous = image_of(view.deployments()[deployment])
    watch = Watch(view, deployment, previous)
    outcome = bench.run(release(config, wave, tag, (service, kind)), watch)
    line = summary_line(outcome.output, path)
    row: dict[str, Any] = {
        "kind": kind,
        "path": path,
        "exit": outcome.returncode,
        "ops_up_wall_seconds": round(outcome.wall_seconds, 1),
        "summary_line": line,
        "recovery_seconds_said": recovery_seconds(line),
        "updates": [int(f.stem) for f in outcome.files],
        "polls": watch.polls,
        "poll_errors": watch.errors,
    }
    if not outcome.files:
        row["problem"] = "no recorded update:\n" + outcome.output[-3000:]
        return row
    raw = outcome.raw()
    failed_at, failed_urn = first_failure(raw)
    ended_at = max(float(e["timestamp"]) for e in raw)
    row |= {
        "failed_resource": failed_urn.rsplit("::", 1)[-1],
        "failure_at": failed_at,
        "update_end_at": ended_at,
        "left_at": watch.left_at,
        "reverted_at": watch.reverted_at,
        "available_at": watch.back_at,
        "available_after_poll_at": watch.back_after,
    }
    if watch.back_at is not None:
        row["available_condition_at"] = watch.condition_time()
        row["failure_to_available_seconds"] = round(watch.back_at - failed_at, 1)
        row["end_to_available_seconds"] = round(watch.back_at - ended_at, 1)
        if watch.reverted_at is not None:
            row["cluster_rollout_seconds"] = round(watch.back_at - watch.reverted_at, 1)
    rollout = None
    if len(outcome.files) > 1:
        rollout = step_seconds(outcome.update(1), f"{component_name(service, region)}-deployment")
    row["path_rollout_seconds"] = rollout
    if rollout is not None:
        row["floor_seconds"] = rollout + FLOOR_MARGIN_SECONDS
        # The floor holds the recovery to account (update end -> back); the time before the
        # update ends is the other paths' (the recovery waits for the update's lock).
        if "end_to_available_seconds" in row:
            row["within_floor"] = row["end_to_available_seconds"] <= row["floor_seconds"]
    others = {
        p: s for p, s in landed_finishes(path_results(outcome.update()), wave).items() if p != path
    }
    common = sorted(set(others) & set(control))
    row["other_paths"] = len(common)
    if common:
        row["others_finish_by_path"] = {p: [others[p], control[p]] for p in common}
        row["others_finish_seconds"] = max(others[p] for p in common)
        row["control_finish_seconds"] = max(control[p] for p in common)
        row["others_vs_control"] = round(
            row["others_finish_seconds"] / row["control_finish_seconds"], 2
        )
        row["others_vs_control_median_per_path"] = round(
            statistics.median(others[p] / control[p] for p in common if control[p]), 2
        )
    return row


def figure(value: Any, width: int, digits: int = 1) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.{digits}f}"
    return f"{value!s:>{width}}"


def print_table(rows: Sequence[Mapping[str, Any]], control_seconds: float) -> None:
    header = (
        "kind",
        "failure->avail s",
        "end->avail s",
        "rollout s",
        "floor s",
        "in floor",
        "others s",
        "control s",
        "ratio",
    )
    print("{:<12} {:>16} {:>12} {:>9} {:>7} {:>8} {:>8} {:>9} {:>5}".format(*header))
    for row in rows:
        print(
            f"{row['kind']:<12} {figure(row.get('failure_to_available_seconds'), 16)} "
            f"{figure(row.get('end_to_available_seconds'), 12)} "
            f"{figure(row.get('path_rollout_seconds'), 9)} {figure(row.get('floor_seconds'), 7)} "
            f"{figure(row.get('within_floor'), 8)} {figure(row.get('others_finish_seconds'), 8)} "
            f"{figure(row.get('control_finish_seconds'), 9)} "
            f"{figure(row.get('others_vs_control'), 5, 2)}"
        )
    print(f"control round (the same change, nothing failing): {control_seconds:.1f} s of ops up")
    for row in rows:
        print(f"  {row['kind']}: exit {row['exit']}, {row['summary_line'] or 'no summary line'}")
        if row.get("problem"):
            print(f"  {row['kind']}: {row['problem']}")


def nproc() -> int:
    """What `nproc` prints: the cores this process may run on."""
    return len(os.sched_getaffinity(0))


def parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or 'none'}: allowed: {', '.join(KINDS)}"
        )
    return kinds


def measure(
    config: Mapping[str, Any],
    wave: Sequence[str],
    failing: tuple[str, str],
    kinds: Sequence[str],
    up_options: Sequence[str],
) -> tuple[list[dict[str, Any]], Round, dict[str, float]]:
    """The first up, the control round, then one failure round per kind, on a sandbox's own
    clusters (deleted afterwards)."""
    region = failing[1]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="deploypaths-recovery-") as scratch:
        sandbox = Sandbox(Path(scratch))
        sandbox.write_config(STACK, dict(config))
        with sandbox.clusters(STACK) as kubeconfigs:
            sandbox.pulumi("stack", "init", STACK)
            bench = Bench(sandbox, up_options)
            view = ClusterView(region, config["kubernetes"]["namespace"], kubeconfigs[region])
            bench.landed(config, "the first up")
            control_round = bench.landed(release(config, wave, "2.0.0", None), "the control round")
            control = landed_finishes(path_results(control_round.update()), wave)
            for number, kind in enumerate(kinds, start=1):
                tag = f"2.{number}.0"
                rows.append(failure_round(bench, view, config, wave, kind, tag, failing, control))
    return rows, control_round, control


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.failure_recovery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", default="3x20x4/2", metavar="RxSxM/W")
    parser.add_argument("--kinds", type=parse_kinds, default=list(KINDS), metavar=",".join(KINDS))
    parser.add_argument(
        "--parallel", type=int, metavar="N", help="ops up --parallel N (default: the engine's)"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="S",
        help=f"kubernetes.rollout_timeout_seconds (default {DEFAULT_TIMEOUT_SECONDS})",
    )
    parser.add_argument("--bake-minutes", type=float, default=DEFAULT_BAKE_MINUTES)
    parser.add_argument("--no-policy", action="store_true", help="ops up --no-policy")
    args = parser.parse_args(argv)
    size = Size.parse(args.size)
    load_start = os.getloadavg()
    config = namespace_values(local_topology(size))
    config["kubernetes"]["rollout_timeout_seconds"] = args.timeout
    config["bake_minutes"] = args.bake_minutes
    wave = config["waves"][0]
    failing = failing_service(config, wave)
    up_options = [*(["--parallel", str(args.parallel)] if args.parallel else [])]
    up_options += ["--no-policy"] if args.no_policy else []
    rows, control_round, control = measure(config, wave, failing, args.kinds, up_options)
    load_end = os.getloadavg()
    print(
        f"{size} on the local clusters: per kind, one wave-1 service "
        f"({path_id(*failing)}) fails while every wave-1 service gets a new image; "
        f"rollout timeout {args.timeout} s, bake {args.bake_minutes} min, "
        f"--parallel {args.parallel or 'default'}"
    )
    print_table(rows, control_round.wall_seconds)
    print(
        f"machine: {nproc()} cores; load average {load_start[0]:.2f} at start, "
        f"{load_end[0]:.2f} at the end"
    )
    summary = {
        "topology": str(size),
        "failing_path": path_id(*failing),
        "rollout_timeout_seconds": args.timeout,
        "bake_minutes": args.bake_minutes,
        "parallel": args.parallel or "default",
        "policy": not args.no_policy,
        "floor_margin_seconds": FLOOR_MARGIN_SECONDS,
        "control": {
            "ops_up_wall_seconds": round(control_round.wall_seconds, 1),
            "finish_seconds": control,
        },
        "kinds": rows,
        "machine": {
            "nproc": nproc(),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in load_end],
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
