"""Generated stack configurations of a chosen size, shaped like a real multi-region release."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

from deploypaths.regions import KNOWN_REGIONS

# Big regions first, so a small topology looks like the first regions a team would deploy to.
PREFERRED_REGIONS = (
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "us-west-2",
    "eu-central-1",
    "ap-northeast-1",
    "us-east-2",
    "eu-west-2",
    "ca-central-1",
    "ap-south-1",
    "sa-east-1",
    "eu-north-1",
    "ap-southeast-1",
    "us-west-1",
    "eu-west-3",
    "ap-northeast-2",
)
REGION_CODES = tuple(r for r in PREFERRED_REGIONS if r in KNOWN_REGIONS) + tuple(
    sorted(KNOWN_REGIONS - set(PREFERRED_REGIONS))
)

KUBERNETES_MODES = ("render", "eks", "kubeconfig")
DATABASE_MODES = ("none", "aurora", "external")
MONITORING_MODES = ("none", "cloudwatch")
# Config keys the engine would hold as secrets (only present in kubeconfig/external modes).
SECRET_KEYS = ("deploypaths:kubeconfigs", "deploypaths:database_urls")

REGISTRY = "registry.example.com/bench"
# Share of services pinned to a subset of the regions (a regional feature, a data-residency rule).
RESTRICTED_SHARE = 0.2
# Share of migrations that only add (expand); the rest remove what is no longer read (contract).
EXPAND_SHARE = 2 / 3
# How many earlier services one service waits for, and how likely each count is.
AFTER_COUNTS = (0, 1, 1, 2, 2, 3)
# How many expand migrations one service needs, and how likely each count is.
REQUIRES_COUNTS = (0, 0, 0, 1, 1, 2)
STRATEGIES = ("rolling",) * 7 + ("canary",) * 2 + ("blue-green",)
FLAG_SHARE = 0.25

SIZE = re.compile(r"^(\d+)x(\d+)x(\d+)(?:/(\d+))?$")


@dataclass(frozen=True)
class Size:
    """A topology's size: regions x services x migrations, split into waves."""

    regions: int
    services: int
    migrations: int
    waves: int

    @classmethod
    def parse(cls, text: str) -> Size:
        """`8x60x9/3` is 8 regions, 60 services, 9 migrations in 3 waves (default: 1 wave)."""
        match = SIZE.fullmatch(text.strip())
        if not match:
            raise ValueError(f"size {text!r}: expected REGIONSxSERVICESxMIGRATIONS[/WAVES]")
        regions, services, migrations, waves = match.groups()
        return cls(int(regions), int(services), int(migrations), int(waves or 1))

    def __str__(self) -> str:
        return f"{self.regions}x{self.services}x{self.migrations}/{self.waves}"


def generate(
    regions: int,
    services: int,
    migrations: int,
    waves: int,
    *,
    seed: int = 0,
    kubernetes_mode: str = "render",
    database_mode: str = "none",
    monitoring_mode: str = "none",
) -> dict[str, str]:
    """A flat `deploypaths:` stack config (as `stack_config.load_stack_file` returns it) with
    exactly the asked counts. The same arguments always give the same config."""
    _check(regions, services, migrations, waves, kubernetes_mode, database_mode, monitoring_mode)
    rng = random.Random(seed)
    names = REGION_CODES[:regions]
    migration_list = _migrations(migrations)
    expands = [m["name"] for m in migration_list if m["phase"] == "expand"]
    flat = {
        "aws:region": names[0],
        "deploypaths:environment": "bench",
        "deploypaths:owner": "platform",
        "deploypaths:bake_minutes": "0",
        "deploypaths:regions": _json([{"name": name} for name in names]),
        "deploypaths:waves": _json(_waves(names, waves)),
        "deploypaths:kubernetes": _json({"mode": kubernetes_mode}),
        "deploypaths:database": _json({"mode": database_mode}),
        "deploypaths:monitoring": _json({"mode": monitoring_mode}),
        "deploypaths:migrations": _json(migration_list),
        "deploypaths:services": _json(_services(rng, services, names, expands)),
    }
    if kubernetes_mode == "kubeconfig":
        flat["deploypaths:kubeconfigs"] = _json({r: f"kubeconfig-of-{r}" for r in names})
    if database_mode == "external":
        flat["deploypaths:database_urls"] = _json(
            {r: f"postgresql://app@db.{r}.example.com/app" for r in names}
        )
    return flat


