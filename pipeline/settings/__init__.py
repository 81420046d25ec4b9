"""Configuration: the schema (`models`) and how it is read (`loader`)."""

from pipeline.settings.loader import ConfigError, load_settings, parse_settings
from pipeline.settings.models import Action, MeetingSettings, Security, Settings

__all__ = [
    "Action",
    "ConfigError",
    "MeetingSettings",
    "Security",
    "Settings",
    "load_settings",
    "parse_settings",
]
