"""Who gets in, on the whole program's graph: every namespace denies ingress by default, and each
service's NetworkPolicy selects the pods of all its tracks and admits, on its container port
only, the pods of the services that call it (they name it in `after`, or its `callers` lists
them) and of its verification. The local clusters enforce no policy, so the selectors are
checked here against the pod templates the program declares."""

from __future__ import annotations

from typing import Any

import pytest

from components.network_policy import callers
from deploypaths.config.settings import Service, Settings
from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.recording import Recording, Registration
from deploypaths.stack_config import load_stack_file
from tests.support.config import flat
from tests.support.ordering import settings_of

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
SERVICE_PATH = "deploypaths:index:ServicePath"
REGISTRY = "registry.example.com/shop"
# Every way a service is called, on every strategy: auth (blue-green) is named in orders'
# `after` and lists search as a caller; search lists reports, which runs in eu-west-1 only.
CALLED = {
    "regions": [{"name": "us-east-1"}, {"name": "eu-west-1"}],
    "kubernetes": {"mode": "render"},
    "database": {"mode": "none"},
    "monitoring": {"mode": "none"},
    "services": [
        {
            "name": "auth",
            "image": f"{REGISTRY}/auth:3.2.0",
            "port": 9000,
            "callers": ["search"],
            "strategy": "blue-green",
            "blue_green": {
                "active": "blue",
                "blue": {"image": f"{REGISTRY}/auth:3.2.0"},
                "green": {"image": f"{REGISTRY}/auth:3.3.0"},
            },
        },
        {
            "name": "orders",
            "image": f"{REGISTRY}/orders:7.4.1",
            "port": 8081,
            "after": ["auth"],
            "strategy": "canary",
            "canary": {"image": f"{REGISTRY}/orders:7.5.0", "weight": 20},
        },
        {
            "name": "billing",
            "image": f"{REGISTRY}/billing:2.0.0",
            "after": ["orders"],
            "verify": {"image": f"{REGISTRY}/billing-smoke:2.0.0"},
        },
        {"name": "search", "image": f"{REGISTRY}/search:1.12.0", "callers": ["reports"]},
        {"name": "reports", "image": f"{REGISTRY}/reports:1.0.0", "regions": ["eu-west-1"]},
    ],
}
# Who calls whom in CALLED, per region, written out.
CALLERS = {
    "us-east-1": {
        "auth": {"orders", "search"},
        "orders": {"billing"},
        "billing": set(),
        "search": set(),
    },
    "eu-west-1": {
        "auth": {"orders", "search"},
        "orders": {"billing"},
        "billing": set(),
        "search": {"reports"},
        "reports": set(),
    },
}


@pytest.fixture(scope="module", params=["dev", "prod", "local", "called"])
def stack(request) -> tuple[Settings, Recording]:
    """A stack's settings and the program's run: the stack files, and CALLED."""
    name = request.param
    if name == "called":
        config = flat(CALLED)
    else:
        config = load_stack_file(PROJECT_DIR / f"Pulumi.{name}.yaml", PROJECT_DIR)
    return settings_of(config, name), run_program(config, stack=name)


def region_of(resource: Registration) -> str:
    """The region a Kubernetes object is deployed to: its provider is `<region>-k8s`."""
    return resource.provider.rsplit("::", 1)[1].removesuffix("-k8s")


def pod_labels(workload: Registration) -> dict[str, str]:
    labels: dict[str, str] = workload.inputs["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (`matchLabels` only, as the program writes them) selects a pod."""
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def service_of(recording: Recording, workload: Registration) -> str:
    """The service a Deployment belongs to, by the path it hangs off (`<service>-<region>`)."""
    path = recording.registrations[workload.parent]
    assert path.type == SERVICE_PATH, workload.name
    return path.name.removeprefix(f"{region_of(workload)}-")


def test_every_namespace_denies_ingress_by_default(stack):
    settings, recording = stack
    namespaces = recording.of_type(NAMESPACE)
    assert len(namespaces) == len(settings.regions), settings.stack
    policies = recording.of_type(NETWORK_POLICY)
    for namespace in namespaces:
        (deny,) = [
            p
            for p in policies
            if p.provider == namespace.provider and p.inputs["metadata"]["name"] == "default-deny"
        ]
        assert deny.name == namespace.name.replace("-namespace", "-default-deny"), deny.name
        assert deny.inputs["metadata"]["namespace"] == namespace.inputs["metadata"]["name"]
        # Every pod of the namespace, ingress only, no rule: nothing gets in unless a service's
        # own policy lets it.
        assert deny.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}, deny.name
        assert deny.parent == namespace.parent, deny.name
        assert deny.dependencies == (namespace.urn,), deny.name


