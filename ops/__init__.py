"""Operator commands: `python -m ops plan|preview|history|rollback|up|timeline|calibrate|local|
pipelines`."""

from pathlib import Path


class UserError(Exception):
    """A mistake the operator can fix; printed as a message, never as a traceback."""


def write_output(path: Path, text: str) -> None:
    """Write a file the operator named or left at its default (`--picture`, `--out`,
    `--markdown`), its folder made first; a path that cannot be written (a folder, a file
    where a folder must be, no permission) is their mistake, said in one line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
