"""Where a profiled registration spends its time: `python -m benchmarks.profile_summary A.prof ...`.

Splits each profile's own time (tottime) by where the code lives, so a program profile can be set
beside its floor and replay profiles written by `benchmarks.registration --profile DIR`.
"""

from __future__ import annotations

import pstats
import sys
from collections import Counter

# First match wins: (bucket, substrings of the code's file path or function name).
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "mocks and recording (deploypaths/mock_run, pulumi mocks)",
        ("/deploypaths/mock_run", "/deploypaths/recording", "pulumi/runtime/mocks"),
    ),
    ("program code (components/, __main__, deploypaths/)", ("/components/", "/deploypaths/")),
    ("provider SDKs (pulumi_aws, pulumi_kubernetes)", ("pulumi_aws/", "pulumi_kubernetes/")),
    ("cycle breaker and depends_on", ("resource_cycle_breaker", "_depends_on.py")),
    (
        "stack traces for source positions",
        ("traceback.py", "linecache.py", "pathlib.py", "_get_stack_trace", "rpc_frame"),
    ),
    ("Output objects", ("pulumi/output.py",)),
    ("property (de)serialization", ("pulumi/runtime/rpc.py", "google/protobuf")),
    ("type metadata", ("pulumi/_types.py", "typing.py", "pulumi/_utils.py")),
    ("resource registration", ("pulumi/resource.py", "pulumi/runtime/resource.py")),
    ("asyncio and threads", ("asyncio/", "concurrent/futures", "threading.py", "contextvars")),
    ("dynamic providers (dill)", ("dill/", "pulumi/dynamic", "pickle")),
)
OTHER = "other"


def bucket_of(filename: str, function: str) -> str:
    if filename.endswith("/__main__.py") and "site-packages" not in filename:
        return BUCKETS[1][0]
    for bucket, needles in BUCKETS:
        if any(needle in filename or needle == function for needle in needles):
            return bucket
    return OTHER


def summarize(path: str) -> tuple[float, Counter[str]]:
    stats = pstats.Stats(path)
    buckets = Counter[str]()
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        buckets[bucket_of(filename, function)] += row[2]
    return stats.total_tt, buckets  # type: ignore[attr-defined]


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    summaries = {path: summarize(path) for path in paths}
    names = [bucket for bucket, _ in BUCKETS] + [OTHER]
    width = max(len(name) for name in names)
    print(f"{'':<{width}} " + " ".join(f"{p.rsplit('/', 1)[-1][-24:]:>24}" for p in paths))
    for name in names:
        cells = [
            f"{buckets[name]:>15.2f}s {100 * buckets[name] / total:>5.1f}%"
            for total, buckets in summaries.values()
        ]
        print(f"{name:<{width}} " + " ".join(cells))
    print(f"{'total':<{width}} " + " ".join(f"{t:>23.2f}s" for t, _ in summaries.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
