"""Pauses password guessing: per agent name and client address, and per address over all names.

Counted in Redis when REDIS_URL is set, so every process agrees; in the process otherwise. A guess from
one address never locks out the right password from another, and names that do not exist count like
names that do. Windows are fixed: the first wrong password starts one, and it ends WINDOW_SECONDS later.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

WINDOW_SECONDS = 300
PER_NAME_AND_ADDRESS = 5  # wrong passwords for one name from one address within a window, then a pause
PER_ADDRESS = 20  # wrong passwords from one address within a window, whatever the names, then a pause
_MAX_REMEMBERED = 20_000


class _LocalCounts:
    """Fixed-window counters in this process: key -> (count, window end)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}

    def add(self, key: str, amount: int) -> tuple[int, int]:
        """Adds `amount` to the key's count; returns the count and the seconds left in its window."""
        now = time.monotonic()
        if len(self._counts) > _MAX_REMEMBERED:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        count, ends = self._counts.get(key, (0, now + WINDOW_SECONDS))
        if ends <= now:
            count, ends = 0, now + WINDOW_SECONDS
        count = max(0, count + amount)
        self._counts[key] = (count, ends)
        return count, int(ends - now) + 1

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class LoginThrottle:
    def __init__(self, redis_url: str) -> None:
        self._local = _LocalCounts()
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as redis

            self._redis = redis.from_url(redis_url, socket_connect_timeout=1.0, socket_timeout=1.0)

    async def attempt(self, name: str, address: str) -> int | None:
        """Counts a login attempt before its password is checked (so guesses sent side by side count
        too); returns the seconds to wait when it is one too many, else None."""
        limits = {f"name:{name.lower()}:{address}": PER_NAME_AND_ADDRESS, f"address:{address}": PER_ADDRESS}
        counted: list[str] = []
        for key, limit in limits.items():
            count, seconds_left = await self._add(key, 1)
            counted.append(key)
            if count > limit:  # a refused attempt is no guess: it neither counts nor lengthens the pause
                for done in counted:
                    await self._add(done, -1)
                return seconds_left
        return None

    async def succeeded(self, name: str, address: str) -> None:
        """The password was right: this attempt was no guess, and the name's count from here restarts."""
        await self._add(f"address:{address}", -1)
        await self._clear(f"name:{name.lower()}:{address}")

    async def _add(self, key: str, amount: int) -> tuple[int, int]:
        """Adds to a counter: in Redis when configured, in this process while Redis fails (a Redis
        fault must neither lock agents out nor let guesses through)."""
        if self._redis is not None:
            try:
                return await self._add_shared(f"ee:login:{key}", amount)
            except Exception:
                log.warning("the login throttle could not reach Redis; counting in this process", exc_info=True)
        return self._local.add(key, amount)

    async def _clear(self, key: str) -> None:
        self._local.clear(key)
        if self._redis is not None:
            try:
                await self._redis.delete(f"ee:login:{key}")
            except Exception:
                log.warning("the login throttle could not reach Redis to clear a count", exc_info=True)

    async def _add_shared(self, key: str, amount: int) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, WINDOW_SECONDS, nx=True)  # the first attempt starts the window
            pipe.ttl(key)
            count, _, seconds_left = await pipe.execute()
        return int(count), max(int(seconds_left), 1)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
