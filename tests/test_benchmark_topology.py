"""The benchmark topology generator: valid configs, an acyclic `after` graph, the asked counts."""

from __future__ import annotations

import json

import pytest

from benchmarks.measurement import failed, graph_figures, longest_chain, replay_entries
from benchmarks.topology import REGION_CODES, SECRET_KEYS, Size, generate
from deploypaths.config.settings import Settings
from deploypaths.mock_run import run_program
from deploypaths.recording import Recording, Registration
from deploypaths.regions import KNOWN_REGIONS
from deploypaths.stack_config import namespace_values
from deploypaths.validation import find_cycle, parse_settings

SIZES = [(1, 1, 0, 1), (2, 15, 3, 2), (4, 30, 6, 3), (8, 60, 9, 3), (12, 110, 9, 3)]
CLOUD = {"kubernetes_mode": "eks", "database_mode": "aurora", "monitoring_mode": "cloudwatch"}


def settings_of(flat: dict[str, str]) -> Settings:
    return parse_settings(namespace_values(flat), stack="bench")


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_configs_validate_with_the_asked_counts(size: tuple[int, int, int, int], seed: int) -> None:
    regions, services, migrations, waves = size
    settings = settings_of(generate(regions, services, migrations, waves, seed=seed))
    label = f"{size} seed {seed}"
    assert len(settings.regions) == regions, label
    assert len(settings.services) == services, label
    assert len(settings.migrations) == migrations, label
    assert len(settings.waves) == waves, label
    assert sorted(r for wave in settings.waves for r in wave) == sorted(settings.region_names)
    assert set(settings.region_names) <= KNOWN_REGIONS, label


@pytest.mark.parametrize("seed", range(5))
def test_after_graph_is_a_dag_of_earlier_services(seed: int) -> None:
    settings = settings_of(generate(8, 60, 9, 3, seed=seed))
    position = {service.name: index for index, service in enumerate(settings.services)}
    graph = {service.name: list(service.after) for service in settings.services}
    assert find_cycle(graph) is None
    for service in settings.services:
        assert len(service.after) <= 3, f"{service.name} waits for {len(service.after)} services"
        for other in service.after:
            assert position[other] < position[service.name], f"{service.name} after {other}"


def test_topology_is_shaped_like_a_release() -> None:
    settings = settings_of(generate(8, 60, 9, 3))
    phases = [m.phase for m in settings.migrations]
    assert phases == sorted(phases, key=lambda p: p != "expand"), phases
    assert phases.count("expand") == 6, phases
    expands = {m.name for m in settings.migrations if m.phase == "expand"}
    requiring = [s for s in settings.services if s.requires]
    assert requiring and all(set(s.requires) <= expands for s in requiring)
    restricted = [s for s in settings.services if len(s.regions) < len(settings.regions)]
    assert 0 < len(restricted) < len(settings.services) // 2, len(restricted)
    assert sum(1 for s in settings.services if s.after) > len(settings.services) // 2
    assert {s.strategy for s in settings.services} == {"rolling", "canary", "blue-green"}
    # The first wave is the smallest: the canary of regions.
    assert [len(wave) for wave in settings.waves] == [2, 3, 3]


@pytest.mark.parametrize(
    "modes",
    [
        CLOUD,
        {"kubernetes_mode": "kubeconfig", "database_mode": "external", "monitoring_mode": "none"},
    ],
    ids=["cloud", "kubeconfig-external"],
)
def test_every_mode_validates(modes: dict[str, str]) -> None:
    flat = generate(4, 20, 4, 2, **modes)
    settings = settings_of(flat)
    assert settings.kubernetes.mode == modes["kubernetes_mode"]
    assert settings.database.mode == modes["database_mode"]
    assert settings.monitoring.mode == modes["monitoring_mode"]
    assert set(flat) - {f"deploypaths:{k}" for k in namespace_values(flat)} == {"aws:region"}
    assert all(key in flat for key in SECRET_KEYS if modes["kubernetes_mode"] == "kubeconfig")


def test_same_arguments_same_config_and_seeds_differ() -> None:
    assert generate(4, 30, 6, 3, seed=3) == generate(4, 30, 6, 3, seed=3)
    assert generate(4, 30, 6, 3, seed=3) != generate(4, 30, 6, 3, seed=4)
    assert all(isinstance(value, str) for value in generate(2, 3, 1, 1).values())


def test_all_regions_can_be_used() -> None:
    settings = settings_of(generate(len(REGION_CODES), 10, 2, 4))
    assert len(settings.regions) == len(KNOWN_REGIONS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 1, 0, 1), "regions: 0; allowed: 1 to"),
        ((3, 1, 0, 4), "waves: 4; allowed: 1 to the number of regions (3)"),
        ((1, 0, 0, 1), "services: 0; allowed: at least 1"),
        ((1, 1, -1, 1), "migrations: -1; allowed: 0 or more"),
    ],
)
def test_impossible_sizes_are_refused(args: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate(*args)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="kubernetes_mode: 'helm'; allowed: render | eks"):
        generate(1, 1, 0, 1, kubernetes_mode="helm")


def test_size_parses_and_prints() -> None:
    assert Size.parse("8x60x9/3") == Size(8, 60, 9, 3)
    assert Size.parse("2x5x0") == Size(2, 5, 0, 1)
    assert str(Size(8, 60, 9, 3)) == "8x60x9/3"
    with pytest.raises(ValueError, match="expected REGIONSxSERVICESxMIGRATIONS"):
        Size.parse("8-60-9")


def test_generated_config_runs_as_a_program() -> None:
    flat = generate(2, 6, 3, 2, seed=1)
    recording = run_program(flat, stack="bench")
    settings = settings_of(flat)
    paths = recording.of_type("deploypaths:index:ServicePath")
    expected = sum(len(settings.services_in(region)) for region in settings.region_names)
    assert len(paths) == expected, sorted(p.name for p in paths)
    figures = graph_figures(recording)
    assert figures["resources"] == figures["custom"] + figures["components"]
    assert figures["dependencies"] == sum(
        len(r.dependencies) for r in recording.registrations.values()
    )


def _registration(urn: str, dependencies: tuple[str, ...], provider: str = "") -> Registration:
    return Registration(
        urn=urn,
        type="test:index:Thing",
        name=urn,
        custom=True,
        parent="",
        dependencies=dependencies,
        provider=provider,
    )


def _recording() -> Recording:
    recording = Recording()
    for registration in [
        _registration("provider", ()),
        _registration("a", (), provider="provider"),
        _registration("b", ("a",)),
        _registration("c", ("a", "b")),
        _registration("d", ()),
    ]:
        recording.registrations[registration.urn] = registration
    return recording


def test_longest_chain_follows_dependencies_and_providers() -> None:
    assert longest_chain(_recording()) == 4


def test_replay_entries_point_at_earlier_entries() -> None:
    entries = replay_entries(_recording())
    assert [e["dependencies"] for e in entries] == [[], [], [1], [1, 2], []]
    assert json.dumps(entries)  # written to a file for the replay program


def test_a_failed_measurement_has_every_figure() -> None:
    figures = graph_figures(_recording())
    result = failed("program", "RecursionError: maximum recursion depth exceeded")
    assert set(figures) <= set(result)
    assert result["resources"] == 0 and result["error"].startswith("RecursionError")
