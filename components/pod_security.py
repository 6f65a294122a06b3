"""What every pod of the program runs with, so a `restricted` namespace admits it and checkov's
Kubernetes checks pass but for the findings a workload keeps on purpose, each with its reason."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The Pod Security Standard every namespace of the program enforces.
NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
# A read-only root filesystem still needs somewhere to write temporary files.
SCRATCH_VOLUME = {"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}
SCRATCH_MOUNT = {"name": "tmp", "mount_path": "/tmp"}
# Above the range of a node's own accounts (below 10000): a process that escapes its container
# is no user of the host. The images' own USER is replaced, so they must not need it to own
# files they write (their root filesystem is read-only; /tmp is an emptyDir).
RUN_AS = 10001
# The kubelet asks the registry on every pod start, even with the image cached on the node, so
# a pod may only run an image its namespace is allowed to pull. The price: while the registry is
# unreachable no new pod starts.
IMAGE_PULL_POLICY = "Always"
# checkov reads a workload's skips from its annotations (`checkov.io/skip<n>: <check>=<reason>`);
# it splits the value at "=", so a reason has none.
SKIP_ANNOTATION = "checkov.io/skip"
IMAGE_DIGEST_CHECK = "CKV_K8S_43"
SECRETS_AS_FILES_CHECK = "CKV_K8S_35"


def pod_security_context() -> dict[str, Any]:
    return {
        "run_as_non_root": True,
        "run_as_user": RUN_AS,
        "run_as_group": RUN_AS,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def container_security_context(*, read_only_root_filesystem: bool = True) -> dict[str, Any]:
    return {
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "read_only_root_filesystem": read_only_root_filesystem,
        "run_as_non_root": True,
    }


def accepted_findings(*, images: Iterable[str], secret_env: bool) -> dict[str, str]:
    """The skip annotations of a workload running these images, with or without the database
    Secret as environment variables: the checks it fails on purpose, each with its reason."""
    skips = []
    if any("@" not in image for image in images):
        skips.append(
            f"{IMAGE_DIGEST_CHECK}=the config pins an image by a version tag or a digest "
            "(deploypaths.image_pinning), and the policy pack refuses mutable tags"
        )
    if secret_env:
        skips.append(
            f"{SECRETS_AS_FILES_CHECK}=the services and migrations read their database "
            "connection from the libpq PG* variables or DATABASE_URL"
        )
    return {f"{SKIP_ANNOTATION}{index}": skip for index, skip in enumerate(skips, 1)}
