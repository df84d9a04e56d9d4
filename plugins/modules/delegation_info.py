#!/usr/bin/python
# Copyright: selfhosted.dyndns developers
# MIT License (see LICENSE)
# ruff: noqa: E402  (Ansible modules import after their DOCUMENTATION strings)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: delegation_info
short_description: Check that the world can find a delegated DNS zone
version_added: "0.1.0"
description:
  - Asks the parent zone's authoritative servers for the delegation of O(zone) and compares
    the NS set and the glue addresses with the expected name servers.
  - Asks every expected name server, at each of its addresses, for the SOA of O(zone) and
    expects an authoritative answer; all serials must be equal.
  - Optionally asks every name server for a random name below O(zone) and expects an
    authoritative NXDOMAIN.
  - Asks the parent zone's servers for the DS records of O(zone) and compares them with the
    key-signing keys the name servers serve. With O(dnssec), also checks that every name server
    serves a signed DNSKEY RRset with a key-signing key and a signed SOA.
  - Optionally waits until every name server shows a given record (see O(wait_for)), to see an
    update arrive at the secondary servers.
  - Changes nothing. A delegation problem does not fail the module; it is listed in RV(problems)
    with a sentence saying what to set at the registrar or parent zone.
  - The queries are sent from the host the module runs on; run it where the internet's view
    matters, usually the controller (with C(delegate_to) V(localhost)).
author:
  - selfhosted.dyndns developers
requirements:
  - dnspython >= 2.3
  - cryptography (only with O(dnssec); the Debian package is python3-cryptography)
options:
  zone:
    description:
      - The delegated zone, for example C(dyn.example.org).
    type: str
    required: true
  nameservers:
    description:
      - The NS set the zone should have, with each server's real addresses.
      - Glue is expected at the parent for names inside O(zone).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The name server's host name.
        type: str
        required: true
      ipv4:
        description:
          - The server's IPv4 address.
          - At least one of O(nameservers[].ipv4) and O(nameservers[].ipv6) is required.
        type: str
      ipv6:
        description:
          - The server's IPv6 address.
        type: str
  parent_servers:
    description:
      - Addresses of the parent zone's authoritative servers.
      - When absent, the parent zone is found by walking up from O(zone) with SOA queries
        through the system resolver, and its NS names are resolved to addresses.
    type: list
    elements: str
  port:
    description:
      - The port of every query to the parent and to the name servers.
      - The system resolver, used only to find the parent servers, keeps its own port.
    type: int
    default: 53
  timeout:
    description:
      - Seconds to wait for each answer.
    type: float
    default: 3
  nxdomain_probe:
    description:
      - Ask each name server for a random name C(_check-<random>.<zone>) and expect
        NXDOMAIN with the AA flag.
    type: bool
    default: true
  dnssec:
    description:
      - Whether O(zone) is meant to be DNSSEC-signed.
      - When V(true), every name server address that answered the SOA query is asked for the
        DNSKEY and the SOA of O(zone) with the DO bit. It must serve a DNSKEY RRset with at
        least one key-signing key (flags 257), an RRSIG over the DNSKEY RRset that validates
        with that RRset, and an RRSIG over the SOA that validates with it. The parent servers
        must have a DS record that matches one of the key-signing keys.
      - When V(false), DS records at the parent are a problem only when none of them matches a
        key the name servers serve (for example when the zone is not signed), because
        validating resolvers could not resolve the zone.
      - V(true) needs the Python package C(cryptography) to validate signatures.
    type: bool
    default: false
  wait_for:
    description:
      - After the other checks, ask every name server address that answered the SOA query
        (without recursion) every 0.2 seconds for O(wait_for.name) until its answer contains
        O(wait_for.value), or until O(wait_for.timeout) seconds have passed.
      - The module only reads; set the record (through the update endpoint) before it runs,
        and remove it afterwards.
    type: dict
    suboptions:
      name:
        description:
          - The owner name of the record, inside O(zone), for example
            C(_roundtrip.dyn.example.org).
        type: str
        required: true
      type:
        description:
          - The record type.
        type: str
        choices: [A, AAAA, TXT]
        default: TXT
      value:
        description:
          - The value to wait for, an address or for V(TXT) the text without quotes (the
            strings of one TXT record joined together).
        type: str
        required: true
      timeout:
        description:
          - Seconds to wait for the value to show on every server.
        type: float
        default: 10
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode changes nothing about what it does.
"""

EXAMPLES = r"""
- name: Check the delegation of the dynamic zone
  selfhosted.dyndns.delegation_info:
    zone: dyn.example.org
    nameservers:
      - name: ns1.dyn.example.org
        ipv4: 203.0.113.53
        ipv6: 2001:db8::53
  delegate_to: localhost
  register: delegation

- name: Fail with what to fix at the registrar
  ansible.builtin.assert:
    that: delegation.ok
    fail_msg: "{{ delegation.problems | map(attribute='fix') | list }}"

- name: Ask given parent servers on another port
  selfhosted.dyndns.delegation_info:
    zone: dyn.example.test
    nameservers:
      - name: ns1.dyn.example.test
        ipv4: 127.0.0.1
    parent_servers: [127.0.0.2]
    port: 5353
    timeout: 1
    nxdomain_probe: false

- name: Check a signed zone and get the DS records for the registrar
  selfhosted.dyndns.delegation_info:
    zone: dyn.example.org
    nameservers:
      - name: ns1.dyn.example.org
        ipv4: 203.0.113.53
    dnssec: true
  delegate_to: localhost
  register: signed

