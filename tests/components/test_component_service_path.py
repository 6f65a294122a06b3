"""ServicePath on its own: its Deployments (one per rolling, canary or blue-green track), the
Service and disruption budget that select them, and, with CloudWatch, the alarms behind one
composite alarm."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.service_path import Monitoring, ServicePath, ServicePathArgs
from deploypaths.config.settings import (
    BlueGreen,
    Canary,
    ColourRelease,
    Flag,
    Owner,
    Service,
    Verify,
)
from deploypaths.naming import service_release, short_hash
from tests.support.component_monitor import build, declared_outputs

NAME = "orders-eu-west-1"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
MONITORING = Monitoring(
    cluster_name="test-eu-west-1",
    namespace="app",
    topic_arn="arn:aws:sns:eu-west-1:123456789012:alarms",
    restart_threshold=4,
    alarm_prefix="test-orders-eu-west-1",
    tags={"path": "orders@eu-west-1"},
)
ROLLING = Service(
    name="orders",
    image="orders:1",
    replicas=3,
    port=8081,
    flags=(Flag(name="new-checkout", enabled=True, rollout_percent=10),),
)
CANARY = Service(
    name="orders",
    image="orders:1",
    replicas=3,
    strategy="canary",
    canary=Canary(image="orders:2", weight=25),
)
BLUE_GREEN = Service(
    name="orders",
    image="orders:1",
    replicas=3,
    strategy="blue-green",
    # The idle colour scaled to zero: it gets no restart alarm.
    blue_green=BlueGreen(
        active="green",
        blue=ColourRelease(image="orders:1", replicas=0),
        green=ColourRelease(image="orders:2"),
    ),
)


def service_path(service: Service, *, database_secret: str | None = "database-connection", **args):
    def make() -> ServicePath:
        expand = pulumi.CustomResource("test:index:Job", "orders-expand")
        return ServicePath(
            NAME,
            ServicePathArgs(
                service=service,
                namespace="app",
                database_secret=database_secret,
                waits_for=[expand],
                rollout_timeout_seconds=450,
                **args,
            ),
        )

    return build(make)


@pytest.fixture(scope="module")
def rolling():
    return service_path(ROLLING)


@pytest.fixture(scope="module")
def canary():
    return service_path(CANARY, monitoring=MONITORING)


@pytest.fixture(scope="module")
def blue_green():
    return service_path(BLUE_GREEN, monitoring=MONITORING)


PART_OF = {"app.kubernetes.io/part-of": "deploypaths"}
OWNED = ROLLING.model_copy(
    update={
        "owner": Owner(team="checkout", approvers=("@acme/checkout", "lead@example.com")),
        "verify": Verify(image="orders-smoke:1"),
    }
)


@pytest.fixture(scope="module")
def owned():
    return service_path(OWNED)


def test_an_owner_is_on_the_workloads_and_never_on_a_pod_template(owned, rolling):
    _, monitor = owned
    _, unowned = rolling
    workloads = [*monitor.of_type(DEPLOYMENT), *monitor.of_type(JOB)]
    assert len(workloads) == 2
    for workload in workloads:
        metadata = workload.inputs["metadata"]
        assert metadata["labels"]["deploypaths/owner"] == "checkout", workload.name
        assert metadata["labels"]["app.kubernetes.io/part-of"] == "deploypaths", workload.name
        approvers = metadata["annotations"]["deploypaths/approvers"]
        assert approvers == "@acme/checkout,lead@example.com", workload.name
        template = workload.inputs["spec"]["template"]["metadata"]["labels"]
        assert "deploypaths/owner" not in template, workload.name
    deployment = monitor.named(f"{NAME}-deployment", DEPLOYMENT).inputs["spec"]
    before = unowned.named(f"{NAME}-deployment", DEPLOYMENT).inputs["spec"]
    assert deployment["template"] == before["template"], "a new owner must not roll the pods"


def deployments(monitor) -> dict[str, dict]:
    """The path's Deployments by resource name."""
    return {d.name: d.inputs for d in monitor.of_type(DEPLOYMENT)}


def test_every_child_hangs_off_the_path(rolling, canary, blue_green):
    for _, monitor in (rolling, canary, blue_green):
        (path,) = monitor.of_type("deploypaths:index:ServicePath")
        children = monitor.children_of(path.urn)
        # All but the path and the Job it waits for.
        assert len(children) == len(monitor.registered) - 2, path.name
        for child in children:
            assert child.name.startswith(f"{NAME}-"), child.name


