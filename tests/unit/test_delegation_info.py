"""The pure comparison logic of the delegation_info module: no DNS traffic."""

from __future__ import annotations

import re
from typing import Any

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.resolver
import dns.rrset
import pytest
from ansible_collections.selfhosted.dyndns.plugins.module_utils import delegation_checks as di
from cryptography.hazmat.primitives.asymmetric import ec

ZONE = "dyn.example.org"
PARENT = "example.org"
NS1 = {"name": "ns1.dyn.example.org", "ipv4": "203.0.113.53", "ipv6": "2001:db8::53"}
OUTSIDE = {"name": "ns.provider.example", "ipv4": "198.51.100.1"}
PRIMARY = {"name": "hidden.example.net", "ipv4": "198.51.100.10", "ipv6": None}
HIDDEN = "hidden.example.net (198.51.100.10) (hidden primary)"


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


class Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_secondary_that_follows_within_the_grace_is_in_step() -> None:
    """An update made a moment before the check: the secondary has it a second later."""
    clock = Clock()
    serials = {"ns1 (1)": 9, "ns2 (2)": 8}
    asked: list[str] = []

    def ask_serial(label: str) -> int:
        asked.append(label)
        return 9 if clock.now >= 1.0 else 8

    di.settle_serials(serials, ask_serial, clock=clock, sleep=clock.sleep)
    assert serials == {"ns1 (1)": 9, "ns2 (2)": 9}
    assert set(asked) == {"ns2 (2)"}
    assert 1.0 <= clock.now < 1.5
    assert di.compare_serials(ZONE, serials) == []


def test_a_secondary_that_stays_behind_is_named_after_the_grace() -> None:
    clock = Clock()
    serials = {"ns1 (1)": 9, "ns2 (2)": 8}
    di.settle_serials(serials, lambda _label: 8, clock=clock, sleep=clock.sleep)
    assert 5.0 <= clock.now < 5.5
    [problem] = di.compare_serials(ZONE, serials)
    assert "ns2 (2) serves serial 8" in problem["fix"]


def test_serial_mismatch_names_the_lagging_server() -> None:
    [p] = di.compare_serials(ZONE, {"a (1)": 7, "b (2)": 5, "c (3)": 7})
    assert (p["check"], p["server"], p["found"], p["expected"]) == ("serial", "b (2)", 5, 7)
    assert "b (2) serves serial 5 of dyn.example.org" in p["fix"]


def test_serial_arithmetic_of_rfc_1982() -> None:
    assert di.serial_difference(9, 7) == 2
    assert di.serial_difference(7, 9) == -2
    assert di.serial_difference(3, 2**32 - 1) == 4  # 3 wrapped round: it is newer
    assert di.newest_serial([2**32 - 1, 3, 2**32 - 5]) == 3


def test_serial_wrapped_round_is_the_newest() -> None:
    [p] = di.compare_serials(ZONE, {"a (1)": 2**32 - 1, "b (2)": 3})
    assert (p["server"], p["found"], p["expected"]) == ("a (1)", 2**32 - 1, 3)
    assert "while b (2) has 3: 4 behind" in p["fix"]


def test_hidden_primary_ahead_names_the_lagging_server_and_the_lag() -> None:
    serials = {LABEL: 1767225600, "ns2.dyn.example.org (203.0.113.54)": 1767225590}
    [p] = di.compare_serials(ZONE, {**serials, HIDDEN: 1767225600}, {HIDDEN})
    assert p == {
        "check": "serial",
        "server": "ns2.dyn.example.org (203.0.113.54)",
        "zone": ZONE,
        "record": f"{ZONE} SOA",
        "found": 1767225590,
        "expected": 1767225600,
        "fix": "ns2.dyn.example.org (203.0.113.54) serves serial 1767225590 of dyn.example.org "
        f"while {HIDDEN} has 1767225600: 10 behind (with Knot's serial-policy unixtime, about "
        "10 s of updates it lacks); make the secondary servers transfer the zone (NOTIFY, "
        "AXFR/IXFR allowed).",
    }


