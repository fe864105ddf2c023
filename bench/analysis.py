"""The cost of understanding one turn: the learned models against the lexical search they replaced, same run."""

from __future__ import annotations

import subprocess
import sys
import time

from engine.assessment import analyze_turn
from engine.config import Settings
from engine.knowledge import KnowledgeBase
from engine.understanding import load_understanding
from engine.understanding.corpus import training_turns

# Resident memory before and after loading the models, in a fresh interpreter that has imported
# everything else the engine uses: what the models themselves add.
_MEMORY_PROBE = """
import os, engine.service
from engine.config import Settings
from engine.knowledge import KnowledgeBase
from engine.understanding import load_understanding
def resident_kib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
settings = Settings()
before = resident_kib()
models = load_understanding(settings.model_cache_path), KnowledgeBase(settings.kb_dir, settings.model_cache_path)
print(resident_kib() - before)
"""


def analysis_latencies(settings: Settings, samples: int) -> tuple[list[float], list[float]]:
    """Seconds to analyse one customer turn (classifier, language, retrieval, repeat check), and, as
    the baseline, seconds for the BM25 scoring alone that the lexicon-era analysis ran on the same turn."""
    understanding = load_understanding(settings.model_cache_path)
    knowledge = KnowledgeBase(settings.kb_dir, settings.model_cache_path)
    turns = training_turns()[::7][:samples]
    analysed, lexical = [], []
    for turn in turns:
        started = time.perf_counter()
        analyze_turn(
            turn.text,
            previous_assistant_message=turn.context or None,
            previous_question="How do I reset my password?" if turn.context else None,
            answered_questions=["How do I reset my password?"],
            previous_frustration=0.0,
            previous_language="en",
            understanding=understanding,
            knowledge=knowledge,
            settings=settings,
        )
        analysed.append(time.perf_counter() - started)
        started = time.perf_counter()
        knowledge._bm25.get_scores(turn.text.lower().split())
        lexical.append(time.perf_counter() - started)
    return analysed, lexical


def model_memory_kib(settings: Settings) -> int:
    """KiB of resident memory the trained models (and the knowledge base's vectors) add to a process."""
    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={"MODEL_CACHE_DIR": str(settings.model_cache_path), "PATH": "/usr/bin:/bin"},
    )
    return int(probe.stdout.strip().splitlines()[-1])
