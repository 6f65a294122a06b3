"""Fault drills on a stack on its own local clusters: a fault strikes an `ops up` in the middle
of an update (some paths rolling, some done), the operator's next command recovers, and then the
stack is checked through the API servers and the state for what the issue promises: nothing
lost, orphaned, duplicated or pending, history intact, converged, no process left, no secret in
plain text, private files private.

Used by tests/engine/test_fault_drills.py (each drill once) and benchmarks/fault_drills.py (each
drill N times, as a table)."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deploypaths.mock_run import PROJECT_DIR
from ops import automation, leftovers, local, processes
from tests.support.cluster import ClusterView, image_of, is_rolled_out
from tests.support.engine import Deployed, stack_config
from tests.support.sandbox import PASSPHRASE, Sandbox

STACK = "drills"
REGISTRY = "registry.example.com/shop"
FIRST, SECOND = "us-east-1", "eu-west-1"
# A database password set as secret config: it must never show in plain text.
DATABASE_URL = "postgres://app:dr1ll-pa55-s3cret@db.internal:5432/app"
DATABASE_PASSWORD = "dr1ll-pa55-s3cret"
# Both regions in one wave, so a fault in one region does not stop the other's paths.
BASE = stack_config(
    STACK,
    regions=[{"name": FIRST}, {"name": SECOND}],
    waves=[[FIRST, SECOND]],
    database={"mode": "external"},
    # Long enough for the slow rollouts, short enough for a region without API server to fail.
    kubernetes={**stack_config(STACK)["kubernetes"], "rollout_timeout_seconds": 75},
)
# The objects the program declares in a region (the rest of a namespace is the controllers').
KINDS = "deployments,jobs,services,secrets,configmaps,networkpolicies,poddisruptionbudgets"
CLUSTER_DEFAULTS = {("ConfigMap", "kube-root-ca.crt")}
WAIT_SECONDS = 240
CI_SYSTEMS = ("github", "gitlab", "jenkins", "circleci", "travis")


@dataclass
class Outcome:
    """One drill: what survived, and how long the stack took to converge after the fault."""

    drill: str
    problems: list[str] = field(default_factory=list)
    lost: int = 0
    orphans: int = 0
    converge_seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return not self.problems


def deploy(project: Sandbox) -> Iterator[Deployed]:
    """The drills' stack on its clusters, after its first `ops up`; clusters deleted after."""
    project.write_config(STACK, BASE)
    # `ops pipelines` pins the pipelines' installs to it.
    shutil.copy(PROJECT_DIR / "requirements.txt", project.root)
    project.pulumi("stack", "init", STACK)
    project.pulumi(
        "config", "set", "--stack", STACK, "--secret", "--path",
        f"deploypaths:database_urls.{FIRST}", DATABASE_URL,
    )  # fmt: skip
    project.pulumi(
        "config", "set", "--stack", STACK, "--secret", "--path",
        f"deploypaths:database_urls.{SECOND}", DATABASE_URL,
    )  # fmt: skip
    # With its secret entries (encrypted), so that the drills' releases keep them.
    config = project.read_config(STACK)
    with project.clusters(STACK) as kubeconfigs:
        stack = Deployed(project, STACK, config, kubeconfigs)
        first = project.ops("up", "--stack", STACK, "--yes")
        assert first.returncode == 0, first.stdout + first.stderr
        yield stack