- name: Show the DS records to set at the registrar
  ansible.builtin.debug:
    var: signed.ds

- name: Wait until every name server shows a TXT record set through the update endpoint
  selfhosted.dyndns.delegation_info:
    zone: dyn.example.org
    nameservers:
      - name: ns1.dyn.example.org
        ipv4: 203.0.113.53
      - name: ns2.example.net
        ipv4: 198.51.100.53
    wait_for:
      name: _roundtrip.dyn.example.org
      type: TXT
      value: "{{ roundtrip_token }}"
      timeout: 20
  delegate_to: localhost
  register: roundtrip
"""

RETURN = r"""
ok:
  description: True when no check found a problem.
  returned: always
  type: bool
  sample: false
problems:
  description:
    - One entry per failed check.
    - O(problems[].check) is one of C(parent_discovery), C(parent_ns), C(glue), C(soa),
      C(serial), C(nxdomain), C(ds) (the DS records at the parent), C(dnssec) (a name server's
      keys or signatures, only with O(dnssec)) and C(round_trip) (a name server did not show
      the O(wait_for) record in time).
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: The check that failed.
      type: str
      sample: glue
    server:
      description: The server asked, an address or C(name (address)).
      type: str
      sample: 192.0.2.1
    zone:
      description: The zone checked.
      type: str
      sample: dyn.example.org
    record:
      description: The record concerned, as C(owner TYPE).
      type: str
      sample: ns1.dyn.example.org A
    found:
      description: What the server answered (a list of values, a serial or a short text).
      type: raw
      sample: ["198.51.100.9"]
    expected:
      description: What it should have answered.
      type: raw
      sample: ["203.0.113.53"]
    fix:
      description: A sentence saying what to set, and where.
      type: str
      sample: >-
        At the parent zone example.org (your registrar), set the glue of ns1.dyn.example.org
        to: A 203.0.113.53.
  sample:
    - check: parent_ns
      server: 192.0.2.1
      zone: dyn.example.org
      record: dyn.example.org NS
      found: ["ns.old-provider.example"]
      expected: ["ns1.dyn.example.org"]
      fix: >-
        At the parent zone example.org (your registrar), set the NS records of
        dyn.example.org to: ns1.dyn.example.org.
parent_zone:
  description: The parent zone, found or (with O(parent_servers)) assumed to be O(zone) minus
    its first label.
  returned: always
  type: str
  sample: example.org
parent_servers:
  description: The parent server addresses that were asked.
  returned: always
  type: list
  elements: str
  sample: ["192.0.2.1", "2001:db8::1"]
serials:
  description: The SOA serial each name server answered, keyed by C(name (address)).
  returned: always
  type: dict
  sample: {"ns1.dyn.example.org (203.0.113.53)": 2024010101}
ds:
  description:
    - The DS records (digest type 2, SHA-256) the parent zone should have for the key-signing
      keys (DNSKEY flags 257) of O(zone), one string each in zone-file form
      C(<zone>. DS <key tag> <algorithm> <digest type> <digest>), like C(keymgr <zone> ds).
    - Computed from the DNSKEY RRset of the first name server address that served one.
    - Empty when no name server serves a key-signing key (the zone is not signed).
  returned: always
  type: list
  elements: str
  sample:
    - dyn.example.org. DS 60319 13 2
      22511f8c7313c5e01fcf014be51cfe5fcc20ac00af46afa2634c14649a44d064
arrival:
  description:
    - With O(wait_for), the seconds from the start of the waiting (after the other checks)
      until each name server address showed the value, rounded to 0.01, keyed by
      C(name (address)); V(null) when it did not show it within O(wait_for.timeout).
    - Only name server addresses that answered the SOA query are asked.
    - Empty without O(wait_for).
  returned: always
  type: dict
  sample: {"ns1.dyn.example.org (203.0.113.53)": 0.0, "ns2.example.net (198.51.100.53)": 1.41}
