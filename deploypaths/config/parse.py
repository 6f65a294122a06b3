"""Raw stack configuration in, Settings or one ConfigError that lists every problem out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

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
from deploypaths.config.references import Where
from deploypaths.settings import Migration, Region, Service, Settings

# Keys of the `deploypaths:` namespace, in the order Pulumi.yaml declares them.
KNOWN_KEYS = config_keys(Settings)
# The lists whose entries are models: an entry that cannot be read whole is left out.
ENTRIES: dict[str, type[BaseModel]] = {
    "regions": Region,
    "services": Service,
    "migrations": Migration,
}
# A refused image is looked at again as this one, so its entry's references are still checked.
STAND_INS = {"image": "left-out.invalid/image:0"}
# Each second look leaves out more; a config cannot need more looks than this.
MAX_LOOKS = 8


def parse_settings(raw: Mapping[str, Any], *, stack: str) -> Settings:
    """Validate the `deploypaths:` config (keys without the namespace) of one stack."""
    if not isinstance(raw, Mapping):
        raise ConfigError(stack, [f"{NAMESPACE}: got {show(raw)}; allowed: a mapping"])
    oversized = _oversized(raw)
    if oversized:
        # Reading such a value is what costs; report only the bound it breaks.
        raise ConfigError(stack, oversized)
    found: list[Problem] = []
    look = _Look(raw, stack)
    for _ in range(MAX_LOOKS):
        try:
            settings = Settings.model_validate(look.data, context={"where": look.where})
        except ValidationError as error:
            problems = [look.as_written(problem) for problem in problems_of(error)]
            found += [p for p in problems if not look.caused(p) and p not in found]
            values = [p for p in problems if not p.across]
            if not values or not look.leave_out(values):
                break
        else:
            if not found:
                return settings
            break
    raise ConfigError(stack, [f"{key_path(p.loc, raw)}: {p.message}" for p in found])


class _Look:
    """The config as validated once more, without the values refused so far: so the checks
    across the config still run, and every problem is reported at once."""

    def __init__(self, raw: Mapping[str, Any], stack: str) -> None:
        self.data: dict[Any, Any] = dict(raw)
        self.positions: dict[str, list[int]] = {}
        self.left_out: dict[str, set[str]] = {}
        self.dropped: set[Location] = set()
        self.stack = stack

    @property
    def where(self) -> Where:
        return Where(
            stack=self.stack,
            positions=self.positions,
            left_out=self.left_out,
            dropped_keys=frozenset(str(loc[0]) for loc in self.dropped),
        )

    def as_written(self, problem: Problem) -> Problem:
        """The problem with its entry's index as written, not as it is in this look."""
        loc = problem.loc
        if problem.across:
            return problem  # the checks across the config name entries as written already
        if len(loc) > 1 and isinstance(loc[1], int) and str(loc[0]) in self.positions:
            index = self.positions[str(loc[0])][loc[1]]
            return problem._replace(loc=(loc[0], index, *loc[2:]))
        return problem

    def caused(self, problem: Problem) -> bool:
        """A problem of this look's own making: about something left out, or what held it."""
        return any(
            problem.loc[: len(loc)] == loc or loc[: len(problem.loc)] == problem.loc
            for loc in self.dropped
        )

    def leave_out(self, problems: list[Problem]) -> bool:
        """Leave out the values these problems are about (the field's default applies), or the
        entries they make unusable; False when nothing is left to leave out."""
        before = len(self.dropped)
        for problem in problems:
            loc = self.current(problem.loc)
            if not loc:
                continue
            key = loc[0]
            value = self.data.get(key)
            if len(loc) == 1 or not isinstance(value, Mapping | list):
                self._drop_key(key)
            elif isinstance(value, list) and isinstance(loc[1], int):
                self._drop_from_list(str(key), loc)
            elif isinstance(value, Mapping):
                self.data[key] = {k: v for k, v in value.items() if k != loc[1]}
                self.dropped.add((key, loc[1]))
        return len(self.dropped) > before

    def current(self, loc: Location) -> Location | None:
        """A location as written, in this look's lists (None: left out already)."""
        if len(loc) > 1 and isinstance(loc[1], int) and str(loc[0]) in self.positions:
            positions = self.positions[str(loc[0])]
            if loc[1] not in positions:
                return None
            return (loc[0], positions.index(loc[1]), *loc[2:])
        return loc

    def _drop_key(self, key: int | str) -> None:
        self.data.pop(key, None)
        self.dropped.add((key,))

    def _drop_from_list(self, key: str, loc: Location) -> None:
        """An entry's refused image stands in valid, a refused optional field takes its default,
        and an entry that is wrong otherwise is left out (its name remembered)."""
        entries = list(self.data[key])
        positions = self.positions.setdefault(key, list(range(len(entries))))
        index = int(loc[1])
        entry = entries[index]
        model = ENTRIES.get(key)
        name = str(loc[2]) if len(loc) > 2 else ""
        field = model.model_fields.get(name) if model else None
        if field is not None and isinstance(entry, Mapping) and name in STAND_INS:
            entries[index] = {**entry, name: STAND_INS[name]}
            self.dropped.add((key, positions[index], name))
        elif field is not None and not field.is_required() and isinstance(entry, Mapping):
            entries[index] = {k: v for k, v in entry.items() if k != name}
            self.dropped.add((key, positions[index], name))
        else:
            entry_name = entry.get("name") if isinstance(entry, Mapping) else None
            if isinstance(entry_name, str):
                self.left_out.setdefault(key, set()).add(entry_name)
            del entries[index]
            self.dropped.add((key, positions.pop(index)))
        self.data[key] = entries


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
