"""The CLI as a Core Tools user expects it, through real `funchost` subprocesses."""

from __future__ import annotations

import json

from tests.cli.test_workflow import funchost
from tests.conftest import write_app
from tests.waiting import wait_until

UNSUPPORTED_APP = {
    "function_app.py": """
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="fine")
        def fine(req: func.HttpRequest) -> str:
            return "fine"

        @app.sql_trigger(arg_name="changes", table_name="dbo.Items", connection_string_setting="Sql")
        def on_change(changes: str) -> None:
            pass
    """,
}


def test_init_writes_an_app_without_functions_and_new_works_right_after(tmp_path, host):
    created = funchost("init", "quick", "--worker-runtime", "python", "--docker", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    app = tmp_path / "quick"
    assert (app / "function_app.py").read_text() == "import azure.functions as func\n\napp = func.FunctionApp()\n"
    dockerfile = (app / "Dockerfile").read_text()
    assert 'CMD ["funchost", "start", "--production"' in dockerfile and "USER " in dockerfile
    new = funchost("new", "--template", "HTTP trigger", "--name", "hello", "-l", "python", "-a", "anonymous", cwd=app)
    assert new.returncode == 0, new.stderr
    assert "function_app.py" in new.stdout  # the success line names the file it changed
    assert host(app).request("GET", "/api/hello?name=Ann").text.startswith("Hello, Ann.")
    # v1: no function folder; --python is accepted
    v1 = funchost("init", "old", "--model", "v1", "--python", cwd=tmp_path)
    assert v1.returncode == 0, v1.stderr
    assert not [p for p in (tmp_path / "old").iterdir() if (p / "function.json").exists()]
    assert not (tmp_path / "old" / "function_app.py").exists()
    # in an existing project, existing files are kept and the missing ones written
    (app / ".funcignore").unlink()
    (app / "host.json").write_text('{"version": "2.0", "mine": true}')
    again = funchost("init", "quick", cwd=tmp_path)
    assert again.returncode == 0 and "host.json already exists. Skipped!" in again.stdout
    assert json.loads((app / "host.json").read_text())["mine"] is True and (app / ".funcignore").exists()
    assert "@app.route" in (app / "function_app.py").read_text()
    wrong = funchost("init", "js", "--worker-runtime", "node", cwd=tmp_path)
    assert wrong.returncode == 1 and "Python function apps only" in wrong.stderr


def test_new_refuses_keywords_and_names_that_clash_ignoring_case(tmp_path):
    funchost("init", "app", cwd=tmp_path)
    app = tmp_path / "app"
    keyword = funchost("new", "-t", "http", "-n", "class", cwd=app)
    assert keyword.returncode == 1 and "'class' is a Python keyword" in keyword.stderr
    assert funchost("new", "-t", "http", "-n", "Orders", cwd=app).returncode == 0
    clash = funchost("new", "-t", "queue", "-n", "orders", cwd=app)
    assert clash.returncode == 1 and "already has a function named 'Orders'" in clash.stderr
    in_blueprint = funchost("new", "-t", "queue", "-n", "ORDERS", "--blueprint", "jobs", cwd=app)
    assert in_blueprint.returncode == 1 and not (app / "jobs.py").exists()
    funchost("init", "v1app", "--model", "v1", cwd=tmp_path)
    assert funchost("new", "-t", "timer", "-n", "Nightly", cwd=tmp_path / "v1app").returncode == 0
    clash_v1 = funchost("new", "-t", "timer", "-n", "NIGHTLY", cwd=tmp_path / "v1app")
    assert clash_v1.returncode == 1 and "already has a function named 'Nightly'" in clash_v1.stderr
    assert funchost("new", "-t", "http", "-n", "x", "--language", "java", cwd=app).returncode == 1


def test_check_and_list_name_a_binding_funchost_does_not_run(tmp_path, host):
    app = write_app(tmp_path / "app", UNSUPPORTED_APP)
    check = funchost("check", cwd=app)
    assert check.returncode == 1
    assert "Function 'on_change'" in check.stderr and "'sqlTrigger'" in check.stderr
    assert "not supported by funchost yet" in check.stderr
    listed = json.loads(funchost("list", "--json", cwd=app).stdout)
    assert [f["name"] for f in listed["functions"]] == ["fine"]
    assert any("'sqlTrigger'" in error for error in listed["errors"])
    process = host(app)
    assert process.request("GET", "/api/fine").text == "fine"
    assert "'sqlTrigger' are not supported by funchost yet" in process.output
    assert "run it by hand" not in process.output


def test_start_takes_core_tools_flags_and_names_unknown_ones(tmp_path, host):
    app = write_app(
        tmp_path / "app",
        {
            "function_app.py": """
        import time
        import azure.functions as func

        time.sleep(float(__import__("os").environ.get("SLOW_IMPORT", "0")))
        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="hi")
        def hi(req: func.HttpRequest) -> str:
            return "hi"
    """
        },
    )
    process = host(app, "-t", "30", "--language-worker", "-X dev", "--no-build")
    assert process.request("GET", "/api/hi").text == "hi"
    assert "--language-worker has no effect" in process.output and "--no-build has no effect" in process.output
    unknown = funchost("start", "--bogus", cwd=app)
    assert unknown.returncode == 2 and "unknown option '--bogus'" in unknown.stderr
    stray = funchost("start", "now", cwd=app)
    assert stray.returncode == 2 and "unknown argument 'now'" in stray.stderr and "invalid choice" not in stray.stderr
    slow = host(app, "--timeout", "1", env={"SLOW_IMPORT": "8"}, ready=False)
    wait_until(lambda: slow.process.poll() is not None, 20, "the slow host did not give up")
    assert slow.process.returncode == 1
    assert "The host did not start within 1 seconds" in slow.output


def test_a_blob_trigger_run_by_hand_reads_the_blob_at_the_path_given(tmp_path, host):
    funchost("init", "app", cwd=tmp_path)
    app = tmp_path / "app"
    assert funchost("new", "-t", "blob", "-n", "on_blob", cwd=app).returncode == 0
    upload = tmp_path / "doc.txt"
    upload.write_text("twelve bytes")
    assert funchost("storage", "upload", "samples-workitems/doc.txt", str(upload), cwd=app).returncode == 0
    invoked = funchost("invoke", "on_blob", "--data", "samples-workitems/doc.txt", cwd=app)
    assert invoked.returncode == 0, invoked.stderr
    assert "processed blob samples-workitems/doc.txt (12 bytes)" in invoked.stdout
    missing = funchost("invoke", "on_blob", "--data", "samples-workitems/nope.txt", cwd=app)
    assert missing.returncode == 1 and "the blob 'samples-workitems/nope.txt' does not exist" in missing.stderr
    process = host(app, "--no-reload")
    process.wait_for_output("processed blob samples-workitems/doc.txt (12 bytes)", timeout=15)  # the scan
    upload.write_text("a longer body now")
    funchost("storage", "upload", "samples-workitems/again.txt", str(upload), cwd=app)
    posted = process.request("POST", "/admin/functions/on_blob", json.dumps({"input": "samples-workitems/doc.txt"}))
    assert posted.status == 202
    wait_until(
        lambda: process.output.count("processed blob samples-workitems/doc.txt (12 bytes)") >= 2,
        15,
        "the run by hand did not happen",
    )


def test_settings_encrypt_covers_connection_strings(tmp_path, host):
    funchost("init", "app", cwd=tmp_path)
    app = tmp_path / "app"
    env = {"FUNCHOST_SETTINGS_KEY_FILE": str(tmp_path / "keys" / "settings.key")}
    assert funchost("settings", "add", "Db", "Server=secret", "--connectionString", cwd=app, env=env).returncode == 0
    assert funchost("settings", "encrypt", cwd=app, env=env).returncode == 0
    text = (app / "local.settings.json").read_text()
    assert "Server=secret" not in text
    assert json.loads(text)["ConnectionStrings"]["Db"]["ConnectionString"].startswith("funchost:")
    assert "Value: Server=secret" in funchost("settings", "list", "--showValue", cwd=app, env=env).stdout
    with (app / "function_app.py").open("a") as code:
        code.write(
            "\n\nimport os\n\n\n@app.route(route='db', auth_level=func.AuthLevel.ANONYMOUS)\n"
            "def db(req):\n    return os.environ['ConnectionStrings:Db']\n"
        )
    assert host(app, env=env).request("GET", "/api/db").text == "Server=secret"
    assert funchost("settings", "decrypt", cwd=app, env=env).returncode == 0
    assert (
        json.loads((app / "local.settings.json").read_text())["ConnectionStrings"]["Db"]["ConnectionString"]
        == "Server=secret"
    )


def test_start_refuses_a_folder_that_is_not_a_function_app(tmp_path):
    empty = funchost("start", cwd=tmp_path)
    assert empty.returncode == 1
    assert f"'{tmp_path.resolve()}' is not a function app (it has no host.json)" in empty.stderr
    (tmp_path / "src").mkdir()  # a --script-root that exists but is not the app
    wrong = funchost("start", "--script-root", "src", cwd=tmp_path)
    assert wrong.returncode == 1 and f"'{(tmp_path / 'src').resolve()}' is not a function app" in wrong.stderr
