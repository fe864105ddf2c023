"""Log lines: which conversation each is about, and one JSON object per line when LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

# The conversation the running code works on. Asyncio copies it into tasks started from there, so
# background work (drafts, summaries) logs under the conversation that started it.
_conversation: ContextVar[dict[str, str]] = ContextVar("escalation_engine_conversation", default={})  # noqa: B039 - never mutated, only replaced


@contextmanager
def about_conversation(thread_id: str | None = None, ticket_id: str | None = None) -> Iterator[None]:
    """Marks every log line written inside as about this thread and ticket (what is known of them)."""
    token = _conversation.set(_with(thread_id=thread_id, ticket_id=ticket_id))
    try:
        yield
    finally:
        _conversation.reset(token)


def learn_conversation(thread_id: str | None = None, ticket_id: str | None = None) -> None:
    """Adds what was just learned (the thread of a ticket, the ticket of a thread) to the current
    marking; it ends with the enclosing `about_conversation` or task."""
    _conversation.set(_with(thread_id=thread_id, ticket_id=ticket_id))


def _with(**ids: str | None) -> dict[str, str]:
    return {**_conversation.get(), **{key: value for key, value in ids.items() if value}}


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the conversation's ids, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_conversation.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(log_format: str) -> None:
    """Applies LOG_FORMAT to the handlers of the root logger and of uvicorn's own loggers, which do
    not pass their lines to the root ("text" leaves them as they are)."""
    if log_format != "json":
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO)
    logging.captureWarnings(True)  # a library's warning is a log line too, not free text on stderr
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonLines())