class Drill:
    """One drill on the stack: `release` what the faulted update deploys, `start` it, strike,
    `recover`, then `check`."""

    def __init__(self, stack: Deployed, name: str) -> None:
        self.stack, self.project = stack, stack.project
        self.outcome = Outcome(drill=name)
        self.counter = 0
        self.struck_at = 0.0
        self.logs: dict[int, Path] = {}

    # --- the update under the fault --------------------------------------------------------

    def release(self, slow: str = "auth", fast: str = "catalog") -> None:
        """New images for every service: `slow` rolls out slowly (still rolling when the fault
        strikes), `fast` lands quickly (done by then)."""
        self.counter = int(time.time())
        config = copy.deepcopy(self.stack.config)
        for service in config["services"]:
            name = service["name"]
            tag = f"9.{self.counter}.0" + ("-slow" if name == slow else "")
            service["image"] = f"{REGISTRY}/{name}:{tag}"
        self.stack.configure(config)
        self.slow, self.fast = slow, fast

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`ops <args>` in its own process group (as a CI job runs it), output to a file."""
        path = self.project.root / f"{self.outcome.drill}-{len(self.logs)}.log"
        log = path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "ops", *args],
            cwd=PROJECT_DIR,
            env=self.project.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        log.close()
        self.logs[process.pid] = path
        return process

    def up(self) -> subprocess.Popen[str]:
        return self.start("up", "--stack", STACK, "--yes")

    def output_of(self, process: subprocess.Popen[str], timeout: float = WAIT_SECONDS) -> str:
        process.wait(timeout=timeout)
        text = self.logs[process.pid].read_text()
        self.outcome.outputs.append(text)
        return text

    def view(self, region: str) -> ClusterView:
        return self.stack.views[region]

    def midway(self, region: str = FIRST) -> None:
        """Waits until, in `region`, the fast service has landed and the slow one is rolling."""
        wanted = f":9.{self.counter}.0"

        def ready() -> bool:
            deployments = self.view(region).deployments()
            fast, slow = deployments.get(self.fast), deployments.get(self.slow)
            return bool(
                fast and slow
                and image_of(fast).endswith(wanted) and is_rolled_out(fast)
                and image_of(slow).endswith(f"{wanted}-slow") and not is_rolled_out(slow)
            )  # fmt: skip

        wait_until(ready, f"{self.fast} landed and {self.slow} rolling in {region}")
        self.struck_at = time.monotonic()

    def engine_processes(self, owner: int) -> list[processes.Process]:
        """The engine, language host, program and plugins an ops command (pid) started."""
        return [
            p for p, value in processes.carrying(leftovers.MARKER) if value.endswith(f"|{owner}")
        ]

    def lock_files(self) -> list[Path]:
        return sorted((self.project.root / ".state" / ".pulumi" / "locks").rglob("*.json"))

    # --- recovery and checks ---------------------------------------------------------------

    def ops(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.project.ops(*args)
        self.outcome.outputs.append(done.stdout + done.stderr)
        return done

    def recover(self) -> str:
        """The operator's next `ops up --yes`, which must succeed; converged from the strike."""
        done = self.ops("up", "--stack", STACK, "--yes")
        self.outcome.converge_seconds = time.monotonic() - self.struck_at
        output = done.stdout + done.stderr
        self.expect(done.returncode == 0, f"the up after the fault failed:\n{output}")
        return output

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.outcome.problems.append(problem)

    def check(self, killed: int | None = None) -> Outcome:
        """Everything the issue checks after every drill."""
        self._converged()
        self._state_matches_clusters()
        self._history_intact()
        if killed is not None:
            left = self.engine_processes(killed)
            self.expect(not left, f"processes of the killed update still run: {left}")
        self._no_secret_in_plain_text()
        self._private_files_private()
        return self.outcome

    def _converged(self) -> None:
        for region, view in self.stack.views.items():
            for name, deployment in view.deployments().items():
                self.expect(is_rolled_out(deployment), f"{name}@{region} is not rolled out")
        preview = self.stack.handle.preview(color="never")
        changes = {op: n for op, n in preview.change_summary.items() if op != "same"}
        self.expect(not changes, f"a second up would change {changes}")
        pending = leftovers.pending_operations(self.stack.handle)
        self.expect(not pending, f"pending operations: {[p.line for p in pending]}")
        self.expect(not self.lock_files(), f"locks left: {self.lock_files()}")

    def _state_matches_clusters(self) -> None:
        state = declared_objects(automation.resources(self.stack.handle))
        cluster = Counter(
            obj for region in self.stack.views for obj in cluster_objects(self.stack, region)
        )
        lost = sorted(set(state) - set(cluster))
        orphaned = sorted(set(cluster) - set(state))
        duplicated = sorted(obj for obj, n in state.items() if n > 1)
        self.outcome.lost, self.outcome.orphans = len(lost), len(orphaned)
        self.expect(not lost, f"in the state, not in the clusters: {lost}")
        self.expect(not orphaned, f"in the clusters, not in the state: {orphaned}")
        self.expect(not duplicated, f"in the state more than once: {duplicated}")

    def _history_intact(self) -> None:
        history = self.ops("history", "--stack", STACK)
        self.expect(history.returncode == 0, f"ops history failed: {history.stderr}")
        entries = re.findall(r"^\S.*\b(succeeded|failed)\b", history.stdout, re.MULTILINE)
        self.expect(bool(entries), f"ops history lists no update:\n{history.stdout}")
        timeline = self.ops(
            "timeline", "--stack", STACK, "--picture", str(self.project.root / "t.svg")
        )
        self.expect(timeline.returncode == 0, f"ops timeline failed: {timeline.stderr}")

    def _no_secret_in_plain_text(self) -> None:
        secrets = {"database password": DATABASE_PASSWORD, "passphrase": PASSPHRASE}
        for region, path in kubeconfig_paths(self.project).items():
            for kind, value in kubeconfig_secrets(path).items():
                secrets[f"{region} kubeconfig {kind}"] = value
        places = {
            "ops output": "\n".join(self.outcome.outputs),
            **{str(p): p.read_text() for p in self._pipelines()},
            **{
                str(p): p.read_text(errors="replace")
                for p in readable(self.project.root / ".state")
            },
            **{str(p): p.read_text(errors="replace") for p in self.project.root.glob("*.log")},
            **{str(p): p.read_text(errors="replace") for p in self.project.root.glob("*.md")},
        }
        for what, value in secrets.items():
            for place, text in places.items():
                self.expect(value not in text, f"the {what} is in plain text in {place}")

    def _pipelines(self) -> list[Path]:
        """The stack's generated pipelines, for every CI system (written once per project)."""
        folder = self.project.root / "pipelines"
        if not folder.exists():
            for system in CI_SYSTEMS:
                done = self.ops("pipelines", "--env", STACK, "--ci", system, "--out", str(folder))
                self.expect(done.returncode == 0, f"ops pipelines --ci {system}: {done.stderr}")
        return [p for p in folder.rglob("*") if p.is_file()]

    def _private_files_private(self) -> None:
        for folder in (self.project.root / ".clusters", self.project.root / ".state" / "events"):
            for path in [folder, *folder.rglob("*")]:
                if path.is_symlink():
                    continue
                mode = path.stat().st_mode & 0o077
                self.expect(mode == 0, f"{path} is readable by others ({oct(path.stat().st_mode)})")


