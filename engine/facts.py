"""What identifies a customer in their own words: name, email, phone, account and order numbers.

Payment card numbers are never kept: they are not facts an agent needs, and a ticket is no place
for them. `mask_card_numbers` takes them out of any text quoted to an agent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_FACT_LABELS = json.loads((Path(__file__).parent / "fact_labels.json").read_text(encoding="utf-8"))


def _alternatives(words: list[str]) -> str:
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


# "order number: NW-1", "acct # 55-9102", "invoice INV/2025/0193", "número de pedido 5531": a number
# word before the label (group "before") or after it (group "label"), then the id (group "value"),
# which is not an amount, a count or a duration ("order 150 dollars", "my order was 2 days late").
_NUMBER_WORD = rf"(?:{_alternatives(_FACT_LABELS['number_words'])})"
_BEFORE = rf"(?P<before>(?<!\w){_NUMBER_WORD}\s?(?:(?:{_alternatives(_FACT_LABELS['before_label'])})\s?)?)"
_LABEL = rf"(?P<label>\s?{_NUMBER_WORD}\s?[:#=]?|\s?[:#=]|\s(?:is|was)\b)?"
_ID = (
    rf"{_LABEL}\s?(?:is\s|was\s)?(?P<value>[A-Z]{{0,5}}[-_/]?\d[\w/-]*)\b"
    rf"(?!\s?(?:{_alternatives(_FACT_LABELS['not_after'])})(?!\w))"
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_SPACES = re.compile(r"\s+")  # one space each before matching: the patterns never backtrack over runs


def _labels(fact: str) -> str:
    """The fact's labels; one that holds its own number word ("Bestellnummer") is kept in group "numbered"."""
    return (
        rf"(?:(?P<numbered>{_alternatives(_FACT_LABELS['numbered_labels'][fact])})"
        rf"|{_alternatives(_FACT_LABELS[fact])})"
    )


def _id_pattern(fact: str) -> re.Pattern[str]:
    return re.compile(rf"(?:{_BEFORE}|\b){_labels(fact)}{_ID}", re.IGNORECASE)


