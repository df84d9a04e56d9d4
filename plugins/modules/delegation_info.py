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
  - Changes nothing. A delegation problem does not fail the module; it is listed in RV(problems)
    with a sentence saying what to set at the registrar or parent zone.
  - The queries are sent from the host the module runs on; run it where the internet's view
    matters, usually the controller (with C(delegate_to) V(localhost)).
author:
  - selfhosted.dyndns developers
requirements:
  - dnspython >= 2.3
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
      C(serial), C(nxdomain).
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
"""

import ipaddress
import secrets
import traceback
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
except ImportError:
    DNS_IMPORT_ERROR = traceback.format_exc()
else:
    DNS_IMPORT_ERROR = None


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


def ask(qname: str, rdtype: str, server: str, port: int, timeout: float) -> dns.message.Message:
    """One non-recursive query, over UDP and again over TCP when the answer is truncated."""
    query = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
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


def run_checks(  # noqa: PLR0913 (the module's options)
    zone: str,
    nameservers: list[dict[str, Any]],
    *,
    parent_servers: list[str] | None = None,
    port: int = 53,
    timeout: float = 3.0,
    nxdomain_probe: bool = True,
) -> dict[str, Any]:
    """All checks; the module's result without changed/failed."""
    zone = normalize(zone)
    errors = network_errors()

    parent_zone, parent_servers, problems = resolve_parent(zone, parent_servers, timeout)
    for server in parent_servers:
        try:
            answer = summarize_delegation(zone, ask(zone, "NS", server, port, timeout))
        except errors as e:
            answer = {"error": error_text(e)}
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

    return {
        "ok": not problems,
        "problems": problems,
        "parent_zone": parent_zone,
        "parent_servers": list(parent_servers),
        "serials": serials,
    }


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
        },
        supports_check_mode=True,
    )
    if DNS_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=DNS_IMPORT_ERROR)
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
    if errors:
        module.fail_json(msg="; ".join(errors))
    result = run_checks(
        zone=params["zone"],
        nameservers=params["nameservers"],
        parent_servers=params["parent_servers"],
        port=params["port"],
        timeout=params["timeout"],
        nxdomain_probe=params["nxdomain_probe"],
    )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
