"""Pages from Jinja2 templates: the environment (autoescaping), the filters that format
times, sizes and audit details, flash messages, and the page every error uses.

Every page gets the signed-in user (if any), the CSRF token for its forms, and the
flash messages left for it by the previous request (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from pipeline.desk.views import DEFAULT_ZONE, countdown
from pipeline.resources.reason_labels import reason_label
from pipeline.web.access import current_user
from pipeline.web.csrf import CSRF_FIELD, csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SESSION_FLASH = "flash"
# Sent by `static/refresh.js` when it fetches a page's data again: the flash messages
# are left for the page the desk opens next.
REFRESH_HEADER = "x-intake-refresh"


def _local(value: datetime) -> datetime:
    """Times the views already put in a meeting's zone stay there; bare UTC times (replies,
    the audit log) are shown in New York time, where the desk works."""
    if value.tzinfo is None or (value.utcoffset() == timedelta(0) and value.tzname() == "UTC"):
        return value.replace(tzinfo=value.tzinfo or UTC).astimezone(DEFAULT_ZONE)
    return value


def format_when(value: datetime | None, seconds: bool = False) -> str:
    """'20 May 2021, 10:00 EDT'; with seconds where events follow each other closely."""
    if value is None:
        return ""
    local = _local(value)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return f"{local.day} {local.strftime(f'%b %Y, {clock} %Z')}"


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _plain(value: Any) -> str:
    """A value from an audit detail or reason parameters, as short text (escaped later)."""
    if value is None or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        # Everything from an email (subjects, names, file names, reasons) is escaped.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_when
    env.filters["size"] = format_size
    env.filters["countdown"] = countdown
    env.filters["plain"] = _plain
    env.filters["reason"] = reason_label
    env.globals["qs"] = lambda **params: urlencode({k: v for k, v in params.items() if v})
    return env


_templates = Jinja2Templates(env=_environment())


def flash(request: Request, kind: str, text: str) -> None:
    """A message for the next page (kinds: ok, warn, error)."""
    messages = list(request.session.get(SESSION_FLASH, []))
    messages.append([kind, text])
    request.session[SESSION_FLASH] = messages


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    *,
    refresh: int = 0,
) -> Response:
    """The page; with `refresh` (seconds) it updates its data regions by itself and says
    when it last did."""
    refreshing = request.headers.get(REFRESH_HEADER) == "1"
    values: dict[str, Any] = {
        "user": current_user(request),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request.session),
        "flashes": [] if refreshing else request.session.pop(SESSION_FLASH, []),
        "path": request.url.path,
        "refresh": refresh,
        "rendered_at": datetime.now(UTC),
    }
    values.update(context or {})
    return _templates.TemplateResponse(request, name, values, status_code=status_code)


def error_page(request: Request, status_code: int, title: str, text: str) -> Response:
    return render(request, "error.html", {"title": title, "text": text}, status_code=status_code)
