"""The turn classifier: what a customer's message asks for, learned from labeled turns.

Character n-grams carry typos, shorthand and the seven languages; word n-grams carry phrasing; dense
WordLlama vectors carry meaning across synonyms. A block of word features that is active only after an
assistant answer lets "still nothing" mean "not resolved" there and nothing in particular elsewhere.
One multinomial logistic regression reads them all: deterministic, and trained in seconds.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ..text import content_terms
from .corpus import TURN_LABELS, LabeledTurn
from .vectors import embed

_WORD = re.compile(r"[\w']+")
# A word is part of asking for a person when handoff requests use it at least this many times as
# often as other turns do (per turn, and in at least MIN_USES requests).
HANDOFF_WORD_RATIO = 4.0
MIN_USES = 4

# How much the dense block weighs against the sparse ones (chosen by cross-validation on the corpus).
DENSE_WEIGHT = 0.5
REGULARISATION = 8.0


def normalized(text: str) -> str:
    """Lower case without accents, numbers as '0': "Où est ma commande 80021 ?" reads "ou est ma commande 0 ?"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    plain = "".join(character for character in decomposed if not unicodedata.combining(character))
    return re.sub(r"\s+", " ", re.sub(r"\d+", "0", plain)).strip()


@dataclass(frozen=True)
class TurnReading:
    """The classifier's view of one turn: the likeliest label and every label's probability."""

    label: str
    probabilities: dict[str, float]

    def __getitem__(self, label: str) -> float:
        return self.probabilities.get(label, 0.0)


class TurnClassifier:
    """Reads a customer message, with whether it follows an assistant answer, as one of TURN_LABELS."""

    def __init__(self, turns: list[LabeledTurn]) -> None:
        texts = [normalized(turn.text) for turn in turns]
        self._characters = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, dtype=np.float32
        )
        self._words = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b", dtype=np.float32
        )
        self._characters.fit(texts)
        self._words.fit(texts)
        self._model = LogisticRegression(C=REGULARISATION, max_iter=3000, class_weight="balanced")
        features = self._features([turn.text for turn in turns], [bool(turn.context) for turn in turns])
        self._model.fit(features, [turn.label for turn in turns])
        self._labels: list[str] = [str(label) for label in self._model.classes_]
        missing = set(TURN_LABELS) - set(self._labels)
        if missing:
            raise ValueError(f"the corpus has no example of {', '.join(sorted(missing))}")
        self.handoff_words = _handoff_words(turns)
        self._scorer = OneTextScorer(self._model.coef_, self._model.intercept_)
        self._character_terms = TermWeights(self._characters)
        self._word_terms = TermWeights(self._words)

    def without_handoff_words(self, text: str) -> str:
        """The message minus how it asks for a person (see `without_request_for_person`)."""
        return without_request_for_person(text, self.handoff_words)

    def _features(self, texts: list[str], after_answer: list[bool]) -> sparse.csr_matrix:
        plain = [normalized(text) for text in texts]
        words = self._words.transform(plain)
        answered = sparse.diags(np.asarray(after_answer, dtype=np.float32))
        blocks = [
            self._characters.transform(plain),
            words,
            answered @ words,
            sparse.csr_matrix(np.asarray(after_answer, dtype=np.float32).reshape(-1, 1)),
            sparse.csr_matrix(embed([text.lower() for text in texts]) * DENSE_WEIGHT),
        ]
        return sparse.hstack(blocks, format="csr")

    def read(self, text: str, after_answer: bool) -> TurnReading:
        """The label and probabilities for one turn.

        The same arithmetic as the model's predict_proba on `_features`, done directly on the few
        features one message has: building sparse matrices for one row costs more than the model.
        """
        plain = normalized(text)
        characters, words = self._character_terms(plain), self._word_terms(plain)
        offsets = self._offsets
        logits = self._scorer.intercept + self._scorer.block(characters, 0) + self._scorer.block(words, offsets[0])
        if after_answer:
            logits += self._scorer.block(words, offsets[1]) + self._scorer.column(offsets[2])
        logits += self._scorer.dense(embed([text.lower()])[0] * DENSE_WEIGHT, offsets[2] + 1)
        return self._reading(logits)

    @property
    def _offsets(self) -> tuple[int, int, int]:
        """Where the word block, the after-an-answer word block and the after-an-answer flag start."""
        characters, words = len(self._characters.vocabulary_), len(self._words.vocabulary_)
        return characters, characters + words, characters + 2 * words

    def _reading(self, logits: npt.NDArray[np.float64]) -> TurnReading:
        probabilities = softmax(logits)
        by_label = {label: round(float(value), 4) for label, value in zip(self._labels, probabilities, strict=True)}
        return TurnReading(max(by_label, key=by_label.__getitem__), by_label)

    def read_many(self, texts: list[str], after_answer: list[bool]) -> list[TurnReading]:
        return [self.read(text, answered) for text, answered in zip(texts, after_answer, strict=True)]

    def read_with_matrices(self, texts: list[str], after_answer: list[bool]) -> list[TurnReading]:
        """`read` through scikit-learn's own predict_proba: what the direct arithmetic must agree with."""
        return [self._reading(np.log(row)) for row in self._model.predict_proba(self._features(texts, after_answer))]


