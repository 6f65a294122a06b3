"""Region stacks on disk: `<env>-<region>` runs on the environment's own stack file.

The engine reads a stack's config from `Pulumi.<stack>.yaml`, so before any command works on a
region stack its file is regenerated from `Pulumi.<env>.yaml`, byte for byte (secure values and
the secrets provider's salt or key included, so they decrypt the same way) under a header that
says so. These files are generated and git-ignored: the environment's file stays the one to edit.
"""

from __future__ import annotations

from pathlib import Path

from deploypaths import layout
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values

GENERATED_HEADER = (
    "# Generated from Pulumi.{environment}.yaml by `python -m ops` for the region stack {stack}\n"
    "# (see docs/region-stacks.md): edit Pulumi.{environment}.yaml, never this file.\n"
)


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def environment_of(stack: str, project_dir: Path) -> str | None:
    """The environment a region stack belongs to: `prod` for `prod-eu-west-1` when
    `Pulumi.prod.yaml` lists eu-west-1 among its regions; None for any other stack."""
    for index, character in enumerate(stack):
        if character != "-" or index == 0:
            continue
        environment = stack[:index]
        path = stack_file(project_dir, environment)
        if not path.is_file():
            continue
        try:
            raw = namespace_values(load_stack_file(path, project_dir))
        except StackFileError:
            continue
        if layout.of_stack(stack, raw).environment_stack == environment:
            return environment
    return None


def sync_stack_file(stack: str, project_dir: Path) -> str | None:
    """Regenerate a region stack's file from its environment's; returns the environment (None,
    and nothing written, for a stack that is not a region stack)."""
    environment = environment_of(stack, project_dir)
    if environment is None:
        return None
    source = stack_file(project_dir, environment).read_text()
    header = GENERATED_HEADER.format(environment=environment, stack=stack)
    target = stack_file(project_dir, stack)
    if not target.is_file() or target.read_text() != header + source:
        target.write_text(header + source)
    return environment
