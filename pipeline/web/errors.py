"""What a browser sees when a request fails: an HTTP error (404, 405, ...) or a database
that cannot be used (503), as the dashboard's error page."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from pipeline.web.rendering import error_page

log = logging.getLogger(__name__)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Not allowed"}
    response = error_page(
        request, exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail)
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def database_error(request: Request, exc: Exception) -> Response:
    log.error("dashboard: the database cannot be used: %s", str(exc).splitlines()[0])
    return error_page(
        request,
        503,
        "Database unavailable",
        "The database cannot be reached right now; the error was logged. Try again in a "
        "minute, or tell the operator.",
    )
