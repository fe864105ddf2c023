"""Superseded checkpoints are pruned: a conversation keeps its latest checkpoint, not every one it had.

Resuming needs only the latest checkpoint (and its pending writes); the history of earlier ones is
for time travel, which we do not offer, and the transcript keeps every word. Without pruning, each
customer turn adds its checkpoints forever (20–36 KB a turn, bench/RESULTS.md).
"""

from __future__ import annotations

from collections import OrderedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

# The newest checkpoint of each namespace of the thread stays, with its writes; everything older goes.
_SQLITE_PRUNE = [
    """DELETE FROM writes WHERE thread_id = :thread AND (checkpoint_ns, checkpoint_id) NOT IN
       (SELECT checkpoint_ns, max(checkpoint_id) FROM checkpoints WHERE thread_id = :thread GROUP BY checkpoint_ns)""",
    """DELETE FROM checkpoints WHERE thread_id = :thread AND (checkpoint_ns, checkpoint_id) NOT IN
       (SELECT checkpoint_ns, max(checkpoint_id) FROM checkpoints WHERE thread_id = :thread GROUP BY checkpoint_ns)""",
]
_REMEMBERED_THREADS = 50_000


async def keep_latest(checkpointer: BaseCheckpointSaver[str], thread_id: str) -> None:
    """Deletes the thread's superseded checkpoints. The caller holds the thread's lock, so no run of
    it writes meanwhile."""
    if not isinstance(checkpointer, AsyncSqliteSaver):
        await checkpointer.aprune([thread_id], strategy="keep_latest")  # Postgres: its blobs and writes too
        return
    # The SQLite saver has no prune of its own; its checkpoint ids are time-ordered (uuid6), so max() is newest.
    async with checkpointer.lock:
        for statement in _SQLITE_PRUNE:
            await checkpointer.conn.execute(statement, {"thread": thread_id})
        await checkpointer.conn.commit()


class PruneSchedule:
    """Says when a thread is due for pruning: every `every_turns` turns it had in this process (0: never).
    A process that forgets a quiet thread (it remembers the latest 50,000) only prunes it later."""

    def __init__(self, every_turns: int) -> None:
        self._every = every_turns
        self._turns: OrderedDict[str, int] = OrderedDict()

    def turn_done(self, thread_id: str) -> bool:
        """Counts one turn of the thread; True when it is due."""
        if self._every <= 0:
            return False
        turns = self._turns.pop(thread_id, 0) + 1
        if turns >= self._every:
            return True
        self._turns[thread_id] = turns
        if len(self._turns) > _REMEMBERED_THREADS:
            self._turns.popitem(last=False)
        return False
