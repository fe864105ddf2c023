"""What identifies a customer in their own words: name, email, phone, account and order numbers."""

from __future__ import annotations

import re

_FACT_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "phone": re.compile(r"(?<![\w-])\+?\d[\d\s().-]{7,}\d\b"),
    "order_number": re.compile(
        r"\border\s*(?:number|no\.?|num|id|#)?\s*[:#]?\s*([A-Z]{0,4}-?\d[\w-]{3,})", re.IGNORECASE
    ),
    "account_number": re.compile(
        r"\b(?:account|acct|customer)\s*(?:number|no\.?|num|id|#)?\s*[:#]?\s*([A-Z]{0,4}-?\d[\w-]{3,})",
        re.IGNORECASE,
    ),
    # The lead-in is case-blind; the name itself must be capitalised ("I'm Dana", not "I'm stuck").
    "name": re.compile(
        r"\b(?i:my name is|my name's|this is|i am|i'm|call me)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\b"
    ),
}
# Words that follow "I'm" without being a name ("I'm Frustrated" never is one).
_NOT_NAMES = frozenset(
    "Not Very So Really Just Still Trying Having Getting Looking Sorry Fine Good Done Unable Here".split()
)


def customer_facts(customer_messages: list[str]) -> dict[str, str]:
    """Everything identifying the customer already told us; the latest mention wins."""
    facts: dict[str, str] = {}
    for message in customer_messages:
        for fact, pattern in _FACT_PATTERNS.items():
            for match in pattern.finditer(message):
                value = (match.group(1) if pattern.groups else match.group(0)).strip()
                if fact == "name" and value.split()[0] in _NOT_NAMES:
                    continue
                if fact == "phone" and sum(char.isdigit() for char in value) < 7:
                    continue
                facts[fact] = value
    return facts


def without_identifiers(text: str) -> str:
    """The text with names, emails and numbers blanked: they say who is asking, not what about."""
    for fact, pattern in _FACT_PATTERNS.items():
        if fact in ("email", "phone", "name"):
            text = pattern.sub(" ", text)
        else:
            text = pattern.sub(lambda match: match.group(0).replace(match.group(1), " "), text)
    return text
