"""The service desk's sections: `[desk]` (its address, the digest, users defined in the
file) and `[web]` (the dashboard: where it listens, its session key, sign-in limits)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from pipeline.settings.base import Port, Strict


class DeskUserSettings(Strict):
    """A desk user defined in the file; `intake users add` stores users in the database."""

    name: str = Field(min_length=1, max_length=120)
    password_hash: str = Field(min_length=20, description="argon2 hash: intake users hash")


class DeskSettings(Strict):
    """The service desk: where the daily digest goes, who may use the dashboard."""

    address: str | None = None
    digest_time: str = "07:00"
    digest_timezone: str = "America/New_York"
    # `intake health` calls the worker unhealthy when its last good run is older than this.
    max_run_age_minutes: int = Field(default=30, ge=1)
    users: list[DeskUserSettings] = Field(default_factory=list)

    @field_validator("digest_time")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"{value!r} is not a time like '07:00'")
        return value

    @field_validator("digest_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise ValueError(f"{value!r} is not an email address")
        return value


MIN_SECRET_KEY_LENGTH = 32
MAKE_SECRET_KEY = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'  # noqa: S105


def secret_key_problem(key: str) -> str | None:
    """Why `key` is too weak to sign session cookies, or None.

    A weak key is found offline from any cookie the login page hands out (three
    characters took half a second) and then signs a cookie for anyone. What a machine made
    at random passes: 32 characters or more, at least 8 different ones (32 hexadecimal
    digits have fewer than 8 once in a million), no pattern repeated (three quarters of
    its three-character runs differ) and not a sequence (`abcd...`, `0123...`). A word,
    a name or a passphrase can pass these and is still weak: make the key with a program.
    """
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"it has {len(key)} characters"
    if len(set(key)) < 8:
        return "it has too few different characters"
    runs = [key[i : i + 3] for i in range(len(key) - 2)]
    if len(set(runs)) < 0.75 * len(runs):
        return "it repeats a pattern"
    steps = sum(1 for i in range(len(key) - 1) if abs(ord(key[i]) - ord(key[i + 1])) == 1)
    if steps >= (len(key) - 1) / 2:
        return "it is a sequence"
    return None


class WebSettings(Strict):
    host: str = "127.0.0.1"
    port: Port = 8080
    # Signs session cookies. Default: a random key kept in the data directory. A key
    # given here (or as INTAKE_WEB__SECRET_KEY) must be 32 or more random characters.
    secret_key: SecretStr | None = None
    session_minutes: int = Field(default=480, ge=5)
    # Set when the dashboard is served over HTTPS (behind a proxy): cookies only over TLS.
    secure_cookies: bool = False
    # Password guessing: this many failed sign-ins for one user name (existing or not),
    # or from one address, within login_failure_window_minutes, and sign-ins for that name
    # or from that address are refused for login_lockout_minutes.
    login_failures_per_user: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_failure_window_minutes: int = Field(default=15, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    # The overview, queue and replies pages fetch their data again this often (seconds),
    # keeping whatever the desk is typing; 0 turns it off.
    refresh_seconds: int = Field(default=45, ge=0, le=3600)

    @field_validator("secret_key")
    @classmethod
    def _random_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Empty means "not set": the generated key file. The key itself is never echoed.
        if value is None or not value.get_secret_value():
            return value
        problem = secret_key_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(
                f"is too weak to sign the dashboard's session cookies ({problem}): set "
                f"[web] secret_key or INTAKE_WEB__SECRET_KEY to 32 or more random "
                f"characters, e.g. the output of {MAKE_SECRET_KEY}"
            )
        return value
