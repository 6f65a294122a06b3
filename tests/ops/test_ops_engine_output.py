"""`ops up` shows the engine's output without the SDK's traceback for a held resource."""

from __future__ import annotations

from ops.engine_output import WithoutHeldTracebacks, without_held_failures

HELD = """Diagnostics:
  pulumi:pulumi:Stack (deploypaths-paths):
    error: Program failed with an unhandled exception:
    Traceback (most recent call last):
      File "/engine/bin/pulumi-language-python-exec", line 232, in <module>
        loop.run_until_complete(coro)
               ^^^^^^^^^^^^^^^^^^^^^^
    pulumi.runtime.stack.ResourceRegistrationFailed: resource auth-us-east-1-deployment failed

  kubernetes:apps/v1:Deployment (auth-us-east-1-deployment):
    error: 1 error occurred:"""

CRASH = """    error: Program failed with an unhandled exception:
    Traceback (most recent call last):
      File "__main__.py", line 3, in <module>
    KeyError: 'regions'
done"""


def shown(text: str) -> list[str]:
    lines: list[str] = []
    printer = WithoutHeldTracebacks(lines.append)
    for line in text.splitlines():
        printer(line)
    printer.flush()
    return lines


def test_a_held_resources_traceback_is_dropped_and_the_rest_kept():
    lines = shown(HELD)
    assert not [line for line in lines if "Traceback" in line or "unhandled" in line], lines
    assert lines[0] == "Diagnostics:"
    assert "  kubernetes:apps/v1:Deployment (auth-us-east-1-deployment):" in lines
    assert lines[-1] == "    error: 1 error occurred:"


def test_any_other_traceback_is_shown_whole():
    assert shown(CRASH) == CRASH.splitlines()


def test_an_engine_failures_message_loses_the_held_traceback_too():
    assert "Traceback" not in without_held_failures(HELD)
    assert without_held_failures(CRASH) == CRASH
