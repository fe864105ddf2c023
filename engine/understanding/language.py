"""Which language a customer writes in, learned from the corpus's language tags (seven languages)."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .classifier import OneTextScorer, TermWeights, softmax
from .corpus import LabeledTurn

# Below this probability, or for one or two words ("ok", "agent"), the text does not say: the
# conversation keeps the language it had.
SURE_ENOUGH = 0.6


class LanguageDetector:
    def __init__(self, turns: list[LabeledTurn]) -> None:
        texts = [turn.text.lower() for turn in turns]
        languages = [turn.lang for turn in turns]
        self._characters = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2, dtype=np.float32
        )
        self._model = LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced")
        self._model.fit(self._characters.fit_transform(texts), languages)
        self._terms = TermWeights(self._characters)
        self._scorer = OneTextScorer(self._model.coef_, self._model.intercept_)
        self._languages = [str(language) for language in self._model.classes_]

    def detect(self, text: str) -> str | None:
        """The ISO 639-1 code of the text's language, or None when the text is too short or unclear."""
        if len(text.split()) < 3:
            return None
        probabilities = softmax(self._scorer.intercept + self._scorer.block(self._terms(text.lower()), 0))
        best = int(np.argmax(probabilities))
        return self._languages[best] if probabilities[best] >= SURE_ENOUGH else None