"""

import ipaddress
import secrets
import time
import traceback
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

DNS_IMPORT_ERROR: str | None
try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
    import dns.rrset
except ImportError:
    DNS_IMPORT_ERROR = traceback.format_exc()
else:
    DNS_IMPORT_ERROR = None

CRYPTOGRAPHY_IMPORT_ERROR: str | None
try:
    import cryptography  # noqa: F401 (dns.dnssec.validate needs it; only with dnssec)
except ImportError:
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

DNSSEC_IMPORT_ERROR: str | None = None
try:
    import dns.dnssec
except ImportError:  # dnspython >= 2.4 fails here when its cryptography is broken
    DNSSEC_IMPORT_ERROR = traceback.format_exc()

ZONE_KEY_FLAG = 0x0100  # DNSKEY flags: a zone key ...
SEP_FLAG = 0x0001  # ... with the secure entry point flag: 257 is a key-signing key
POLL_INTERVAL = 0.2  # seconds between the wait_for queries to one server


# --- pure logic: no network, unit-tested --------------------------------------------------


def normalize(name: str) -> str:
    """A DNS name in one spelling: lower case, without the trailing dot."""
    return name.strip().rstrip(".").lower()


def in_zone(name: str, zone: str) -> bool:
    """Whether NAME is ZONE or below it (so its address needs glue at the parent)."""
    name, zone = normalize(name), normalize(zone)
    return name == zone or name.endswith("." + zone)


def assumed_parent(zone: str) -> str:
    """ZONE without its first label: the parent zone when nobody found a better one."""
    labels = normalize(zone).split(".", 1)
    return labels[1] if len(labels) == 2 else "."


def server_label(name: str, address: str) -> str:
    return f"{normalize(name)} ({address})"


def problem(  # noqa: PLR0913, PLR0917 (one argument per field)
    check: str,
    server: str,
    zone: str,
    record: str,
    found: Any,
    expected: Any,
    fix: str,
) -> dict[str, Any]:
    return {
        "check": check,
        "server": server,
        "zone": normalize(zone),
        "record": record,
        "found": found,
        "expected": expected,
        "fix": fix,
    }


def at_parent(parent_zone: str) -> str:
    return f"At the parent zone {normalize(parent_zone) or '.'} (your registrar)"


def compare_ns_set(
    zone: str, parent_zone: str, server: str, found: set[str], expected: set[str]
) -> list[dict[str, Any]]:
    """Problems when the parent SERVER's NS set for ZONE differs from the expected one."""
    found_n = sorted({normalize(n) for n in found})
    expected_n = sorted({normalize(n) for n in expected})
    if found_n == expected_n:
        return []
    zone = normalize(zone)
    return [
        problem(
            "parent_ns",
            server,
            zone,
            f"{zone} NS",
            found_n,
            expected_n,
            f"{at_parent(parent_zone)}, set the NS records of {zone} to: {', '.join(expected_n)}.",
        )
    ]


def compare_glue(
    zone: str,
    parent_zone: str,
    server: str,
    nameservers: list[dict[str, Any]],
    glue: dict[str, dict[str, set[str]]],
) -> list[dict[str, Any]]:
    """Problems with the glue the parent SERVER sent.

    GLUE maps a (normalized) owner name to {"A": {...}, "AAAA": {...}}. Only name servers
    inside ZONE need glue; for them each given address must be there, and nothing else.
    """
    problems = []
    for ns in nameservers:
        name = normalize(ns["name"])
        if not in_zone(name, zone):
            continue
        have = glue.get(name, {})
        for rdtype, key in (("A", "ipv4"), ("AAAA", "ipv6")):
            want = {str(ipaddress.ip_address(ns[key]))} if ns.get(key) else set()
            got = {str(ipaddress.ip_address(a)) for a in have.get(rdtype, set())}
            if got == want:
                continue
            if not got:
                fix = f"{at_parent(parent_zone)}: add glue: {name} {rdtype} {ns[key]}"
            elif not want:
                fix = (
                    f"{at_parent(parent_zone)}: remove the glue {name} {rdtype} "
                    f"{', '.join(sorted(got))} (the server has no such address)."
                )
            else:
                fix = (
                    f"{at_parent(parent_zone)}, set the glue of {name} to: "
                    f"{rdtype} {', '.join(sorted(want))}."
                )
            problems.append(
                problem("glue", server, zone, f"{name} {rdtype}", sorted(got), sorted(want), fix)
            )
    return problems


