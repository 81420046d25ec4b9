"""How Intake's log lines look: plain text for a person at a terminal, or one JSON object
per line (`--log-format json`, `[logging] format = "json"`) for a log collector.

A JSON line carries the time (UTC, ISO 8601), the level, the logger, the message, and the
fields an operator searches by when a record carries them: `reference`, `message_id`,
`uid`, `reply_id`. Everything a log line quotes from mail has its control characters
made visible (`pipeline.printable`), in both forms.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum

from pipeline.printable import visible

__all__ = ["CONTEXT_FIELDS", "JsonFormatter", "LogFormat", "configure_logging", "log_formatter"]

# Extra attributes of a log record that a JSON line carries as fields of their own:
# `log.info("...", extra={"reference": ref, "message_id": mid})`.
CONTEXT_FIELDS = ("reference", "message_id", "uid", "reply_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class _VisibleFormatter(logging.Formatter):
    """Log lines (and their tracebacks) with control characters made visible: a log
    message may quote an address or a file name from mail."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), lines=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, no line breaks inside (tracebacks are a field)."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": visible(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                event[name] = visible(str(value)) if isinstance(value, str) else value
        if record.exc_info:
            event["error"] = visible(self.formatException(record.exc_info), lines=True)
        return json.dumps(event, ensure_ascii=False, default=str)


def log_formatter(form: LogFormat) -> logging.Formatter:
    return JsonFormatter() if form is LogFormat.JSON else _VisibleFormatter(TEXT_FORMAT)


def configure_logging(verbose: int, form: LogFormat = LogFormat.TEXT) -> None:
    """Log to stderr at WARNING (verbose 0), INFO (1) or DEBUG (2+), in `form`; calling it
    again replaces the handler (the configuration file may ask for JSON after the command
    line set up text)."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(form))
    logging.basicConfig(level=level, handlers=[handler], force=True)
