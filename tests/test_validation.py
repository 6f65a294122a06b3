"""Stack config validation: each rule's exact message, every problem at once, the real stack
files, and a bad config run through the whole program registering nothing."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from deploypaths.config.references import down_problem
from deploypaths.config.settings import DOWN_PHASES, MigrationDown, Settings
from deploypaths.mock_run import PROJECT_DIR
from deploypaths.stack_config import load_stack_file, namespace_values
from deploypaths.validation import KNOWN_KEYS, ConfigError, find_cycle, parse_settings
from tests.support.refusal import assert_refused_with_nothing_registered, run_and_record

EXPAND = "registry.example.com/shop/migrate:0042"
CONTRACT = "registry.example.com/shop/migrate:0043"
AUTH = "registry.example.com/shop/auth:3.2.0"
ORDERS = "registry.example.com/shop/orders:7.4.1"
DIGEST = "sha256:" + "ab" * 32
DNS_LABEL = "allowed: a DNS-1123 label (lowercase letters, digits, '-', at most 40)"
SERVICE_KEYS = (
    "name, image, replicas, port, regions, requires, after, callers, strategy, canary, blue_green, "
    "flags, cpu, memory, health_path, read_only_root_filesystem, service_account_token, verify, "
    "owner"
)
VERIFY = "registry.example.com/shop/orders-smoke:7.4.1"
DOWN = "registry.example.com/shop/migrate:0042-down"
IMAGE_REFERENCE = (
    "allowed: an image reference like registry.example.com/team/app:1.2.3 or @sha256:..."
)
DELETE = object()


def valid_config() -> dict[str, Any]:
    """The smallest config that touches every cross-reference: two regions, an expand and a
    contract migration, and a service that requires one and waits for the other service."""
    return {
        "regions": [{"name": "us-east-1"}, {"name": "eu-west-1"}],
        "migrations": [
            {"name": "orders-add-status", "image": EXPAND, "phase": "expand"},
            {"name": "orders-drop-legacy", "image": CONTRACT, "phase": "contract"},
        ],
        "services": [
            {"name": "auth", "image": AUTH},
            {
                "name": "orders",
                "image": ORDERS,
                "requires": ["orders-add-status"],
                "after": ["auth"],
            },
        ],
    }


def changed(*changes: tuple[tuple[Any, ...], Any]) -> dict[str, Any]:
    """valid_config() with each `(path, value)` set (removed for DELETE, appended for the index
    just past a list's end)."""
    config = valid_config()
    for path, value in changes:
        parent = config
        for step in path[:-1]:
            parent = parent[step]
        if value is DELETE:
            del parent[path[-1]]
        elif isinstance(parent, list) and path[-1] == len(parent):
            parent.append(copy.deepcopy(value))
        else:
            parent[path[-1]] = copy.deepcopy(value)
    return config


def problems_of(raw: Any, stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack=stack)
    return caught.value.problems


def test_the_valid_config_validates() -> None:
    settings = parse_settings(valid_config(), stack="dev")

    assert settings.region_names == ("us-east-1", "eu-west-1")
    assert settings.waves == (("us-east-1", "eu-west-1"),)
    assert [s.name for s in settings.services] == ["auth", "orders"]
    assert settings.services[1].regions == ("us-east-1", "eu-west-1")


# One case per rule: (changes to valid_config(), the exact problems).
RULES: dict[str, tuple[list[tuple[tuple[Any, ...], Any]], list[str]]] = {
    "unknown region code": (
        [(("regions", 1, "name"), "eu-middle-9")],
        ["regions[1].name: got 'eu-middle-9'; allowed: a known AWS region code such as us-east-1"],
    ),
    "region code of the wrong type": (
        [(("regions", 1, "name"), 42)],
        ["regions[1].name: got 42; allowed: an AWS region code"],
    ),
    "region without a name": (
        [(("regions", 1), {})],
        ["regions[1].name: is required (an AWS region code)"],
    ),
    "duplicate region": (
        [(("regions", 1, "name"), "us-east-1")],
        ["regions[1].name: got 'us-east-1'; allowed: a unique name; regions[0] already has it"],
    ),
    "duplicate service": (
        [(("services", 1), {"name": "auth", "image": ORDERS})],
        ["services[1].name: got 'auth'; allowed: a unique name; services[0] already has it"],
    ),
    "duplicate migration": (
        [
            (
                ("migrations",),
                [
                    {"name": "orders-add-status", "image": EXPAND, "phase": "expand"},
                    {"name": "orders-add-status", "image": EXPAND, "phase": "expand"},
                ],
            )
        ],
        [
            "migrations[1].name: got 'orders-add-status'; allowed: a unique name; "
            "migrations[0] already has it"
        ],
    ),
    "service name not DNS-1123": (
        [(("services", 1, "name"), "Orders_API")],
        [f"services[1].name: got 'Orders_API'; {DNS_LABEL}"],
    ),
    "service name too long": (
        [(("services", 1, "name"), "o" * 41)],
        [f"services[1].name: got '{'o' * 41}'; {DNS_LABEL}"],
    ),
    "service name with an RTL override and a newline": (
        [(("services", 1, "name"), "orders\u202e\n")],
        [f"services[1].name: got 'orders\\u202e\\n'; {DNS_LABEL}"],
    ),
    "migration name not DNS-1123": (
        [(("migrations", 1, "name"), "drop legacy")],
        [f"migrations[1].name: got 'drop legacy'; {DNS_LABEL}"],
    ),
    "requires an unknown migration": (
        [(("services", 1, "requires"), ["orders-add-statuz"])],
        [
            "services[1] (orders).requires[0]: got 'orders-add-statuz'; an unknown migration; "
            "allowed: an expand migration (orders-add-status)"
        ],
    ),
    "requires a contract migration": (
        [(("services", 1, "requires"), ["orders-drop-legacy"])],
        [
            "services[1] (orders).requires[0]: got 'orders-drop-legacy'; a contract migration; "
            "allowed: an expand migration (orders-add-status)"
        ],
    ),
    "requires of the wrong type": (
        [(("services", 1, "requires"), "orders-add-status")],
        ["services[1] (orders).requires: got 'orders-add-status'; allowed: a list of names"],
    ),
    "requires item of the wrong type": (
        [(("services", 1, "requires"), [42])],
        ["services[1] (orders).requires[0]: got 42; allowed: a name (string)"],
    ),
    "after an unknown service": (
        [(("services", 1, "after"), ["auht"])],
        [
            "services[1] (orders).after[0]: got 'auht'; allowed: another configured service "
            "(auth, orders)"
        ],
    ),
    "after itself": (
        [(("services", 0, "after"), ["auth"])],
        [
            "services[0] (auth).after[0]: got 'auth'; "
            "allowed: another service (a service cannot wait for itself)"
        ],
    ),
    "after a cycle": (
        [(("services", 0, "after"), ["orders"])],
        ["services.after: services wait for each other in a cycle: auth -> orders -> auth"],
    ),
    "after a service missing from one of its regions": (
        [(("services", 0, "regions"), ["us-east-1"])],
        [
            "services[1] (orders).after[0]: got 'auth'; allowed: a service deployed wherever "
            "'orders' "
            "runs ('auth' is not in eu-west-1)"
        ],
    ),
    "callers an unknown service": (
        [(("services", 0, "callers"), ["orders", "ordres"])],
        [
            "services[0] (auth).callers[1]: got 'ordres'; allowed: a configured service "
            "(auth, orders)"
        ],
    ),
    "callers of the wrong type": (
        [(("services", 0, "callers"), "orders")],
        ["services[0] (auth).callers: got 'orders'; allowed: a list of names"],
    ),
    "callers item of the wrong type": (
        [(("services", 0, "callers"), [7])],
        ["services[0] (auth).callers[0]: got 7; allowed: a name (string)"],
    ),
    "service with no region left": (
        [(("services", 1, "regions"), ["ap-southeast-2"])],
        [
            "services[1] (orders).regions[0]: got 'ap-southeast-2'; "
            "allowed: one of the configured regions (us-east-1, eu-west-1)",
            "services[1] (orders).regions: service orders has no configured region left to run in; "
            "allowed: some of us-east-1, eu-west-1",
        ],
    ),
    "wave missing a region": (
        [(("waves",), [["us-east-1"]])],
        ["waves: got [['us-east-1']]; allowed: waves that hold every region; missing: eu-west-1"],
    ),
    "region in two waves": (
        [(("waves",), [["us-east-1"], ["eu-west-1", "us-east-1"]])],
        [
            "waves[1][1]: got 'us-east-1'; "
            "allowed: each region in exactly one wave; it is in waves[0]"
        ],
    ),
    "wave with an unconfigured region": (
        [(("waves",), [["us-east-1", "eu-west-1", "eu-west-3"]])],
        [
            "waves[0][2]: got 'eu-west-3'; "
            "allowed: one of the configured regions (us-east-1, eu-west-1)"
        ],
    ),
    "empty wave": (
        [(("waves",), [[], ["us-east-1", "eu-west-1"]])],
        ["waves[0]: got []; allowed: a non-empty list of regions"],
    ),
    "waves not a list of lists": (
        [(("waves",), ["us-east-1", "eu-west-1"])],
        ["waves: got ['us-east-1', 'eu-west-1']; allowed: a list of lists of regions"],
    ),
    "expand after contract": (
        [
            (
                ("migrations", 2),
                {"name": "orders-add-total", "image": EXPAND, "phase": "expand"},
            )
        ],
        [
            "migrations[2] (orders-add-total).phase: got 'expand'; listed after contract "
            "migrations[1] "
            "('orders-drop-legacy'); allowed: every expand before every contract"
        ],
    ),
    "unknown migration phase": (
        [(("migrations", 1, "phase"), "shrink")],
        ["migrations[1] (orders-drop-legacy).phase: got 'shrink'; allowed: expand | contract"],
    ),
    "replicas below 1": (
        [(("services", 0, "replicas"), 0)],
        ["services[0] (auth).replicas: got 0; allowed: an integer from 1 to 1000"],
    ),
    "replicas as a string": (
        [(("services", 0, "replicas"), "3")],
        ["services[0] (auth).replicas: got '3'; allowed: an integer from 1 to 1000"],
    ),
    "replicas as a boolean": (
        [(("services", 0, "replicas"), True)],
        ["services[0] (auth).replicas: got True; allowed: an integer from 1 to 1000"],
    ),
    "replicas as a 5000-digit integer": (
        [(("services", 0, "replicas"), 10**5000)],
        [
            "services[0] (auth).replicas: got <integer of 16610 bits>; allowed: an integer from "
            "1 to 1000"
        ],
    ),
    "port 0": (
        [(("services", 0, "port"), 0)],
        ["services[0] (auth).port: got 0; allowed: an integer from 1 to 65535"],
    ),
    "port above 65535": (
        [(("services", 0, "port"), 70000)],
        ["services[0] (auth).port: got 70000; allowed: an integer from 1 to 65535"],
    ),
    "image without tag or digest": (
        [(("services", 0, "image"), "registry.example.com/shop/auth")],
        [
            "services[0] (auth).image: got 'registry.example.com/shop/auth'; "
            "allowed: an image pinned by tag or digest (this one has no tag or digest)"
        ],
    ),
    "image with a registry port but no tag": (
        [(("services", 0, "image"), "registry.example.com:5000/shop/auth")],
        [
            "services[0] (auth).image: got 'registry.example.com:5000/shop/auth'; "
            "allowed: an image pinned by tag or digest (this one has no tag or digest)"
        ],
    ),
    "image that is no reference": (
        [(("services", 0, "image"), "Registry.Example.com/auth:1")],
        [
            "services[0] (auth).image: got 'Registry.Example.com/auth:1'; allowed: an image "
            "reference "
            "like registry.example.com/team/app:1.2.3 or @sha256:..."
        ],
    ),
    "image missing": (
        [(("services", 0, "image"), DELETE)],
        ["services[0] (auth).image: is required (an image reference)"],
    ),
    "migration image without a tag": (
        [(("migrations", 0, "image"), "registry.example.com/shop/migrate")],
        [
            "migrations[0] (orders-add-status).image: got 'registry.example.com/shop/migrate'; "
            "allowed: an image pinned by tag or digest (this one has no tag or digest)"
        ],
    ),
    # One pinning rule for validation and the policy pack (image_pinning), in every environment.
    "latest in prod": (
        [(("environment",), "prod"), (("services", 0, "image"), "registry.example.com/a:latest")],
        [
            "services[0] (auth).image: got 'registry.example.com/a:latest'; "
            'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")'
        ],
    ),
    "latest in dev": (
        [(("environment",), "dev"), (("services", 0, "image"), "registry.example.com/a:latest")],
        [
            "services[0] (auth).image: got 'registry.example.com/a:latest'; "
            'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")'
        ],
    ),
    "latest migration in prod": (
        [(("environment",), "prod"), (("migrations", 0, "image"), "registry.example.com/m:latest")],
        [
            "migrations[0] (orders-add-status).image: got 'registry.example.com/m:latest'; "
            'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")'
        ],
    ),
    "latest canary in dev": (
        [
            (("services", 0, "strategy"), "canary"),
            (("services", 0, "canary"), {"image": "registry.example.com/a:LATEST", "weight": 5}),
        ],
        [
            "services[0] (auth).canary.image: got 'registry.example.com/a:LATEST'; "
            'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")'
        ],
    ),
    "unknown top-level key": (
        [(("servises",), [])],
        [
            "servises: unknown key (did you mean 'services'?); "
            f"allowed keys: {', '.join(KNOWN_KEYS)}"
        ],
    ),
    "unknown service key": (
        [(("services", 0, "imagee"), AUTH)],
        [
            "services[0] (auth).imagee: unknown key (did you mean 'image'?); allowed keys: "
            f"{SERVICE_KEYS}"
        ],
    ),
    "unknown key with a newline in it": (
        [(("services", 0, "bad\nkey"), 1)],
        [f"services[0] (auth).'bad\\nkey': unknown key; allowed keys: {SERVICE_KEYS}"],
    ),
    "regions not a list": (
        [(("regions",), {"name": "us-east-1"})],
        ["regions: got {'name': 'us-east-1'}; allowed: a non-empty list"],
    ),
    "regions empty": (
        [(("regions",), [])],
        ["regions: got []; allowed: a non-empty list"],
    ),
    "services missing": (
        [(("services",), DELETE)],
        ["services: is required (a non-empty list)"],
    ),
    "service not a mapping": (
        [(("services", 1), "orders")],
        ["services[1]: got 'orders'; allowed: a mapping"],
    ),
    "environment not DNS-1123": (
        [(("environment",), "Prod")],
        ["environment: got 'Prod'; allowed: a DNS-1123 label like dev or prod"],
    ),
    "owner with a newline": (
        [(("owner",), "platform\n")],
        [
            "owner: got 'platform\\n'; "
            "allowed: an AWS tag value (letters, digits, ' _.:/=+-@', <= 256)"
        ],
    ),
    "bake_minutes out of range": (
        [(("bake_minutes",), 241)],
        ["bake_minutes: got 241; allowed: a number of minutes from 0 to 240 (fractions allowed)"],
    ),
    # Letters and digits of any script print as they are; only the pattern's ASCII is allowed.
    "cpu with Arabic-Indic digits": (
        [(("services", 0, "cpu"), "\u0662\u0665\u0660m")],
        [
            "services[0] (auth).cpu: got '\u0662\u0665\u0660m'; "
            "allowed: a Kubernetes CPU quantity like 250m or 1"
        ],
    ),
    "unknown strategy": (
        [(("services", 0, "strategy"), "big-bang")],
        ["services[0] (auth).strategy: got 'big-bang'; allowed: rolling | canary | blue-green"],
    ),
    "canary strategy without canary": (
        [(("services", 0, "strategy"), "canary")],
        ["services[0] (auth).canary: is required when strategy is canary ({image, weight})"],
    ),
    "canary weight above 100": (
        [
            (("services", 0, "strategy"), "canary"),
            (("services", 0, "canary"), {"image": AUTH, "weight": 150}),
        ],
        ["services[0] (auth).canary.weight: got 150; allowed: an integer from 0 to 100"],
    ),
    "canary with a misspelt key": (
        [(("services", 0, "canary"), {"image": AUTH, "wieght": 10})],
        [
            "services[0] (auth).canary.wieght: unknown key (did you mean 'weight'?); "
            "allowed keys: image, weight",
            "services[0] (auth).canary.weight: is required (an integer from 0 to 100)",
        ],
    ),
    "canary image without a tag": (
        [(("services", 0, "canary"), {"image": "registry.example.com/shop/auth", "weight": 5})],
        [
            "services[0] (auth).canary.image: got 'registry.example.com/shop/auth'; "
            "allowed: an image pinned by tag or digest (this one has no tag or digest)"
        ],
    ),
    "canary not a mapping": (
        [(("services", 0, "canary"), AUTH)],
        [f"services[0] (auth).canary: got '{AUTH}'; allowed: a mapping"],
    ),
    "blue-green strategy without blue_green": (
        [(("services", 0, "strategy"), "blue-green")],
        [
            "services[0] (auth).blue_green: is required when strategy is blue-green "
            "({active, blue, green})"
        ],
    ),
    "blue_green without green": (
        [(("services", 0, "blue_green"), {"active": "blue", "blue": {"image": AUTH}})],
        ["services[0] (auth).blue_green.green: is required (a mapping with an image)"],
    ),
    "blue_green active colour unknown": (
        [
            (
                ("services", 0, "blue_green"),
                {"active": "red", "blue": {"image": AUTH}, "green": {"image": AUTH}},
            )
        ],
        ["services[0] (auth).blue_green.active: got 'red'; allowed: blue | green"],
    ),
    "blue_green replicas negative": (
        [
            (
                ("services", 0, "blue_green"),
                {
                    "active": "blue",
                    "blue": {"image": AUTH, "replicas": -1},
                    "green": {"image": AUTH},
                },
            )
        ],
        ["services[0] (auth).blue_green.blue.replicas: got -1; allowed: an integer from 0 to 1000"],
    ),
    "flag name starting with a digit": (
        [(("services", 0, "flags"), {"1-click": {"enabled": True}})],
        [
            "services[0] (auth).flags.1-click: got '1-click'; "
            "allowed: a flag name (a letter, then letters, digits, '_' or '-'; at most 64)"
        ],
    ),
    "flag enabled not a boolean": (
        [(("services", 0, "flags"), {"new-checkout": {"enabled": "yes"}})],
        ["services[0] (auth).flags.new-checkout.enabled: got 'yes'; allowed: true | false"],
    ),
    "flag rollout above 100": (
        [(("services", 0, "flags"), {"new-checkout": {"enabled": True, "rollout_percent": 101}})],
        [
            "services[0] (auth).flags.new-checkout.rollout_percent: got 101; "
            "allowed: an integer from 0 to 100"
        ],
    ),
    "flags as a list": (
        [(("services", 0, "flags"), ["new-checkout"])],
        [
            "services[0] (auth).flags: got ['new-checkout']; "
            "allowed: a mapping of flag name to {enabled, rollout_percent}"
        ],
    ),
    "override of an unknown service": (
        [(("regions", 1, "overrides"), {"billing": {"replicas": 1}})],
        [
            "regions[1] (eu-west-1).overrides.billing: got 'billing'; "
            "allowed: a service deployed in eu-west-1 (auth, orders)"
        ],
    ),
    "override of a service not in that region": (
        [
            (("services", 1, "regions"), ["us-east-1"]),
            (("regions", 1, "overrides"), {"orders": {"replicas": 1}}),
        ],
        [
            "regions[1] (eu-west-1).overrides.orders: got 'orders'; "
            "allowed: a service deployed in eu-west-1 (auth)"
        ],
    ),
    "override of a field that cannot be overridden": (
        [(("regions", 1, "overrides"), {"auth": {"port": 9090}})],
        [
            "regions[1] (eu-west-1).overrides.auth.port: unknown key; "
            "allowed keys: image, replicas, strategy, canary, blue_green, verify"
        ],
    ),
    "override with replicas 0": (
        [(("regions", 1, "overrides"), {"auth": {"replicas": 0}})],
        [
            "regions[1] (eu-west-1).overrides.auth.replicas: got 0; allowed: an integer from 1 "
            "to 1000"
        ],
    ),
    "override with an untagged image": (
        [(("regions", 1, "overrides"), {"auth": {"image": "registry.example.com/shop/auth"}})],
        [
            "regions[1] (eu-west-1).overrides.auth.image: got 'registry.example.com/shop/auth'; "
            "allowed: an image pinned by tag or digest (this one has no tag or digest)"
        ],
    ),
    "override to canary without a canary": (
        [(("regions", 1, "overrides"), {"auth": {"strategy": "canary"}})],
        [
            "regions[1] (eu-west-1).overrides.auth.canary: is required when strategy is canary "
            "({image, weight})"
        ],
    ),
    "overrides not a mapping": (
        [(("regions", 1, "overrides"), ["auth"])],
        [
            "regions[1] (eu-west-1).overrides: got ['auth']; "
            "allowed: a mapping of service name to overridden fields"
        ],
    ),
    "kubeconfig mode without kubeconfigs": (
        [(("kubernetes",), {"mode": "kubeconfig"})],
        [
            "kubeconfigs: needs a secret entry for us-east-1, eu-west-1 "
            "(pulumi config set --secret --path 'deploypaths:kubeconfigs.us-east-1' ...)"
        ],
    ),
    "kubeconfig mode missing one region": (
        [(("kubernetes",), {"mode": "kubeconfig"}), (("kubeconfigs",), {"us-east-1": "[secret]"})],
        [
            "kubeconfigs: needs a secret entry for eu-west-1 "
            "(pulumi config set --secret --path 'deploypaths:kubeconfigs.eu-west-1' ...)"
        ],
    ),
    "external database without database_urls": (
        [(("database",), {"mode": "external"})],
        [
            "database_urls: needs a secret entry for us-east-1, eu-west-1 "
            "(pulumi config set --secret --path 'deploypaths:database_urls.us-east-1' ...)"
        ],
    ),
    "kubernetes mode unknown": (
        [(("kubernetes",), {"mode": "gke"})],
        ["kubernetes.mode: got 'gke'; allowed: eks | kubeconfig | render"],
    ),
    "kubernetes node_count 0": (
        [(("kubernetes",), {"node_count": 0})],
        ["kubernetes.node_count: got 0; allowed: an integer from 1 to 100"],
    ),
    "kubernetes version as a float": (
        [(("kubernetes",), {"version": 1.31})],
        ["kubernetes.version: got 1.31; allowed: a string like '1.31'"],
    ),
    "kubernetes misspelt key": (
        [(("kubernetes",), {"nodes": 3})],
        [
            "kubernetes.nodes: unknown key; "
            "allowed keys: mode, version, node_instance_type, node_count, namespace, "
            "kubeconfig_dir, rollout_timeout_seconds"
        ],
    ),
    "database instances above 15": (
        [(("database",), {"instances": 16})],
        ["database.instances: got 16; allowed: an integer from 1 to 15"],
    ),
    "database instance class": (
        [(("database",), {"instance_class": "r6g.large"})],
        [
            "database.instance_class: got 'r6g.large'; "
            "allowed: an RDS instance class like db.r6g.large"
        ],
    ),
    "feature_flags growth_factor 0": (
        [(("feature_flags",), {"growth_factor": 0})],
        ["feature_flags.growth_factor: got 0; allowed: an integer from 1 to 100"],
    ),
    "active colour scaled to zero": (
        [
            (("services", 0, "strategy"), "blue-green"),
            (
                ("services", 0, "blue_green"),
                {
                    "active": "green",
                    "blue": {"image": "r.example.com/a:1"},
                    "green": {"image": "r.example.com/a:2", "replicas": 0},
                },
            ),
        ],
        [
            "services[0] (auth).blue_green.green.replicas: got 0; "
            "allowed: at least 1 for the active colour (the Service would select no pod)"
        ],
    ),
    "decommission an unknown region": (
        [(("decommission",), ["eu-west-9"])],
        ["decommission[0]: got 'eu-west-9'; allowed: a known AWS region code such as us-east-1"],
    ),
    "monitoring mode unknown": (
        [(("monitoring",), {"mode": "prometheus"})],
        ["monitoring.mode: got 'prometheus'; allowed: cloudwatch | kubernetes | none"],
    ),
    "gate on the API server of rendered manifests": (
        [(("kubernetes",), {"mode": "render"}), (("monitoring",), {"mode": "kubernetes"})],
        [
            "monitoring.mode: got 'kubernetes'; "
            "allowed with kubernetes.mode render: cloudwatch | none"
        ],
    ),
    "bake minutes negative": (
        [(("bake_minutes",), -0.5)],
        ["bake_minutes: got -0.5; allowed: a number of minutes from 0 to 240 (fractions allowed)"],
    ),
    "rollout timeout too short": (
        [(("kubernetes",), {"mode": "eks", "rollout_timeout_seconds": 5})],
        ["kubernetes.rollout_timeout_seconds: got 5; allowed: an integer from 10 to 3600"],
    ),
    "kubeconfig folder outside the project": (
        [(("kubernetes",), {"mode": "kubeconfig", "kubeconfig_dir": "../elsewhere"})],
        [
            "kubernetes.kubeconfig_dir: got '../elsewhere'; allowed: a folder inside the project",
            "kubeconfigs: needs a secret entry for us-east-1, eu-west-1 "
            "(pulumi config set --secret --path 'deploypaths:kubeconfigs.us-east-1' ...)",
        ],
    ),
    "verify without an image": (
        [(("services", 1, "verify"), {"args": ["--smoke"]})],
        ["services[1] (orders).verify.image: is required (an image reference)"],
    ),
    "verify with an empty image": (
        [(("services", 1, "verify"), {"image": ""})],
        [f"services[1] (orders).verify.image: got ''; {IMAGE_REFERENCE}"],
    ),
    "verify with an unpinned image": (
        [(("services", 1, "verify"), {"image": "registry.example.com/shop/smoke:latest"})],
        [
            "services[1] (orders).verify.image: got 'registry.example.com/shop/smoke:latest'; "
            'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")'
        ],
    ),
    "verify with an unknown key": (
        [(("services", 1, "verify"), {"image": VERIFY, "arg": ["--smoke"]})],
        [
            "services[1] (orders).verify.arg: unknown key (did you mean 'args'?); "
            "allowed keys: image, args"
        ],
    ),
    "verify that is not a mapping": (
        [(("services", 1, "verify"), VERIFY)],
        [f"services[1] (orders).verify: got '{VERIFY}'; allowed: a mapping"],
    ),
    "verify args that are not a list of strings": (
        [(("services", 1, "verify"), {"image": VERIFY, "args": ["--retries", 3]})],
        ["services[1] (orders).verify.args[1]: got 3; allowed: a string"],
    ),
    "down without an image": (
        [(("migrations", 0, "down"), {})],
        ["migrations[0] (orders-add-status).down.image: is required (an image reference)"],
    ),
    "down with an unpinned image": (
        [(("migrations", 1, "down"), {"image": "registry.example.com/shop/migrate"})],
        [
            "migrations[1] (orders-drop-legacy).down.image: got "
            "'registry.example.com/shop/migrate'; "
            "allowed: an image pinned by tag or digest (this one has no tag or digest)"
        ],
    ),
    "down with an unknown key": (
        [(("migrations", 0, "down"), {"image": DOWN, "command": ["down"]})],
        ["migrations[0] (orders-add-status).down.command: unknown key; allowed keys: image, args"],
    ),
    "down on a migration of an unknown phase": (
        [
            (("migrations", 0, "phase"), "backfill"),
            (("migrations", 0, "down"), {"image": DOWN}),
        ],
        ["migrations[0] (orders-add-status).phase: got 'backfill'; allowed: expand | contract"],
    ),
    "down_migrations naming an unknown migration": (
        [
            (("migrations", 0, "down"), {"image": DOWN}),
            (("regions", 1, "down_migrations"), ["orders-add-statuz"]),
        ],
        [
            "regions[1] (eu-west-1).down_migrations[0]: got 'orders-add-statuz'; "
            "an unknown migration; allowed: a migration with a down (orders-add-status)"
        ],
    ),
    "down_migrations naming a migration without a down": (
        [
            (("migrations", 0, "down"), {"image": DOWN}),
            (("regions", 1, "down_migrations"), ["orders-add-status", "orders-drop-legacy"]),
        ],
        [
            "regions[1] (eu-west-1).down_migrations[1]: got 'orders-drop-legacy'; "
            "a migration without a down; allowed: a migration with a down (orders-add-status)"
        ],
    ),
    "down_migrations naming a migration twice": (
        [
            (("migrations", 0, "down"), {"image": DOWN}),
            (("regions", 0, "down_migrations"), ["orders-add-status", "orders-add-status"]),
        ],
        [
            "regions[0] (us-east-1).down_migrations[1]: got 'orders-add-status'; "
            "allowed: each migration once; down_migrations[0] has it"
        ],
    ),
    "down_migrations that is not a list": (
        [(("regions", 0, "down_migrations"), "orders-add-status")],
        [
            "regions[0] (us-east-1).down_migrations: got 'orders-add-status'; "
            "allowed: a list of names"
        ],
    ),
    "value nested too deep": (
        [(("services", 1, "flags"), {"a": {"b": [[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}})],
        ["services: got values nested more than 16 deep; allowed: at most 16"],
    ),
}


@pytest.mark.parametrize(("changes", "expected"), RULES.values(), ids=RULES.keys())
def test_rule(changes: list[tuple[tuple[Any, ...], Any]], expected: list[str]) -> None:
    assert problems_of(changed(*changes)) == expected


def test_verify_down_and_down_migrations_validate() -> None:
    settings = parse_settings(
        changed(
            (("services", 1, "verify"), {"image": VERIFY, "args": ["--smoke"]}),
            (("migrations", 0, "down"), {"image": DOWN}),
            (("migrations", 1, "down"), {"image": f"{DOWN}@{DIGEST}", "args": ["--keep"]}),
            (("regions", 1, "down_migrations"), ["orders-add-status", "orders-drop-legacy"]),
        ),
        stack="dev",
    )

    assert settings.services[0].verify is None
    verify = settings.services[1].verify
    assert verify is not None and (verify.image, verify.args) == (VERIFY, ("--smoke",))
    down = settings.migrations[0].down
    assert down is not None and (down.image, down.args) == (DOWN, ())
    assert settings.region("us-east-1").down_migrations == ()
    assert settings.region("eu-west-1").down_migrations == (
        "orders-add-status",
        "orders-drop-legacy",
    )


def test_callers_validate_wherever_they_run_and_leave_fingerprints_alone() -> None:
    # A caller need not run wherever the service runs (a region admits those it deploys), and
    # a service whose pods call each other names itself.
    settings = parse_settings(
        changed(
            (("services", 1, "regions"), ["eu-west-1"]),
            (("services", 0, "callers"), ["orders", "auth"]),
        ),
        stack="dev",
    )
    plain = parse_settings(valid_config(), stack="dev")

    assert settings.services[0].callers == ("orders", "auth")
    assert plain.services[0].callers == ()
    # Unset, it is left out of the dump release fingerprints are taken of.
    assert "callers" not in plain.services[0].model_dump()
    assert settings.services[0].model_dump()["callers"] == ("orders", "auth")


def test_a_caller_refused_for_its_own_problems_is_not_a_second_problem() -> None:
    raw = changed(
        (("services", 1, "image"), "registry.example.com/shop/orders:latest"),
        (("services", 0, "callers"), ["orders"]),
    )

    assert problems_of(raw) == [
        "services[1] (orders).image: got 'registry.example.com/shop/orders:latest'; "
        'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")',
    ]


def test_a_down_is_refused_on_a_phase_without_an_inverse() -> None:
    """Phase allows only expand and contract today; a phase added later gets no `down` until
    someone adds it to DOWN_PHASES."""
    down = MigrationDown(image=DOWN)

    assert down_problem("backfill", down, DOWN_PHASES) == (
        ("down",),
        "is not allowed on a backfill migration; allowed: on an expand or contract migration",
    )
    assert down_problem("backfill", None, DOWN_PHASES) is None
    for phase in ("expand", "contract"):
        assert down_problem(phase, down, DOWN_PHASES) is None


def test_the_message_has_a_header_and_one_line_per_problem() -> None:
    raw = changed((("services", 0, "replicas"), 0), (("services", 1, "port"), 0))
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack="dev")

    assert str(caught.value) == (
        "stack 'dev' has 2 configuration problem(s); nothing was deployed\n"
        "  - services[0] (auth).replicas: got 0; allowed: an integer from 1 to 1000\n"
        "  - services[1] (orders).port: got 0; allowed: an integer from 1 to 65535"
    )


def test_every_problem_is_listed_at_once() -> None:
    raw = changed(
        (("environment",), "Dev"),
        (("regions", 1, "name"), "us-east-1"),
        (("waves",), [["us-east-1"], ["us-east-1"]]),
        (("migrations", 1, "phase"), "later"),
        (("services", 0, "replicas"), 0),
        (("services", 0, "image"), "registry.example.com/shop/auth"),
        (("services", 1, "port"), 99999),
        (("services", 1, "requires"), ["orders-add-statuz"]),
        (("services", 1, "after"), ["payments"]),
        (("kubernetes",), {"mode": "kubeconfig"}),
        (("monitor",), {"mode": "none"}),
    )

    problems = problems_of(raw)

    keys = [problem.split(": ", 1)[0] for problem in problems]
    assert sorted(keys) == sorted(
        [
            "monitor",
            "environment",
            "regions[1].name",
            "waves[1][0]",
            "migrations[1] (orders-drop-legacy).phase",
            "services[0] (auth).image",
            "services[0] (auth).replicas",
            "services[1] (orders).port",
            "services[1] (orders).requires[0]",
            "services[1] (orders).after[0]",
            "kubeconfigs",
        ]
    ), "\n".join(problems)


def test_indices_name_the_entry_as_written_when_earlier_entries_are_invalid() -> None:
    raw = valid_config()
    raw["services"] = [
        {"name": "Bad"},
        {"name": "auth", "image": AUTH},
        {"name": "auth", "image": AUTH, "after": ["search"]},
    ]

    assert problems_of(raw) == [
        f"services[0].name: got 'Bad'; {DNS_LABEL}",
        "services[0].image: is required (an image reference)",
        "services[2].name: got 'auth'; allowed: a unique name; services[1] already has it",
        "services[2] (auth).after[0]: got 'search'; allowed: another configured service (auth)",
    ]


def test_problems_in_an_invalid_service_are_still_reported() -> None:
    raw = changed((("services", 1, "name"), "Orders"), (("services", 1, "cpu"), "lots"))

    assert problems_of(raw) == [
        f"services[1].name: got 'Orders'; {DNS_LABEL}",
        # An entry is not named by a name that is refused: the line above shows it.
        "services[1].cpu: got 'lots'; allowed: a Kubernetes CPU quantity like 250m or 1",
    ]


def test_an_entry_with_a_refused_image_still_has_its_references_checked() -> None:
    raw = changed(
        (("services", 1, "image"), "registry.example.com/shop/orders:latest"),
        (("services", 1, "requires"), ["ghost-migration"]),
    )

    assert problems_of(raw) == [
        "services[1] (orders).image: got 'registry.example.com/shop/orders:latest'; "
        'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")',
        "services[1] (orders).requires[0]: got 'ghost-migration'; an unknown migration; "
        "allowed: an expand migration (orders-add-status)",
    ]


def test_references_are_checked_when_every_region_is_refused() -> None:
    raw = changed(
        (("regions",), [{"name": "mars-north-1"}]), (("services", 1, "after"), ["payments"])
    )

    assert problems_of(raw) == [
        "regions[0].name: got 'mars-north-1'; allowed: a known AWS region code such as us-east-1",
        "services[1] (orders).after[0]: got 'payments'; "
        "allowed: another configured service (auth, orders)",
    ]


def test_a_config_that_is_not_a_mapping_is_one_problem() -> None:
    assert problems_of(["regions"]) == ["deploypaths: got ['regions']; allowed: a mapping"]


def test_non_string_keys_are_reported_not_crashed_on() -> None:
    raw = changed(((1,), "one"), ((None,), "none"))

    assert problems_of(raw) == [
        f"1: unknown key; allowed keys: {', '.join(KNOWN_KEYS)}",
        f"None: unknown key; allowed keys: {', '.join(KNOWN_KEYS)}",
    ]


def test_secret_values_are_never_shown() -> None:
    secret = "postgres://app:hunter2@db.internal/app"
    raw = changed(
        (("database",), {"mode": "external"}),
        (("database_urls",), secret),
        (("database_url",), {"us-east-1": secret}),
        (("kubeconfigs",), {"us-east-1": 12345}),
    )

    problems = problems_of(raw)

    assert problems == [
        "database_url: unknown key (did you mean 'database_urls'?); "
        f"allowed keys: {', '.join(KNOWN_KEYS)}",
        "kubeconfigs.us-east-1: got a value of type int (not shown: it may be a secret); "
        "allowed: a non-empty string (the secret)",
        "database_urls: got a value of type str (not shown: it may be a secret); "
        "allowed: a mapping of region to a secret value (set with --secret --path)",
    ]
    assert not any("hunter2" in problem or "12345" in problem for problem in problems)


def test_a_long_value_is_cut() -> None:
    (problem,) = problems_of(changed((("services", 0, "image"), "x" * 10_000)))

    assert problem == (
        f"services[0] (auth).image: got '{'x' * 56}...; allowed: an image reference like "
        "registry.example.com/team/app:1.2.3 or @sha256:..."
    )


def test_an_alias_bomb_is_refused_without_walking_it() -> None:
    bomb: list[Any] = ["lol"] * 10
    for _ in range(8):
        bomb = [bomb] * 10  # 10**9 strings once expanded, as YAML aliases describe them

    assert problems_of(changed((("services",), bomb))) == [
        "services: got more than 100000 values in the whole configuration "
        "(a YAML alias counts once per use); allowed: at most 100000"
    ]


def test_a_self_containing_value_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)

    assert problems_of(changed((("waves",), loop))) == [
        "waves: got values nested more than 16 deep; allowed: at most 16"
    ]


@pytest.mark.parametrize(
    "image",
    [
        f"registry.example.com/a@{DIGEST}",
        f"registry.example.com/a:latest@{DIGEST}",
        "registry.example.com:5000/team/a:1.2.3",
        "a:1",
    ],
)
def test_pinned_images_are_allowed(image: str) -> None:
    settings = parse_settings(changed((("services", 0, "image"), image)), stack="dev")

    assert settings.services[0].image == image


def test_latest_with_a_digest_is_allowed_in_prod() -> None:
    image = f"registry.example.com/a:latest@{DIGEST}"
    raw = changed((("services", 0, "image"), image))

    assert parse_settings(raw, stack="prod").services[0].image == image


def test_the_stack_name_is_the_default_environment() -> None:
    assert parse_settings(valid_config(), stack="prod-copy").environment == "prod-copy"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_latest_is_refused_in_every_environment(stack: str) -> None:
    raw = changed((("services", 0, "image"), "registry.example.com/a:latest"))

    assert problems_of(raw, stack=stack) == [
        "services[0] (auth).image: got 'registry.example.com/a:latest'; "
        'allowed: an image pinned by tag or digest (this one uses the mutable tag "latest")'
    ]


def test_the_empty_defaults_of_pulumi_yaml_mean_the_stack_name_and_one_wave() -> None:
    settings = parse_settings(changed((("environment",), ""), (("waves",), [])), stack="prod")

    assert settings.environment == "prod"
    assert settings.waves == (("us-east-1", "eu-west-1"),)


def test_region_overrides_are_applied_to_that_region_only() -> None:
    pinned = "registry.example.com/shop/auth:3.1.9"
    raw = changed((("regions", 1, "overrides"), {"auth": {"image": pinned, "replicas": 5}}))

    settings = parse_settings(raw, stack="dev")

    assert settings.services_in("eu-west-1")[0].image == pinned
    assert settings.services_in("eu-west-1")[0].replicas == 5
    assert settings.services_in("us-east-1")[0].image == AUTH


def test_a_null_override_field_keeps_the_service_value() -> None:
    raw = changed(
        (("services", 0, "replicas"), 4),
        (("regions", 1, "overrides"), {"auth": {"replicas": None}}),
    )

    assert parse_settings(raw, stack="dev").services_in("eu-west-1")[0].replicas == 4


def test_a_null_override_keeps_the_service() -> None:
    raw = changed((("services", 0, "replicas"), 4), (("regions", 1, "overrides"), {"auth": None}))

    settings = parse_settings(raw, stack="dev")

    assert settings.region("eu-west-1").overrides == {}
    assert settings.services_in("eu-west-1")[0].replicas == 4


def test_a_kubeconfig_folder_stands_in_for_the_secret_kubeconfigs() -> None:
    raw = changed(
        (("kubernetes",), {"mode": "kubeconfig", "kubeconfig_dir": ".clusters/local"}),
        (("monitoring",), {"mode": "kubernetes"}),
        (("bake_minutes",), 0.1),
    )

    settings = parse_settings(raw, stack="dev")

    assert settings.kubernetes.kubeconfig_dir == ".clusters/local"
    assert settings.gate_bake_minutes == 0.1


def test_secret_maps_satisfy_their_modes() -> None:
    raw = changed(
        (("kubernetes",), {"mode": "kubeconfig"}),
        (("database",), {"mode": "external"}),
        (("kubeconfigs",), {"us-east-1": "[secret]", "eu-west-1": "[secret]"}),
        (("database_urls",), {"us-east-1": "[secret]", "eu-west-1": "[secret]"}),
    )

    settings = parse_settings(raw, stack="dev")

    assert (settings.kubernetes.mode, settings.database.mode) == ("kubeconfig", "external")


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": ["b"], "b": ["a"]}, ["a", "b", "a"]),
        ({"a": ["b"], "b": ["c"], "c": ["b"]}, ["b", "c", "b"]),
        ({"a": ["b", "c"], "b": ["c"], "c": []}, None),
        ({"a": []}, None),
    ],
)
def test_find_cycle(graph: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "local"])
def test_the_stack_files_validate(stack: str) -> None:
    flat_config = load_stack_file(PROJECT_DIR / f"Pulumi.{stack}.yaml", PROJECT_DIR)

    settings = parse_settings(namespace_values(flat_config), stack=stack)

    assert isinstance(settings, Settings)
    assert settings.environment == stack
    assert settings.is_protected == (stack == "prod")
    assert sorted(r for wave in settings.waves for r in wave) == sorted(settings.region_names)


