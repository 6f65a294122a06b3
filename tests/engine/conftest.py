"""The real Pulumi engine (built by scripts/install-engine) on copies of the project, deploying to
local clusters (`ops local up`) that the tests read back through their API servers."""

from __future__ import annotations

import pytest

from ops import UserError
from tests.support.sandbox import Sandbox


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Sandbox:
    try:
        return Sandbox(tmp_path_factory.mktemp("project"))
    except UserError as error:
        pytest.fail(str(error), pytrace=False)
