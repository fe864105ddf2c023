"""The handoff brief: what an agent needs so the customer never repeats anything."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import BaseModel

from .facts import customer_facts, mask_card_numbers
from .policy import REASON_TEXT
from .text import content_terms

# Skill -> stems that point to it. A configured skill with no entry matches on its own name.
SKILL_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Billing": (
        "bill",
        "billing",
        "invoic",
        "charg",
        "refund",
        "payment",
        "pay",
        "card",
        "price",
        "pricing",
        "plan",
        "subscript",
        "upgrad",
        "downgrad",
        "money",
        "receipt",
        "vat",
        "tax",
        "declin",
        "cancel",
    ),
    "Technical": (
        "api",
        "error",
        "bug",
        "crash",
        "webhook",
        "integrat",
        "rate",
        "limit",
        "429",
        "500",
        "sso",
        "saml",
        "sync",
        "upload",
        "slow",
        "outag",
        "down",
        "broken",
        "load",
        "timeout",
        "key",
    ),
    "Account": (
        "password",
        "login",
        "log",
        "sign",
        "2fa",
        "two",
        "factor",
        "authenticat",
        "email",
        "account",
        "delet",
        "export",
        "gdpr",
        "locked",
        "access",
        "profil",
        "user",
        "seat",
    ),
    "Shipping": (
        "ship",
        "deliver",
        "order",
        "track",
        "package",
        "parcel",
        "hub",
        "carrier",
        "return",
        "warranty",
        "address",
        "courier",
        "arriv",
    ),
}


MODEL_SUMMARY = "Assistant's summary:"  # how the summary marks what an LLM wrote
# What the escalation reason says the customer wants, when their words name nothing more specific.
_WANTS_BY_REASON = {
    "handoff_request": "to talk to a person",
    "frustration": "their problem taken seriously and sorted out",
    "repeated_question": "an answer that works (the assistant's did not)",
    "account_action": "someone to look at or change their account",
}
_WANTS: dict[str, list[str]] = {
    want: stems
    for want, stems in json.loads((Path(__file__).parent / "wants.json").read_text(encoding="utf-8")).items()
    if not want.startswith("_")
}


class HandoffBrief(BaseModel):
    summary: str
    skills: list[str]
    customer_facts: dict[str, str]
    reason: str
    reason_text: str
    sentiment_trend: str
    first_question: str
    latest_message: str
    language: str = "en"  # ISO 639-1: the customer's language, so a speaker of it can take the ticket
    problem: str = ""  # the customer's own statement of what is wrong
    wants: str = ""
    answered: list[str] = []  # what the assistant already answered: "article — section"
    model_summary: str | None = None  # the answer model's summary when it handed off with its tool


def skill_tags(customer_messages: list[str], skills: list[str], articles: list[str]) -> list[str]:
    """The configured skills this conversation needs, strongest first; the fallback skill if none."""
    stems = Counter(content_terms(" ".join(customer_messages + articles)))
    scores: dict[str, int] = {}
    for skill in skills:
        keywords = SKILL_KEYWORDS.get(skill, tuple(content_terms(skill)))
        score = sum(stems[keyword] for keyword in keywords)
        if score:
            scores[skill] = score
    if not scores:
        fallback = "General" if "General" in skills else skills[-1]
        return [fallback]
    best = max(scores.values())
    # Keep a second skill only when it is nearly as strong: "refund for my broken Hub" is both.
    return [skill for skill, score in sorted(scores.items(), key=lambda item: -item[1]) if score * 2 >= best]


def describe_trend(sentiments: list[float], frustrated: bool = False, complaint: bool = False) -> str:
    """The mood over the conversation. The lexicon's sentiment reads politeness ("thanks, please")
    as positive, so a customer who is frustrated, or states a problem, is never called positive."""
    if not sentiments:
        return "no customer messages"
    start, end = sentiments[0], sentiments[-1]
    mood = "negative" if end <= -0.3 else "positive" if end >= 0.3 else "neutral"
    if frustrated:
        mood = "frustrated"
    elif complaint and mood == "positive":
        mood = "neutral"
    if len(sentiments) == 1:
        return f"{mood} ({end:+.2f})"
    direction = "worsening" if end - start <= -0.2 else "improving" if end - start >= 0.2 else "steady"
    if mood == "frustrated" and direction == "improving":
        direction = "steady"
    return f"{direction}, now {mood} ({start:+.2f} → {end:+.2f} over {len(sentiments)} messages)"


def wants(statement: str, reason: str) -> str:
    """What the customer wants, from their statement of the problem, else from the escalation reason."""
    stems = set(content_terms(statement))
    for want, markers in _WANTS.items():
        if any(stem in markers for stem in stems):
            return want
    return _WANTS_BY_REASON.get(reason, "an answer the help articles do not give")


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def write_brief(
    customer_messages: list[str],
    sentiments: list[float],
    reason: str,
    skills: list[str],
    articles: list[str],
    language: str = "en",
    problem: str | None = None,
    answered: list[str] | None = None,
    frustrated: bool = False,
    model_summary: str | None = None,
    model_skills: list[str] | None = None,
) -> HandoffBrief:
    """The deterministic brief, ready at once; an LLM summary may refine `summary` later.

    `problem` is the customer's own statement of what is wrong, when the caller found one: it leads
    the summary, so an agent reads the problem, not the greeting it came after. `answered` lists what
    the assistant already answered ("article — section"); the answer model's own summary and skills,
    when it handed off with its tool, are kept beside ours."""
    facts = customer_facts(customer_messages)
    tags = [skill for skill in model_skills or [] if skill in skills] or skill_tags(customer_messages, skills, articles)
    first, latest = mask_card_numbers(customer_messages[0]), mask_card_numbers(customer_messages[-1])
    stated = mask_card_numbers(problem) if problem else latest
    wanted = wants(stated, reason)
    parts = [f"Problem: “{_clip(stated)}”.", f"Wants: {wanted}."]
    if len(customer_messages) > 1 and latest != stated:
        parts.append(f"Latest: “{_clip(latest)}”.")
    if answered:
        parts.append(f"Assistant already answered: {'; '.join(answered[-3:])}.")
    if facts:
        parts.append("Known: " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in facts.items()) + ".")
    if model_summary:
        parts.append(f"{MODEL_SUMMARY} {_clip(mask_card_numbers(model_summary), 400)}")
    parts.append(f"Escalated because {REASON_TEXT.get(reason, reason)}.")
    return HandoffBrief(
        summary=" ".join(parts),
        skills=tags,
        customer_facts=facts,
        reason=reason,
        reason_text=REASON_TEXT.get(reason, reason),
        sentiment_trend=describe_trend(sentiments, frustrated, complaint=problem is not None),
        first_question=first,
        latest_message=latest,
        language=language,
        problem=stated,
        wants=wanted,
        answered=list(answered or []),
        model_summary=mask_card_numbers(model_summary) if model_summary else None,
    )
