"""What a release sets on a service: the image, and how it rolls out (canary, blue-green,
feature flags)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deploypaths.settings import BlueGreen, Canary, Flag, Service
from deploypaths.validation._reader import _is_int, _Problems, _range, _Reader
from deploypaths.validation._shown import _join
from deploypaths.validation.patterns import (
    FLAG_NAME,
    FLAG_NAME_ALLOWED,
    IMAGE_REFERENCE,
    MAX_IMAGE_LENGTH,
)


def image_problem(image: str, environment: str) -> str | None:
    """Why an image reference cannot be deployed, or None when it is pinned well enough."""
    if not isinstance(image, str) or len(image) > MAX_IMAGE_LENGTH:
        match = None
    else:
        match = IMAGE_REFERENCE.fullmatch(image)
    if not match:
        return "allowed: an image reference like registry.example.com/team/app:1.2.3 or @sha256:..."
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    tag = last.split(":", 1)[1] if ":" in last else None
    if tag is None and not match.group("digest"):
        return "allowed: an image pinned by tag or digest (this one has neither)"
    if tag == "latest" and not match.group("digest") and environment == "prod":
        return "allowed: a pinned tag or digest; 'latest' is refused for prod"
    return None


def _image(problems: _Problems, key: str, image: Any, environment: str) -> str | None:
    if not isinstance(image, str):
        problems.add(key, image, "allowed: an image reference (string)")
        return None
    why = image_problem(image, environment)
    if why:
        problems.add(key, image, why)
        return None
    return image


def _canary(problems: _Problems, key: str, data: Any, environment: str) -> Canary | None:
    reader = _Reader(problems, key, data, ("image", "weight"))
    image = reader.required("image", lambda v: isinstance(v, str), "an image reference")
    weight = reader.required("weight", lambda v: _is_int(v) and 0 <= v <= 100, _range(0, 100))
    image = _image(problems, f"{key}.image", image, environment) if image is not None else None
    return Canary(image=image, weight=weight) if image is not None and weight is not None else None


def _blue_green(problems: _Problems, key: str, data: Any, environment: str) -> BlueGreen | None:
    reader = _Reader(problems, key, data, ("active", "blue", "green"))
    active = reader.required("active", lambda v: v in ("blue", "green"), "blue | green")
    colours: dict[str, tuple[str | None, int | None]] = {}
    for colour in ("blue", "green"):
        if not reader.present(colour):
            if not reader.wrong_kind:
                problems.note(f"{key}.{colour}", "is required (a mapping with an image)")
            continue
        colour_reader = _Reader(
            problems, f"{key}.{colour}", reader.data[colour], ("image", "replicas")
        )
        image = colour_reader.required("image", lambda v: isinstance(v, str), "an image reference")
        if image is not None:
            image = _image(problems, f"{key}.{colour}.image", image, environment)
        replicas = colour_reader.get(
            "replicas", lambda v: _is_int(v) and 0 <= v <= 1000, _range(0, 1000), None
        )
        colours[colour] = (image, replicas)
    blue, green = colours.get("blue", (None, None)), colours.get("green", (None, None))
    if active is not None and colours.get(active, (None, None))[1] == 0:
        problems.add(
            f"{key}.{active}.replicas",
            0,
            "allowed: at least 1 for the active colour (the Service would select no pod)",
        )
        return None
    if active is None or blue[0] is None or green[0] is None:
        return None
    return BlueGreen(
        active=active,
        blue_image=blue[0],
        green_image=green[0],
        blue_replicas=blue[1],
        green_replicas=green[1],
    )


def _flags(problems: _Problems, key: str, data: Any) -> tuple[Flag, ...]:
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        problems.add(key, data, "allowed: a mapping of flag name to {enabled, rollout_percent}")
        return ()
    flags = []
    for name, value in data.items():
        flag_key = _join(key, name)
        if not isinstance(name, str) or not FLAG_NAME.fullmatch(name):
            problems.add(flag_key, name, FLAG_NAME_ALLOWED)
            continue
        reader = _Reader(problems, flag_key, value, ("enabled", "rollout_percent"))
        enabled = reader.required("enabled", lambda v: isinstance(v, bool), "true | false")
        percent = reader.integer("rollout_percent", 0, 100, 100)
        if enabled is not None:
            flags.append(Flag(name=name, enabled=enabled, rollout_percent=percent))
    return tuple(flags)


def _release_fields(
    problems: _Problems, reader: _Reader, environment: str, defaults: Service | None
) -> dict[str, Any]:
    """The fields a release changes (and a region may override): image, replicas, strategy,
    canary, blue_green.
    In an override (`defaults` given) a field left unset or null keeps the service's value."""
    key = reader.key
    values: dict[str, Any] = {}
    if reader.present("image") or defaults is None:
        image = reader.required("image", lambda v: isinstance(v, str), "an image reference")
        if image is not None and _image(problems, f"{key}.image", image, environment):
            values["image"] = image
    if reader.present("replicas"):
        values["replicas"] = reader.integer("replicas", 1, 1000, 2)
    strategy = reader.choice(
        "strategy",
        ("rolling", "canary", "blue-green"),
        defaults.strategy if defaults else "rolling",
    )
    if reader.present("strategy"):
        values["strategy"] = strategy
    if reader.present("canary"):
        values["canary"] = _canary(problems, f"{key}.canary", reader.data["canary"], environment)
    if reader.present("blue_green"):
        values["blue_green"] = _blue_green(
            problems, f"{key}.blue_green", reader.data["blue_green"], environment
        )
    canary = values.get("canary", defaults.canary if defaults else None)
    blue_green = values.get("blue_green", defaults.blue_green if defaults else None)
    if strategy == "canary" and canary is None and not reader.present("canary"):
        problems.note(f"{key}.canary", "is required when strategy is canary ({image, weight})")
    if strategy == "blue-green" and blue_green is None and not reader.present("blue_green"):
        problems.note(
            f"{key}.blue_green", "is required when strategy is blue-green ({active, blue, green})"
        )
    return values
