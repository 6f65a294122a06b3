"""RegionPath on its own, once in kubeconfig mode (an existing cluster, an external database,
watched through the API server) and once in eks mode (network, cluster, Aurora and CloudWatch
of its own): which children it builds, one provider of each kind for all of them, and the
`services-ready` barrier that waits for every service."""

from __future__ import annotations

import base64

import pulumi
import pytest
from pulumi.runtime import rpc

from components.region_path import RegionPath, RegionPathArgs
from deploypaths.config.settings import (
    Canary,
    DatabaseSettings,
    Flag,
    FlagDeliverySettings,
    KubernetesSettings,
    Migration,
    MigrationDown,
    MonitoringSettings,
    Service,
    Verify,
)
from tests.support.component_monitor import build, declared_outputs

REGION = "eu-west-1"
KUBECONFIG = "apiVersion: v1\nclusters: [{name: local}]\n"
DATABASE_URL = "postgres://app:pw@db.internal:5432/app"
AWS_PROVIDER = "pulumi:providers:aws"
K8S_PROVIDER = "pulumi:providers:kubernetes"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
BARRIER = "pulumi-python:dynamic:Resource"
SERVICES = (
    Service(
        name="orders",
        image="orders:1",
        requires=("add-index",),
        strategy="canary",
        canary=Canary(image="orders:2", weight=25),
        flags=(Flag(name="new-checkout", enabled=True),),
    ),
    Service(name="billing", image="billing:1", after=("orders",)),
)
MIGRATIONS = (
    Migration(name="add-index", image="migrations:7", phase="expand"),
    Migration(name="drop-column", image="migrations:7", phase="contract"),
)


def region_path(
    kubernetes,
    database,
    monitoring,
    *,
    services=SERVICES,
    migrations=MIGRATIONS,
    down_migrations=(),
    **secrets,
):
    def make() -> RegionPath:
        gate = pulumi.CustomResource("test:index:Gate", "gate-after-wave-0")
        return RegionPath(
            REGION,
            RegionPathArgs(
                region=REGION,
                environment="test",
                stack="test",
                protected=False,
                kubernetes=kubernetes,
                database=database,
                monitoring=monitoring,
                flag_delivery=FlagDeliverySettings(),
                services=services,
                migrations=migrations,
                down_migrations=down_migrations,
                tags=lambda path: {"environment": "test", "path": path},
                gate=gate,
                **secrets,
            ),
        )

    return build(make)


@pytest.fixture(scope="module")
def kubeconfig_mode():
    return region_path(
        KubernetesSettings(mode="kubeconfig"),
        DatabaseSettings(mode="external"),
        MonitoringSettings(mode="kubernetes"),
        kubeconfig=pulumi.Output.secret(KUBECONFIG),
        database_url=pulumi.Output.secret(DATABASE_URL),
    )


@pytest.fixture(scope="module")
def eks_mode():
    return region_path(
        KubernetesSettings(mode="eks"),
        DatabaseSettings(mode="aurora", instances=1),
        MonitoringSettings(mode="cloudwatch"),
    )


def region_of(monitor):
    (region,) = monitor.of_type("deploypaths:index:RegionPath")
    return region


def direct_children(monitor) -> list[tuple[str, str]]:
    return sorted((c.type, c.name) for c in monitor.children_of(region_of(monitor).urn))


def descendants(monitor, urn: str):
    for child in monitor.children_of(urn):
        yield child
        yield from descendants(monitor, child.urn)


PATHS = [
    ("deploypaths:index:MigrationPath", f"{REGION}-add-index"),
    ("deploypaths:index:MigrationPath", f"{REGION}-drop-column"),
    ("deploypaths:index:ServicePath", f"{REGION}-billing"),
    ("deploypaths:index:ServicePath", f"{REGION}-orders"),
]


