"""The shared update core: which RRsets a request wants; TXT edits against a fake server."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from dyndns_update.config import HostConfig, LanMachine
from dyndns_update.dnsio import DnsConflict, DnsRejected, RRsetChange, TxtEdit, make_rdatas
from dyndns_update.protocol import Code, UpdateRequest
from dyndns_update.update import (
    UPDATE_ATTEMPTS,
    TxtSetFull,
    allowed_types_missing,
    update_host,
    wanted_rrsets,
)

HOST = "home.dyn.example.test"
V4 = ipaddress.IPv4Address("203.0.113.7")
V6 = ipaddress.IPv6Address("2001:db8::7")
PLAIN = HostConfig(HOST, "home", frozenset({"A", "AAAA", "TXT"}))


def test_wanted_rrsets_only_for_families_asked() -> None:
    assert wanted_rrsets(PLAIN, UpdateRequest(ipv4=V4)) == [
        RRsetChange(HOST, "A", ("203.0.113.7",))
    ]
    assert wanted_rrsets(PLAIN, UpdateRequest(ipv6=V6)) == [
        RRsetChange(HOST, "AAAA", ("2001:db8::7",))
    ]
    assert [c.rdtype for c in wanted_rrsets(PLAIN, UpdateRequest(ipv4=V4, ipv6=V6))] == [
        "A",
        "AAAA",
    ]


def test_wanted_txt_lives_under_acme_challenge() -> None:
    assert wanted_rrsets(PLAIN, UpdateRequest(txt=("a", "b"))) == [
        RRsetChange(f"_acme-challenge.{HOST}", "TXT", ("a", "b"))
    ]
    assert wanted_rrsets(PLAIN, UpdateRequest(txt=())) == [
        RRsetChange(f"_acme-challenge.{HOST}", "TXT", ())
    ]


def test_allowed_types_missing() -> None:
    host = HostConfig(HOST, "home", frozenset({"A", "TXT"}))
    assert allowed_types_missing(host, UpdateRequest(ipv4=V4, txt=("x",))) == []
    assert allowed_types_missing(host, UpdateRequest(ipv4=V4, ipv6=V6)) == ["AAAA"]
    a_only = HostConfig(HOST, "home", frozenset({"A"}))
    assert allowed_types_missing(a_only, UpdateRequest(txt_add=("x",))) == ["TXT"]
    assert allowed_types_missing(a_only, UpdateRequest(txt_delete=("x",))) == ["TXT"]


LAN = HostConfig(
    HOST,
    "home",
    frozenset({"A", "AAAA", "TXT"}),
    aliases=("www." + HOST, "*." + HOST),
    lan=(
        LanMachine("nas." + HOST, ipaddress.IPv6Address("::1234:5678:9abc:def0")),
        LanMachine("printer.dyn.example.test", ipaddress.IPv6Address("::3:0:0:0:10"), 56),
    ),
)
NAMES = [HOST, "www." + HOST, "*." + HOST]


def test_aliases_get_the_host_addresses_in_the_same_update() -> None:
    changes = wanted_rrsets(LAN, UpdateRequest(ipv4=V4))
    assert changes == [RRsetChange(name, "A", ("203.0.113.7",)) for name in NAMES]


def test_lan_machines_get_prefix_plus_interface_id() -> None:
    prefix = ipaddress.IPv6Address("2001:db8:1:2::")
    changes = wanted_rrsets(LAN, UpdateRequest(ipv4=V4, lan_prefix=prefix))
    assert changes[3:] == [
        RRsetChange("nas." + HOST, "AAAA", ("2001:db8:1:2:1234:5678:9abc:def0",)),
        RRsetChange("printer.dyn.example.test", "AAAA", ("2001:db8:1:3::10",)),
    ]
    # without a prefix, the /64 of the request's IPv6 address
    changes = wanted_rrsets(LAN, UpdateRequest(ipv6=V6))
    assert [c.values for c in changes[3:]] == [
        ("2001:db8::1234:5678:9abc:def0",),
        ("2001:db8:0:3::10",),
    ]
    # an IPv4-only request leaves them alone
    assert [c.name for c in wanted_rrsets(LAN, UpdateRequest(ipv4=V4))] == NAMES


def test_clearing_deletes_the_family_at_every_name() -> None:
    changes = wanted_rrsets(LAN, UpdateRequest(ipv4=V4, clear=frozenset({"AAAA"})))
    assert [c for c in changes if c.rdtype == "AAAA"] == [
        RRsetChange(name, "AAAA", ())
        for name in [*NAMES, "nas." + HOST, "printer.dyn.example.test"]
    ]
    assert [c for c in changes if c.rdtype == "A"] == [
        RRsetChange(name, "A", ("203.0.113.7",)) for name in NAMES
    ]
    # a router with a delegated prefix but no address of its own keeps its LAN machines
    prefix = ipaddress.IPv6Address("2001:db8:1:2::")
    changes = wanted_rrsets(LAN, UpdateRequest(clear=frozenset({"AAAA"}), lan_prefix=prefix))
    assert [c.values for c in changes] == [
        (),
        (),
        (),
        ("2001:db8:1:2:1234:5678:9abc:def0",),
        ("2001:db8:1:3::10",),
    ]


def test_a_prefix_needs_aaaa_only_where_there_are_lan_machines() -> None:
    prefix = ipaddress.IPv6Address("2001:db8:1:2::")
    a_only = HostConfig(HOST, "home", frozenset({"A"}))
    assert allowed_types_missing(a_only, UpdateRequest(ipv4=V4, lan_prefix=prefix)) == []
    assert allowed_types_missing(a_only, UpdateRequest(clear=frozenset({"AAAA"}))) == ["AAAA"]


def test_make_rdatas_compare_by_value() -> None:
    assert make_rdatas("AAAA", ["2001:db8:0:0::7"]) == make_rdatas("AAAA", ["2001:db8::7"])
    assert make_rdatas("A", ["203.0.113.7"]) != make_rdatas("A", ["203.0.113.8"])
    assert make_rdatas("TXT", ['a "quoted" value']) != make_rdatas("TXT", ["a quoted value"])
    (txt,) = make_rdatas("TXT", ['a "quoted" value\\'])
    assert txt.strings == (b'a "quoted" value\\',)


class FakeDns:
    """The TXT set at _acme-challenge, changed by another process just before each of our
    first `conflicts` UPDATEs (whose prerequisite then fails, as Knot's would)."""

    def __init__(self, values: set[str], conflicts: int = 0) -> None:
        self.txt = make_rdatas("TXT", values)
        self.conflicts = conflicts
        self.sent: list[TxtEdit | None] = []

    def fetch(self, name: str, rdtype: str) -> frozenset[Any]:
        return self.txt if rdtype == "TXT" else frozenset()

    def replace(self, changes: list[RRsetChange], ttl: int, edit: TxtEdit | None = None) -> None:
        self.sent.append(edit)
        assert edit is not None
        if self.conflicts:
            self.conflicts -= 1
            self.txt = make_rdatas("TXT", ["a", f"other-{self.conflicts}"])
            raise DnsConflict("update answered NXRRSET")
        assert edit.current == self.txt
        self.txt = (self.txt | edit.add) - edit.delete


def test_txt_edit_is_read_and_sent_again_after_a_conflict() -> None:
    dns: Any = FakeDns({"a"}, conflicts=2)
    assert update_host(dns, PLAIN, UpdateRequest(txt_add=("b",)), 60) == Code.GOOD
    assert dns.txt == make_rdatas("TXT", {"a", "b", "other-0"})
    assert len(dns.sent) == 3
    dns = FakeDns(set(), conflicts=UPDATE_ATTEMPTS)
    with pytest.raises(DnsRejected, match="TXT set changed by others 5 times"):
        update_host(dns, PLAIN, UpdateRequest(txt_add=("b",)), 60)


def test_txt_edit_nochg_and_full_set() -> None:
    dns: Any = FakeDns({"a", "b", "c", "d"})
    assert (
        update_host(dns, PLAIN, UpdateRequest(txt_add=("a",), txt_delete=("x",)), 60) == Code.NOCHG
    )
    with pytest.raises(TxtSetFull):
        update_host(dns, PLAIN, UpdateRequest(txt_add=("e",)), 60)
    assert dns.sent == []
    request = UpdateRequest(txt_add=("e",), txt_delete=("a",))
    assert update_host(dns, PLAIN, request, 60) == Code.GOOD
    assert dns.txt == make_rdatas("TXT", {"b", "c", "d", "e"})
