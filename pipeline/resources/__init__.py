"""The texts Intake ships with: reply templates, compilation texts, the example configuration.

They are package data, found with `importlib.resources`, so an installed `intake` (a wheel
in any virtual environment, not only a checkout) has them. An operator overrides them by
copying them out (`intake texts export DIR`) and editing the copy: a folder beside the
configuration file, or the folder named in the configuration, is searched first, file by
file, and what it lacks still comes from here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pipeline.errors import IntakeUsageError

TEMPLATES = "templates"
COMPILATION = "compilation"
EXAMPLE_CONFIG = "intake.example.toml"


class ResourceError(IntakeUsageError):
    """The installed package lacks its own texts (a broken installation)."""


def packaged(*parts: str) -> Path:
    """A file or folder of the shipped texts, as a path on disk.

    Intake is installed as ordinary files (a wheel or a checkout), never imported from a
    zip archive, so the resources are real paths that Jinja and `tomllib` can read.
    """
    root = resources.files(__name__)
    target = root.joinpath(*parts)
    path = Path(str(target))
    if not isinstance(target, Path) or not path.exists():
        where = "/".join(parts)
        raise ResourceError(
            f"the installed Intake package lacks its texts ({where}): reinstall it "
            "with `pip install --force-reinstall intake`"
        )
    return path
