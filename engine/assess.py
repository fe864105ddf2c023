"""Replays transcripts against the escalation policy: what would the engine do on the last customer turn?

With labels, it also says where the policy stands: recall per reason, false escalations and a
confusion table of expected against given reasons.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .assessment import TurnAnalysis, analyze_latest_turn
from .brief import skill_tags
from .config import Settings
from .knowledge import KnowledgeBase
from .understanding import Understanding, load_understanding

NO_ESCALATION = "none"


def assess_conversation(
    messages: list[dict[str, str]], settings: Settings, knowledge: KnowledgeBase, understanding: Understanding
) -> dict[str, Any]:
    """The engine's decision for the conversation's last customer message, as the graph would make it."""
    customer_turns = [index for index, message in enumerate(messages) if message["role"] == "customer"]
    if not customer_turns:
        raise ValueError("the conversation has no customer message")
    analysis: TurnAnalysis | None = None
    for index in customer_turns:  # each turn in order: frustration and language carry over, as in the graph
        analysis = analyze_latest_turn(
            messages[: index + 1],
            previous_frustration=analysis.assessment.frustration if analysis else None,
            previous_language=analysis.language if analysis else None,
            understanding=understanding,
            knowledge=knowledge,
            settings=settings,
        )
    assert analysis is not None
    customer_texts = [messages[index]["content"] for index in customer_turns]
    return {
        "escalate": analysis.reason is not None,
        "reason": analysis.reason,
        "intent": analysis.reading.label,
        "language": analysis.language,
        "sentiment": analysis.sentiment,
        "frustration": analysis.assessment.frustration,
        "confidence": analysis.retrieval.confidence,
        "skills": skill_tags(customer_texts, settings.skills, analysis.retrieval.articles),
    }


def _conversation(line: str) -> dict[str, Any]:
    conversation = json.loads(line)
    messages = conversation["messages"] if isinstance(conversation, dict) else None
    if (
        not isinstance(conversation, dict)
        or not isinstance(messages, list)
        or not all(
            isinstance(m, dict) and m.get("role") in ("customer", "assistant") and isinstance(m.get("content"), str)
            for m in messages
        )
    ):
        raise ValueError('each message is {"role": "customer"|"assistant", "content": "..."}')
    return conversation


def _engine_parts(settings: Settings) -> tuple[KnowledgeBase, Understanding]:
    return KnowledgeBase(settings.kb_dir, settings.model_cache_path), load_understanding(
        settings.model_cache_path, settings.intent_examples
    )


def assess_lines(lines: Iterable[str], settings: Settings) -> Iterator[str]:
    """One JSON line out per JSON line in; a line that cannot be read gets an `error` line, not a crash."""
    knowledge, understanding = _engine_parts(settings)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            conversation = _conversation(line)
            yield json.dumps(assess_conversation(conversation["messages"], settings, knowledge, understanding))
        except (ValueError, KeyError, TypeError) as problem:
            yield json.dumps({"error": f"line {number}: {problem}"})


@dataclass
class LabelReport:
    """How the policy's decisions compare with a team's labels."""

    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, given) -> conversations
    errors: list[str] = field(default_factory=list)

    def add(self, expected: str, given: str) -> None:
        self.confusion[(expected, given)] += 1

    def count(self, expected: str, given: str | None = None) -> int:
        return sum(n for (wanted, got), n in self.confusion.items() if wanted == expected and given in (None, got))

    def recall(self, reason: str) -> float:
        """Share of the conversations labeled with this reason that escalate for it."""
        total = self.count(reason)
        return self.count(reason, reason) / total if total else 0.0

    def escalated(self, reason: str) -> float:
        """Share of the conversations labeled with this reason that escalate at all, for any reason."""
        total = self.count(reason)
        return (total - self.count(reason, NO_ESCALATION)) / total if total else 0.0

    @property
    def false_escalation_rate(self) -> float:
        total = self.count(NO_ESCALATION)
        return (total - self.count(NO_ESCALATION, NO_ESCALATION)) / total if total else 0.0

    def render(self) -> str:
        expected = sorted({wanted for wanted, _ in self.confusion})
        given = sorted({got for _, got in self.confusion} | set(expected))
        lines = [f"{'expected':<22}{'conversations':>14}{'right reason':>14}{'escalated':>11}"]
        for reason in expected:
            if reason == NO_ESCALATION:
                continue
            lines.append(
                f"{reason:<22}{self.count(reason):>14}{self.recall(reason):>14.0%}{self.escalated(reason):>11.0%}"
            )
        if self.count(NO_ESCALATION):
            lines.append(
                f"false escalations: {self.count(NO_ESCALATION) - self.count(NO_ESCALATION, NO_ESCALATION)} "
                f"of {self.count(NO_ESCALATION)} ({self.false_escalation_rate:.0%})"
            )
        lines += [
            "",
            "confusion (rows expected, columns given):",
            " " * 22 + "".join(f"{name[:10]:>11}" for name in given),
        ]
        for wanted in expected:
            lines.append(f"{wanted:<22}" + "".join(f"{self.confusion[(wanted, got)]:>11}" for got in given))
        lines += [f"error: {error}" for error in self.errors]
        return "\n".join(lines)


def label_report(lines: Iterable[str], settings: Settings) -> LabelReport:
    """Labeled conversations ({"messages": [...], "escalate": bool, "reason"?: str}) against the policy."""
    knowledge, understanding = _engine_parts(settings)
    report = LabelReport()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            conversation = _conversation(line)
            if not isinstance(conversation.get("escalate"), bool):
                raise ValueError('a labeled conversation says "escalate": true or false')
            decision = assess_conversation(conversation["messages"], settings, knowledge, understanding)
        except (ValueError, KeyError, TypeError) as problem:
            report.errors.append(f"line {number}: {problem}")
            continue
        expected = (conversation.get("reason") or "escalate") if conversation["escalate"] else NO_ESCALATION
        report.add(expected, decision["reason"] or NO_ESCALATION)
    return report
