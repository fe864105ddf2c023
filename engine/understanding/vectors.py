"""Dense sentence vectors from WordLlama's 256-d word embeddings, loaded from the files its wheel ships."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import wordllama
from safetensors import safe_open
from tokenizers import Tokenizer
from wordllama.inference import WordLlamaInference

# WordLlama.load() looks for the tokenizer under tokenizer/ while the wheel ships tokenizers/, and
# then downloads it: both files are read here from the package folder, so nothing reaches the network.
_PACKAGE = Path(wordllama.__file__).resolve().parent
WEIGHTS = _PACKAGE / "weights" / "l2_supercat_256.safetensors"
TOKENIZER = _PACKAGE / "tokenizers" / "l2_supercat_tokenizer_config.json"
DIMENSIONS = 256


@lru_cache(maxsize=1)
def _model() -> WordLlamaInference:
    with safe_open(str(WEIGHTS), framework="np") as weights:
        embedding = weights.get_tensor("embedding.weight")
    return WordLlamaInference(embedding, Tokenizer.from_file(str(TOKENIZER)))


def embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """One unit-length vector per text (a text with no known token gets zeros)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = np.asarray(_model().embed(texts, norm=True), dtype=np.float32)
    return np.nan_to_num(vectors)
