"""Which help-article section a question is about, learned from labeled questions and the sections' own words.

The same features as the turn classifier (character and word n-grams of the normalized text, WordLlama
vectors) and one multinomial logistic regression with a class per section. Each section is also an
example of itself (its headings, and its headings with its text), so a section no one has asked about
yet, or a team's own knowledge base with no labeled questions, still has a class.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .classifier import OneTextScorer, TermWeights, normalized, softmax
from .vectors import embed

REGULARISATION = 16.0  # chosen by cross-validation on the labeled questions


class SectionClassifier:
    """P(section | question) over a knowledge base's passages, indexed as the knowledge base indexes them."""

    def __init__(self, passage_texts: list[tuple[str, str]], questions: list[tuple[str, int]]) -> None:
        """`passage_texts` is each passage's (headings, text); `questions` pairs a question (in search
        words, for other languages) with the index of the passage that answers it."""
        texts = [headings for headings, _ in passage_texts] + [
            f"{headings}. {text}" for headings, text in passage_texts
        ]
        targets = list(range(len(passage_texts))) * 2
        texts += [question for question, _ in questions]
        targets += [index for _, index in questions]
        plain = [normalized(text) for text in texts]
        self._characters = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2).fit(
            plain
        )
        self._words = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
        ).fit(plain)
        features = sparse.hstack(
            [
                self._characters.transform(plain),
                self._words.transform(plain),
                sparse.csr_matrix(embed([t.lower() for t in texts])),
            ],
            format="csr",
        )
        model = LogisticRegression(C=REGULARISATION, max_iter=3000).fit(features, targets)
        self._classes: npt.NDArray[np.int64] = np.asarray(model.classes_, dtype=np.int64)
        self._passages = len(passage_texts)
        self._scorer = OneTextScorer(model.coef_, model.intercept_)
        self._character_terms = TermWeights(self._characters)
        self._word_terms = TermWeights(self._words)

    def probabilities(self, question: str) -> npt.NDArray[np.float64]:
        """One probability per passage that it is the one this question is about."""
        plain = normalized(question)
        words_start = len(self._characters.vocabulary_)
        logits = (
            self._scorer.intercept
            + self._scorer.block(self._character_terms(plain), 0)
            + self._scorer.block(self._word_terms(plain), words_start)
            + self._scorer.dense(embed([question.lower()])[0], words_start + len(self._words.vocabulary_))
        )
        by_passage = np.zeros(self._passages)
        by_passage[self._classes] = softmax(logits)
        return by_passage
