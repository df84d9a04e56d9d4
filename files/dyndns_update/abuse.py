"""Per-source-IP counter of failed authentications, thread-safe and bounded."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float | None = None


class AbuseGuard:
    """`failures` failures within `window` seconds block an address for `cooldown` seconds.

    Entries are kept in least-recently-used order; beyond `max_entries` the
    oldest are dropped, so memory stays bounded whatever the callers do.
    """

    def __init__(
        self,
        failures: int,
        window: float,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10000,
    ) -> None:
        self._limit = failures
        self._window = window
        self._cooldown = cooldown
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, entry: _Entry, now: float) -> None:
        if entry.blocked_until is not None and now >= entry.blocked_until:
            entry.blocked_until = None
            entry.failures.clear()
        while entry.failures and now - entry.failures[0] >= self._window:
            entry.failures.popleft()

    def is_blocked(self, client: str) -> bool:
        """True while `client` is in its cooldown."""
        with self._lock:
            entry = self._entries.get(client)
            if entry is None:
                return False
            self._expire(entry, self._clock())
            if entry.blocked_until is None and not entry.failures:
                del self._entries[client]
                return False
            return entry.blocked_until is not None

    def record_failure(self, client: str) -> bool:
        """Count one failure of `client`; True when this failure starts its cooldown."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(client)
            if entry is None:
                entry = self._entries[client] = _Entry()
            self._entries.move_to_end(client)
            self._expire(entry, now)
            if entry.blocked_until is not None:
                return False
            entry.failures.append(now)
            started = len(entry.failures) >= self._limit
            if started:
                entry.blocked_until = now + self._cooldown
                entry.failures.clear()
            self._trim()
            return started

    def _trim(self) -> None:
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
