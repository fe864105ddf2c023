"""Scores one customer turn: sentiment, frustration, a request for a person, small talk, repetition."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .facts import identifiers, without_identifiers
from .text import content_terms, expand, words

# Who a customer asks for. A lookahead keeps "a person's email", "agent role", "human-readable" and
# "people limits" out: there the word describes something else.
_NOT_A_REQUEST_AFTER = (
    r"(?!'s\b|-|\s+else\b|\s+(?:roles?|accounts?|seats?|limits?|permissions?|access|emails?|names?|fields?|strings?|"
    r"headers?|keys?|ids?|plans?|widgets?|profiles?|settings?|licen[cs]es?|view|readable)\b)"
)
_PERSON = (
    r"(?:human(?:s|\s+being|\s+(?:help|assistance|support))?|person|people|someone|somebody|anyone|anybody|"
    r"agents?|reps?|representatives?|operators?|supervisors?|managers?|staff(?:\s+members?)?|employees?|"
    r"colleagues?|team\s+members?|tech(?:nician)?s?|specialists?|advis[eo]rs?|folks|member\s+of\s+(?:your\s+)?staff|"
    r"(?:support\s+)?engineers?|"
    r"(?:customer|tech(?:nical)?)\s+(?:service|support|care)(?:\s+(?:team|agents?|reps?))?|"
    r"support\s+(?:team|staff|agents?|reps?|person|people|folks)|live\s+(?:chat|support)|help\s*desk)"
    + _NOT_A_REQUEST_AFTER
)
# "billing", "the sales team": where a person is asked for by the team they sit in.
_DEPARTMENT = (
    r"(?:billing|sales|support|accounts|shipping|returns|team)(?:\s+(?:team|department|dept|desk))?\b"
    r"(?!\s+(?:page|section|tab|screen|menu|settings?|address|email|portal|info|details|history|plans?|cycle|date|site))"
)
_WHO = rf"(?:a|an|the|your|some|one\s+of\s+your|someone\s+(?:from|on|in)\s+(?:your|the))?\s*(?:real|actual|live|human)?\s*{_PERSON}"
_BOT = r"(?:bot|robot|chat\s*bot|ai|machine|computer|automat\w*(?:\s+(?:replies|answers|system|assistant))?|assistant)"
_HANDOFF_PATTERNS = [
    # "can I talk to someone real", "let me speak with an agent", "put me through to billing"
    rf"\b(?:talk|speak|chat|connect|transfer|escalate|put|pass|hand|switch|forward|route|get|be)"
    rf"(?:\s+(?:me|this|it|us))?\s+(?:to|with|through\s+to|over\s+to|in\s+touch\s+with)\s+"
    rf"(?:{_WHO}\b|(?:the|your)?\s*{_DEPARTMENT})",
    # "get me your supervisor", "fetch me a human"
    rf"\b(?:get|give|find|bring|fetch|send)\s+me\s+{_WHO}\b",
    # "I want a human", "need to speak to a representative", "I'd like an agent"
    rf"(?:\b(?:i|we)(?:'d|\s+would)?\s*|^\W*)(?:really\s+|just\s+|only\s+)?(?:want|need|demand|like|request|prefer|wish)"
    rf"\s+(?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+)?{_WHO}\b",
    # "can I get an agent?", "could I have a real person"
    rf"\b(?:can|could|may)\s+i\s+(?:please\s+)?(?:get|have|see|reach|contact)\s+{_WHO}\b",
    # "is there a real person there", "is anyone there?"
    rf"\b(?:is|are)\s+there\s+(?:a|an|any)?\s*(?:real|actual|live)?\s*(?:human|person|people|agent)s?\b{_NOT_A_REQUEST_AFTER}",
    r"\b(?:is|are)\s+(?:there\s+)?(?:anyone|anybody|someone|somebody|a\s+(?:real\s+)?(?:human|person))\s+"
    r"(?:there|here|around|available|online|real)\b",
    rf"(?<!\bis a )(?<!\bis an )\b(?:real|actual|live)\s+(?:support\s+)?(?:human|person|people|agent|representative)s?\b"
    rf"{_NOT_A_REQUEST_AFTER}",
    r"\b(?:is|are)\s+(?:a|an|any)\s+(?:real\s+|live\s+|human\s+)?(?:agent|person|human|representative|operator)s?\s+"
    r"(?:available|free|online|around|there)\b",
    # "who can I call?", "who do I talk to about this?"
    r"\bwho\s+(?:can|do|should|could)\s+i\s+(?:call|phone|ring|contact|talk\s+to|speak\s+(?:to|with))\b",
    # "put a person on the line", "can I get a callback"
    rf"\bput\s+{_WHO}\s+on\s+the\s+(?:line|phone)\b",
    r"\b(?:get|request(?:ing|ed)?|want|need|schedule|arrange|have)\s+(?:a\s+)?call\s*-?back\b(?!\s*(?:url|function|endpoint|handler))",
    # "are you a bot", "am I talking to a robot", "no more AI", "I'm done with this bot"
    rf"\b(?:are\s+you|is\s+this|am\s+i\s+(?:talking|speaking|chatting)\s+(?:to|with))\s+(?:a|an|just\s+a)?\s*"
    rf"(?:{_BOT}|human|person)\b",
    rf"\b(?:stop|enough\s+(?:with|of)|no\s+more|done\s+with|hate|tired\s+of|sick\s+of|(?:don't|do\s+not)\s+want|"
    rf"(?:i'd|i\s+would)\s+rather\s+not)\s+"
    rf"(?:(?:to\s+)?(?:talk|speak|chat)(?:ing)?\s+(?:to|with)\s+)?(?:this|the|your|a|an|you)?\s*"
    rf"(?:stupid\s+|useless\s+|dumb\s+)?{_BOT}\b",
    # "call me back", "can someone call me?", "have somebody contact me"
    r"\b(?:call|phone|ring)\s+me(?:\s+(?:back|please|now|asap|at|on|today|tomorrow)\b|\W*$)",
    r"\b(?:have|get|can|could|would|will)\s+(?:someone|somebody|a\s+(?:real\s+)?(?:person|human)|an\s+agent|"
    r"one\s+of\s+your\s+\w+|a\s+member\s+of\s+(?:your\s+)?\w+|an?\s+(?:support\s+)?(?:engineer|specialist|advis[eo]r|technician))"
    r"\s+(?:please\s+)?(?:to\s+)?(?:call|phone|ring|contact|email|reach(?:\s+out\s+to)?|get\s+back\s+to|get\s+in\s+touch\s+with)"
    r"\s+(?:me|us)\b",
    r"\b(?:can|could|would|will)\s+(?:a\s+(?:real\s+)?(?:person|human)|an\s+agent|one\s+of\s+your\s+\w+|"
    r"(?:someone|somebody)\s+(?:from|on|in|at)\s+(?:your\s+|the\s+)?(?:support|team|billing|sales|staff|company|end))"
    r"\s+(?:please\s+)?help\b",
    r"\b(?:someone|somebody|a\s+person)\s+(?:from|on|at|in)\s+(?:your|the)\s+\w+\s+(?:could|can|would|will|to)\s+"
    r"(?:please\s+)?(?:get\s+in\s+touch|call|phone|contact|reach\s+out|email\s+me)\b",
    # "with a human", "escalate this"
    r"\b(?:with|to)\s+(?:a|an)\s+(?:real\s+|actual\s+|live\s+)?(?:human|human\s+being|representative|operator|manager|supervisor)\b",
    r"\bescalat(?:e|ion)\b(?!\s+(?:my\s+|the\s+|their\s+)?(?:permissions?|privileges?|access|rights|roles?))",
]
_HANDOFF = re.compile("|".join(f"(?:{pattern})" for pattern in _HANDOFF_PATTERNS))
_PERSON_RE = re.compile(rf"\b{_PERSON}\b")

# A short message made only of these, naming at least one person: "agent please", "customer
# service", "no more AI, person please", "is anyone there?".
_ASKED_FOR = frozenset(
    """human humans person persons people agent agents operator operators representative rep supervisor
    manager staff someone somebody anyone anybody colleague employee tech technician escalate transfer
    humano humanos agente persona operador humain humaine mitarbeiter mensch""".split()
)
_FILLER = frozenset(
    """please now asap a an the i me my to talk speak chat with can could get give want need just real live
    actual hello hi hey is are there here any this no more ai bot you your on line for god's sake ffs right only
    away immediately urgently someone's be quick help customer service support care team desk
    por favor quiero hablar con un una je veux parler bitte einen""".split()
)
_LONG_REQUEST_WORDS = ("representative", "supervisor", "operator", "technician", "colleague", "escalate")
_SHORT_REQUEST_WORDS = ("human", "agent", "person", "people", "manager")
_SHORTHAND = {"2": "to", "wanna": "want to", "gimme": "give me", "u": "you", "ur": "your", "ppl": "people",
              "pls": "please", "plz": "please", "plox": "please", "hooman": "human", "hoomans": "humans", "ai's": "ai",
              "sb": "somebody", "sum1": "someone", "some1": "someone", "any1": "anyone", "ppls": "people"}


def _corrected(word: str) -> str:
    """Shorthand spelled out, and typos of the words that ask for a person put right."""
    if word in _SHORTHAND:
        return _SHORTHAND[word]
    if len(word) >= 7:
        close = difflib.get_close_matches(word, _LONG_REQUEST_WORDS, n=1, cutoff=0.85)
        # "escalated" is a word of its own, not a slip of "escalate"
        return close[0] if close and not word.startswith(close[0][:-1]) else word
    for target in _SHORT_REQUEST_WORDS:
        if len(word) in (len(target), len(target) - 1) and word != target and len(word) >= 4 and _one_slip(word, target):
            return target
    return word


def _one_slip(word: str, target: str) -> bool:
    """One wrong, swapped or dropped letter ("humna", "agnet", "persn"), the first letter right."""
    if len(word) == len(target) - 1:  # a letter dropped inside ("persn"), not at the end ("manage")
        return word[0] == target[0] and any(target[:index] + target[index + 1 :] == word for index in range(1, len(target) - 1))
    different = [index for index, (a, b) in enumerate(zip(word, target)) if a != b]
    if len(different) == 1:
        return word[0] == target[0]
    return len(different) == 2 and different[1] == different[0] + 1 and word[different[0]] == target[different[1]]


def _normalized(text: str) -> str:
    lowered = text.lower().replace("\u2019", "'")
    return re.sub(r"[a-z0-9']+", lambda match: _corrected(match.group(0)), lowered)


_FRUSTRATION_PHRASES = re.compile(
    r"\b(?:ridiculous|useless|unacceptable|pathetic|terrible|horrible|awful|scam|rip[- ]?off|garbage|rubbish|"
    r"incompetent|hopeless|livid|fuming|disaster|last\s+straw|(?:are\s+you|you(?:'re|\s+are))\s+(?:kidding|joking)|"
    r"(?:is|are)\s+a\s+joke|worst\s+(?:experience|service|support|company|app|product|ever)|"
    r"waste\s+of\s+(?:my\s+)?time|wasted\s+(?:\w+\s+)?(?:hours?|days?|time)|fed\s+up|sick\s+of|tired\s+of|nothing\s+works|"
    r"still\s+(?:not|doesn't|isn't|hasn't|haven't|won't|no|broken|can't)|disgusting|appalling|outrageous|shameful|nonsense|"
    r"(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th))\s+time|"
    r"(?:asked|told|tried|called|written|wrote|emailed|explained|said\s+(?:it|this))\s+(?:you\s+)?(?:this\s+)?"
    r"(?:two|three|four|five|six|several|many|multiple|\d+)\s+times|"
    r"again\s+and\s+again|over\s+and\s+over|already\s+(?:told|said|asked|tried)|"
    r"doesn't\s+(?:help|answer)|not\s+helpful|you\s+(?:don't|do\s+not)\s+understand|(?<!a\s)stupid(?!\s+question)|annoy|angry|furious|"
    r"frustrat|disappoint|cancel\s+everything|lawyer|sue\b|complain|(?:so\s+)?done\s+with\s+(?:this|you|it)|"
    r"unbelievable|upset|(?:nobody|no\s+one)\s+(?:answers|helps|replies|cares|responds))",
    re.IGNORECASE,
)
# Swearing (starred out or not) and sarcasm, which sentiment scoring reads as praise: these weigh more.
_STRONG_WORDS = re.compile(
    r"(?:\bf[*#@!u]{1,3}(?:c?k|[*#@!]{1,2})\w*|\bwtf\b|\bffs\b|\bshit\w*|\bcrap\w*|\bbullshit\b|\bbs\b|\bdamn\w*|"
    r"\bsucks?\b|\bscrew\s+(?:this|you)|\bs[*#]{2,3}t\b|\bthanks?\s+(?:you\s+)?for\s+nothing|\bjust\s+great|"
    r"\boh\s+(?:great|wonderful|perfect|fantastic)|\byeah\s+right|\bhow\s+many\s+times\s+(?:do|must|should|have)\s+i\b|"
    r"\b(?:thanks?|thank\s+you)\s+(?:so\s+much\s+|a\s+lot\s+)?for\s+(?:locking|charging|wasting|breaking|ignoring|losing|"
    r"cancell?ing|overcharging))",
    re.IGNORECASE,
)
# Shouting inside a sentence: "WHERE IS MY HUB" (three capitalised words; not "API" or "HTTP 403 FORBIDDEN").
_SHOUTED_WORDS = re.compile(r"\b[A-Z]{2,}(?:\s+[A-Z]{2,}){2,}\b")
# An angry ending: "locked out AGAIN", "broken again!"
_AGAIN_AT_END = re.compile(r"\bagain\W*$", re.IGNORECASE)

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
    longer_words = [word for word in re.findall(r"[A-Za-z]{2,}", text)]
    capitalised = sum(word.isupper() for word in longer_words)
    mostly_capitals = len(longer_words) >= 3 and capitalised / len(longer_words) > 0.6
    shouting = mostly_capitals or bool(_SHOUTED_WORDS.search(text))
    phrase_hits = len(_FRUSTRATION_PHRASES.findall(text)) + (1 if _AGAIN_AT_END.search(text) else 0)
    score = 0.55 * max(0.0, -sentiment_score)
    score += min(0.5, 0.25 * phrase_hits + 0.35 * len(_STRONG_WORDS.findall(text)))
    score += 0.3 if shouting else 0.0
    score += 0.1 if re.search(r"[!?]{2,}", text) else 0.0
    return round(min(1.0, score), 3)


def wants_human(text: str) -> bool:
    """True when the customer asks for a person, however phrased."""
    normalized = _normalized(text)
    if _HANDOFF.search(normalized):
        return True
    said = words(_PERSON_RE.sub(" agent ", normalized))  # "customer service" is one person asked for
    return 0 < len(said) <= 8 and any(word in _ASKED_FOR for word in said) and _asks_for_nothing_else(said)


def _asks_for_nothing_else(said: list[str]) -> bool:
    """Every word is a person asked for or filler around the asking."""
    return all(word in _ASKED_FOR or word in _FILLER for word in said)


def without_handoff_request(text: str) -> str:
    """The message minus its request for a person: "I want a person, my reset link fails" asks
    about the reset link."""
    rest = _HANDOFF.sub(" ", _normalized(text))
    return "" if _asks_for_nothing_else(words(rest)) else rest


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


def _question_terms(text: str) -> tuple[set[str], set[str]]:
    """What a message asks about (its stems and the help articles' words for them: "2FA" is
    "two-factor"), and the order or account numbers it asks it for."""
    terms = {variant for term in content_terms(without_identifiers(text)) for variant in expand(term)}
    return terms, set(identifiers(text))


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
    shared = first_terms & second_terms
    if len(shared) < 2:
        return 0.0
    return len(shared) / min(len(first_terms), len(second_terms))


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
        all_shared = len(terms & earlier_terms) / len(terms | earlier_terms)
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
