"""`python -m ops timeline`: the command (`command`), what happened in a recorded update beside
the plan's prediction (`model`) and its text and picture (`rendering`). The recorded updates'
folder and the `--stack`/`--events` arguments are shared with `ops logs`, `ops calibrate` and
`ops dashboard`."""

from ops.timeline.command import add_common_arguments, add_parser, stack_events_dir

__all__ = ["add_common_arguments", "add_parser", "stack_events_dir"]
