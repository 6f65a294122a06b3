"""Every `up` the ops commands run records the engine's events, one JSON object a line, in the
shape of the CLI's event log (`pulumi up --event-log`, apitype.EngineEvent), beside the stack's
state: with a file backend `file://DIR`, in DIR/events/<stack>/<update>.jsonl; with any other
backend, in <project>/.events/<stack>/<update>.jsonl. Updates are numbered as `ops history`
numbers them (oldest first from 1, or the backend's own version numbers).

Reading them back (`ops timeline`, `ops calibrate`) turns the events into steps: per resource,
when its first step began (resource pre-event) and when it was done (outputs or failure event).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote, urlparse

from pulumi import automation as auto

from deploypaths.identity import urn_name
from ops import UserError, automation, processes

EVENTS_FOLDER = "events"
FALLBACK_FOLDER = ".events"
SUFFIX = ".jsonl"
# A recording being written; and the mark of one whose command was killed before it ended.
PARTIAL = ".partial"
INTERRUPTED = "-interrupted-"
# Attribute names of the SDK's event classes whose JSON names are not their camelCase.
JSON_NAMES = {"stream_id": "streamID", "policy_packs": "PolicyPacks"}
# Steps that clean up after the release (old objects deleted at the end of the update): not
# part of any path's rollout, so neither its timeline nor its latency.
CLEANUP_OPS = frozenset(
    {
        "delete",
        "delete-replaced",
        "discard",
        "discard-replaced",
        "read-discard",
        "remove-pending-replace",
    }
)
# Steps whose time is not the release's: the clean-up above, and the refresh phase that
# `up --refresh` runs before it (the plan predicts the deployment, not the refresh).
UNTIMED_OPS = CLEANUP_OPS | {"refresh"}
# Steps that change a resource; a resource with none of them was left as it was.
CHANGE_OPS = frozenset({"create", "update", "replace", "create-replacement", "import"})
# What the Python dynamic provider's gRPC server puts before a provider's own message.
DYNAMIC_PROVIDER_PREFIX = "Exception calling application: "
# The provider's head line over its list of errors.
ERROR_COUNT = re.compile(r"\d+ errors? occurred:")


# --- Recording ---------------------------------------------------------------------------------


def event_json(event: Any) -> Any:
    """An SDK event object as the engine's JSON: attributes in camelCase, enums as their
    values, unset fields left out, property maps (inputs, outputs) as they are."""
    if isinstance(event, Enum):
        return event.value
    if isinstance(event, Mapping):
        return {
            (key.value if isinstance(key, Enum) else str(key)): event_json(value)
            for key, value in event.items()
        }
    if isinstance(event, list | tuple):
        return [event_json(item) for item in event]
    if hasattr(event, "__dict__"):
        return {
            _json_name(name): event_json(value)
            for name, value in vars(event).items()
            if value is not None
        }
    return event


def _json_name(attribute: str) -> str:
    if attribute in JSON_NAMES:
        return JSON_NAMES[attribute]
    head, *rest = attribute.split("_")
    return head + "".join(part.capitalize() for part in rest)


def backend_url(stack: auto.Stack) -> str | None:
    """Where the stack's state lives: PULUMI_BACKEND_URL, else what the CLI is logged in to."""
    if os.environ.get("PULUMI_BACKEND_URL"):
        return os.environ["PULUMI_BACKEND_URL"]
    try:
        return stack.workspace.who_am_i().url
    except (auto.CommandError, FileNotFoundError):  # no login, or no CLI: the project folder
        return None


def logged_in_url() -> str | None:
    """The backend the CLI is logged in to, asked without selecting a stack; None without a
    CLI or a login."""
    home, env = automation.engine_env(os.environ)
    try:
        workspace = auto.LocalWorkspace(
            work_dir=str(automation.PROJECT_DIR),
            env_vars=env or None,
            pulumi_command=auto.PulumiCommand(root=str(home)) if home else None,
        )
        url = workspace.who_am_i().url
    except (auto.CommandError, FileNotFoundError):  # no login, or no CLI: the project folder
        return None
    return str(url) if url else None


def events_dir(stack_name: str, url: str | None, project_dir: Path | None = None) -> Path:
    """The folder of a stack's recorded updates, beside its state when the state is on disk."""
    name = stack_name.rsplit("/", 1)[-1]
    if url and url.startswith("file://"):
        parsed = urlparse(url)
        location = unquote(parsed.netloc + parsed.path)
        return Path(location).expanduser() / EVENTS_FOLDER / name
    return (project_dir or automation.PROJECT_DIR) / FALLBACK_FOLDER / name


def update_count(stack: Any) -> int:
    """The number `ops history` gives the stack's newest update (0: none yet)."""
    versions = [s.version or 0 for s in automation.history(stack, show_secrets=False)]
    return max(versions, default=0)


