"""Routes that need a signed-in user: the `page` and `action` decorators.

Each runs behind `access.SIGNED_IN` (Starlette's authentication middleware). A stranger
is sent to the login form (a page comes back to its URL after it, a form post to the
overview); a cookie the server refused is emptied, with a flash saying the session
expired. An action is a form post refused (403) unless it carries the session's CSRF
token: every POST route of the dashboard is an action, or the login.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.web.access import Refused, current_user
from pipeline.web.csrf import CSRF_FIELD, csrf_valid
from pipeline.web.rendering import error_page, flash

log = logging.getLogger(__name__)

Page = Callable[[Request, str], Awaitable[Response]]
Action = Callable[[Request, str, FormData], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def signed_in(request: Request) -> str | None:
    """The signed-in user of this request, or None; a cookie that named a user the server
    refused is ended here (once per request: call it once)."""
    user = current_user(request)
    refused = request.scope.get("user")
    if user is None and isinstance(refused, Refused):
        if refused.forget:
            request.session.clear()
        flash(request, "warn", "Your session has expired; please sign in again.")
    return user


def to_login(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET":
        target = "/"  # a form's target cannot be opened after the login
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def forbidden(request: Request) -> Response:
    return error_page(
        request,
        403,
        "Form expired",
        "This form was not accepted (its security token is missing or out of date). "
        "Go back, reload the page and try again.",
    )


def page(handler: Page) -> Endpoint:
    """A page for signed-in users; anyone else is sent to the login form."""

    async def endpoint(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login(request)
        return await handler(request, user)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def action(handler: Action) -> Endpoint:
    """A form post by a signed-in user, refused (403) unless it carries the session's CSRF
    token."""
    return _guarded(handler, max_files=0)


def upload(handler: Action) -> Endpoint:
    """An action whose form carries one file (`enctype="multipart/form-data"`)."""
    return _guarded(handler, max_files=1)


def _guarded(handler: Action, *, max_files: int) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login(request)
        form = await request.form(max_files=max_files, max_fields=50)
        if not csrf_valid(request.session, form.get(CSRF_FIELD)):
            log.warning("refused a form without a valid CSRF token: %s %s", user, request.url.path)
            return forbidden(request)
        return await handler(request, user, form)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
