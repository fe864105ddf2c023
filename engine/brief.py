"""The handoff brief: what an agent needs so the customer never repeats anything."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from .facts import customer_facts, mask_card_numbers
from .policy import REASON_TEXT
from .text import content_terms

# Skill -> stems that point to it. A configured skill with no entry matches on its own name.
SKILL_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Billing": (
        "bill", "billing", "invoic", "charg", "refund", "payment", "pay", "card", "price", "pricing",
        "plan", "subscript", "upgrad", "downgrad", "money", "receipt", "vat", "tax", "declin", "cancel",
    ),
    "Technical": (
        "api", "error", "bug", "crash", "webhook", "integrat", "rate", "limit", "429", "500", "sso",
        "saml", "sync", "upload", "slow", "outag", "down", "broken", "load", "timeout", "key",
    ),
    "Account": (
        "password", "login", "log", "sign", "2fa", "two", "factor", "authenticat", "email", "account",
        "delet", "export", "gdpr", "locked", "access", "profil", "user", "seat",
    ),
    "Shipping": (
        "ship", "deliver", "order", "track", "package", "parcel", "hub", "carrier", "return",
        "warranty", "address", "courier", "arriv",
    ),
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


def describe_trend(sentiments: list[float]) -> str:
    if not sentiments:
        return "no customer messages"
    start, end = sentiments[0], sentiments[-1]
    mood = "negative" if end <= -0.3 else "positive" if end >= 0.3 else "neutral"
    if len(sentiments) == 1:
        return f"{mood} ({end:+.2f})"
    direction = "worsening" if end - start <= -0.2 else "improving" if end - start >= 0.2 else "steady"
    return f"{direction}, now {mood} ({start:+.2f} → {end:+.2f} over {len(sentiments)} messages)"


def _clip(text: str, limit: int = 160) -> str:
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
) -> HandoffBrief:
    """The deterministic brief, ready at once; an LLM summary may refine `summary` later.

    `problem` is the customer's own statement of what is wrong, when the caller found one: it leads
    the summary, so an agent reads the problem, not the greeting it came after."""
    facts = customer_facts(customer_messages)
    tags = skill_tags(customer_messages, skills, articles)
    first, latest = mask_card_numbers(customer_messages[0]), mask_card_numbers(customer_messages[-1])
    stated = mask_card_numbers(problem) if problem else None
    parts = [f"{'/'.join(tags)} request."]
    if stated:
        parts.append(f"Problem: “{_clip(stated)}”.")
    if stated != first:
        parts.append(f"First asked: “{_clip(first)}”.")
    if len(customer_messages) > 1 and latest not in (first, stated):
        parts.append(f"Latest: “{_clip(latest)}”.")
    if articles:
        parts.append(f"Assistant drew on: {', '.join(articles[:3])}.")
    if facts:
        parts.append("Known: " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in facts.items()) + ".")
    parts.append(f"Escalated because {REASON_TEXT.get(reason, reason)}.")
    return HandoffBrief(
        summary=" ".join(parts),
        skills=tags,
        customer_facts=facts,
        reason=reason,
        reason_text=REASON_TEXT.get(reason, reason),
        sentiment_trend=describe_trend(sentiments),
        first_question=first,
        latest_message=latest,
        language=language,
    )