def test_a_rolling_service_is_one_deployment_that_waits_for_what_it_needs(rolling):
    _, monitor = rolling
    deployment = monitor.named(f"{NAME}-deployment", DEPLOYMENT)
    expand = monitor.named("orders-expand", "test:index:Job")
    flags = monitor.named(f"{NAME}-flags", "kubernetes:core/v1:ConfigMap")
    assert set(deployment.dependencies) == {expand.urn, flags.urn}, deployment.name
    metadata, spec = deployment.inputs["metadata"], deployment.inputs["spec"]
    assert metadata["name"] == "orders", deployment.name
    assert metadata["namespace"] == "app", deployment.name
    assert metadata["labels"] == {**PART_OF, "app": "orders", "track": "stable"}, deployment.name
    assert spec["replicas"] == 3, deployment.name
    assert spec["selector"] == {"matchLabels": {"app": "orders", "track": "stable"}}
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": "25%"}
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "orders:1", deployment.name
    assert container["imagePullPolicy"] == "Always", deployment.name
    assert container["envFrom"] == [{"secretRef": {"name": "database-connection"}}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8081}


def test_the_deployment_carries_the_providers_rollout_wait(rolling):
    _, monitor = rolling
    deployment = monitor.named(f"{NAME}-deployment", DEPLOYMENT)
    annotations = deployment.inputs["metadata"]["annotations"]
    # And the checkov findings it keeps on purpose (a tag, the database Secret as env).
    assert set(annotations) == {
        "pulumi.com/waitFor",
        "pulumi.com/timeoutSeconds",
        "checkov.io/skip1",
        "checkov.io/skip2",
    }
    assert annotations["pulumi.com/timeoutSeconds"] == "450", deployment.name
    assert json.loads(annotations["pulumi.com/waitFor"]) == [
        "jsonpath={.status.replicas}=3",
        "jsonpath={.status.updatedReplicas}=3",
        "jsonpath={.status.readyReplicas}=3",
        "jsonpath={.status.availableReplicas}=3",
    ], deployment.name


def test_flags_reach_the_pods_as_a_mounted_config_map(rolling):
    _, monitor = rolling
    flags = monitor.named(f"{NAME}-flags", "kubernetes:core/v1:ConfigMap")
    assert flags.inputs["metadata"]["name"] == "orders-flags", flags.name
    assert json.loads(flags.inputs["data"]["flags.json"]) == {
        "new-checkout": {"enabled": True, "rollout_percent": 10}
    }, flags.name
    deployment = monitor.named(f"{NAME}-deployment", DEPLOYMENT)
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert {"name": "flags", "configMap": {"name": "orders-flags"}} in pod["volumes"]
    # Read from the ConfigMap's output: the Deployment waits for it through the data edge.
    assert flags.urn in deployment.dependencies, deployment.name


def test_flags_delivered_elsewhere_make_no_config_map_and_reach_the_pods_as_env():
    env = {"APPCONFIG_PROFILE": "orders-flags"}
    _, monitor = service_path(ROLLING, flags_as_config_map=False, extra_env=env)
    assert monitor.of_type("kubernetes:core/v1:ConfigMap") == []
    deployment = monitor.named(f"{NAME}-deployment", DEPLOYMENT)
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "APPCONFIG_PROFILE", "value": "orders-flags"}]


def test_service_and_budget_select_every_track_of_a_rolling_or_canary_service(rolling, canary):
    for (_, monitor), port in ((rolling, 8081), (canary, 8080)):
        service = monitor.named(f"{NAME}-service", "kubernetes:core/v1:Service")
        assert service.inputs["metadata"]["name"] == "orders", service.name
        assert service.inputs["spec"]["selector"] == {"app": "orders"}, service.name
        assert service.inputs["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": port}
        ], service.name
        budget = monitor.named(f"{NAME}-pdb", "kubernetes:policy/v1:PodDisruptionBudget")
        assert budget.inputs["spec"] == {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app": "orders"}},
        }, budget.name


