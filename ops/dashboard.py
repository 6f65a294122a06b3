"""`python -m ops dashboard --stack S [--port N] [--update N]`: a page, on 127.0.0.1 only, with
the live Gantt of the stack's update: the plan's bars with the actual bars growing over them,
each path's state and its last message, the gates between waves. It follows every `ops up` of
the stack while it runs (server-sent events from the events `ops up` records) and shows the
newest recorded update otherwise; `?update=N` (or `--update N`) shows any recorded one, with the
paths it changed as `ops history` says. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import errno
import socket

import uvicorn

from ops import UserError
from ops.live.dashboard import Source, backend_summaries, create_app
from ops.plan import load_latency
from ops.timeline import stack_events_dir

HOST = "127.0.0.1"
DEFAULT_PORT = 8419
# Open streams are cut this long after Ctrl-C instead of being waited for.
SHUTDOWN_SECONDS = 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve a page with the live Gantt of a stack's updates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free one)",
    )
    parser.add_argument(
        "--update",
        metavar="N",
        help="open on this recorded update (or a cut-short one's N-interrupted-PID)",
    )
    parser.add_argument(
        "--events",
        metavar="DIR",
        help="folder of the stack's recorded updates (default: beside its state)",
    )
    parser.add_argument(
        "--latency", help="latency file the planned bars are drawn with (as `ops plan --latency`)"
    )
    parser.set_defaults(func=run)


def listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:`port`, or a UserError that says why not."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: a port is 0 to 65535")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {HOST} is in use: pick another with --port N (0: any free one)"
            ) from None
        raise UserError(f"cannot listen on {HOST}:{port}: {error.strerror}") from None
    sock.listen(128)
    return sock


def run(args: argparse.Namespace) -> int:
    source = Source(
        args.stack,
        stack_events_dir(args.stack, args.events),
        model=load_latency(args.latency),
        summaries=lambda: backend_summaries(args.stack),
    )
    source.check(args.update)
    sock = listen(args.port)
    port = sock.getsockname()[1]
    query = f"?update={args.update}" if args.update else ""
    print(f"dashboard of stack {args.stack}: http://{HOST}:{port}/{query}", flush=True)
    config = uvicorn.Config(
        create_app(source),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn has shut down and passes the Ctrl-C on: stopping is what it asked
    finally:
        sock.close()
    return 0
