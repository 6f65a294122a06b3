"""Problems with a stack configuration, and how they read: `key path: got value; allowed: ...`,
each value short, printable and on one line, every problem listed at once."""

from __future__ import annotations

import difflib
import re
import reprlib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from deploypaths.config.fields import DNS_LABEL, MAX_NAME_LENGTH, NOT_ALLOWED

NAMESPACE = "deploypaths"
# A user value is never shown whole: long strings and big structures are cut to this many
# characters, so one bad value cannot flood the error or hide the others.
MAX_SHOWN = 60
# Lists of alternatives in a message (configured regions, services) are cut to this many names.
MAX_LISTED = 8
# The error type of a problem already put in words (its key path is the error's location).
PROBLEM = "config_problem"
# Lists whose entries have a `name`: a key path names the entry, `services[2] (payments)`.
NAMED_ENTRIES = ("regions", "services", "migrations", "notifications")
SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
DNS_NAME = re.compile(DNS_LABEL)

Location = tuple[int | str, ...]


class Problem(NamedTuple):
    loc: Location
    message: str


class ConfigError(Exception):
    """The stack configuration is invalid; `problems` lists each one with its key path."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        header = (
            f"stack '{stack}' has {len(problems)} configuration problem(s); nothing was deployed"
        )
        super().__init__("\n".join([header, *(f"  - {problem}" for problem in problems)]))


class _Shown(reprlib.Repr):
    """reprlib's bounded rendering (a few items, a few levels). Letters print as they are;
    control characters, invisible and bidi marks and line separators are escaped (what `repr`
    does with characters that are not printable), so one value is always one line."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 4
        self.maxdict = 4
        self.maxstring = self.maxother = MAX_SHOWN

    def repr_str(self, value: str, level: int) -> str:
        return repr(value[: MAX_SHOWN + 1])

    def repr_int(self, value: int, level: int) -> str:
        # repr() refuses integers beyond 4300 digits (int_max_str_digits); never compute it.
        if value.bit_length() > 128:
            return f"<integer of {value.bit_length()} bits>"
        return repr(value)

    def repr_instance(self, value: Any, level: int) -> str:
        shown = repr(value)  # floats, booleans, None, and YAML's dates and bytes
        return shown if len(shown) <= self.maxother else shown[: self.maxother - 3] + "..."


_SHOWN = _Shown()


def show(value: Any) -> str:
    """A short, printable rendering of a user value: control characters escaped, long ones cut."""
    shown = _SHOWN.repr(value)
    return shown if len(shown) <= MAX_SHOWN else shown[: MAX_SHOWN - 3] + "..."


def listing(names: Iterable[str]) -> str:
    """`a, b, c`, cut after MAX_LISTED names so a huge topology does not make huge messages."""
    names = list(names)
    if not names:
        return "none configured"
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def join(key: str, name: Any) -> str:
    """`key.name`, with a name that is not a plain identifier shown quoted and escaped, so a key
    path never carries a newline or a right-to-left mark into the message."""
    segment = name if isinstance(name, str) and SIMPLE_KEY.fullmatch(name) else show(name)
    return f"{key}.{segment}" if key else segment


def key_path(loc: Location, raw: Any) -> str:
    """`services[2] (payments).requires[0]`: the location, with the name of each named entry
    (unless that name is refused itself: the problem list shows it where it is reported)."""
    path = ""
    node = raw
    for position, step in enumerate(loc):
        parent, node = node, _child(node, step)
        if isinstance(step, int) and not isinstance(parent, Mapping):
            path += f"[{step}]"
            after = loc[position + 1] if position + 1 < len(loc) else None
            if loc[0] in NAMED_ENTRIES and position == 1 and after not in (None, "name"):
                name = node.get("name") if isinstance(node, Mapping) else None
                if (
                    isinstance(name, str)
                    and len(name) <= MAX_NAME_LENGTH
                    and DNS_NAME.fullmatch(name)
                ):
                    path += f" ({name})"
        else:
            path = join(path, step)
    return path or NAMESPACE


def _child(node: Any, step: int | str) -> Any:
    if isinstance(node, Mapping):
        return node.get(step)
    if isinstance(node, list | tuple) and isinstance(step, int) and 0 <= step < len(node):
        return node[step]
    return None


