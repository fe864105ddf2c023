"""Scores one customer turn: sentiment, and whether it asks again what the assistant already answered.

What the customer wants (a person, an action, an answer) and how frustrated they are is learned, in
engine/understanding/; these are the signals that need no training.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .facts import identifiers, without_identifiers
from .text import content_terms, expand


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER's compound score, -1 (hostile) .. 1 (delighted): the raw data of the brief's mood trend."""
    compound: float = _analyzer().polarity_scores(text)["compound"]
    return round(compound, 3)


def _question_terms(text: str) -> tuple[set[str], set[str]]:
    """What a message asks about (its stems), and the order or account numbers it asks it for."""
    return set(content_terms(without_identifiers(text))), set(identifiers(text))


def _shared(first_terms: set[str], second_terms: set[str]) -> int:
    """How many of the first message's stems the second says too, in its words or the help articles'
    ("2FA" is "two-factor"); each stem counts once, however many words the articles have for it."""
    said = {variant for term in second_terms for variant in expand(term)}
    return sum(any(variant in said for variant in expand(term)) for term in first_terms)


def _about_different_numbers(first_ids: set[str], second_ids: set[str]) -> bool:
    return bool(first_ids and second_ids and first_ids != second_ids)


def _overlap(first_terms: set[str], second_terms: set[str]) -> float:
    """How much of the shorter message the longer one repeats (overlap of content stems), 0..1.

    The same words are a repeat however short ("refund?" twice); otherwise one shared word never
    is: "how do I cancel" and "if I cancel, do I get a refund" share "cancel" but ask different
    things.
    """
    if first_terms and first_terms == second_terms:
        return 1.0
    shorter, longer = sorted((first_terms, second_terms), key=len)
    shared = _shared(shorter, longer)
    if shared < 2:
        return 0.0
    return shared / len(shorter)


def repeats_answered_question(
    text: str, answered_questions: list[str], threshold: float, passage_of: Callable[[str], str | None]
) -> bool:
    """The loop of death: the customer asks again what the assistant already answered.

    A question counts as asked again when it says what an answered one said ("refund?" twice), or
    when it mostly repeats one and the knowledge base would answer both the same way: from the same
    passage, or from the same article when nearly all of the words are shared. A follow-up on the
    same article ("what scopes can an API key have?" after "how do I create an API key?") asks
    something new, and is answered from another section. The same question about two different
    orders is two questions. Passages ("article#section") are looked up only for a question that
    comes close in words: each is a search.
    """
    terms, ids = _question_terms(text)
    passage: str | None = None
    for earlier in answered_questions:
        earlier_terms, earlier_ids = _question_terms(earlier)
        if _about_different_numbers(ids, earlier_ids):
            continue
        if terms and terms == earlier_terms:
            return True
        if _overlap(terms, earlier_terms) < threshold:
            continue
        passage = passage or passage_of(text)
        earlier_passage = passage_of(earlier)
        if passage is None or earlier_passage is None:
            continue
        shared = _shared(terms, earlier_terms)
        all_shared = shared / (len(terms) + len(earlier_terms) - shared)
        same_article = passage.split("#")[0] == earlier_passage.split("#")[0]
        if passage == earlier_passage or (same_article and all_shared >= threshold):
            return True
    return False


def sentiment_trend(history: list[float]) -> float:
    """Latest sentiment minus the mean of the turns before it; negative means getting worse."""
    if len(history) < 2:
        return 0.0
    earlier = history[:-1]
    return round(history[-1] - sum(earlier) / len(earlier), 3)
