"""Trained models kept on disk under the hash of everything they learn from, so a process starts in
a moment when nothing changed and changed data can never be read with a stale model."""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
Model = TypeVar("Model")


def cached(cache_dir: Path, name: str, kind: type[Model], train: Callable[[], Model]) -> Model:
    """The model stored as `name` in the cache, or `train()`'s, stored there for the next process."""
    path = cache_dir / f"{name}.pickle"
    if path.exists():
        try:
            with path.open("rb") as file:
                loaded = pickle.load(file)  # our own file, named by the hash of what it was trained on
            if isinstance(loaded, kind):
                return loaded
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            log.warning("ignored an unreadable model cache at %s", path)
    model = train()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: processes starting together never read half a file.
    handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".part")
    with os.fdopen(handle, "wb") as file:
        pickle.dump(model, file)
    os.replace(temporary, path)
    return model
