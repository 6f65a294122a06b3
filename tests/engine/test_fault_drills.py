"""Fault drills on real clusters (tests/support/drills.py): an `ops up` killed or interrupted in
the middle of an update, a region's API server stopped under it, its Kubernetes provider killed,
and two writers at once. After each, the operator's next command recovers and the stack is
checked through the API servers and the state: nothing lost, orphaned, duplicated or pending,
history intact, converged, no process of the faulted update left, no secret in plain text.
`make drills` runs this module three times in a row; benchmarks/fault_drills.py times it."""

from __future__ import annotations

import pytest

from tests.support.drills import DRILLS, deploy


@pytest.fixture(scope="module")
def stack(project):
    yield from deploy(project)


@pytest.mark.parametrize("drill", DRILLS)
def test_the_stack_survives(stack, drill):
    outcome = DRILLS[drill](stack)
    assert outcome.survived, "\n".join(outcome.problems)
