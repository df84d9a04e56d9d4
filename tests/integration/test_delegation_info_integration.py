"""delegation_info against two real knotd: the parent example.test on 127.0.0.2 and the
child dyn.example.test on 127.0.0.1, both on one high port (the module has one `port`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from knot_support import ZONE, Knot, free_port_on, start_plain_knotd

MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"
if str(MODULES) not in sys.path:
    sys.path.insert(0, str(MODULES))

import delegation_info  # noqa: E402

PARENT = "example.test"
PARENT_ADDRESS = "127.0.0.2"
CHILD_ADDRESS = "127.0.0.1"
NOBODY_ADDRESS = "127.0.0.3"  # nothing listens there
NS1 = f"ns1.{ZONE}"


def parent_zone_file(delegation: str) -> str:
    return f"""\
$ORIGIN {PARENT}.
$TTL 30
@       SOA ns hostmaster 1 3600 900 604800 30
@       NS  ns
ns      A   {PARENT_ADDRESS}
{delegation}"""


GOOD_DELEGATION = f"""\
dyn     NS  ns1.dyn
ns1.dyn A   {CHILD_ADDRESS}
"""

CHILD_ZONE = f"""\
$ORIGIN {ZONE}.
$TTL 30
@       SOA ns1 hostmaster 7 3600 900 604800 30
@       NS  ns1
ns1     A   {CHILD_ADDRESS}
static  A   192.0.2.10
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Callable[[str], int]]:
    """Start the child and a parent with the given delegation records; returns the port."""
    started: list[Knot] = []

    def start(delegation: str = GOOD_DELEGATION) -> int:
        port = free_port_on(
            [CHILD_ADDRESS, PARENT_ADDRESS, NOBODY_ADDRESS, "127.0.0.4", "127.0.0.5"]
        )
        started.append(
            start_plain_knotd(tmp_path / "child", CHILD_ADDRESS, port, {ZONE: CHILD_ZONE})
        )
        started.append(
            start_plain_knotd(
                tmp_path / "parent", PARENT_ADDRESS, port, {PARENT: parent_zone_file(delegation)}
            )
        )
        return port

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def check(port: int, nameservers: list[dict[str, str]] | None = None, **options: object) -> dict:
    return delegation_info.run_checks(
        ZONE,
        nameservers or [{"name": NS1, "ipv4": CHILD_ADDRESS}],
        parent_servers=[PARENT_ADDRESS],
        port=port,
        timeout=1.0,
        **options,
    )


def checks(result: dict) -> list[str]:
    return [p["check"] for p in result["problems"]]


def test_correct_delegation_is_ok(world: Callable[..., int]) -> None:
    result = check(world())
    assert result["problems"] == []
    assert result["ok"] is True
    assert result["parent_servers"] == [PARENT_ADDRESS]
    assert result["parent_zone"] == PARENT
    assert result["serials"] == {f"{NS1} ({CHILD_ADDRESS})": 7}


def test_wrong_ns_set_at_parent(world: Callable[..., int]) -> None:
    port = world(
        f"""\
dyn     NS  ns.elsewhere.example.
ns1.dyn A   {CHILD_ADDRESS}
"""
    )
    result = check(port)
    assert result["ok"] is False
    [ns_problem] = [p for p in result["problems"] if p["check"] == "parent_ns"]
    assert ns_problem["server"] == PARENT_ADDRESS
    assert ns_problem["found"] == ["ns.elsewhere.example"]
    assert ns_problem["expected"] == [NS1]
    assert f"set the NS records of {ZONE} to: {NS1}." in ns_problem["fix"]
    assert f"parent zone {PARENT}" in ns_problem["fix"]


def test_wrong_glue(world: Callable[..., int]) -> None:
    port = world(
        """\
dyn     NS  ns1.dyn
ns1.dyn A   192.0.2.99
"""
    )
    result = check(port)
    assert checks(result) == ["glue"]
    [glue] = result["problems"]
    assert glue["record"] == f"{NS1} A"
    assert glue["found"] == ["192.0.2.99"]
    assert glue["expected"] == [CHILD_ADDRESS]
    assert f"set the glue of {NS1} to: A {CHILD_ADDRESS}." in glue["fix"]


