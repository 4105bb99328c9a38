"""``funchost kubernetes manifests``: what runs an app on Kubernetes, scaled by KEDA.

Core Tools' ``func kubernetes deploy --dry-run`` is the model: a Secret with the app settings,
a Deployment (with a Service) for the HTTP functions, and a Deployment for the other
triggers, scaled by a KEDA ``ScaledObject`` whose triggers follow the functions' bindings
(``azure-queue``, ``azure-blob``, ``azure-servicebus``, ``azure-eventhub``) and authenticate
through a ``TriggerAuthentication`` reading the Secret. Every replica gets the same host id,
so they share leases (a timer ticks once, a blob is handled once). Timers need no scaler:
the non-HTTP Deployment keeps one replica at least, and leases make ticks singletons.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from funchost.app.model import AppIndex, FunctionSpec
from funchost.config import HostConfig
from funchost.triggers.families import CATALOG

EXAMPLES = """examples:
  funchost kubernetes manifests --name orders --image registry.example/orders:1 > orders.yaml
  funchost kubernetes manifests --namespace prod --include-local-settings
  kubectl apply -f orders.yaml
"""

PORT = 80
# local.settings.json values that only make sense on a developer's machine
DEV_ONLY = re.compile(r"usedevelopmentstorage=true|127\.0\.0\.1|localhost", re.IGNORECASE)
RUNTIME_SETTINGS = ("FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsScriptRoot")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "kubernetes",
        help="Kubernetes manifests for the app (KEDA for scale-out)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    manifests = verbs.add_parser("manifests", help="print the manifests (YAML) to apply with kubectl")
    manifests.add_argument("--script-root", dest="script_root", default=".", help="the function app folder")
    manifests.add_argument("--name", help="the app's name in the cluster (default: the folder's name)")
    manifests.add_argument("--image", help="the container image (default: <name>:latest)")
    manifests.add_argument("--namespace", default="default")
    manifests.add_argument(
        "--include-local-settings",
        dest="include_local",
        action="store_true",
        help="put local.settings.json's development values (Azurite, localhost) in the Secret too",
    )
    manifests.add_argument("--json", action="store_true", help="a JSON array instead of YAML documents")


def run(args: argparse.Namespace) -> int:
    from funchost.cli.inspect import _load

    root = Path(args.script_root).resolve()
    if not (root / "host.json").is_file():
        print(f"'{root}' is not a function app (it has no host.json).", file=sys.stderr)
        return 1
    environment = dict(os.environ)  # before loading, which applies local.settings.json to the environment
    instance = _load(str(root))
    name = _dns_name(args.name or root.name)
    settings, placeholders = _secret_values(root, instance, args.include_local, environment)
    documents = manifests(
        instance.index, instance.host_config, name, args.image or f"{name}:latest", args.namespace, settings
    )
    for key in placeholders:
        print(
            f"Warning: the Secret's '{key}' is empty: its local value is for development only; set it "
            "(or pass --include-local-settings).",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(documents, indent=2))
    else:
        import yaml

        print(yaml.safe_dump_all(documents, sort_keys=False), end="")
    return 0


def _dns_name(text: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return cleaned[:50] or "function-app"


def _secret_values(
    root: Path, instance: Any, include_local: bool, environment: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The Secret's data: local.settings.json's values and every connection the bindings name;
    values from the environment win; development-only values are left empty unless asked."""
    from funchost.config import load_local_settings

    local = load_local_settings(root).values
    keys = {key for key in local if key not in RUNTIME_SETTINGS}
    for spec in instance.index.functions.values():
        for binding in spec.bindings:
            for setting in ("connection", "connectionStringSetting", "topicKeySetting", "topicEndpointUri"):
                if binding.setting(setting):
                    keys.add(str(binding.setting(setting)))
            family = CATALOG.of(binding.type)
            if binding.setting("connection") is None and family is not None and family.default_connection:
                keys.add(family.default_connection)
    values, placeholders = {}, []
    for key in sorted(keys):
        value = environment.get(key, local.get(key, ""))
        if key not in environment and DEV_ONLY.search(value or "") and not include_local:
            value = ""
        if not value:
            placeholders.append(key)
        values[key] = value
    return values, placeholders