class UpdateRecorder:
    """Runs `stack.up` with every engine event written to the stack's next update file as it
    arrives (a crash keeps what was seen). No event, no file."""

    def __init__(self, stack: Any, stack_name: str, directory: Path | None = None) -> None:
        self.stack = stack
        self.directory = directory or events_dir(stack_name, backend_url(stack))
        self.events: list[auto.EngineEvent] = []
        self.path: Path | None = None
        self.number: int | None = None
        self._lock = threading.Lock()
        self._sink: TextIO | None = None
        self._partial: Path | None = None

    def up(
        self, *, on_event: Callable[[auto.EngineEvent], None] | None = None, **options: Any
    ) -> auto.UpResult:
        return self._record(self.stack.up, on_event, options)  # type: ignore[no-any-return]

    def destroy(
        self, *, on_event: Callable[[auto.EngineEvent], None] | None = None, **options: Any
    ) -> auto.DestroyResult:
        return self._record(self.stack.destroy, on_event, options)  # type: ignore[no-any-return]

    def _record(
        self,
        operation: Callable[..., Any],
        on_event: Callable[[auto.EngineEvent], None] | None,
        options: dict[str, Any],
    ) -> Any:
        before = update_count(self.stack)
        keep_interrupted(self.directory)
        partial = self.directory / f"{before + 1}.{os.getpid()}{SUFFIX}{PARTIAL}"
        self._partial = partial

        def record(event: auto.EngineEvent) -> None:
            with self._lock:
                self.events.append(event)
                if self._sink is None:
                    self._sink = private_file(partial)
                self._sink.write(json.dumps(event_json(event)) + "\n")
                self._sink.flush()
            if on_event:
                on_event(event)

        try:
            return operation(on_event=record, **options)
        finally:
            self._settle(before)

    def _settle(self, before: int) -> None:
        """Name the file after the update the backend recorded (the newest, once `up` is done)."""
        with self._lock:
            if self._sink is None or self._partial is None:
                return
            self._sink.close()
            self._sink = None
        try:
            after = update_count(self.stack)
        # Broad on purpose: this runs in the update's `finally`, where any error asking the
        # backend would replace the update's own; the events then keep the number expected.
        except Exception:  # noqa: BLE001
            after = before + 1
        self.number = max(after, before + 1)
        self.path = self.directory / f"{self.number}{SUFFIX}"
        self._partial.replace(self.path)


def private_file(path: Path) -> TextIO:
    """`path` opened for writing, readable by its owner only (events carry resource inputs and
    outputs), in folders that are too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in (path.parent, path.parent.parent):
        folder.chmod(0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8")


def keep_interrupted(directory: Path) -> list[Path]:
    """Keeps the recordings of updates whose command was killed: `<n>.<pid>.jsonl.partial`
    becomes `<n>-interrupted-<pid>.jsonl` (the backend never recorded such an update, so the next
    one takes its number). A recording whose command still runs is left to it."""
    kept = []
    for partial in sorted(directory.glob(f"*{SUFFIX}{PARTIAL}")):
        number, _, pid = partial.name.removesuffix(f"{SUFFIX}{PARTIAL}").partition(".")
        if not pid.isdigit() or processes.running(int(pid)):
            continue
        target = partial.with_name(f"{number}{INTERRUPTED}{pid}{SUFFIX}")
        partial.replace(target)
        kept.append(target)
    return kept


def interrupted_recordings(directory: Path) -> list[Path]:
    """The kept recordings of killed updates, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"*{INTERRUPTED}*{SUFFIX}"), key=lambda p: p.stat().st_mtime)


# --- Reading -----------------------------------------------------------------------------------


def recorded_updates(directory: Path) -> dict[int, Path]:
    """Update number -> its event file, for every finished recording in `directory`."""
    if not directory.is_dir():
        return {}
    return {
        int(path.stem): path
        for path in directory.glob(f"*{SUFFIX}")
        if path.stem.isdigit() and path.is_file()
    }


def choose_update(directory: Path, stack: str, number: int | str | None) -> tuple[int, Path]:
    """The update `number` (the newest when None), or a cut-short update's kept recording
    (`<n>-interrupted-<pid>`, as `ops history` lists it)."""
    if isinstance(number, str):
        path = directory / f"{number}{SUFFIX}"
        if INTERRUPTED not in number or not path.is_file():
            kept = ", ".join(p.stem for p in interrupted_recordings(directory)) or "none"
            raise UserError(
                f"stack {stack} has no recording {number!r} (cut-short updates kept: {kept})"
            )
        return int(number.split("-", 1)[0]), path
    updates = recorded_updates(directory)
    if not updates:
        raise UserError(
            f"stack {stack} has no recorded updates in {directory}: run `python -m ops up "
            f"--stack {stack}` (events are recorded by ops-driven updates only)"
        )
    if number is None:
        number = max(updates)
    if number not in updates:
        numbers = sorted(updates)
        raise UserError(
            f"stack {stack} has no recorded update {number} (recorded: {_ranges(numbers)})"
        )
    return number, updates[number]


def _ranges(numbers: list[int]) -> str:
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)


