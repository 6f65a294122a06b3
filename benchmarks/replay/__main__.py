"""The payload floor: the program's registrations replayed with no logic.

Every resource the measured program registered, with its type, its inputs as they reached the
engine and its dependencies (as depends_on), but parented to the stack, with no provider, no
typed arguments, no Outputs and no components around it: what the SDK and the mocks cost for
this exact graph and payload.
"""

import json
from pathlib import Path

import pulumi

config = pulumi.Config("replay")
entries = json.loads(Path(config.require("file")).read_text())
registered: list[pulumi.Resource] = []
for index, entry in enumerate(entries):
    depends_on = [registered[d] for d in entry["dependencies"]]
    opts = pulumi.ResourceOptions(depends_on=depends_on) if depends_on else None
    if entry["custom"]:
        registered.append(
            pulumi.CustomResource(entry["type"], f"replay-{index}", entry["inputs"], opts)
        )
    else:
        registered.append(pulumi.ComponentResource(entry["type"], f"replay-{index}", None, opts))
