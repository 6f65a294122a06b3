"""A rollback's config change written into the stack file (Pulumi.<stack>.yaml) as text: the
lines of the keys that change are rewritten and nothing else, so every other value keeps its
type and spelling and every comment stays.

The CLI still writes the change first (`config set-all`): it encrypts the secrets and is the
engine's own record. But it writes every value back as a string (`bake_minutes: 0.1` becomes
`"0.1"`, untouched keys included) and respaces comments, so the file's text is then rebuilt from
what it was before, with the CLI's ciphertext for the secrets.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from ops import automation

CONFIG_LINE = re.compile(r"^config:(?P<rest>.*)$")
# A `config:` entry's line: its key (plain, or quoted), the colon, what follows.
KEY_LINE = re.compile(
    r"""^(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#"'][^#]*?):(?P<rest>(?:\s.*)?)$"""
)
# What follows a key's colon: perhaps a scalar (plain or quoted), perhaps a comment.
SCALAR = re.compile(
    r"""^(?P<space>\s*)(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^#\s](?:[^#]*[^#\s])?)?"""
    r"""(?P<comment>\s*#.*)?\s*$"""
)
# What Pulumi keeps beside `config:` and may add when it first encrypts a secret.
SECRETS_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")


def stack_file_of(stack: str) -> Path:
    return automation.PROJECT_DIR / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"


def typed(value: str, current: Any, *, declared_string: bool = False) -> Any:
    """A config value as the stack file should hold it. Pulumi hands every value over as text;
    it goes back as the number, boolean, list or map it reads as, unless the file holds the key
    as a string today or Pulumi.yaml declares it one."""
    if declared_string or isinstance(current, str):
        return value
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return value
    if isinstance(decoded, float) and not math.isfinite(decoded):
        return value
    return decoded


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_filler(line: str) -> bool:
    """A blank line or a comment: it belongs to no value by its indentation alone."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _key_of(line: str, indent: int) -> str | None:
    """The key a `config:` entry's line starts, at `indent`; None for any other line."""
    if _is_filler(line) or _indent(line) != indent or line[indent:].split(" ", 1)[0] == "-":
        return None  # a list item at the key's indentation is part of the value above
    match = KEY_LINE.match(line[indent:])
    if match is None:
        return None
    key = match["key"]
    if key[0] == '"':
        return str(json.loads(key))
    if key[0] == "'":
        return key[1:-1].replace("''", "'")
    return key.rstrip()


def _key_text(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_][-A-Za-z0-9_:./]*", key) else json.dumps(key)


def _scalar(value: Any, old: str | None) -> str:
    """A value as YAML on its key's line, double-quoted when the old text was."""
    if isinstance(value, str) and old and old[0] == '"':
        return json.dumps(value, ensure_ascii=False)
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _entry(key: str, value: Any, indent: int, key_line: str | None) -> list[str]:
    """The lines of one `config:` entry: on the key's line the value in place of the old one,
    its comment kept; a list or map that was not written inline there goes below, in block
    style."""
    match = KEY_LINE.match(key_line[indent:]) if key_line is not None else None
    if key_line is None or match is None:
        head, rest = f"{' ' * indent}{_key_text(key)}:", ""
    else:
        head, rest = key_line[: indent + match.end("key") + 1], match["rest"]
    old = SCALAR.match(rest)
    old_value = old["value"] if old else None
    comment = (old["comment"] or "") if old else ""
    if not (isinstance(value, dict | list) and value) or (old_value and old_value[0] in "[{"):
        return [f"{head} {_scalar(value, old_value)}{comment}"]
    body = yaml.safe_dump(
        value, default_flow_style=False, sort_keys=False, width=100, allow_unicode=True
    )
    note = f" {comment.strip()}" if comment else ""
    return [f"{head}{note}", *(f"{' ' * (indent + 2)}{line}" for line in body.splitlines())]


def _trailing_filler(lines: list[str], indent: int) -> list[str]:
    """The blank lines and comments that end `lines` at most at `indent`, taken off it: they
    belong to what follows (the next key's comment, the end of `config:`)."""
    taken: list[str] = []
    while lines and _is_filler(lines[-1]) and _indent(lines[-1]) <= indent:
        taken.insert(0, lines.pop())
    return taken


def edited(text: str, values: Mapping[str, Any], remove: Sequence[str] = ()) -> str:
    """`text` (a stack file) with the `config:` entries of `values` set and those of `remove`
    gone; every other line as it was. A new key goes after the last entry."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if CONFIG_LINE.match(line)), None)
    if start is None:
        lines.append("config:")
        start = len(lines) - 1
    elif lines[start].split("#", 1)[0].strip() == "config: {}":
        lines[start] = "config:"
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if not _is_filler(lines[i]) and not _indent(lines[i])
        ),
        len(lines),
    )
    block = lines[start + 1 : end]
    indent = min((_indent(line) for line in block if not _is_filler(line)), default=2)
    entries: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in block:
        key = _key_of(line, indent)
        if key is None:
            entries[-1][1].append(line)
        else:
            entries.append((key, [line]))
    pending = dict(values)
    rebuilt: list[str] = []
    for key, entry in entries:
        trailing = _trailing_filler(entry, indent)
        if key is not None and key in pending:
            rebuilt += _entry(key, pending.pop(key), indent, entry[0])
        elif key is None or key not in remove:
            rebuilt += entry
        rebuilt += trailing
    if pending:
        trailing = _trailing_filler(rebuilt, indent)
        for key, value in pending.items():
            rebuilt += _entry(key, value, indent, None)
        rebuilt += trailing
    ending = "\n" if text.endswith("\n") or not text else ""
    return "\n".join([*lines[: start + 1], *rebuilt, *lines[end:]]) + ending


def declared_strings(project_dir: Path) -> set[str]:
    """The keys Pulumi.yaml declares `type: string`."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    return {
        key
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, Mapping) and spec.get("type") == "string"
    }


def write_config(
    stack: auto.Stack,
    stack_file: Path,
    *,
    set_values: Mapping[str, auto.ConfigValue],
    remove: Sequence[str] = (),
) -> None:
    """The change through the CLI, then the stack file's text as it was but for those keys.
    A file the CLI did not write (another stack's workspace) is left alone."""
    before = _text(stack_file)
    automation.write_config(stack, set_values=set_values, remove=remove)
    after = _text(stack_file)
    if before is None or after is None or after == before:
        return
    current = (yaml.safe_load(before) or {}).get("config") or {}
    written = yaml.safe_load(after) or {}
    written_config = written.get("config") or {}
    strings = declared_strings(automation.PROJECT_DIR)
    values: dict[str, Any] = {}
    for key, value in set_values.items():
        if value.secret:
            if key not in written_config:
                return  # the CLI did not write it here: its own text is all there is
            values[key] = written_config[key]
        else:
            values[key] = typed(value.value, current.get(key), declared_string=key in strings)
    text = edited(before, values, remove)
    missing = [
        f"{key}: {written[key]}"
        for key in SECRETS_KEYS
        if key in written and f"\n{key}:" not in f"\n{text}"
    ]
    if missing:
        text = text + ("" if text.endswith("\n") else "\n") + "\n".join(missing) + "\n"
    stack_file.write_text(text)


def restore(
    stack: auto.Stack,
    stack_file: Path,
    before: str | None,
    *,
    set_values: Mapping[str, auto.ConfigValue],
    remove: Sequence[str],
) -> None:
    """Today's configuration back: through the CLI, then the file's exact text of before."""
    automation.write_config(stack, set_values=set_values, remove=remove)
    if before is not None and _text(stack_file) != before:
        stack_file.write_text(before)


def _text(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