def read_events(path: Path) -> list[dict[str, Any]]:
    """An event file's events, in sequence order; a file that is not one is a UserError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read event file {path}: {error}") from None
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(
                f"corrupt event file {path}: line {number} is not JSON ({error.msg})"
            ) from None
        if not (
            isinstance(event, dict)
            and isinstance(event.get("sequence"), int)
            and isinstance(event.get("timestamp"), int | float)
        ):
            raise UserError(
                f"corrupt event file {path}: line {number} is not an engine event "
                "(an object with a sequence and a timestamp)"
            )
        events.append(event)
    if not events:
        raise UserError(f"corrupt event file {path}: it holds no events")
    return sorted(events, key=lambda e: e["sequence"])


@dataclass
class Step:
    """One resource's work in an update: its steps' ops, first start, last finish (seconds)."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    ops: list[str] = field(default_factory=list)
    start: float | None = None
    finish: float | None = None
    failed: bool = False
    # The inputs it was created or updated with (how many replicas roll out, and how).
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(CHANGE_OPS.intersection(self.ops))

    @property
    def operation(self) -> str:
        """What the update did to it: create, update, replace, or same (nothing)."""
        if {"replace", "create-replacement"}.intersection(self.ops):
            return "replace"
        return next((op for op in ("create", "import", "update") if op in self.ops), "same")


@dataclass
class Update:
    """What an event file says about one update."""

    steps: dict[str, Step]
    config: dict[str, str] | None
    origin: float
    errors: list[str]
    summary: dict[str, Any] | None
    # The engine's first error message about each resource that has one, by URN.
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(step.failed for step in self.steps.values())

    @property
    def result(self) -> str:
        if self.failed:
            return "failed"
        return "succeeded" if self.summary is not None else "incomplete"

    def minutes(self, seconds: float | None) -> float | None:
        return None if seconds is None else (seconds - self.origin) / 60

    @property
    def duration_minutes(self) -> float:
        ends = [s.finish for s in self.steps.values() if s.finish is not None]
        return self.minutes(max(ends, default=self.origin)) or 0.0


def parse_update(events: Iterable[Mapping[str, Any]], *, source: str = "events") -> Update:
    """Steps from engine events (preview-phase events, `planning`, are left out)."""
    steps: dict[str, Step] = {}
    config = None
    summary = None
    errors: list[str] = []
    reasons: dict[str, str] = {}
    try:
        for event in events:
            when = float(event["timestamp"])
            if "preludeEvent" in event:
                config = dict(event["preludeEvent"].get("config") or {})
            elif "summaryEvent" in event:
                summary = dict(event["summaryEvent"])
            elif "diagnosticEvent" in event:
                diagnostic = event["diagnosticEvent"]
                if diagnostic.get("severity") == "error":
                    message = str(diagnostic.get("message", "")).strip()
                    errors.append(message)
                    if diagnostic.get("urn"):
                        reasons.setdefault(diagnostic["urn"], reason_line(message))
            for key in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
                if key in event and not event[key].get("planning"):
                    _step_event(steps, key, event[key]["metadata"], when)
    except KeyError as error:
        raise UserError(f"corrupt event file {source}: a resource event lacks {error}") from None
    except (TypeError, AttributeError, ValueError) as error:
        raise UserError(f"corrupt event file {source}: an event is malformed ({error})") from None
    starts = [s.start for s in steps.values() if s.start is not None]
    if not starts:
        raise UserError(f"{source}: the update recorded no resource steps")
    return Update(steps, config, min(starts), errors, summary, reasons)


def reason_line(message: str) -> str:
    """An engine error as one line: its lines joined, the provider's boilerplate left out."""
    lines = [line.strip().removeprefix("* ") for line in message.splitlines()]
    text = " ".join(line for line in lines if line and not ERROR_COUNT.fullmatch(line))
    return text.removeprefix(DYNAMIC_PROVIDER_PREFIX)


def _step_event(steps: dict[str, Step], key: str, metadata: Mapping[str, Any], when: float) -> None:
    urn = metadata["urn"]
    op = str(metadata.get("op", ""))
    state = metadata.get("new") or metadata.get("old") or {}
    step = steps.get(urn)
    if step is None:
        step = steps[urn] = Step(
            urn=urn,
            type=str(metadata.get("type") or state.get("type", "")),
            name=urn_name(urn),
            parent=str(state.get("parent") or ""),
            custom=bool(state.get("custom")),
        )
    if op in UNTIMED_OPS:
        if key == "resourcePreEvent":
            step.ops.append(op)
        return
    if key == "resourcePreEvent":
        step.ops.append(op)
        step.start = when if step.start is None else min(step.start, when)
        if op in CHANGE_OPS and not step.inputs:
            step.inputs = dict((metadata.get("new") or {}).get("inputs") or {})
    else:
        step.finish = when if step.finish is None else max(step.finish, when)
        step.failed = step.failed or key == "resOpFailedEvent"
