"""The host id that instances of one app share, derived as the real host derives it."""

from __future__ import annotations

from funchost.config import AppSettings
from funchost.host.instance import HostInstance
from funchost.host.options import HostOptions


def host_id(tmp_path, **settings: str) -> str:
    instance = HostInstance(HostOptions(script_root=tmp_path))
    instance.settings = AppSettings(settings)
    return instance.host_id()


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
