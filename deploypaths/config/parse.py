"""Raw stack configuration in, Settings or one ConfigError that lists every problem out.

Two passes, one way. First each entry of the named lists is read on its own, where it was
written (`services[2] (payments)`), then the rest of the namespace with the entries read; then
the checks across the config (`config.references`) run on what was read, and the Settings they
passed are returned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from deploypaths.config import references
from deploypaths.config.limits import MAX_DEPTH, MAX_VALUES, Breach, check_tree
from deploypaths.config.problems import (
    NAMESPACE,
    ConfigError,
    Location,
    Problem,
    config_keys,
    key_path,
    problems_of,
    show,
)
from deploypaths.config.settings import Migration, Notification, Region, Service, Settings

Model = TypeVar("Model", bound=BaseModel)

# Keys of the `deploypaths:` namespace, in the order Pulumi.yaml declares them.
KNOWN_KEYS = config_keys(Settings)
# The lists of named entries: each entry is read on its own, and one that cannot be read whole
# is left out of the checks across the config.
ENTRIES: dict[str, type[BaseModel]] = {
    "regions": Region,
    "migrations": Migration,
    "services": Service,
    "notifications": Notification,
}
# A refused image is read again as this one, so its entry's references are still checked.
STAND_INS = {"image": "left-out.invalid/image:0"}
# Problems are listed as the config is read: unknown keys, then each key in Pulumi.yaml's order.
ORDER: dict[int | str, int] = {
    key: index
    for index, (name, field) in enumerate(Settings.model_fields.items())
    for key in (name, field.alias or name)
}


def parse_settings(raw: Mapping[str, Any], *, stack: str) -> Settings:
    """Validate the `deploypaths:` config (keys without the namespace) of one stack."""
    if not isinstance(raw, Mapping):
        raise ConfigError(stack, [f"{NAMESPACE}: got {show(raw)}; allowed: a mapping"])
    oversized = _oversized(raw)
    if oversized:
        # Reading such a value is what costs; report only the bound it breaks.
        raise ConfigError(stack, oversized)
    written, found, refused, read = _read_config(raw)
    if written is None:
        raise ConfigError(stack, [f"{key_path(p.loc, raw)}: {p.message}" for p in found])
    settings = references.resolved(written, stack)
    # A problem about something refused, or what holds it, is that refusal's: said already.
    found += [
        problem
        for problem in references.problems(written, settings, read)
        if not any(_overlap(problem.loc, loc) for loc in refused)
    ]
    if found:
        raise ConfigError(stack, [f"{key_path(p.loc, raw)}: {p.message}" for p in found])
    return settings


def _read_config(
    raw: Mapping[Any, Any],
) -> tuple[Settings | None, list[Problem], list[Location], references.Read]:
    """The first pass: each named entry read on its own, then the namespace with the entries
    that could be read. Returns what was read (None when a required key could not be), the
    problems in the order of the keys, the locations refused, and where each entry was."""
    data = dict(raw)
    found: list[Problem] = []
    refused: list[Location] = []
    indices: dict[str, list[int]] = {}
    names_left_out: dict[str, set[str]] = {}
    for key, model in ENTRIES.items():
        entries = data.get(key)
        if not isinstance(entries, list | tuple):
            continue  # reading the namespace says what is wrong with it
        if not entries and Settings.model_fields[key].is_required():
            found.append(Problem((key,), f"got {show(entries)}; allowed: a non-empty list"))
            refused.append((key,))
        kept = []
        for index, entry in enumerate(entries):
            value, problems, left_out = _read(model, entry, depth=1)
            found += [Problem((key, index, *p.loc), p.message) for p in problems]
            refused += [(key, index, *loc) for loc in left_out]
            if value is not None:
                kept.append(value)
                indices.setdefault(key, []).append(index)
            elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                names_left_out.setdefault(key, set()).add(entry["name"])
        data[key] = tuple(kept)
    settings, problems, left_out = _read(Settings, data, depth=2)
    found = sorted(found + problems, key=lambda p: ORDER.get(p.loc[0], -1) if p.loc else -1)
    return settings, found, refused + left_out, references.Read(indices, names_left_out)


def _read(
    model: type[Model], data: Any, depth: int
) -> tuple[Model | None, list[Problem], list[Location]]:
    """`data` validated into `model`, its problems, and the locations left out of it. When values
    are refused, it is validated once more without them (each `depth` keys deep: a refused image
    stands in valid, anything else takes its default), so the rest still counts in the checks
    across the config; the model is None when it cannot do without them."""
    try:
        return model.model_validate(data), [], []
    except ValidationError as error:
        found = problems_of(error)
    if not isinstance(data, Mapping) or not all(p.loc for p in found):
        return None, found, [()]
    kept = dict(data)
    left_out: list[Location] = []
    for loc in (p.loc[:depth] for p in found):
        if loc[0] in STAND_INS and loc[0] in model.model_fields:
            kept[loc[0]] = STAND_INS[str(loc[0])]
            left_out.append(loc[:1])
        elif len(loc) > 1 and isinstance(kept.get(loc[0]), Mapping):
            kept[loc[0]] = {k: v for k, v in kept[loc[0]].items() if k != loc[1]}
            left_out.append(loc)
        else:
            kept.pop(loc[0], None)
            left_out.append(loc[:1])
    try:
        return model.model_validate(kept), found, left_out
    except ValidationError as error:
        again = problems_of(error)
    found += [p for p in again if not any(_overlap(p.loc, loc) for loc in left_out)]
    return None, found, [()]


def _overlap(loc: Location, other: Location) -> bool:
    """One location is the other, or holds it."""
    shorter = min(len(loc), len(other))
    return loc[:shorter] == other[:shorter]


def _oversized(raw: Mapping[Any, Any]) -> list[str]:
    """The top-level keys whose value breaks MAX_VALUES or MAX_DEPTH, found without recursion
    and without visiting more than MAX_VALUES values (aliases and cycles included)."""
    budget = MAX_VALUES
    problems = []
    for key, value in raw.items():
        breach, budget = check_tree(value, budget)
        # The value is not shown: it may be one of the secret maps.
        if breach is Breach.TOO_MANY_VALUES:
            return [
                f"{key_path((key,), raw)}: got more than {MAX_VALUES} values in the whole "
                f"configuration (a YAML alias counts once per use); allowed: at most {MAX_VALUES}"
            ]
        if breach is Breach.TOO_DEEP:
            problems.append(
                f"{key_path((key,), raw)}: got values nested more than {MAX_DEPTH} deep; "
                f"allowed: at most {MAX_DEPTH}"
            )
    return problems
