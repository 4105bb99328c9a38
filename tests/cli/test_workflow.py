"""The developer workflow through the real CLI in subprocesses: init, new, check, invoke, settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def funchost(*args: str, cwd: Path, env: dict[str, str] | None = None, input_text: str | None = None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "funchost", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        input=input_text,
    )


@pytest.mark.parametrize("model", ["v2", "v1"])
def test_init_new_every_template_then_start_and_invoke(tmp_path, host, model):
    created = funchost("init", "app", "--model", model, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    app = tmp_path / "app"
    settings = json.loads((app / "local.settings.json").read_text())
    assert settings["Values"] == {"FUNCTIONS_WORKER_RUNTIME": "python", "AzureWebJobsStorage": ""}
    assert ".funchost/" in (app / ".gitignore").read_text()
    assert "azure-functions" in (app / "requirements.txt").read_text()
    assert not (app / "function_app.py").exists() or "@app." not in (app / "function_app.py").read_text()
    again = funchost("init", "app", "--model", model, cwd=tmp_path)
    assert again.returncode == 0 and "host.json already exists. Skipped!" in again.stdout
    for template, name in [
        ("HTTP trigger", "orders"),
        ("Timer trigger", "nightly"),
        ("Queue trigger", "process_order"),
        ("Blob trigger", "on_blob"),
        ("Azure Service Bus Queue trigger", "on_sb_queue"),
        ("ServiceBus Topic trigger", "on_sb_topic"),
        ("Azure Event Hub trigger", "on_event"),
        ("Azure Event Grid trigger", "on_grid"),
        ("Azure Cosmos DB trigger", "on_change"),
    ]:
        result = funchost("new", "--template", template, "--name", name, "--authlevel", "anonymous", cwd=app)
        assert result.returncode == 0, result.stderr
    if model == "v2":
        blueprint = funchost("new", "-t", "http", "-n", "from_blueprint", "--blueprint", "more", cwd=app)
        assert blueprint.returncode == 0, blueprint.stderr
    else:
        assert json.loads((app / "orders" / "function.json").read_text())["bindings"][0]["authLevel"] == "anonymous"
    check = funchost("check", cwd=app)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 error(s)" in check.stdout
    listed = json.loads(funchost("list", "--json", cwd=app).stdout)
    triggers = {f["name"]: f["trigger"] for f in listed["functions"]}
    assert triggers["orders"] == "httpTrigger" and triggers["nightly"] == "timerTrigger"
    assert triggers["process_order"] == "queueTrigger" and triggers["on_blob"] == "blobTrigger"
    assert triggers["on_sb_queue"] == triggers["on_sb_topic"] == "serviceBusTrigger"
    assert triggers["on_event"] == "eventHubTrigger"
    by_hand = funchost("invoke", "on_sb_queue", "--data", "sb-by-hand", cwd=app)
    assert by_hand.returncode == 0 and "ServiceBus trigger processed a message: sb-by-hand" in by_hand.stdout
    by_hand = funchost("invoke", "on_event", "--data", "event-by-hand", cwd=app)
    assert by_hand.returncode == 0 and "EventHub trigger processed an event: event-by-hand" in by_hand.stdout
    by_hand = funchost(
        "invoke", "on_grid", "--data", '{"id": "g-1", "subject": "s", "eventType": "T", "data": 7}', cwd=app
    )
    assert by_hand.returncode == 0 and '"id": "g-1", "subject": "s", "event_type": "T", "data": 7' in by_hand.stdout
    by_hand = funchost("invoke", "on_change", "--data", '[{"id": "d-1"}, {"id": "d-2"}]', cwd=app)
    assert by_hand.returncode == 0 and "2 document(s) changed, the first is d-1" in by_hand.stdout
    invoked = funchost("invoke", "process_order", "--data", "order-42", cwd=app)
    assert invoked.returncode == 0 and "processed a message: order-42" in invoked.stdout
    assert funchost("invoke", "nightly", cwd=app).returncode == 0
    http = funchost("invoke", "orders", "--query", "name=Ann", cwd=app)
    assert "HTTP 200" in http.stdout and "Hello, Ann." in http.stdout
    # the new functions run unchanged under start
    process = host(app)
    assert process.request("GET", "/api/orders?name=Bo").text.startswith("Hello, Bo.")
    if model == "v2":
        assert process.request("GET", "/api/from_blueprint?name=Cy").text.startswith("Hello, Cy.")
    # options after the verb work as well as before it
    put = funchost("storage", "put", "myqueue-items", "from the queue", "--script-root", str(app), cwd=tmp_path)
    assert put.returncode == 0, put.stderr
    process.wait_for_output("processed a message: from the queue", timeout=15)
    upload_file = tmp_path / "doc.txt"
    upload_file.write_text("hello blob")
    assert funchost("storage", "upload", "samples-workitems/doc.txt", str(upload_file), cwd=app).returncode == 0
    process.wait_for_output("processed blob samples-workitems/doc.txt (10 bytes)", timeout=15)
    assert funchost("storage", "bus-send", "mysbqueue", "to the bus", cwd=app).returncode == 0
    process.wait_for_output("ServiceBus trigger processed a message: to the bus", timeout=15)
    assert funchost("storage", "bus-send", "mysbtopic", "to the topic", "--topic", cwd=app).returncode == 0
    process.wait_for_output("ServiceBus trigger processed a message: to the topic", timeout=15)
    assert funchost("storage", "hub-send", "myeventhub", "to the hub", cwd=app).returncode == 0
    process.wait_for_output("EventHub trigger processed an event: to the hub", timeout=15)
    listed = funchost("storage", "bus", cwd=app).stdout
    assert "mysbqueue\tqueue\t0 messages" in listed and "mysbtopic/Subscriptions/mysubscription\tsubscription" in listed
    assert "myeventhub\t4 partitions" in funchost("storage", "hubs", cwd=app).stdout
    # the generated tests pass
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_errors_are_one_clear_line(tmp_path):
    not_app = funchost("new", "-t", "http", "-n", "x", cwd=tmp_path)
    assert not_app.returncode == 1 and "is not a function app" in not_app.stderr
    funchost("init", "app", cwd=tmp_path)
    unknown = funchost("new", "-t", "carrier pigeon", "-n", "x", cwd=tmp_path / "app")
    assert unknown.returncode == 1 and "Unknown template 'carrier pigeon'" in unknown.stderr
    missing = funchost("start", "--script-root", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    templates = funchost("templates", "list", cwd=tmp_path)
    assert templates.stdout.splitlines() == [
        "Python Templates:",
        "  HTTP trigger",
        "  Timer trigger",
        "  Queue trigger",
        "  Blob trigger",
        "  Azure Service Bus Queue trigger",
        "  Azure Service Bus Topic trigger",
        "  Azure Event Hub trigger",
        "  Azure Event Grid trigger",
        "  Azure Cosmos DB trigger",
    ]
    assert "examples:" in funchost("invoke", "--help", cwd=tmp_path).stdout


def test_check_fails_on_a_broken_function(tmp_path):
    funchost("init", "app", cwd=tmp_path)
    app = tmp_path / "app"
    with (app / "function_app.py").open("a") as code:
        code.write("\n\n@app.route(route='bad')\ndef bad(req, extra):\n    return 'x'\n")
    check = funchost("check", cwd=app)
    assert check.returncode == 1
    assert "Function 'bad'" in check.stderr and "function_app.py:" in check.stderr and "'extra'" in check.stderr


def test_check_gives_one_verdict_per_function_and_fails_on_unreadable_settings(tmp_path):
    funchost("init", "app", cwd=tmp_path)
    app = tmp_path / "app"
    with (app / "function_app.py").open("a") as code:
        code.write(
            "\n\n@app.queue_trigger(arg_name='msg', queue_name='%MissingQueue%', connection='AzureWebJobsStorage')\n"
            "def orders(msg: func.QueueMessage) -> None:\n    pass\n"
            "\n\n@app.route(route='fine')\ndef fine(req: func.HttpRequest) -> str:\n    return 'x'\n"
        )
    check = funchost("check", cwd=app)
    assert check.returncode == 1
    assert "ok: fine (httpTrigger)" in check.stdout and "ok: orders" not in check.stdout
    assert "The 'orders' function is in error" in check.stderr and "MissingQueue" in check.stderr
    (app / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {')
    broken = funchost("check", cwd=app)
    assert broken.returncode == 1 and "error: Failed to read app settings file at" in broken.stderr


def test_settings_round_trip_with_encryption(tmp_path, host):
    funchost("init", "app", cwd=tmp_path)
    app = tmp_path / "app"
    env = {"FUNCHOST_SETTINGS_KEY_FILE": str(tmp_path / "keys" / "settings.key")}
    assert funchost("settings", "add", "GREETING", "hi there", cwd=app, env=env).returncode == 0
    assert funchost("settings", "add", "Db", "Server=x", "--connectionString", cwd=app, env=env).returncode == 0
    listed = funchost("settings", "list", cwd=app, env=env).stdout
    assert "   -> Name: GREETING\n      Value: *****" in listed and "ProviderName: System.Data.SqlClient" in listed
    assert "Value: hi there" in funchost("settings", "list", "--showValue", cwd=app, env=env).stdout
    assert funchost("settings", "encrypt", cwd=app, env=env).returncode == 0
    stored = json.loads((app / "local.settings.json").read_text())
    assert stored["IsEncrypted"] is True and stored["Values"]["GREETING"].startswith("funchost:")
    assert "hi there" not in (app / "local.settings.json").read_text()
    assert (tmp_path / "keys" / "settings.key").stat().st_mode & 0o077 == 0
    assert funchost("settings", "add", "SECOND", "two", cwd=app, env=env).returncode == 0
    assert "Value: two" in funchost("settings", "list", "-a", cwd=app, env=env).stdout
    # start decrypts transparently
    with (app / "function_app.py").open("a") as code:
        code.write(
            "\n\nimport os\n\n\n@app.route(route='greeting', auth_level=func.AuthLevel.ANONYMOUS)\n"
            "def greeting(req):\n    return os.environ['GREETING']\n"
        )
    process = host(app, env=env)
    assert process.request("GET", "/api/greeting").text == "hi there"
    # without the key the values cannot be read: a clear error
    no_key = funchost("check", cwd=app, env={"FUNCHOST_SETTINGS_KEY_FILE": str(tmp_path / "other.key")})
    assert no_key.returncode == 1 and "does not exist on this machine" in no_key.stderr
    assert funchost("settings", "decrypt", cwd=app, env=env).returncode == 0
    stored = json.loads((app / "local.settings.json").read_text())
    assert stored["IsEncrypted"] is False and stored["Values"]["GREETING"] == "hi there"
    assert funchost("settings", "delete", "GREETING", cwd=app, env=env).returncode == 0
    assert "GREETING" not in json.loads((app / "local.settings.json").read_text())["Values"]


def test_core_tools_encrypted_settings_are_a_clear_error(tmp_path):
    funchost("init", "app", cwd=tmp_path)
    app = tmp_path / "app"
    (app / "local.settings.json").write_text(json.dumps({"IsEncrypted": True, "Values": {"X": "CfDJ8AAAAA=="}}))
    result = funchost("check", cwd=app)
    assert result.returncode == 1 and "encrypted by Core Tools" in result.stderr
