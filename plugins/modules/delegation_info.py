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
    expects an authoritative answer; all serials must be equal. A server behind the newest
    serial (in RFC 1982 serial arithmetic, so a serial that wrapped round is newer) is named
    with the serial it serves and how far behind it is.
  - With O(primary), also asks the hidden primary for the SOA, at each of its addresses; the
    name servers must have its serial, and one ahead of it is a problem too (another primary
    feeds it). The hidden primary takes part in nothing else; it is not expected at the parent
    and is not asked by the other checks.
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
  - selfhosted.dyndns developers (@selfhosted)
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
      - A name outside O(zone) may come without addresses; its A and AAAA records are then
        looked up through the system resolver, and each address found is asked. A name that
        does not resolve is a problem (C(nameserver_address)).
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
          - At least one of O(nameservers[].ipv4) and O(nameservers[].ipv6) is required for a
            name inside O(zone).
        type: str
      ipv6:
        description:
          - The server's IPv6 address.
        type: str
      external:
        description:
          - The server is a secondary DNS service run by others (a provider's), not one you
            configure yourself. Changes only the fix of a serial problem, which then points at
            that service's transfer log and settings.
        type: bool
        default: false
  primary:
    description:
      - A hidden primary, the server the name servers transfer the zone from, which is not in
        the NS set.
      - Asked for the SOA of O(zone) at each of its addresses, with an authoritative answer
        expected; its serial is the one every name server must have. It is not expected at
        the parent, nor asked by the NXDOMAIN, DNSSEC and O(wait_for) checks.
      - Its name must not be one of the O(nameservers) (the module fails otherwise); a primary
        in the NS set is checked as a name server.
    type: dict
    suboptions:
      name:
        description:
          - The primary's host name (the MNAME of the SOA).
        type: str
        required: true
      ipv4:
        description:
          - The primary's IPv4 address.
          - At least one of O(primary.ipv4) and O(primary.ipv6) is required.
        type: str
      ipv6:
        description:
          - The primary's IPv6 address.
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
      - The port of every query to the parent, to the name servers and to O(primary).
      - The system resolver, used only to find the parent servers and the addresses of name
        servers given without any, keeps its own port.
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

- name: Check a hidden primary behind a secondary DNS service
  selfhosted.dyndns.delegation_info:
    zone: dyn.example.org
    primary:
      name: hidden.example.net
      ipv4: 198.51.100.10
    nameservers:
      - name: ns2.dyn.example.org
        ipv4: 203.0.113.54
      - name: ns1.he.net  # outside the zone: its addresses are looked up
        external: true
  delegate_to: localhost

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
    - RV(problems[].check) is one of C(parent_discovery), C(parent_ns), C(glue),
      C(nameserver_address) (a name server given without addresses whose name does not
      resolve), C(soa), C(serial), C(nxdomain), C(ds) (the DS records at the parent),
      C(dnssec) (a name server's keys or signatures, only with O(dnssec)) and C(round_trip)
      (a name server did not show the O(wait_for) record in time).
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
  description:
    - The SOA serial each name server answered, keyed by C(name (address)).
    - With O(primary), also the hidden primary's, keyed by C(name (address) (hidden primary)).
  returned: always
  type: dict
  sample:
    {"ns1.dyn.example.org (203.0.113.53)": 1767225600,
     "hidden.example.net (198.51.100.10) (hidden primary)": 1767225600}
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.selfhosted.dyndns.plugins.module_utils.delegation_checks import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    DNSSEC_IMPORT_ERROR,
    check_arguments,
    cryptography_missing,
    run_checks,
)
from ansible_collections.selfhosted.dyndns.plugins.module_utils.querier import DNS_IMPORT_ERROR


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
                    "external": {"type": "bool", "default": False},
                },
            },
            "primary": {
                "type": "dict",
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
    errors = check_arguments(
        params["zone"],
        params["nameservers"],
        parent_servers=params["parent_servers"],
        port=params["port"],
        timeout=params["timeout"],
        wait_for=params["wait_for"],
        primary=params["primary"],
    )
    if errors:
        module.fail_json(msg="; ".join(errors))
    if params["dnssec"]:
        missing = cryptography_missing()
        if missing is not None:
            module.fail_json(msg=missing, exception=CRYPTOGRAPHY_IMPORT_ERROR)
    module.exit_json(changed=False, **run_checks(**params))


if __name__ == "__main__":
    main()
