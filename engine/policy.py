"""The escalation policy: given what a turn tells us, hand off to a person or let the assistant answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .config import Settings

EscalationReason = Literal[
    "handoff_request",
    "frustration",
    "repeated_question",
    "account_action",
    "low_confidence",
    "assistant_cannot_help",
    "assistant_unavailable",
]

REASON_TEXT: dict[str, str] = {
    "handoff_request": "the customer asked for a person",
    "frustration": "the customer is frustrated",
    "repeated_question": "the assistant's answer did not resolve it (the customer says so, or asks again)",
    "account_action": "the customer needs someone to look at or change their account, order or invoice",
    "low_confidence": "the knowledge base has no confident answer",
    "assistant_cannot_help": "the assistant found no answer in the help articles",
    "assistant_unavailable": "the assistant is unavailable",
}

# Turns the articles are not for: a goodbye or a hello is answered politely, a question about what was
# said earlier from the conversation; none is escalated for want of an article.
NOT_FROM_ARTICLES = ("closing", "greeting", "recall")
WITHDRAW = "withdraw"  # the intent of a message with which the customer left the queue for a person


@dataclass(frozen=True)
class TurnAssessment:
    intent: str  # the turn classifier's label (engine/understanding/corpus/LABELS.md)
    frustration: float  # 0 (calm) .. 1: the classifier's probability that the turn is frustrated
    account_action: float  # the classifier's probability that the turn needs someone to act on the account
    handoff: float  # the classifier's probability that the turn asks for a person
    previous_frustration: float | None  # None on the conversation's first turn: nothing to rise from
    after_answer: bool  # the assistant answered the turn before this one
    retrieval_confidence: float
    repeated_question: bool  # the same question as one already answered, in mostly the same words
    answer_stopped: bool = False  # the customer stopped the answer before this turn: "no, I meant…" redirects it
    names_account_item: bool = False  # the turn gives an order, invoice, account or serial number


def escalation_reason(turn: TurnAssessment, settings: Settings) -> EscalationReason | None:
    """The reason to hand this turn to a person, or None when the assistant should answer.

    Checked in order of how sure we are that a person is needed: an explicit request first, then
    anger, then an answer that did not work, then something only a person with access can do,
    then a question the knowledge base cannot answer. Anger that is not extreme and an account
    request are answered first when the articles answer them confidently ("my card got declined
    again, what do I do?" has an answer), with a person offered; the next turn escalates if it did
    not help.
    """
    # Someone who just left the queue ("never mind, found it") is not put back in it by their own words
    # ("...I don't need the agent any more" holds handoff words).
    if turn.intent == WITHDRAW:
        return None
    # A request for a person is honoured even when a question in the same message outweighs it
    # ("a person please: how long does a refund take?").
    if turn.intent == "handoff_request" or turn.handoff >= settings.handoff_probability:
        return "handoff_request"
    answer_first = turn.retrieval_confidence >= settings.answer_first_confidence and not turn.after_answer
    sharp_rise = (
        turn.previous_frustration is not None
        and turn.frustration - turn.previous_frustration >= settings.frustration_jump
    )
    frustrated = turn.frustration >= settings.frustration_threshold or (
        sharp_rise and turn.frustration >= settings.frustration_threshold / 2
    )
    if frustrated and (turn.frustration >= settings.frustration_always_escalates or not answer_first):
        return "frustration"
    if turn.repeated_question or (turn.after_answer and turn.intent == "not_resolved" and not turn.answer_stopped):
        return "repeated_question"
    # An article may answer an account request ("can you ship my hub to a PO box?"), with a person
    # offered; one about a numbered order or invoice wants someone who can look it up sooner.
    always_escalates = (
        min(settings.account_action_named_item_escalates, settings.account_action_always_escalates)
        if turn.names_account_item
        else settings.account_action_always_escalates
    )
    if turn.intent == "account_action" and (turn.account_action >= always_escalates or not answer_first):
        return "account_action"
    if turn.intent in NOT_FROM_ARTICLES:
        return None
    if turn.retrieval_confidence < settings.confidence_threshold:
        return "low_confidence"
    return None
