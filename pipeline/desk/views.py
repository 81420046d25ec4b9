"""What the service desk looks at: the queue per meeting, one submission in full, who is
missing, the replies, the audit log. Read-only; shared by the CLI and the dashboard.

Every view is a plain dataclass with `as_json()`, so the CLI's `--json` and the web pages
show the same facts. The views live in `queue_view`, `submission_view` and
`directory_view` (what they share: `view_base`); this module is the one name the CLI,
the dashboard and the digest import them by.
"""

from __future__ import annotations

from pipeline.desk.attention import (
    KIND_TITLES,
    Attention,
    AttentionItem,
    AttentionKind,
    attention,
)
from pipeline.desk.directory_view import (
    MeetingRow,
    MissingMission,
    MissingReport,
    MissionDetail,
    MissionRow,
    audit_log,
    find_meeting,
    find_mission_row,
    list_meetings,
    list_missions,
    list_replies,
    missing_missions,
    missing_report,
    mission_detail,
)
from pipeline.desk.queue_view import (
    WITHHELD_SPAN,
    MeetingOverview,
    QueueOverview,
    countdown,
    failed_replies,
    queue_overview,
    replies_with_errors,
    time_span,
    withheld_replies,
)
from pipeline.desk.submission_view import (
    DecisionView,
    DocumentView,
    EventView,
    SubmissionDetail,
    find_submission,
    submission_detail,
)
from pipeline.desk.traffic_view import IgnoredMessage, find_message, ignored_messages
from pipeline.desk.view_base import (
    DEFAULT_ZONE,
    JsonView,
    NotFound,
    json_value,
    reply_json,
    reply_state,
)

__all__ = [
    "DEFAULT_ZONE",
    "KIND_TITLES",
    "WITHHELD_SPAN",
    "Attention",
    "AttentionItem",
    "AttentionKind",
    "DecisionView",
    "DocumentView",
    "EventView",
    "IgnoredMessage",
    "JsonView",
    "MeetingOverview",
    "MeetingRow",
    "MissingMission",
    "MissingReport",
    "MissionDetail",
    "MissionRow",
    "NotFound",
    "QueueOverview",
    "SubmissionDetail",
    "attention",
    "audit_log",
    "countdown",
    "failed_replies",
    "find_meeting",
    "find_message",
    "find_mission_row",
    "find_submission",
    "ignored_messages",
    "json_value",
    "list_meetings",
    "list_missions",
    "list_replies",
    "missing_missions",
    "missing_report",
    "mission_detail",
    "queue_overview",
    "replies_with_errors",
    "reply_json",
    "reply_state",
    "submission_detail",
    "time_span",
    "withheld_replies",
]
