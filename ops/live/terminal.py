"""Every path's state while an update runs, in the terminal: a live table at a terminal (rich),
one plain line per change of a path's state elsewhere (CI logs, a pipe), or one JSON object per
change (`--output json`). All three read ops/live/paths.py's model, fed the engine's events."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from deploypaths.mock_run import PROJECT_DIR
from deploypaths.stack_config import StackFileError, load_stack_file
from deploypaths.validation import ConfigError
from ops import UserError
from ops.live.paths import (
    APPLYING,
    BAKING,
    DONE,
    FAILED,
    HELD,
    INTERRUPTED,
    MIGRATING,
    ROLLING_OUT,
    UNCHANGED,
    VERIFYING,
    WAITING,
    PathState,
    PathStates,
)
from ops.plan import latency_model, make_plan

OUTPUTS = ("auto", "live", "plain", "json", "none")
# At most this many redraws a second: a 10,000-resource update sends hundreds of events a second.
REFRESHES_PER_SECOND = 4
# A path's message is its progress while it runs; after, the reason it ended as it did.
ACTIVE = frozenset({WAITING, APPLYING, ROLLING_OUT, MIGRATING, VERIFYING, BAKING, DONE, UNCHANGED})
# Paths to show expanded, whatever else is going on.
ALWAYS_SHOWN = frozenset({FAILED, HELD, INTERRUPTED})
STYLES = {DONE: "green", UNCHANGED: "dim", FAILED: "bold red", HELD: "yellow"}


class View(Protocol):
    def event(self, event: Mapping[str, Any]) -> None: ...
    def engine_line(self, line: str) -> None: ...
    def put_back(self, path_id: str, state: str, why: str) -> None: ...
    def __enter__(self) -> View: ...
    def __exit__(self, *exc: object) -> None: ...


def describe(path: PathState) -> str:
    """A path's state in words: `waiting for auth@us-east-1`, `rolling out 2/3 replicas`."""
    if path.state == WAITING and path.waiting_for:
        return f"waiting for {', '.join(path.waiting_for)}"
    if path.state == HELD and path.waiting_for:
        return f"held: waits for {path.waiting_for[0]}"
    if path.replicas and path.state == ROLLING_OUT:
        return f"rolling out {path.replicas[0]}/{path.replicas[1]} replicas"
    return path.state


def clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


class _Watching:
    """Feeds engine events to the model (from the engine's thread) and tells the view what
    changed; the lock keeps a redraw from reading a half-applied event."""

    def __init__(
        self, states: PathStates, out: TextIO | None = None, now: Callable[[], float] = time.time
    ) -> None:
        self.states, self.now = states, now
        self.out = out or sys.stdout
        self.lock = threading.Lock()
        self.printing = threading.Lock()

    def engine_line(self, line: str) -> None:
        """A line of the engine's own output: shown as it comes."""
        self.say(line)

    def say(self, line: str, out: TextIO | None = None) -> None:
        """One whole line in one write, never cut by another thread's: the engine's lines come
        from its output's reader, the paths' from its event stream (`print` writes the newline
        apart, so two threads' lines could run together)."""
        target = out or self.out
        with self.printing:
            target.write(f"{line}\n")
            target.flush()

    def event(self, event: Mapping[str, Any]) -> None:
        with self.lock:
            changed = self.states.apply(event)
            for path in changed:
                self.changed(path)

    def changed(self, path: PathState) -> None:
        """One path's state changed."""

    def put_back(self, path_id: str, state: str, why: str) -> None:
        """What the failure handling did to a failed path once the update had ended (`rolled
        back`, `removed`, `down ran`; ops/recovery.py)."""
        path = self.states.paths.get(path_id)
        if path is not None:
            path.state, path.message = state, why
            self.changed(path)

    def __enter__(self) -> _Watching:
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            for path in self.states.finish():
                self.changed(path)


class PlainView(_Watching):
    """One line per change of a path's state, among the engine's own lines."""

    def changed(self, path: PathState) -> None:
        elapsed = path.elapsed(self.states.latest)
        estimate = f" (plan {clock(path.estimate_seconds)})" if path.estimate_seconds else ""
        line = f"path {path.id}: {describe(path)} after {clock(elapsed)}{estimate}"
        if path.state not in ACTIVE and path.message:
            line += f": {path.message}"
        self.say(line)


class JsonView(_Watching):
    """One JSON object per change of a path's state, for machines: alone on standard output
    (the engine's lines go to standard error)."""

    def engine_line(self, line: str) -> None:
        self.say(line, sys.stderr)

    def changed(self, path: PathState) -> None:
        record = {
            "time": self.states.latest,
            **path.as_json(),
            "elapsed_seconds": round(path.elapsed(self.states.latest), 1),
        }
        self.say(json.dumps(record))


class LiveView(_Watching):
    """A table redrawn a few times a second: finished waves collapse to one line, failures stay
    expanded, paths still waiting are counted per wave."""

    def __init__(self, states: PathStates, console: Console | None = None, **kwargs: Any):
        super().__init__(states, **kwargs)
        self.console = console or Console()
        # The engine's own lines would scroll the table away: shown once it is done.
        self.engine_lines: list[str] = []
        self.live = Live(
            get_renderable=self.render,
            console=self.console,
            refresh_per_second=REFRESHES_PER_SECOND,
            transient=False,
        )

    def __enter__(self) -> LiveView:
        self.live.start()
        return self

    def engine_line(self, line: str) -> None:
        self.engine_lines.append(line)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.live.stop()
        for line in self.engine_lines:
            print(line, file=self.out)

    def render(self) -> RenderableType:
        with self.lock:
            return render_table(self.states.ordered(), self.now(), self.console.size.height)