# --- the drills ------------------------------------------------------------------------------


def sigkill(stack: Deployed) -> Outcome:
    """`ops up` killed (SIGKILL, its whole process group) with paths rolling; the next `ops up`
    lists what it left, refuses to resolve it without --yes, and with --yes resolves it."""
    drill = Drill(stack, "sigkill")
    drill.release()
    update = drill.up()
    drill.midway()
    kill_group(update)
    drill.expect(bool(drill.lock_files()), "the killed engine left no lock")
    # Its plugins run in process groups of their own: the kill did not reach them.
    drill.expect(bool(drill.engine_processes(update.pid)), "no process of the killed update left")
    asked = drill.ops("up", "--stack", STACK)
    drill.expect(asked.returncode == 2, f"up without --yes did not refuse: {asked.stderr}")
    drill.expect("lock of" in asked.stdout and "pending: " in asked.stdout, "leftovers not listed")
    drill.expect("pass --yes" in asked.stderr, f"no advice to pass --yes: {asked.stderr}")
    drill.expect(bool(drill.lock_files()), "a refused command did not leave the lock as it was")
    output = drill.recover()
    for said in ("cleared the lock of", "that process no longer runs", "operation(s) settled"):
        drill.expect(said in output, f"the recovery did not say {said!r}:\n{output}")
    drill.check(killed=update.pid)
    history = drill.ops("history", "--stack", STACK).stdout
    drill.expect("interrupted" in history, f"the killed update is not listed:\n{history}")
    return drill.outcome


def sigint(stack: Deployed) -> Outcome:
    """Ctrl-C (SIGINT to the command alone, as a CI runner's cancel sends it) with paths rolling:
    the steps in flight finish, nothing new starts, it says what landed, exits 130, leaves no
    lock."""
    drill = Drill(stack, "sigint")
    drill.release()
    update = drill.up()
    drill.midway()
    update.send_signal(signal.SIGINT)
    output = drill.output_of(update)
    drill.expect(update.returncode == 130, f"exit {update.returncode}, not 130:\n{output}")
    drill.expect("Traceback" not in output, f"a traceback:\n{output}")
    # The slow path was in flight: it finishes and lands; the path that waits for it (orders
    # runs after auth) never starts.
    for path, said in ((drill.slow, "changed"), ("orders", "interrupted"), (drill.fast, "changed")):
        line = rf"^\s*{path}@{FIRST}\s+{said}\b"
        drill.expect(re.search(line, output, re.MULTILINE) is not None, f"no {line!r}:\n{output}")
    drill.expect(not drill.lock_files(), "the interrupted engine left its lock")
    drill.recover()
    drill.check(killed=update.pid)
    return drill.outcome


