# Copyright: selfhosted.dyndns developers
# MIT License (see LICENSE)

"""The DNS queries of delegation_info: one question to one server at a time, without
recursion, each answer read into a typed summary, or into NoAnswer saying why there is none."""

from __future__ import annotations

import ipaddress
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

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

T = TypeVar("T")


class NoAnswer(TypedDict):
    """A server that did not answer, and why (the text a problem shows as found)."""

    error: str


class Parent(TypedDict):
    zone: str  # the parent zone
    servers: list[str]  # its servers' addresses


class Rcode(TypedDict):
    rcode: str
    aa: bool


class Delegation(Rcode):
    ns: list[str] | None  # the NS set in the referral or the answer; None: neither
    glue: dict[str, dict[str, set[str]]]  # owner -> {"A": {...}, "AAAA": {...}}


class Soa(Rcode):
    serial: int | None


class DsSet(Rcode):
    ds: list[Any]  # the DS rdatas, empty when there are none


class Signed(Rcode):
    rrset: Any  # the RRset asked for, or None
    rrsig: Any  # the RRSIG RRset over it, or None


def normalize(name: str) -> str:
    """A DNS name in one spelling: lower case, without the trailing dot."""
    return name.strip().rstrip(".").lower()


def ask(  # noqa: PLR0913 (the query and where to send it)
    qname: str, rdtype: str, server: str, port: int, timeout: float, *, dnssec: bool = False
) -> dns.message.Message:
    """One non-recursive query, over UDP and again over TCP when the answer is truncated.
    With DNSSEC, the DO bit asks for the RRSIGs. Raises what a broken server causes."""
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


@dataclass(frozen=True)
class Querier:
    """Asks every question on PORT, waiting TIMEOUT seconds for each answer.

    SEND sends one query and returns the response (normally `ask`; a test may give another)."""

    send: Callable[..., dns.message.Message]
    port: int
    timeout: float

    def ask(  # noqa: PLR0913 (the query, where to send it, and how to read the answer)
        self,
        qname: str,
        rdtype: str,
        server: str,
        read: Callable[[dns.message.Message], T],
        *,
        dnssec: bool = False,
        timeout: float | None = None,
    ) -> T | NoAnswer:
        """READ applied to SERVER's answer to `QNAME RDTYPE`, or NoAnswer."""
        wait = self.timeout if timeout is None else timeout
        try:
            return read(self.send(qname, rdtype, server, self.port, wait, dnssec=dnssec))
        except network_errors() as e:
            return NoAnswer(error=error_text(e))

    def resolver(self) -> dns.resolver.Resolver:
        """The system resolver (on its own port), patient enough for TIMEOUT. Raises without
        /etc/resolv.conf."""
        resolver = dns.resolver.Resolver()
        resolver.lifetime = max(self.timeout * 3, resolver.lifetime)
        return resolver

    def find_parent(self, zone: str) -> Parent | NoAnswer:
        """The parent zone of ZONE and its servers' addresses, through the system resolver,
        or NoAnswer."""
        addresses: list[str] = []
        try:
            resolver = self.resolver()
            parent = dns.resolver.zone_for_name(
                dns.name.from_text(zone).parent(), resolver=resolver
            )
            for name in sorted(r.target for r in resolver.resolve(parent, "NS")):
                addresses.extend(resolve_addresses(resolver, name))
        except network_errors() as e:
            return NoAnswer(error=error_text(e))
        return Parent(zone=normalize(parent.to_text()) or ".", servers=sorted(set(addresses)))

    def find_addresses(self, name: str) -> list[str] | NoAnswer:
        """NAME's IPv4 and IPv6 addresses through the system resolver (empty when it has
        none), or NoAnswer."""
        try:
            return resolve_addresses(self.resolver(), name)
        except network_errors() as e:
            return NoAnswer(error=error_text(e))


def resolve_addresses(resolver: dns.resolver.Resolver, name: str | dns.name.Name) -> list[str]:
    """The A and then the AAAA addresses of NAME that RESOLVER finds; empty when it has none.
    Raises what an unreachable resolver causes."""
    addresses: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            addresses.extend(r.address for r in resolver.resolve(name, rdtype))
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
    return addresses


# --- reading the answers: no network ---------------------------------------------------------


def summarize_rcode(response: dns.message.Message) -> Rcode:
    return Rcode(rcode=dns.rcode.to_text(response.rcode()), aa=bool(response.flags & dns.flags.AA))


def summarize_delegation(zone: str, response: dns.message.Message) -> Delegation:
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
    return Delegation(**summarize_rcode(response), ns=ns, glue=glue)


def summarize_soa(zone: str, response: dns.message.Message) -> Soa:
    zname = dns.name.from_text(zone)
    serial = None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == zname:
            serial = rrset[0].serial
    return Soa(**summarize_rcode(response), serial=serial)


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


def summarize_ds(zone: str, response: dns.message.Message) -> DsSet:
    rrset = answer_rrset(response, zone, "DS")
    return DsSet(**summarize_rcode(response), ds=list(rrset) if rrset is not None else [])


def summarize_signed(zone: str, rdtype: str, response: dns.message.Message) -> Signed:
    """rcode, the RRset of ZONE and RDTYPE and the RRSIGs over it (each None when absent)."""
    return Signed(
        **summarize_rcode(response),
        rrset=answer_rrset(response, zone, rdtype),
        rrsig=answer_rrset(response, zone, "RRSIG", covers=rdtype),
    )


def record_values(name: str, rdtype: str, response: dns.message.Message) -> list[str]:
    """The values of the RRset of NAME and RDTYPE: addresses, or the text of each TXT record
    (its strings joined, without quotes)."""
    rrset = answer_rrset(response, name, rdtype)
    if rrset is None:
        return []
    if rdtype == "TXT":
        return sorted(b"".join(r.strings).decode("utf-8", errors="replace") for r in rrset)
    return sorted(str(ipaddress.ip_address(r.address)) for r in rrset)
