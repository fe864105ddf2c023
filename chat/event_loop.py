"""Runs the app on asyncio's C event loop machinery, not nest_asyncio's pure-Python one.

`chainlit run` applies nest_asyncio before it loads app.py. That swaps asyncio's C Task and Future
for the pure-Python ones and makes `asyncio.run` reuse a patched loop whose every iteration runs in
Python: all awaits in the process get slower (see bench/RESULTS.md). Chainlit needs the re-entrant
loop only to compute per-profile config with `set_chat_profiles`, which this app does not use, so
we put asyncio back the way it was before Chainlit starts its server.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import asyncio.futures
import asyncio.runners
import asyncio.tasks

_LOOP_PATCHES = (
    "run_forever",
    "run_until_complete",
    "_run_once",
    "_check_running",
    "_check_runnung",
    "_num_runs_pending",
    "_is_proactorloop",
    "_nest_patched",
)


def restore_stock_asyncio() -> bool:
    """Undoes nest_asyncio's patches that apply to a loop not yet running; True if there were any."""
    if not getattr(asyncio, "_nest_patched", False) or asyncio.events._get_running_loop() is not None:
        return False
    import _asyncio  # the C implementations that nest_asyncio replaced

    # Undoing a monkeypatch: the classes are reassigned, and typeshed does not declare these private names.
    asyncio.Task = asyncio.tasks.Task = asyncio.tasks._CTask = _asyncio.Task  # type: ignore[misc, attr-defined]
    asyncio.Future = asyncio.futures.Future = asyncio.futures._CFuture = _asyncio.Future  # type: ignore[misc, attr-defined]
    asyncio.events.get_event_loop = asyncio.get_event_loop = _asyncio.get_event_loop
    asyncio.events._get_event_loop = _asyncio._get_event_loop  # type: ignore[attr-defined]
    asyncio.run = asyncio.runners.run  # a fresh, unpatched loop for Chainlit's server
    probe = asyncio.events.get_event_loop_policy().new_event_loop()
    loop_class = type(probe)
    probe.close()
    for name in _LOOP_PATCHES:  # set on the loop class; without them BaseEventLoop's own apply again
        if name in loop_class.__dict__:
            delattr(loop_class, name)
    del asyncio._nest_patched  # type: ignore[attr-defined]  # nest_asyncio's own mark
    return True
