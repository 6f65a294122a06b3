"""`python -m benchmarks.service_release [--size 3x20x4/2]`: one service's new image, from the
command to that service rolled out in every region, through each layout; and two services
released at the same moment, each by its own process.

On the local clusters (benchmarks.engine_up's topology, kubeconfig mode), three environments of
the same topology side by side on one set of clusters, each in its own namespace: `bench`
(one stack), `benchr` (region stacks, `--layout per-region`) and `benchs` (`layout:
per-service`). Each is deployed once (not timed). Then, timed, for a service that runs in every
region and that no other service waits for (its stack's update starts nothing else):
- single: the image changed in the stack file, `ops up --stack bench --yes`;
- region stacks: the same, `ops up --env benchr --layout per-region --yes`;
- per-service: `ops release --env benchs --service S --image I`;
- each as its pipeline runs it (ops/pipelines/flow.py): `ops preview` of the stack (the step
  that refuses unsafe changes), then the deploy (`ops up --stack bench`; per service, the
  migrations job's `ops release --service S --migrations`, then `ops release --service S` with
  the release file already changed);
- two at once: two such services, `ops release` of each started together, each one's time
  against the one release alone (floor: both within 1.2 x); through the single stack the
  second change waits for the first's lock, so it is timed as the two changes one after the
  other.
Each command's wall time ends when it exits, which `ops up` does once every rollout it applied
is done. The CPU and peak memory of each command's process tree (engine, providers, language
hosts) are sampled from /proc. Ends with one JSON line of every figure, the machine's cores,
memory and load.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.engine_up import ProcessTree, local_topology
from benchmarks.topology import Size
from deploypaths import releases
from deploypaths.layout import service_stack
from deploypaths.stack_config import namespace_values
from tests.support.sandbox import Sandbox

SINGLE, REGIONS, SERVICES = "bench", "benchr", "benchs"
FLOOR_CONCURRENT = 1.2
TIMEOUT = 3600
FAILURE_LOG = Path(__file__).resolve().parent.parent / "out" / "service_release-failure.log"


def environment(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The topology as environment `name`: its own namespace on the `bench` clusters."""
    changed = copy.deepcopy(config)
    changed["kubernetes"] = {**changed["kubernetes"], "namespace": name}
    if name == SERVICES:
        changed["layout"] = "per-service"
    return changed


def leaves(config: dict[str, Any]) -> list[str]:
    """Services that run in every region and that no service runs after, in config order."""
    regions = {r["name"] for r in config["regions"]}
    waited_for = {other for s in config["services"] for other in s.get("after", [])}
    return [
        s["name"]
        for s in config["services"]
        if s["name"] not in waited_for
        and set(s.get("regions", regions)) == regions
        and s.get("strategy", "rolling") == "rolling"
    ]


def with_image(config: dict[str, Any], service: str, tag: str) -> dict[str, Any]:
    changed = copy.deepcopy(config)
    entry = next(s for s in changed["services"] if s["name"] == service)
    entry["image"] = f"{entry['image'].rsplit(':', 1)[0]}:{tag}"
    return changed


def image_of(config: dict[str, Any], service: str) -> str:
    return str(next(s for s in config["services"] if s["name"] == service)["image"])


def timed(project: Sandbox, *arguments: str) -> dict[str, Any]:
    """One `python -m ops` command, its wall seconds and its process tree's CPU and memory."""
    sampler = ProcessTree()
    started = time.monotonic()
    with sampler:
        done = subprocess.run(
            [sys.executable, "-m", "ops", *arguments],
            env=project.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        # A stack's whole output is long: its failure lines say why, the whole is kept.
        FAILURE_LOG.parent.mkdir(exist_ok=True)
        FAILURE_LOG.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
        failures = [line for line in done.stdout.splitlines() if "fail" in line.lower()]
        raise SystemExit(
            f"ops {' '.join(arguments)} failed ({done.returncode}):\n"
            + "\n".join(failures[-40:])
            + f"\n{done.stderr[-2000:]}\nits whole output: {FAILURE_LOG}"
        )
    return {"seconds": round(seconds, 1), **sampler.result()}


def concurrently(project: Sandbox, commands: list[list[str]]) -> list[float]:
    """Each command started at the same moment; each one's wall seconds."""
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "ops", *command],
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for command in commands
    ]
    seconds = []
    for command, process in zip(commands, processes, strict=True):
        out, _ = process.communicate(timeout=TIMEOUT)
        seconds.append(round(time.monotonic() - started, 1))
        if process.returncode != 0:
            raise SystemExit(f"ops {' '.join(command)} failed:\n{out[-3000:]}")
    return seconds


