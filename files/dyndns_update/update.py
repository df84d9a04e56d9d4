"""The core of one update, shared by /nic/update and the secret URLs.

Decides per host whether it may be changed, what its RRsets should be, reads
the current ones, and sends one UPDATE with just the RRsets that differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .config import Config, HostConfig
from .dnsio import DnsClient, DnsRejected, DnsUnreachable, RRsetChange, make_rdatas
from .protocol import Code, UpdateRequest, acme_name, format_line, normalize_hostname


@dataclass(frozen=True)
class HostResult:
    """The answer for one requested hostname, and what the log line says about it."""

    host: str  # normalized name, or the raw value when it is not an FQDN
    code: Code
    line: str
    error: str = ""  # why, for the log; never holds a secret


def wanted_rrsets(host: str, request: UpdateRequest) -> list[RRsetChange]:
    """The RRsets `request` asks for at `host`; the families not asked for are absent."""
    changes = []
    if request.ipv4 is not None:
        changes.append(RRsetChange(host, "A", (str(request.ipv4),)))
    if request.ipv6 is not None:
        changes.append(RRsetChange(host, "AAAA", (str(request.ipv6),)))
    if request.txt is not None:
        changes.append(RRsetChange(acme_name(host), "TXT", request.txt))
    return changes


def allowed_types_missing(host: HostConfig, request: UpdateRequest) -> list[str]:
    """The record types `request` needs that `host` may not change."""
    needed = {c.rdtype for c in wanted_rrsets(host.name, request)}
    return sorted(needed - host.types)


def update_host(client: DnsClient, host: HostConfig, request: UpdateRequest, ttl: int) -> Code:
    """good or nochg; raises DnsUnreachable / DnsRejected with nothing changed."""
    changes = [
        c
        for c in wanted_rrsets(host.name, request)
        if client.fetch(c.name, c.rdtype) != make_rdatas(c.rdtype, c.values)
    ]
    if not changes:
        return Code.NOCHG
    client.replace(changes, ttl)
    return Code.GOOD


def handle_hosts(
    config: Config,
    client: DnsClient,
    raw_names: Sequence[str],
    may_update: Callable[[HostConfig], bool],
    request: UpdateRequest,
) -> list[HostResult]:
    """One result per requested name, in request order."""
    results = []
    unreachable = ""  # once the server is unreachable, the later hosts do not wait again
    for raw in raw_names:
        name = normalize_hostname(raw)
        if name is None:
            results.append(HostResult(raw, Code.NOTFQDN, format_line(Code.NOTFQDN)))
            continue
        host = config.hosts.get(name)
        if host is None or not may_update(host):
            results.append(HostResult(name, Code.NOHOST, format_line(Code.NOHOST)))
            continue
        missing = allowed_types_missing(host, request)
        if missing:
            error = "type not allowed: " + ",".join(missing)
            results.append(HostResult(name, Code.NOHOST, format_line(Code.NOHOST), error))
            continue
        if unreachable:
            error = f"not tried, server unreachable: {unreachable}"
            results.append(HostResult(name, Code.SERVERERROR, "911", error))
            continue
        try:
            code = update_host(client, host, request, config.ttl)
        except DnsUnreachable as err:
            unreachable = str(err)
            results.append(HostResult(name, Code.SERVERERROR, "911", unreachable))
            continue
        except DnsRejected as err:
            results.append(HostResult(name, Code.DNSERR, "dnserr", str(err)))
            continue
        results.append(HostResult(name, code, format_line(code, request.addresses)))
    return results
