"""How well the assistant answers labeled help questions: the right article, the key facts, no needless handoff.

Each question goes the way a customer's first message goes through the graph: analyzed and routed by
the policy, then answered by the configured model with the handoff tool bound (`python -m engine
assess --answers FILE`). Lines are {"question", "article", "key_facts": [...], "lang"?}; a question
the articles do not answer has "article": null and should be handed off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from .assessment import analyze_latest_turn
from .config import Settings
from .handoff_tool import handoff_call, handoff_tool
from .knowledge import KnowledgeBase
from .models import make_chat_model
from .prompts import answer_prompt
from .understanding import Understanding, load_understanding

_MARKUP = re.compile(r"\*\*|__")


@dataclass(frozen=True)
class AnsweredQuestion:
    question: str
    expected_article: str | None
    handed_off: bool
    article: str | None  # the article the answer names as its source
    facts_missing: list[str]

    @property
    def right_article(self) -> bool:
        return not self.handed_off and self.article == self.expected_article

    @property
    def complete(self) -> bool:
        return self.right_article and not self.facts_missing


@dataclass
class AnswerReport:
    answered: list[AnsweredQuestion] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> list[AnsweredQuestion]:
        return [case for case in self.answered if case.expected_article]

    def share(self, test: str) -> float:
        cases = self.answerable
        return sum(bool(getattr(case, test)) for case in cases) / len(cases) if cases else 0.0

    @property
    def unanswerable_handed_off(self) -> tuple[int, int]:
        cases = [case for case in self.answered if not case.expected_article]
        return sum(case.handed_off for case in cases), len(cases)

    def render(self, show_misses: bool = True) -> str:
        handed, unanswerable = self.unanswerable_handed_off
        lines = [
            f"{len(self.answerable)} answerable questions: right article {self.share('right_article'):.0%}, "
            f"complete answer (every key fact) {self.share('complete'):.0%}, "
            f"handed to a person {self.share('handed_off'):.0%}",
            f"{unanswerable} questions the articles do not answer: handed to a person {handed} of {unanswerable}",
        ]
        if show_misses:
            for case in self.answerable:
                if not case.complete:
                    why = (
                        "handed off"
                        if case.handed_off
                        else (
                            f"answered from {case.article}"
                            if not case.right_article
                            else f"missing {case.facts_missing}"
                        )
                    )
                    lines.append(f"  {case.question!r} ({case.expected_article}): {why}")
        lines += [f"error: {error}" for error in self.errors]
        return "\n".join(lines)


def answer_question(
    question: str,
    settings: Settings,
    knowledge: KnowledgeBase,
    understanding: Understanding,
    answer_model: Runnable[LanguageModelInput, BaseMessage],
) -> tuple[bool, str, str | None]:
    """(handed off, the answer's text, its source article title) for a customer's opening message;
    `answer_model` is the chat model with the handoff tool bound, as the graph's answer node has it."""
    messages: list[dict[str, Any]] = [{"role": "customer", "author": "Customer", "content": question}]
    turn = analyze_latest_turn(
        messages,
        previous_frustration=None,
        previous_language=None,
        understanding=understanding,
        knowledge=knowledge,
        settings=settings,
    )
    if turn.reason:
        return True, "", None
    reply = answer_model.invoke(answer_prompt(messages, turn.retrieval, turn.reading.label, turn.language))
    if handoff_call(reply, settings.skills):
        return True, "", None
    return False, str(reply.content), turn.retrieval.articles[0] if turn.retrieval.articles else None


def answer_report(lines: Iterable[str], settings: Settings) -> AnswerReport:
    knowledge = KnowledgeBase(settings.kb_dir, settings.model_cache_path)
    understanding = load_understanding(settings.model_cache_path, settings.intent_examples)
    answer_model = make_chat_model(settings, knowledge, understanding.turns.handoff_words).bind_tools(
        [handoff_tool(settings.skills)]
    )
    titles = {passage.article: passage.title for passage in knowledge.passages}
    report = AnswerReport()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, article, facts = (
                str(row["question"]),
                row.get("article"),
                [str(f) for f in row.get("key_facts") or []],
            )
            if article is not None and article not in titles:
                raise ValueError(f"no article named {article!r} in {settings.kb_dir}")
        except (ValueError, KeyError, TypeError) as problem:
            report.errors.append(f"line {number}: {problem}")
            continue
        handed_off, content, source = answer_question(question, settings, knowledge, understanding, answer_model)
        plain = _MARKUP.sub("", content).lower()
        report.answered.append(
            AnsweredQuestion(
                question=question,
                expected_article=titles.get(article) if article else None,
                handed_off=handed_off,
                article=source,
                facts_missing=[fact for fact in facts if _MARKUP.sub("", fact).lower() not in plain],
            )
        )
    return report
