"""Secrets on the real engine: a database URL set as secret config never reaches the rendered
manifests (upstream provider, render mode), the state file or the command's output in plain
text."""

from __future__ import annotations

from tests.support.engine import stack_config

SECRET = "postgres://app:pa55-s3cr3t-value@db.internal:5432/app"


def test_secret_config_stays_secret_in_manifests_state_and_output(project):
    config = stack_config("secrets", kubernetes={"mode": "render"}, monitoring={"mode": "none"})
    config["regions"] = [{"name": "us-east-1"}]
    config["waves"] = [["us-east-1"]]
    config["database"] = {"mode": "external"}
    project.write_config("secrets", config)
    project.pulumi("stack", "init", "secrets")
    project.pulumi(
        "config",
        "set",
        "--stack",
        "secrets",
        "--secret",
        "--path",
        "deploypaths:database_urls.us-east-1",
        SECRET,
    )
    assert SECRET not in project.stack_file("secrets").read_text()
    result = project.pulumi("up", "--stack", "secrets", "--yes", "--skip-preview")
    assert SECRET not in result.stdout + result.stderr
    rendered = project.rendered("secrets")
    # The upstream provider would render Secret data as base64: the Secret is not rendered,
    # and the workloads name it for whoever applies the manifests to provide.
    assert not [name for name in rendered if name.startswith("us-east-1/1-manifest/v1-secret-")]
    auth = rendered["us-east-1/1-manifest/apps_v1-deployment-app-auth.yaml"]
    assert "name: database-connection" in auth
    assert not [name for name, text in rendered.items() if "s3cr3t" in text]
    state = "".join(p.read_text() for p in (project.root / ".state").rglob("*.json"))
    assert "s3cr3t" not in state, "the state holds the URL in plain text"
    exported = project.pulumi("stack", "export", "--stack", "secrets").stdout
    assert "s3cr3t" not in exported