def apiserver(stack: Deployed) -> Outcome:
    """One region's API server stopped under the update: its paths fail like any failed path,
    the other region's land; started again, the next `ops up` completes."""
    drill = Drill(stack, "apiserver")
    drill.release()
    update = drill.up()
    drill.midway(SECOND)
    stopped = stop_api_server(stack.project, SECOND)
    output = drill.output_of(update)
    drill.expect(update.returncode == 1, f"exit {update.returncode}, not 1:\n{output}")
    drill.expect(
        f"{drill.slow}@{SECOND}" in output, f"the stopped region's path not named:\n{output}"
    )
    landed = drill.view(FIRST).deployments()
    for service in drill.stack.config["services"]:
        image = image_of(landed[service["name"]])
        drill.expect(f":9.{drill.counter}.0" in image, f"{service['name']}@{FIRST}: {image}")
    start_api_server(stopped, drill.view(SECOND))
    drill.recover()
    drill.check()
    return drill.outcome


def provider(stack: Deployed) -> Outcome:
    """The Kubernetes provider killed under the update: named, and the update run again."""
    drill = Drill(stack, "provider")
    drill.release()
    update = drill.up()
    drill.midway()
    plugins = [
        p for p in drill.engine_processes(update.pid) if p.command.startswith("pulumi-resource-k")
    ]
    drill.expect(bool(plugins), "no Kubernetes provider process found")
    for plugin in plugins:
        os.kill(plugin.pid, signal.SIGKILL)
    output = drill.output_of(update)
    for said in ("the kubernetes provider exited during the update", "(retry 1 of 1)"):
        drill.expect(said in output, f"it did not say {said!r}:\n{output}")
    drill.expect(update.returncode == 0, f"exit {update.returncode} after the retry:\n{output}")
    drill.outcome.converge_seconds = time.monotonic() - drill.struck_at
    drill.check()
    return drill.outcome


def two_writers(stack: Deployed) -> Outcome:
    """`ops up` and `ops rollback` while another `ops up` holds the stack: each refuses at once,
    naming the holder, exit 1; the first lands."""
    drill = Drill(stack, "two-writers")
    drill.release()
    first = drill.up()
    wait_until(lambda: bool(drill.lock_files()), "the first update holds the lock")
    drill.struck_at = time.monotonic()
    for command in (
        ("up", "--stack", STACK, "--yes"),
        ("rollback", "--stack", STACK, "--to", "1", "--yes"),
    ):
        started = time.monotonic()
        second = drill.ops(*command)
        refusal = second.stdout + second.stderr
        drill.expect(second.returncode == 1, f"{command[0]}: exit {second.returncode}:\n{refusal}")
        drill.expect("is being updated by" in refusal and " since " in refusal, refusal)
        drill.expect(time.monotonic() - started < 30, f"{command[0]}: the refusal took long")
    output = drill.output_of(first)
    drill.expect(first.returncode == 0, f"the first update failed:\n{output}")
    drill.outcome.converge_seconds = time.monotonic() - drill.struck_at
    drill.check()
    return drill.outcome


DRILLS = {
    "sigkill": sigkill,
    "sigint": sigint,
    "apiserver": apiserver,
    "provider": provider,
    "two-writers": two_writers,
}


# --- faults ----------------------------------------------------------------------------------


def kill_group(process: subprocess.Popen[str], signum: int = signal.SIGKILL) -> None:
    os.killpg(process.pid, signum)
    process.wait(timeout=60)


