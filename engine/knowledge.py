"""The knowledge base: markdown articles split into passages, BM25 retrieval, and a confidence in [0, 1]."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rank_bm25 import BM25Okapi

from .facts import without_identifiers
from .text import content_terms, expand

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

    def __init__(self, kb_dir: Path) -> None:
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

    @property
    def article_count(self) -> int:
        return len({passage.article for passage in self.passages})

    def search(self, question: str, limit: int = 3) -> Retrieval:
        """The passages that best answer the question, the one it covers best first."""
        question_terms = list(dict.fromkeys(content_terms(without_identifiers(question))))
        if not question_terms:
            return Retrieval([], 0.0)
        query = [variant for term in question_terms for variant in expand(term)]
        scores = self._bm25.get_scores(query)
        candidates = [index for index in sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:limit + 2] if scores[index] > 0]
        if not candidates:
            return Retrieval([], 0.0)
        # BM25 finds the candidates; how much of the question each covers (in steps of a fifth, so
        # one incidental word does not decide) orders them, so the passage an answer quotes is the
        # one the confidence is about.
        coverage = {index: self._coverage(question_terms, index) for index in candidates}
        in_titles = {index: self._title_hits(question_terms, index) for index in candidates}
        ranked = sorted(
            candidates, key=lambda index: (-math.floor(coverage[index] * 5), -in_titles[index], -scores[index])
        )[:limit]
        return Retrieval([self.passages[index] for index in ranked], round(coverage[ranked[0]], 3))

    def best_passage(self, question: str) -> str | None:
        """Which passage would answer the question, as "article#section", if any."""
        passages = self.search(question).passages  # the answer's own search: the passage it quotes
        return f"{passages[0].article}#{passages[0].heading}" if passages else None

    def _title_hits(self, question_terms: list[str], index: int) -> int:
        """How many of the question's terms the passage's article title or heading names."""
        titles = self._title_terms[index]
        return sum(any(variant in titles for variant in expand(term)) for term in question_terms)

    def _coverage(self, question_terms: list[str], index: int) -> float:
        """IDF-weighted share of the question's terms that the passage (or its article's titles) contains."""
        available = set(self._terms[index]) | self._article_terms[self.passages[index].article]
        weight_total = covered = 0.0
        for term in question_terms:
            weight = self._idf.get(term, self._unknown_idf)
            weight_total += weight
            if any(variant in available for variant in expand(term)):
                covered += weight
        return covered / weight_total
