"""Takes back OPENAI_API_KEY from `chainlit run`'s CI mode.

With CI set in the environment (as every CI runner sets it), `chainlit run` replaces OPENAI_API_KEY
with a placeholder for Chainlit's own tests. Left in place, the placeholder would switch the engine
from the offline model to an OpenAI endpoint that refuses it, and every question would become an
"assistant unavailable" handoff.
"""

from __future__ import annotations

import os

from chainlit.config import config

CHAINLIT_PLACEHOLDER_KEY = "sk-FAKE-OPENAI-API-KEY"


def drop_placeholder_key() -> bool:
    """Removes Chainlit's placeholder key from the environment; True if it was there."""
    if config.run.ci and os.environ.get("OPENAI_API_KEY") == CHAINLIT_PLACEHOLDER_KEY:
        del os.environ["OPENAI_API_KEY"]
        return True
    return False
