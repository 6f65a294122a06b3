"""A mandatory policy blocks an update on the real engine before any resource is touched (the
stack renders its manifests, so nothing needs a cluster)."""

from __future__ import annotations

from tests.support.engine import stack_config
from tests.support.sandbox import Sandbox

RENDER = {"mode": "render"}


def test_a_mandatory_policy_blocks_what_the_program_let_through(tmp_path):
    # The configuration refuses `latest` itself, with the same rule as the pack. Here the
    # project copy's rule is broken (it lets every image through), as a program bug would: the
    # pack, which the program cannot switch off, must still stop the update.
    project = Sandbox(tmp_path)
    (project.root / "deploypaths" / "image_pinning.py").write_text(
        "def unpinned_reason(image: str) -> None:\n    return None\n"
    )
    config = stack_config("policed", kubernetes=RENDER, monitoring={"mode": "none"})
    next(s for s in config["services"] if s["name"] == "catalog")["image"] = (
        "registry.example.com/shop/catalog:latest"
    )
    project.write_config("policed", config)
    project.pulumi("stack", "init", "policed")
    policy = ["--policy-pack", str(project.policy_pack)]
    policy += ["--policy-pack-config", str(project.policy_pack / "config" / "prod.json")]
    # `pulumi up --yes` previews first, as the deploy pipeline runs it: the violation found in
    # the preview stops the update before any resource is touched.
    result = project.pulumi("up", "--stack", "policed", "--yes", *policy, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "container-images-pinned" in output and "mandatory" in output, output
    assert "catalog:latest" in output, output
    assert not project.rendered("policed"), "nothing is deployed when a mandatory policy fails"