def measure(project: Sandbox, config: dict[str, Any]) -> dict[str, Any]:
    first, second = leaves(config)[:2]
    single, regions, services = (environment(config, n) for n in (SINGLE, REGIONS, SERVICES))
    for name, env in ((SINGLE, single), (REGIONS, regions), (SERVICES, services)):
        project.write_config(name, env)
    deploy = ["--yes", "--no-policy"]
    project.stack(SINGLE)  # `ops up --stack` updates an existing stack
    timed(project, "up", "--stack", SINGLE, *deploy)
    timed(project, "up", "--env", REGIONS, "--layout", "per-region", *deploy)
    timed(project, "up", "--env", SERVICES, "--layout", "per-service", *deploy)
    figures: dict[str, Any] = {"services": [first, second]}
    # Every stack file change keeps the ones before it. The single stack's figures come first:
    # a release file, once `ops release` writes one, sets its service's image in every
    # environment of the project, the single stack's too.
    project.write_config(SINGLE, single := with_image(single, first, "t1"))
    figures["single"] = timed(project, "up", "--stack", SINGLE, *deploy)
    project.write_config(SINGLE, single := with_image(single, second, "t1"))
    figures["single_second_change"] = timed(project, "up", "--stack", SINGLE, *deploy)
    # As each layout's pipeline runs the change (ops/pipelines/flow.py): the preview that refuses
    # unsafe changes, then the deploy; the stack file or release file committed before it starts.
    project.write_config(SINGLE, with_image(single, first, "t3"))
    figures["single_pipeline"] = pipeline(
        project, ["preview", "--stack", SINGLE], ["up", "--stack", SINGLE, *deploy]
    )
    project.write_config(REGIONS, with_image(regions, first, "t1"))
    figures["region_stacks"] = timed(
        project, "up", "--env", REGIONS, "--layout", "per-region", *deploy
    )
    release = ["release", "--env", SERVICES, "--output", "none"]
    image = image_of(with_image(services, first, "t1"), first)
    figures["per_service"] = timed(project, *release, "--service", first, "--image", image)
    releases.write_image(project.root, first, image_of(with_image(services, first, "t3"), first))
    figures["per_service_pipeline"] = pipeline(
        project,
        ["preview", "--stack", service_stack(SERVICES, first)],
        [*release, "--service", first, "--migrations"],
        [*release, "--service", first],
    )
    figures["per_service_concurrent"] = concurrently(
        project,
        [
            [
                *release,
                "--service",
                first,
                "--image",
                image_of(with_image(services, first, "t2"), first),
            ],
            [
                *release,
                "--service",
                second,
                "--image",
                image_of(with_image(services, second, "t2"), second),
            ],
        ],
    )
    return figures


def pipeline(project: Sandbox, preview: list[str], *deploy: list[str]) -> dict[str, Any]:
    """A pipeline's steps, one after the other: `ops preview` (its report written, as the
    pipelines keep it) and the deploy's (a per-service pipeline first runs its migrations job,
    which deploys nothing when the migrations the service requires have run); their seconds
    together and the preview's alone."""
    with tempfile.TemporaryDirectory() as folder:
        previewed = timed(project, *preview, "--markdown", str(Path(folder) / "preview.md"))
    deployed = [timed(project, *step)["seconds"] for step in deploy]
    return {
        "seconds": round(previewed["seconds"] + sum(deployed), 1),
        "preview_seconds": previewed["seconds"],
    }


def memory_gib() -> float:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return round(pages / 2**30, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.service_release",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", default="3x20x4/2", metavar="RxSxM/W")
    args = parser.parse_args(argv)
    size = Size.parse(args.size)
    config = namespace_values(local_topology(size))
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        project = Sandbox(Path(folder))
        project.write_config(SINGLE, environment(config, SINGLE))
        with project.clusters(SINGLE):
            for name in (REGIONS, SERVICES):
                # Every environment runs on the `bench` clusters, each in its namespace.
                project.write_config(name, environment(config, name))
            figures = measure(project, config)
    load_end = os.getloadavg()
    one = figures["per_service"]["seconds"]
    both = figures["per_service_concurrent"]
    single = figures["single"]["seconds"]
    print(f"{size} on the local clusters; services {', '.join(figures['services'])}")
    print(f"  one service's image, single stack:   {single:7.1f} s")
    print(f"  the same, region stacks:             {figures['region_stacks']['seconds']:7.1f} s")
    print(f"  the same, ops release (per-service): {one:7.1f} s ({single / one:.2f}x faster)")
    print(
        f"  two releases at once:                {both[0]:7.1f} s and {both[1]:7.1f} s "
        f"({max(both) / one:.2f} x one alone; floor {FLOOR_CONCURRENT})"
    )
    by_pipeline = {key: figures[f"{key}_pipeline"] for key in ("single", "per_service")}
    for key, title in (("single", "single stack"), ("per_service", "per-service")):
        print(
            f"  as its pipeline runs it, {title + ':':14}{by_pipeline[key]['seconds']:7.1f} s "
            f"(its preview {by_pipeline[key]['preview_seconds']:.1f} s)"
        )
    second = figures["single_second_change"]["seconds"]
    print(f"  two changes through the single stack: {single + second:7.1f} s (one after the other)")
    print(
        f"machine: {os.cpu_count()} cores, {memory_gib()} GiB; load average {load_start[0]:.2f} "
        f"at start, {load_end[0]:.2f} at the end"
    )
    summary = {
        "topology": str(size),
        **figures,
        "concurrent_over_one": round(max(both) / one, 2),
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": memory_gib(),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in load_end],
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
