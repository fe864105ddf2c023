"""Replays transcripts against the escalation policy: what would the engine do on the last customer turn?"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .brief import skill_tags
from .config import Settings
from .knowledge import KnowledgeBase
from .policy import TurnAssessment, escalation_reason
from .signals import repeats_answered_question, score_turn


def assess_conversation(messages: list[dict[str, str]], settings: Settings, knowledge: KnowledgeBase) -> dict[str, Any]:
    """The engine's decision for the conversation's last customer message."""
    customer_turns = [index for index, message in enumerate(messages) if message["role"] == "customer"]
    if not customer_turns:
        raise ValueError("the conversation has no customer message")
    last = customer_turns[-1]
    question = messages[last]["content"]
    answered = [
        message["content"]
        for message, reply in zip(messages[:last], messages[1 : last + 1])
        if message["role"] == "customer" and reply["role"] == "assistant"
    ]
    earlier_frustration = [score_turn(messages[index]["content"]).frustration for index in customer_turns[:-1]]
    signals = score_turn(question)
    retrieval = knowledge.search(question)
    reason = escalation_reason(
        TurnAssessment(
            wants_human=signals.wants_human,
            small_talk=signals.small_talk,
            frustration=signals.frustration,
            previous_frustration=earlier_frustration[-1] if earlier_frustration else None,
            retrieval_confidence=retrieval.confidence,
            repeated_question=repeats_answered_question(
                question, answered, settings.repeat_similarity, knowledge.best_passage
            ),
        ),
        settings,
    )
    customer_texts = [messages[index]["content"] for index in customer_turns]
    return {
        "escalate": reason is not None,
        "reason": reason,
        "sentiment": signals.sentiment,
        "frustration": signals.frustration,
        "confidence": retrieval.confidence,
        "skills": skill_tags(customer_texts, settings.skills, retrieval.articles),
    }


def assess_lines(lines: Iterable[str], settings: Settings) -> Iterator[str]:
    """One JSON line out per JSON line in; a line that cannot be read gets an `error` line, not a crash."""
    knowledge = KnowledgeBase(settings.kb_dir)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            conversation = json.loads(line)
            messages = conversation["messages"]
            if not isinstance(messages, list) or not all(
                isinstance(m, dict) and m.get("role") in ("customer", "assistant") and isinstance(m.get("content"), str)
                for m in messages
            ):
                raise ValueError('each message is {"role": "customer"|"assistant", "content": "..."}')
            yield json.dumps(assess_conversation(messages, settings, knowledge))
        except (ValueError, KeyError, TypeError) as problem:
            yield json.dumps({"error": f"line {number}: {problem}"})
