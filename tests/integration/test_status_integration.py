"""The status CLI's questions to real name servers: knotds on loopback addresses serving
the zone, one of them behind (an older serial, an old address), one address where none
answers, and a host whose A records fill more than a UDP answer (TCP on truncation)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import pytest
from app_support import app_config
from dyndns_update import probes, status
from knot_support import ZONE, Knot, free_port_on, start_plain_knotd

PRIMARY, SECONDARY, SILENT = "127.0.0.1", "127.0.0.2", "127.0.0.3"
MANY = [f"203.0.113.{i}" for i in range(1, 61)]  # other's A: more than 512 bytes


def zone_file(serial: int, home: str) -> str:
    many = "".join(f"other   A   {address}\n" for address in MANY)
    return (
        f"$ORIGIN {ZONE}.\n$TTL 30\n"
        f"@       SOA ns1 hostmaster {serial} 3600 900 604800 30\n"
        "@       NS  ns1\nns1     A   192.0.2.53\n"
        f"home    A   {home}\nhome    AAAA 2001:db8:1::7\n{many}"
    )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[int, list[Knot]]]:
    """The primary (serial 20) and a secondary behind it (serial 10, home's old address),
    on one port of their own addresses."""
    port = free_port_on([PRIMARY, SECONDARY, SILENT])
    started: list[Knot] = []
    try:
        for address, serial, home in (
            (PRIMARY, 20, "203.0.113.7"),
            (SECONDARY, 10, "198.51.100.9"),
        ):
            zones = {ZONE: zone_file(serial, home)}
            started.append(start_plain_knotd(tmp_path / address, address, port, zones))
        yield port, started
    finally:
        for server in started:
            server.stop()


def report(tmp_path: Path, port: int, addresses: list[str]) -> tuple[int, dict[str, Any]]:
    nameservers = [{"name": f"ns-{a}", "addresses": [a], "port": port} for a in addresses]
    config = app_config(tmp_path, status={"nameservers": nameservers})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    out = io.StringIO()
    world = status.World(sleep=lambda _: None, hostname="test")
    code = status.main(["--config", str(path)], stdout=out, world=world)
    return code, json.loads(out.getvalue())


def test_name_servers_as_they_answer(
    servers: tuple[int, list[Knot]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, _ = servers
    monkeypatch.setattr(probes, "DNS_TIMEOUT", 0.3)
    code, data = report(tmp_path, port, [PRIMARY, SECONDARY, SILENT])
    assert code == 1
    assert [(n["address"], n["serial"], n["error"]) for n in data["nameservers"]] == [
        (PRIMARY, 20, None),
        (SECONDARY, 10, None),
        (SILENT, None, "timed out"),
    ]
    home, nas, other = data["hosts"]
    assert home["served"] == {
        PRIMARY: {"A": ["203.0.113.7"], "AAAA": ["2001:db8:1::7"]},
        SECONDARY: {"A": ["198.51.100.9"], "AAAA": ["2001:db8:1::7"]},
        SILENT: None,
    }
    assert nas["served"][PRIMARY] == {"A": []}  # NXDOMAIN: none
    assert other["served"][PRIMARY]["A"] == sorted(MANY, key=lambda a: int(a.split(".")[3]))
    assert other["served"][SECONDARY] == other["served"][PRIMARY]  # over TCP, both
    udp = dns.query.udp(dns.message.make_query(f"other.{ZONE}", "A"), PRIMARY, 2, port)
    assert udp.flags & dns.flags.TC  # what made it ask over TCP
    kinds = [(p["kind"], p["host"], p["server"]) for p in data["problems"]]
    assert kinds == [
        ("records", f"home.{ZONE}", None),
        ("nameserver", None, SILENT),
        ("serial", None, SECONDARY),
    ]
    messages = [p["message"] for p in data["problems"]]
    assert messages[1] == f"Name server ns-{SILENT} ({SILENT}) does not answer: timed out."
    assert messages[2].startswith(
        f"Name server ns-{SECONDARY} ({SECONDARY}) serves serial 10 of {ZONE}, "
        f"ns-{PRIMARY} ({PRIMARY}) serves 20:"
    )


def test_name_servers_in_step(servers: tuple[int, list[Knot]], tmp_path: Path) -> None:
    port, _ = servers
    code, data = report(tmp_path, port, [PRIMARY])
    assert (code, data["problems"]) == (0, [])
    assert data["nameservers"] == [
        {"name": f"ns-{PRIMARY}", "address": PRIMARY, "serial": 20, "error": None}
    ]


def test_a_server_without_the_zone(servers: tuple[int, list[Knot]]) -> None:
    port, _ = servers
    with pytest.raises(probes.DnsRejected, match="query answered REFUSED"):
        probes.ask_dns(PRIMARY, port, "example.org", "SOA")