@dataclass
class StoppedServer:
    """A region's kube-apiserver, stopped: how to start it again as it ran."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    pid_file: Path | None
    process: subprocess.Popen[bytes] | None = None


def stop_api_server(project: Sandbox, region: str) -> StoppedServer:
    """Stops the region's kube-apiserver as a crash does (SIGKILL: a graceful stop waits for
    its watches to end, for a minute); etcd, the scheduler, the controllers and kwok keep
    running."""
    marker = f"/clusters/{STACK}-{region}/"
    server = next(
        p for p in processes.processes()
        if p.command == "kube-apiserver" and marker in _cmdline(p.pid)[0]
    )  # fmt: skip
    proc = Path(f"/proc/{server.pid}")
    argv = _cmdline(server.pid)
    environ = (proc / "environ").read_bytes().split(b"\0")
    env = dict(e.decode().split("=", 1) for e in environ if b"=" in e)
    cluster = Path(argv[0]).parent.parent
    pid_file = next(iter(cluster.rglob("kube-apiserver.pid")), None)
    stopped = StoppedServer(argv=argv, cwd=os.readlink(proc / "cwd"), env=env, pid_file=pid_file)
    os.kill(server.pid, signal.SIGKILL)
    wait_until(lambda: not processes.running(server.pid), "the API server stopped", 30)
    return stopped


def start_api_server(stopped: StoppedServer, view: ClusterView) -> None:
    """Starts it again as it ran (kwokctl's pid file updated, so `ops local down` stops it)."""
    # Its log beside the pid file, for when a drill finds the restarted server gone.
    folder = stopped.pid_file.parent if stopped.pid_file else Path(stopped.cwd)
    descriptor = os.open(folder / "kube-apiserver-restarted.log", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "ab") as log:
        stopped.process = subprocess.Popen(
            stopped.argv, cwd=stopped.cwd, env=stopped.env, start_new_session=True,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    if stopped.pid_file is not None:
        stopped.pid_file.write_text(str(stopped.process.pid))
    wait_until(lambda: bool(view.core.list_namespace().items), "the API server serves again")
    # The controllers reconnect on their own backoff (up to a minute): the operator waits for
    # the region to be itself again, every Deployment reconciled, before deploying.
    wait_until(
        lambda: all(is_rolled_out(d) for d in view.deployments().values()),
        "the region's controllers are back",
    )


def _cmdline(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return [part.decode() for part in raw.split(b"\0") if part]


# --- reading ---------------------------------------------------------------------------------


def wait_until(ready: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001, S110 - an API server restarting: poll again
            pass
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")


def declared_objects(resources: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """(region, kind, name) of every Kubernetes object in the state, counted."""
    found: Counter[tuple[str, str, str]] = Counter()
    for resource in resources:
        kind = resource["type"].rsplit(":", 1)[-1]
        if not resource["type"].startswith("kubernetes:") or kind == "Namespace":
            continue
        # The region's provider is named `<region>-k8s` (components/region_path.py).
        provider = resource.get("provider", "").split("::")[-2:-1]
        region = provider[0].removesuffix("-k8s") if provider else "?"
        name = ((resource.get("outputs") or {}).get("metadata") or {}).get("name")
        found[(region, kind, str(name))] += 1
    return found


def cluster_objects(stack: Deployed, region: str) -> list[tuple[str, str, str]]:
    view = stack.views[region]
    done = subprocess.run(
        [str(local.binaries_dir() / "kubectl"), "--kubeconfig", str(view.kubeconfig), "get", KINDS,
         "-n", view.namespace, "-o", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    items = json.loads(done.stdout)["items"]
    return [
        (region, item["kind"], item["metadata"]["name"])
        for item in items
        if (item["kind"], item["metadata"]["name"]) not in CLUSTER_DEFAULTS
        and not item["metadata"].get("ownerReferences")
    ]


def kubeconfig_paths(project: Sandbox) -> dict[str, Path]:
    return {p.stem: p for p in sorted((project.root / ".clusters" / STACK).glob("*.yaml"))}


def kubeconfig_secrets(path: Path) -> dict[str, str]:
    """The client key and certificate of a kubeconfig, as written and as PEM lines."""
    document = yaml.safe_load(path.read_text())
    found = {}
    for user in document.get("users") or []:
        for key in ("client-key-data", "client-certificate-data"):
            value = (user.get("user") or {}).get(key)
            if value:
                found[key] = value
                pem = base64.b64decode(value).decode()
                found[f"{key} (PEM)"] = max(pem.splitlines(), key=len)
    return found


def readable(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".json", ".jsonl", ".bak", ".yaml", "")
    ]
