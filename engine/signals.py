"""Scores one customer turn: sentiment, frustration, a request for a person, small talk, repetition."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .text import content_terms, words

_PEOPLE = (
    r"(?:human(?:\s+being)?|person|people|someone|somebody|anyone|agent|rep|representative|operator|"
    r"supervisor|manager|staff|employee|support\s+team|team\s+member|live\s+chat|live\s+support)"
)
_HANDOFF_PATTERNS = [
    # "can I talk to someone real", "let me speak with an agent", "connect me to a human"
    rf"\b(?:talk|speak|chat|connect|transfer|escalate|put|pass)\s+(?:me\s+)?(?:to|with|through\s+to)\s+"
    rf"(?:a|an|the|your|some|one\s+of\s+your)?\s*(?:real|actual|live|human)?\s*{_PEOPLE}\b",
    # "get me your supervisor", "give me a human"
    rf"\b(?:get|give|find|bring)\s+me\s+(?:a|an|the|your)?\s*(?:real|actual|live)?\s*{_PEOPLE}\b",
    # "I want a human", "I need to speak to a representative", "I'd like an agent"
    rf"\bi(?:'d| would)?\s*(?:want|need|demand|like|request|prefer)\s+(?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+)?"
    rf"(?:a|an|the|your|some)?\s*(?:real|actual|live|human)?\s*{_PEOPLE}\b",
    # "is there a real person there", "are you a bot", "any humans around"
    r"\b(?:is|are)\s+there\s+(?:a|an|any)?\s*(?:real|actual|live)?\s*(?:human|person|people|agent)s?\b",
    r"\b(?:real|actual|live)\s+(?:human|person|people|agent|representative)s?\b",
    r"\bare\s+you\s+(?:a\s+)?(?:bot|robot|machine|real)\b",
    r"\b(?:stop|enough\s+with)\s+(?:the\s+)?(?:bot|robot|ai)\b",
    r"\bcall\s+me\s+back\b",
    # "go over this with a human", "I'd rather deal with a representative"
    r"\b(?:with|to)\s+(?:a|an)\s+(?:real\s+|actual\s+|live\s+)?(?:human|human\s+being|representative|operator)\b",
]
_HANDOFF = re.compile("|".join(f"(?:{pattern})" for pattern in _HANDOFF_PATTERNS), re.IGNORECASE)
# A short message that is just the word: "operator", "agent please", "HUMAN!!!"
_HANDOFF_KEYWORD = re.compile(
    r"^\W*(?:an?\s+)?(?:human|agent|operator|representative|rep|supervisor|manager|person)"
    r"(?:\s+(?:please|pls|plz))?\s*(?:now|asap|please|pls|plz)?\W*$",
    re.IGNORECASE,
)

_FRUSTRATION_PHRASES = re.compile(
    r"\b(?:ridiculous|useless|unacceptable|pathetic|terrible|horrible|worst|awful|scam|rip[- ]?off|"
    r"waste\s+of\s+(?:my\s+)?time|fed\s+up|sick\s+of|tired\s+of|nothing\s+works|still\s+(?:not|doesn't|isn't|broken|can't)|"
    r"(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th))\s+time|again\s*\?|already\s+(?:told|said|asked|tried)|"
    r"doesn't\s+(?:help|answer)|not\s+helpful|you\s+(?:don't|do\s+not)\s+understand|stupid|annoy|angry|furious|"
    r"frustrat|disappoint|cancel\s+everything|lawyer|sue\b|complain)",
    re.IGNORECASE,
)

# Pleasantries. A message made only of these (and filler words) is small talk.
_PLEASANTRIES = re.compile(
    r"\b(?:hi|hello|hey|hiya|yo|good\s+(?:morning|afternoon|evening)|thanks?(?:\s+you)?|thx|ty|cheers|"
    r"great|perfect|awesome|ok(?:ay)?|cool|got\s+it|bye|goodbye|that\s+helps?|"
    r"(?:that|it)\s+(?:worked|works|solved\s+it|fixed\s+it|helped|did\s+it)|"
    r"(?:that's|that\s+is)\s+(?:all|it|great|perfect)|so\s+much|very\s+much|a\s+lot|again|there|"
    r"everyone|team|folks|all)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TurnSignals:
    """What one customer message tells us, before retrieval."""

    sentiment: float  # VADER compound, -1 (hostile) .. 1 (delighted)
    frustration: float  # 0 (calm) .. 1 (furious)
    wants_human: bool
    small_talk: bool


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    return round(_analyzer().polarity_scores(text)["compound"], 3)


def frustration(text: str, sentiment_score: float) -> float:
    """Frustration blends negative sentiment with what angry customers do: shout, repeat, complain."""
    letters = [char for char in text if char.isalpha()]
    shouting = len(letters) >= 12 and sum(char.isupper() for char in letters) / len(letters) > 0.6
    phrase_hits = len(_FRUSTRATION_PHRASES.findall(text))
    score = 0.55 * max(0.0, -sentiment_score)
    score += min(0.5, 0.25 * phrase_hits)
    score += 0.2 if shouting else 0.0
    score += 0.1 if re.search(r"[!?]{2,}", text) else 0.0
    return round(min(1.0, score), 3)


def wants_human(text: str) -> bool:
    """True when the customer asks for a person, however phrased."""
    return bool(_HANDOFF.search(text) or _HANDOFF_KEYWORD.match(text))


def is_small_talk(text: str) -> bool:
    """Greetings and thanks: answered politely, never escalated for lack of a KB article."""
    if len(words(text)) > 10 or not _PLEASANTRIES.search(text):
        return False
    return not content_terms(_PLEASANTRIES.sub(" ", text))


def score_turn(text: str) -> TurnSignals:
    compound = sentiment(text)
    return TurnSignals(
        sentiment=compound,
        frustration=frustration(text, compound),
        wants_human=wants_human(text),
        small_talk=is_small_talk(text),
    )


def similarity(first: str, second: str) -> float:
    """How much of the shorter message the longer one repeats (overlap of content stems), 0..1.

    One shared word is never a repeat: "how do I cancel" and "if I cancel, do I get a refund"
    share "cancel" but ask different things.
    """
    first_terms, second_terms = set(content_terms(first)), set(content_terms(second))
    shared = first_terms & second_terms
    if len(shared) < 2:
        return 0.0
    return len(shared) / min(len(first_terms), len(second_terms))


def repeats_answered_question(text: str, answered_questions: list[str], threshold: float) -> bool:
    """The loop of death: the customer asks again what the assistant already answered."""
    return any(similarity(text, earlier) >= threshold for earlier in answered_questions)


def sentiment_trend(history: list[float]) -> float:
    """Latest sentiment minus the mean of the turns before it; negative means getting worse."""
    if len(history) < 2:
        return 0.0
    earlier = history[:-1]
    return round(history[-1] - sum(earlier) / len(earlier), 3)
