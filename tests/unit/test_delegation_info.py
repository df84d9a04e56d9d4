"""The pure comparison logic of the delegation_info module: no DNS traffic."""

from __future__ import annotations

import sys
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"
if str(MODULES) not in sys.path:
    sys.path.insert(0, str(MODULES))

import delegation_info as di  # noqa: E402

ZONE = "dyn.example.org"
PARENT = "example.org"
NS1 = {"name": "ns1.dyn.example.org", "ipv4": "203.0.113.53", "ipv6": "2001:db8::53"}
OUTSIDE = {"name": "ns.provider.example", "ipv4": "198.51.100.1"}


def test_normalize_and_in_zone() -> None:
    assert di.normalize("NS1.Dyn.Example.ORG.") == "ns1.dyn.example.org"
    assert di.in_zone("ns1.dyn.example.org.", ZONE)
    assert di.in_zone(ZONE, ZONE)
    assert not di.in_zone("ns1.nodyn.example.org", ZONE)
    assert not di.in_zone("ns.example.org", ZONE)


def test_assumed_parent() -> None:
    assert di.assumed_parent("dyn.example.org.") == "example.org"
    assert di.assumed_parent("org") == "."


def test_ns_set_equal_ignores_case_and_dots() -> None:
    assert (
        di.compare_ns_set(ZONE, PARENT, "192.0.2.1", {"NS1.dyn.example.org."}, {NS1["name"]}) == []
    )


def test_ns_set_different() -> None:
    [p] = di.compare_ns_set(
        ZONE, PARENT, "192.0.2.1", {"ns.old.example.", "ns1.dyn.example.org"}, {NS1["name"]}
    )
    assert p == {
        "check": "parent_ns",
        "server": "192.0.2.1",
        "zone": ZONE,
        "record": f"{ZONE} NS",
        "found": ["ns.old.example", "ns1.dyn.example.org"],
        "expected": ["ns1.dyn.example.org"],
        "fix": "At the parent zone example.org (your registrar), set the NS records of "
        "dyn.example.org to: ns1.dyn.example.org.",
    }


def test_ns_set_fix_lists_every_expected_name() -> None:
    [p] = di.compare_ns_set(ZONE, PARENT, "s", set(), {NS1["name"], OUTSIDE["name"]})
    assert p["fix"].endswith("to: ns.provider.example, ns1.dyn.example.org.")


def glue_for(a: set[str] | None = None, aaaa: set[str] | None = None) -> dict:
    entry = {}
    if a is not None:
        entry["A"] = a
    if aaaa is not None:
        entry["AAAA"] = aaaa
    return {"ns1.dyn.example.org": entry}


def test_glue_complete() -> None:
    glue = glue_for({"203.0.113.53"}, {"2001:db8:0::53"})
    assert di.compare_glue(ZONE, PARENT, "192.0.2.1", [NS1, OUTSIDE], glue) == []


def test_glue_missing() -> None:
    problems = di.compare_glue(ZONE, PARENT, "192.0.2.1", [NS1], {})
    assert [(p["record"], p["found"], p["expected"]) for p in problems] == [
        ("ns1.dyn.example.org A", [], ["203.0.113.53"]),
        ("ns1.dyn.example.org AAAA", [], ["2001:db8::53"]),
    ]
    assert problems[0]["fix"] == (
        "At the parent zone example.org (your registrar): "
        "add glue: ns1.dyn.example.org A 203.0.113.53"
    )
    assert all(p["check"] == "glue" and p["zone"] == ZONE for p in problems)


def test_glue_wrong() -> None:
    [p] = di.compare_glue(
        ZONE, PARENT, "192.0.2.1", [NS1], glue_for({"198.51.100.9"}, {"2001:db8::53"})
    )
    assert p["found"] == ["198.51.100.9"]
    assert p["expected"] == ["203.0.113.53"]
    assert "set the glue of ns1.dyn.example.org to: A 203.0.113.53." in p["fix"]


def test_glue_not_wanted() -> None:
    ns = {"name": "ns1.dyn.example.org", "ipv4": "203.0.113.53"}
    [p] = di.compare_glue(ZONE, PARENT, "s", [ns], glue_for({"203.0.113.53"}, {"2001:db8::1"}))
    assert p["record"] == "ns1.dyn.example.org AAAA"
    assert "remove the glue ns1.dyn.example.org AAAA 2001:db8::1" in p["fix"]


def test_glue_not_needed_outside_the_zone() -> None:
    assert di.compare_glue(ZONE, PARENT, "s", [OUTSIDE], {}) == []


def test_delegation_problems_no_answer_and_no_delegation() -> None:
    [p] = di.delegation_problems(ZONE, PARENT, "192.0.2.1", {"error": "no answer"}, [NS1])
    assert p["check"] == "parent_ns"
    assert p["found"] == "no answer"
    assert p["fix"].startswith("The parent server 192.0.2.1 did not answer")
    answer = {"rcode": "NOERROR", "aa": True, "ns": None, "glue": {}}
    [p] = di.delegation_problems(ZONE, PARENT, "192.0.2.1", answer, [NS1])
    assert p["found"] == "no delegation"
    assert "set the NS records of dyn.example.org to: ns1.dyn.example.org." in p["fix"]
    answer = {"rcode": "NXDOMAIN", "aa": True, "ns": None, "glue": {}}
    assert di.delegation_problems(ZONE, PARENT, "s", answer, [NS1])[0]["found"] == "NXDOMAIN"


