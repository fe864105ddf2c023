"""The knowledge base: markdown articles split into passages, lexical and dense candidates ranked by a
learned ranker, and a calibrated confidence in [0, 1] that the best passage answers the question."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import sklearn
from rank_bm25 import BM25Okapi

from .facts import without_identifiers
from .ranking import LinearScorer, asked_kinds, candidate_features, passage_shape
from .text import content_terms, expand
from .understanding.cache import cached
from .understanding.corpus import CORPUS_DIR
from .understanding.glossary import in_search_words
from .understanding.sections import SectionClassifier
from .understanding.vectors import WEIGHTS, embed

log = logging.getLogger(__name__)

SHIPPED_KB = Path(__file__).resolve().parent / "kb"
# Labeled questions about the shipped knowledge base: answerable or not, with the section that answers
# (corpus/retrieval*.jsonl), and help questions with the section and its key facts (corpus/answers.jsonl).
# The ranker learns from the sections, the confidence is calibrated on answerable against not. Their
# features are about fit, not about Northwind, so both carry over to a team's own articles (KB_DIR).
CALIBRATION_FILES = "retrieval*.jsonl"
ANSWER_FILES = "answers*.jsonl"
# A team's own labeled questions ({"question", "article", "section", "lang"}) kept beside its articles.
OWN_QUESTION_FILES = "questions*.jsonl"
CANDIDATES_PER_SIGNAL = 8  # passages BM25 and dense similarity each nominate for the ranker
CANDIDATES_BY_SECTION = 3  # and the section classifier
FOLDS = 5  # the ranker learns from section probabilities of classifiers that never saw the question
_GLUE_WORD_LENGTH = 5


@dataclass(frozen=True)
class Passage:
    article: str  # file name without .md
    title: str
    heading: str  # the section heading; the title for the article's introduction
    text: str

    @property
    def section(self) -> str:
        """The section heading, or "" for the article's introduction."""
        return "" if self.heading == self.title else self.heading


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]
    confidence: float  # calibrated probability that the first passage answers the question, 0..1

    @property
    def articles(self) -> list[str]:
        return list(dict.fromkeys(passage.title for passage in self.passages))


@dataclass(frozen=True)
class RetrievalModels:
    sections: SectionClassifier | None  # P(section | question) over this knowledge base's passages
    ranker: LinearScorer | None  # P(this candidate is the passage that answers) from its candidate features
    calibrator: LinearScorer | None  # P(the first passage answers) from the fit features


def _split_article(path: Path) -> list[Passage]:
    lines = path.read_text(encoding="utf-8").splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), path.stem)
    passages: list[Passage] = []
    heading = title
    body: list[str] = []
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


@dataclass(frozen=True)
class _Candidates:
    indices: list[int]
    features: list[list[float]]  # one ranker row per candidate
    question_terms: list[str]
    dense: npt.NDArray[np.float32]
    heading_dense: npt.NDArray[np.float32]
    coverage: dict[int, float]
    by_section: npt.NDArray[np.float64]  # the section classifier's probability for every passage


