"""`python -m ops rollback`: the command (`command`) and its decisions, pure (`decision`)."""

from ops.rollback.command import add_parser

__all__ = ["add_parser"]
