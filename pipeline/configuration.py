"""Read the configuration file and the environment, and explain any mistake in one sentence.

Operators edit this file by hand, often in a hurry: an error names the file, the key and
what is wrong, and the CLI turns it into exit code 2. The schema is `pipeline.settings`;
this module sits above the checks, because a file is also checked against the checks
and reason codes the code knows (the decision table).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.checks.registry import ALL_CHECKS, KNOWN_REASONS
from pipeline.errors import IntakeUsageError
from pipeline.settings.models import Settings

ENV_PREFIX = "INTAKE_"
ENV_CONFIG = "INTAKE_CONFIG"


class ConfigError(IntakeUsageError):
    """The configuration cannot be used; the message is one sentence for the operator."""


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """`INTAKE_MAILBOX__PASSWORD=x` becomes {"mailbox": {"password": "x"}}.

    Secrets belong in the environment (or a systemd credential), not in a file that is
    copied around; this lets any key be set that way.
    """
    overrides: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if len(path) < 2 or not all(path):
            continue
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return overrides


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"] if part != "__root__")
    message = first["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if first["type"] == "extra_forbidden":
        message = (
            "is not a known setting (check the spelling against intake.example.toml, "
            "which `intake texts export DIR` writes)"
        )
    elif first["type"] == "missing":
        message = "is required"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{location}: {message}{suffix}" if location else f"{message}{suffix}"


def parse_settings(
    data: Mapping[str, Any], *, source: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate a parsed TOML document plus environment overrides."""
    merged = _deep_merge(dict(data), _env_overrides(os.environ if environ is None else environ))
    merged["source"] = source
    where = f"{source}: " if source is not None else ""
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(where + _describe(error)) from None
    problem = _check_tables(settings)
    if problem:
        raise ConfigError(where + problem)
    return settings


def _check_tables(settings: Settings) -> str | None:
    for name in settings.checks:
        if name not in ALL_CHECKS:
            known = ", ".join(sorted(ALL_CHECKS))
            return f"checks: unknown check {name!r} (known: {known})"
    for code in settings.decision:
        if code not in KNOWN_REASONS:
            return f"decision: unknown reason code {code!r} (see docs/reasons.md)"
    for name in settings.checks:
        for code in ALL_CHECKS[name].reasons:
            if code not in settings.decision:
                return f"decision: no action for reason code {code!r} of check {name!r}"
    return None


def load_settings(
    path: Path | str | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load the file given, or the one named by INTAKE_CONFIG."""
    env = os.environ if environ is None else environ
    if path is None:
        named = env.get(ENV_CONFIG)
        if not named:
            raise ConfigError(
                "no configuration file: pass --config PATH or set INTAKE_CONFIG "
                "(`intake texts export DIR` writes a documented example, intake.example.toml)"
            )
        path = named
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: the configuration file does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot be read ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: is not valid TOML: {error}") from None
    return parse_settings(data, source=file, environ=env)