def test_delegation_problems_combines_ns_and_glue() -> None:
    answer = {"rcode": "NOERROR", "aa": False, "ns": ["ns1.dyn.example.org"], "glue": {}}
    assert [p["check"] for p in di.delegation_problems(ZONE, PARENT, "s", answer, [NS1])] == [
        "glue",
        "glue",
    ]


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        ({"error": "no answer (timeout)"}, "no answer (timeout)"),
        ({"rcode": "REFUSED", "aa": False, "serial": None}, "REFUSED"),
        ({"rcode": "NOERROR", "aa": False, "serial": 3}, "answer without AA flag"),
        ({"rcode": "NOERROR", "aa": True, "serial": None}, "no SOA record in the answer"),
    ],
)
def test_soa_problems(answer: dict, found: str) -> None:
    [p] = di.soa_problems(ZONE, "ns1.dyn.example.org (203.0.113.53)", answer)
    assert p["check"] == "soa"
    assert p["found"] == found
    assert p["record"] == f"{ZONE} SOA"


def test_soa_fine() -> None:
    assert di.soa_problems(ZONE, "s", {"rcode": "NOERROR", "aa": True, "serial": 1}) == []


def test_serials_equal() -> None:
    assert di.compare_serials(ZONE, {"a": 5, "b": 5}) == []
    assert di.compare_serials(ZONE, {}) == []


def test_serial_mismatch_names_the_lagging_server() -> None:
    [p] = di.compare_serials(ZONE, {"a (1)": 7, "b (2)": 5, "c (3)": 7})
    assert (p["check"], p["server"], p["found"], p["expected"]) == ("serial", "b (2)", 5, 7)
    assert "b (2) serves serial 5 of dyn.example.org" in p["fix"]


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        ({"rcode": "NXDOMAIN", "aa": True}, None),
        ({"rcode": "NXDOMAIN", "aa": False}, "NXDOMAIN without AA flag"),
        ({"rcode": "NOERROR", "aa": True}, "NOERROR with AA flag"),
        ({"error": "no answer (timeout)"}, "no answer (timeout)"),
    ],
)
def test_nxdomain_problems(answer: dict, found: str | None) -> None:
    problems = di.nxdomain_problems(ZONE, "s", "_check-ab.dyn.example.org", answer)
    assert [p["found"] for p in problems] == ([found] if found else [])
    for p in problems:
        assert p["record"] == "_check-ab.dyn.example.org A"


def test_check_arguments() -> None:
    assert di.check_arguments(ZONE, [NS1, OUTSIDE]) == []
    errors = di.check_arguments(
        ZONE,
        [
            {"name": "a.example", "ipv4": None, "ipv6": None},
            {"name": "b.example", "ipv4": "2001:db8::1"},
            {"name": "c.example", "ipv6": "nonsense"},
        ],
    )
    assert errors == [
        "name server a.example needs ipv4 or ipv6",
        "name server b.example: '2001:db8::1' is not an ipv4 address",
        "name server c.example: 'nonsense' is not an ipv6 address",
    ]
    assert di.check_arguments(ZONE, []) == ["nameservers must name at least one server"]


def referral() -> dns.message.Message:
    query = dns.message.make_query(ZONE, "NS")
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.AA
    response.authority.append(
        dns.rrset.from_text(ZONE + ".", 30, "IN", "NS", "NS1.dyn.example.org.")
    )
    response.additional.append(
        dns.rrset.from_text("ns1.dyn.example.org.", 30, "IN", "A", "203.0.113.53")
    )
    response.additional.append(
        dns.rrset.from_text("ns1.dyn.example.org.", 30, "IN", "AAAA", "2001:db8::53")
    )
    return response


def test_summarize_delegation_reads_a_referral() -> None:
    summary = di.summarize_delegation(ZONE, referral())
    assert summary == {
        "rcode": "NOERROR",
        "aa": False,
        "ns": ["ns1.dyn.example.org"],
        "glue": {"ns1.dyn.example.org": {"A": {"203.0.113.53"}, "AAAA": {"2001:db8::53"}}},
    }
    assert di.delegation_problems(ZONE, PARENT, "s", summary, [NS1]) == []


def test_summarize_delegation_without_ns() -> None:
    response = dns.message.make_response(dns.message.make_query(ZONE, "NS"))
    response.set_rcode(dns.rcode.NXDOMAIN)
    assert di.summarize_delegation(ZONE, response)["ns"] is None


def test_summarize_soa() -> None:
    response = dns.message.make_response(dns.message.make_query(ZONE, "SOA"))
    response.flags |= dns.flags.AA
    response.answer.append(
        dns.rrset.from_text(ZONE + ".", 30, "IN", "SOA", "ns1 hostmaster 42 3600 900 604800 30")
    )
    assert di.summarize_soa(ZONE, response) == {"rcode": "NOERROR", "aa": True, "serial": 42}
