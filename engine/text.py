"""Word-level text helpers shared by the retriever and the signals: tokens, stems, stopwords, synonyms."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# What no database column can hold: NUL and the other C0 controls (tabs and line breaks stay), and
# lone UTF-16 surrogates, which JSON can carry but UTF-8 cannot encode.
_UNSTORABLE_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable(text: str) -> str:
    """The text with what Postgres or SQLite would refuse taken out (controls) or replaced (lone surrogates)."""
    return _LONE_SURROGATE.sub("\ufffd", _UNSTORABLE_CONTROLS.sub("", text))


STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be because been before being below
    between both but by can could did do does doing don't down during each few for from further had
    has have having he her here hers him his how i i'm i've if in into is it it's its itself just
    me more most my myself no nor not now of off on once only or other our ours out over own same
    she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself hi hello hey please thanks thank ok okay get got also still
    im ive dont cant want need like know tell let us one long take work make way much many thing
    things stuff lot really guys u ur pls plz ppl anything something someone somebody possible
    able go going happen happens happened use using used since ago yet already what's where's how's
    who's when's why's there's that's let's i'd i'll you're we're they're""".split()  # noqa: SIM905 - a word list reads better as prose than as a list of quoted words
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens, apostrophes kept inside words."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'declines'/'declined'/'declining' to one stem."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return base + "y"
            if suffix == "es" and not base.endswith(("s", "x", "z", "ch", "sh")):
                base = word[:-1]
            if suffix in ("ing", "ings", "ed") and len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # "shipping", "shipped" -> "ship", as "ships" is
            word = base
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def content_terms(text: str) -> list[str]:
    """Stemmed words without stopwords: what a question is actually about."""
    return [stem(word) for word in words(text) if word not in STOPWORDS and len(word) > 1]


# Customers rarely use the articles' words. Each entry maps a stem customers use to stems the
# articles use; both count as covering the question. Kept small and general to support desks.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "money": ("refund",),
    "reimburs": ("refund",),
    "charg": ("billing", "payment", "invoic"),
    "bill": ("billing", "invoic"),
    "receipt": ("invoic",),
    "card": ("payment",),
    "reject": ("declin", "fail"),
    "bounc": ("declin", "fail"),
    "price": ("pricing", "plan", "cost"),
    "cost": ("pricing", "price"),
    "expensiv": ("pricing", "plan"),
    "cheaper": ("downgrad", "plan"),
    "package": ("shipping", "order", "track"),
    "parcel": ("shipping", "order", "track"),
    "deliver": ("shipping", "deliver"),
    "arriv": ("shipping", "deliver"),
    "login": ("log", "sign", "password"),
    "locked": ("password", "reset"),
    "forgot": ("reset", "password"),
    "2fa": ("two", "factor", "authenticat"),
    "mfa": ("two", "factor", "authenticat"),
    "authenticator": ("two", "factor"),
    "code": ("authenticat", "verificat"),
    "quit": ("cancel",),
    "unsubscrib": ("cancel",),
    "clos": ("cancel", "delet"),
    "broken": ("defect", "warranty", "return"),
    "faulty": ("defect", "warranty"),
    "throttl": ("rate", "limit"),
    "429": ("rate", "limit"),
    "quota": ("limit",),
    "space": ("storag",),
    "upload": ("fil", "storag"),
    "down": ("outag", "status"),
    "outag": ("status",),
    "gdpr": ("export", "delet", "data"),
    "coworker": ("team", "member", "user", "seat"),
    "colleague": ("team", "member", "user", "seat"),
    "employee": ("team", "member", "user", "seat"),
    "staff": ("team", "member", "user"),
    "teammate": ("team", "member", "invit"),
    "yearly": ("annual",),
    "annually": ("annual",),
    "user": ("member", "seat", "invit"),
    "admin": ("role", "owner"),
    "device": ("hub",),
    "abroad": ("international", "country"),
    "international": ("country", "region"),
}
_STEMMED_SYNONYMS = {stem(word): tuple(stem(target) for target in targets) for word, targets in _SYNONYMS.items()}


def expand(term: str) -> tuple[str, ...]:
    """A stem and the stems the help articles use for the same thing."""
    return (term, *_STEMMED_SYNONYMS.get(term, ()))