def test_the_prod_stack_file_has_three_regions_in_two_waves() -> None:
    flat_config = load_stack_file(PROJECT_DIR / "Pulumi.prod.yaml", PROJECT_DIR)

    settings = parse_settings(namespace_values(flat_config), stack="prod")

    assert settings.waves == (("us-east-1",), ("eu-west-1", "ap-southeast-2"))
    assert settings.region("us-east-1").overrides == {}
    assert {s.name: s.regions for s in settings.services}["payments"] == (
        "us-east-1",
        "eu-west-1",
    )


# --- the whole program ---------------------------------------------------------------------


def test_the_program_registers_what_a_valid_config_declares() -> None:
    """The control for the test below: the kept monitor does see registrations."""
    raw = changed((("regions",), [{"name": "us-east-1"}]))

    raised, registrations = run_and_record(raw, "dev")

    assert raised is None
    assert any(r.type == "deploypaths:index:RegionPath" for r in registrations.values())


def test_the_program_refuses_a_bad_config_with_every_problem_and_registers_nothing() -> None:
    raw = changed(
        (("services", 0, "replicas"), 0),
        (("services", 1, "after"), ["payments"]),
        (("regions", 1, "name"), "eu-middle-9"),
    )

    raised, registrations = run_and_record(raw, "dev")

    assert isinstance(raised, pulumi.RunError), f"program raised {raised!r}"
    assert str(raised) == (
        "stack 'dev' has 3 configuration problem(s); nothing was deployed\n"
        "  - regions[1].name: got 'eu-middle-9'; "
        "allowed: a known AWS region code such as us-east-1\n"
        "  - services[0] (auth).replicas: got 0; allowed: an integer from 1 to 1000\n"
        "  - services[1] (orders).after[0]: got 'payments'; allowed: another configured service "
        "(auth, orders)"
    )
    assert registrations == {}, f"registered before refusing: {sorted(registrations)}"