def test_a_canary_runs_beside_the_stable_track_at_its_weight(canary):
    _, monitor = canary
    expand = monitor.named("orders-expand", "test:index:Job")
    tracks = deployments(monitor)
    assert set(tracks) == {f"{NAME}-deployment", f"{NAME}-canary-deployment"}
    stable, canary_track = tracks[f"{NAME}-deployment"], tracks[f"{NAME}-canary-deployment"]
    assert stable["metadata"]["name"] == "orders"
    assert canary_track["metadata"]["name"] == "orders-canary"
    assert stable["spec"]["replicas"] == 3
    # 1 canary pod beside 3 stable ones: 25% of the pods behind the Service.
    assert canary_track["spec"]["replicas"] == 1
    assert canary_track["spec"]["selector"]["matchLabels"] == {"app": "orders", "track": "canary"}
    (container,) = canary_track["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "orders:2"
    assert json.loads(canary_track["metadata"]["annotations"]["pulumi.com/waitFor"])[0] == (
        "jsonpath={.status.replicas}=1"
    )
    for deployment in monitor.of_type(DEPLOYMENT):
        assert deployment.dependencies == (expand.urn,), deployment.name


def test_blue_green_runs_both_colours_and_selects_the_active_one(blue_green):
    _, monitor = blue_green
    tracks = deployments(monitor)
    assert set(tracks) == {f"{NAME}-blue-deployment", f"{NAME}-green-deployment"}
    blue, green = tracks[f"{NAME}-blue-deployment"], tracks[f"{NAME}-green-deployment"]
    assert (blue["metadata"]["name"], blue["spec"]["replicas"]) == ("orders-blue", 0)
    assert (green["metadata"]["name"], green["spec"]["replicas"]) == ("orders-green", 3)
    assert green["metadata"]["labels"] == {**PART_OF, "app": "orders", "colour": "green"}
    assert json.loads(blue["metadata"]["annotations"]["pulumi.com/waitFor"]) == [
        "jsonpath={.spec.replicas}=0"
    ]
    service = monitor.named(f"{NAME}-service", "kubernetes:core/v1:Service")
    active = {"app": "orders", "colour": "green"}
    assert service.inputs["spec"]["selector"] == active, service.name
    budget = monitor.named(f"{NAME}-pdb", "kubernetes:policy/v1:PodDisruptionBudget")
    assert budget.inputs["spec"]["selector"] == {"matchLabels": active}, budget.name


def test_cloudwatch_alarms_feed_one_composite_alarm(canary):
    _, monitor = canary
    alarms = {alarm.name: alarm for alarm in monitor.of_type(METRIC_ALARM)}
    assert set(alarms) == {
        f"{NAME}-stable-restarts",
        f"{NAME}-canary-restarts",
        f"{NAME}-running-pods",
    }
    restarts = alarms[f"{NAME}-canary-restarts"]
    assert restarts.inputs["name"] == "test-orders-eu-west-1-canary-restarts", restarts.name
    assert restarts.inputs["threshold"] == 4, restarts.name
    assert restarts.inputs["dimensions"] == {
        "ClusterName": "test-eu-west-1",
        "Namespace": "app",
        "PodName": "orders-canary",
    }, restarts.name
    running = alarms[f"{NAME}-running-pods"]
    assert running.inputs["treatMissingData"] == "breaching", running.name
    assert running.inputs["dimensions"]["Service"] == "orders", running.name
    # Alarms watch the rollout: they wait for nothing of it.
    for alarm in alarms.values():
        assert alarm.dependencies == (), alarm.name
        assert alarm.inputs["tags"] == {"path": "orders@eu-west-1"}, alarm.name
    health = monitor.named(f"{NAME}-health", COMPOSITE_ALARM)
    assert health.inputs["alarmName"] == "test-orders-eu-west-1-health", health.name
    assert health.inputs["alarmRule"] == (
        'ALARM("test-orders-eu-west-1-stable-restarts")'
        ' OR ALARM("test-orders-eu-west-1-canary-restarts")'
        ' OR ALARM("test-orders-eu-west-1-running-pods")'
    ), health.name
    assert health.inputs["alarmActions"] == [MONITORING.topic_arn], health.name
    assert health.inputs["okActions"] == [MONITORING.topic_arn], health.name
    assert set(health.dependencies) == {alarm.urn for alarm in alarms.values()}, health.name


def test_a_colour_scaled_to_zero_has_no_restart_alarm(blue_green):
    _, monitor = blue_green
    names = {alarm.name for alarm in monitor.of_type(METRIC_ALARM)}
    assert names == {f"{NAME}-green-restarts", f"{NAME}-running-pods"}


def test_without_monitoring_there_are_no_alarms(rolling):
    _, monitor = rolling
    assert monitor.of_type(METRIC_ALARM) == []
    assert monitor.of_type(COMPOSITE_ALARM) == []


def test_registers_exactly_what_it_exposes(rolling, canary):
    component, monitor = canary
    (path,) = monitor.of_type("deploypaths:index:ServicePath")
    outputs = monitor.outputs[path.urn]
    # Without `verify` the Job is None, which the engine does not store.
    assert component.verify_job is None
    assert set(outputs) == declared_outputs(ServicePath) - {"verify_job"}, path.name
    assert outputs["released"] == outputs["deployments"], path.name
    assert outputs["composite_alarm_name"] == "test-orders-eu-west-1-health", path.name
    assert outputs["deployments"] == [
        monitor.named(f"{NAME}-deployment", DEPLOYMENT).urn,
        monitor.named(f"{NAME}-canary-deployment", DEPLOYMENT).urn,
    ], path.name
    assert len(component.deployments) == 2
    # Without monitoring the alarm name is None, which the engine does not store.
    component, monitor = rolling
    (path,) = monitor.of_type("deploypaths:index:ServicePath")
    assert component.composite_alarm_name is None
    assert set(monitor.outputs[path.urn]) == declared_outputs(ServicePath) - {
        "composite_alarm_name",
        "verify_job",
    }, path.name


# --- verification ------------------------------------------------------------------------

VERIFIED = CANARY.model_copy(
    update={
        "verify": Verify(image="orders-smoke:1", args=("--path", "/orders")),
        "read_only_root_filesystem": False,
    }
)


@pytest.fixture(scope="module")
def verified():
    return service_path(VERIFIED, monitoring=MONITORING, verify_timeout_minutes=4)


def test_the_verify_job_runs_after_every_deployment_of_the_path(verified):
    _, monitor = verified
    (path,) = monitor.of_type("deploypaths:index:ServicePath")
    job = monitor.named(f"{NAME}-verify-job", JOB)
    assert job.parent == path.urn, job.name
    tracks = {d.urn for d in monitor.of_type(DEPLOYMENT)}
    assert len(tracks) == 2, job.name
    assert set(job.dependencies) == tracks, job.name
    assert job.custom_timeouts.get("create") == "4m", job.name


def test_the_verify_job_is_hardened_like_the_paths_pods(verified):
    _, monitor = verified
    job = monitor.named(f"{NAME}-verify-job", JOB)
    deployment = monitor.named(f"{NAME}-deployment", DEPLOYMENT)
    metadata, spec = job.inputs["metadata"], job.inputs["spec"]
    labels = {"app.kubernetes.io/part-of": "deploypaths", "deploypaths/verify": "orders"}
    assert metadata["namespace"] == "app", job.name
    assert metadata["labels"] == labels, job.name
    assert spec["backoffLimit"] == 0, job.name
    assert spec["activeDeadlineSeconds"] == 240, job.name
    template = spec["template"]
    # Not selected by the Service or the disruption budget (they select `app`).
    assert template["metadata"]["labels"] == labels, job.name
    pod, service_pod = template["spec"], deployment.inputs["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never", job.name
    assert pod["securityContext"] == service_pod["securityContext"], job.name
    assert pod["automountServiceAccountToken"] is False, job.name
    (container,) = pod["containers"]
    (service_container,) = service_pod["containers"]
    assert container["image"] == "orders-smoke:1", job.name
    assert container["args"] == ["--path", "/orders"], job.name
    # The service's own opt-out applies to its verification too.
    assert container["securityContext"] == service_container["securityContext"], job.name
    assert container["securityContext"]["readOnlyRootFilesystem"] is False, job.name
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, job.name
    assert set(container["resources"]) == {"requests", "limits"}, job.name


def test_the_verify_job_is_named_by_the_release_it_verifies(verified):
    _, monitor = verified
    job = monitor.named(f"{NAME}-verify-job", JOB)
    name = job.inputs["metadata"]["name"]
    assert name == f"orders-verify-{short_hash(service_release(VERIFIED))}", job.name
    assert len(name) <= 63, name
    # A new release (here: a new canary image) re-runs verification under a new name.
    newer = VERIFIED.model_copy(update={"canary": Canary(image="orders:3", weight=25)})
    again = service_path(newer)[1].named(f"{NAME}-verify-job", JOB)
    assert again.inputs["metadata"]["name"] != name, again.name
    # So do new verify args.
    args = VERIFIED.model_copy(update={"verify": Verify(image="orders-smoke:1")})
    other = service_path(args)[1].named(f"{NAME}-verify-job", JOB)
    assert other.inputs["metadata"]["name"] not in (name, again.inputs["metadata"]["name"])
    assert other.inputs["spec"]["template"]["spec"]["containers"][0]["args"] == []


def test_released_is_the_deployments_and_the_verify_job(verified):
    component, monitor = verified
    (path,) = monitor.of_type("deploypaths:index:ServicePath")
    outputs = monitor.outputs[path.urn]
    assert set(outputs) == declared_outputs(ServicePath), path.name
    job = monitor.named(f"{NAME}-verify-job", JOB)
    assert outputs["verify_job"] == job.urn, path.name
    assert outputs["released"] == [*outputs["deployments"], job.urn], path.name
    assert component.released == [*component.deployments, component.verify_job]


def test_without_verify_there_is_no_job(rolling, canary, blue_green):
    for _, monitor in (rolling, canary, blue_green):
        assert monitor.of_type(JOB) == []


# --- who gets in ---------------------------------------------------------------------------


def template_labels(workload) -> dict[str, str]:
    return workload.inputs["spec"]["template"]["metadata"]["labels"]


def test_the_network_policy_admits_the_given_callers_on_the_container_port():
    _, monitor = service_path(ROLLING, callers=("billing", "search"))
    policy = monitor.named(f"{NAME}-network-policy", NETWORK_POLICY)
    assert policy.inputs["metadata"] == {"name": "orders-ingress", "namespace": "app"}
    assert policy.inputs["spec"] == {
        "podSelector": {"matchLabels": {"app": "orders"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {"podSelector": {"matchLabels": {"app": "billing"}}},
                    {"podSelector": {"matchLabels": {"app": "search"}}},
                ],
                "ports": [{"protocol": "TCP", "port": 8081}],
            }
        ],
    }, policy.name
    (container,) = monitor.named(f"{NAME}-deployment", DEPLOYMENT).inputs["spec"]["template"][
        "spec"
    ]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8081}], policy.name
    # Nothing of the rollout: it waits for nothing, and nothing waits for it.
    assert policy.dependencies == (), policy.name
    for resource in monitor.registered.values():
        assert policy.urn not in resource.dependencies, resource.name


