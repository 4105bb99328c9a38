"""Configuration: host.json, local.settings.json and app settings."""

from funchost.config.app_settings import AppSettings, MissingSettingError
from funchost.config.hostjson import HostConfig, HostConfigError, load_host_json
from funchost.config.local_settings import (
    EncryptedSettingsError,
    LocalSettings,
    apply_to_environ,
    load_local_settings,
)
from funchost.config.values import parse_bool, parse_time, parse_timespan, setting_is_on

__all__ = [
    "AppSettings",
    "EncryptedSettingsError",
    "HostConfig",
    "HostConfigError",
    "LocalSettings",
    "MissingSettingError",
    "apply_to_environ",
    "load_host_json",
    "load_local_settings",
    "parse_bool",
    "parse_time",
    "parse_timespan",
    "setting_is_on",
]
