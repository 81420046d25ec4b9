"""The `/metrics` page: Prometheus text format 0.0.4, computed from the database.

Counted from the tables rather than kept in process memory: the dashboard, cron runs and
workers are separate processes, and only the database knows what all of them did. Every
series a label can take is written, zeros included, so that an alert on "failed replies
> 0" has a series to look at before the first failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pipeline.storage import models as m

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NO_MEETING = "none"  # the label of submissions not routed to a meeting (codes are upper case)


def escape_label(value: str) -> str:
    """A label value inside double quotes: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            text = ",".join(f'{key}="{escape_label(val)}"' for key, val in labels.items())
            yield (
                f"{self.name}{{{text}}} {_number(value)}"
                if text
                else (f"{self.name} {_number(value)}")
            )


def _counts(session: Session, column: Any) -> dict[object, int]:
    rows = session.execute(sa.select(column, sa.func.count()).group_by(column))
    return {key: int(count) for key, count in rows}


def render_metrics(session: Session) -> str:
    """The whole page; raises SQLAlchemyError when the database cannot be read."""
    families: list[_Family] = []

    messages = _Family(
        "intake_messages_total",
        "counter",
        "Messages filed from the mailbox, by outcome (every mail is recorded once).",
    )
    by_outcome = _counts(session, col(m.MessageRecord.outcome))
    for outcome in m.MessageOutcome:
        messages.add(by_outcome.get(outcome, 0), outcome=outcome.value)
    families.append(messages)

    replies = _Family(
        "intake_replies_total",
        "gauge",
        "Replies in the outbox, by status now (pending and failed ones can go down again "
        "when they are sent or resent).",
    )
    by_status = _counts(session, col(m.Reply.status))
    for reply_status in m.ReplyStatus:
        replies.add(by_status.get(reply_status, 0), status=reply_status.value)
    families.append(replies)

    last_run = session.exec(
        select(m.WorkerRun)
        .where(col(m.WorkerRun.finished_at).is_not(None))
        .order_by(col(m.WorkerRun.finished_at).desc(), col(m.WorkerRun.id).desc())
        .limit(1)
    ).first()
    duration = _Family(
        "intake_last_run_duration_seconds",
        "gauge",
        "How long the most recent finished run took, successful or not.",
    )
    last_ok = _Family(
        "intake_last_run_ok", "gauge", "1 when the most recent finished run succeeded, else 0."
    )
    if last_run is not None and last_run.finished_at is not None:
        duration.add((last_run.finished_at - last_run.started_at).total_seconds())
        last_ok.add(1 if last_run.ok else 0)
    families += [duration, last_ok]

    last_success = session.exec(
        select(m.WorkerRun)
        .where(col(m.WorkerRun.ok).is_(True), col(m.WorkerRun.finished_at).is_not(None))
        .order_by(col(m.WorkerRun.finished_at).desc())
        .limit(1)
    ).first()
    success = _Family(
        "intake_last_success_timestamp_seconds",
        "gauge",
        "When the most recent successful run finished (Unix time); alert when it is old.",
    )
    if last_success is not None and last_success.finished_at is not None:
        success.add(last_success.finished_at.timestamp())
    families.append(success)

    submissions = _Family(
        "intake_submissions",
        "gauge",
        f"Submissions by meeting and status now ({NO_MEETING!r}: not routed to a meeting).",
    )
    codes = {meeting.id: meeting.code for meeting in session.exec(select(m.Meeting))}
    grouped = session.execute(
        sa.select(col(m.Submission.meeting_id), col(m.Submission.status), sa.func.count()).group_by(
            col(m.Submission.meeting_id), col(m.Submission.status)
        )
    )
    counts: dict[tuple[str, str], int] = {}
    for meeting_id, status, count in grouped:
        key = (codes.get(meeting_id, NO_MEETING), m.SubmissionStatus(status).value)
        counts[key] = counts.get(key, 0) + int(count)
    meetings = sorted(set(codes.values()) | {code for code, _ in counts})
    for code in meetings:
        for status in m.SubmissionStatus:
            submissions.add(counts.get((code, status.value), 0), meeting=code, status=status.value)
    families.append(submissions)

    return "\n".join(line for family in families for line in family.lines()) + "\n"