def _check(
    regions: int,
    services: int,
    migrations: int,
    waves: int,
    kubernetes_mode: str,
    database_mode: str,
    monitoring_mode: str,
) -> None:
    if not 1 <= regions <= len(REGION_CODES):
        raise ValueError(f"regions: {regions}; allowed: 1 to {len(REGION_CODES)}")
    if not 1 <= waves <= regions:
        raise ValueError(f"waves: {waves}; allowed: 1 to the number of regions ({regions})")
    if services < 1:
        raise ValueError(f"services: {services}; allowed: at least 1")
    if migrations < 0:
        raise ValueError(f"migrations: {migrations}; allowed: 0 or more")
    for what, mode, modes in (
        ("kubernetes_mode", kubernetes_mode, KUBERNETES_MODES),
        ("database_mode", database_mode, DATABASE_MODES),
        ("monitoring_mode", monitoring_mode, MONITORING_MODES),
    ):
        if mode not in modes:
            raise ValueError(f"{what}: {mode!r}; allowed: {' | '.join(modes)}")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _waves(regions: tuple[str, ...], waves: int) -> list[list[str]]:
    """Consecutive groups, the smaller ones first: the first wave is the canary of regions."""
    size, extra = divmod(len(regions), waves)
    result, start = [], 0
    for index in range(waves):
        end = start + size + (1 if index >= waves - extra else 0)
        result.append(list(regions[start:end]))
        start = end
    return result


def _migrations(count: int) -> list[dict[str, str]]:
    """The schema history: every expand before every contract (at least one expand)."""
    expands = max(1, round(count * EXPAND_SHARE)) if count else 0
    return [
        {
            "name": f"m{index + 1:02d}-{'expand' if index < expands else 'contract'}",
            "image": f"{REGISTRY}/migrate:{index + 1:04d}",
            "phase": "expand" if index < expands else "contract",
        }
        for index in range(count)
    ]


def _services(
    rng: random.Random, count: int, regions: tuple[str, ...], expands: list[str]
) -> list[dict[str, Any]]:
    services: list[dict[str, Any]] = []
    placed: list[tuple[str, frozenset[str]]] = []
    for index in range(count):
        name = f"svc-{index + 1:03d}"
        service: dict[str, Any] = {"name": name, "image": f"{REGISTRY}/{name}:1.{index}.0"}
        service["replicas"] = rng.choice((2, 2, 3))
        # The first service is the platform every other one can lean on: it runs everywhere.
        present = frozenset(regions)
        if index and len(regions) > 1 and rng.random() < RESTRICTED_SHARE:
            present = frozenset(rng.sample(regions, rng.randint(1, len(regions) - 1)))
            service["regions"] = [r for r in regions if r in present]
        requires = rng.choice(REQUIRES_COUNTS)
        if expands and requires:
            service["requires"] = sorted(rng.sample(expands, min(requires, len(expands))))
        # Only earlier services that run wherever this one does: the graph stays a DAG and
        # every region holds what a service waits for.
        eligible = [other for other, where in placed if present <= where]
        after = min(rng.choice(AFTER_COUNTS), len(eligible))
        if after:
            service["after"] = sorted(rng.sample(eligible, after))
        service |= _release(rng, name, index)
        if rng.random() < FLAG_SHARE:
            service["flags"] = {
                f"flag-{n}": {"enabled": rng.random() < 0.5, "rollout_percent": 10 * n}
                for n in range(1, rng.randint(1, 2) + 1)
            }
        services.append(service)
        placed.append((name, present))
    return services


def _release(rng: random.Random, name: str, index: int) -> dict[str, Any]:
    strategy = rng.choice(STRATEGIES)
    if strategy == "canary":
        return {
            "strategy": "canary",
            "canary": {"image": f"{REGISTRY}/{name}:1.{index}.1", "weight": 10},
        }
    if strategy == "blue-green":
        return {
            "strategy": "blue-green",
            "blue_green": {
                "active": "blue",
                "blue": {"image": f"{REGISTRY}/{name}:1.{index}.0"},
                "green": {"image": f"{REGISTRY}/{name}:1.{index}.1"},
            },
        }
    return {}
