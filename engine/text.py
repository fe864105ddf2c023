"""Word-level text helpers shared by the retriever and the signals: tokens, stems, stopwords, synonyms."""

from __future__ import annotations

import json
import re
from pathlib import Path

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# What no database column can hold: NUL and the other C0 controls (tabs and line breaks stay), and
# lone UTF-16 surrogates, which JSON can carry but UTF-8 cannot encode.
_UNSTORABLE_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable(text: str) -> str:
    """The text with what Postgres or SQLite would refuse taken out (controls) or replaced (lone surrogates)."""
    return _LONE_SURROGATE.sub("\ufffd", _UNSTORABLE_CONTROLS.sub("", text))


_LEXICON = json.loads((Path(__file__).parent / "lexicon.json").read_text(encoding="utf-8"))
STOPWORDS = frozenset(_LEXICON["stopwords"])


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


# Customers rarely use the articles' words: a stem they use -> the stems the articles use (lexicon.json).
_STEMMED_SYNONYMS = {
    stem(word): tuple(stem(target) for target in targets) for word, targets in _LEXICON["synonyms"].items()
}


def expand(term: str) -> tuple[str, ...]:
    """A stem and the stems the help articles use for the same thing."""
    return (term, *_STEMMED_SYNONYMS.get(term, ()))