def test_the_network_policy_selects_every_track_and_admits_nobody_uncalled(canary, blue_green):
    for _, monitor in (canary, blue_green):
        policy = monitor.named(f"{NAME}-network-policy", NETWORK_POLICY)
        selector = policy.inputs["spec"]["podSelector"]["matchLabels"]
        tracks = monitor.of_type(DEPLOYMENT)
        assert len(tracks) == 2, policy.name
        for deployment in tracks:
            labels = template_labels(deployment)
            assert selector.items() <= labels.items(), deployment.name
        # A rule without peers would admit everyone: an uncalled service gets none.
        assert policy.inputs["spec"]["ingress"] == [], policy.name


def test_the_network_policy_admits_the_verification(verified):
    _, monitor = verified
    policy = monitor.named(f"{NAME}-network-policy", NETWORK_POLICY)
    job = monitor.named(f"{NAME}-verify-job", JOB)
    (rule,) = policy.inputs["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"].items() <= template_labels(job).items(), job.name
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}], policy.name


def test_only_a_tag_and_the_database_secret_as_env_are_accepted_findings(rolling):
    _, monitor = rolling
    annotations = monitor.named(f"{NAME}-deployment", DEPLOYMENT).inputs["metadata"]["annotations"]
    skips = [annotations[key] for key in sorted(annotations) if key.startswith("checkov.io/skip")]
    assert [skip.split("=")[0] for skip in skips] == ["CKV_K8S_43", "CKV_K8S_35"]
    # checkov splits a skip at "=": a reason holds none.
    assert all(skip.count("=") == 1 and len(skip) > 40 for skip in skips), skips
    digest = "r.example.com/orders@sha256:" + "ab" * 32
    _, pinned = service_path(ROLLING.model_copy(update={"image": digest}), database_secret=None)
    annotations = pinned.named(f"{NAME}-deployment", DEPLOYMENT).inputs["metadata"]["annotations"]
    assert not [key for key in annotations if key.startswith("checkov.io/")], annotations