def test_a_server_ahead_of_the_hidden_primary_is_fed_by_another() -> None:
    hidden6 = "hidden.example.net (2001:db8::10) (hidden primary)"
    [p] = di.compare_serials(ZONE, {LABEL: 12, HIDDEN: 10, hidden6: 10}, {HIDDEN, hidden6})
    assert (p["server"], p["found"], p["expected"]) == (LABEL, 12, 10)
    assert p["fix"] == (
        f"{LABEL} serves serial 12 of dyn.example.org while {HIDDEN} has 10: 2 ahead of the "
        "hidden primary: another primary feeds it; make the hidden primary its only primary "
        "(the remote it transfers from)."
    )
    # without the hidden primary the newest serial wins
    [p] = di.compare_serials(ZONE, {LABEL: 12, "b (2)": 10})
    assert (p["server"], p["expected"]) == ("b (2)", 12)


def test_an_external_servers_fix_points_at_that_service() -> None:
    he = "ns1.he.net (216.218.130.2)"
    [behind] = di.compare_serials(ZONE, {he: 9, HIDDEN: 10}, {HIDDEN}, {he})
    assert behind["fix"].endswith(
        "1 behind (with Knot's serial-policy unixtime, about 1 s of updates it lacks); it is an "
        "external secondary service: look at its transfer log and settings there; the addresses "
        "it transfers from and its TSIG key must be the ones the primary allows, and the primary "
        "must send it NOTIFY."
    )
    [ahead] = di.compare_serials(ZONE, {he: 11, HIDDEN: 10}, {HIDDEN}, {he})
    assert ahead["fix"].endswith(
        "it is an external secondary service: in its settings there, make the hidden primary's "
        "addresses its only primary."
    )


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
            {"name": "a.dyn.example.org", "ipv4": None, "ipv6": None},
            {"name": "b.example", "ipv4": "2001:db8::1"},
            {"name": "c.example", "ipv6": "nonsense"},
        ],
    )
    assert errors == [
        "name server a.dyn.example.org needs ipv4 or ipv6: it is inside dyn.example.org, so "
        "the parent needs its glue",
        "name server b.example: '2001:db8::1' is not an ipv4 address",
        "name server c.example: 'nonsense' is not an ipv6 address",
    ]
    assert di.check_arguments(ZONE, []) == ["nameservers must name at least one server"]


def test_check_arguments_name_server_outside_the_zone_may_come_without_addresses() -> None:
    he = {"name": "ns1.he.net", "ipv4": None, "ipv6": None, "external": True}
    assert di.check_arguments(ZONE, [NS1, he]) == []


def test_check_arguments_primary() -> None:
    assert di.check_arguments(ZONE, [NS1], primary=PRIMARY) == []
    errors = di.check_arguments(
        ZONE, [NS1], primary={"name": "NS1.dyn.example.org.", "ipv4": None, "ipv6": "nonsense"}
    )
    assert errors == [
        "primary NS1.dyn.example.org. is one of the nameservers, so it is not hidden: leave "
        "primary out (every name server is checked)",
        "primary NS1.dyn.example.org.: 'nonsense' is not an ipv6 address",
    ]
    no_address = {"name": "hidden.example.net", "ipv4": None, "ipv6": None}
    assert di.check_arguments(ZONE, [NS1], primary=no_address) == [
        "primary hidden.example.net needs ipv4 or ipv6"
    ]


