"""Configuration: the schema (`models`). Reading and checking a file against the checks
and reasons the code knows is `pipeline.configuration`, a layer above the checks."""

from pipeline.domain import Action
from pipeline.settings.directory import MeetingSettings
from pipeline.settings.models import Security, Settings

__all__ = [
    "Action",
    "MeetingSettings",
    "Security",
    "Settings",
]
