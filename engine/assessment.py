"""What one customer turn tells the policy: the classifier's reading, the language, retrieval and repeats.

The graph's analyze node and `python -m engine assess` both read turns here, so a team's replay of
its transcripts decides exactly as the live engine does.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .knowledge import KnowledgeBase, Retrieval
from .policy import EscalationReason, TurnAssessment, escalation_reason
from .signals import repeats_answered_question, sentiment
from .understanding import TurnReading, Understanding

# The language a conversation starts in until its customer writes enough to tell.
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class TurnAnalysis:
    reading: TurnReading
    language: str
    search_text: str  # what the knowledge base was asked: the message, or a follow-up with its question
    sentiment: float
    retrieval: Retrieval
    assessment: TurnAssessment
    reason: EscalationReason | None


def analyze_turn(
    question: str,
    *,
    previous_assistant_message: str | None,
    previous_question: str | None,
    answered_questions: list[str],
    previous_frustration: float | None,
    previous_language: str | None,
    understanding: Understanding,
    knowledge: KnowledgeBase,
    settings: Settings,
) -> TurnAnalysis:
    """Everything the router needs about the latest customer message, and the reason it gives."""
    after_answer = bool(previous_assistant_message)
    reading = understanding.turns.read(question, after_answer)
    language = understanding.language.detect(question) or previous_language or DEFAULT_LANGUAGE
    retrieval, search_text = knowledge.search(question, language=language), question
    if after_answer and previous_question and retrieval.confidence < settings.confidence_threshold:
        # A follow-up ("and how long is it valid?") is about the article that answered the question
        # it follows (in full or until the customer stopped it): searched with that article's title,
        # its own words pick the section.
        answered_from = knowledge.search(previous_question, language=language).passages
        if answered_from:
            with_context = f"{answered_from[0].title}: {question}"
            in_context = knowledge.search(with_context, language=language)
            if in_context.confidence > retrieval.confidence:
                retrieval, search_text = in_context, with_context
    assessment = TurnAssessment(
        intent=reading.label,
        frustration=reading["frustration"],
        previous_frustration=previous_frustration,
        after_answer=after_answer,
        retrieval_confidence=retrieval.confidence,
        repeated_question=repeats_answered_question(
            question, answered_questions, settings.repeat_similarity, knowledge.best_passage
        ),
    )
    return TurnAnalysis(
        reading=reading,
        language=language,
        search_text=search_text,
        sentiment=sentiment(question),
        retrieval=retrieval,
        assessment=assessment,
        reason=escalation_reason(assessment, settings),
    )


# What a customer says when they state a problem, rather than greet, thank or only ask for a person.
_STATES_A_PROBLEM = ("question", "account_action", "not_resolved", "frustration")
# A request for a person states a problem too when this many words remain without the asking.
_WORDS_OF_A_PROBLEM = 4


def problem_statement(customer_messages: list[str], understanding: Understanding) -> str | None:
    """The customer's latest message that says what is wrong ("charged twice on INV-20931"), if any."""
    for text in reversed(customer_messages):
        label = understanding.turns.read(text, after_answer=False).label
        if label in _STATES_A_PROBLEM:
            return text
        if label == "handoff_request" and len(understanding.turns.without_handoff_words(text).split()) >= _WORDS_OF_A_PROBLEM:
            return text
    return None
