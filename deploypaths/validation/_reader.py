"""Reads typed fields of the config's mappings, recording every problem instead of stopping
at the first."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from deploypaths.validation._shown import _join, show
from deploypaths.validation.patterns import DNS_1123_LABEL, DNS_NAME_ALLOWED, MAX_NAME_LENGTH

NAMESPACE = "deploypaths"

T = TypeVar("T")


class ConfigError(Exception):
    """The stack configuration is invalid; `problems` lists each one with its key path."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        header = (
            f"stack '{stack}' has {len(problems)} configuration problem(s); nothing was deployed"
        )
        super().__init__("\n".join([header, *(f"  - {problem}" for problem in problems)]))


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: Any, allowed: str) -> None:
        self.items.append(f"{key}: got {show(value)}; {allowed}")

    def note(self, key: str, message: str) -> None:
        self.items.append(f"{key}: {message}")


class _Reader:
    """Reads typed fields of one mapping, recording a problem for each bad one."""

    def __init__(self, problems: _Problems, key: str, data: Any, allowed_keys: tuple[str, ...]):
        self.problems = problems
        self.key = key
        self.data: Mapping[Any, Any] = data if isinstance(data, Mapping) else {}
        # A value of the wrong kind is one problem, not one more per key it lacks.
        self.wrong_kind = data is not None and not isinstance(data, Mapping)
        if self.wrong_kind:
            problems.add(key or NAMESPACE, data, "allowed: a mapping")
        for name in self.data:
            if name not in allowed_keys:
                # The value is not shown: a key set with `--secret --path` under a misspelt
                # parent reaches the program decrypted, and the error is printed in the clear.
                problems.note(
                    _join(key, name),
                    f"unknown key{_guess(name, allowed_keys)}; "
                    f"allowed keys: {', '.join(allowed_keys)}",
                )

    def path(self, name: str) -> str:
        return _join(self.key, name)

    def present(self, name: str) -> bool:
        """Set to something: YAML's `key:` with no value (null) counts as not set."""
        return self.data.get(name) is not None

    def get(self, name: str, check: Callable[[Any], bool], allowed: str, default: T) -> T:
        if not self.present(name):
            return default
        value = self.data[name]
        if not check(value):
            self.problems.add(self.path(name), value, f"allowed: {allowed}")
            return default
        return value  # type: ignore[no-any-return]

    def required(self, name: str, check: Callable[[Any], bool], allowed: str) -> Any:
        if not self.present(name):
            if not self.wrong_kind:
                self.problems.note(self.path(name), f"is required ({allowed})")
            return None
        value = self.data[name]
        if not check(value):
            self.problems.add(self.path(name), value, f"allowed: {allowed}")
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        return self.get(name, lambda v: v in choices, " | ".join(choices), default)

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        return self.get(name, lambda v: _is_int(v) and low <= v <= high, _range(low, high), default)

    def text(self, name: str, default: str, pattern: re.Pattern[str], allowed: str) -> str:
        return self.get(name, lambda v: _is_text(v, pattern), allowed, default)

    def names(self, name: str) -> list[tuple[int, str]]:
        """The string items of a list, each with its index in the list as written."""
        value = self.get(name, _is_list, "a list of names", [])
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problems.add(f"{self.path(name)}[{index}]", item, "allowed: a name (string)")
            else:
                result.append((index, item))
        return result


def _guess(name: Any, allowed_keys: tuple[str, ...]) -> str:
    if not isinstance(name, str) or len(name) > 64:
        return ""
    close = difflib.get_close_matches(name, allowed_keys, n=1, cutoff=0.8)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_text(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _range(low: int, high: int) -> str:
    return f"an integer from {low} to {high}"


def _duplicates(problems: _Problems, key: str, names: Iterable[tuple[int, str]]) -> None:
    first: dict[str, int] = {}
    for index, name in names:
        if name in first:
            problems.add(
                f"{key}[{index}].name",
                name,
                f"allowed: a unique name; {key}[{first[name]}] already has it",
            )
        else:
            first[name] = index


def _dns_name(problems: _Problems, key: str, name: Any) -> bool:
    if (
        not isinstance(name, str)
        or len(name) > MAX_NAME_LENGTH
        or not DNS_1123_LABEL.fullmatch(name)
    ):
        problems.add(key, name, DNS_NAME_ALLOWED)
        return False
    return True


def _list_of_mappings(top: _Reader, key: str, required: bool) -> list[Any]:
    if required:
        value = top.required(key, lambda v: _is_list(v) and len(v) > 0, "a non-empty list")
    else:
        value = top.get(key, _is_list, "a list", [])
    return list(value or [])
