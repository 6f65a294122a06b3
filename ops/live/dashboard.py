"""`ops dashboard`'s web app: one page with the live Gantt of a stack's update (the plan's bars,
the actual bars growing over them, each path's state and last message, the gates between waves),
fed by server-sent events that follow the engine events `ops up` records as it writes them; or
any recorded update (`?update=N`), with the paths it changed as `ops history` says.

The follower reads the running update's `<n>.<pid>.jsonl.partial` every POLL_SECONDS from where
it left off (the recorder flushes each event as it comes), folds the new events into
ops/live/paths.py's model and sends the paths that changed. The file keeps its open handle when
`ops up` renames it at the end, so nothing is read twice or missed."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import multiprocessing
import re
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pulumi.automation import CommandError, UpdateSummary
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from deploypaths.identity import PathIdentity
from deploypaths.plan import Plan
from deploypaths.stack_config import SECRET_PLACEHOLDER
from ops import UserError, events, processes
from ops.live.paths import PathState, PathStates
from ops.live.terminal import describe
from ops.plan import plan_for_config
from ops.report_history import entry_lines, history_entries

PAGE = Path(__file__).with_name("page.html")
# How often the follower reads a running update's file for new events, and looks for a new
# update: the page's latency is this plus the SDK's own 0.1 s poll of the engine's event log.
POLL_SECONDS = 0.1
# An SSE comment this often on a quiet stream: a closed tab is noticed on the next write.
KEEPALIVE_SECONDS = 5.0
GATE = re.compile(r"gate-after-wave-(?P<wave>\d+)")
# Paths of no wave and no gate (none today) go after the last wave.
LAST = 10**6


@dataclass(frozen=True)
class Recording:
    """One update's event file: `key` is how the page names it (`7`, `7-interrupted-123`, or
    the running update's file name); `writer` is the pid of the `ops up` still writing it."""

    key: str
    number: int
    path: Path
    writer: int | None = None

    @property
    def live(self) -> bool:
        return self.writer is not None


def _plan_in_worker(config: dict[str, str], stack: str, model: dict[str, float]) -> Plan:
    try:
        return plan_for_config(config, stack, model)
    finally:
        # The program sets its own Ctrl-C handler; the server's Ctrl-C is the server's to handle.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Planner:
    """Plans a recorded configuration in a worker process: the program runs under Pulumi's mock
    runtime, which wants a main thread of its own (it sets a SIGINT handler and turns the
    collector off), and would otherwise block the server while it runs."""

    def __init__(self, stack: str, model: Mapping[str, float]) -> None:
        self.stack, self.model = stack, dict(model)
        self._pool: ProcessPoolExecutor | None = None
        self._plans: dict[str, Plan] = {}

    async def plan(self, config: Mapping[str, str]) -> Plan:
        key = json.dumps(config, sort_keys=True)
        if key not in self._plans:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_ignore_interrupts,
                )
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(
                self._pool, _plan_in_worker, dict(config), self.stack, self.model
            )
            self._plans[key] = await future
        return self._plans[key]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def backend_summaries(stack: str) -> list[UpdateSummary]:
    """The stack's history from its backend, as `ops history` reads it; none without one."""
    from ops import automation

    try:
        return automation.history(automation.select(stack), show_secrets=False)
    except (UserError, CommandError):  # no CLI, stack or backend: the recorded configurations
        return []


