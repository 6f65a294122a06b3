"""`python -m ops preview`: the command (`command`), the preview as deploy paths (`model`), its
Markdown report (`markdown`) and the engine events a report is built from (`engine_events`)."""

from ops.preview.command import add_parser

__all__ = ["add_parser"]
