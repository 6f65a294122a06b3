"""When an image reference is pinned: one rule for the configuration and the policy pack.

A release must name exactly what runs, so a reference is pinned by a digest, or by a tag other
than the mutable `latest`, in every environment: a stack that validates is one the policy pack
lets through.
"""

from __future__ import annotations

import re

# The OCI distribution spec's digest grammar: algorithm ":" encoded.
DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
HOW_TO_PIN = "pin a version tag (app:1.4.2) or a digest (app@sha256:...)"


def unpinned_reason(image: str) -> str | None:
    """Why an image reference is not pinned (`has no tag or digest`), or None when it is."""
    if not image.strip():
        return "is empty"
    if "@" in image:
        # The digest decides what is pulled, whatever tag precedes it.
        digest = image.rsplit("@", 1)[1]
        return None if DIGEST.fullmatch(digest) else f'has a malformed digest "{digest}"'
    # A colon before the last slash belongs to the registry's port (`registry:5000/app`).
    last_segment = image.rsplit("/", 1)[-1]
    if ":" not in last_segment:
        return "has no tag or digest"
    tag = last_segment.rsplit(":", 1)[1]
    if not TAG.fullmatch(tag):
        return f'has an invalid tag "{tag}"'
    if tag.lower() == "latest":
        return 'uses the mutable tag "latest"'
    return None
