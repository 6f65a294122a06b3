"""The shapes config strings must have: names, image references, AWS and Kubernetes values."""

from __future__ import annotations

import re

# Every pattern is ASCII-only: `\d` and `\w` would also accept Arabic-Indic digits and the like,
# which Kubernetes and AWS then reject at deploy time, half-way through a rollout.
# Kubernetes object names: RFC 1123 labels. Names become `{name}-{region}` component names and
# `{migration}-{hash}` Job names, so they stay well under the 63-character limit.
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 40
DNS_NAME_ALLOWED = (
    f"allowed: a DNS-1123 label (lowercase letters, digits, '-', at most {MAX_NAME_LENGTH})"
)
FLAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
FLAG_NAME_ALLOWED = "allowed: a flag name (a letter, then letters, digits, '_' or '-'; at most 64)"
IMAGE_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9]+(?:[._/:-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
# Registries cap a repository at 255 characters; with a tag and a digest no reference is longer.
# Checked before the regex, whose backtracking over `:` would otherwise grow with the length.
MAX_IMAGE_LENGTH = 512
# The owner becomes an AWS tag value: letters, digits, spaces and `_ . : / = + - @`, <= 256.
TAG_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+@-]{1,256}")
INSTANCE_TYPE = re.compile(r"[a-z0-9-]{1,24}\.[a-z0-9]{1,24}")
DB_INSTANCE_CLASS = re.compile(r"db\.[a-z0-9-]{1,24}\.[a-z0-9]{1,24}")
QUANTITY = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?(m|k|M|G|T|Ki|Mi|Gi|Ti)?")
HEALTH_PATH = re.compile(r"/[-A-Za-z0-9_./]{0,200}")
# A folder inside the project: relative, no `..` steps.
RELATIVE_DIR = re.compile(r"(?!/)(?!.*(^|/)\.\.(/|$))[-A-Za-z0-9_./]{1,200}")
