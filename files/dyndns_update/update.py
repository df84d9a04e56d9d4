"""The core of one update, shared by /nic/update and the secret URLs.

Decides per host whether it may be changed, what its RRsets should be, reads
the current ones, and, when any differs, sends one UPDATE that sets every RRset
asked for. One host is handled by one thread at a time, and the UPDATE carries
the whole request, so concurrent requests for a host end with exactly the set
one of them asked for, even across processes.

TXT values added or removed one by one (addtxt/deltxt) go into the same UPDATE as
single-record operations, under a prerequisite that the TXT set is still the one
read: so concurrent additions from several processes all end up in the set, and
the set never grows past MAX_TXT_VALUES. When another process changed it in
between, the host is read and sent again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .config import Config, HostConfig
from .dnsio import (
    DnsConflict,
    DnsRejected,
    DnsServer,
    DnsUnreachable,
    RRsetChange,
    TxtEdit,
    make_rdatas,
    rdata_text,
)
from .protocol import (
    MAX_TXT_VALUES,
    Code,
    UpdateRequest,
    acme_name,
    format_line,
    lan_address,
    normalize_hostname,
)


@dataclass(frozen=True)
class HostResult:
    """The answer for one requested hostname, and what the log line says about it."""

    host: str | None  # normalized name; None when the request's name is not an FQDN
    code: Code
    line: str
    error: str = ""  # why, for the log; never holds a secret
    request: UpdateRequest | None = None  # what was asked of this host, as it reads it


def wanted_rrsets(host: HostConfig, request: UpdateRequest) -> list[RRsetChange]:
    """The RRsets `request` asks for at the names of `host`; what it does not ask for is
    absent. The host's addresses go to the host and its aliases; its LAN machines get the
    prefix + their interface id, or lose their AAAA with the host's when no prefix is known."""
    changes = []
    for rdtype, address in (("A", request.ipv4), ("AAAA", request.ipv6)):
        if address is not None or rdtype in request.clear:
            values = (str(address),) if address is not None else ()
            changes += [RRsetChange(name, rdtype, values) for name in (host.name, *host.aliases)]
    prefix = request.prefix
    for machine in host.lan:
        if prefix is not None:
            address = lan_address(prefix, machine.interface_id, machine.prefix_length)
            changes.append(RRsetChange(machine.name, "AAAA", (str(address),)))
        elif "AAAA" in request.clear:
            changes.append(RRsetChange(machine.name, "AAAA", ()))
    if request.txt is not None:
        changes.append(RRsetChange(acme_name(host.name), "TXT", request.txt))
    return changes


def allowed_types_missing(host: HostConfig, request: UpdateRequest) -> list[str]:
    """The record types `request` needs that `host` may not change."""
    needed = {c.rdtype for c in wanted_rrsets(host, request)}
    if request.edits_txt:
        needed.add("TXT")
    return sorted(needed - host.types)


def served_rrsets(client: DnsServer, host: HostConfig) -> dict[str, dict[str, list[str]]]:
    """What the server serves now at every name of `host`, for the types it may have: name
    -> type -> sorted values. DnsUnreachable / DnsRejected as DnsServer.fetch raises them."""
    queries = [
        (name, rdtype)
        for name in (host.name, *host.aliases)
        for rdtype in ("A", "AAAA")
        if rdtype in host.types
    ]
    queries += [(machine.name, "AAAA") for machine in host.lan]
    if "TXT" in host.types:
        queries.append((acme_name(host.name), "TXT"))
    served: dict[str, dict[str, list[str]]] = {}
    for name, rdtype in queries:
        values = sorted(rdata_text(rdata) for rdata in client.fetch(name, rdtype))
        served.setdefault(name, {})[rdtype] = values
    return served


UPDATE_ATTEMPTS = 5  # reads and UPDATEs of one host while others change its TXT set


class TxtSetFull(Exception):
    """Adding the values would make the TXT set larger than MAX_TXT_VALUES: badtxt."""


