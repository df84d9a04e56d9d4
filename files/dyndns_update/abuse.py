"""Failed authentications per source network, thread-safe, bounded, kept across restarts."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from .config import AbuseConfig

LOG = logging.getLogger("dyndns_update")


def source_key(client: str, ipv6_prefix: int) -> str:
    """What one source is: an IPv4 address (also IPv4-mapped), or its IPv6 /`ipv6_prefix`."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is None:
            network = ipaddress.IPv6Network((int(address), ipv6_prefix), strict=False)
            return str(network)
        address = address.ipv4_mapped
    return str(address)


def _stamp(st: os.stat_result) -> tuple[int, int]:
    """Each write replaces the file: a new inode, even within one tick of the clock."""
    return (st.st_ino, st.st_mtime_ns)


class AbuseGuard:
    """`failures` failures within `window` seconds block a source for `cooldown` seconds.

    A source is an IPv4 address or an IPv6 network (see `source_key`). Sources
    still counting are kept in least-recently-used order, at most `max_entries`.
    A blocked source is never dropped before its cooldown ends (at most
    `max_blocked` at once); the blocks are written to `state_file`, when given,
    so that a restart of the process (an Apache reload) keeps them and every
    process of the app sees them. Failures are counted per process. The clock
    is wall time, since the blocks outlive the process.
    """

    def __init__(
        self,
        limits: AbuseConfig,
        clock: Callable[[], float] = time.time,
        max_entries: int = 10000,
        max_blocked: int = 100000,
    ) -> None:
        self._limit = limits.failures
        self._window = limits.window
        self._cooldown = limits.cooldown
        self._ipv6_prefix = limits.ipv6_prefix
        self._state_file = limits.state_file
        self._clock = clock
        self._max_entries = max_entries
        self._max_blocked = max_blocked
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._blocked: dict[str, float] = {}
        self._stamp: tuple[int, int] | None = None  # the state file when last read or written
        self._lock = threading.Lock()
        self._load()

    def key(self, client: str) -> str:
        return source_key(client, self._ipv6_prefix)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        """The failures of `key` still inside the window; the entry goes when none are."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and now - failures[0] >= self._window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def _blocked_now(self, key: str, now: float) -> bool:
        until = self._blocked.get(key)
        if until is not None and now >= until:
            del self._blocked[key]
            return False
        return until is not None

    def is_blocked(self, client: str) -> bool:
        """True while the source of `client` is in its cooldown."""
        key = self.key(client)
        with self._lock:
            self._load()
            now = self._clock()
            self._recent(key, now)
            return self._blocked_now(key, now)

    def record_failure(self, client: str) -> bool:
        """Count one failure of `client`'s source; True when it starts the cooldown."""
        key = self.key(client)
        with self._lock:
            now = self._clock()
            if self._blocked_now(key, now):
                return False
            failures = self._recent(key, now)
            if failures is None:
                failures = self._failures[key] = deque()
            self._failures.move_to_end(key)
            failures.append(now)
            if len(failures) < self._limit:
                while len(self._failures) > self._max_entries:
                    self._failures.popitem(last=False)
                return False
            del self._failures[key]
            if len(self._blocked) >= self._max_blocked:
                self._blocked = {k: u for k, u in self._blocked.items() if u > now}
            if len(self._blocked) >= self._max_blocked:
                LOG.warning("dyndns-update warning=abuse-table-full")
                return False
            self._blocked[key] = now + self._cooldown
            self._save()
            return True

    def _load(self) -> None:
        """Merge the blocks in the state file, when it changed since last seen (lock held).

        Other processes of the app (mod_wsgi `processes` > 1) write their blocks there too,
        so each sees every block within one request.
        """
        if not self._state_file:
            return
        try:
            stamp = _stamp(os.stat(self._state_file))
            if stamp == self._stamp:
                return
            with open(self._state_file, encoding="utf-8") as f:
                data = json.load(f)
            now = self._clock()
            for key, until in data.items():
                if isinstance(until, int | float) and until > now:
                    self._blocked[str(key)] = max(float(until), self._blocked.get(str(key), 0.0))
            self._stamp = stamp
        except FileNotFoundError:
            return
        except (OSError, ValueError, AttributeError) as err:
            LOG.warning("dyndns-update warning=abuse-state-unreadable error=%s", type(err).__name__)
            self._stamp = None

    def _save(self) -> None:
        """Write the blocks atomically (lock held); a failure is logged, the blocks stay."""
        if not self._state_file:
            return
        folder = os.path.dirname(os.path.abspath(self._state_file))
        try:
            with open(self._state_file + ".lock", "a", encoding="utf-8") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time across processes
                self._load()
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".abuse.", suffix=".tmp")
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as f:
                        json.dump(self._blocked, f)
                    os.replace(tmp, self._state_file)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
                self._stamp = _stamp(os.stat(self._state_file))
        except OSError as err:
            LOG.warning("dyndns-update warning=abuse-state-unwritable error=%s", err.strerror)

    def __len__(self) -> int:
        with self._lock:
            return len(self._failures) + len(self._blocked)
