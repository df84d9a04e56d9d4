"""Helpers for the unit tests of files/dyndns_update: paths and sample files."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dns.rdata
from app_support import ZONE, app_config
from dyndns_update.dnsio import RRsetChange, TxtEdit, make_rdatas

__all__ = ["KEY_LINE", "PASSWORD", "TOKEN", "ZONE", "FakeDns", "base_config"]

PASSWORD = "correct horse battery"
TOKEN = "tok-0123456789abcdefghijklmnopqrstuv"
KEY_LINE = "hmac-sha512:dyndns-update:" + base64.b64encode(bytes(range(64))).decode()


def base_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The unit tests' config: no DNS server, and limits small enough to reach."""
    unit: dict[str, Any] = {
        "port": 9,  # discard: nothing listens, so any DNS I/O fails fast as 911
        "max_hostnames": 3,
        "abuse": {"failures": 3, "window": 600, "cooldown": 900},
    }
    return app_config(tmp_path, **{**unit, **overrides})


class FakeDns:
    """A DnsClient stand-in holding the zone's RRsets in memory, as Knot would serve them
    after each UPDATE; `fail` is raised by every read and UPDATE while set, `fail_updates`
    by every UPDATE."""

    def __init__(self) -> None:
        self.rrsets: dict[tuple[str, str], frozenset[dns.rdata.Rdata]] = {}
        self.updates = 0
        self.fail: Exception | None = None
        self.fail_updates: Exception | None = None

    def fetch(self, name: str, rdtype: str) -> frozenset[dns.rdata.Rdata]:
        if self.fail is not None:
            raise self.fail
        return self.rrsets.get((name, rdtype), frozenset())

    def replace(
        self, changes: Sequence[RRsetChange], ttl: int, edit: TxtEdit | None = None
    ) -> None:
        if self.fail is not None:
            raise self.fail
        if self.fail_updates is not None:
            raise self.fail_updates
        self.updates += 1
        for change in changes:
            self.rrsets[(change.name, change.rdtype)] = make_rdatas(change.rdtype, change.values)
        if edit is not None:
            current = self.rrsets.get((edit.name, "TXT"), frozenset())
            self.rrsets[(edit.name, "TXT")] = (current | edit.add) - edit.delete
