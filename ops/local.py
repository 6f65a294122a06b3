"""`python -m ops local up|down|status --stack local`: one Kubernetes control plane per region of a
stack, on this machine, with simulated nodes (kwok), for `kubernetes.mode: kubeconfig`.

Every cluster listens on 127.0.0.1 only and runs the binaries `scripts/install-engine` built
(nothing is downloaded). Its state lives under the project's ignored `.clusters/` folder, and each
region's kubeconfig is written to `.clusters/<stack>/<region>.yaml`, the folder the stack names in
`kubernetes.kubeconfig_dir`. What pods do, and when (Ready after a delay, never Ready, a failing
migration, restarts), is set by the kwok Stages in `local/stages.yaml`, not by the program.

`up` is idempotent (running clusters are kept, stopped ones restarted); `down` stops every
process the clusters started and keeps their data, ports and certificates, so the stack's state
still matches them at the next `up`; `delete` removes them for good (a stack deployed to them
then refers to clusters that are gone: delete its state too, as `make clean` does).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from ops import UserError, automation
from ops.automation import PROJECT_DIR, REPO_ROOT

STAGES = REPO_ROOT / "local" / "stages.yaml"
# Simulated nodes per cluster; kwok nodes are cheap, and several let a Deployment spread.
NODES = 3
LOOPBACK = "127.0.0.1"
BINARIES = {
    "kubeApiserverBinary": "kube-apiserver",
    "kubeControllerManagerBinary": "kube-controller-manager",
    "kubeSchedulerBinary": "kube-scheduler",
    "kubectlBinary": "kubectl",
    "etcdBinary": "etcd",
    "kwokControllerBinary": "kwok",
}
COMMAND_TIMEOUT_SECONDS = 180
WAIT = "2m"
# Folders of .clusters/ that are not a stack's kubeconfigs.
RESERVED = ("kwok", "kwokctl")


@dataclass(frozen=True)
class Cluster:
    stack: str
    region: str
    project: Path

    @property
    def name(self) -> str:
        return f"{self.stack}-{self.region}"

    @property
    def kubeconfig(self) -> Path:
        return kubeconfig_dir(self.project, self.stack) / f"{self.region}.yaml"

    @property
    def folder(self) -> Path:
        return workdir(self.project) / "clusters" / self.name

    @property
    def config_file(self) -> Path:
        return self.project / ".clusters" / "kwokctl" / f"{self.name}.yaml"


def workdir(project: Path) -> Path:
    return project / ".clusters" / "kwok"


def kubeconfig_dir(project: Path, stack: str) -> Path:
    return project / ".clusters" / stack


def binaries_dir() -> Path:
    return automation.engine_home(os.environ) / "kube"


def clusters_of(stack: str, project: Path = PROJECT_DIR) -> list[Cluster]:
    """One cluster per region of the stack file."""
    path = project / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise UserError(f"there is no stack file {path} for stack {stack!r}")
    try:
        regions = namespace_values(load_stack_file(path, project)).get("regions")
    except StackFileError as error:
        raise UserError(str(error)) from None
    names: list[str] = [
        r["name"]
        for r in (regions if isinstance(regions, list) else [])
        if isinstance(r, dict) and isinstance(r.get("name"), str)
    ]
    if not names:
        raise UserError(f"{path} names no regions (deploypaths:regions)")
    return [Cluster(stack, region, project) for region in names]


def check_binaries() -> None:
    missing = [
        name for name in [*BINARIES.values(), "kwokctl"] if not (binaries_dir() / name).exists()
    ]
    if missing:
        raise UserError(
            f"missing {', '.join(missing)} in {binaries_dir()}: run `make setup` "
            "(scripts/install-engine) first"
        )


def kwokctl_config(port: int | None) -> str:
    """kwokctl's configuration: local binaries, loopback only, and the repository's Stages (which
    replace kwok's defaults)."""
    options: dict[str, object] = {"runtime": "binary", "bindAddress": LOOPBACK}
    options.update({key: str(binaries_dir() / name) for key, name in BINARIES.items()})
    if port is not None:
        options["kubeApiserverPort"] = port
    configuration = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": options,
        # One instance of each: nothing to elect. With an election, losing the API server for
        # longer than a lease makes them exit, and no kubelet here starts them again.
        "componentsPatches": [
            {"name": name, "extraArgs": [{"key": "leader-elect", "value": "false"}]}
            for name in ("kube-controller-manager", "kube-scheduler")
        ],
    }
    return yaml.safe_dump(configuration, sort_keys=False) + "---\n" + STAGES.read_text()


def kwokctl(
    project: Path, *args: str, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(binaries_dir() / "kwokctl"), *args]
    if config is not None:
        command += ["--config", str(config)]
    env = {**os.environ, "KWOK_WORKDIR": str(workdir(project))}
    try:
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS
        )
    except FileNotFoundError:
        raise UserError(
            f"no kwokctl in {binaries_dir()}: run `make setup` (scripts/install-engine) first"
        ) from None
    except subprocess.TimeoutExpired:
        raise UserError(
            f"`kwokctl {' '.join(args[:2])}` took over {COMMAND_TIMEOUT_SECONDS}s; see the logs in "
            f"{workdir(project) / 'clusters'}"
        ) from None


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit code {result.returncode}"