def referral(*names: str) -> dns.message.Message:
    """The parent's referral to ns1.dyn.example.org (with glue) and NAMES (outside the zone)."""
    query = dns.message.make_query(ZONE, "NS")
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.AA
    response.authority.append(
        dns.rrset.from_text(
            ZONE + ".", 30, "IN", "NS", "NS1.dyn.example.org.", *(n + "." for n in names)
        )
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


# --- DNSSEC: keys made here, signed with dnspython -------------------------------------------

ORIGIN = dns.name.from_text(ZONE)


def make_key(flags: int) -> tuple[ec.EllipticCurvePrivateKey, Any]:
    private = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(
        private.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=flags
    )
    return private, dnskey


KSK_PRIVATE, KSK = make_key(257)
ZSK_PRIVATE, ZSK = make_key(256)
OTHER_PRIVATE, OTHER_KSK = make_key(257)


def rrset(rdtype: str, *values: str) -> dns.rrset.RRset:
    return dns.rrset.from_text(ORIGIN, 30, "IN", rdtype, *values)


def signed(
    rrset_: dns.rrset.RRset,
    private: ec.EllipticCurvePrivateKey,
    dnskey: Any,
    **times: Any,
) -> dns.rrset.RRset:
    """The RRSIG RRset over RRSET_, made with PRIVATE (valid for an hour unless TIMES say)."""
    times = times or {"lifetime": 3600}
    rrsig = dns.dnssec.sign(rrset_, private, signer=ORIGIN, dnskey=dnskey, **times)
    return dns.rrset.from_rdata(ORIGIN, 30, rrsig)


def keyset(*keys: Any) -> dns.rrset.RRset:
    return dns.rrset.from_rdata(ORIGIN, 30, *keys)


SOA = rrset("SOA", f"ns1.{ZONE}. hostmaster.{ZONE}. 42 3600 900 604800 30")


def ds_of(key: Any, digest: str = "SHA256") -> Any:
    # validating: dnspython would not make a SHA-1 DS otherwise; parents may still have them
    return dns.dnssec.make_ds(ORIGIN, key, digest, validating=True)


def ds_line(key: Any) -> str:
    return di.ds_text(ZONE, ds_of(key))


def test_sep_keys_are_the_zone_keys_with_flags_257() -> None:
    assert di.sep_keys([ZSK, KSK, OTHER_KSK]) == [KSK, OTHER_KSK]
    assert di.sep_keys([ZSK]) == []


def test_ds_text_is_zone_file_form_like_keymgr() -> None:
    ds = dns.rdata.from_text(
        "IN",
        "DS",
        "60319 13 2 22511F8C7313C5E01FCF014BE51CFE5FCC20AC00AF46AFA2634C14649A44D064",
    )
    assert di.ds_text("Dyn.Example.ORG.", ds) == (
        "dyn.example.org. DS 60319 13 2 "
        "22511f8c7313c5e01fcf014be51cfe5fcc20ac00af46afa2634c14649a44d064"
    )


def test_expected_ds_is_sha256_of_each_key_signing_key() -> None:
    [ds] = di.expected_ds(ZONE, [ZSK, KSK])
    assert ds == ds_of(KSK)
    assert ds.digest_type == 2
    assert ds.key_tag == dns.dnssec.key_id(KSK)
    assert re.fullmatch(r"dyn\.example\.org\. DS \d+ 13 2 [0-9a-f]{64}", di.ds_text(ZONE, ds))
    assert di.expected_ds(ZONE, [ZSK]) == []


def test_ds_matches_in_the_parents_digest_type() -> None:
    assert di.ds_matches(ZONE, ds_of(KSK), [KSK])
    assert di.ds_matches(ZONE, ds_of(KSK, "SHA384"), [ZSK, KSK])
    assert di.ds_matches(ZONE, ds_of(KSK, "SHA1"), [KSK])  # old, but still a match
    assert not di.ds_matches(ZONE, ds_of(OTHER_KSK), [KSK])
    assert not di.ds_matches("other.example.org", ds_of(KSK), [KSK])
    # a digest type dnspython does not know (GOST) matches nothing, and raises nothing
    gost = dns.rdata.from_text("IN", "DS", f"{dns.dnssec.key_id(KSK)} 13 3 {'00' * 32}")
    assert not di.ds_matches(ZONE, gost, [KSK])


def test_ds_matching_is_fine() -> None:
    assert di.compare_ds(ZONE, PARENT, "s", [ds_of(KSK)], [ZSK, KSK], dnssec=True) == []


def test_ds_extra_next_to_a_matching_one_is_fine() -> None:
    found = [ds_of(OTHER_KSK), ds_of(KSK, "SHA384")]
    assert di.compare_ds(ZONE, PARENT, "s", found, [ZSK, KSK], dnssec=True) == []


def test_ds_missing_says_what_to_add() -> None:
    [p] = di.compare_ds(ZONE, PARENT, "192.0.2.1", [], [ZSK, KSK], dnssec=True)
    assert p == {
        "check": "ds",
        "server": "192.0.2.1",
        "zone": ZONE,
        "record": f"{ZONE} DS",
        "found": [],
        "expected": [ds_line(KSK)],
        "fix": "At the parent zone example.org (your registrar), add the DS record for "
        f"dyn.example.org: {ds_line(KSK)}.",
    }


def test_ds_missing_with_two_key_signing_keys_lists_both() -> None:
    [p] = di.compare_ds(ZONE, PARENT, "s", [], [KSK, OTHER_KSK], dnssec=True)
    both = sorted([ds_line(KSK), ds_line(OTHER_KSK)])
    assert p["expected"] == both
    assert p["fix"].endswith(f"add the DS records for dyn.example.org: {both[0]}; {both[1]}.")


def test_ds_wrong_says_what_to_replace_it_with() -> None:
    [p] = di.compare_ds(ZONE, PARENT, "s", [ds_of(OTHER_KSK)], [ZSK, KSK], dnssec=True)
    assert p["check"] == "ds"
    assert p["found"] == [ds_line(OTHER_KSK)]
    assert p["expected"] == [ds_line(KSK)]
    assert p["fix"] == (
        "At the parent zone example.org (your registrar), replace the DS record(s) of "
        f"dyn.example.org with: {ds_line(KSK)}."
    )


def test_ds_of_the_zone_signing_key_is_not_enough() -> None:
    [p] = di.compare_ds(ZONE, PARENT, "s", [ds_of(ZSK)], [ZSK, KSK], dnssec=True)
    assert "replace the DS record(s)" in p["fix"]


def test_ds_without_served_keys_leaves_it_to_the_dnssec_check() -> None:
    assert di.compare_ds(ZONE, PARENT, "s", [], [], dnssec=True) == []
    assert di.compare_ds(ZONE, PARENT, "s", [ds_of(KSK)], [ZSK], dnssec=True) == []


def test_unsigned_zone_without_ds_is_fine() -> None:
    assert di.compare_ds(ZONE, PARENT, "s", [], [], dnssec=False) == []


def test_unsigned_zone_with_ds_must_lose_it() -> None:
    [p] = di.compare_ds(ZONE, PARENT, "192.0.2.1", [ds_of(KSK)], [], dnssec=False)
    assert p == {
        "check": "ds",
        "server": "192.0.2.1",
        "zone": ZONE,
        "record": f"{ZONE} DS",
        "found": [ds_line(KSK)],
        "expected": [],
        "fix": "At the parent zone example.org (your registrar), remove the DS record(s) of "
        "dyn.example.org: validating resolvers cannot resolve the zone while it is not signed "
        "with a matching key.",
    }
    # signed with another key: the DS still leads nowhere
    [p] = di.compare_ds(ZONE, PARENT, "s", [ds_of(KSK)], [OTHER_KSK], dnssec=False)
    assert "remove the DS record(s)" in p["fix"]


def test_ds_matching_a_served_key_is_fine_without_dnssec() -> None:
    assert di.compare_ds(ZONE, PARENT, "s", [ds_of(KSK)], [ZSK, KSK], dnssec=False) == []


def test_ds_problems_parent_not_answering() -> None:
    [p] = di.ds_problems(
        ZONE, PARENT, "192.0.2.1", {"error": "no answer (timeout)"}, [], dnssec=True
    )
    assert (p["check"], p["found"], p["record"]) == ("ds", "no answer (timeout)", f"{ZONE} DS")
    assert p["fix"].startswith("The parent server 192.0.2.1 did not answer for the DS of")
    answer = {"rcode": "REFUSED", "aa": False, "ds": []}
    assert di.ds_problems(ZONE, PARENT, "s", answer, [KSK], dnssec=False)[0]["found"] == "REFUSED"
    answer = {"rcode": "NOERROR", "aa": True, "ds": [ds_of(KSK)]}
    assert di.ds_problems(ZONE, PARENT, "s", answer, [KSK], dnssec=True) == []


def test_summarize_ds() -> None:
    response = dns.message.make_response(dns.message.make_query(ZONE, "DS"))
    response.flags |= dns.flags.AA
    response.answer.append(dns.rrset.from_rdata(ORIGIN, 30, ds_of(KSK)))
    assert di.summarize_ds(ZONE, response) == {"rcode": "NOERROR", "aa": True, "ds": [ds_of(KSK)]}
    empty = dns.message.make_response(dns.message.make_query(ZONE, "DS"))
    assert di.summarize_ds(ZONE, empty)["ds"] == []


def signed_answers(
    keys: dns.rrset.RRset | None = None,
    keys_rrsig: dns.rrset.RRset | None = None,
    soa_rrsig: dns.rrset.RRset | None = None,
) -> tuple[dict, dict]:
    """The summaries of a correctly signed zone's DNSKEY and SOA answers, unless told."""
    keys = keys if keys is not None else keyset(KSK, ZSK)
    dnskey = {
        "rcode": "NOERROR",
        "aa": True,
        "rrset": keys,
        "rrsig": keys_rrsig if keys_rrsig is not None else signed(keys, KSK_PRIVATE, KSK),
    }
    soa = {
        "rcode": "NOERROR",
        "aa": True,
        "rrset": SOA,
        "rrsig": soa_rrsig if soa_rrsig is not None else signed(SOA, ZSK_PRIVATE, ZSK),
    }
    return dnskey, soa


LABEL = "ns1.dyn.example.org (203.0.113.53)"
TURN_ON = (
    f"Turn on signing for dyn.example.org on {LABEL} (knot_dnssec / dyndns_dnssec) or let it "
    "transfer the signed zone from the primary."
)


def test_signed_zone_is_fine() -> None:
    assert di.dnssec_problems(ZONE, LABEL, *signed_answers()) == []


def test_unsigned_zone_has_no_dnskey() -> None:
    dnskey = {"rcode": "NOERROR", "aa": True, "rrset": None, "rrsig": None}
    soa = {"rcode": "NOERROR", "aa": True, "rrset": SOA, "rrsig": None}
    [p] = di.dnssec_problems(ZONE, LABEL, dnskey, soa)
    assert p == {
        "check": "dnssec",
        "server": LABEL,
        "zone": ZONE,
        "record": f"{ZONE} DNSKEY",
        "found": "no DNSKEY records",
        "expected": "a DNSKEY RRset with a key-signing key (flags 257), signed",
        "fix": TURN_ON,
    }


def test_dnskey_without_key_signing_key() -> None:
    keys = keyset(ZSK)
    dnskey, soa = signed_answers(keys, signed(keys, ZSK_PRIVATE, ZSK))
    [p] = di.dnssec_problems(ZONE, LABEL, dnskey, soa)
    assert p["found"] == "no key-signing key (flags 257) among the DNSKEY records (flags 256)"
    assert p["fix"] == TURN_ON


def test_dnskey_without_rrsig() -> None:
    dnskey, soa = signed_answers()
    dnskey["rrsig"] = None
    [p] = di.dnssec_problems(ZONE, LABEL, dnskey, soa)
    assert (p["record"], p["found"], p["fix"]) == (f"{ZONE} DNSKEY", "no RRSIG", TURN_ON)


def test_dnskey_signed_by_a_key_not_in_the_set() -> None:
    keys = keyset(KSK, ZSK)
    dnskey, soa = signed_answers(keys, signed(keys, OTHER_PRIVATE, OTHER_KSK))
    [p] = di.dnssec_problems(ZONE, LABEL, dnskey, soa)
    assert p["found"].startswith("RRSIG does not validate")
    assert p["fix"].startswith(f"Make {LABEL} serve valid signatures for dyn.example.org:")


def test_soa_signature_expired() -> None:
    old = signed(SOA, ZSK_PRIVATE, ZSK, inception=1_000_000_000, expiration=1_000_003_600)
    [p] = di.dnssec_problems(ZONE, LABEL, *signed_answers(soa_rrsig=old))
    assert p["record"] == f"{ZONE} SOA"
    assert p["found"] == f"RRSIG does not validate (key tag {dns.dnssec.key_id(ZSK)}: expired)"
    assert p["expected"] == "an SOA signed with a key of the DNSKEY RRset"
    assert "knotc zone-sign dyn.example.org" in p["fix"]


def test_soa_without_rrsig() -> None:
    dnskey, soa = signed_answers()
    soa["rrsig"] = None
    [p] = di.dnssec_problems(ZONE, LABEL, dnskey, soa)
    assert (p["record"], p["found"], p["fix"]) == (f"{ZONE} SOA", "no RRSIG", TURN_ON)


def test_dnssec_queries_not_answered() -> None:
    dnskey, soa = signed_answers()
    [p] = di.dnssec_problems(ZONE, LABEL, {"error": "no answer (timeout)"}, soa)
    assert p["found"] == "no answer (timeout)"
    assert (
        p["fix"]
        == f"{LABEL} did not answer the DNSKEY query for dyn.example.org; run the check again."
    )
    [p] = di.dnssec_problems(ZONE, LABEL, dnskey, {"error": "no answer (timeout)"})
    assert p["record"] == f"{ZONE} SOA"
    assert "did not answer the SOA query" in p["fix"]


def test_summarize_signed_finds_the_rrsig_over_the_type() -> None:
    keys = keyset(KSK, ZSK)
    keys_rrsig = signed(keys, KSK_PRIVATE, KSK)
    response = dns.message.make_response(dns.message.make_query(ZONE, "DNSKEY", want_dnssec=True))
    response.flags |= dns.flags.AA
    response.answer.extend([keys, keys_rrsig, signed(SOA, ZSK_PRIVATE, ZSK)])
    summary = di.summarize_signed(ZONE, "DNSKEY", response)
    assert summary == {"rcode": "NOERROR", "aa": True, "rrset": keys, "rrsig": keys_rrsig}
    assert di.summarize_signed(ZONE, "SOA", response)["rrset"] is None


def test_cryptography_is_there_for_the_tests() -> None:
    assert di.cryptography_missing() is None


# --- wait_for --------------------------------------------------------------------------------


def answer_with(name: str, rdtype: str, *values: str) -> dns.message.Message:
    response = dns.message.make_response(dns.message.make_query(name, rdtype))
    response.flags |= dns.flags.AA
    if values:
        owner = dns.name.from_text(name)
        response.answer.append(dns.rrset.from_text(owner, 30, "IN", rdtype, *values))
    return response


def test_record_values_join_txt_strings_and_spell_addresses_short() -> None:
    name = f"_rt.{ZONE}"
    response = answer_with(name, "TXT", '"token-" "123"', '"other"')
    assert di.record_values(name, "TXT", response) == ["other", "token-123"]
    response = answer_with(name, "AAAA", "2001:DB8:0:0::53")
    assert di.record_values(name + ".", "AAAA", response) == ["2001:db8::53"]
    assert di.record_values(name, "A", answer_with(name, "A")) == []
    assert di.wanted_value("AAAA", "2001:DB8::0:53") == "2001:db8::53"
    assert di.wanted_value("TXT", "token-123") == "token-123"


WAIT_FOR = {"name": f"_rt.{ZONE}.", "type": "TXT", "value": "token-1", "timeout": 2.5}


def test_round_trip_all_arrived() -> None:
    assert di.round_trip_problems(ZONE, WAIT_FOR, {"a (1)": 0.0, "b (2)": 1.2}, {}) == []
    assert di.round_trip_problems(ZONE, WAIT_FOR, {}, {}) == []


def test_round_trip_one_secondary_late() -> None:
    arrival = {"a (1)": 0.0, "b (2)": None}
    [p] = di.round_trip_problems(ZONE, WAIT_FOR, arrival, {"b (2)": ["token-0"]})
    assert p == {
        "check": "round_trip",
        "server": "b (2)",
        "zone": ZONE,
        "record": f"_rt.{ZONE} TXT",
        "found": ["token-0"],
        "expected": "token-1",
        "fix": "b (2) did not show the update within 2.5 s: make the primary send NOTIFY to it "
        "and allow it zone transfers (TSIG key), then run the check again.",
    }


def test_round_trip_nobody_has_it() -> None:
    problems = di.round_trip_problems(
        ZONE, WAIT_FOR, {"a (1)": None, "b (2)": None}, {"a (1)": "no answer (timeout)"}
    )
    assert [(p["server"], p["found"]) for p in problems] == [
        ("a (1)", "no answer (timeout)"),
        ("b (2)", []),
    ]
    assert problems[0]["fix"] == (
        f"No name server showed _rt.{ZONE} TXT token-1 within 2.5 s: check that the update "
        "reached the primary (the update's answer, knotd's log), then run the check again."
    )


def test_wait_for_record_polls_until_the_value_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Server a has the value at once, b on its third answer, c never."""
    asked: dict[str, int] = {}

    def fake_ask(qname: str, rdtype: str, server: str, *_: Any, **__: Any) -> dns.message.Message:
        asked[server] = asked.get(server, 0) + 1
        if server == "a" or (server == "b" and asked[server] >= 3):
            return answer_with(qname, rdtype, '"token-" "1"')
        return answer_with(qname, rdtype, '"token-0"')

    monkeypatch.setattr(di, "ask", fake_ask)
    monkeypatch.setattr(di, "POLL_INTERVAL", 0.05)
    servers = [("a (a)", "a"), ("b (b)", "b"), ("c (c)", "c")]
    arrival, last = di.wait_for_record(servers, {**WAIT_FOR, "timeout": 0.5}, port=53, timeout=1)
    assert arrival["a (a)"] is not None
    assert arrival["a (a)"] < 0.05  # at the first question
    assert arrival["b (b)"] is not None
    assert 0.05 <= arrival["b (b)"] < 0.5
    assert arrival["c (c)"] is None
    assert last == {"c (c)": ["token-0"]}
    assert asked["a"] == 1
    assert asked["b"] == 3
    assert asked["c"] >= 5


def test_wait_for_record_reports_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def timeout(*_: Any, **__: Any) -> dns.message.Message:
        raise dns.exception.Timeout

    monkeypatch.setattr(di, "ask", timeout)
    arrival, last = di.wait_for_record(
        [("a (a)", "a")], {**WAIT_FOR, "timeout": 0.1}, port=53, timeout=1
    )
    assert arrival == {"a (a)": None}
    assert last == {"a (a)": "no answer (timeout)"}


def test_check_wait_for() -> None:
    assert di.check_wait_for(ZONE, WAIT_FOR) == []
    assert di.check_wait_for(ZONE, {**WAIT_FOR, "name": ZONE}) == []
    assert di.check_wait_for(
        ZONE, {"name": "_rt.example.org", "type": "A", "value": "2001:db8::1", "timeout": 0}
    ) == [
        "wait_for.name '_rt.example.org' is not in the zone dyn.example.org",
        "wait_for.value '2001:db8::1' is not an IPv4 address (type A)",
        "wait_for.timeout must be positive",
    ]
    [error] = di.check_wait_for(ZONE, {**WAIT_FOR, "name": "a..b"})
    assert error.startswith("wait_for.name 'a..b' is not a DNS name")
    [error] = di.check_wait_for(ZONE, {**WAIT_FOR, "type": "AAAA", "value": "192.0.2.1"})
    assert error == "wait_for.value '192.0.2.1' is not an IPv6 address (type AAAA)"


# --- run_checks, against a fake world --------------------------------------------------------

PARENT_SERVER = "192.0.2.1"
HE = {"name": "ns1.he.net", "external": True}  # outside the zone, without addresses


def fake_world(monkeypatch: pytest.MonkeyPatch, serials: dict[str, int]) -> list[tuple]:
    """PARENT_SERVER delegates ZONE to ns1.dyn.example.org and ns1.he.net; every other address
    serves ZONE with the serial SERIALS has for it, the TXT record of WAIT_FOR and no other
    name. Returns the (qname, type, server) of each query, filled as they are asked."""
    asked: list[tuple] = []

    def fake_ask(qname: str, rdtype: str, server: str, *_: Any, **__: Any) -> dns.message.Message:
        qname = di.normalize(qname)
        asked.append((qname, rdtype, server))
        if server == PARENT_SERVER:
            return referral(HE["name"]) if rdtype == "NS" else answer_with(qname, rdtype)
        if rdtype == "SOA":
            soa = f"ns1.{ZONE}. hostmaster.{ZONE}. {serials[server]} 3600 900 604800 30"
            return answer_with(ZONE, "SOA", soa)
        if qname == di.normalize(WAIT_FOR["name"]):
            return answer_with(qname, rdtype, '"token-1"')
        response = answer_with(qname, rdtype)
        if qname != ZONE:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    monkeypatch.setattr(di, "ask", fake_ask)
    return asked


def fake_resolver(
    monkeypatch: pytest.MonkeyPatch,
    addresses: dict[str, list[str]],
    error: type[Exception] = dns.resolver.NXDOMAIN,
) -> None:
    """The system resolver knows the ADDRESSES of some names, and raises ERROR for the others."""

    class Resolver:
        lifetime = 5.0

        def resolve(self, name: Any, rdtype: str) -> dns.rrset.RRset:
            name = di.normalize(str(name))
            if name not in addresses:
                raise error
            values = [a for a in addresses[name] if ("." in a) == (rdtype == "A")]
            if not values:
                raise dns.resolver.NoAnswer
            return answer_with(name, rdtype, *values).answer[0]

    monkeypatch.setattr(dns.resolver, "Resolver", Resolver)


def test_a_hidden_primary_in_step_is_asked_for_its_soa_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serials = {"203.0.113.53": 42, "2001:db8::53": 42, "198.51.100.10": 42, "216.218.130.2": 42}
    asked = fake_world(monkeypatch, serials)
    result = di.run_checks(
        ZONE,
        [NS1, {**HE, "ipv4": "216.218.130.2"}],
        parent_servers=[PARENT_SERVER],
        primary=PRIMARY,
        wait_for={**WAIT_FOR, "timeout": 1},
    )
    assert result["problems"] == []
    assert result["serials"] == {
        LABEL: 42,
        "ns1.dyn.example.org (2001:db8::53)": 42,
        "ns1.he.net (216.218.130.2)": 42,
        HIDDEN: 42,
    }
    assert HIDDEN not in result["arrival"]
    assert {(q, t) for q, t, server in asked if server == "198.51.100.10"} == {(ZONE, "SOA")}


def test_a_name_server_outside_the_zone_without_addresses_is_looked_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_resolver(monkeypatch, {"ns1.he.net": ["216.218.130.2", "2001:470:100::2"]})
    serials = {"203.0.113.53": 7, "2001:db8::53": 7, "216.218.130.2": 7, "2001:470:100::2": 7}
    fake_world(monkeypatch, serials)
    result = di.run_checks(ZONE, [NS1, HE], parent_servers=[PARENT_SERVER], nxdomain_probe=False)
    assert result["problems"] == []
    assert "ns1.he.net (216.218.130.2)" in result["serials"]
    assert "ns1.he.net (2001:470:100::2)" in result["serials"]


@pytest.mark.parametrize(
    ("error", "found"),
    [
        (dns.resolver.NXDOMAIN, "no A or AAAA record"),
        (dns.exception.Timeout, "no answer (timeout)"),
    ],
)
def test_a_name_server_that_does_not_resolve_is_a_problem(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception], found: str
) -> None:
    fake_resolver(monkeypatch, {}, error)
    fake_world(monkeypatch, {"203.0.113.53": 7, "2001:db8::53": 7})
    result = di.run_checks(ZONE, [NS1, HE], parent_servers=[PARENT_SERVER])
    [p] = result["problems"]
    assert p == {
        "check": "nameserver_address",
        "server": "ns1.he.net",
        "zone": ZONE,
        "record": "ns1.he.net A/AAAA",
        "found": found,
        "expected": "an address",
        "fix": "The name server ns1.he.net has no address the system resolver finds, so nobody "
        "can ask it: give its ipv4/ipv6 in the nameservers, or correct its name there and in "
        "the NS records at the parent zone.",
    }
    assert list(result["serials"]) == [LABEL, "ns1.dyn.example.org (2001:db8::53)"]