class StacksView:
    """`ops up --layout per-region` at a terminal: the paths of every region stack's `ops up
    --output json` in one live table; the stacks' other lines are shown once it is done."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.paths: dict[tuple[str, str], PathState] = {}
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.live = Live(
            get_renderable=self.render,
            console=self.console,
            refresh_per_second=REFRESHES_PER_SECOND,
        )

    def line(self, stack: str, text: str) -> None:
        """One line a stack's process printed."""
        with self.lock:
            try:
                record = json.loads(text) if text.startswith("{") else None
            except ValueError:
                record = None
            if isinstance(record, dict) and "id" in record:
                self.paths[(stack, record["id"])] = PathState.from_json(record)
            else:
                self.lines.append(f"[{stack}] {text}")

    def render(self) -> RenderableType:
        with self.lock:
            paths = sorted(self.paths.values(), key=lambda p: (p.wave or 0, p.region or "", p.id))
        return render_table(paths, time.time(), self.console.size.height)

    def __enter__(self) -> StacksView:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()
        for line in self.lines:
            print(line)


def render_table(paths: Iterable[PathState], now: float, height: int = 50) -> RenderableType:
    table = Table(box=None, pad_edge=False, expand=False)
    for column in ("wave", "path", "kind", "state", "time / plan", "", "last message"):
        table.add_column(column, no_wrap=column != "last message", overflow="ellipsis")
    waves: dict[int, list[PathState]] = {}
    for path in paths:
        waves.setdefault(path.wave or 0, []).append(path)
    rows = 0
    budget = max(height - 6, 5)
    for wave, members in waves.items():
        shown = [p for p in members if _expanded(p)]
        rest = [p for p in members if p not in shown]
        if rest:
            table.add_row(str(wave), _tally(rest), "", "", "", "", "")
            rows += 1
        for index, path in enumerate(shown):
            if rows >= budget and path.state not in ALWAYS_SHOWN:
                table.add_row(str(wave), f"+{len(shown) - index} more", "", "", "", "", "")
                rows += 1
                break
            table.add_row(*_row(path, now))
            rows += 1
    return Group(table)


def _expanded(path: PathState) -> bool:
    """Whether a path gets a row of its own: it is in flight or failed."""
    return path.state in ALWAYS_SHOWN or not (path.ended or path.state == WAITING)


def _tally(paths: list[PathState]) -> str:
    counts: dict[str, int] = {}
    for path in paths:
        counts[path.state] = counts.get(path.state, 0) + 1
    return f"{len(paths)} paths: " + ", ".join(f"{n} {state}" for state, n in counts.items())


def _row(path: PathState, now: float) -> tuple[RenderableType, ...]:
    elapsed = path.elapsed(now)
    estimate = path.estimate_seconds or 1.0
    bar = ProgressBar(total=estimate, completed=min(elapsed, estimate), width=20)
    style = STYLES.get(path.state, "cyan")
    return (
        str(path.wave or ""),
        f"{path.id} ({path.owner})" if path.owner else path.id,
        path.kind,
        Text(describe(path), style=style),
        f"{clock(elapsed)} / {clock(path.estimate_seconds)}",
        bar,
        Text(path.message, style="red" if path.state == FAILED else "dim"),
    )


class EngineOnly:
    """No plan to follow the paths by (the stack file cannot be read offline; the update then
    says what is wrong): the engine's own lines alone."""

    def event(self, event: Mapping[str, Any]) -> None:
        pass

    def engine_line(self, line: str) -> None:
        print(line, flush=True)

    def put_back(self, path_id: str, state: str, why: str) -> None:
        pass

    def __enter__(self) -> EngineOnly:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def choose(
    output: str, states: PathStates | None, *, out: TextIO | None = None, tty: bool | None = None
) -> View:
    """The view `--output` asks for; `auto`: live at a terminal, plain lines elsewhere."""
    if states is None or output == "none":
        return EngineOnly()
    if output == "auto":
        at_terminal = (out or sys.stdout).isatty() if tty is None else tty
        output = "live" if at_terminal else "plain"
    if output == "json":
        return JsonView(states, out=out)
    if output == "live":
        return LiveView(states, out=out)
    return PlainView(states, out=out)


def for_stack(output: str, stack: str, *, out: TextIO | None = None) -> View:
    """The view of an update of `stack` as its stack file says now (when it cannot be planned
    offline, the engine's own lines: the update then says what is wrong)."""
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    try:
        config = load_stack_file(stack_file, PROJECT_DIR)
        model, _ = latency_model(
            None, "median", stack=stack, config=config, project_dir=PROJECT_DIR
        )
        plan = make_plan(stack, stack_file, model)
    except (UserError, ConfigError, StackFileError):
        return EngineOnly()
    return choose(output, PathStates(plan), out=out)
