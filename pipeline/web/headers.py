"""Security headers on every response, error pages included.

Frames, foreign scripts and sniffing are refused; pages (not the static files) are never
kept in a shared cache. An unexpected error is answered with a plain page that carries
the headers too.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    # default-src does not cover where forms post, who may frame us or <base>: say so.
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
# The headers a route may set itself, to be framed by this site's own pages (the cover
# letter on the submission page, `web/files.py`); every other route gets the defaults.
FRAMING = ("X-Frame-Options", "Content-Security-Policy")

_ERROR_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Error</title>"
    "<link rel='stylesheet' href='/static/style.css'></head><body><main class='narrow'>"
    "<h1>Something went wrong</h1><p>The error was logged. Go back to the "
    "<a href='/'>overview</a> and try again.</p></main></body></html>"
)


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, and answers an unexpected error with
    a plain page that carries them too (then re-raises, so the server logs it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        private = not str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name in FRAMING and name in headers:
                        continue  # a route that may be framed by our own pages says so
                    headers[name] = value
                if private:
                    # Pages show delegations' data: never kept in a shared cache.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                await HTMLResponse(_ERROR_PAGE, status_code=500)(scope, receive, send_with_headers)
            raise
