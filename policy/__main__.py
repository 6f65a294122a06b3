"""Serves the deploypaths policy pack to the engine (`pulumi preview --policy-pack policy`).

The engine runs `python -m pulumi.policy <engine> .` in this directory, which puts this directory
first on sys.path: hence `guardrails` and not `policy.guardrails`.
"""

from guardrails.pack import DEFAULT_ENFORCEMENT, PACK_NAME, build_policies
from pulumi_policy import PolicyPack

# PolicyPack starts the analyzer's gRPC server and blocks until the engine stops it.
PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=DEFAULT_ENFORCEMENT)
