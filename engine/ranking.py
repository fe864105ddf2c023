"""Which passage answers a question: what each candidate looks like, what the question asks for, and
a standardise-then-logistic model that scores candidates and calibrates confidence with plain arithmetic."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

ANSWER_KINDS = ("steps", "duration", "price", "place")
_CUES: dict[str, dict[str, list[str]]] = {
    kind: lexicon
    for kind, lexicon in json.loads((Path(__file__).parent / "answer_cues.json").read_text(encoding="utf-8")).items()
    if kind in ANSWER_KINDS
}
_CUE_PATTERNS = {
    kind: {
        language: re.compile(r"(?<!\w)(?:" + "|".join(re.escape(cue) for cue in cues) + r")(?!\w)")
        for language, cues in lexicon.items()
    }
    for kind, lexicon in _CUES.items()
}
# What a passage holds, read from its markdown.
_SHOWS = {
    "steps": re.compile(r"^\s*\d+\.\s", re.M),
    "duration": re.compile(
        r"\b\d+(?:\s*(?:to|-|–)\s*\d+)?\s*(?:business\s+|working\s+|calendar\s+)?"
        r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b",
        re.I,
    ),
    "price": re.compile(r"[$€£]\s?\d|\b\d+(?:\.\d+)?\s?(?:USD|EUR|GBP)\b"),
    "place": re.compile(r"https?://|\b[\w.-]+@[\w-]+\.\w+"),
}
_TABLE_ROW = re.compile(r"^\|", re.M)


def asked_kinds(question: str, language: str) -> dict[str, bool]:
    """The kinds of answer the question's words ask for ("how long" wants a duration), in its language and English."""
    text = question.lower().replace("\u2019", "'")
    return {
        kind: any(pattern.search(text) for lang, pattern in patterns.items() if lang in (language, "en"))
        for kind, patterns in _CUE_PATTERNS.items()
    }


@dataclass(frozen=True)
class PassageShape:
    shows: dict[str, bool]  # per answer kind: does the passage hold one (numbered steps, a duration, …)
    table: bool
    intro: bool  # the article's text before its first section: an overview more often than an answer
    size: float  # log of its length in characters


def passage_shape(text: str, intro: bool) -> PassageShape:
    return PassageShape(
        shows={kind: bool(pattern.search(text)) for kind, pattern in _SHOWS.items()},
        table=bool(_TABLE_ROW.search(text)),
        intro=intro,
        size=math.log1p(len(text)),
    )


def candidate_features(fit: tuple[float, ...], shape: PassageShape, asked: dict[str, bool]) -> list[float]:
    """One candidate passage's features for the ranker.

    `fit` is (coverage, dense similarity to the passage, to its headings, BM25 share of the best,
    coverage by the section heading alone, the best dense similarity in its article, the best
    coverage in its article, the section classifier's probability, whether it is the classifier's
    likeliest). A passage of the wanted kind ("how long" and a duration in it) counts
    beside its fit; how much each counts is learned."""
    wanted = [float(asked[kind] and shape.shows[kind]) for kind in ANSWER_KINDS]
    shown = [float(shape.shows[kind]) for kind in ANSWER_KINDS]
    return [*fit, *wanted, *shown, float(shape.table), float(shape.intro), shape.size]


@dataclass(frozen=True)
class LinearScorer:
    """A fitted standardise-then-logistic-regression, applied with plain arithmetic: scikit-learn's
    predict_proba costs milliseconds for one row, and a turn searches several times."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    intercept: float

    @classmethod
    def fit(cls, features: list[list[float]], labels: list[bool], balanced: bool = False) -> LinearScorer:
        fitted: Pipeline = make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced" if balanced else None)
        ).fit(features, labels)
        scaler, regression = fitted.steps[0][1], fitted.steps[-1][1]
        return cls(scaler.mean_, scaler.scale_, regression.coef_[0], float(regression.intercept_[0]))

    def logits(self, rows: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.asarray((np.asarray(rows, dtype=np.float64) - self.mean) / self.scale @ self.weights + self.intercept)

    def probability(self, features: list[float]) -> float:
        return 1.0 / (1.0 + math.exp(-float(self.logits([features])[0])))
