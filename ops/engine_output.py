"""The engine's output as `ops up` shows it: unchanged, less the Python SDK's traceback for a
resource registered behind a failed one.

Under failure isolation the engine skips such a resource, and the SDK ends the program with
`ResourceRegistrationFailed` and its stack (pulumi 3.259): noise that reads like a crash of the
program. The summary says the same thing in the operator's terms: `held: waits for <path>`."""

from __future__ import annotations

from collections.abc import Callable

HELD = "ResourceRegistrationFailed"
TRACEBACK = "Traceback (most recent call last):"
UNHANDLED = "error: Program failed with an unhandled exception:"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


class WithoutHeldTracebacks:
    """A line printer for `on_output` that holds back a traceback until its last line says what
    it was: one that ends in `ResourceRegistrationFailed` is dropped, any other printed whole."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.held: list[str] = []
        self.depth: int | None = None

    def __call__(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._line(line)

    def _line(self, line: str) -> None:
        if self.depth is None:
            if line.strip() == UNHANDLED:
                self.held = [line]  # printed only if what follows is not a held resource
                return
            if line.strip() == TRACEBACK:
                self.held.append(line)
                self.depth = _indent(line)
                return
            self.flush()
            self.say(line)
            return
        if line.strip() and _indent(line) <= self.depth:
            ended = HELD in line
            self.depth = None
            if ended:
                self.held = []
                return
            self.held.append(line)
            self.flush()
            return
        self.held.append(line)

    def flush(self) -> None:
        for line in self.held:
            self.say(line)
        self.held = []
        self.depth = None


def without_held_failures(text: str) -> str:
    """`text` (an engine failure's message) less the held resources' tracebacks."""
    lines: list[str] = []
    printer = WithoutHeldTracebacks(lines.append)
    printer(text)
    printer.flush()
    return "\n".join(lines)
