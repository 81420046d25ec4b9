"""What every desk view shares: the JSON form of a view (`as_json()`), the zone times are
shown in, and `NotFound` for a reference, meeting or mission that does not exist."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.errors import IntakeError
from pipeline.storage import models as m

DEFAULT_ZONE = ZoneInfo("America/New_York")


class NotFound(IntakeError):
    """The reference, meeting or mission does not exist; the message says which."""


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


class JsonView:
    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = json_value(asdict(self))  # type: ignore[call-overload]
        return data


def reply_json(reply: m.Reply, submission: m.Submission | None) -> dict[str, Any]:
    return {
        "id": reply.id,
        "reference": submission.reference if submission else None,
        "kind": reply.kind.value,
        "status": reply.status.value,
        "to": reply.to_address,
        "subject": reply.subject,
        "attempts": reply.attempts,
        "last_error": reply.last_error,
        "created_at": reply.created_at,
        "sent_at": reply.sent_at,
        "cancelled_at": reply.cancelled_at,
        "cancel_reason": reply.cancel_reason,
        "message_id": reply.message_id,
        "cancellable": reply.status in m.UNSENT_STATUSES,
    }


def reply_state(reply: m.Reply) -> str:
    """One line on where a reply stands, for people: sent when, waiting since, why
    cancelled."""
    if reply.status is m.ReplyStatus.SENT and reply.sent_at is not None:
        return f"sent {reply.sent_at.isoformat(timespec='seconds')} (UTC)"
    if reply.status is m.ReplyStatus.CANCELLED:
        return f"cancelled, never sent: {reply.cancel_reason or 'no reason recorded'}"
    if reply.status is m.ReplyStatus.FAILED:
        return f"failed after {reply.attempts} attempt(s): {reply.last_error or '?'}"
    if reply.status is m.ReplyStatus.SENDING:
        return f"being sent by {reply.claimed_by or 'a worker'}"
    if reply.attempts:
        return (
            f"waiting, to be tried again from {reply.next_attempt_at.isoformat(timespec='seconds')}"
            f" (UTC) after {reply.attempts} attempt(s): {reply.last_error or '?'}"
        )
    return "waiting to be sent"
