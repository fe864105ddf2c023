"""What one customer turn tells the policy: the classifier's reading, the language, retrieval and repeats.

The graph's analyze node and `python -m engine assess` both read turns here, so a team's replay of
its transcripts decides exactly as the live engine does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from .config import Settings
from .facts import identifiers, without_identifiers
from .knowledge import KnowledgeBase, Retrieval
from .policy import WITHDRAW, EscalationReason, TurnAssessment, escalation_reason
from .signals import repeats_answered_question, sentiment
from .text import content_terms
from .understanding import TurnReading, Understanding

# The language a conversation starts in until its customer writes enough to tell.
DEFAULT_LANGUAGE = "en"
# The share of a follow-up's own words (IDF-weighted) the article it follows must hold.
FOLLOW_UP_COVERAGE = 0.5


def follow_up_text(article_title: str, question: str) -> str:
    """What a follow-up is searched as: the title of the article it follows, then its own words."""
    return f"{article_title}: {question}"


@dataclass(frozen=True)
class TurnAnalysis:
    reading: TurnReading
    language: str
    follows_article: str | None  # the article title a follow-up was searched with, if it was
    sentiment: float
    retrieval: Retrieval
    assessment: TurnAssessment
    reason: EscalationReason | None


def analyze_turn(
    question: str,
    *,
    previous_assistant_message: str | None,
    previous_question: str | None,
    answer_stopped: bool = False,
    answered_questions: list[str],
    previous_frustration: float | None,
    previous_language: str | None,
    understanding: Understanding,
    knowledge: KnowledgeBase,
    settings: Settings,
    left_queue: bool = False,
) -> TurnAnalysis:
    """Everything the router needs about the latest customer message, and the reason it gives.
    `left_queue`: with this message the customer left the queue for a person (see the service)."""
    after_answer = bool(previous_assistant_message)
    reading = understanding.turns.read(question, after_answer)
    language = understanding.language.detect(question) or previous_language or DEFAULT_LANGUAGE
    retrieval, follows_article = knowledge.search(question, language=language), None
    if after_answer and previous_question and retrieval.confidence < settings.confidence_threshold:
        # A follow-up ("and how long is it valid?") is about the article that answered the question
        # it follows (in full or until the customer stopped it): searched with that article's title,
        # its own words pick the section. Only when the article holds most of its own words too:
        # "what's the weather tomorrow?" after a password answer is not about passwords.
        answered_from = knowledge.search(previous_question, language=language).passages
        if answered_from:
            title = answered_from[0].title
            in_context = knowledge.search(follow_up_text(title, question), language=language)
            own_words = knowledge.coverage(question, in_context.passages[0], language) if in_context.passages else 0.0
            if in_context.confidence > retrieval.confidence and (own_words is None or own_words >= FOLLOW_UP_COVERAGE):
                retrieval, follows_article = in_context, title
    assessment = TurnAssessment(
        intent=policy_intent(reading, left_queue),
        frustration=reading["frustration"],
        account_action=reading["account_action"],
        handoff=reading["handoff_request"],
        previous_frustration=previous_frustration,
        after_answer=after_answer,
        retrieval_confidence=retrieval.confidence,
        repeated_question=repeats_answered_question(
            question, answered_questions, _repeat_similarity(reading, settings), knowledge.best_passage
        ),
        answer_stopped=answer_stopped,
        names_account_item=bool(identifiers(question)),
    )
    return TurnAnalysis(
        reading=reading,
        language=language,
        follows_article=follows_article,
        sentiment=sentiment(question),
        retrieval=retrieval,
        assessment=assessment,
        reason=escalation_reason(assessment, settings),
    )


def _repeat_similarity(reading: TurnReading, settings: Settings) -> float:
    """How much of an answered question a turn must repeat to count as asked again. One the classifier
    reads as a new question ("and if it's the monthly plan?") must repeat all of its words: a
    follow-up shares most words with the question it follows, and asks something else."""
    return 1.0 if reading.label == "question" else settings.repeat_similarity


def policy_intent(reading: TurnReading, left_queue: bool = False) -> str:
    """The turn's label for the policy. Leaving the queue only means something while waiting, where the
    service reads it; anywhere else a reading of `withdraw` counts as the likeliest other label."""
    if left_queue:
        return WITHDRAW
    if reading.label != WITHDRAW:
        return reading.label
    return max((label for label in reading.probabilities if label != WITHDRAW), key=reading.__getitem__)


def analyze_latest_turn(
    messages: Sequence[Mapping[str, Any]],
    *,
    previous_frustration: float | None,
    previous_language: str | None,
    understanding: Understanding,
    knowledge: KnowledgeBase,
    settings: Settings,
    left_queue: bool = False,
) -> TurnAnalysis:
    """`analyze_turn` for the last of these messages (a customer's), with its context read from the ones before."""
    earlier = messages[:-1]
    before = earlier[-1] if earlier else None
    return analyze_turn(
        str(messages[-1]["content"]),
        previous_assistant_message=str(before["content"]) if before and before["role"] == "assistant" else None,
        previous_question=next((str(m["content"]) for m in reversed(earlier) if m["role"] == "customer"), None),
        answer_stopped=bool(before and before["role"] == "assistant" and before.get("stopped")),
        answered_questions=[  # answered in full: a stopped answer answered nothing
            str(message["content"])
            for message, reply in pairwise(earlier)
            if message["role"] == "customer" and reply["role"] == "assistant" and not reply.get("stopped")
        ],
        previous_frustration=previous_frustration,
        previous_language=previous_language,
        understanding=understanding,
        knowledge=knowledge,
        settings=settings,
        left_queue=left_queue,
    )


# What a customer says when they state a problem, rather than greet, thank or only ask for a person.
_STATES_A_PROBLEM = ("question", "account_action", "not_resolved", "frustration")
# A request for a person states a problem too when this many content words remain without the asking.
_WORDS_OF_A_PROBLEM = 2
PROBLEM_LOOKBACK = 20


def problem_statement(customer_messages: list[str], understanding: Understanding) -> str | None:
    """The customer's latest message that says what is wrong ("charged twice on INV-20931"), if any,
    among their last PROBLEM_LOOKBACK messages."""
    for text in reversed(customer_messages[-PROBLEM_LOOKBACK:]):
        label = understanding.turns.read(text, after_answer=False).label
        if label in _STATES_A_PROBLEM:
            return text
        remainder = understanding.turns.without_handoff_words(text)
        if label == "handoff_request" and len(content_terms(without_identifiers(remainder))) >= _WORDS_OF_A_PROBLEM:
            return text
    return None