_SENTENCE_END = re.compile(r"(?<=[.!?;\n])\s+")


def without_words(text: str, dropped: frozenset[str]) -> str:
    """The text without the given words (compared normalized; the rest kept as written, numbers too)."""
    return " ".join(token for token in text.split() if "".join(_WORD.findall(normalized(token))) not in dropped)


def without_request_for_person(text: str, handoff_words: frozenset[str]) -> str:
    """The message minus how it asks for a person: a sentence that only asks for one goes whole, the
    others lose their handoff words. "I want to talk to a person. How long does a refund take?" is
    about the refund, "I want a person, my reset link fails" about the reset link, "agent please"
    about nothing; what is left is searched as written, so no filler of the request sways the search."""
    kept = [without_words(sentence, handoff_words) for sentence in _SENTENCE_END.split(text)]
    return " ".join(sentence for sentence in kept if content_terms(sentence))


def _handoff_words(turns: list[LabeledTurn]) -> frozenset[str]:
    """The words (in every language of the corpus) that mark a request for a person, learned from it."""
    in_requests: Counter[str] = Counter()
    elsewhere: Counter[str] = Counter()
    requests = others = 0
    for turn in turns:
        said = set(_WORD.findall(normalized(turn.text)))
        if turn.label == "handoff_request":
            in_requests.update(said)
            requests += 1
        else:
            elsewhere.update(said)
            others += 1
    return frozenset(
        word
        for word, uses in in_requests.items()
        if uses >= MIN_USES and uses / requests >= HANDOFF_WORD_RATIO * (elsewhere[word] + 1) / others
    )


class TermWeights:
    """A fitted TfidfVectorizer's weights for one text, as (column, value) pairs: its transform, without matrices."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self._analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self._columns: dict[str, int] = vectorizer.vocabulary_
        self._idf: npt.NDArray[np.float64] = vectorizer.idf_
        self._sublinear = bool(vectorizer.sublinear_tf)

    def __call__(self, text: str) -> tuple[list[int], npt.NDArray[np.float64]]:
        counts = Counter(self._columns[term] for term in self._analyze(text) if term in self._columns)
        if not counts:
            return [], np.zeros(0)
        columns = list(counts)
        tf = [1 + math.log(counts[column]) if self._sublinear else float(counts[column]) for column in columns]
        values = np.asarray(tf) * self._idf[columns]
        return columns, values / np.linalg.norm(values)


def softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    exponentials = np.exp(logits - logits.max())
    probabilities: npt.NDArray[np.float64] = exponentials / exponentials.sum()
    return probabilities


class OneTextScorer:
    """The logits of a multinomial linear model, block by block, for one text's few non-zero features:
    the intercept plus each block's contribution."""

    def __init__(self, coefficients: npt.NDArray[np.float64], intercept: npt.NDArray[np.float64]) -> None:
        self._by_column = np.ascontiguousarray(coefficients.T)  # one row per feature: a lookup reads one row
        self.intercept = intercept

    def block(self, terms: tuple[list[int], npt.NDArray[np.float64]], offset: int) -> npt.NDArray[np.float64]:
        columns, values = terms
        if not columns:
            return np.zeros_like(self.intercept)
        logits: npt.NDArray[np.float64] = values @ self._by_column[np.asarray(columns) + offset]
        return logits

    def column(self, index: int) -> npt.NDArray[np.float64]:
        row: npt.NDArray[np.float64] = self._by_column[index]
        return row

    def dense(self, vector: npt.NDArray[np.float32], offset: int) -> npt.NDArray[np.float64]:
        return vector @ self._by_column[offset : offset + len(vector)]