def test_the_program_refuses_latest_in_prod_and_registers_nothing() -> None:
    flat_config = load_stack_file(PROJECT_DIR / "Pulumi.prod.yaml", PROJECT_DIR)
    raw = namespace_values(flat_config)
    raw["services"][0]["image"] = "registry.example.com/shop/auth:latest"

    assert_refused_with_nothing_registered(raw, "prod")


def test_an_after_chain_longer_than_the_sdk_can_walk_is_refused():
    from deploypaths.config.references import MAX_AFTER_CHAIN

    count = MAX_AFTER_CHAIN + 1
    services = [
        {"name": f"s{i}", "image": f"r.example.com/s{i}:1.0.0", "after": [f"s{i - 1}"] if i else []}
        for i in range(count)
    ]
    raw = {"regions": [{"name": "us-east-1"}], "services": services}
    with pytest.raises(ConfigError) as error:
        parse_settings(raw, stack="dev")
    assert error.value.problems == [
        f"services.after: {count} services wait one for another (s{count - 1} -> ... -> s0); "
        f"allowed: chains of at most {MAX_AFTER_CHAIN} (the Pulumi SDK checks dependencies "
        "recursively, one level per link, and fails near 1,000)"
    ]
    raw["services"] = services[:MAX_AFTER_CHAIN]
    assert len(parse_settings(raw, stack="dev").services) == MAX_AFTER_CHAIN
