"""delegation_info against two real knotd: the parent example.test on 127.0.0.2 and the
child dyn.example.test on 127.0.0.1, both on one high port (the module has one `port`)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ansible_collections.selfhosted.dyndns.plugins.modules import delegation_info
from knot_support import ZONE, Knot, free_port_on, start_plain_knotd

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
token   TXT "round-" "trip"
"""

KEYMGR = shutil.which("keymgr") or "/usr/sbin/keymgr"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"
# a DS no key of any test matches (key tag and digest made up)
WRONG_DS = f"{ZONE}. DS 12345 13 2 {'ab' * 32}"


def keymgr_ds(base: Path) -> dict[int, str]:
    """The DS records of the knotd under BASE for its signed ZONE, by digest type, as
    `keymgr ZONE ds` prints them (`dyn.example.test. DS <tag> 13 <type> <hex>`)."""
    if not Path(KEYMGR).exists():
        pytest.skip("keymgr (Debian package knot) is not installed")
    out = subprocess.run(
        [KEYMGR, "-c", str(base / "knot.conf"), ZONE, "ds"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {int(line.split()[4]): line.strip() for line in out.splitlines() if " DS " in line}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start the child and a parent with the given delegation records; returns the port.

    With SIGNED the child signs its zone; PARENT_RECORDS, called once the child runs, gives
    more records for the parent zone (the DS records, say)."""
    started: list[Knot] = []

    def start(
        delegation: str = GOOD_DELEGATION,
        *,
        signed: bool = False,
        parent_records: Callable[[], str] = str,
    ) -> int:
        port = free_port_on(
            [CHILD_ADDRESS, PARENT_ADDRESS, NOBODY_ADDRESS, "127.0.0.4", "127.0.0.5"]
        )
        started.append(
            start_plain_knotd(
                tmp_path / "child",
                CHILD_ADDRESS,
                port,
                {ZONE: CHILD_ZONE},
                signed=[ZONE] if signed else [],
            )
        )
        parent = parent_zone_file(delegation + parent_records())
        started.append(
            start_plain_knotd(tmp_path / "parent", PARENT_ADDRESS, port, {PARENT: parent})
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


# --- DNSSEC ----------------------------------------------------------------------------------


def ds_records(tmp_path: Path, *digest_types: int) -> Callable[[], str]:
    """Parent records: the child's DS records (from keymgr) of DIGEST_TYPES."""
    return lambda: "".join(keymgr_ds(tmp_path / "child")[t] + "\n" for t in digest_types)


def test_signed_zone_with_its_ds_at_the_parent(world: Callable[..., int], tmp_path: Path) -> None:
    port = world(signed=True, parent_records=ds_records(tmp_path, 2, 4))
    result = check(port, dnssec=True)
    assert result["problems"] == []
    assert result["ok"] is True
    # the module's DS is keymgr's SHA-256 one, spelled the same way
    assert result["ds"] == [keymgr_ds(tmp_path / "child")[2]]
    assert result["ds"][0].startswith(f"{ZONE}. DS ")
    assert result["arrival"] == {}


def test_ds_of_another_digest_type_matches(world: Callable[..., int], tmp_path: Path) -> None:
    """The parent has only the SHA-384 DS: compared in its own digest type, it matches."""
    port = world(signed=True, parent_records=ds_records(tmp_path, 4))
    assert check(port, dnssec=True)["problems"] == []


def test_signed_zone_without_ds_at_the_parent(world: Callable[..., int], tmp_path: Path) -> None:
    port = world(signed=True)
    result = check(port, dnssec=True)
    assert checks(result) == ["ds"]
    [ds] = result["problems"]
    expected = keymgr_ds(tmp_path / "child")[2]
    assert (ds["server"], ds["record"], ds["found"], ds["expected"]) == (
        PARENT_ADDRESS,
        f"{ZONE} DS",
        [],
        [expected],
    )
    assert ds["fix"] == (
        f"At the parent zone {PARENT} (your registrar), add the DS record for {ZONE}: {expected}."
    )
    assert result["ds"] == [expected]


def test_signed_zone_with_a_wrong_ds(world: Callable[..., int], tmp_path: Path) -> None:
    port = world(signed=True, parent_records=lambda: WRONG_DS + "\n")
    result = check(port, dnssec=True)
    assert checks(result) == ["ds"]
    [ds] = result["problems"]
    assert ds["found"] == [WRONG_DS]
    expected = keymgr_ds(tmp_path / "child")[2]
    assert ds["fix"].endswith(f"replace the DS record(s) of {ZONE} with: {expected}.")


def test_wrong_ds_next_to_the_right_one_is_fine(world: Callable[..., int], tmp_path: Path) -> None:
    records = ds_records(tmp_path, 2)
    port = world(signed=True, parent_records=lambda: WRONG_DS + "\n" + records())
    assert check(port, dnssec=True)["problems"] == []


def test_unsigned_zone_with_ds_at_the_parent(world: Callable[..., int]) -> None:
    port = world(parent_records=lambda: WRONG_DS + "\n")
    result = check(port)
    assert checks(result) == ["ds"]
    [ds] = result["problems"]
    assert ds["found"] == [WRONG_DS]
    assert ds["expected"] == []
    assert ds["fix"] == (
        f"At the parent zone {PARENT} (your registrar), remove the DS record(s) of {ZONE}: "
        "validating resolvers cannot resolve the zone while it is not signed with a matching key."
    )
    assert result["ds"] == []


def test_signed_zone_is_fine_without_dnssec(world: Callable[..., int], tmp_path: Path) -> None:
    """Not meant to be signed, but signed: no DS is fine, the right DS is fine, and the DS
    records to set are returned all the same."""
    port = world(signed=True, parent_records=ds_records(tmp_path, 2))
    result = check(port)
    assert result["problems"] == []
    assert result["ds"] == [keymgr_ds(tmp_path / "child")[2]]


def test_dnssec_wanted_but_zone_unsigned(world: Callable[..., int]) -> None:
    result = check(world(), dnssec=True)
    assert checks(result) == ["dnssec"]
    [p] = result["problems"]
    label = f"{NS1} ({CHILD_ADDRESS})"
    assert (p["server"], p["record"], p["found"]) == (label, f"{ZONE} DNSKEY", "no DNSKEY records")
    assert p["fix"] == (
        f"Turn on signing for {ZONE} on {label} (knot_dnssec / dyndns_dnssec) or let it "
        "transfer the signed zone from the primary."
    )
    assert result["ds"] == []


def test_dnssec_secondary_serving_an_unsigned_copy(
    world: Callable[..., int], tmp_path: Path
) -> None:
    port = world(signed=True, parent_records=ds_records(tmp_path, 2))
    unsigned = start_plain_knotd(tmp_path / "secondary", "127.0.0.5", port, {ZONE: CHILD_ZONE})
    try:
        result = check(
            port,
            [
                {"name": NS1, "ipv4": CHILD_ADDRESS},
                {"name": "ns2.elsewhere.example", "ipv4": "127.0.0.5"},
            ],
            dnssec=True,
        )
    finally:
        unsigned.stop()
    # knotd bumps the serial when it signs: the unsigned copy is behind, and has no keys
    assert sorted(checks(result)) == ["dnssec", "parent_ns", "serial"]
    [p] = [p for p in result["problems"] if p["check"] == "dnssec"]
    assert p["server"] == "ns2.elsewhere.example (127.0.0.5)"
    assert p["found"] == "no DNSKEY records"
    assert result["ds"] == [keymgr_ds(tmp_path / "child")[2]]


# --- wait_for --------------------------------------------------------------------------------


def test_wait_for_a_record_every_server_has(world: Callable[..., int], tmp_path: Path) -> None:
    port = world()
    other = start_plain_knotd(tmp_path / "other", "127.0.0.5", port, {ZONE: CHILD_ZONE})
    nameservers = [
        {"name": NS1, "ipv4": CHILD_ADDRESS},
        {"name": "ns2.elsewhere.example", "ipv4": "127.0.0.5"},
    ]
    try:
        txt = check(
            port,
            nameservers,
            wait_for={
                "name": f"token.{ZONE}",
                "type": "TXT",
                "value": "round-trip",
                "timeout": 5.0,
            },
        )
        address = check(
            port,
            nameservers,
            wait_for={
                "name": f"static.{ZONE}.",
                "type": "A",
                "value": "192.0.2.10",
                "timeout": 5.0,
            },
        )
    finally:
        other.stop()
    for result in (txt, address):
        # the parent delegates to ns1 only
        assert checks(result) == ["parent_ns"]
        # both had it at the first question, a few milliseconds after the start
        arrival = result["arrival"]
        assert sorted(arrival) == [f"{NS1} ({CHILD_ADDRESS})", "ns2.elsewhere.example (127.0.0.5)"]
        assert all(seconds is not None and 0 <= seconds < 0.5 for seconds in arrival.values())


def test_wait_for_a_record_that_arrives_late(world: Callable[..., int], tmp_path: Path) -> None:
    """The record is added on the server through knotc while the module waits."""
    if not Path(KNOTC).exists():
        pytest.skip("knotc (Debian package knot) is not installed")
    port = world()
    conf = str(tmp_path / "child" / "knot.conf")

    def add_record() -> None:
        for command in (
            ["zone-begin", ZONE],
            ["zone-set", ZONE, "late", "30", "TXT", '"arrived"'],
            ["zone-commit", ZONE],
        ):
            subprocess.run([KNOTC, "-c", conf, *command], check=True, capture_output=True)

    timer = threading.Timer(0.6, add_record)
    timer.start()
    try:
        result = check(
            port,
            wait_for={"name": f"late.{ZONE}", "type": "TXT", "value": "arrived", "timeout": 5.0},
        )
    finally:
        timer.cancel()
        timer.join()
    assert result["problems"] == []
    [seconds] = result["arrival"].values()
    assert seconds is not None
    assert 0.5 <= seconds < 3


def test_wait_for_a_record_nobody_has(world: Callable[..., int]) -> None:
    port = world()
    started = time.monotonic()
    result = check(
        port, wait_for={"name": f"missing.{ZONE}", "type": "TXT", "value": "x", "timeout": 1.0}
    )
    assert 1.0 <= time.monotonic() - started < 5
    label = f"{NS1} ({CHILD_ADDRESS})"
    assert result["arrival"] == {label: None}
    assert result["problems"] == [
        {
            "check": "round_trip",
            "server": label,
            "zone": ZONE,
            "record": f"missing.{ZONE} TXT",
            "found": [],
            "expected": "x",
            "fix": f"No name server showed missing.{ZONE} TXT x within 1 s: check that the "
            "update reached the primary (the update's answer, knotd's log), then run the check "
            "again.",
        }
    ]


def test_wait_for_a_secondary_that_misses_the_update(
    world: Callable[..., int], tmp_path: Path
) -> None:
    port = world()
    stale = start_plain_knotd(
        tmp_path / "stale", "127.0.0.5", port, {ZONE: CHILD_ZONE.replace('"trip"', '"old"')}
    )
    try:
        result = check(
            port,
            [
                {"name": NS1, "ipv4": CHILD_ADDRESS},
                {"name": "ns2.elsewhere.example", "ipv4": "127.0.0.5"},
            ],
            wait_for={
                "name": f"token.{ZONE}",
                "type": "TXT",
                "value": "round-trip",
                "timeout": 1.0,
            },
        )
    finally:
        stale.stop()
    arrival = result["arrival"]
    assert arrival["ns2.elsewhere.example (127.0.0.5)"] is None
    assert arrival[f"{NS1} ({CHILD_ADDRESS})"] is not None
    assert arrival[f"{NS1} ({CHILD_ADDRESS})"] < 0.5
    [p] = [p for p in result["problems"] if p["check"] == "round_trip"]
    assert (p["server"], p["found"], p["expected"]) == (
        "ns2.elsewhere.example (127.0.0.5)",
        ["round-old"],
        "round-trip",
    )
    assert p["fix"] == (
        "ns2.elsewhere.example (127.0.0.5) did not show the update within 1 s: make the primary "
        "send NOTIFY to it and allow it zone transfers (TSIG key), then run the check again."
    )