def test_each_service_admits_only_its_callers_on_its_own_port(stack):
    settings, recording = stack
    deployments = recording.of_type(DEPLOYMENT)
    paths = recording.of_type(SERVICE_PATH)
    assert len(paths) == sum(len(settings.services_in(r)) for r in settings.region_names)
    for path in paths:
        (policy,) = [c for c in recording.children_of(path.urn) if c.type == NETWORK_POLICY]
        region = region_of(policy)
        service = path.name.removeprefix(f"{region}-")
        metadata, spec = policy.inputs["metadata"], policy.inputs["spec"]
        assert metadata["name"] == f"{service}-ingress", policy.name
        assert metadata["namespace"] == settings.kubernetes.namespace, policy.name
        assert spec["policyTypes"] == ["Ingress"], policy.name
        in_region = [d for d in deployments if region_of(d) == region]
        own = [d for d in in_region if d.parent == path.urn]
        # Every track of the service (stable and canary, or both colours), and nothing else.
        assert own, policy.name
        assert {d.urn for d in in_region if selects(spec["podSelector"], pod_labels(d))} == {
            d.urn for d in own
        }, policy.name
        (port,) = {c["ports"][0]["containerPort"] for d in own for c in containers(d)}
        expected = expected_callers(settings, region, service)
        verify = [j for j in recording.children_of(path.urn) if j.type == JOB]
        if not expected and not verify:
            # A rule without peers would admit everyone: no rule, nobody gets in.
            assert spec["ingress"] == [], policy.name
            continue
        (rule,) = spec["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": port}], policy.name
        admitted = {
            d.urn
            for d in in_region
            if any(selects(p["podSelector"], pod_labels(d)) for p in rule["from"])
        }
        assert admitted == {d.urn for d in in_region if service_of(recording, d) in expected}, (
            policy.name
        )
        # Every track of every caller: a selector names the service, never a track.
        assert {service_of(recording, d) for d in in_region if d.urn in admitted} == expected
        for job in verify:
            assert any(selects(p["podSelector"], pod_labels(job)) for p in rule["from"]), job.name
        # Peers without a namespace or IP selector: pods of the policy's own namespace.
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, policy.name


def containers(workload: Registration) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workload.inputs["spec"]["template"]["spec"]["containers"]
    return found


def expected_callers(settings: Settings, region: str, service: str) -> set[str]:
    if settings.stack == "called":
        return CALLERS[region][service]
    # The stack files list no `callers`: the callers are the services that name it in `after`.
    assert not any(s.callers for s in settings.services), settings.stack
    return {other.name for other in settings.services_in(region) if service in other.after}


def test_no_policy_adds_an_edge(stack):
    settings, recording = stack
    policies = {p.urn for p in recording.of_type(NETWORK_POLICY)}
    assert policies, settings.stack
    for resource in recording.registrations.values():
        assert not policies & set(resource.dependencies), resource.name


def test_the_callers_of_a_service_are_the_ones_after_it_and_the_ones_it_lists():
    auth = Service(name="auth", image="r.example.com/auth:1", callers=("search", "reports"))
    orders = Service(name="orders", image="r.example.com/orders:1", after=("auth",))
    search = Service(name="search", image="r.example.com/search:1", callers=("search",))
    billing = Service(name="billing", image="r.example.com/billing:1", after=("orders", "auth"))
    # reports is not deployed here: it is admitted where it runs.
    assert callers(auth, (auth, orders, search, billing)) == ("billing", "orders", "search")
    assert callers(orders, (auth, orders, search, billing)) == ("billing",)
    # A service whose pods call each other lists itself.
    assert callers(search, (auth, orders, search, billing)) == ("search",)
    assert callers(billing, (auth, orders, search, billing)) == ()
