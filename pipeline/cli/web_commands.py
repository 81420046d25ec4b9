"""`intake web` (the dashboard) and `intake users` (who may use it).

The dashboard's imports (Starlette, uvicorn) load inside the commands, only when they
run. What every command shares (`settings()`, `fail()`, `out`) is `cli/common.py`.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from pipeline.cli import common as cli
from pipeline.cli.common import EXIT_CONFIG, actor
from pipeline.logformat import JsonFormatter

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from pipeline.settings import Settings

T = TypeVar("T")

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def _read_password(password_stdin: bool) -> str:
    """The first line of stdin, or a hidden prompt asked twice (a typo would lock you out)."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _checked_name(name: str) -> str:
    """The user name as stored, or exit 2 with why it cannot be one."""
    from pipeline.web.users import validate_user_name

    try:
        return validate_user_name(name)
    except ValueError as error:
        cli.fail(str(error), EXIT_CONFIG)


def _new_password(password_stdin: bool) -> str:
    """A password read as `_read_password` does, or exit 2 when it is too weak."""
    from pipeline.web.passwords import validate_password

    password = _read_password(password_stdin)
    try:
        validate_password(password)
    except ValueError as error:
        cli.fail(str(error), EXIT_CONFIG)
    return password


def _on_users(work: Callable[[Settings, Engine], T]) -> T:
    """Run a change to the desk users on the configured database: a database problem
    exits 1, a refusal (a user of the configuration file, an unknown name) exits 2."""
    from pipeline.storage.db import init_schema, make_engine

    current = cli.settings()
    engine = make_engine(current.database_url)
    try:
        init_schema(engine)
        return work(current, engine)
    except ValueError as error:
        cli.fail(str(error), EXIT_CONFIG)
    finally:
        engine.dispose()


def _sessions(count: int) -> str:
    return f"{count} session{'s' if count != 1 else ''}"


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one clear error, not a
    server log; raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _bind_problem(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use: stop the other program or use --port"
    if error.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need privileges)"
    if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
        return f"cannot listen on {host}: not an address of this machine"
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


users_app = typer.Typer(help="Desk users who may sign in to the dashboard.")


def web_command(
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on. Default: [web] host (127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=1, max=65535, help="Port to listen on. Default: [web] port (8080)."
        ),
    ] = None,
) -> None:
    """Serve the service desk's dashboard (queue, decisions, replies, audit log).

    Needs a desk user (`intake users add NAME`, or a desk.users entry in the file). Put it
    behind an HTTPS proxy and set [web] secure_cookies when it is reached over a network.
    """
    import uvicorn

    from pipeline.storage.prepare import prepare
    from pipeline.web.accounts import list_users
    from pipeline.web.app import create_app

    current = cli.settings()
    listen_host = host or current.web.host
    listen_port = port or current.web.port
    engine = prepare(current)
    users = list_users(current, engine)
    try:
        application = create_app(current, engine=engine)
    except ValueError as error:
        cli.fail(f"cannot set up the session key: {error}", EXIT_CONFIG)
    except OSError as error:
        cli.fail(f"cannot set up the session key: {error}")
    try:
        sock = bind(listen_host, listen_port)
    except OSError as error:
        cli.fail(_bind_problem(error, listen_host, listen_port))
    if not users:
        cli.err.print(
            "intake: warning: no desk users yet; nobody can sign in until you run "
            "`intake users add NAME`",
            markup=False,
        )
    if listen_host not in ("127.0.0.1", "::1", "localhost") and not current.web.secure_cookies:
        cli.err.print(
            f"intake: warning: listening on {listen_host} over plain HTTP; put the dashboard "
            "behind an HTTPS proxy and set [web] secure_cookies = true",
            markup=False,
        )
    shown = f"[{listen_host}]" if ":" in listen_host else listen_host
    cli.out.print(
        f"intake: dashboard on http://{shown}:{listen_port}/ (Ctrl-C stops it)", markup=False
    )
    # In JSON, the server's own lines (start-up, each request) go through Intake's handler
    # as one event per line too, rather than through uvicorn's text configuration.
    json_logs = any(
        isinstance(handler.formatter, JsonFormatter) for handler in logging.getLogger().handlers
    )
    if json_logs:
        logging.getLogger("uvicorn").setLevel(logging.INFO)
    config = uvicorn.Config(
        application,
        log_level="info",
        ws="none",
        lifespan="off",
        server_header=False,
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
    )
    uvicorn.Server(config).run(sockets=[sock])


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user name (recorded in the audit log).")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a desk user to the database (asks for the password twice, hidden)."""
    from pipeline.web.accounts import add_user

    current = cli.settings()
    cleaned = _checked_name(name)
    password = _new_password(password_stdin)
    _on_users(lambda _, engine: add_user(engine, cleaned, password, actor=actor(None)))
    if any(user.name == cleaned for user in current.desk.users):
        cli.err.print(
            f"intake: warning: {cleaned} is also in the configuration file; that entry's "
            "password is the one that works",
            markup=False,
        )
    cli.out.print(f"intake: desk user {cleaned} added", markup=False)


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="The desk user (in the database).")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Give a desk user a new password (asked twice, hidden); their sessions end at once.

    A user defined in the configuration file gets a new password_hash there instead
    (`intake users hash`).
    """
    from pipeline.web.accounts import change_password

    cleaned = _checked_name(name)
    password = _new_password(password_stdin)
    ended = _on_users(
        lambda current, engine: change_password(
            current, engine, cleaned, password, actor=actor(None)
        )
    )
    cli.out.print(f"intake: password of {cleaned} changed; {_sessions(ended)} ended", markup=False)


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="The desk user (in the database).")],
) -> None:
    """Remove a desk user from the database; their sessions end at once.

    A user defined in the configuration file is refused: delete its desk.users entry there.
    """
    from pipeline.web.accounts import remove_user

    cleaned = _checked_name(name)
    ended = _on_users(
        lambda current, engine: remove_user(current, engine, cleaned, actor=actor(None))
    )
    cli.out.print(f"intake: desk user {cleaned} removed; {_sessions(ended)} ended", markup=False)


@users_app.command("hash")
def users_hash(
    password_stdin: PasswordStdin = False,
) -> None:
    """Print an argon2 hash of a password, for password_hash in a desk.users entry."""
    from pipeline.web.passwords import hash_password, validate_password

    password = _read_password(password_stdin)
    try:
        validate_password(password)
    except ValueError as error:
        cli.fail(str(error), EXIT_CONFIG)
    sys.stdout.write(hash_password(password) + "\n")


@users_app.command("list")
def users_list() -> None:
    """The desk users: from the configuration file and from the database."""
    from pipeline.storage.db import init_schema, make_engine
    from pipeline.web.accounts import list_users

    current = cli.settings()
    engine = make_engine(current.database_url)
    try:
        init_schema(engine)
        users = list_users(current, engine)
    finally:
        engine.dispose()
    if not users:
        cli.out.print("intake: no desk users; add one with `intake users add NAME`")
        return
    width = max(len(name) for name, _ in users)
    for name, source in users:
        cli.out.print(f"{name.ljust(width)}  {source}", markup=False)
