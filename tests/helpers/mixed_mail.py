"""Mixed mail for the reliability scenarios: many distinct messages of every kind
(accepted, rejected, held, ignored), each with the outcome Intake must give it, put in a
real mailbox in a few APPENDs."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.demo import samples
from pipeline.demo.automatic import auto_reply_email, bounce_email
from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.storage import models as m
from tests.conftest import SUBMISSIONS, ny

MISSION_SENDERS = [
    ("France", "france@un.int"),
    ("Côte d'Ivoire", "cotedivoire@un.int"),
    ("Ghana", "ghana@un.int"),
    ("Japan", "japan@un.int"),
    ("Brazil", "brazil@un.int"),
    ("Holy See", "holysee@un.int"),
    ("European Union", "delegation@eeas.europa.eu"),
]

_MARK = "<INTAKE-MESSAGE-MARK@intake.test>"


@dataclass(frozen=True)
class Seeded:
    """One message put in the mailbox, and what Intake must make of it."""

    raw: bytes
    message_id: str
    outcome: m.MessageOutcome
    at: datetime

    @property
    def answered(self) -> bool:
        return self.outcome is not m.MessageOutcome.IGNORED


# Our receiving server, and what it writes for mail that really came from atlantis.example.
OUR_SERVER = "mx.intake.example"
VOUCHED_FOR_ATLANTIS = (
    f"Authentication-Results: {OUR_SERVER}; dmarc=pass header.from=atlantis.example\r\n"
).encode()


@functools.cache
def _template(kind: str, variant: int = 0) -> bytes:
    """A message of each kind, built once, with a mark where its Message-ID goes.

    Building a submission (a real .docx and PDF) takes 35 ms; changing the Message-ID of
    a ready one takes nothing, and still makes every message distinct to the duplicate
    guard (which looks at the bytes and at Message-ID + sender).
    """
    if kind == "accepted":
        name, sender = MISSION_SENDERS[variant]
        return samples.submission_email(
            mission_name=name, sender=sender, to=SUBMISSIONS, words=50, message_id=_MARK
        )
    if kind == "no_cover_letter":
        return samples.submission_email(
            mission_name="Ghana",
            sender="ghana@un.int",
            to=SUBMISSIONS,
            words=50,
            cover_letter=None,
            message_id=_MARK,
        )
    if kind == "unknown_sender":
        # Our receiving server vouches for the domain: an unregistered address is then
        # answered (once per window, which these scenarios switch off).
        return VOUCHED_FOR_ATLANTIS + samples.submission_email(
            mission_name="Atlantis",
            sender="delegate@atlantis.example",
            to=SUBMISSIONS,
            words=50,
            message_id=_MARK,
        )
    if kind == "no_meeting_named":
        return samples.submission_email(
            mission_name="France",
            sender="france@un.int",
            to=SUBMISSIONS,
            words=50,
            subject="Our written statement",
            message_id=_MARK,
        )
    if kind == "auto_reply":
        return auto_reply_email(
            sender="japan@un.int", to=SUBMISSIONS, original_subject="Hello", message_id=_MARK
        )
    if kind == "bounce":
        original = samples.submission_email(
            mission_name="Brazil",
            sender="brazil@un.int",
            to=SUBMISSIONS,
            words=50,
            message_id="<bounced-original@intake.test>",
        )
        return bounce_email(original=original, message_id=_MARK)
    raise ValueError(kind)


# Ten kinds in turn: 4 accepted, 2 rejected, 2 held, 2 ignored.
_CYCLE: Sequence[tuple[str, m.MessageOutcome]] = (
    ("accepted", m.MessageOutcome.ACCEPTED),
    ("accepted", m.MessageOutcome.ACCEPTED),
    ("no_cover_letter", m.MessageOutcome.REJECTED),
    ("accepted", m.MessageOutcome.ACCEPTED),
    ("no_meeting_named", m.MessageOutcome.HELD),
    ("auto_reply", m.MessageOutcome.IGNORED),
    ("accepted", m.MessageOutcome.ACCEPTED),
    ("unknown_sender", m.MessageOutcome.REJECTED),
    ("no_meeting_named", m.MessageOutcome.HELD),
    ("bounce", m.MessageOutcome.IGNORED),
)


def mixed_messages(count: int, *, tag: str = "crash") -> list[Seeded]:
    """`count` distinct messages of every kind, received a minute apart, before the deadline."""
    start = ny(2021, 5, 20, 6, 0)
    seeded: list[Seeded] = []
    for index in range(count):
        kind, outcome = _CYCLE[index % len(_CYCLE)]
        template = _template(kind, index % len(MISSION_SENDERS) if kind == "accepted" else 0)
        message_id = f"<{tag}-{index:05d}@intake.test>"
        assert template.count(_MARK.encode()) == 1
        seeded.append(
            Seeded(
                raw=template.replace(_MARK.encode(), message_id.encode()),
                message_id=message_id,
                outcome=outcome,
                at=start + timedelta(minutes=index),
            )
        )
    return seeded


def seed(
    dovecot: ThrowawayDovecot,
    user: str,
    password: str,
    messages: Sequence[Seeded],
    folder: str = "INBOX",
) -> None:
    """Put the messages in the mailbox, 100 per APPEND (MULTIAPPEND, RFC 3502)."""
    with dovecot.imap_client(user, password) as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for start in range(0, len(messages), 100):
            chunk = messages[start : start + 100]
            client.multiappend(folder, [{"msg": s.raw, "date": s.at} for s in chunk])
