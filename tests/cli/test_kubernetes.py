"""funchost kubernetes manifests: validated against the Kubernetes and KEDA schemas (the
kubernetes-models validators from npm, pinned in tests/kubernetes), and checked for what a
cluster needs to run and scale the app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli.test_workflow import funchost
from tests.conftest import write_app

VALIDATOR = Path(__file__).resolve().parent.parent / "kubernetes"

APP = {
    "local.settings.json": {
        "IsEncrypted": False,
        "Values": {
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "Bus": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v",
            "GREETING": "hello",
        },
    },
    "host.json": {"version": "2.0", "extensions": {"queues": {"batchSize": 8}}},
    "function_app.py": """
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="hello")
        def hello(req: func.HttpRequest) -> str:
            return "hi"

        @app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
        def orders(msg: func.QueueMessage) -> None:
            pass

        @app.blob_trigger(arg_name="blob", path="uploads/in/{name}", connection="AzureWebJobsStorage")
        def uploads(blob: func.InputStream) -> None:
            pass

        @app.service_bus_topic_trigger(arg_name="msg", topic_name="events", subscription_name="audit",
                                       connection="Bus")
        def audit(msg: func.ServiceBusMessage) -> None:
            pass

        @app.event_hub_message_trigger(arg_name="event", event_hub_name="telemetry", connection="Bus")
        def telemetry(event: func.EventHubEvent) -> None:
            pass

        @app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer")
        def tidy(timer: func.TimerRequest) -> None:
            pass
    """,
}


def validator_installed() -> bool:
    if not (VALIDATOR / "node_modules").is_dir() and shutil.which("npm"):
        subprocess.run(
            ["npm", "ci", "--prefix", str(VALIDATOR), "--no-audit", "--no-fund"],
            capture_output=True,
            timeout=600,
            check=False,
        )
    return (VALIDATOR / "node_modules").is_dir() and shutil.which("node") is not None


def test_manifests_validate_and_scale_each_trigger_with_keda(tmp_path):
    app = write_app(tmp_path / "Orders App", APP)
    made = funchost(
        "kubernetes",
        "manifests",
        "--script-root",
        str(app),
        "--image",
        "registry.local/orders:1",
        "--namespace",
        "shop",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    documents = list(yaml.safe_load_all(made.stdout))
    if validator_installed():
        checked = subprocess.run(
            ["node", str(VALIDATOR / "validate.js")],
            input=json.dumps(documents),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    elif os.environ.get("FUNCHOST_REQUIRE_AZURITE"):
        pytest.fail("the schema validators are not installed: npm ci --prefix tests/kubernetes")
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    assert all(d["metadata"]["namespace"] == "shop" for d in documents)
    secret = by_kind[("Secret", "orders-app")]["stringData"]
    assert secret["Bus"].startswith("Endpoint=sb://") and secret["GREETING"] == "hello"
    assert secret["AzureWebJobsStorage"] == "" and "FUNCTIONS_WORKER_RUNTIME" not in secret  # dev-only: left empty
    assert "'AzureWebJobsStorage' is empty" in made.stderr
    web, worker = by_kind[("Deployment", "orders-app-http")], by_kind[("Deployment", "orders-app-worker")]
    web_container = web["spec"]["template"]["spec"]["containers"][0]
    assert web_container["image"] == "registry.local/orders:1"
    assert web_container["args"][-2:] == ["--functions", "hello"]
    assert web_container["readinessProbe"]["httpGet"]["path"] == "/admin/host/ready"
    assert web_container["livenessProbe"]["httpGet"]["path"] == "/admin/host/ping"
    worker_container = worker["spec"]["template"]["spec"]["containers"][0]
    assert set(worker_container["args"][worker_container["args"].index("--functions") + 1 :]) == {
        "orders",
        "uploads",
        "audit",
        "telemetry",
        "tidy",
    }
    for container in (web_container, worker_container):  # one host id: replicas share leases
        assert {"name": "AzureFunctionsWebHost__hostid", "value": "orders-app"} in container["env"]
        assert container["envFrom"] == [{"secretRef": {"name": "orders-app"}}]
    assert by_kind[("Service", "orders-app-http")]["spec"]["selector"] == {"app": "orders-app-http"}
    scaled = by_kind[("ScaledObject", "orders-app-worker")]["spec"]
    assert scaled["scaleTargetRef"] == {"name": "orders-app-worker"} and scaled["minReplicaCount"] == 1  # a timer
    triggers = {t["name"]: t for t in scaled["triggers"]}
    assert set(triggers) == {"orders", "uploads", "audit", "telemetry"}
    assert triggers["orders"]["type"] == "azure-queue"
    assert triggers["orders"]["metadata"] == {"queueName": "orders", "queueLength": "8"}  # host.json batchSize
    assert triggers["uploads"]["metadata"] == {"blobContainerName": "uploads", "blobCount": "5", "blobPrefix": "in/"}
    assert triggers["audit"]["type"] == "azure-servicebus" and triggers["audit"]["metadata"]["topicName"] == "events"
    assert triggers["telemetry"]["metadata"]["checkpointStrategy"] == "azureFunction"
    auth = by_kind[("TriggerAuthentication", "orders-app-bus")]["spec"]["secretTargetRef"]
    assert {"parameter": "connection", "name": "orders-app", "key": "Bus"} in auth
    assert triggers["audit"]["authenticationRef"] == {"name": "orders-app-bus"}
    storage_auth = by_kind[("TriggerAuthentication", "orders-app-azurewebjobsstorage")]["spec"]["secretTargetRef"]
    assert storage_auth == [{"parameter": "connection", "name": "orders-app", "key": "AzureWebJobsStorage"}]


def test_a_bad_manifest_would_be_caught_by_the_validator(tmp_path):
    """The validator itself refuses what the schemas refuse (so its passing above means something)."""
    if not validator_installed():
        pytest.skip("the schema validators are not installed (npm ci --prefix tests/kubernetes)")
    broken = [
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "x"},
            "spec": {"triggers": [{"type": "azure-queue", "metadata": {}}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "selector": {},
                "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}},
            },
        },
    ]
    checked = subprocess.run(
        ["node", str(VALIDATOR / "validate.js")], input=json.dumps(broken), capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 1 and "2 problem(s)" in checked.stdout
