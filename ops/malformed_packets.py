"""A client's malformed socket.io or engine.io frame is one line in the log, not a traceback.

python-socketio and python-engineio log the exception of every frame they cannot decode (`42[`, a
number for an event name, a lone byte before the handshake): about 1.5 KB of traceback each, so a client
could fill the disk. What they raise decoding a frame becomes one warning per interval with a count; an error raised
anywhere else keeps its traceback.
"""

from __future__ import annotations

import logging
import sysconfig
import time
import traceback

_DECODING_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError)
_INTERVAL_SECONDS = 10.0
# uvicorn's too: a websocket's first frame that engine.io cannot decode escapes its ASGI app; and asyncio's,
# which reports what a socket.io event handler run as a task raised.
_LOGGERS = ("engineio.server", "socketio.server", "uvicorn.error", "asyncio")
# Where decoding a client's frame happens: engine.io, socket.io, and Chainlit's socket handlers reading
# the payload (`auth.get(...)` on a handshake that sent none).
_DECODERS = ("/engineio/", "/socketio/", "/chainlit/socket.py")
_STANDARD_LIBRARY = sysconfig.get_paths()["stdlib"]


class MalformedFrames(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._refused = 0
        self._reported_at = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, _DECODING_ERRORS) or not _raised_decoding(error):
            return True
        self._refused += 1
        now = time.monotonic()
        if now - self._reported_at < _INTERVAL_SECONDS:
            return False
        record.msg = "refused %d malformed socket.io frame(s) in the last %d s; the latest: %s: %s"
        record.args = (self._refused, int(_INTERVAL_SECONDS), type(error).__name__, str(error)[:120])
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self._refused, self._reported_at = 0, now
        return True


def quiet_malformed_frames() -> None:
    frames = MalformedFrames()
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(frames)


def _raised_decoding(error: BaseException) -> bool:
    """Whether engine.io or socket.io itself raised it, perhaps through the standard library's json (a
    fault of ours keeps its traceback)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if not frame.filename.startswith(_STANDARD_LIBRARY):
            return any(part in frame.filename for part in _DECODERS)
    return False