class Source:
    """A stack's recorded updates, the running one first, and what each changed."""

    def __init__(
        self,
        stack: str,
        directory: Path,
        *,
        model: Mapping[str, float],
        summaries: Callable[[], list[UpdateSummary]] = list,
    ) -> None:
        self.stack = stack.rsplit("/", 1)[-1]
        self.directory = directory
        self.planner = Planner(self.stack, model)
        self._summaries = summaries
        self._backend: dict[int, UpdateSummary] | None = None

    # --- which update ----------------------------------------------------------------------

    def running(self) -> Recording | None:
        """The newest update whose `ops up` is still writing it."""
        live = []
        for partial in self.directory.glob(f"*{events.SUFFIX}{events.PARTIAL}"):
            number, _, pid = partial.name.removesuffix(
                f"{events.SUFFIX}{events.PARTIAL}"
            ).partition(".")
            if number.isdigit() and pid.isdigit() and processes.running(int(pid)):
                live.append(Recording(partial.name, int(number), partial, int(pid)))
        return max(live, key=lambda r: r.number, default=None)

    def recorded(self, update: str | None) -> Recording:
        """A recorded update (`N`, or a cut-short one's `N-interrupted-PID`; None: the newest);
        a UserError that says which exist otherwise."""
        wanted: int | str | None = int(update) if update and update.isdigit() else update
        number, path = events.choose_update(self.directory, self.stack, wanted)
        return Recording(path.stem, number, path)

    def check(self, update: str | None) -> None:
        """What the command refuses before it serves: an update that does not exist, a stack
        with no recorded update and none running."""
        if update is not None or self.running() is None:
            self.recorded(update)

    def listing(self) -> list[dict[str, Any]]:
        found = [
            {"key": str(n), "number": n, "live": False}
            for n in sorted(events.recorded_updates(self.directory))
        ]
        found += [
            {"key": p.stem, "number": int(p.stem.split("-", 1)[0]), "live": False}
            for p in events.interrupted_recordings(self.directory)
        ]
        running = self.running()
        if running:
            found.append({"key": running.key, "number": running.number, "live": True})
        return sorted(found, key=lambda u: (u["number"], u["key"]), reverse=True)

    # --- what it changed -------------------------------------------------------------------

    def changes(
        self, recording: Recording, config: Mapping[str, str], when: float, plan: Plan
    ) -> dict[str, Any]:
        """What `ops history` says the update changed: its entry's lines, and the paths they
        name. The backend's history when it has the update; the recorded configurations (each
        update's prelude) for updates it does not have yet (a running one) or without one."""
        backend = self._backend_entries(refresh=not recording.live, number=recording.number)
        summaries = dict(backend)
        for number, path in events.recorded_updates(self.directory).items():
            if number not in summaries and number < recording.number:
                recorded = prelude_config(path)
                if recorded is not None:
                    summaries[number] = _summary(number, recorded, path.stat().st_mtime)
        source = "history" if recording.number in summaries else "recorded configuration"
        summaries[recording.number] = summaries.get(recording.number) or _summary(
            recording.number, config, when
        )
        entries = history_entries(summaries.values(), stack=self.stack)
        entry = next(e for e in entries if e.version == recording.number)
        named = {change.path.id for change in entry.path_changes}
        for migration in (*entry.migrations_up, *entry.migrations_down):
            named |= {
                p.id
                for p in plan.paths
                if p.id == migration or PathIdentity.parse_id(p.id).name == migration
            }
        return {
            "lines": [line.strip() for line in entry_lines(entry)[1:]],
            "paths": sorted(named),
            "source": source,
        }

    def _backend_entries(self, *, refresh: bool, number: int) -> dict[int, UpdateSummary]:
        if self._backend is None or (refresh and number not in self._backend):
            self._backend = {s.version: s for s in self._summaries() if isinstance(s.version, int)}
        return self._backend

    # --- the streams -----------------------------------------------------------------------

    async def follow(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The stack's updates as they run: the newest recorded one first when none runs, then
        every update `ops up` starts, from its first event, for as long as the page is open."""
        shown = None
        running = self.running()
        if running is None:
            async for message in self.replay(self.recorded(None)):
                yield message
        while True:
            running = self.running()
            if running is not None and running.key != shown:
                shown = running.key
                async for message in self.live(running):
                    yield message
                continue
            yield ("idle", {})
            await asyncio.sleep(POLL_SECONDS)

    async def replay(self, recording: Recording) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A recorded update: its end state at once, then what it changed."""
        recorded = events.read_events(recording.path)
        config = _config_of(recorded, recording)
        view = UpdateView(recording, await self.planner.plan(config), recorded[0]["timestamp"])
        for event in recorded:
            view.apply(event)
        view.finish()
        yield ("update", view.snapshot())
        yield ("changes", await self._changes(recording, config, view))
        yield ("ended", view.ending())

    async def live(self, recording: Recording) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A running update, event by event as `ops up` writes them, until it ends."""
        handle = _open(recording, self.directory)
        if handle is None:
            return
        with handle:
            view: UpdateView | None = None
            waiting: list[dict[str, Any]] = []
            changes: asyncio.Future[dict[str, Any]] | None = None
            reader = _Lines(handle)
            while True:
                batch = reader.read()
                if not batch:
                    if (view and view.states.ended) or not processes.running(recording.writer or 0):
                        batch = reader.read()  # written between the last read and its exit
                        if not batch:
                            break
                    else:
                        if changes is not None and changes.done():
                            yield ("changes", changes.result())
                            changes = None
                        yield ("idle", {})
                        await asyncio.sleep(POLL_SECONDS)
                        continue
                if view is None:
                    waiting += batch
                    prelude = next((e for e in waiting if "preludeEvent" in e), None)
                    if prelude is None:
                        continue
                    config = dict(prelude["preludeEvent"].get("config") or {})
                    plan = await self.planner.plan(config)
                    view = UpdateView(recording, plan, waiting[0]["timestamp"])
                    changes = asyncio.ensure_future(self._changes(recording, config, view))
                    batch, waiting = waiting, []
                    for event in batch:
                        view.apply(event)
                    view.changed()
                    yield ("update", view.snapshot())
                    continue
                for event in batch:
                    view.apply(event)
                changed = view.changed()
                if changed:
                    yield ("paths", view.paths_message(changed))
            if view is None:
                return
            view.finish()
            changed = view.changed()
            if changed:
                yield ("paths", view.paths_message(changed))
            if changes is not None:
                yield ("changes", await changes)
            yield ("ended", view.ending())

    async def _changes(
        self, recording: Recording, config: Mapping[str, str], view: UpdateView
    ) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(self.changes, recording, config, view.first, view.plan)
        except UserError as error:
            return {"lines": [], "paths": [], "source": "", "error": str(error)}


def prelude_config(path: Path) -> dict[str, str] | None:
    """The configuration an update recorded (its prelude event, the second line)."""
    with contextlib.suppress(OSError), path.open(encoding="utf-8") as handle:
        for _, line in zip(range(20), handle, strict=False):
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and "preludeEvent" in event:
                    return dict(event["preludeEvent"].get("config") or {})
    return None


def _summary(number: int, config: Mapping[str, str], when: float) -> UpdateSummary:
    """An update the backend has not recorded, as its history entry would be."""
    return UpdateSummary(
        kind="update",
        start_time=datetime.fromtimestamp(when, UTC),
        message="",
        environment={},
        config={k: {"value": v, "secret": v == SECRET_PLACEHOLDER} for k, v in config.items()},
        result="in-progress",
        version=number,
    )


def _config_of(recorded: list[dict[str, Any]], recording: Recording) -> dict[str, str]:
    prelude = next((e for e in recorded if "preludeEvent" in e), None)
    if prelude is None:
        raise UserError(f"update {recording.key} recorded no configuration (no prelude event)")
    return dict(prelude["preludeEvent"].get("config") or {})


def _open(recording: Recording, directory: Path) -> TextIO | None:
    """The running update's file; if `ops up` has renamed it since, the name it now has."""
    candidates = [recording.path, directory / f"{recording.number}{events.SUFFIX}"]
    candidates += directory.glob(f"{recording.number}{events.INTERRUPTED}{recording.writer}*")
    for path in candidates:
        with contextlib.suppress(FileNotFoundError):
            return path.open(encoding="utf-8")
    return None


class _Lines:
    """The complete lines added to a file since the last read, as events."""

    def __init__(self, handle: TextIO) -> None:
        self.handle, self.rest = handle, ""

    def read(self) -> list[dict[str, Any]]:
        chunk = self.handle.read()
        if not chunk:
            return []
        *lines, self.rest = (self.rest + chunk).split("\n")
        found = []
        for line in lines:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and isinstance(event.get("timestamp"), int | float):
                    found.append(event)
        return found


class UpdateView:
    """One update as the page draws it: the plan's rows and every path's state, and which paths
    changed since the page was last told."""

    def __init__(self, recording: Recording, plan: Plan, first: float) -> None:
        self.recording, self.plan, self.first = recording, plan, float(first)
        self.states = PathStates(plan)
        self.summary = False
        self.errors = 0
        # The event that last changed each path's state: the page's latency is measured from it.
        self.caused: dict[str, dict[str, Any]] = {}
        self._sent: dict[str, dict[str, Any]] = {}
        self._last: dict[str, Any] = {}

    def apply(self, event: Mapping[str, Any]) -> None:
        self._last = {"sequence": event.get("sequence"), "timestamp": event.get("timestamp")}
        self.summary = self.summary or "summaryEvent" in event
        diagnostic = event.get("diagnosticEvent") or {}
        self.errors += diagnostic.get("severity") == "error"
        for path in self.states.apply(event):
            self.caused[path.id] = self._last

    def finish(self) -> None:
        if not self.states.ended:
            for path in self.states.finish(failed=self.states.failed or None):
                self.caused[path.id] = self._last

    @property
    def status(self) -> str:
        if not self.states.ended:
            return "running"
        if self.states.failed or self.errors:
            return "failed"
        return "succeeded" if self.summary else "interrupted"

    @property
    def origin(self) -> float:
        """When the update's first step began (the plan's minute 0)."""
        return self.states.started if self.states.started is not None else self.first

    def path_json(self, path: PathState) -> dict[str, Any]:
        return {**path.as_json(), "text": describe(path), "event": self.caused.get(path.id)}

    def changed(self) -> list[dict[str, Any]]:
        """The paths whose state, replicas or message changed since the last call."""
        changed = []
        for path in self.states.take_touched():
            now = self.path_json(path)
            if self._sent.get(path.id) != now:
                self._sent[path.id] = now
                changed.append(now)
        return changed

    def clock(self) -> dict[str, Any]:
        return {"origin": self.origin, "latest": self.states.latest, "status": self.status}

    def paths_message(self, changed: list[dict[str, Any]]) -> dict[str, Any]:
        return {**self.clock(), "paths": changed}

    def ending(self) -> dict[str, Any]:
        return {**self.clock(), "update": self.recording.key}

    def snapshot(self) -> dict[str, Any]:
        plan = self.plan
        return {
            **self.clock(),
            "update": self.recording.key,
            "number": self.recording.number,
            # A running update by its number; a recorded one as `?update=` names it.
            "label": str(self.recording.number) if self.recording.live else self.recording.key,
            "live": self.recording.live,
            "plan_minutes": plan.critical_path_minutes,
            "waves": plan.waves,
            "rows": rows(plan),
            "paths": [self.path_json(p) for p in self.states.paths.values()],
        }


def rows(plan: Plan) -> list[dict[str, Any]]:
    """The plan's paths in the page's order: wave by wave as the terminal view lists them, each
    wave's gate after it; with the planned bar (minutes from the update's first step)."""
    order = {p.id: i for i, p in enumerate(PathStates(plan).ordered())}

    def key(path: Any) -> tuple[int, int, int]:
        gate = GATE.fullmatch(path.id) if path.kind == "gate" else None
        wave = int(gate["wave"]) if gate else (path.wave or LAST)
        return wave, 1 if gate else 0, order[path.id]

    return [
        {
            "id": p.id,
            "kind": p.kind,
            "region": p.region,
            "wave": p.wave,
            "lead_in": p.lead_in,
            "start": p.start,
            "finish": p.finish,
            "critical": p.critical,
        }
        for p in sorted(plan.paths, key=key)
    ]


# --- the app -----------------------------------------------------------------------------------


def sse(messages: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[str]:
    """Server-sent events: one `event:`/`data:` pair per message; a comment on a quiet stream."""

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        try:
            async for name, data in messages:
                if name == "idle":
                    if loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                        quiet_since = loop.time()
                        yield ": keepalive\n\n"
                    continue
                quiet_since = loop.time()
                yield f"event: {name}\ndata: {json.dumps(data)}\n\n"
        except UserError as error:
            yield f"event: error\ndata: {json.dumps({'message': str(error)})}\n\n"

    return stream()


def create_app(source: Source) -> Starlette:
    page = PAGE.read_text(encoding="utf-8")

    def refused(error: UserError) -> Response:
        return HTMLResponse(f"<p>{html.escape(str(error))}</p>\n", status_code=404)

    async def index(request: Request) -> Response:
        update = request.query_params.get("update")
        if update is not None:
            try:
                source.recorded(update)
            except UserError as error:
                return refused(error)
        return HTMLResponse(page.replace("{{stack}}", html.escape(source.stack)))

    async def stream(request: Request) -> Response:
        update = request.query_params.get("update")
        if update is not None:
            try:
                messages = source.replay(source.recorded(update))
            except UserError as error:
                return refused(error)
        else:
            messages = source.follow()
        return StreamingResponse(
            sse(messages),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def updates(request: Request) -> Response:
        return JSONResponse({"stack": source.stack, "updates": source.listing()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            source.planner.close()

    return Starlette(
        routes=[
            Route("/", index),
            Route("/stream", stream),
            Route("/api/updates", updates),
        ],
        lifespan=lifespan,
    )