def txt_edit(
    client: DnsServer, host: HostConfig, request: UpdateRequest, recent: str | None = None
) -> TxtEdit | None:
    """The single TXT records to add and remove, with the set they apply to; None when
    the set already is as asked. TxtSetFull when it would grow too large.

    With `txt_recent` (acme-dns), the value joins the most recent other one, `recent`
    (what this process last set for the host) if still there, else the only value there,
    and every other value goes."""
    name = acme_name(host.name)
    current = client.fetch(name, "TXT")
    add = make_rdatas("TXT", request.txt_add)
    delete = make_rdatas("TXT", request.txt_delete)
    if request.txt_recent:
        keep = current & make_rdatas("TXT", [recent] if recent else [])
        delete = current - (keep or (current if len(current) == 1 else frozenset())) - add
    after = (current | add) - delete
    if after == current:
        return None
    if len(after) > MAX_TXT_VALUES and not after <= current:
        raise TxtSetFull(f"TXT set would hold more than {MAX_TXT_VALUES} values")
    return TxtEdit(name, add, delete, current)


def update_host(
    client: DnsServer, host: HostConfig, request: UpdateRequest, ttl: int, recent: str | None = None
) -> Code:
    """good or nochg; raises DnsUnreachable / DnsRejected with nothing changed, TxtSetFull
    for a TXT set that would grow too large. `recent`: see txt_edit."""
    wanted = wanted_rrsets(host, request)
    for _attempt in range(UPDATE_ATTEMPTS):
        same = all(
            client.fetch(c.name, c.rdtype) == make_rdatas(c.rdtype, c.values) for c in wanted
        )
        edit = txt_edit(client, host, request, recent) if request.edits_txt else None
        if same and edit is None:
            return Code.NOCHG
        try:
            client.replace(wanted, ttl, edit)
        except DnsConflict:
            continue  # another process changed the TXT set since we read it: read again
        return Code.GOOD
    raise DnsRejected(f"TXT set changed by others {UPDATE_ATTEMPTS} times in a row")


class Updater:
    """`handle` serves both endpoints; one lock per configured host, shared by the threads."""

    def __init__(self, config: Config, client: DnsServer) -> None:
        self.config = config
        self.client = client
        self.locks = {name: threading.Lock() for name in config.hosts}
        self.recent: dict[str, str] = {}  # host -> the TXT value last set by acme-dns's API

    def handle(
        self,
        raw_names: Sequence[str],
        may_update: Callable[[HostConfig], bool],
        request: UpdateRequest,
    ) -> list[HostResult]:
        """One result per requested name, in request order."""
        config, client = self.config, self.client
        asked = request
        results = []
        unreachable = ""  # once the server is unreachable, the later hosts do not wait again
        for raw in raw_names:
            name = normalize_hostname(raw)
            if name is None:
                results.append(HostResult(None, Code.NOTFQDN, format_line(Code.NOTFQDN)))
                continue
            host = config.hosts.get(name)
            if host is None or not may_update(host):
                results.append(HostResult(name, Code.NOHOST, format_line(Code.NOHOST)))
                continue
            request = asked.for_host(host.empty_clears)
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
                with self.locks[name]:
                    code = update_host(client, host, request, config.ttl, self.recent.get(name))
                    if request.txt_recent:
                        self.recent[name] = request.txt_add[0]
            except DnsUnreachable as err:
                unreachable = str(err)
                results.append(HostResult(name, Code.SERVERERROR, "911", unreachable))
                continue
            except DnsRejected as err:
                results.append(HostResult(name, Code.DNSERR, "dnserr", str(err)))
                continue
            except TxtSetFull as err:
                results.append(HostResult(name, Code.BADTXT, "badtxt", str(err)))
                continue
            line = format_line(code, request.addresses)
            results.append(HostResult(name, code, line, request=request))
        return results
