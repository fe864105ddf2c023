"""The escalation policy: given what a turn tells us, hand off to a person or let the assistant answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .config import Settings

EscalationReason = Literal[
    "handoff_request",
    "frustration",
    "repeated_question",
    "low_confidence",
    "assistant_cannot_help",
    "assistant_unavailable",
]

REASON_TEXT: dict[str, str] = {
    "handoff_request": "the customer asked for a person",
    "frustration": "the customer is frustrated",
    "repeated_question": "the customer repeated a question the assistant already answered",
    "low_confidence": "the knowledge base has no confident answer",
    "assistant_cannot_help": "the assistant said it cannot help",
    "assistant_unavailable": "the assistant is unavailable",
}


@dataclass(frozen=True)
class TurnAssessment:
    wants_human: bool
    small_talk: bool
    frustration: float
    previous_frustration: float | None  # None on the conversation's first turn: nothing to rise from
    retrieval_confidence: float
    repeated_question: bool


def escalation_reason(turn: TurnAssessment, settings: Settings) -> EscalationReason | None:
    """The reason to hand this turn to a person, or None when the assistant should answer.

    Checked in order of how sure we are that a person is needed: an explicit request first,
    then anger, then the loop of death, then a question the knowledge base cannot answer.
    """
    if turn.wants_human:
        return "handoff_request"
    sharp_rise = (
        turn.previous_frustration is not None
        and turn.frustration - turn.previous_frustration >= settings.frustration_jump
    )
    if turn.frustration >= settings.frustration_threshold or (
        sharp_rise and turn.frustration >= settings.frustration_threshold / 2
    ):
        return "frustration"
    if turn.repeated_question:
        return "repeated_question"
    if not turn.small_talk and turn.retrieval_confidence < settings.confidence_threshold:
        return "low_confidence"
    return None