def test_missing_ipv6_glue(world: Callable[..., int]) -> None:
    port = world()
    result = check(port, [{"name": NS1, "ipv4": CHILD_ADDRESS, "ipv6": "2001:db8::53"}])
    glue = [p for p in result["problems"] if p["check"] == "glue"]
    assert [(p["record"], p["found"], p["expected"]) for p in glue] == [
        (f"{NS1} AAAA", [], ["2001:db8::53"])
    ]
    assert f"add glue: {NS1} AAAA 2001:db8::53" in glue[0]["fix"]


def test_child_not_answering(world: Callable[..., int]) -> None:
    port = world(
        f"""\
dyn     NS  ns1.dyn
ns1.dyn A   {NOBODY_ADDRESS}
"""
    )
    result = check(port, [{"name": NS1, "ipv4": NOBODY_ADDRESS}])
    assert checks(result) == ["soa"]
    [soa] = result["problems"]
    assert soa["server"] == f"{NS1} ({NOBODY_ADDRESS})"
    assert "no answer" in soa["found"]
    assert result["serials"] == {}


def test_parent_not_answering(world: Callable[..., int]) -> None:
    port = world()
    result = delegation_info.run_checks(
        ZONE,
        [{"name": NS1, "ipv4": CHILD_ADDRESS}],
        parent_servers=[NOBODY_ADDRESS],
        port=port,
        timeout=0.5,
    )
    assert checks(result) == ["parent_ns"]
    assert "no answer" in result["problems"][0]["found"]


def test_nxdomain_probe_and_server_not_authoritative(world: Callable[..., int]) -> None:
    """The parent answers NXDOMAIN with AA for its own names but only refers for dyn:
    asked as if it were the child's server, it fails the SOA check, and the real child
    passes the NXDOMAIN probe."""
    port = world()
    good = check(port, nxdomain_probe=True)
    assert good["ok"] is True
    wrong = check(port, [{"name": NS1, "ipv4": PARENT_ADDRESS}], nxdomain_probe=True)
    soa = [p for p in wrong["problems"] if p["check"] == "soa"]
    assert soa
    assert soa[0]["found"] == "answer without AA flag"


def test_nxdomain_probe_catches_wildcard(world: Callable[..., int], tmp_path: Path) -> None:
    port = world()
    wildcard_zone = CHILD_ZONE + "*       A   192.0.2.77\n"
    other = start_plain_knotd(tmp_path / "wild", "127.0.0.4", port, {ZONE: wildcard_zone})
    try:
        result = check(port, [{"name": NS1, "ipv4": "127.0.0.4"}])
        # glue at the parent points at 127.0.0.1, so glue is reported as well
        nx = [p for p in result["problems"] if p["check"] == "nxdomain"]
        assert len(nx) == 1
        assert nx[0]["found"] == "NOERROR with AA flag"
        assert nx[0]["record"].startswith("_check-")
        assert "glue" in checks(result)
        assert check(port, [{"name": NS1, "ipv4": "127.0.0.4"}], nxdomain_probe=False)[
            "problems"
        ] == [p for p in result["problems"] if p["check"] != "nxdomain"]
    finally:
        other.stop()


def test_serial_mismatch_between_servers(world: Callable[..., int], tmp_path: Path) -> None:
    port = world()
    older = start_plain_knotd(
        tmp_path / "older",
        "127.0.0.5",
        port,
        {ZONE: CHILD_ZONE.replace("hostmaster 7 ", "hostmaster 5 ")},
    )
    try:
        result = check(
            port,
            [
                {"name": NS1, "ipv4": CHILD_ADDRESS},
                {"name": "ns2.elsewhere.example", "ipv4": "127.0.0.5"},
            ],
        )
        serial = [p for p in result["problems"] if p["check"] == "serial"]
        assert serial == [
            {
                "check": "serial",
                "server": "ns2.elsewhere.example (127.0.0.5)",
                "zone": ZONE,
                "record": f"{ZONE} SOA",
                "found": 5,
                "expected": 7,
                "fix": serial[0]["fix"],
            }
        ]
        assert result["serials"] == {
            f"{NS1} (127.0.0.1)": 7,
            "ns2.elsewhere.example (127.0.0.5)": 5,
        }
    finally:
        older.stop()
