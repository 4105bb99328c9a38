"""Key files: parsed once, read again only when they change on disk."""

from __future__ import annotations

import json

from funchost.triggers.http import keys as keys_module
from funchost.triggers.http.keys import KeyLevel, KeyStore


def test_key_files_are_parsed_once_and_again_when_they_change(tmp_path, monkeypatch):
    store = KeyStore(tmp_path / "secrets")
    master = store.master_key()
    default = store.function_secrets("hello")["keys"][0]["value"]
    parsed: list[str] = []
    real_loads = json.loads

    def counting_loads(text: str) -> object:
        parsed.append(text)
        return real_loads(text)

    monkeypatch.setattr(
        keys_module,
        "json",
        type("CountingJson", (), {"loads": staticmethod(counting_loads), "dumps": staticmethod(json.dumps)}),
    )
    for _ in range(50):
        assert store.authorize(master, "hello") is KeyLevel.ADMIN
        assert store.authorize(default, "hello") is KeyLevel.FUNCTION
        assert store.authorize("wrong", "hello") is None
    assert parsed == []  # written by this store: never parsed again
    path = tmp_path / "secrets" / "hello.json"
    content = real_loads(path.read_text())
    content["keys"][0]["value"] = "edited-by-hand-" + "x" * 30
    path.write_text(json.dumps(content, indent=4))  # another size: a changed file
    assert store.authorize("edited-by-hand-" + "x" * 30, "hello") is KeyLevel.FUNCTION
    assert store.authorize(default, "hello") is None
    assert len(parsed) == 1
