"""The Prometheus metrics every process exposes at `/metrics` (README, "Operating it", names each).

Counters and histograms count what this process did: Prometheus sums them over processes. The
waiting-ticket gauge is read from the database when scraped, so every process reports the same queue.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from .events import TicketView

disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream; `_created` series double the output

# Waits and first responses run from seconds to hours; a customer turn's first token from ms to seconds.
_WAIT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, float("inf"))
_TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))

CONVERSATIONS = Counter("escalation_engine_conversations", "Conversations started (a thread's first customer message)")
ESCALATIONS = Counter(
    "escalation_engine_escalations",
    "Conversations handed to a person, by reason and primary skill",
    ["reason", "skill"],
)
TICKETS_WAITING = Gauge("escalation_engine_tickets_waiting", "Tickets waiting for an agent now, by skill", ["skill"])
WAIT_SECONDS = Histogram(
    "escalation_engine_wait_seconds", "From joining the queue to an agent taking the ticket", buckets=_WAIT_BUCKETS
)
FIRST_RESPONSE_SECONDS = Histogram(
    "escalation_engine_first_response_seconds",
    "From an agent taking a ticket to their first reply",
    buckets=_WAIT_BUCKETS,
)
CSAT_RATING = Histogram("escalation_engine_csat_rating", "Customer ratings, 1 to 5", buckets=(1, 2, 3, 4, 5))
LLM_FAILURES = Counter("escalation_engine_llm_errors", "LLM calls that failed, by job", ["job"])
TURN_SECONDS = Histogram(
    "escalation_engine_turn_seconds",
    "From a customer's message to the first thing they see back (a token, an answer or the handoff)",
    buckets=_TURN_BUCKETS,
)
CHAT_SOCKETS = Gauge("escalation_engine_chat_sockets", "Customer chat sockets connected to this process")
PORTAL_SOCKETS = Gauge("escalation_engine_portal_sockets", "Agent portal sockets connected to this process")


def count_escalation(ticket: TicketView) -> None:
    ESCALATIONS.labels(reason=ticket.reason, skill=ticket.skills[0] if ticket.skills else "none").inc()


def exposition(waiting: list[TicketView] | None, skills: list[str]) -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, with the queue as `waiting` holds it (every configured
    skill reported, an empty queue as 0; None: the queue is unknown, so the gauge is left out).
    Returns the body and its content type."""
    TICKETS_WAITING.clear()
    if waiting is not None:
        by_skill = Tally(skill for ticket in waiting for skill in ticket.skills)
        for skill in {*skills, *by_skill}:
            TICKETS_WAITING.labels(skill=skill).set(by_skill.get(skill, 0))
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
