"""Stack config as the engine hands it to a program."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def flat(raw: Mapping[str, Any]) -> dict[str, str]:
    """`{"regions": [...]}` -> the flat, string-valued config the engine hands a program."""
    return {
        f"deploypaths:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in raw.items()
    }
