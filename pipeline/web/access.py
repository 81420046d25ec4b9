"""Who is asking: Starlette's `AuthenticationMiddleware` with a backend that believes a
session cookie only when the server still has its session.

The cookie names a user (`cookie`); the backend asks the database (`sessions`) every
time, so a session signed out, expired, or of a user removed or given a new password is
refused. The middleware is put on the routes that need a user (`SIGNED_IN`, see
`app.routes`), not around the whole application: the static files, `/healthz`,
`/metrics` and error pages for unknown paths never touch the sessions table, and a
database that cannot be reached is answered by the application's error handlers.

The backend changes nothing: a cookie the server refused is reported as `Refused`, and
the route that needed a user ends it (`guards`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from pipeline.web.context import context_of
from pipeline.web.cookie import claimed_user, claims_user, cookie_expired, session_token
from pipeline.web.sessions import session_valid

AUTHENTICATED = "authenticated"


@dataclass(frozen=True)
class Refused(UnauthenticatedUser):
    """A cookie naming a user whom the server does not believe (any more); `forget`: the
    cookie is to be emptied (it names the user in a usable way, but its time is over or
    the server has no such session)."""

    forget: bool


class SessionBackend(AuthenticationBackend):
    """The user whose server-side session the cookie carries, or nobody."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        session = conn.session
        if not claims_user(session):
            return None
        name = claimed_user(session)
        if name is None:
            return AuthCredentials(), Refused(forget=False)
        ctx = context_of(conn)
        if cookie_expired(session, ctx.settings.web.session_minutes):
            return AuthCredentials(), Refused(forget=True)
        token = session_token(session)
        if token is None:
            return AuthCredentials(), Refused(forget=True)

        def valid() -> bool:
            return session_valid(ctx.settings, ctx.ready(), token, name)

        if not await run_in_threadpool(valid):
            return AuthCredentials(), Refused(forget=True)
        return AuthCredentials([AUTHENTICATED]), SimpleUser(name)


# The route middleware of every route that needs to know the user.
SIGNED_IN = [Middleware(AuthenticationMiddleware, backend=SessionBackend())]


def current_user(conn: HTTPConnection) -> str | None:
    """The name of the signed-in user of this request; None on a route without
    `SIGNED_IN`, and for anyone the backend did not believe."""
    user = conn.scope.get("user")
    if isinstance(user, BaseUser) and user.is_authenticated:
        return user.display_name
    return None
