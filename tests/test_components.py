"""Key inputs of each component, as registered with the engine."""

from __future__ import annotations

import copy
import json

from deploypaths.naming import job_name

RENDER = {
    "regions": [{"name": "us-east-1"}, {"name": "eu-west-1"}],
    "waves": [["us-east-1"], ["eu-west-1"]],
    "kubernetes": {"mode": "render"},
    "database": {"mode": "none"},
    "monitoring": {"mode": "none"},
    "migrations": [
        {"name": "add-status", "image": "r.example.com/migrate:0042", "phase": "expand"},
        {"name": "drop-legacy", "image": "r.example.com/migrate:0044", "phase": "contract"},
    ],
    "services": [
        {"name": "auth", "image": "r.example.com/auth:3.2.0", "replicas": 2, "port": 9000},
        {"name": "orders", "image": "r.example.com/orders:7.4.1", "after": ["auth"]},
    ],
}


def containers(registration) -> list[dict]:
    return registration.inputs["spec"]["template"]["spec"]["containers"]


def test_deployment_rolls_out_safely_and_is_probed(prod):
    deployment = prod.named("eu-west-1-orders-deployment")
    spec = deployment.inputs["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
    }, deployment.name
    assert spec["replicas"] == 3, deployment.name
    (container,) = containers(deployment)
    assert container["image"] == "registry.example.com/shop/orders:7.4.1"
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    assert container["resources"]["limits"] == {"cpu": "250m", "memory": "256Mi"}
    assert container["envFrom"] == [{"secretRef": {"name": "database-connection"}}]
    # The provider waits until the new template has fully rolled out (not its own, racy
    # Deployment await), and no longer than the stack's rollout timeout.
    annotations = deployment.inputs["metadata"]["annotations"]
    assert json.loads(annotations["pulumi.com/waitFor"]) == [
        "jsonpath={.status.replicas}=3",
        "jsonpath={.status.updatedReplicas}=3",
        "jsonpath={.status.readyReplicas}=3",
        "jsonpath={.status.availableReplicas}=3",
    ], deployment.name
    assert annotations["pulumi.com/timeoutSeconds"] == "600", deployment.name


