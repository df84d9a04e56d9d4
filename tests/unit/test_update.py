"""The pure parts of the shared update core: which RRsets a request wants."""

from __future__ import annotations

import ipaddress

from dyndns_update.config import HostConfig
from dyndns_update.dnsio import RRsetChange, make_rdatas
from dyndns_update.protocol import UpdateRequest
from dyndns_update.update import allowed_types_missing, wanted_rrsets

HOST = "home.dyn.example.test"
V4 = ipaddress.IPv4Address("203.0.113.7")
V6 = ipaddress.IPv6Address("2001:db8::7")


def test_wanted_rrsets_only_for_families_asked() -> None:
    assert wanted_rrsets(HOST, UpdateRequest(ipv4=V4)) == [RRsetChange(HOST, "A", ("203.0.113.7",))]
    assert wanted_rrsets(HOST, UpdateRequest(ipv6=V6)) == [
        RRsetChange(HOST, "AAAA", ("2001:db8::7",))
    ]
    assert [c.rdtype for c in wanted_rrsets(HOST, UpdateRequest(ipv4=V4, ipv6=V6))] == [
        "A",
        "AAAA",
    ]


def test_wanted_txt_lives_under_acme_challenge() -> None:
    assert wanted_rrsets(HOST, UpdateRequest(txt=("a", "b"))) == [
        RRsetChange(f"_acme-challenge.{HOST}", "TXT", ("a", "b"))
    ]
    assert wanted_rrsets(HOST, UpdateRequest(txt=())) == [
        RRsetChange(f"_acme-challenge.{HOST}", "TXT", ())
    ]


def test_allowed_types_missing() -> None:
    host = HostConfig(HOST, "home", frozenset({"A", "TXT"}))
    assert allowed_types_missing(host, UpdateRequest(ipv4=V4, txt=("x",))) == []
    assert allowed_types_missing(host, UpdateRequest(ipv4=V4, ipv6=V6)) == ["AAAA"]


def test_make_rdatas_compare_by_value() -> None:
    assert make_rdatas("AAAA", ["2001:db8:0:0::7"]) == make_rdatas("AAAA", ["2001:db8::7"])
    assert make_rdatas("A", ["203.0.113.7"]) != make_rdatas("A", ["203.0.113.8"])
    assert make_rdatas("TXT", ['a "quoted" value']) != make_rdatas("TXT", ["a quoted value"])
    (txt,) = make_rdatas("TXT", ['a "quoted" value\\'])
    assert txt.strings == (b'a "quoted" value\\',)
