"""Signing in and out of the dashboard.

A sign-in is counted before its password is checked (`throttling`): a name or address
with too many failures is refused (429) with the same message whether the account
exists or not; a wrong password waits `FAILED_LOGIN_DELAY` and answers 401. The right
one opens a server-side session (`sessions`) and a fresh cookie (`cookie`). Signing out
ends the server's session. Logins, failures, lockouts and sign-outs go to the audit log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.web import forms
from pipeline.web.context import context_of
from pipeline.web.cookie import session_token, start_session
from pipeline.web.csrf import CSRF_FIELD, csrf_valid
from pipeline.web.guards import action, forbidden, signed_in
from pipeline.web.passwords import check_password
from pipeline.web.rendering import flash, render
from pipeline.web.sessions import login_succeeded, sign_out
from pipeline.web.throttling import FAILED_LOGIN_DELAY, Lock, begin_login, login_failed

log = logging.getLogger(__name__)

MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is an attack


async def login(request: Request) -> Response:
    """The login form (GET; a signed-in user goes on to `next`) and its post."""
    ctx = context_of(request)
    if request.method == "GET":
        target = forms.safe_next(request.query_params.get("next"))
        if signed_in(request):
            return RedirectResponse(target, status_code=303)
        return render(request, "login.html", {"next": target, "username": "", "error": None})
    form = await request.form(max_files=0, max_fields=10)
    if not csrf_valid(request.session, form.get(CSRF_FIELD)):
        return forbidden(request)
    name = forms.text(form, "username").strip()
    password = forms.text(form, "password")
    target = forms.safe_next(forms.text(form, "next"))
    address = forms.address(request)

    def refused(status_code: int, error: str) -> Response:
        return render(
            request,
            "login.html",
            {"next": target, "username": name, "error": error},
            status_code=status_code,
        )

    wrong = "Wrong user name or password."
    if not 0 < len(password) <= MAX_PASSWORD_LENGTH:
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return refused(401, wrong)
    started = await run_in_threadpool(lambda: begin_login(ctx.settings, ctx.ready(), name, address))
    if isinstance(started, Lock):
        log.warning(
            "refused a dashboard login for user %r from %s: too many failures (%s)",
            name,
            address,
            started.by,
        )
        return _locked(refused, started)
    attempt = started
    ok = await ctx.password_checks.run(lambda: check_password(attempt.password_hash, password))
    token = None
    if ok:
        token = await run_in_threadpool(lambda: login_succeeded(ctx.settings, ctx.ready(), attempt))
    if token is None:
        lock = await run_in_threadpool(lambda: login_failed(ctx.settings, ctx.ready(), attempt))
        log.warning("failed dashboard login for user %r from %s", name, address)
        if lock is not None:
            log.warning("dashboard logins locked (%s) after the failure above", lock.by)
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return refused(401, wrong)
    start_session(request.session, name, token)
    log.info("dashboard login: %s from %s", name, address)
    return RedirectResponse(target, status_code=303)


def _locked(refused: Callable[[int, str], Response], lock: Lock) -> Response:
    """The same answer whether the name exists or not, and whatever was locked."""
    seconds = lock.seconds_left()
    minutes = max(1, -(-seconds // 60))
    response = refused(
        429,
        f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes > 1 else ''}.",
    )
    response.headers["Retry-After"] = str(seconds)
    return response


@action
async def logout(request: Request, user: str, form: FormData) -> Response:  # noqa: ARG001
    ctx = context_of(request)
    token = session_token(request.session)
    address = forms.address(request)
    await run_in_threadpool(lambda: sign_out(ctx.ready(), token, user, address))
    request.session.clear()
    log.info("dashboard logout: %s", user)
    flash(request, "ok", "You are signed out.")
    return RedirectResponse("/login", status_code=303)