def is_serving(cluster: Cluster) -> bool:
    if not cluster.kubeconfig.exists():
        return False
    result = subprocess.run(
        [
            str(binaries_dir() / "kubectl"),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "get",
            "--raw",
            "/readyz",
            "--request-timeout=5s",
        ],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def start(cluster: Cluster, port: int | None) -> str:
    """Creates the cluster, or restarts a stopped one; returns what was done."""
    if cluster.folder.exists():
        if is_serving(cluster):
            return "already running"
        if not (cluster.folder / "kwok.yaml").exists():
            raise UserError(
                f"{cluster.folder} is a stale cluster folder (no kwok.yaml): run "
                f"`python -m ops local delete --stack {cluster.stack}` and try again"
            )
        result = kwokctl(
            cluster.project, "start", "cluster", "--name", cluster.name, "--wait", WAIT
        )
        if result.returncode != 0:
            kwokctl(cluster.project, "stop", "cluster", "--name", cluster.name)
            raise UserError(
                f"cluster {cluster.name} did not restart ({last_line(result)}): run "
                f"`python -m ops local delete --stack {cluster.stack}` and try again"
            )
        return "restarted"
    if port is not None and port_in_use(port):
        raise UserError(f"port {port} on {LOOPBACK} is in use: pass another --port, or none")
    cluster.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    config = cluster.config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(kwokctl_config(port))
    result = kwokctl(
        cluster.project,
        "create", "cluster", "--name", cluster.name, "--kubeconfig", str(cluster.kubeconfig),
        "--wait", WAIT,
        config=config,
    )  # fmt: skip
    if result.returncode == 0:
        result = kwokctl(
            cluster.project, "scale", "node", "--replicas", str(NODES), "--name", cluster.name
        )
    if result.returncode != 0:
        # Nothing half-started stays behind.
        remove(cluster)
        raise UserError(f"cluster {cluster.name} did not start: {last_line(result)}")
    return "created"


def remove(cluster: Cluster) -> None:
    kwokctl(cluster.project, "delete", "cluster", "--name", cluster.name)
    cluster.kubeconfig.unlink(missing_ok=True)
    cluster.config_file.unlink(missing_ok=True)


def up(clusters: Sequence[Cluster], port: int | None) -> list[str]:
    # One at a time: each kwokctl picks its free ports on its own, and two at once pick the same.
    lines = []
    for index, cluster in enumerate(clusters):
        what = start(cluster, None if port is None else port + index)
        lines.append(f"{cluster.region}: {what} ({cluster.name}, kubeconfig {cluster.kubeconfig})")
    if clusters:
        owner_only(workdir(clusters[0].project).parent)
    return lines


def owner_only(folder: Path) -> None:
    """Takes every permission but the owner's from `folder` and what it holds: its kubeconfigs
    and certificates are the clusters' admin credentials."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o700)


def existing(stack: str, project: Path = PROJECT_DIR) -> list[Cluster]:
    """Every cluster of the stack on this machine, including those of regions it no longer has."""
    folder = workdir(project) / "clusters"
    prefix = f"{stack}-"
    return [
        Cluster(stack, path.name.removeprefix(prefix), project)
        for path in sorted(folder.glob(f"{prefix}*"))
        if path.is_dir()
    ]


def down(clusters: Sequence[Cluster], *, delete: bool) -> list[str]:
    """Stops (or deletes) every cluster, carrying on past a failure, then reports them all."""
    lines, failures = [], []
    for cluster in clusters:
        if delete:
            remove(cluster)
            failed = cluster.folder.exists()
        else:
            stop = kwokctl(cluster.project, "stop", "cluster", "--name", cluster.name)
            failed = stop.returncode != 0
        if failed:
            failures.append(cluster.name)
        lines.append(f"{cluster.region}: {'deleted' if delete else 'stopped'} ({cluster.name})")
    if failures:
        raise UserError(f"could not {'delete' if delete else 'stop'}: {', '.join(failures)}")
    return lines or ["no clusters"]


def status(clusters: Sequence[Cluster]) -> list[str]:
    lines = []
    for cluster in clusters:
        if not cluster.folder.exists():
            state = "absent"
        else:
            state = "running" if is_serving(cluster) else "stopped"
        lines.append(f"{cluster.region}: {state} ({cluster.name}, kubeconfig {cluster.kubeconfig})")
    return lines


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "local",
        help="start, stop or show the local clusters of a stack (one per region)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("up", "down", "delete", "status"))
    parser.add_argument("--stack", default="local")
    parser.add_argument(
        "--port",
        type=int,
        help="API server port of the first region's cluster (the next regions count up); "
        "default: free ports",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.port is not None and not 1024 <= args.port <= 65535 - 64:
        raise UserError(f"--port {args.port}: allowed 1024 to {65535 - 64}")
    if args.stack in RESERVED:
        raise UserError(
            f"--stack {args.stack}: that name is taken by kwok's own folder in .clusters"
        )
    if args.action in ("down", "delete"):
        lines = down(existing(args.stack), delete=args.action == "delete")
    else:
        check_binaries()
        clusters = clusters_of(args.stack)
        if args.action == "up":
            lines = up(clusters, args.port)
            kubectl = binaries_dir() / "kubectl"
            lines.append(f"look: {kubectl} --kubeconfig {clusters[0].kubeconfig} get deploy -A")
        else:
            lines = status(clusters)
    print("\n".join(lines))
    return 0
