"""CODEOWNERS for the per-service layout: each service's release file and each migration's files
owned by their approvers, so a change to them needs their review (GitHub: `.github/CODEOWNERS`,
GitLab: `.gitlab/CODEOWNERS`)."""

from __future__ import annotations

from collections.abc import Iterable

from deploypaths.config.settings import Owner
from ops.pipelines.flow import PipelineSet
from ops.pipelines.services import migration_folder, release_file
from ops.pipelines.text import header

PATHS = {"github": ".github/CODEOWNERS", "gitlab": ".gitlab/CODEOWNERS"}
ABOUT = (
    "Each service's release file and each migration's folder, owned by the approvers of its "
    "`owner` (the union over the environments listed). A later line wins over an earlier one "
    "for the same path; an entry without approvers is a comment that says so, and the path "
    "then has no code owner."
)


def merged(owners: Iterable[Owner | None]) -> Owner | None:
    """One owner for a path across environments: the first team, every approver once."""
    found = [owner for owner in owners if owner is not None]
    if not found:
        return None
    approvers: list[str] = []
    for owner in found:
        approvers += [a for a in owner.approvers if a not in approvers]
    return Owner(team=found[0].team, approvers=tuple(approvers))


def entry(path: str, owner: Owner | None) -> str:
    if owner is None:
        return f"# /{path} has no approvers: no owner is configured\n"
    if not owner.approvers:
        return f"# /{path} has no approvers: owner team {owner.team} names none\n"
    return f"/{path} {' '.join(owner.approvers)}\n"


def render(pipelines: PipelineSet, ci: str) -> str:
    environments = pipelines.environments
    services: dict[str, list[Owner | None]] = {}
    migrations: dict[str, list[Owner | None]] = {}
    for environment in environments:
        for service in environment.services:
            services.setdefault(service.name, []).append(service.owner)
        for migration in environment.migrations:
            migrations.setdefault(migration.name, []).append(migration.owner)
    names = ", ".join(e.name for e in environments)
    return "".join(
        [
            header(pipelines, ci, (ABOUT, f"Environments: {names}.")),
            "\n# Release files\n",
            *(entry(release_file(name), merged(o)) for name, o in services.items()),
            "\n# Migrations\n",
            *(entry(migration_folder(name), merged(o)) for name, o in migrations.items()),
        ]
    )