def problem_error(problems: Sequence[Problem], title: str) -> ValidationError:
    """Problems as a pydantic error, so a validator reports several at once, each where it is."""
    details: list[InitErrorDetails] = [
        {
            "type": PydanticCustomError(PROBLEM, "{message}", {"message": problem.message}),
            "loc": problem.loc,
            "input": None,
        }
        for problem in problems
    ]
    return ValidationError.from_exception_data(title, details)


def problems_of(error: ValidationError) -> list[Problem]:
    """The problems a validation found, each error put in words by the model it came from."""
    problems = []
    for detail in error.errors(include_url=False):
        ctx = detail.get("ctx") or {}
        if detail["type"] == PROBLEM:
            problems.append(Problem(tuple(detail["loc"]), ctx["message"]))
        else:  # raised outside any model's own validation: a bug, said as plainly as possible
            problems.append(Problem(tuple(detail["loc"]), detail["msg"]))
    return problems


def unknown_key(model: type[BaseModel], key: Any) -> Problem:
    # The value is not shown: a key set with `--secret --path` under a misspelt parent
    # reaches the program decrypted, and the error is printed in the clear.
    keys = config_keys(model)
    return Problem((key,), f"unknown key{_guess(key, keys)}; allowed keys: {', '.join(keys)}")


def explained(model: type[BaseModel], error: ValidationError) -> list[Problem]:
    """A model's validation errors in words: what was got, what is allowed (from the field's
    description or the validator's own reason). Unknown keys first: the reader meets them first
    (pydantic reports them after the fields)."""
    unknown = []
    problems = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        kind = detail["type"]
        ctx = detail.get("ctx") or {}
        if kind == PROBLEM:
            problems.append(Problem(loc, ctx["message"]))
            continue
        if not loc:
            problems.append(Problem(loc, f"got {show(detail['input'])}; allowed: a mapping"))
            continue
        field = _field(model, loc[0])
        if field is None or kind in ("extra_forbidden", "invalid_key"):
            unknown.append(unknown_key(model, loc[0]))
            continue
        allowed = _description(field, loc[1:])
        if kind == "missing":
            problems.append(Problem(loc, f"is required ({allowed})"))
            continue
        if kind == NOT_ALLOWED:
            allowed = ctx["allowed"]
        got = show(detail["input"])
        if _is_secret(field):
            got = (
                f"a value of type {type(detail['input']).__name__} (not shown: it may be a secret)"
            )
        loc = loc[:-1] if loc[-1] == "[key]" else loc
        problems.append(Problem(loc, f"got {got}; allowed: {allowed}"))
    return unknown + problems


def config_keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The keys a model reads from the config, in its order."""
    return tuple(field.alias or name for name, field in model.model_fields.items())


def _field(model: type[BaseModel], key: int | str) -> FieldInfo | None:
    return next(
        (field for name, field in model.model_fields.items() if (field.alias or name) == key),
        None,
    )


def _is_secret(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("secret") is True


def _description(field: FieldInfo, steps: Location) -> str:
    """What is allowed at `steps` inside a field: the innermost description on the way."""
    annotation: Any = field.annotation
    allowed = field.description or _described(annotation)[1] or ""
    for step in steps:
        annotation, described = _inner(annotation, step)
        allowed = described or allowed
    return allowed


def _inner(annotation: Any, step: int | str) -> tuple[Any, str | None]:
    """The annotation of the value at `step` inside one of `annotation`, and its description."""
    annotation, _ = _described(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and args:
        return _described(args[0])
    if origin is dict and args:
        return _described(args[0] if step == "[key]" else args[1])
    return None, None


def _described(annotation: Any) -> tuple[Any, str | None]:
    """An annotation without `| None` and `Annotated`, and what it allows: the description
    `Annotated` gave, or a Literal's values, or a boolean's."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        described = [m.description for m in metadata if isinstance(m, FieldInfo) and m.description]
        return base, (described[-1] if described else _described(base)[1])
    if typing.get_origin(annotation) is typing.Literal:
        return annotation, " | ".join(typing.get_args(annotation))
    if annotation is bool:
        return annotation, "true | false"
    return annotation, None


def _guess(name: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(name, str) or len(name) > 64:
        return ""
    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.8)
    return f" (did you mean {close[0]!r}?)" if close else ""
