"""The per-source-IP badauth counter, with an injected clock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from dyndns_update.abuse import AbuseGuard
from dyndns_update.config import AbuseConfig


def limits(failures: int, window: float, cooldown: float, **more: object) -> AbuseConfig:
    return AbuseConfig(failures=failures, window=window, cooldown=cooldown, **more)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_failures_within_window() -> None:
    clock = Clock()
    guard = AbuseGuard(limits(3, 60, 300), clock=clock)
    assert not guard.record_failure("192.0.2.1")
    assert not guard.record_failure("192.0.2.1")
    assert not guard.is_blocked("192.0.2.1")
    assert guard.record_failure("192.0.2.1")  # the third one starts the cooldown
    assert guard.is_blocked("192.0.2.1")
    assert not guard.is_blocked("192.0.2.2")


def test_failures_outside_window_do_not_count() -> None:
    clock = Clock()
    guard = AbuseGuard(limits(3, 60, 300), clock=clock)
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
    guard = AbuseGuard(limits(2, 60, 300), clock=clock)
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
    guard = AbuseGuard(limits(2, 60, 300), clock=clock, max_entries=100)
    for i in range(1000):
        guard.record_failure(f"2001:db8:{i:x}::1")  # each in a /64 of its own
    assert len(guard) == 100
    assert not guard.record_failure("2001:db8:1::1")  # was dropped: counts from one again
    clock.now += 61
    assert not guard.is_blocked("2001:db8:3e7::1")
    assert len(guard) == 99  # an expired entry is removed once looked at


def test_thread_safe_counting() -> None:
    guard = AbuseGuard(limits(400, 60, 300))
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


def test_an_ipv6_network_is_one_source() -> None:
    """50 addresses of one /64 are one source; another /64 is another."""
    guard = AbuseGuard(limits(5, 60, 300), clock=Clock())
    started = [guard.record_failure(f"2001:db8:0:1::{i:x}") for i in range(1, 51)]
    assert started.count(True) == 1
    assert guard.is_blocked("2001:db8:0:1:ffff::1")
    assert not guard.is_blocked("2001:db8:0:2::1")
    wide = AbuseGuard(limits(2, 60, 300, ipv6_prefix=48), clock=Clock())
    wide.record_failure("2001:db8:0:1::1")
    assert wide.record_failure("2001:db8:0:2::1")


def test_ipv4_mapped_addresses_count_as_ipv4() -> None:
    guard = AbuseGuard(limits(2, 60, 300), clock=Clock())
    guard.record_failure("::ffff:198.51.100.66")
    assert guard.record_failure("198.51.100.66")
    assert guard.is_blocked("::ffff:198.51.100.66")


def test_a_blocked_source_is_never_evicted_by_others() -> None:
    clock = Clock()
    guard = AbuseGuard(limits(2, 60, 300), clock=clock, max_entries=100)
    guard.record_failure("192.0.2.1")
    assert guard.record_failure("192.0.2.1")
    for i in range(10000):
        guard.record_failure(f"10.{i // 250}.{i % 250}.1")
    assert guard.is_blocked("192.0.2.1")
    clock.now += 300
    assert not guard.is_blocked("192.0.2.1")


def test_blocks_survive_a_restart(tmp_path: Path) -> None:
    """A new guard on the same state file, as after an Apache reload, keeps the blocks."""
    clock = Clock()
    state = str(tmp_path / "abuse.json")
    guard = AbuseGuard(limits(2, 60, 300, state_file=state), clock=clock)
    guard.record_failure("2001:db8::1")
    assert guard.record_failure("2001:db8::2")
    clock.now += 100
    again = AbuseGuard(limits(2, 60, 300, state_file=state), clock=clock)
    assert again.is_blocked("2001:db8::3")
    clock.now += 200
    assert not AbuseGuard(limits(2, 60, 300, state_file=state), clock=clock).is_blocked(
        "2001:db8::3"
    )


def test_unreadable_or_unwritable_state_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "abuse.json"
    broken.write_text("{not json")
    guard = AbuseGuard(limits(1, 60, 300, state_file=str(broken)), clock=Clock())
    missing = str(tmp_path / "no-such-dir" / "abuse.json")
    other = AbuseGuard(limits(1, 60, 300, state_file=missing), clock=Clock())
    assert other.record_failure("192.0.2.1")
    assert other.is_blocked("192.0.2.1")
    assert guard.record_failure("192.0.2.1")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "abuse-state-unreadable" in messages
    assert "abuse-state-unwritable" in messages


def test_processes_share_their_blocks(tmp_path: Path) -> None:
    """Two guards on one state file, as two mod_wsgi processes: a block by one holds in both."""
    clock = Clock()
    state = str(tmp_path / "abuse.json")
    one = AbuseGuard(limits(2, 60, 300, state_file=state), clock=clock)
    two = AbuseGuard(limits(2, 60, 300, state_file=state), clock=clock)
    one.record_failure("192.0.2.1")
    assert one.record_failure("192.0.2.1")
    two.record_failure("192.0.2.2")
    assert two.record_failure("192.0.2.2")  # its write keeps the other's block
    assert one.is_blocked("192.0.2.2")
    assert two.is_blocked("192.0.2.1")
    assert AbuseGuard(limits(2, 60, 300, state_file=state), clock=clock).is_blocked("192.0.2.1")
