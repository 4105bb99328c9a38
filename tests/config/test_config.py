"""host.json, local.settings.json and app settings, read from real files as the real host reads them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from funchost.config import (
    AppSettings,
    HostConfigError,
    MissingSettingError,
    apply_to_environ,
    load_host_json,
    load_local_settings,
    parse_bool,
    parse_time,
    parse_timespan,
    setting_is_on,
)


def write(folder: Path, name: str, content: str | dict) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return folder


def test_a_missing_host_json_means_defaults(tmp_path):
    config = load_host_json(tmp_path, environ={})
    assert config.route_prefix == "api"
    assert config.log_levels == {}  # the console then logs from Information
    assert config.function_allow_list is None
    assert config.path is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"version": "1.0"},
            "'1.0' is an invalid value for host.json 'version' property. "
            "We recommend you set the 'version' property to '2.0'.",
        ),
        ({"logging": {}}, "The host.json file is missing the required 'version' property."),
        ('{"version": "2.0",', "Unable to parse host configuration file '"),
    ],
)
def test_host_json_errors_use_the_real_hosts_words(tmp_path, content, message):
    with pytest.raises(HostConfigError) as raised:
        load_host_json(write(tmp_path, "host.json", content), environ={})
    assert message in str(raised.value)


def test_unknown_keys_are_kept_and_lookups_ignore_case(tmp_path):
    app = write(
        tmp_path,
        "host.json",
        {
            "version": "2.0",
            "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
            "Extensions": {"HTTP": {"RoutePrefix": "/v1/"}},
            "logging": {"logLevel": {"default": "Warning"}, "applicationInsights": {"samplingSettings": {}}},
        },
    )
    config = load_host_json(app, environ={})
    assert config.route_prefix == "v1"
    assert config.log_levels == {"default": "Warning"}
    assert config.get("extensionBundle.id") == "Microsoft.Azure.Functions.ExtensionBundle"


def test_environment_overrides_any_host_json_setting(tmp_path):
    app = write(
        tmp_path, "host.json", {"version": "2.0", "extensions": {"queues": {"batchSize": 16}}, "functions": ["a", "b"]}
    )
    config = load_host_json(
        app,
        environ={
            "AzureFunctionsJobHost__extensions__http__routePrefix": "",
            "azurefunctionsjobhost__Extensions__Queues__BatchSize": "4",
            "AzureFunctionsJobHost__functions__1": "c",
            "AzureFunctionsJobHost__functionTimeout": "00:00:05",
            "Unrelated": "x",
        },
    )
    assert config.route_prefix == ""
    assert config.get("extensions.queues.batchSize") == 4
    assert config.function_allow_list == ["a", "c"]
    assert config.timespan("functionTimeout", None) == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("00:00:01.5", timedelta(seconds=1.5)),
        ("-1", None),
    ],
)
def test_timespans(text, expected):
    assert parse_timespan(text) == expected


@pytest.mark.parametrize("text", ["5 minutes", "25:00:00", "00:61:00", ""])
def test_bad_timespans_are_errors(text):
    with pytest.raises(ValueError, match="not a valid time span"):
        parse_timespan(text)


def test_local_settings_values_go_to_the_environment_unless_already_set(tmp_path):
    app = write(
        tmp_path,
        "local.settings.json",
        {
            "IsEncrypted": False,
            "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", "Greeting": "hi", "Flag": True, "Count": 3, "Empty": None},
            "ConnectionStrings": {"Db": "Server=x", "Other": {"ConnectionString": "Server=y", "ProviderName": "p"}},
            "Host": {"LocalHttpPort": 7072, "CORS": "http://a.test, http://b.test", "CORSCredentials": True},
        },
    )
    settings = load_local_settings(app)
    assert settings.warnings == []
    assert (settings.local_http_port, settings.cors, settings.cors_credentials) == (
        7072,
        ["http://a.test", "http://b.test"],
        True,
    )
    environ = {"Greeting": "from the environment"}
    skipped = apply_to_environ(settings, environ)
    assert skipped == [
        "Skipping 'Greeting' from local settings as it's already defined in current environment variables."
    ]
    assert environ["Greeting"] == "from the environment"
    assert (environ["FUNCTIONS_WORKER_RUNTIME"], environ["Flag"], environ["Count"], environ["Empty"]) == (
        "python",
        "true",
        "3",
        "",
    )
    assert environ["ConnectionStrings:Db"] == "Server=x" and environ["ConnectionStrings:Other"] == "Server=y"


def test_invalid_local_settings_is_one_warning_and_no_settings(tmp_path):
    app = write(tmp_path, "local.settings.json", '{"Values": {"A": "1"\n  "B": }}')
    settings = load_local_settings(app)
    assert settings.values == {}
    assert len(settings.warnings) == 1
    assert settings.warnings[0].startswith("Failed to read app settings file at '")
    assert "Ensure it is a valid JSON file." in settings.warnings[0]
    assert "line 2, column 3" in settings.warnings[0]


def test_local_settings_and_host_json_are_read_as_leniently_as_json_net(tmp_path):
    app = write(
        tmp_path, "local.settings.json", '\ufeff{\n  // dev values\n  "Values": {"A": "1", /* b */ "B": "2",},\n}'
    )
    assert load_local_settings(app).values == {"A": "1", "B": "2"}
    write(tmp_path, "host.json", '{"version": "2.0", // v\n "extensions": {"http": {"routePrefix": "x",},},}')
    assert load_host_json(tmp_path, environ={}).route_prefix == "x"


def test_a_missing_local_settings_file_means_no_settings(tmp_path):
    settings = load_local_settings(tmp_path)
    assert settings.values == {} and settings.warnings == [] and settings.path is None


def test_app_settings_match_names_like_dotnet_configuration():
    settings = AppSettings(
        {"MyQueue": "orders", "AzureWebJobs__Send__Disabled": "true", "AzureWebJobs.Other.Disabled": "1"}
    )
    assert settings.get("myqueue") == "orders"
    assert settings.resolve("%MyQueue%-poison") == "orders-poison"
    assert settings.is_function_disabled("send") and settings.is_function_disabled("Other")
    assert not settings.is_function_disabled("orders")
    with pytest.raises(MissingSettingError) as raised:
        settings.resolve("%Nope%")
    assert str(raised.value) == "The app setting 'Nope' used in '%Nope%' is not set."


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("true", True), ("TRUE", True), (" False ", False), ("1", True), ("0", False),
    (1, True), (0, False), (None, None), ("", None),
])  # fmt: skip
def test_booleans_in_json_and_binding_settings_read_as_json_net_reads_them(value, expected):
    assert parse_bool(value, default=None) is expected  # type: ignore[arg-type]


def test_a_boolean_that_is_not_one_is_an_error_naming_the_setting():
    with pytest.raises(ValueError, match="runOnStartup is 'yes', which is not true or false"):
        parse_bool("yes", name="runOnStartup")


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("Yes", True), ("0", False), ("false", False), ("on", False), (None, False),
])  # fmt: skip
def test_app_setting_switches_read_as_the_python_worker_reads_them(value, expected):
    assert setting_is_on(value) is expected


@pytest.mark.parametrize("text", [
    "2024-05-01T10:00:00.1234567+00:00", "2024-05-01T10:00:00.1234567Z", "2024-05-01T10:00:00.123456Z",
    "2024-05-01T10:00:00.123456",
])  # fmt: skip
def test_times_read_as_dotnet_and_azure_write_them(text):
    assert parse_time(text) == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)


def test_a_time_that_is_not_one_is_an_error():
    with pytest.raises(ValueError):
        parse_time("yesterday")
