"""The host id that instances of one app share, derived as the real host derives it."""

from __future__ import annotations

from funchost.config import AppSettings
from funchost.config.host_settings import host_id as derive_host_id
from funchost.config.host_settings import load_host_settings


def host_id(tmp_path, **settings: str) -> str:
    return derive_host_id(AppSettings(settings), tmp_path.resolve())


def test_the_host_settings_carry_the_id_and_do_not_write_the_allow_list_to_the_environment(tmp_path):
    environ = {"WEBSITE_SITE_NAME": "orders"}
    loaded = load_host_settings(tmp_path, functions=["a", "b"], environ=environ)
    assert loaded.host_id == "orders"
    assert loaded.host_config.function_allow_list == ["a", "b"]
    assert not any(name.startswith("AzureFunctionsJobHost") for name in environ)
    assert environ["AZURE_FUNCTIONS_ENVIRONMENT"] == "Development"  # what user code reads, as on the platform


def test_explicit_host_id_wins(tmp_path):
    assert host_id(tmp_path, AzureFunctionsWebHost__hostid="My-App", WEBSITE_SITE_NAME="site") == "my-app"


def test_site_name_is_shared_by_every_machine(tmp_path):
    long_name = "Orders-Processing-Function-App-West-Europe"
    assert host_id(tmp_path, WEBSITE_SITE_NAME=long_name) == long_name.lower()[:32]
    assert host_id(tmp_path / "elsewhere", WEBSITE_SITE_NAME="orders") == "orders"


def test_locally_the_machine_and_the_app_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = host_id(tmp_path / "a"), host_id(tmp_path / "b")
    assert first != second and len(first) <= 32
    assert host_id(tmp_path / "a") == first  # stable across restarts
