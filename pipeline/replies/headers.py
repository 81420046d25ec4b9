"""The headers that thread a reply with the message it answers, exactly as it came.

In-Reply-To and References name the original by its Message-ID, and mail clients
compare ids as strings: an id that comes back changed threads with nothing. The email
package's default policy changes two kinds of id on the way out: a non-ASCII one becomes
an RFC 2047 encoded word, and one too long for a 78-column line is cut into several
encoded words (a msg-id has no white space to fold at). Neither is a Message-ID any more.

So an id goes back on one line, unchanged, when it is printable ASCII and the line fits
the 998 characters RFC 5322 allows (78 is only a recommendation); otherwise the reply
carries no In-Reply-To or References at all and is found by its subject and reference,
as a mail client does with mail that names no parent. An 8-bit id would need SMTPUTF8
end to end (RFC 6532), which a reply cannot count on; and an id over the line limit can
only be carried changed. The id is never made up or shortened: a wrong parent is worse
than none.
"""

from __future__ import annotations

import re
from email.headerregistry import BaseHeader, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from typing import Any

# RFC 5322: a line is at most 998 characters, CRLF excluded.
MAX_LINE = 998
# The longest id carried: it fits on the longer of the two lines ("In-Reply-To: <id>").
MAX_CARRIED_ID = MAX_LINE - len("In-Reply-To: ")
# Printable ASCII, single spaces between words (a comment after the id), nothing else.
_ONE_LINE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")


def carried_id(message_id: str | None) -> str | None:
    """The original's Message-ID as the reply may carry it, or None when it cannot go back
    unchanged (absent, not printable ASCII, or too long for one header line)."""
    if not message_id:
        return None
    value = message_id.strip()
    if len(value) > MAX_CARRIED_ID or not _ONE_LINE.fullmatch(value):
        return None
    return value


class OneLineHeader(UnstructuredHeader, BaseHeader):
    """A header written as given on one line: never folded, never encoded.

    Only for values `carried_id` let through; anything else is refused here too, so no
    value can bring a line break (another header) into a reply."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        if len(value) > MAX_CARRIED_ID or not _ONE_LINE.fullmatch(value):
            raise ValueError("a one-line header takes printable ASCII that fits one line")
        super().parse(value, kwds)
        kwds["decoded"] = value  # as given: not even an encoded word in it is decoded

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def add_threading_headers(
    message: EmailMessage, *, in_reply_to: str | None, references: str | None
) -> None:
    """Set In-Reply-To and References from the stored values, each only when it can be
    carried unchanged (`carried_id`)."""
    for name, value in (("In-Reply-To", in_reply_to), ("References", references)):
        carried = carried_id(value)
        if carried is not None:
            message[name] = OneLineHeader(name, carried)
