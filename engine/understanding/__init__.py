"""Understanding a customer turn with learned models: what it asks for, and in which language.

The models train from the labeled corpus in corpus/ (plus a team's own examples) at start, and are
cached on disk under the hash of everything they learn from, so a process starts in a moment when
nothing changed and a changed corpus can never be read with a stale model.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy
import sklearn

from .cache import cached
from .classifier import TurnClassifier, TurnReading
from .corpus import TURN_LABELS, fingerprint, training_turns
from .language import LanguageDetector
from .vectors import WEIGHTS

__all__ = ["TURN_LABELS", "TurnReading", "Understanding", "load_understanding"]

log = logging.getLogger(__name__)
# The cache's own format; the training code's source is part of the key too (see _code_and_weights).
_MODEL_VERSION = "3"


@dataclass(frozen=True)
class Understanding:
    turns: TurnClassifier
    language: LanguageDetector


def load_understanding(cache_dir: Path, extra_examples: Path | None = None) -> Understanding:
    """The models trained on the corpus (and a team's examples), from the cache when trained before."""
    return _load(cache_dir.resolve(), extra_examples.resolve() if extra_examples else None)


def _code_and_weights() -> list[str]:
    """What else shapes a trained model: the code that trains it and the word vectors it reads."""
    sources = [
        Path(__file__).with_name(name).read_bytes()
        for name in ("classifier.py", "language.py", "vectors.py", "cache.py")
    ]
    vectors = f"{WEIGHTS.stat().st_size}:{WEIGHTS.stat().st_mtime_ns}"
    return [hashlib.sha256(b"".join(sources)).hexdigest(), vectors]


@lru_cache(maxsize=4)
def _load(cache_dir: Path, extra_examples: Path | None) -> Understanding:
    turns = training_turns(extra_examples)
    key = fingerprint(turns, _MODEL_VERSION, sklearn.__version__, numpy.__version__, *_code_and_weights())

    def train() -> Understanding:
        log.info("training the turn classifier on %d labeled turns", len(turns))
        return Understanding(TurnClassifier(turns), LanguageDetector(turns))

    return cached(cache_dir, f"understanding-{key}", Understanding, train)
