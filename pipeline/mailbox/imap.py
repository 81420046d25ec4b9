"""The submissions mailbox: list what is waiting, fetch it without side effects, move it.

One facade over imapclient, used as a context manager, with an explicit timeout and one
exception tree (`MailboxError`). Fetching uses BODY.PEEK[] so that reading never changes
the mailbox; the only change we make is the move, after the database has committed.

Sizes are asked for first (RFC822.SIZE): a message over `[limits] max_message_mb` is
never downloaded whole, only its header, so one 500 MB mail cannot exhaust the worker's
memory (and, crashing it again and again, block the mailbox).

Outcome folders are configured with `/` between levels (`Intake/Accepted`) and the
ledger keeps them so; the server's name is made at the move, from its personal namespace
(RFC 2342 NAMESPACE: `INBOX.` with `.` on Courier, Cyrus and many hosted servers, empty
with `/` or `.` on Dovecot's default layout). See `server_folder_name`.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from pipeline.errors import IntakeError, describe_error
from pipeline.settings.models import MailboxSettings, Security

log = logging.getLogger(__name__)


class MailboxError(IntakeError):
    """Base class: the mailbox cannot be used; the message is one sentence."""


class MailboxUnavailable(MailboxError):
    """The server cannot be reached, or dropped the connection."""


class MailboxLoginFailed(MailboxError):
    """The server refused the credentials."""


@dataclass(frozen=True)
class Namespace:
    """Where this login's own folders live (RFC 2342): the personal namespace's prefix
    and hierarchy separator, and the prefixes of the other namespaces the server
    announced (other users', shared)."""

    prefix: str = ""
    separator: str = "/"
    others: tuple[str, ...] = ()


def server_folder_name(folder: str, namespace: Namespace) -> str:
    """The server's name of an outcome folder given as in the configuration.

    `/` separates levels in the configuration whatever the server uses. A name is put
    below the personal namespace's prefix (`Intake/Accepted` becomes
    `INBOX.Intake.Accepted` where the prefix is `INBOX.`) unless it names the folder in
    full: it already starts with the prefix (`INBOX/Intake/Accepted`, or
    `INBOX.Intake.Accepted` in the server's own notation), or with another namespace
    the server announced (`#shared/...`). INBOX is case-insensitive (RFC 3501) and is
    written `INBOX`. With an empty prefix (Dovecot's default) nothing is added.
    """
    separator = namespace.separator
    name = _canonical_inbox(separator.join(part for part in folder.split("/") if part), separator)
    prefix = _canonical_inbox(namespace.prefix, separator)
    if not prefix or _within(name, prefix, separator):
        return name
    if any(_within(name, other, separator) for other in namespace.others if other):
        return name
    if not prefix.endswith(separator):
        prefix += separator
    return prefix + name


def _canonical_inbox(name: str, separator: str) -> str:
    head, sep, rest = name.partition(separator)
    return f"INBOX{sep}{rest}" if head.upper() == "INBOX" else name


def _within(name: str, prefix: str, separator: str) -> bool:
    """Whether `name` is in the namespace of `prefix`, or is its own folder (`INBOX`)."""
    return name.startswith(prefix) or name == prefix.removesuffix(separator)


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes
    internaldate: datetime
    size: int
    # Over the size limit: `raw` is the header only (BODY.PEEK[HEADER]), `size` the whole.
    truncated: bool = False


class Mailbox:
    def __init__(self, settings: MailboxSettings, *, max_message_bytes: int | None = None) -> None:
        self.settings = settings
        self.max_message_bytes = max_message_bytes
        self._client: imapclient.IMAPClient | None = None
        self.uidvalidity: int = 0
        self.namespace = Namespace()
        self._known_folders: set[str] = set()

    @property
    def identity(self) -> str:
        """Names this mailbox in the ledger, so two mailboxes never share UIDs."""
        s = self.settings
        return f"{s.username}@{s.host}:{s.port}/{s.folder}"

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # -- connection ---------------------------------------------------------------------

    def __enter__(self) -> Mailbox:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _tls(self) -> ssl.SSLContext:
        if self.settings.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.settings.ca_file))
        return ssl.create_default_context()

    def open(self, *, readonly: bool = False) -> None:
        """Connect, log in and select the submissions folder.

        `readonly` opens it with EXAMINE instead of SELECT, for a connection that only
        watches (`pipeline.mailbox.idle`): it can never change the mailbox.
        """
        s = self.settings
        try:
            client = imapclient.IMAPClient(
                s.host,
                port=s.port,
                ssl=s.security is Security.SSL,
                ssl_context=self._tls() if s.security is Security.SSL else None,
                timeout=s.timeout,
            )
            client.normalise_times = False
            if s.security is Security.STARTTLS:
                client.starttls(self._tls())
        except (OSError, IMAPClientError, ssl.SSLError) as error:
            raise MailboxUnavailable(
                f"cannot reach the mailbox at {self._where()}: {describe_error(error)}; "
                "check [mailbox] host, port and security"
            ) from None
        try:
            response = client.login(s.username, s.password.get_secret_value())
            if isinstance(response, bytes) and b"initialization failed" in response.lower():
                raise LoginError(response.decode("utf-8", "replace"))
            info = client.select_folder(s.folder, readonly=readonly)
        except LoginError:
            _quietly_close(client)
            raise MailboxLoginFailed(
                f"the mailbox at {self._where()} refused the login for {s.username!r}: "
                "check [mailbox] username and password (or INTAKE_MAILBOX__PASSWORD)"
            ) from None
        except IMAPClientError as error:
            _quietly_close(client)
            raise MailboxUnavailable(
                f"cannot open the folder {s.folder!r} at {self._where()}: {describe_error(error)}; "
                "check [mailbox] folder"
            ) from None
        except OSError as error:
            _quietly_close(client)
            raise MailboxUnavailable(
                f"lost the mailbox at {self._where()}: {describe_error(error)}"
            ) from None
        self._client = client
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        try:
            folders = client.list_folders()
        except (IMAPClientError, OSError) as error:
            raise MailboxUnavailable(f"lost the mailbox at {self._where()}: {error}") from None
        delimiter = "/"
        for _flags, found, name in folders:
            if found:
                delimiter = _text(found)
            self._known_folders.add(name)
        try:
            self.namespace = _read_namespace(client, delimiter)
        except (IMAPClientError, OSError) as error:
            raise MailboxUnavailable(f"lost the mailbox at {self._where()}: {error}") from None

    def close(self) -> None:
        if self._client is not None:
            _quietly_close(self._client)
            self._client = None

    @property
    def client(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise MailboxUnavailable("the mailbox is not open")
        return self._client

    # -- reading ------------------------------------------------------------------------

    def waiting_uids(self) -> list[int]:
        """Every message still in the submissions folder, oldest first.

        Handled messages are moved out, so whatever is here is either new or was filed
        by a run that stopped before moving it (the ledger tells which).
        """
        try:
            uids = self.client.search(["UNDELETED"])
        except (IMAPClientError, OSError) as error:
            raise MailboxUnavailable(f"lost the mailbox at {self._where()}: {error}") from None
        return sorted(int(uid) for uid in uids)

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        """Fetch in batches, in UID order; a message that vanished meanwhile (moved by
        another worker) is simply not returned. With a size limit, sizes come first and a
        message over it is returned `truncated`, its header only."""
        batch = self.settings.batch_size
        for start in range(0, len(uids), batch):
            chunk = list(uids[start : start + batch])
            whole, header_only = self._split_by_size(chunk)
            found = self._fetch_parts(whole, "BODY.PEEK[]", b"BODY[]")
            found.update(self._fetch_parts(header_only, "BODY.PEEK[HEADER]", b"BODY[HEADER]"))
            for uid in chunk:
                if uid in found:
                    yield found[uid]

    def _split_by_size(self, uids: list[int]) -> tuple[list[int], list[int]]:
        limit = self.max_message_bytes
        if limit is None or not uids:
            return uids, []
        response = self._fetch(uids, ["RFC822.SIZE"])
        whole: list[int] = []
        header_only: list[int] = []
        for uid in uids:
            data = response.get(uid)
            if data is None:
                continue  # moved or expunged meanwhile
            size = int(data.get(b"RFC822.SIZE") or 0)
            (header_only if size > limit else whole).append(uid)
        return whole, header_only

    def _fetch_parts(self, uids: list[int], item: str, key: bytes) -> dict[int, FetchedMessage]:
        if not uids:
            return {}
        response = self._fetch(uids, [item, "INTERNALDATE", "RFC822.SIZE"])
        found: dict[int, FetchedMessage] = {}
        for uid in uids:
            data = response.get(uid)
            body = data.get(key) if data is not None else None
            if data is None or body is None:
                # Moved or expunged meanwhile (by another worker): not ours to handle.
                continue
            internaldate = data[b"INTERNALDATE"]
            if internaldate.tzinfo is None:
                internaldate = internaldate.replace(tzinfo=UTC)
            found[uid] = FetchedMessage(
                uid=uid,
                raw=bytes(body),
                internaldate=internaldate.astimezone(UTC),
                size=int(data.get(b"RFC822.SIZE") or len(body)),
                truncated=key != b"BODY[]",
            )
        return found

    def _fetch(self, uids: list[int], items: list[str]) -> dict[int, dict[bytes, Any]]:
        try:
            response: dict[int, dict[bytes, Any]] = self.client.fetch(uids, items)
        except (IMAPClientError, OSError) as error:
            raise MailboxUnavailable(
                f"lost the mailbox at {self._where()} while fetching: {error}"
            ) from None
        return response

    # -- moving -------------------------------------------------------------------------

    def server_folder(self, folder: str) -> str:
        """`Intake/Accepted` in the configuration becomes the server's own name for it,
        below its personal namespace (`server_folder_name`)."""
        return server_folder_name(folder, self.namespace)

    def ensure_folder(self, folder: str) -> str:
        name = self.server_folder(folder)
        if name in self._known_folders:
            return name
        try:
            if not self.client.folder_exists(name):
                self.client.create_folder(name)
                # Subscribing is a convenience for people reading the mailbox.
                with contextlib.suppress(IMAPClientError):
                    self.client.subscribe_folder(name)
        except IMAPClientError as error:
            if not self.client.folder_exists(name):
                raise MailboxError(
                    f"cannot create the folder {name!r}: {error}; check [mailbox.folders]"
                ) from None
        except OSError as error:
            raise MailboxUnavailable(f"lost the mailbox at {self._where()}: {error}") from None
        self._known_folders.add(name)
        return name

    def move(self, uids: Sequence[int], folder: str) -> None:
        """MOVE when the server has it; otherwise COPY, flag deleted, UID EXPUNGE.

        Another worker may have moved some of these messages already (the server then
        refuses the whole command): whatever is still here is moved, the rest is done.
        """
        if not uids:
            return
        target = self.ensure_folder(folder)
        try:
            self._move(list(uids), target)
        except IMAPClientError as error:
            remaining = self._still_here(uids)
            if not remaining:
                return
            try:
                self._move(remaining, target)
            except IMAPClientError:
                raise MailboxError(f"cannot move messages to {target!r}: {error}") from None
        except OSError as error:
            raise MailboxUnavailable(f"lost the mailbox at {self._where()}: {error}") from None

    def relocate(self, message_id: str, source: str, target: str) -> bool:
        """Move the message with this Message-ID from one Intake folder to another.

        Used after the desk retried a held message: the mailbox then shows where it
        belongs now. False when it is not (or no longer) in `source`.
        """
        client = self.client
        origin = self.server_folder(source)
        try:
            if not client.folder_exists(origin):
                return False
            client.select_folder(origin)
            try:
                uids = client.search(["HEADER", "Message-ID", message_id])
                if not uids:
                    return False
                self.move([int(uid) for uid in uids], target)
                return True
            finally:
                client.select_folder(self.settings.folder)
        except IMAPClientError as error:
            raise MailboxError(f"cannot move the message out of {origin!r}: {error}") from None
        except OSError as error:
            raise MailboxUnavailable(f"lost the mailbox at {self._where()}: {error}") from None

    def _move(self, uids: list[int], target: str) -> None:
        client = self.client
        if client.has_capability("MOVE"):
            client.move(uids, target)
            return
        client.copy(uids, target)
        client.add_flags(uids, [imapclient.DELETED])
        if client.has_capability("UIDPLUS"):
            client.expunge(uids)
        else:
            client.expunge()

    def _still_here(self, uids: Sequence[int]) -> list[int]:
        try:
            client = self.client
            client.noop()  # collect the EXPUNGE responses of the other worker's moves
            found = client.search(["UID", ",".join(str(uid) for uid in uids), "UNDELETED"])
        except (IMAPClientError, OSError) as error:
            raise MailboxUnavailable(f"lost the mailbox at {self._where()}: {error}") from None
        return sorted(int(uid) for uid in found)


def _read_namespace(client: imapclient.IMAPClient, delimiter: str) -> Namespace:
    """The personal namespace from NAMESPACE (its first one, where a client's folders
    go); without NAMESPACE, an empty prefix and the separator of LIST "" "" (RFC 3501),
    else `delimiter`, the one the folder list showed. A flat namespace (no separator)
    keeps `delimiter` too."""
    if client.has_capability("NAMESPACE"):
        try:
            personal, other, shared = client.namespace()
        except IMAPClientError as error:
            log.warning("the server announced NAMESPACE but refused it (%s)", error)
        else:
            spaces = [*(personal or ()), *(other or ()), *(shared or ())]
            if personal:
                prefix, separator = personal[0]
                others = tuple(_text(p) for p, _s in spaces[1:] if p)
                return Namespace(_text(prefix), _text(separator) or delimiter, others)
    try:
        listed = client.list_folders("", "")
    except IMAPClientError:
        listed = []
    for _flags, separator, _name in listed:
        if separator:
            return Namespace("", _text(separator))
    return Namespace("", delimiter)


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _quietly_close(client: imapclient.IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # closing after an error: nothing more to report
        with contextlib.suppress(Exception):
            client.shutdown()
