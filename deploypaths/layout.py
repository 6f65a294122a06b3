"""Which regions and gates a stack declares: one stack per environment, or one stack per region.

A region stack is named `<env>-<region>` (`prod-eu-west-1`), where `<env>` is the environment's
own stack and `<region>` one of the regions in its config: it runs the same program on the same
config, declares only its region's paths and, when its region is not in the first wave, the gate
in front of its wave, which reads the previous wave through that wave's region stacks' outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# What a region stack exports for the gate in front of the next wave (`StackReference` outputs).
GATE_OUTPUT = "gate_watch"
# The region's kubeconfig, exported as a secret (the gate reads the cluster through it).
KUBECONFIG_OUTPUT = "kubeconfig"

Waves = Sequence[Sequence[str]]


def region_stack(environment_stack: str, region: str) -> str:
    """The name of one region's stack of an environment: `prod-eu-west-1`."""
    return f"{environment_stack}-{region}"


def region_names(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The region names in raw (unvalidated) config; whatever is malformed is left to validation."""
    regions = raw.get("regions")
    if not isinstance(regions, list):
        return ()
    return tuple(
        entry["name"]
        for entry in regions
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    )


@dataclass(frozen=True)
class StackLayout:
    """One stack's share of its environment: every region (`region` None) or one of them."""

    stack: str
    # The environment's own stack name: its config, settings and rendered manifests are shared.
    environment_stack: str
    region: str | None = None

    @property
    def per_region(self) -> bool:
        return self.region is not None

    def declared_regions(self, waves: Waves) -> tuple[str, ...]:
        """The regions whose paths this stack declares, in wave order."""
        everything = tuple(region for wave in waves for region in wave)
        return (self.region,) if self.region is not None else everything

    def gated_waves(self, waves: Waves) -> tuple[int, ...]:
        """The waves (0-based) whose gate this stack declares: the gate after wave w holds back
        wave w + 1, so it lives where wave w + 1 is declared."""
        if self.region is None:
            return tuple(range(len(waves) - 1))
        wave = wave_of(waves, self.region)
        return (wave - 1,) if wave > 0 else ()

    def referenced_regions(self, waves: Waves) -> tuple[str, ...]:
        """The regions read through stack references: the watched wave's, in a region stack."""
        if self.region is None:
            return ()
        return tuple(region for wave in self.gated_waves(waves) for region in waves[wave])

    def reference(self, region: str) -> str:
        """The stack another region's outputs are read from."""
        return region_stack(self.environment_stack, region)


def wave_of(waves: Waves, region: str) -> int:
    return next(index for index, wave in enumerate(waves) if region in wave)


def of_stack(stack: str, raw: Mapping[str, Any]) -> StackLayout:
    """The layout a stack name means for this config: `<env>-<region>` with `<region>` one of the
    config's regions is a region stack of `<env>`; any other name is a whole environment."""
    for region in region_names(raw):
        suffix = f"-{region}"
        if stack.endswith(suffix) and len(stack) > len(suffix):
            return StackLayout(stack, stack[: -len(suffix)], region)
    return StackLayout(stack, stack)


def region_stacks(environment_stack: str, waves: Waves) -> list[list[str]]:
    """An environment's region stacks, wave by wave: the order they are deployed in."""
    return [[region_stack(environment_stack, region) for region in wave] for wave in waves]


def unshipped(stack: str, exported: Any, release: str) -> str | None:
    """Why the gate must not trust a previous-wave region stack's outputs: it never exported
    them, or it last shipped another release than the one the gate holds the next wave behind."""
    if not isinstance(exported, Mapping):
        return f"stack {stack} has no `{GATE_OUTPUT}` output: deploy it first"
    if exported.get("release") != release:
        return (
            f"stack {stack} last deployed release {exported.get('release')!r} of its wave, not "
            f"{release!r}: deploy it (its whole wave) before the next wave"
        )
    return None
