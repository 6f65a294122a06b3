"""Serves the deploypaths policy pack to the engine (`pulumi preview --policy-pack policy`).

The engine runs `python -m pulumi.policy <engine> .` in this directory, which puts only this
directory on sys.path; the repository root is added so that the pack imports as
`policy.guardrails` (its one name, in tests too) and shares `deploypaths.image_pinning` with the
configuration's validation.
"""

import sys
from pathlib import Path

REPOSITORY = str(Path(__file__).resolve().parent.parent)
if REPOSITORY not in sys.path:
    # Appended, not prepended: nothing in the repository may shadow an installed package.
    sys.path.append(REPOSITORY)

from pulumi_policy import PolicyPack  # noqa: E402

from policy.guardrails.pack import DEFAULT_ENFORCEMENT, PACK_NAME, build_policies  # noqa: E402

# PolicyPack starts the analyzer's gRPC server and blocks until the engine stops it.
PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=DEFAULT_ENFORCEMENT)
