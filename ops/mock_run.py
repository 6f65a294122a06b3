"""Moved to `deploypaths.mock_run` (and `deploypaths.recording`); kept only until the tests that
still import it from here (tests/conftest.py, tests/test_components.py) import it from there."""

from deploypaths.mock_run import MOCK_DATABASE_PASSWORD, PROJECT_DIR, run_program
from deploypaths.recording import Recording, Registration

__all__ = ["MOCK_DATABASE_PASSWORD", "PROJECT_DIR", "Recording", "Registration", "run_program"]
