"""Engine events (`pulumi.automation.EngineEvent`, as `Stack.preview(on_event=...)` hands them
over) folded into the document `pulumi preview --json` prints, plus the policy violations that
document leaves out, for `ops.preview.model.analyse`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _state(metadata: Any) -> dict[str, Any] | None:
    if metadata is None:
        return None
    return {
        "urn": metadata.urn,
        "type": metadata.type,
        "parent": metadata.parent,
        "protect": bool(metadata.protect),
        "inputs": metadata.inputs or {},
    }


def digest_from_events(events: Iterable[Any]) -> dict[str, Any]:
    """Engine events (`pulumi.automation.EngineEvent`, as `Stack.preview(on_event=...)` hands
    them over) folded into the shape of `pulumi preview --json`, plus `policyViolations`."""
    digest: dict[str, Any] = {
        "config": {},
        "steps": [],
        "diagnostics": [],
        "policyViolations": [],
        "changeSummary": {},
    }
    for event in events:
        if event.prelude_event is not None:
            digest["config"] = dict(event.prelude_event.config or {})
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            digest["steps"].append(
                {
                    "op": getattr(meta.op, "value", meta.op),
                    "urn": meta.urn,
                    "provider": meta.provider,
                    "oldState": _state(meta.old),
                    "newState": _state(meta.new),
                    "diffReasons": list(meta.diffs or []),
                    "replaceReasons": list(meta.keys or []),
                    "detailedDiff": {
                        path: {
                            "kind": getattr(diff.diff_kind, "value", diff.diff_kind),
                            "inputDiff": diff.input_diff,
                        }
                        for path, diff in (meta.detailed_diff or {}).items()
                    },
                }
            )
        diagnostic = event.diagnostic_event
        if diagnostic is not None and not diagnostic.ephemeral and diagnostic.severity != "debug":
            digest["diagnostics"].append(
                {
                    "urn": diagnostic.urn or "",
                    "prefix": diagnostic.prefix or "",
                    "message": diagnostic.message,
                    "severity": diagnostic.severity,
                }
            )
        policy = event.policy_event
        if policy is not None:
            digest["policyViolations"].append(
                {
                    "resourceUrn": policy.resource_urn or "",
                    "policyName": policy.policy_name,
                    "policyPackName": policy.policy_pack_name,
                    "enforcementLevel": policy.enforcement_level,
                    "message": policy.message,
                }
            )
        if event.summary_event is not None:
            digest["changeSummary"] = dict(event.summary_event.resource_changes or {})
    return digest