_ID_PATTERNS: dict[str, re.Pattern[str]] = {
    "order_number": _id_pattern("order_number"),
    "account_number": _id_pattern("account_number"),
    "invoice_number": _id_pattern("invoice_number"),
    "workspace_id": re.compile(
        r"\bworkspace(?P<label>\s?(?:id|name|#)\s?[:#=]?|\s?[:#=])?\s?(?P<value>[a-z0-9][\w-]*(?:\d|-)[\w-]*)",
        re.IGNORECASE,
    ),
    "serial_number": re.compile(
        rf"(?:{_BEFORE}|\b){_labels('serial_number')}"
        r"(?P<label>\s?(?:number|no\.?|num|nummer|#)\s?[:#]?|\s?[:#])?\s?(?:is\s)?(?P<value>[A-Z0-9][A-Z0-9-]{4,})",
        re.IGNORECASE,
    ),
}
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w./-])(?:\+|\()?\d[\d\s().-]{5,}\d\b(?:\s*(?:ext\.?|x)\s*\d{1,5})?(?![\w.])")
_NOT_A_PHONE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|^\d{5}-\d{4}$")  # an IP address, a US ZIP+4
_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_NOT_A_CARD_LABEL = re.compile(r"\b(?:order|tracking|imei|serial|invoice|account|acct|ref)\b[^.!?]*$", re.IGNORECASE)

# A name: capitalised words, with the particles and punctuation real names have.
_NAME_WORD = r"(?!(?:Hi|Hello|Hey|Thanks|Yes|No|Ok|Okay|Dear)\b)[A-ZÀ-Þ][\w'’-]*"
_NAME = (
    rf"((?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?{_NAME_WORD}"
    rf"(?:\s+(?:(?:van|von|der|den|de|da|del|la|le|di|du|bin|al)\s+){{0,2}}{_NAME_WORD}){{0,2}})"
)
_NAME_PATTERNS = [
    # "my name is o'brien" says outright that a name follows, so its case does not matter
    re.compile(
        r"\b(?i:my\s+name\s+is|my\s+name's|name\s*[:-])\s+"
        r"([\w'’-]+(?:\s+(?!(?i:and|my|i|is|but|from|with|at|or|the|please|here|email|phone)\b)[\w'’-]+){0,2})"
    ),
    re.compile(rf"\b(?i:this\s+is|i\s+am|i'm|i’m|call\s+me)\s+{_NAME}"),
    re.compile(rf"\b(?i:it's|it’s)\s+{_NAME}(?=\s*(?:[,.;!]|$|(?i:here|from|speaking)\b))"),
    re.compile(rf"(?:^|[.!?,;]\s*|\b(?i:hi|hello|hey)\W+){_NAME}\s+(?i:here|speaking)\b"),
]
# Words that follow "I'm" or "this is" without being a name ("I'm Frustrated" never is one).
_NOT_NAMES = frozenset(
    """Not Very So Really Just Still Trying Having Getting Looking Sorry Fine Good Done Unable Here The A An
    In On At From With Also Already Back New Sure Afraid Glad Able Ready Stuck Owner Admin Urgent Locked
    Unhappy Upset Angry Annoyed Confused Happy Calling Writing Contacting Waiting Your You My Our This That
    It Is About Going Over Out Up Now Again Only Always Never Interested Customer User Member Client Monday
    Tuesday Wednesday Thursday Friday Saturday Sunday Today Tomorrow Yesterday Fine Broken Down Ok Okay""".split()  # noqa: SIM905 - a word list reads better as prose than as a list of quoted words
)
_NOT_NAME_ENDINGS = ("ing", "ed", "ly", "ful", "ous", "ive", "able", "ible", "ian", "ese", "ish", "ent", "ant")
_NOT_NAME_WORDS_LOWER = frozenset(
    """a an the not very so really just still here fine good done sorry unable trying having getting looking
    writing calling trying waiting stuck locked upset angry from with at in on""".split()  # noqa: SIM905 - a word list reads better as prose than as a list of quoted words
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# Issuer prefixes (Visa, Mastercard, Amex, Discover, JCB, Diners) and how cards are written: one run
# of digits or groups of four (Amex 4-6-5). An order number like 561-6286473-1450685 is neither.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|35|3[068])")
_CARD_GROUPING = re.compile(r"^\d+$|^\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?$|^\d{4}[ -]\d{6}[ -]\d{5}$")


def _is_card_number(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return (
        13 <= len(digits) <= 19
        and bool(_CARD_PREFIX.match(digits))
        and bool(_CARD_GROUPING.match(text.strip()))
        and _luhn_valid(digits)
    )


def mask_card_numbers(text: str) -> str:
    """The text with every payment card number replaced by its last four digits."""

    def masked(match: re.Match[str]) -> str:
        number = match.group(0)
        labelled = _NOT_A_CARD_LABEL.search(text[max(0, match.start() - 24) : match.start()])
        return (
            f"[card ending {re.sub(r'[^0-9]', '', number)[-4:]}]"
            if _is_card_number(number) and not labelled
            else number
        )

    return _CARD.sub(masked, text)


def _name(message: str) -> str | None:
    for index, pattern in enumerate(_NAME_PATTERNS):
        for match in pattern.finditer(message):
            value = match.group(1).strip(" '’-")
            first = value.split()[0] if value else ""
            if index == 0:
                if not first or first.lower() in _NOT_NAME_WORDS_LOWER:
                    continue
                return re.sub(r"(^|[\s'’-])(\w)", lambda m: m.group(1) + m.group(2).upper(), value)
            if first in _NOT_NAMES or first.lower().endswith(_NOT_NAME_ENDINGS):
                continue
            return value
    return None


def _phones(message: str, taken: list[str]) -> list[str]:
    phones = []
    for match in _PHONE.finditer(message):
        value = match.group(0).strip()
        if value.startswith("(") and ")" not in value:
            value = value[1:]
        digits = re.sub(r"\D", "", value.split("x")[0].split("ext")[0])
        if not 7 <= len(digits) <= 15 or _DATE.match(value) or _NOT_A_PHONE.match(value) or _is_card_number(value):
            continue
        if value.isdigit() and len(value) < 10:  # a bare short number is an id or a build, not a phone
            continue
        if any(digits == re.sub(r"\D", "", other) or value in other for other in taken):
            continue  # an order or account number, not a phone
        phones.append(value)
    return phones


def _numbers(text: str) -> list[tuple[str, str]]:
    """(fact, value) for each order, account, invoice, workspace and serial number in the text.

    Without a label ("order 150 dollars", "account 2FA", "customer 360 view") a number needs four
    digits to count."""
    found = []
    text = _SPACES.sub(" ", text)
    for fact, pattern in _ID_PATTERNS.items():
        for match in pattern.finditer(text):
            groups = match.groupdict()
            label = groups["label"] or groups.get("before") or groups.get("numbered")
            value = groups["value"].strip("-/")
            digits = sum(char.isdigit() for char in value)
            too_short = digits < (1 if label else 4) or len(value) < (1 if label else 4)
            a_year = not label and _YEAR.match(value)
            if fact != "workspace_id" and (too_short or a_year or _is_card_number(value) or _DATE.match(value)):
                continue
            found.append((fact, value))
    return found


def identifiers(text: str) -> list[str]:
    """The order, account, invoice, workspace and serial numbers in a message."""
    return [value for _, value in _numbers(text)]


def customer_facts(customer_messages: list[str]) -> dict[str, str]:
    """Everything identifying the customer already told us.

    A name, email or phone: the latest mention wins. Numbers (orders, accounts, ...): every distinct
    one, in the order given, since a customer may ask about two orders.
    """
    facts: dict[str, str] = {}
    numbers: dict[str, list[str]] = {}
    for message in customer_messages:
        name = _name(message)
        if name:
            facts["name"] = name
        emails = _EMAIL.findall(message)
        if emails:
            facts["email"] = emails[-1]
        message_ids = []
        for fact, value in _numbers(message):
            message_ids.append(value)
            if value not in numbers.setdefault(fact, []):
                numbers[fact].append(value)
        phones = _phones(_EMAIL.sub(" ", message), message_ids)
        if phones:
            facts["phone"] = ", ".join(dict.fromkeys(phones))
    facts.update({fact: ", ".join(values) for fact, values in numbers.items()})
    return facts


def without_identifiers(text: str) -> str:
    """The text with names, emails and numbers blanked: they say who is asking, not what about."""
    text = _CARD.sub(" ", _EMAIL.sub(" ", text))
    text = _PHONE.sub(" ", text)
    text = _SPACES.sub(" ", text)
    for pattern in _ID_PATTERNS.values():
        text = pattern.sub(lambda match: match.group(0).replace(match.group("value"), " "), text)
    for pattern in _NAME_PATTERNS:
        text = pattern.sub(lambda match: match.group(0).replace(match.group(1), " "), text)
    return text
