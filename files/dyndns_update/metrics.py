"""The app's counters for Prometheus, in its text format (`GET /metrics`, when the config's
`metrics` is true). Counted per process: each mod_wsgi daemon process has its own."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from .dnsio import DnsConflict, DnsRejected, DnsServer, DnsUnreachable, RRsetChange, TxtEdit

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a signed UPDATE on loopback takes about a millisecond; timeout's default is 3.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
OUTCOMES = ("ok", "conflict", "rejected", "unreachable", "error")


def process_start_time(default: float) -> float:
    """When this process started (seconds since the epoch), from /proc as Prometheus's own
    client reads it; `default` where there is no /proc."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/stat", encoding="ascii") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return default


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class Metrics:
    """Answers by code, and the UPDATEs sent to the DNS server: their outcome and latency.
    Thread-safe."""

    def __init__(self, codes: Iterable[str], started: float) -> None:
        self.started = started
        self._lock = threading.Lock()
        self._answers = dict.fromkeys(codes, 0)
        self._updates = dict.fromkeys(OUTCOMES, 0)
        self._buckets = [0] * len(BUCKETS)  # UPDATEs by the lowest bound they are within
        self._seconds = 0.0

    def answered(self, code: str) -> None:
        """One answer `code` (one per host of an update; one for a refused request)."""
        with self._lock:
            self._answers[code] = self._answers.get(code, 0) + 1

    def update_sent(self, seconds: float, outcome: str) -> None:
        """One UPDATE, from sending to its answer (or failure), and how it ended."""
        with self._lock:
            self._updates[outcome] += 1
            self._seconds += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1
                    break

    def render(self) -> bytes:
        """The text format, version 0.0.4."""
        with self._lock:
            answers, updates = dict(self._answers), dict(self._updates)
            buckets, seconds = list(self._buckets), self._seconds
        count = sum(updates.values())
        lines = [
            "# HELP dyndns_update_answers_total Answers of this process by result code: one per"
            " host of an update, one per refused request or status view.",
            "# TYPE dyndns_update_answers_total counter",
            *(f'dyndns_update_answers_total{{code="{c}"}} {n}' for c, n in answers.items()),
            "# HELP dyndns_update_dns_updates_total DNS UPDATEs this process sent, by outcome.",
            "# TYPE dyndns_update_dns_updates_total counter",
            *(f'dyndns_update_dns_updates_total{{outcome="{o}"}} {n}' for o, n in updates.items()),
            "# HELP dyndns_update_dns_update_seconds Seconds from sending a DNS UPDATE to its"
            " answer or failure.",
            "# TYPE dyndns_update_dns_update_seconds histogram",
            *_histogram("dyndns_update_dns_update_seconds", buckets, seconds, count),
            "# HELP process_start_time_seconds Start time of the process since unix epoch in"
            " seconds.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {_number(self.started)}",
        ]
        return ("\n".join(lines) + "\n").encode("utf-8")


def _histogram(name: str, buckets: Sequence[int], seconds: float, count: int) -> list[str]:
    """A histogram's lines: each bucket counts what took up to its bound, summed up."""
    lines, total = [], 0
    for bound, n in zip(BUCKETS, buckets, strict=True):
        total += n
        lines.append(f'{name}_bucket{{le="{_number(bound)}"}} {total}')
    return [
        *lines,
        f'{name}_bucket{{le="+Inf"}} {count}',
        f"{name}_sum {_number(seconds)}",
        f"{name}_count {count}",
    ]


class MeteredClient:
    """A DNS server's client whose UPDATEs are timed and counted; reads go straight through."""

    def __init__(
        self, client: DnsServer, metrics: Metrics, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._timer = timer
        self.fetch = client.fetch

    def replace(
        self, changes: Sequence[RRsetChange], ttl: int, edit: TxtEdit | None = None
    ) -> None:
        outcome = "error"
        started = self._timer()
        try:
            self._client.replace(changes, ttl, edit)
            outcome = "ok"
        except DnsConflict:
            outcome = "conflict"
            raise
        except DnsRejected:
            outcome = "rejected"
            raise
        except DnsUnreachable:
            outcome = "unreachable"
            raise
        finally:
            self._metrics.update_sent(self._timer() - started, outcome)