def _scaler(spec: FunctionSpec, host_config: HostConfig) -> dict[str, Any] | None:
    """The KEDA trigger for one function, or None when its family names no scaler (timers, HTTP, others)."""
    family = CATALOG.trigger(spec.trigger_type)
    if family is None or family.keda is None:
        return None
    scaler = family.keda
    connection = str(spec.trigger.setting("connection") or family.default_connection or "")
    return {
        "type": scaler.type,
        "name": spec.name.lower(),
        "metadata": scaler.metadata(spec.trigger, host_config),
        "connection": connection,
        "storage_connection": scaler.storage_connection,
    }


def manifests(
    index: AppIndex, host_config: HostConfig, name: str, image: str, namespace: str, settings: dict[str, str]
) -> list[dict[str, Any]]:
    """The manifests, as dicts in the order to apply them."""
    http = sorted(spec.name for spec in index.functions.values() if spec.is_http and not spec.disabled)
    others = sorted(
        (spec for spec in index.functions.values() if not spec.is_http and not spec.disabled),
        key=lambda spec: spec.name,
    )
    meta = {"namespace": namespace, "labels": {"app.kubernetes.io/part-of": name}}
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, **meta},
            "type": "Opaque",
            "stringData": settings,
        }
    ]

    def deployment(suffix: str, functions: list[str], replicas: int) -> dict[str, Any]:
        label = f"{name}-{suffix}"

        def probe(path: str) -> dict[str, Any]:
            return {"httpGet": {"path": path, "port": PORT}, "periodSeconds": 10, "timeoutSeconds": 5}

        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": label, **meta},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": label}},
                "template": {
                    "metadata": {"labels": {"app": label}},
                    "spec": {
                        "containers": [
                            {
                                "name": label,
                                "image": image,
                                "args": [
                                    "funchost",
                                    "start",
                                    "--production",
                                    "--address",
                                    "0.0.0.0",
                                    "--port",
                                    str(PORT),
                                    "--functions",
                                    *functions,
                                ],
                                "ports": [{"containerPort": PORT, "name": "http"}],
                                "envFrom": [{"secretRef": {"name": name}}],
                                # one host id for every replica, so they share leases
                                "env": [{"name": "AzureFunctionsWebHost__hostid", "value": name}],
                                # ready once every listener runs; alive while the host answers
                                "readinessProbe": {**probe("/admin/host/ready"), "initialDelaySeconds": 1},
                                "livenessProbe": {
                                    **probe("/admin/host/ping"),
                                    "initialDelaySeconds": 10,
                                    "failureThreshold": 3,
                                },
                            }
                        ]
                    },
                },
            },
        }

    if http:
        documents.append(deployment("http", http, 1))
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{name}-http", **meta},
                "spec": {
                    "type": "LoadBalancer",
                    "selector": {"app": f"{name}-http"},
                    "ports": [{"protocol": "TCP", "port": 80, "targetPort": PORT, "name": "http"}],
                },
            }
        )
    if others:
        # a family with no scaler that still needs a running worker (timers) keeps one replica up
        families = [CATALOG.trigger(spec.trigger_type) for spec in others]
        always_on = any(family is not None and family.always_on for family in families)
        documents.append(deployment("worker", [spec.name for spec in others], 1))
        triggers = [scaler for scaler in (_scaler(spec, host_config) for spec in others) if scaler]
        for connection in sorted({trigger["connection"] for trigger in triggers}):
            documents.append(
                {
                    "apiVersion": "keda.sh/v1alpha1",
                    "kind": "TriggerAuthentication",
                    "metadata": {"name": _dns_name(f"{name}-{connection}"), **meta},
                    "spec": {
                        "secretTargetRef": [{"parameter": "connection", "name": name, "key": connection}]
                        + (
                            [{"parameter": "storageConnection", "name": name, "key": "AzureWebJobsStorage"}]
                            if any(t["storage_connection"] and t["connection"] == connection for t in triggers)
                            else []
                        )
                    },
                }
            )
        if triggers:
            documents.append(
                {
                    "apiVersion": "keda.sh/v1alpha1",
                    "kind": "ScaledObject",
                    "metadata": {"name": f"{name}-worker", **meta},
                    "spec": {
                        "scaleTargetRef": {"name": f"{name}-worker"},
                        "minReplicaCount": 1 if always_on else 0,
                        "maxReplicaCount": 10,
                        "pollingInterval": 5,
                        "cooldownPeriod": 300,
                        "triggers": [
                            {
                                "type": t["type"],
                                "name": t["name"],
                                "metadata": t["metadata"],
                                "authenticationRef": {"name": _dns_name(f"{name}-{t['connection']}")},
                            }
                            for t in triggers
                        ],
                    },
                }
            )
    return documents
