"""The knowledge base: markdown articles split into passages, lexical and dense retrieval, and a
calibrated confidence in [0, 1] that the best passage answers the question."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Okapi
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from .facts import without_identifiers
from .text import content_terms, expand
from .understanding.corpus import CORPUS_DIR
from .understanding.glossary import in_search_words
from .understanding.vectors import embed

SHIPPED_KB = Path(__file__).resolve().parent / "kb"
# Labeled questions, answerable or not, about the shipped knowledge base (corpus/retrieval*.jsonl):
# what the confidence is calibrated on. Its features are about fit, not about Northwind, so the
# calibration carries over to a team's own articles (KB_DIR).
CALIBRATION_FILES = "retrieval*.jsonl"
# How a candidate passage is ranked: lexical coverage of the question, meaning (dense similarity to
# the whole passage and to its headings) and BM25. Chosen on the calibration questions.
RANK_WEIGHTS = (1.0, 1.0, 0.5, 0.2)
_GLUE_WORD_LENGTH = 5

@dataclass(frozen=True)
class Passage:
    article: str  # file name without .md
    title: str
    heading: str
    text: str


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]
    confidence: float  # share of the question's meaning the best passage covers, 0..1

    @property
    def articles(self) -> list[str]:
        return list(dict.fromkeys(passage.title for passage in self.passages))


def _split_article(path: Path) -> list[Passage]:
    lines = path.read_text(encoding="utf-8").splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), path.stem)
    passages: list[Passage] = []
    heading, body = title, []
    for line in lines:
        if line.startswith("# "):
            continue
        if line.startswith("## "):
            if "".join(body).strip():
                passages.append(Passage(path.stem, title, heading, "\n".join(body).strip()))
            heading, body = line[3:].strip(), []
        else:
            body.append(line)
    if "".join(body).strip():
        passages.append(Passage(path.stem, title, heading, "\n".join(body).strip()))
    return passages


class KnowledgeBase:
    """Retrieves passages for a question and says how sure it is that they answer it."""

    def __init__(self, kb_dir: Path, *, calibrated: bool = True) -> None:
        paths = sorted(Path(kb_dir).glob("*.md"))
        if not paths:
            raise ValueError(f"no markdown articles in {kb_dir}")
        self.passages = [passage for path in paths for passage in _split_article(path)]
        # A passage is indexed with its article title and heading, which carry most of its topic.
        self._terms = [
            content_terms(f"{p.title} {p.heading} {p.title} {p.text}") for p in self.passages
        ]
        self._title_terms = [set(content_terms(f"{p.title} {p.heading}")) for p in self.passages]
        self._article_terms: dict[str, set[str]] = {}
        for passage, titles in zip(self.passages, self._title_terms):
            self._article_terms.setdefault(passage.article, set()).update(titles)
        self._bm25 = BM25Okapi(self._terms)
        document_frequency: dict[str, int] = {}
        for terms in self._terms:
            for term in set(terms):
                document_frequency[term] = document_frequency.get(term, 0) + 1
        total = len(self._terms)
        self._idf = {
            term: math.log((total - count + 0.5) / (count + 0.5) + 1)
            for term, count in document_frequency.items()
        }
        # A word the knowledge base never uses is as telling as its rarest word.
        self._unknown_idf = math.log((total + 0.5) / 0.5 + 1)
        self._passage_vectors = embed([f"{p.title}. {p.heading}. {p.text}" for p in self.passages])
        self._heading_vectors = embed([f"{p.title}. {p.heading}" for p in self.passages])
        self._calibrator: _Calibration | None = _shipped_calibrator() if calibrated else None
        # A turn asks the same question of the knowledge base several times (the router, the answer,
        # the offline model); a small cache answers the repeats.
        self._cached_search = lru_cache(maxsize=1024)(self._search)

    @property
    def article_count(self) -> int:
        return len({passage.article for passage in self.passages})

    def search(self, question: str, limit: int = 3, language: str = "en") -> Retrieval:
        """The passages that best answer the question, best first, and how sure we are the first does.

        A question in another language is searched in the glossary's English words, the words the
        articles share with it ("API", "Hub", "SSO") and its longer words, which may be its topic.
        """
        return self._cached_search(question, limit, language)

    def _search(self, question: str, limit: int, language: str) -> Retrieval:
        found = self._ranked_in(question, language)
        if found is None:
            return Retrieval([], 0.0)
        ranked, fit = found
        confidence = fit[0] if self._calibrator is None else self._calibrator.probability(fit)
        return Retrieval([self.passages[index] for index in ranked[:limit]], round(confidence, 3))

    def coverage(self, question: str, passage: Passage, language: str = "en") -> float | None:
        """IDF-weighted share of the question's own words the passage (or its article's titles) holds;
        None when the question has no words to search ("where do I do that?")."""
        text = question if language == "en" else in_search_words(question, language)
        terms = list(dict.fromkeys(content_terms(without_identifiers(text))))
        if not terms:
            return None
        return self._coverage(terms, self.passages.index(passage))

    def fit_features(self, question: str, language: str = "en") -> list[float] | None:
        """What says how well the best passage fits the question (see `_ranked`), or None when nothing does."""
        found = self._ranked_in(question, language)
        return found[1] if found else None

    def _ranked_in(self, question: str, language: str) -> tuple[list[int], list[float]] | None:
        if language == "en":
            return self._ranked(question)
        return self._ranked(in_search_words(question, language), known_only=True)

    def _ranked(self, question: str, known_only: bool = False) -> tuple[list[int], list[float]] | None:
        """Candidate passages, best first, and the fit features of the best one.

        BM25 and dense similarity each nominate candidates; they are ordered by a blend of the share of
        the question's words a passage covers, how close it is in meaning, and BM25. The fit features
        (coverage, both similarities, the similarity margin over the runner-up, the share of the
        question's weight in words the knowledge base never uses) feed the calibrated confidence.
        """
        question_terms = list(dict.fromkeys(content_terms(without_identifiers(question))))
        if known_only:
            # Short words the articles do not use are most likely the language's own glue ("mit",
            # "como", "les"); a long one may be what the question is about ("bitcoin", "oficina").
            question_terms = [term for term in question_terms if self._known(term) or len(term) > _GLUE_WORD_LENGTH]
        if not question_terms:
            return None
        query = [variant for term in question_terms for variant in expand(term)]
        scores = self._bm25.get_scores(query)
        vector = embed([" ".join(question_terms) if known_only else question.lower()])[0]
        dense: npt.NDArray[np.float32] = self._passage_vectors @ vector
        heading_dense: npt.NDArray[np.float32] = self._heading_vectors @ vector
        lexical = [index for index in np.argsort(-scores)[:5] if scores[index] > 0]
        candidates = list(dict.fromkeys([*lexical, *np.argsort(-dense)[:5]]))
        top_score = float(scores.max()) or 1.0
        coverage = {index: self._coverage(question_terms, index) for index in candidates}
        weights = RANK_WEIGHTS

        def rank(index: int) -> float:
            return (
                weights[0] * coverage[index]
                + weights[1] * float(dense[index])
                + weights[2] * float(heading_dense[index])
                + weights[3] * float(scores[index]) / top_score
            )

        ranked = sorted(candidates, key=rank, reverse=True)
        best = ranked[0]
        runner_up = max((float(dense[index]) for index in ranked[1:]), default=0.0)
        unknown = sum(self._unknown_idf for term in question_terms if not self._known(term))
        weight_total = sum(self._idf.get(term, self._unknown_idf) for term in question_terms)
        missed = self._missed(question_terms, best)
        fit = [
            coverage[best],
            float(dense[best]),
            float(heading_dense[best]),
            float(dense[best]) - runner_up,
            unknown / weight_total,
            rank(best),
            max((self._idf.get(term, self._unknown_idf) for term in missed), default=0.0) / self._unknown_idf,
            min(len(missed), 4) / 4,
        ]
        return ranked, fit

    def _available(self, index: int) -> set[str]:
        """The terms a passage answers with: its own and its article's titles."""
        return set(self._terms[index]) | self._article_terms[self.passages[index].article]

    def _missed(self, question_terms: list[str], index: int) -> list[str]:
        """The question's terms that neither the passage nor its article's titles contain."""
        available = self._available(index)
        return [term for term in question_terms if not any(variant in available for variant in expand(term))]

    def _known(self, term: str) -> bool:
        return any(variant in self._idf for variant in expand(term))

    def best_passage(self, question: str) -> str | None:
        """Which passage would answer the question, as "article#section", if any."""
        passages = self.search(question).passages  # the answer's own search: the passage it quotes
        return f"{passages[0].article}#{passages[0].heading}" if passages else None

    def _coverage(self, question_terms: list[str], index: int) -> float:
        """IDF-weighted share of the question's terms that the passage (or its article's titles) contains."""
        available = self._available(index)
        weight_total = covered = 0.0
        for term in question_terms:
            weight = self._idf.get(term, self._unknown_idf)
            weight_total += weight
            if any(variant in available for variant in expand(term)):
                covered += weight
        return covered / weight_total


def calibration_questions() -> list[dict[str, object]]:
    """The labeled questions the confidence is calibrated on (answerable or not, with their article)."""
    return [
        json.loads(line)
        for path in sorted(CORPUS_DIR.glob(CALIBRATION_FILES))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@dataclass(frozen=True)
class _Calibration:
    """A fitted standardise-then-logistic-regression, applied with plain arithmetic: scikit-learn's
    predict_proba costs milliseconds for one row, and a turn searches several times."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    intercept: float

    @classmethod
    def of(cls, fitted: Pipeline) -> _Calibration:
        scaler, regression = fitted.steps[0][1], fitted.steps[-1][1]
        return cls(scaler.mean_, scaler.scale_, regression.coef_[0], float(regression.intercept_[0]))

    def probability(self, features: list[float]) -> float:
        logit = float((np.asarray(features) - self.mean) / self.scale @ self.weights) + self.intercept
        return 1.0 / (1.0 + math.exp(-logit))


@lru_cache(maxsize=1)
def _shipped_calibrator() -> _Calibration:
    """P(the best passage answers the question) from its fit features, fitted on the shipped articles."""
    knowledge = KnowledgeBase(SHIPPED_KB, calibrated=False)
    features, answerable = [], []
    for row in calibration_questions():
        fit = knowledge.fit_features(str(row["question"]), str(row.get("lang", "en")))
        if fit is not None:
            features.append(fit)
            answerable.append(bool(row["answerable"]))
    return _Calibration.of(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, answerable))