def test_pods_pass_the_restricted_pod_security_standard(prod):
    for name in ("eu-west-1-orders-deployment", "eu-west-1-orders-add-status-job"):
        pod = prod.named(name).inputs["spec"]["template"]["spec"]
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, name
        assert pod["automountServiceAccountToken"] is False, name
        (container,) = pod["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        }, name
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
    namespace = prod.named("eu-west-1-namespace").inputs["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def test_service_and_disruption_budget_select_the_paths_pods(prod):
    service = prod.named("eu-west-1-orders-service")
    assert service.inputs["spec"]["selector"] == {"app": "orders"}
    assert service.inputs["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080}]
    budget = prod.named("eu-west-1-orders-pdb")
    assert budget.inputs["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "orders"}},
    }


def test_migration_job_runs_once_per_version_and_fails_the_path_on_failure(prod):
    job = prod.named("eu-west-1-orders-add-status-job")
    spec = job.inputs["spec"]
    assert job.inputs["metadata"]["name"] == job_name(
        "orders-add-status", "registry.example.com/shop/migrate:0042"
    )
    assert spec["backoffLimit"] == 0, job.name
    assert spec["template"]["spec"]["restartPolicy"] == "Never", job.name
    assert containers(job)[0]["envFrom"] == [{"secretRef": {"name": "database-connection"}}]
    assert job.custom_timeouts["create"] == "30m", job.name


def test_a_new_migration_image_is_a_new_job_and_the_same_image_is_not():
    assert job_name("m", "r/migrate:1") == job_name("m", "r/migrate:1")
    assert job_name("m", "r/migrate:1") != job_name("m", "r/migrate:2")


def test_alarms_of_a_path_combine_into_one_composite_alarm_to_the_regions_topic(prod):
    composite = prod.named("eu-west-1-orders-health")
    topic = prod.named("eu-west-1-alarms")
    topic_arn = f"arn:aws:sns:eu-west-1:123456789012:{topic.inputs.get('name', 'eu-west-1-alarms')}"
    assert composite.inputs["alarmActions"] == [topic_arn], composite.name
    assert composite.inputs["okActions"] == [topic_arn], composite.name
    assert composite.inputs["alarmName"] == "prod-orders-eu-west-1-health"
    path_alarms = [
        r
        for r in prod.children_of(composite.parent)
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"
    ]
    assert {a.inputs["name"] for a in path_alarms} == {
        "prod-orders-eu-west-1-stable-restarts",
        "prod-orders-eu-west-1-running-pods",
    }
    for alarm in path_alarms:
        assert f'ALARM("{alarm.inputs["name"]}")' in composite.inputs["alarmRule"], alarm.name
        assert alarm.inputs["dimensions"]["Namespace"] == "app", alarm.name
    running = next(a for a in path_alarms if a.inputs["name"].endswith("running-pods"))
    assert running.inputs["treatMissingData"] == "breaching"


def test_gate_watches_the_previous_waves_composite_alarms_for_the_bake_time(prod):
    gate = prod.named("gate-after-wave-1-watch")
    assert gate.inputs["alarms"] == {
        "us-east-1": [
            f"prod-{service}-us-east-1-health"
            for service in ("auth", "catalog", "orders", "payments", "search")
        ]
    }
    assert gate.inputs["bake_seconds"] == 600


def test_render_mode_writes_manifests_per_stack_and_region(run_stack):
    recording = run_stack(RENDER, stack="local")
    for region in ("us-east-1", "eu-west-1"):
        provider = recording.named(f"{region}-k8s")
        assert provider.inputs["renderYamlToDirectory"] == f"rendered/local/{region}"
    assert not recording.of_type("pulumi:providers:aws"), "render/none modes need no AWS at all"
    assert not [r for r in recording.registrations.values() if r.type.startswith("aws:")]


def test_gate_release_changes_only_when_the_watched_wave_changes(run_stack):
    before = run_stack(RENDER, stack="local").named("gate-after-wave-1-watch").inputs["release"]
    changed = copy.deepcopy(RENDER)
    changed["regions"][1]["overrides"] = {"orders": {"image": "r.example.com/orders:7.4.0"}}
    same = run_stack(changed, stack="local").named("gate-after-wave-1-watch").inputs["release"]
    assert same == before, "a change in wave 2 must not make the gate after wave 1 watch again"
    changed["services"][1]["image"] = "r.example.com/orders:7.5.0"
    after = run_stack(changed, stack="local").named("gate-after-wave-1-watch").inputs["release"]
    assert after != before


def test_region_override_changes_only_that_regions_path(run_stack):
    raw = copy.deepcopy(RENDER)
    raw["regions"][1]["overrides"] = {"orders": {"image": "r.example.com/orders:7.3.9"}}
    recording = run_stack(raw, stack="local")
    images = {
        region: containers(recording.named(f"{region}-orders-deployment"))[0]["image"]
        for region in ("us-east-1", "eu-west-1")
    }
    assert images == {
        "us-east-1": "r.example.com/orders:7.4.1",
        "eu-west-1": "r.example.com/orders:7.3.9",
    }


def test_any_change_to_a_waves_services_makes_its_gate_watch_again(run_stack):
    before = run_stack(RENDER, stack="local").named("gate-after-wave-1-watch").inputs["release"]
    for field, value in [("memory", "512Mi"), ("port", 9090), ("health_path", "/ready")]:
        changed = copy.deepcopy(RENDER)
        changed["services"][0][field] = value
        gate = run_stack(changed, stack="local").named("gate-after-wave-1-watch")
        assert gate.inputs["release"] != before, f"a change of {field} rolls pods: watch it"