class KnowledgeBase:
    """Retrieves passages for a question and says how sure it is that the first one answers it."""

    def __init__(self, kb_dir: Path, cache_dir: Path, *, models: RetrievalModels | None = None) -> None:
        """The ranker and the confidence are learned on the shipped articles; the section classifier on
        these articles and their labeled questions. Trained models are kept in `cache_dir`."""
        paths = sorted(Path(kb_dir).glob("*.md"))
        if not paths:
            raise ValueError(f"no markdown articles in {kb_dir}")
        self.passages = [passage for path in paths for passage in _split_article(path)]
        # A passage is indexed with its article title and heading, which carry most of its topic.
        self._terms = [content_terms(f"{p.title} {p.heading} {p.title} {p.text}") for p in self.passages]
        self._heading_terms = [set(content_terms(p.section)) for p in self.passages]
        self._article_terms: dict[str, set[str]] = {}
        self._article_passages: dict[str, list[int]] = {}
        for index, passage in enumerate(self.passages):
            self._article_terms.setdefault(passage.article, set()).update(
                content_terms(f"{passage.title} {passage.heading}")
            )
            self._article_passages.setdefault(passage.article, []).append(index)
        self._shapes = [passage_shape(p.text, intro=not p.section) for p in self.passages]
        self._bm25 = BM25Okapi(self._terms)
        document_frequency: dict[str, int] = {}
        for terms in self._terms:
            for term in set(terms):
                document_frequency[term] = document_frequency.get(term, 0) + 1
        total = len(self._terms)
        self._idf = {
            term: math.log((total - count + 0.5) / (count + 0.5) + 1) for term, count in document_frequency.items()
        }
        # A word the knowledge base never uses is as telling as its rarest word.
        self._unknown_idf = math.log((total + 0.5) / 0.5 + 1)
        self._passage_vectors = embed([f"{p.title}. {p.heading}. {p.text}" for p in self.passages])
        self._heading_vectors = embed([f"{p.title}. {p.heading}" for p in self.passages])
        self._models = models or self._trained(Path(kb_dir), paths, cache_dir)
        # A turn asks the same question of the knowledge base several times (the router, the answer,
        # the offline model); a small cache answers the repeats.
        self._cached_search = lru_cache(maxsize=1024)(self._search)

    def _trained(self, kb_dir: Path, paths: list[Path], cache_dir: Path) -> RetrievalModels:
        shipped = _shipped_models(cache_dir.resolve())
        if kb_dir.resolve() == SHIPPED_KB:
            return shipped
        question_files = sorted(kb_dir.glob(OWN_QUESTION_FILES))
        questions = [row for path in question_files for row in _read_labeled(path)]
        key = _fingerprint([*paths, *question_files])
        sections = cached(
            cache_dir,
            f"sections-{key}",
            SectionClassifier,
            lambda: SectionClassifier(self._passage_texts(), self._examples(questions)),
        )
        return replace(shipped, sections=sections)

    def _passage_texts(self) -> list[tuple[str, str]]:
        return [(f"{p.title}. {p.heading}", p.text) for p in self.passages]

    def _examples(self, questions: list[dict[str, object]]) -> list[tuple[str, int]]:
        """The labeled questions about these articles, as (search text, passage index)."""
        examples = []
        for row in questions:
            target = (
                self.passage_index(str(row.get("article")), str(row.get("section"))) if row.get("article") else None
            )
            if target is not None and row.get("section") is not None:
                examples.append((_search_text(str(row["question"]), str(row.get("lang", "en"))), target))
        return examples

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
        found = self._ranked(question, language)
        if found is None:
            return Retrieval([], 0.0)
        ranked, fit = found
        calibrator = self._models.calibrator
        confidence = calibrator.probability(fit) if calibrator else 0.0
        return Retrieval([self.passages[index] for index in self._sections_first(ranked)[:limit]], round(confidence, 3))

    def _sections_first(self, ranked: list[int]) -> list[int]:
        """An article's introduction says what it is about, its first section how: when the introduction
        ranks first (a question as general as the article, "forgot password"), that section leads, the
        introduction right after it."""
        introduction = self.passages[ranked[0]]
        if introduction.section:
            return ranked
        first = next(
            (index for index in self._article_passages[introduction.article] if self.passages[index].section), None
        )
        if first is None:
            return ranked
        return [first, ranked[0], *[index for index in ranked[1:] if index != first]]

    def before(self, passage: Passage) -> Passage | None:
        """The passage just before this one in its article, if any (a section may point "above")."""
        siblings = self._article_passages[passage.article]
        index = self.passages.index(passage)
        position = siblings.index(index)
        return self.passages[siblings[position - 1]] if position else None

    def coverage(self, question: str, passage: Passage, language: str = "en") -> float | None:
        """IDF-weighted share of the question's own words the passage (or its article's titles) holds;
        None when the question has no words to search ("where do I do that?")."""
        terms = self._question_terms(question, language)
        if not terms:
            return None
        return self._coverage(terms, self.passages.index(passage))

    def fit_features(self, question: str, language: str = "en") -> list[float] | None:
        """What says how well the best passage fits the question (see `_ranked`), or None when nothing does."""
        found = self._ranked(question, language)
        return found[1] if found else None

    def _question_terms(self, question: str, language: str) -> list[str]:
        if language == "en":
            return list(dict.fromkeys(content_terms(without_identifiers(question))))
        # Short words the articles do not use are most likely the language's own glue ("mit", "como",
        # "les"); a long one may be what the question is about ("bitcoin", "oficina").
        terms = dict.fromkeys(content_terms(without_identifiers(in_search_words(question, language))))
        return [term for term in terms if self._known(term) or len(term) > _GLUE_WORD_LENGTH]

    def section_probabilities(self, question: str, language: str = "en") -> npt.NDArray[np.float64]:
        assert self._models.sections is not None, "trained before searching"
        return self._models.sections.probabilities(_search_text(question, language))

    def candidates(
        self, question: str, language: str = "en", by_section: npt.NDArray[np.float64] | None = None
    ) -> _Candidates | None:
        """The passages BM25, dense similarity and the section classifier nominate, with their ranker features.

        `by_section` is the section classifier's probabilities, when they come from elsewhere (training)."""
        question_terms = self._question_terms(question, language)
        if not question_terms:
            return None
        if by_section is None:
            by_section = self.section_probabilities(question, language)
        query = [variant for term in question_terms for variant in expand(term)]
        scores = self._bm25.get_scores(query)
        vector = embed([without_identifiers(question).lower() if language == "en" else " ".join(question_terms)])[0]
        dense: npt.NDArray[np.float32] = self._passage_vectors @ vector
        heading_dense: npt.NDArray[np.float32] = self._heading_vectors @ vector
        lexical = [int(index) for index in np.argsort(-scores)[:CANDIDATES_PER_SIGNAL] if scores[index] > 0]
        nominated = [
            *lexical,
            *(int(index) for index in np.argsort(-dense)[:CANDIDATES_PER_SIGNAL]),
            *(int(index) for index in np.argsort(-by_section)[:CANDIDATES_BY_SECTION]),
        ]
        indices = list(dict.fromkeys(nominated))
        likeliest = int(np.argmax(by_section))
        top_score = float(scores.max()) or 1.0
        coverage = {index: self._coverage(question_terms, index) for index in indices}
        asked = asked_kinds(question, language)
        features = []
        for index in indices:
            article = self._article_passages[self.passages[index].article]
            fit = (
                coverage[index],
                float(dense[index]),
                float(heading_dense[index]),
                float(scores[index]) / top_score,
                self._share(question_terms, self._heading_terms[index]),
                float(dense[article].max()),
                max(coverage.get(sibling, 0.0) for sibling in article),
                float(by_section[index]),
                float(index == likeliest),
            )
            features.append(candidate_features(fit, self._shapes[index], asked))
        return _Candidates(indices, features, question_terms, dense, heading_dense, coverage, by_section)

    def _ranked(
        self, question: str, language: str, by_section: npt.NDArray[np.float64] | None = None
    ) -> tuple[list[int], list[float]] | None:
        """Candidate passages, best first by the learned ranker, and the fit features of the best one.

        The fit features (coverage, both similarities, the similarity margin over the runner-up, the
        share of the question's weight in words the knowledge base never uses, the ranker's score and
        its margin, the rarest word the passage misses, the section classifier's probability for it
        and its highest, and for another language those again) feed the calibrated confidence.
        """
        found = self.candidates(question, language, by_section)
        if found is None:
            return None
        assert self._models.ranker is not None, "trained before ranking"
        logits = self._models.ranker.logits(found.features)
        order = np.argsort(-logits)
        ranked = [found.indices[position] for position in order]
        best, terms = ranked[0], found.question_terms
        runner_up = max((float(found.dense[index]) for index in ranked[1:]), default=0.0)
        unknown = sum(self._unknown_idf for term in terms if not self._known(term))
        weight_total = sum(self._idf.get(term, self._unknown_idf) for term in terms)
        missed = self._missed(terms, best)
        # Another language's question shares fewer words with the English articles: the calibration
        # learns how much less that says, apart from what it says of an English question.
        other_language = 0.0 if language == "en" else 1.0
        fit = [
            found.coverage[best],
            float(found.dense[best]),
            float(found.heading_dense[best]),
            float(found.dense[best]) - runner_up,
            unknown / weight_total,
            float(logits[order[0]]),
            float(logits[order[0]] - logits[order[1]]) if len(order) > 1 else 0.0,
            max((self._idf.get(term, self._unknown_idf) for term in missed), default=0.0) / self._unknown_idf,
            min(len(missed), 4) / 4,
            found.by_section[best],
            float(found.by_section.max()),
            other_language,
            other_language * found.coverage[best],
            other_language * found.by_section[best],
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

    def passage_index(self, article: str, section: str) -> int | None:
        """Where the article's section ("" for its introduction) is among the passages, if it exists."""
        return next(
            (index for index, p in enumerate(self.passages) if p.article == article and p.section == section), None
        )

    def _coverage(self, question_terms: list[str], index: int) -> float:
        """IDF-weighted share of the question's terms that the passage (or its article's titles) contains."""
        return self._share(question_terms, self._available(index))

    def _share(self, question_terms: list[str], available: set[str]) -> float:
        """IDF-weighted share of the question's terms (or their synonyms) among `available`."""
        weight_total = covered = 0.0
        for term in question_terms:
            weight = self._idf.get(term, self._unknown_idf)
            weight_total += weight
            if any(variant in available for variant in expand(term)):
                covered += weight
        return covered / weight_total


def _search_text(question: str, language: str) -> str:
    """What the section classifier reads: the question without who is asking (names, numbers), and for
    another language its glossary words too."""
    question = without_identifiers(question)
    return question if language == "en" else f"{question} {in_search_words(question, language)}"


def _read_labeled(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _labeled(pattern: str) -> list[dict[str, object]]:
    return [row for path in sorted(CORPUS_DIR.glob(pattern)) for row in _read_labeled(path)]


def calibration_questions() -> list[dict[str, object]]:
    """The labeled questions the confidence is calibrated on (answerable or not, with their article)."""
    return _labeled(CALIBRATION_FILES)


def answer_questions() -> list[dict[str, object]]:
    """Help questions labeled with the section that answers them and that section's key facts."""
    return _labeled(ANSWER_FILES)


def _fingerprint(paths: list[Path]) -> str:
    """A hash of what the retrieval models learn from, and of the code and versions that shape them."""
    digest = hashlib.sha256(f"{sklearn.__version__}:{np.__version__}:{WEIGHTS.stat().st_size}".encode())
    here = Path(__file__).resolve().parent
    code = [
        here / name
        for name in ("knowledge.py", "ranking.py", "answer_cues.json", "text.py", "lexicon.json", "facts.py")
    ]
    code += [here / "understanding" / name for name in ("sections.py", "classifier.py", "glossary.py", "glossary.json")]
    for path in [*code, *paths]:
        digest.update(path.name.encode() + b"\x1f" + path.read_bytes() + b"\x1e")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=2)
def _shipped_models(cache_dir: Path) -> RetrievalModels:
    files = sorted([*SHIPPED_KB.glob("*.md"), *CORPUS_DIR.glob(CALIBRATION_FILES), *CORPUS_DIR.glob(ANSWER_FILES)])
    return cached(cache_dir, f"retrieval-{_fingerprint(files)}", RetrievalModels, _train_shipped)


def _train_shipped() -> RetrievalModels:
    """The section classifier, the ranker and the confidence, learned on the shipped articles.

    The ranker reads the section classifier's probabilities; learning from probabilities the
    classifier gives its own training questions would teach it to trust them too much, so it learns
    from those of classifiers trained without the question (FOLDS-fold), as does the calibration.
    """
    knowledge = KnowledgeBase(SHIPPED_KB, Path(), models=RetrievalModels(None, None, None))
    calibration, answers = calibration_questions(), answer_questions()
    rows = calibration + answers
    log.info("training the retrieval models on %d labeled questions", len(rows))
    examples = [knowledge._examples([row]) for row in rows]  # one or no example per row
    held_out: list[npt.NDArray[np.float64]] = [np.zeros(0)] * len(rows)
    for fold in range(FOLDS):
        learned = [example for number, found in enumerate(examples) if number % FOLDS != fold for example in found]
        classifier = SectionClassifier(knowledge._passage_texts(), learned)
        for number in range(fold, len(rows), FOLDS):
            held_out[number] = classifier.probabilities(
                _search_text(str(rows[number]["question"]), str(rows[number].get("lang", "en")))
            )
    ranker_rows: list[list[float]] = []
    labels: list[bool] = []
    for row, found, by_section in zip(rows, examples, held_out, strict=True):
        candidates = knowledge.candidates(str(row["question"]), str(row.get("lang", "en")), by_section)
        if not found or candidates is None or found[0][1] not in candidates.indices:
            continue
        ranker_rows += candidates.features
        labels += [index == found[0][1] for index in candidates.indices]
    ranker = LinearScorer.fit(ranker_rows, labels, balanced=True)
    knowledge._models = RetrievalModels(None, ranker, None)
    features, answerable = [], []
    for row, by_section in zip(calibration, held_out, strict=False):  # calibration rows come first in held_out
        fit = knowledge._ranked(str(row["question"]), str(row.get("lang", "en")), by_section)
        if fit is not None:
            features.append(fit[1])
            answerable.append(bool(row["answerable"]))
    sections = SectionClassifier(knowledge._passage_texts(), [example for found in examples for example in found])
    return RetrievalModels(sections, ranker, LinearScorer.fit(features, answerable))