def test_kubeconfig_mode_builds_no_aws_infrastructure(kubeconfig_mode):
    _, monitor = kubeconfig_mode
    assert direct_children(monitor) == sorted(
        [
            *PATHS,
            (K8S_PROVIDER, f"{REGION}-k8s"),
            ("kubernetes:core/v1:Namespace", f"{REGION}-namespace"),
            (NETWORK_POLICY, f"{REGION}-default-deny"),
            ("kubernetes:core/v1:Secret", f"{REGION}-database"),
            (BARRIER, f"{REGION}-services-ready"),
        ]
    )
    aws = [r.name for r in monitor.registered.values() if r.type.startswith(("aws:", AWS_PROVIDER))]
    assert aws == []
    # Flags reach the pods as a ConfigMap: AppConfig needs CloudWatch alarms to watch.
    assert monitor.of_type("deploypaths:index:FeatureFlags") == []
    flags = monitor.named(f"{REGION}-orders-flags", "kubernetes:core/v1:ConfigMap")
    assert flags.parent == monitor.named(f"{REGION}-orders", "deploypaths:index:ServicePath").urn


def test_kubeconfig_mode_talks_to_the_given_cluster_through_a_secret(kubeconfig_mode):
    _, monitor = kubeconfig_mode
    provider = monitor.named(f"{REGION}-k8s", K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == secret(KUBECONFIG), provider.name
    database = monitor.named(f"{REGION}-database", "kubernetes:core/v1:Secret")
    data = database.inputs["data"]
    assert data[rpc._special_sig_key] == rpc._special_secret_sig, database.name
    assert data["value"] == {"DATABASE_URL": base64.b64encode(DATABASE_URL.encode()).decode()}


def test_eks_mode_builds_the_regions_infrastructure(eks_mode):
    _, monitor = eks_mode
    assert direct_children(monitor) == sorted(
        [
            *PATHS,
            (AWS_PROVIDER, f"{REGION}-aws"),
            (K8S_PROVIDER, f"{REGION}-k8s"),
            ("deploypaths:index:Network", REGION),
            ("deploypaths:index:Cluster", REGION),
            ("deploypaths:index:Database", REGION),
            ("deploypaths:index:FeatureFlags", f"{REGION}-flags"),
            ("aws:sns/topic:Topic", f"{REGION}-alarms"),
            ("deploypaths:index:RegionDashboard", f"{REGION}-paths"),
            ("kubernetes:core/v1:Namespace", f"{REGION}-namespace"),
            (NETWORK_POLICY, f"{REGION}-default-deny"),
            ("kubernetes:core/v1:Secret", f"{REGION}-database"),
            (BARRIER, f"{REGION}-services-ready"),
        ]
    )
    # Flags go through AppConfig, so no path mounts them.
    assert monitor.of_type("kubernetes:core/v1:ConfigMap") == []
    database = monitor.named(f"{REGION}-database", "kubernetes:core/v1:Secret")
    assert set(database.inputs["data"]["value"]) == {
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "PGSSLMODE",
    }, database.name
    instance = monitor.named(f"{REGION}-db-0", "aws:rds/clusterInstance:ClusterInstance")
    assert instance.urn in database.dependencies, database.name


@pytest.mark.parametrize("mode", ["kubeconfig_mode", "eks_mode"])
def test_one_provider_of_each_kind_serves_the_whole_region(mode, request):
    _, monitor = request.getfixturevalue(mode)
    region = region_of(monitor)
    providers = {
        kind: [r.urn for r in monitor.of_type(f"pulumi:providers:{kind}")]
        for kind in ("aws", "kubernetes")
    }
    assert len(providers["kubernetes"]) == 1, providers
    assert len(providers["aws"]) == (1 if mode == "eks_mode" else 0), providers
    checked = 0
    for resource in descendants(monitor, region.urn):
        kind = resource.type.split(":")[0]
        if resource.custom and kind in providers:
            assert [resource.provider] == providers[kind], resource.name
            checked += 1
    assert checked > 10, mode


@pytest.mark.parametrize("mode", ["kubeconfig_mode", "eks_mode"])
def test_the_region_waits_for_the_previous_gate_through_its_providers(mode, request):
    _, monitor = request.getfixturevalue(mode)
    gate = monitor.named("gate-after-wave-0", "test:index:Gate")
    providers = [r for r in monitor.registered.values() if r.type.startswith("pulumi:providers:")]
    assert providers
    for provider in providers:
        assert gate.urn in provider.dependencies, provider.name
        assert provider.parent == region_of(monitor).urn, provider.name


def test_in_eks_mode_rollouts_wait_for_the_nodes(eks_mode):
    _, monitor = eks_mode
    provider = monitor.named(f"{REGION}-k8s", K8S_PROVIDER)
    insights = monitor.named(f"{REGION}-container-insights", "aws:eks/addon:Addon")
    assert insights.urn in provider.dependencies, provider.name


@pytest.mark.parametrize("mode", ["kubeconfig_mode", "eks_mode"])
def test_services_ready_waits_for_every_service_and_the_contract_migration_for_it(mode, request):
    _, monitor = request.getfixturevalue(mode)
    barrier = monitor.named(f"{REGION}-services-ready", BARRIER)
    deployments = {d.urn for d in monitor.of_type(DEPLOYMENT)}
    # orders' stable and canary tracks, billing's one.
    assert len(deployments) == 3, mode
    assert set(barrier.dependencies) == deployments, barrier.name
    contract = monitor.named(f"{REGION}-drop-column-job", "kubernetes:batch/v1:Job")
    expand = monitor.named(f"{REGION}-add-index-job", "kubernetes:batch/v1:Job")
    assert {barrier.urn, expand.urn} <= set(contract.dependencies), contract.name
    for deployment in monitor.of_type(DEPLOYMENT):
        if deployment.name.startswith(f"{REGION}-orders-"):
            assert expand.urn in deployment.dependencies, deployment.name
        else:
            orders = {
                d.urn for d in monitor.of_type(DEPLOYMENT) if d.name.startswith(f"{REGION}-orders-")
            }
            assert orders <= set(deployment.dependencies), deployment.name


def test_kubeconfig_mode_registers_what_it_exposes(kubeconfig_mode):
    component, monitor = kubeconfig_mode
    region = region_of(monitor)
    outputs = monitor.outputs[region.urn]
    # No topic without CloudWatch: None, which the engine does not store.
    assert component.alarm_topic_arn is None and component.dashboard is None
    assert set(outputs) == declared_outputs(RegionPath) - {"alarm_topic_arn", "dashboard"}, (
        region.name
    )
    assert outputs["kubeconfig"] == KUBECONFIG, region.name
    assert outputs["composite_alarm_names"] == [], region.name
    assert outputs["deployment_names"] == ["orders", "orders-canary", "billing"], region.name
    assert outputs["completion"] == [
        monitor.named(f"{REGION}-services-ready", BARRIER).urn,
        monitor.named(f"{REGION}-drop-column-job", "kubernetes:batch/v1:Job").urn,
    ], region.name


def test_eks_mode_registers_exactly_what_it_exposes(eks_mode):
    _, monitor = eks_mode
    region = region_of(monitor)
    outputs = monitor.outputs[region.urn]
    assert set(outputs) == declared_outputs(RegionPath), region.name
    assert outputs["alarm_topic_arn"] == f"arn:aws:sns:{REGION}:123456789012:{REGION}-alarms"
    assert outputs["composite_alarm_names"] == [
        f"test-billing-{REGION}-health",
        f"test-orders-{REGION}-health",
    ], region.name
    assert set(outputs["services"]) == {"orders", "billing"}, region.name
    assert set(outputs["migrations"]) == {"add-index", "drop-column"}, region.name
    flag_deployments = monitor.of_type("aws:appconfig/deployment:Deployment")
    assert len(flag_deployments) == 1, region.name
    assert flag_deployments[0].urn in outputs["completion"], region.name


def secret(value):
    """A value as the engine receives it when the program marked it secret."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


# --- verification and down migrations ------------------------------------------------------

JOB = "kubernetes:batch/v1:Job"
VERIFIED = (
    SERVICES[0].model_copy(update={"verify": Verify(image="orders-smoke:1")}),
    SERVICES[1],
)


NAMESPACE = "kubernetes:core/v1:Namespace"


def waits_for(monitor, resource) -> set[str]:
    """What a resource waits for besides the namespace it is created in (a data edge)."""
    return set(resource.dependencies) - {r.urn for r in monitor.of_type(NAMESPACE)}


def kubeconfig_region(**paths):
    return region_path(
        KubernetesSettings(mode="kubeconfig"),
        DatabaseSettings(mode="none"),
        MonitoringSettings(mode="none"),
        kubeconfig=pulumi.Output.secret(KUBECONFIG),
        **paths,
    )


@pytest.fixture(scope="module")
def verified():
    return kubeconfig_region(services=VERIFIED)


def test_what_waits_for_a_verified_service_waits_for_its_verification(verified):
    _, monitor = verified
    verify = monitor.named(f"{REGION}-orders-verify-job", JOB)
    orders = {d.urn for d in monitor.of_type(DEPLOYMENT) if d.name.startswith(f"{REGION}-orders-")}
    assert waits_for(monitor, verify) == orders, verify.name
    # billing runs after orders: after its Deployments and its verification.
    billing = monitor.named(f"{REGION}-billing-deployment", DEPLOYMENT)
    assert waits_for(monitor, billing) == orders | {verify.urn}, billing.name
    # The barrier (and so the contract migration and the next wave's gate) waits for it too.
    barrier = monitor.named(f"{REGION}-services-ready", BARRIER)
    deployments = {d.urn for d in monitor.of_type(DEPLOYMENT)}
    assert set(barrier.dependencies) == deployments | {verify.urn}, barrier.name
    region = region_of(monitor)
    assert monitor.outputs[region.urn]["completion"][0] == barrier.urn, region.name


UNDOABLE = (
    Migration(
        name="add-index",
        image="migrations:7",
        phase="expand",
        down=MigrationDown(image="migrations:7-down"),
    ),
    Migration(
        name="add-status",
        image="migrations:8",
        phase="expand",
        down=MigrationDown(image="migrations:8-down", args=("--keep-data",)),
    ),
    Migration(name="drop-column", image="migrations:9", phase="contract"),
)
UNDOABLE_SERVICES = (
    SERVICES[0].model_copy(update={"requires": ("add-index", "add-status")}),
    SERVICES[1],
)


@pytest.fixture(scope="module")
def undone():
    return kubeconfig_region(
        services=UNDOABLE_SERVICES,
        migrations=UNDOABLE,
        down_migrations=("add-index", "add-status"),
    )


def test_a_region_that_undoes_migrations_runs_only_their_down_jobs_newest_first(undone):
    component, monitor = undone
    jobs = {job.name: job for job in monitor.of_type(JOB)}
    assert set(jobs) == {
        f"{REGION}-add-index-down-job",
        f"{REGION}-add-status-down-job",
        f"{REGION}-drop-column-job",
    }
    barrier = monitor.named(f"{REGION}-services-ready", BARRIER)
    contract = jobs[f"{REGION}-drop-column-job"]
    newest, oldest = jobs[f"{REGION}-add-status-down-job"], jobs[f"{REGION}-add-index-down-job"]
    assert waits_for(monitor, contract) == {barrier.urn}, contract.name
    # Chained after the services and the contract, newest first.
    assert waits_for(monitor, newest) == {contract.urn}, newest.name
    assert waits_for(monitor, oldest) == {newest.urn}, oldest.name
    for name, path in component.migrations.items():
        expected = "up" if name == "drop-column" else "down"
        assert path.direction == expected, name
    region = region_of(monitor)
    assert monitor.outputs[region.urn]["completion"] == [barrier.urn, oldest.urn], region.name
    # The services no longer wait for a change the region undoes after them.
    for deployment in monitor.of_type(DEPLOYMENT):
        assert not {newest.urn, oldest.urn} & set(deployment.dependencies), deployment.name


def test_without_down_migrations_a_declared_down_changes_nothing():
    _, declared = kubeconfig_region(migrations=(UNDOABLE[0], UNDOABLE[2]))
    _, plain = kubeconfig_region(
        migrations=(UNDOABLE[0].model_copy(update={"down": None}), UNDOABLE[2])
    )
    for monitor in (declared, plain):
        jobs = {job.name for job in monitor.of_type(JOB)}
        assert jobs == {f"{REGION}-add-index-job", f"{REGION}-drop-column-job"}, jobs
    assert {urn: (r.inputs, set(r.dependencies)) for urn, r in declared.registered.items()} == {
        urn: (r.inputs, set(r.dependencies)) for urn, r in plain.registered.items()
    }