def delegation_problems(
    zone: str,
    parent_zone: str,
    server: str,
    answer: dict[str, Any],
    nameservers: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Problems in one parent server's answer to `ZONE NS` (see summarize_delegation)."""
    zone = normalize(zone)
    record = f"{zone} NS"
    expected = sorted({normalize(ns["name"]) for ns in nameservers})
    fix_ns = f"{at_parent(parent_zone)}, set the NS records of {zone} to: {', '.join(expected)}."
    if answer.get("error"):
        return [
            problem(
                "parent_ns",
                server,
                zone,
                record,
                answer["error"],
                expected,
                f"The parent server {server} did not answer; check parent_servers, or that "
                f"{normalize(parent_zone)} is served there, then run the check again.",
            )
        ]
    if answer["rcode"] != "NOERROR" or answer["ns"] is None:
        found = answer["rcode"] if answer["rcode"] != "NOERROR" else "no delegation"
        return [problem("parent_ns", server, zone, record, found, expected, fix_ns)]
    return compare_ns_set(
        zone, parent_zone, server, set(answer["ns"]), set(expected)
    ) + compare_glue(zone, parent_zone, server, nameservers, answer["glue"])


def soa_problems(zone: str, server: str, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Problems in one name server's answer to `ZONE SOA` (see summarize_soa)."""
    zone = normalize(zone)
    record = f"{zone} SOA"
    expected = "authoritative SOA (NOERROR, AA)"
    if answer.get("error"):
        found = answer["error"]
        fix = (
            f"Make {server} answer DNS queries from the internet (is the server running, the "
            f"port open in every firewall?), or correct its address at the parent zone."
        )
    elif answer["rcode"] != "NOERROR":
        found = answer["rcode"]
        fix = f"Configure {server} to serve the zone {zone}."
    elif not answer["aa"]:
        found = "answer without AA flag"
        fix = f"Configure {server} to serve the zone {zone} authoritatively."
    elif answer["serial"] is None:
        found = "no SOA record in the answer"
        fix = f"Configure {server} to serve the zone {zone} (it has no SOA for it)."
    else:
        return []
    return [problem("soa", server, zone, record, found, expected, fix)]


def compare_serials(zone: str, serials: dict[str, int]) -> list[dict[str, Any]]:
    """Problems for each server whose serial is behind the highest one seen."""
    if len(set(serials.values())) <= 1:
        return []
    zone = normalize(zone)
    newest = max(serials.values())
    return [
        problem(
            "serial",
            server,
            zone,
            f"{zone} SOA",
            serial,
            newest,
            f"{server} serves serial {serial} of {zone} while another server has {newest}; "
            f"make the secondary servers transfer the zone (NOTIFY, AXFR/IXFR allowed).",
        )
        for server, serial in sorted(serials.items())
        if serial != newest
    ]


def nxdomain_problems(
    zone: str, server: str, qname: str, answer: dict[str, Any]
) -> list[dict[str, Any]]:
    """Problems in one name server's answer for a name that does not exist."""
    zone = normalize(zone)
    expected = "NXDOMAIN with AA flag"
    if answer.get("error"):
        found = answer["error"]
    elif answer["rcode"] == "NXDOMAIN" and answer["aa"]:
        return []
    elif answer["rcode"] == "NXDOMAIN":
        found = "NXDOMAIN without AA flag"
    else:
        found = answer["rcode"] + (" with AA flag" if answer["aa"] else " without AA flag")
    fix = (
        f"Make {server} answer authoritatively for {zone}: a name that does not exist must "
        f"get NXDOMAIN (no wildcard, no forwarding or recursion for names in the zone)."
    )
    return [problem("nxdomain", server, zone, f"{normalize(qname)} A", found, expected, fix)]


def sep_keys(keys: list[Any]) -> list[Any]:
    """The key-signing keys among the DNSKEY rdatas KEYS: zone keys with the SEP flag (257)."""
    return [k for k in keys if k.flags & ZONE_KEY_FLAG and k.flags & SEP_FLAG]


def expected_ds(zone: str, keys: list[Any]) -> list[Any]:
    """The SHA-256 DS rdatas the parent should have for the key-signing keys among KEYS."""
    return [dns.dnssec.make_ds(normalize(zone) + ".", k, "SHA256") for k in sep_keys(keys)]


def ds_text(zone: str, ds: Any) -> str:
    """A DS rdata in zone-file form, as `keymgr ZONE ds` prints it."""
    return f"{normalize(zone)}. DS {ds.to_text()}"


def ds_matches(zone: str, ds: Any, keys: list[Any]) -> bool:
    """Whether the DS rdata DS is the digest, of its own digest type, of one of KEYS."""
    for key in keys:
        try:
            computed = dns.dnssec.make_ds(
                normalize(zone) + ".", key, ds.digest_type, validating=True
            )
        except dns.exception.DNSException:  # a digest type dnspython cannot or will not make
            continue
        if computed == ds:
            return True
    return False


def compare_ds(  # noqa: PLR0913 (one argument per part of the comparison)
    zone: str,
    parent_zone: str,
    server: str,
    found: list[Any],
    keys: list[Any],
    *,
    dnssec: bool,
) -> list[dict[str, Any]]:
    """Problems with the DS rdatas FOUND at the parent SERVER, given the DNSKEY rdatas KEYS
    the name servers serve.

    Meant to be signed (DNSSEC): at least one DS must match a key-signing key; more DS next to
    it are fine (a key rollover). Without keys to compare with the zone's own dnssec problems
    say what is wrong. Not meant to be signed: DS records are fine only when one matches a
    served key (someone signs the zone after all)."""
    zone = normalize(zone)
    record = f"{zone} DS"
    found_text = sorted(ds_text(zone, d) for d in found)
    if dnssec:
        want = sorted(ds_text(zone, d) for d in expected_ds(zone, keys))
        if not want or any(ds_matches(zone, d, sep_keys(keys)) for d in found):
            return []
        records = "DS record" if len(want) == 1 else "DS records"
        if not found:
            fix = f"{at_parent(parent_zone)}, add the {records} for {zone}: {'; '.join(want)}."
        else:
            fix = (
                f"{at_parent(parent_zone)}, replace the DS record(s) of {zone} with: "
                f"{'; '.join(want)}."
            )
        return [problem("ds", server, zone, record, found_text, want, fix)]
    if not found or any(ds_matches(zone, d, keys) for d in found):
        return []
    fix = (
        f"{at_parent(parent_zone)}, remove the DS record(s) of {zone}: validating resolvers "
        f"cannot resolve the zone while it is not signed with a matching key."
    )
    return [problem("ds", server, zone, record, found_text, [], fix)]


def ds_problems(  # noqa: PLR0913 (one argument per part of the comparison)
    zone: str,
    parent_zone: str,
    server: str,
    answer: dict[str, Any],
    keys: list[Any],
    *,
    dnssec: bool,
) -> list[dict[str, Any]]:
    """Problems in one parent server's answer to `ZONE DS` (see summarize_ds)."""
    if not answer.get("error") and answer["rcode"] == "NOERROR":
        return compare_ds(zone, parent_zone, server, answer["ds"], keys, dnssec=dnssec)
    zone = normalize(zone)
    return [
        problem(
            "ds",
            server,
            zone,
            f"{zone} DS",
            answer.get("error") or answer["rcode"],
            "an answer with the DS records of the zone, or none",
            f"The parent server {server} did not answer for the DS of {zone}; check "
            f"parent_servers, or that {normalize(parent_zone)} is served there, then run the "
            f"check again.",
        )
    ]


def signature_error(rrset: Any, rrsig: Any, keys: Any) -> str | None:
    """Why the RRSIG RRset RRSIG does not validate RRSET with the DNSKEY RRset KEYS; None when
    it does. Needs the cryptography package."""
    if rrsig is None:
        return "no RRSIG"
    reasons = []
    for signature in rrsig:  # what dns.dnssec.validate does, keeping each reason
        try:
            dns.dnssec.validate_rrsig(rrset, signature, {rrset.name: keys})
        except dns.exception.DNSException as e:
            reasons.append(f"key tag {signature.key_tag}: {e or type(e).__name__}")
        else:
            return None
    return f"RRSIG does not validate ({'; '.join(reasons)})"


def dnskey_found(dnskey: dict[str, Any]) -> str | None:
    """What is wrong with one name server's answer to `ZONE DNSKEY` (with DO); None when it
    has a key-signing key and an RRSIG over the DNSKEY RRset that validates with it."""
    if dnskey.get("error"):
        return dnskey["error"]
    if dnskey["rcode"] != "NOERROR":
        return dnskey["rcode"]
    keys = dnskey["rrset"]
    if keys is None:
        return "no DNSKEY records"
    if not sep_keys(list(keys)):
        flags = ", ".join(sorted({str(k.flags) for k in keys}))
        return f"no key-signing key (flags 257) among the DNSKEY records (flags {flags})"
    return signature_error(keys, dnskey["rrsig"], keys)


def soa_signature_found(soa: dict[str, Any], keys: Any) -> str | None:
    """What is wrong with one name server's answer to `ZONE SOA` (with DO), validated with
    the DNSKEY RRset KEYS; None when its RRSIG validates."""
    if soa.get("error"):
        return soa["error"]
    if soa["rcode"] != "NOERROR":
        return soa["rcode"]
    if soa["rrset"] is None:
        return "no SOA record"
    return signature_error(soa["rrset"], soa["rrsig"], keys)


def dnssec_fix(zone: str, server: str, rdtype: str, answer: dict[str, Any], found: str) -> str:
    if answer.get("error"):
        return f"{server} did not answer the {rdtype} query for {zone}; run the check again."
    if found.startswith("RRSIG"):
        return (
            f"Make {server} serve valid signatures for {zone}: check that its signer runs "
            f"(knotc zone-sign {zone}) or that it transfers the signed zone from the primary, "
            f"then run the check again."
        )
    return (
        f"Turn on signing for {zone} on {server} (knot_dnssec / dyndns_dnssec) or let it "
        f"transfer the signed zone from the primary."
    )


def dnssec_problems(
    zone: str, server: str, dnskey: dict[str, Any], soa: dict[str, Any]
) -> list[dict[str, Any]]:
    """Problems in one name server's answers to `ZONE DNSKEY` and `ZONE SOA`, both asked with
    the DO bit (see summarize_signed), for a zone meant to be signed. The SOA is checked only
    when the DNSKEY RRset is fine."""
    zone = normalize(zone)
    found = dnskey_found(dnskey)
    if found is not None:
        return [
            problem(
                "dnssec",
                server,
                zone,
                f"{zone} DNSKEY",
                found,
                "a DNSKEY RRset with a key-signing key (flags 257), signed",
                dnssec_fix(zone, server, "DNSKEY", dnskey, found),
            )
        ]
    found = soa_signature_found(soa, dnskey["rrset"])
    if found is None:
        return []
    return [
        problem(
            "dnssec",
            server,
            zone,
            f"{zone} SOA",
            found,
            "an SOA signed with a key of the DNSKEY RRset",
            dnssec_fix(zone, server, "SOA", soa, found),
        )
    ]


def wanted_value(rdtype: str, value: str) -> str:
    """VALUE spelled as record_values spells it: addresses in their short form."""
    if rdtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(value))
    return value


def round_trip_problems(
    zone: str, wait_for: dict[str, Any], arrival: dict[str, float | None], last: dict[str, Any]
) -> list[dict[str, Any]]:
    """Problems for each server that did not show the wait_for value in time (ARRIVAL None);
    LAST has what each server answered last."""
    zone = normalize(zone)
    name = normalize(wait_for["name"])
    record = f"{name} {wait_for['type']}"
    wait = f"{wait_for['timeout']:g}"
    nobody = all(seen is None for seen in arrival.values())
    problems = []
    for server, seen in sorted(arrival.items()):
        if seen is not None:
            continue
        if nobody:
            fix = (
                f"No name server showed {record} {wait_for['value']} within {wait} s: check "
                f"that the update reached the primary (the update's answer, knotd's log), then "
                f"run the check again."
            )
        else:
            fix = (
                f"{server} did not show the update within {wait} s: make the primary send "
                f"NOTIFY to it and allow it zone transfers (TSIG key), then run the check again."
            )
        found = last.get(server, [])
        problems.append(problem("round_trip", server, zone, record, found, wait_for["value"], fix))
    return problems


def check_wait_for(zone: str, wait_for: dict[str, Any]) -> list[str]:
    """What is wrong with the wait_for option; empty when it is fine."""
    errors = []
    try:
        dns.name.from_text(wait_for["name"])
    except dns.exception.DNSException as e:
        errors.append(f"wait_for.name {wait_for['name']!r} is not a DNS name: {e}")
    else:
        if not in_zone(wait_for["name"], zone):
            errors.append(f"wait_for.name {wait_for['name']!r} is not in the zone {zone}")
    if wait_for["type"] in ("A", "AAAA"):
        version = 4 if wait_for["type"] == "A" else 6
        try:
            if ipaddress.ip_address(wait_for["value"]).version != version:
                raise ValueError
        except ValueError:
            errors.append(
                f"wait_for.value {wait_for['value']!r} is not an IPv{version} address "
                f"(type {wait_for['type']})"
            )
    if wait_for["timeout"] <= 0:
        errors.append("wait_for.timeout must be positive")
    return errors


def check_arguments(zone: str, nameservers: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the arguments; empty when they are fine."""
    errors = []
    try:
        dns.name.from_text(zone)
    except dns.exception.DNSException as e:
        errors.append(f"zone {zone!r} is not a DNS name: {e}")
    if not nameservers:
        errors.append("nameservers must name at least one server")
    for ns in nameservers:
        if not ns.get("name"):
            errors.append(f"a name server has no name: {ns!r}")
            continue
        if not ns.get("ipv4") and not ns.get("ipv6"):
            errors.append(f"name server {ns['name']} needs ipv4 or ipv6")
        for key, version in (("ipv4", 4), ("ipv6", 6)):
            if ns.get(key):
                try:
                    if ipaddress.ip_address(ns[key]).version != version:
                        raise ValueError
                except ValueError:
                    errors.append(f"name server {ns['name']}: {ns[key]!r} is not an {key} address")
    return errors


# --- network: one query each ---------------------------------------------------------------


def ask(  # noqa: PLR0913 (the query and where to send it)
    qname: str, rdtype: str, server: str, port: int, timeout: float, *, dnssec: bool = False
) -> dns.message.Message:
    """One non-recursive query, over UDP and again over TCP when the answer is truncated.
    With DNSSEC, the DO bit asks for the RRSIGs."""
    query = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232, want_dnssec=dnssec)
    query.flags &= ~dns.flags.RD
    response, _tcp = dns.query.udp_with_fallback(query, server, timeout=timeout, port=port)
    return response


def error_text(error: BaseException) -> str:
    if isinstance(error, dns.exception.Timeout):
        return "no answer (timeout)"
    return f"no answer ({type(error).__name__}: {error})"


def network_errors() -> tuple[type[BaseException], ...]:
    """What a query to an unreachable or broken server may raise."""
    return (OSError, EOFError, dns.exception.DNSException)


def summarize_delegation(zone: str, response: dns.message.Message) -> dict[str, Any]:
    """rcode, the NS set (referral or authoritative answer; None when neither) and glue."""
    zname = dns.name.from_text(zone)
    ns = None
    for section in (response.answer, response.authority):
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.NS and rrset.name == zname:
                ns = sorted(normalize(r.target.to_text()) for r in rrset)
                break
        if ns is not None:
            break
    glue: dict[str, dict[str, set[str]]] = {}
    for rrset in response.additional:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            kind = dns.rdatatype.to_text(rrset.rdtype)
            owner = normalize(rrset.name.to_text())
            glue.setdefault(owner, {}).setdefault(kind, set()).update(r.address for r in rrset)
    return {
        "rcode": dns.rcode.to_text(response.rcode()),
        "aa": bool(response.flags & dns.flags.AA),
        "ns": ns,
        "glue": glue,
    }


def summarize_soa(zone: str, response: dns.message.Message) -> dict[str, Any]:
    zname = dns.name.from_text(zone)
    serial = None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == zname:
            serial = rrset[0].serial
    return {
        "rcode": dns.rcode.to_text(response.rcode()),
        "aa": bool(response.flags & dns.flags.AA),
        "serial": serial,
    }


def summarize_rcode(response: dns.message.Message) -> dict[str, Any]:
    return {
        "rcode": dns.rcode.to_text(response.rcode()),
        "aa": bool(response.flags & dns.flags.AA),
    }


def answer_rrset(
    response: dns.message.Message, name: str, rdtype: str, covers: str = "NONE"
) -> Any:
    """The RRset of NAME and RDTYPE (RRSIGs: covering COVERS) in the answer section, or None."""
    qname = dns.name.from_text(name)
    wanted = (dns.rdatatype.from_text(rdtype), dns.rdatatype.from_text(covers))
    for rrset in response.answer:
        if rrset.name == qname and (rrset.rdtype, rrset.covers) == wanted:
            return rrset
    return None


def summarize_ds(zone: str, response: dns.message.Message) -> dict[str, Any]:
    """rcode and the DS rdatas (a list, empty when there are none)."""
    rrset = answer_rrset(response, zone, "DS")
    return {**summarize_rcode(response), "ds": list(rrset) if rrset is not None else []}


def summarize_signed(zone: str, rdtype: str, response: dns.message.Message) -> dict[str, Any]:
    """rcode, the RRset of ZONE and RDTYPE and the RRSIGs over it (each None when absent)."""
    return {
        **summarize_rcode(response),
        "rrset": answer_rrset(response, zone, rdtype),
        "rrsig": answer_rrset(response, zone, "RRSIG", covers=rdtype),
    }


def record_values(name: str, rdtype: str, response: dns.message.Message) -> list[str]:
    """The values of the RRset of NAME and RDTYPE: addresses, or the text of each TXT record
    (its strings joined, without quotes)."""
    rrset = answer_rrset(response, name, rdtype)
    if rrset is None:
        return []
    if rdtype == "TXT":
        return sorted(b"".join(r.strings).decode("utf-8", errors="replace") for r in rrset)
    return sorted(str(ipaddress.ip_address(r.address)) for r in rrset)


def ask_summary(  # noqa: PLR0913 (the query, where to send it, and how to read the answer)
    summarize: Callable[[dns.message.Message], Any],
    qname: str,
    rdtype: str,
    server: str,
    *,
    port: int,
    timeout: float,
    dnssec: bool = False,
) -> Any:
    """SUMMARIZE applied to the answer of one query (see ask), or {"error": ...}."""
    try:
        return summarize(ask(qname, rdtype, server, port, timeout, dnssec=dnssec))
    except network_errors() as e:
        return {"error": error_text(e)}


def find_parent(zone: str, timeout: float) -> tuple[str, list[str]]:
    """The parent zone of ZONE and its servers' addresses, through the system resolver."""
    resolver = dns.resolver.Resolver()
    resolver.lifetime = max(timeout * 3, resolver.lifetime)
    parent = dns.resolver.zone_for_name(dns.name.from_text(zone).parent(), resolver=resolver)
    names = [r.target for r in resolver.resolve(parent, "NS")]
    addresses: list[str] = []
    for name in sorted(names):
        for rdtype in ("A", "AAAA"):
            try:
                addresses.extend(r.address for r in resolver.resolve(name, rdtype))
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
    parent_text = normalize(parent.to_text()) or "."
    return parent_text, sorted(set(addresses))


def resolve_parent(
    zone: str, parent_servers: list[str] | None, timeout: float
) -> tuple[str, list[str], list[dict[str, Any]]]:
    """The parent zone and its servers: as given, or found; problems when not found."""
    problems: list[dict[str, Any]] = []
    parent_zone = assumed_parent(zone)
    if not parent_servers:
        try:
            parent_zone, parent_servers = find_parent(zone, timeout)
        except network_errors() as e:
            problems.append(
                problem(
                    "parent_discovery",
                    "system resolver",
                    zone,
                    f"{parent_zone} NS",
                    error_text(e),
                    "the parent zone and its servers' addresses",
                    "Give parent_servers, or make the system resolver able to find the "
                    f"parent zone of {zone}.",
                )
            )
            parent_servers = []
        if not parent_servers and not problems:
            problems.append(
                problem(
                    "parent_discovery",
                    "system resolver",
                    zone,
                    f"{parent_zone} NS",
                    "no addresses",
                    "the parent zone's server addresses",
                    f"Give parent_servers; the servers of {parent_zone} have no address.",
                )
            )

    return parent_zone, list(parent_servers or []), problems


def check_dnssec(  # noqa: PLR0913 (what to ask, whom, and how)
    zone: str,
    parent_zone: str,
    parent_servers: list[str],
    servers: list[tuple[str, str]],
    *,
    port: int,
    timeout: float,
    dnssec: bool,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The DS records the parent should have (as text) and the dnssec and ds problems.

    Every name server address in SERVERS ([(label, address)]) is asked for the DNSKEY RRset,
    with DNSSEC also for the signed SOA; the keys of the first one that has a DNSKEY RRset
    are compared with the DS records at each of PARENT_SERVERS."""
    problems = []
    keys: list[Any] = []
    for label, address in servers:
        dnskey = ask_summary(
            lambda r: summarize_signed(zone, "DNSKEY", r),
            zone,
            "DNSKEY",
            address,
            port=port,
            timeout=timeout,
            dnssec=True,
        )
        if not keys and dnskey.get("rrset") is not None:
            keys = list(dnskey["rrset"])
        if dnssec:
            soa = ask_summary(
                lambda r: summarize_signed(zone, "SOA", r),
                zone,
                "SOA",
                address,
                port=port,
                timeout=timeout,
                dnssec=True,
            )
            problems.extend(dnssec_problems(zone, label, dnskey, soa))
    for server in parent_servers:
        answer = ask_summary(
            lambda r: summarize_ds(zone, r), zone, "DS", server, port=port, timeout=timeout
        )
        problems.extend(ds_problems(zone, parent_zone, server, answer, keys, dnssec=dnssec))
    return sorted(ds_text(zone, d) for d in expected_ds(zone, keys)), problems


def wait_for_record(
    servers: list[tuple[str, str]],
    wait_for: dict[str, Any],
    *,
    port: int,
    timeout: float,
) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Ask SERVERS ([(label, address)]) every POLL_INTERVAL seconds for the wait_for record
    until each shows its value or wait_for["timeout"] seconds have passed.

    Returns the seconds until each label showed it (None: never) and what the others answered
    last (the values, or an error text)."""
    name, rdtype = normalize(wait_for["name"]), wait_for["type"]
    wanted = wanted_value(rdtype, wait_for["value"])
    arrival: dict[str, float | None] = {label: None for label, _ in servers}
    last: dict[str, Any] = {}
    pending = list(servers)
    start = time.monotonic()
    deadline = start + wait_for["timeout"]
    while pending:
        for label, address in list(pending):
            query_timeout = max(0.05, min(timeout, deadline - time.monotonic()))
            answer = ask_summary(
                lambda r: {"values": record_values(name, rdtype, r)},
                name,
                rdtype,
                address,
                port=port,
                timeout=query_timeout,
            )
            if wanted in answer.get("values", []):
                arrival[label] = round(time.monotonic() - start, 2)
                last.pop(label, None)
                pending.remove((label, address))
            else:
                last[label] = answer.get("error", answer.get("values"))
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        time.sleep(min(POLL_INTERVAL, remaining))
    return arrival, last


def check_round_trip(
    zone: str,
    servers: list[tuple[str, str]],
    wait_for: dict[str, Any] | None,
    *,
    port: int,
    timeout: float,
) -> tuple[dict[str, float | None], list[dict[str, Any]]]:
    """The arrival of the wait_for record at SERVERS and the round_trip problems; nothing
    without WAIT_FOR."""
    if not wait_for:
        return {}, []
    arrival, last = wait_for_record(servers, wait_for, port=port, timeout=timeout)
    return arrival, round_trip_problems(zone, wait_for, arrival, last)


def run_checks(  # noqa: PLR0913 (the module's options)
    zone: str,
    nameservers: list[dict[str, Any]],
    *,
    parent_servers: list[str] | None = None,
    port: int = 53,
    timeout: float = 3.0,
    nxdomain_probe: bool = True,
    dnssec: bool = False,
    wait_for: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """All checks; the module's result without changed/failed."""
    zone = normalize(zone)
    errors = network_errors()

    parent_zone, parent_servers, problems = resolve_parent(zone, parent_servers, timeout)
    reachable_parents = []
    for server in parent_servers:
        try:
            answer = summarize_delegation(zone, ask(zone, "NS", server, port, timeout))
        except errors as e:
            answer = {"error": error_text(e)}
        else:
            reachable_parents.append(server)
        problems.extend(delegation_problems(zone, parent_zone, server, answer, nameservers))

    serials: dict[str, int] = {}
    answering: list[tuple[str, str]] = []
    for ns in nameservers:
        for key in ("ipv4", "ipv6"):
            address = ns.get(key)
            if not address:
                continue
            label = server_label(ns["name"], address)
            try:
                answer = summarize_soa(zone, ask(zone, "SOA", address, port, timeout))
            except errors as e:
                answer = {"error": error_text(e)}
            else:
                answering.append((label, address))
            found = soa_problems(zone, label, answer)
            problems.extend(found)
            if not found:
                serials[label] = answer["serial"]
    problems.extend(compare_serials(zone, serials))

    if nxdomain_probe:
        qname = f"_check-{secrets.token_hex(6)}.{zone}"
        for label, address in answering:
            try:
                answer = summarize_rcode(ask(qname, "A", address, port, timeout))
            except errors as e:
                answer = {"error": error_text(e)}
            problems.extend(nxdomain_problems(zone, label, qname, answer))

    ds, found = check_dnssec(
        zone,
        parent_zone,
        reachable_parents,
        answering,
        port=port,
        timeout=timeout,
        dnssec=dnssec,
    )
    problems.extend(found)

    arrival, found = check_round_trip(zone, answering, wait_for, port=port, timeout=timeout)
    problems.extend(found)

    return {
        "ok": not problems,
        "problems": problems,
        "parent_zone": parent_zone,
        "parent_servers": list(parent_servers),
        "serials": serials,
        "ds": ds,
        "arrival": arrival,
    }


def cryptography_missing() -> str | None:
    """Why dns.dnssec.validate cannot work here (a message for fail_json); None when it can."""
    reason = "to validate DNSSEC signatures (dnssec: true)"
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        return missing_required_lib("cryptography", reason=reason)
    # dnspython >= 2.4 also refuses a cryptography older than it needs; it then says so here
    if not getattr(dns.dnssec, "_have_pyca", True):
        return (
            missing_required_lib("cryptography", reason=reason)
            + " (cryptography is installed, but too old for this dnspython)"
        )
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "zone": {"type": "str", "required": True},
            "nameservers": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "ipv4": {"type": "str"},
                    "ipv6": {"type": "str"},
                },
            },
            "parent_servers": {"type": "list", "elements": "str"},
            "port": {"type": "int", "default": 53},
            "timeout": {"type": "float", "default": 3},
            "nxdomain_probe": {"type": "bool", "default": True},
            "dnssec": {"type": "bool", "default": False},
            "wait_for": {
                "type": "dict",
                "options": {
                    "name": {"type": "str", "required": True},
                    "type": {"type": "str", "choices": ["A", "AAAA", "TXT"], "default": "TXT"},
                    "value": {"type": "str", "required": True},
                    "timeout": {"type": "float", "default": 10},
                },
            },
        },
        supports_check_mode=True,
    )
    if DNS_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=DNS_IMPORT_ERROR)
    if DNSSEC_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib("cryptography", reason="to import dns.dnssec"),
            exception=DNSSEC_IMPORT_ERROR,
        )
    params = module.params
    errors = check_arguments(params["zone"], params["nameservers"])
    for server in params["parent_servers"] or []:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            errors.append(f"parent_servers: {server!r} is not an IP address")
    if not 0 < params["port"] < 65536:
        errors.append(f"port {params['port']} is out of range")
    if params["timeout"] <= 0:
        errors.append("timeout must be positive")
    if params["wait_for"]:
        errors.extend(check_wait_for(params["zone"], params["wait_for"]))
    if errors:
        module.fail_json(msg="; ".join(errors))
    if params["dnssec"]:
        missing = cryptography_missing()
        if missing is not None:
            module.fail_json(msg=missing, exception=CRYPTOGRAPHY_IMPORT_ERROR)
    result = run_checks(
        zone=params["zone"],
        nameservers=params["nameservers"],
        parent_servers=params["parent_servers"],
        port=params["port"],
        timeout=params["timeout"],
        nxdomain_probe=params["nxdomain_probe"],
        dnssec=params["dnssec"],
        wait_for=params["wait_for"],
    )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
