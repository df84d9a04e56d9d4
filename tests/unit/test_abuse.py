"""The per-source-IP badauth counter, with an injected clock."""

from __future__ import annotations

import threading

from dyndns_update.abuse import AbuseGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_failures_within_window() -> None:
    clock = Clock()
    guard = AbuseGuard(failures=3, window=60, cooldown=300, clock=clock)
    assert not guard.record_failure("192.0.2.1")
    assert not guard.record_failure("192.0.2.1")
    assert not guard.is_blocked("192.0.2.1")
    assert guard.record_failure("192.0.2.1")  # the third one starts the cooldown
    assert guard.is_blocked("192.0.2.1")
    assert not guard.is_blocked("192.0.2.2")


def test_failures_outside_window_do_not_count() -> None:
    clock = Clock()
    guard = AbuseGuard(failures=3, window=60, cooldown=300, clock=clock)
    guard.record_failure("192.0.2.1")
    clock.now += 30
    guard.record_failure("192.0.2.1")
    clock.now += 31  # the first failure is now older than the window
    assert not guard.record_failure("192.0.2.1")
    assert not guard.is_blocked("192.0.2.1")
    assert guard.record_failure("192.0.2.1")
    assert guard.is_blocked("192.0.2.1")


def test_cooldown_ends_and_counting_starts_afresh() -> None:
    clock = Clock()
    guard = AbuseGuard(failures=2, window=60, cooldown=300, clock=clock)
    guard.record_failure("192.0.2.1")
    guard.record_failure("192.0.2.1")
    clock.now += 299
    assert guard.is_blocked("192.0.2.1")
    assert not guard.record_failure("192.0.2.1")  # no new cooldown while in one
    clock.now += 1
    assert not guard.is_blocked("192.0.2.1")
    assert not guard.record_failure("192.0.2.1")
    assert guard.record_failure("192.0.2.1")


def test_forgets_idle_entries_and_stays_bounded() -> None:
    clock = Clock()
    guard = AbuseGuard(failures=2, window=60, cooldown=300, clock=clock, max_entries=100)
    for i in range(1000):
        guard.record_failure(f"2001:db8::{i:x}")
    assert len(guard) == 100
    assert not guard.record_failure("2001:db8::1")  # was dropped: counts from one again
    clock.now += 61
    assert not guard.is_blocked("2001:db8::3e7")
    assert len(guard) == 99  # an expired entry is removed once looked at


def test_thread_safe_counting() -> None:
    guard = AbuseGuard(failures=400, window=60, cooldown=300)
    started: list[bool] = []

    def fail() -> None:
        for _ in range(100):
            started.append(guard.record_failure("192.0.2.9"))

    threads = [threading.Thread(target=fail) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert started.count(True) == 1
    assert guard.is_blocked("192.0.2.9")
