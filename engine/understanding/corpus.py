"""The labeled turns the classifiers learn from: the JSONL files shipped in corpus/, plus a team's own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"

TurnLabel = Literal[
    "handoff_request",
    "withdraw",
    "frustration",
    "not_resolved",
    "account_action",
    "recall",
    "closing",
    "greeting",
    "question",
]
TURN_LABELS: tuple[str, ...] = get_args(TurnLabel)
LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl")


@dataclass(frozen=True)
class LabeledTurn:
    text: str
    context: str  # the assistant's message before it, "" on a conversation's first turn
    label: str
    lang: str


def read_turns(path: Path) -> list[LabeledTurn]:
    """Every turn in a JSONL file; a line that is not a labeled turn raises ValueError naming it."""
    turns = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            turn = LabeledTurn(
                str(row["text"]), str(row.get("context") or ""), str(row["label"]), str(row.get("lang") or "en")
            )
        except (ValueError, KeyError, TypeError) as problem:
            raise ValueError(f"{path}:{number}: not a labeled turn ({problem})") from problem
        if turn.label not in TURN_LABELS:
            raise ValueError(f"{path}:{number}: label {turn.label!r} is not one of {', '.join(TURN_LABELS)}")
        turns.append(turn)
    return turns


def training_turns(extra_examples: Path | None = None) -> list[LabeledTurn]:
    """The shipped corpus (corpus/turns.*.jsonl) and, when given, a support team's own labeled turns."""
    paths = sorted(CORPUS_DIR.glob("turns.*.jsonl"))
    if extra_examples is not None:
        paths.append(extra_examples)
    return [turn for path in paths for turn in read_turns(path)]


def fingerprint(turns: Iterable[LabeledTurn], *parts: str) -> str:
    """A hash of the training data and of whatever else shapes the model: the name of its cache."""
    digest = hashlib.sha256("\x1f".join(parts).encode())
    for turn in turns:
        digest.update(f"{turn.text}\x1f{turn.context}\x1f{turn.label}\x1f{turn.lang}\x1e".encode())
    return digest.hexdigest()[:16]
