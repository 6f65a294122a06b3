"""`python -m ops <command>`: each command module adds its own subparser."""

from __future__ import annotations

import argparse
import importlib
import sys

from ops import UserError

COMMANDS = (
    "plan",
    "preview",
    "history",
    "rollback",
    "local",
    "up",
    "release",
    "timeline",
    "logs",
    "calibrate",
    "pipelines",
    "dashboard",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        importlib.import_module(f"ops.{command}").add_parser(subparsers)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
