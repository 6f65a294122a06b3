"""Operator commands: `python -m ops plan|preview|history|rollback|up|timeline|calibrate|local|
pipelines`."""


class UserError(Exception):
    """A mistake the operator can fix; printed as a message, never as a traceback."""
