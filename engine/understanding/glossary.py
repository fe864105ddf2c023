"""Search words for questions in another language than the help articles': a glossary kept as data.

The articles are in English. A Spanish "¿cómo restablezco mi contraseña?" shares no word with them,
so before searching, the words glossary.json knows are put in English ("como reset mi password"), and
the search keeps only the words the articles use.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from .classifier import normalized

GLOSSARY = Path(__file__).resolve().parent / "glossary.json"
_WORD = re.compile(r"[\w']+")


@lru_cache(maxsize=1)
def _glossary() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = json.loads(GLOSSARY.read_text(encoding="utf-8"))
    return loaded


def in_search_words(text: str, language: str) -> str:
    """The text with each word the glossary knows in the customer's language replaced by its English."""
    words = _glossary().get(language, {})
    return " ".join(words.get(word, word) for word in _WORD.findall(normalized(text)))
