"""What every pod of the program runs with, so a `restricted` namespace admits it."""

from __future__ import annotations

from typing import Any

# The Pod Security Standard every namespace of the program enforces.
NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
# A read-only root filesystem still needs somewhere to write temporary files.
SCRATCH_VOLUME = {"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}
SCRATCH_MOUNT = {"name": "tmp", "mount_path": "/tmp"}


def pod_security_context() -> dict[str, Any]:
    return {"run_as_non_root": True, "seccomp_profile": {"type": "RuntimeDefault"}}


def container_security_context(*, read_only_root_filesystem: bool = True) -> dict[str, Any]:
    return {
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "read_only_root_filesystem": read_only_root_filesystem,
        "run_as_non_root": True,
    }
