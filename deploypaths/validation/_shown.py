"""How user values and key paths appear in messages: each one short, printable, one line."""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable
from typing import Any

# A user value is never shown whole: long strings and big structures are cut to this many
# characters, so one bad value cannot flood the error or hide the others.
MAX_SHOWN = 60
# Lists of alternatives in a message (configured regions, services) are cut to this many names.
MAX_LISTED = 8


class _Shown(reprlib.Repr):
    """reprlib's bounded rendering (a few items, a few levels), in ASCII: control characters,
    RTL marks and line separators are escaped, so one value is always one line of the error."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 4
        self.maxdict = 4
        self.maxstring = self.maxother = MAX_SHOWN

    def repr_str(self, value: str, level: int) -> str:
        return ascii(value[: MAX_SHOWN + 1])

    def repr_int(self, value: int, level: int) -> str:
        # repr() refuses integers beyond 4300 digits (int_max_str_digits); never compute it.
        if value.bit_length() > 128:
            return f"<integer of {value.bit_length()} bits>"
        return repr(value)

    def repr_instance(self, value: Any, level: int) -> str:
        text = ascii(value)  # floats, booleans, None, and YAML's dates and bytes
        return text if len(text) <= self.maxother else text[: self.maxother - 3] + "..."


_SHOWN = _Shown()


def show(value: Any) -> str:
    """A short, printable rendering of a user value: control characters escaped, long ones cut."""
    text = _SHOWN.repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _join(key: str, name: Any) -> str:
    """`key.name`, with a name that is not a plain identifier shown quoted and escaped, so a key
    path never carries a newline or a right-to-left mark into the message."""
    segment = name if isinstance(name, str) and SIMPLE_KEY.fullmatch(name) else show(name)
    return f"{key}.{segment}" if key else segment


def _listing(names: Iterable[str]) -> str:
    """`a, b, c`, cut after MAX_LISTED names so a huge topology does not make huge messages."""
    names = list(names)
    if not names:
        return "none configured"
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown
