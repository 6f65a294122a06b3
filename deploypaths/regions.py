"""AWS region codes, from the endpoint data botocore ships (no network needed)."""

import json
from importlib.util import find_spec
from pathlib import Path


def _eks_regions() -> frozenset[str]:
    # The file boto3's Session().get_available_regions("eks") reads, read without importing boto3
    # and botocore: every preview and update imports this module, and they cost it 0.15 s.
    spec = find_spec("botocore")
    assert spec is not None and spec.origin is not None, "botocore is a pinned dependency"
    endpoints = json.loads((Path(spec.origin).parent / "data" / "endpoints.json").read_text())
    aws = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    return frozenset(set(aws["services"]["eks"]["endpoints"]) & set(aws["regions"]))


KNOWN_REGIONS = _eks_regions()
