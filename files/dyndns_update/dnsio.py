"""Network I/O with the DNS server: read an RRset, send one TSIG-signed UPDATE.

Reads go over UDP (TCP when truncated), the UPDATE over TCP, each thread on
connections it keeps.

Uses only dnspython APIs present in dnspython 2.3 (Debian 12).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from .config import TsigKey


class DnsUnreachable(Exception):
    """No answer from the server: refused, reset, timed out. Nothing was changed."""


class DnsRejected(Exception):
    """The server answered with an error (rcode or TSIG). Nothing was changed."""


class DnsConflict(DnsRejected):
    """A prerequisite failed: the RRset changed since it was read. Nothing was changed."""


@dataclass(frozen=True)
class RRsetChange:
    """Make the `rdtype` RRset of `name` exactly `values`; no values deletes it."""

    name: str
    rdtype: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class TxtEdit:
    """Add and remove single TXT records at `name` (RFC 2136 2.5.1 and 2.5.4), keeping the
    others, provided its TXT set is still `current` (a value-dependent prerequisite)."""

    name: str
    add: frozenset[dns.rdata.Rdata]
    delete: frozenset[dns.rdata.Rdata]
    current: frozenset[dns.rdata.Rdata]


class DnsServer(Protocol):
    """What the update path needs of the DNS server: DnsClient, or a stand-in for it."""

    def fetch(self, name: str, rdtype: str) -> frozenset[dns.rdata.Rdata]: ...

    def replace(
        self, changes: Sequence[RRsetChange], ttl: int, edit: TxtEdit | None = None
    ) -> None: ...


def make_rdatas(rdtype: str, values: Iterable[str]) -> frozenset[dns.rdata.Rdata]:
    """Rdata for our values: addresses for A/AAAA, one string per TXT record."""
    kind = dns.rdatatype.from_text(rdtype)
    if kind == dns.rdatatype.TXT:
        return frozenset(
            dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, kind, [v.encode("ascii")]) for v in values
        )
    return frozenset(dns.rdata.from_text(dns.rdataclass.IN, kind, v) for v in values)


def rdata_text(rdata: dns.rdata.Rdata) -> str:
    """A record's value as make_rdatas takes it: an address, or a TXT record's text."""
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        return b"".join(rdata.strings).decode("ascii", "backslashreplace")
    return str(rdata.to_text())


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


class DnsClient:
    """Talks to one authoritative server, with a timeout per exchange.

    Each thread keeps its own UDP socket and TCP connection to the server, so a request
    does not pay a connection setup; one that failed in any way is closed and made anew.
    A reused TCP connection that the server closed while idle is retried once on a new
    one: our UPDATEs set whole RRsets, or add and remove single TXT records under a
    prerequisite, so sending one twice changes nothing more.
    """

    def __init__(self, zone: str, server: str, port: int, timeout: float, key: TsigKey) -> None:
        self.zone = _absolute(zone)
        self.server = server
        self.port = port
        self.timeout = timeout
        self._key = dns.tsig.Key(key.name, key.secret, key.algorithm)
        self._family = socket.AF_INET6 if ":" in server else socket.AF_INET
        self._sockets = threading.local()

    def _socket(self, kind: int) -> tuple[socket.socket, bool]:
        """This thread's socket of `kind`, and whether it was used before."""
        sock = getattr(self._sockets, str(kind), None)
        if sock is not None:
            return sock, True
        sock = socket.socket(self._family, kind)
        try:
            sock.settimeout(self.timeout)
            sock.connect((self.server, self.port))  # UDP too: a closed port is refused at once
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        setattr(self._sockets, str(kind), sock)
        return sock, False

    def _drop(self, kind: int) -> None:
        sock = getattr(self._sockets, str(kind), None)
        if sock is not None:
            sock.close()
            setattr(self._sockets, str(kind), None)

    def _udp(self, message: dns.message.Message) -> dns.message.Message:
        sock, _reused = self._socket(socket.SOCK_DGRAM)
        try:
            response, _used_tcp = dns.query.udp_with_fallback(
                message, self.server, timeout=self.timeout, port=self.port, udp_sock=sock
            )
        except BaseException:
            self._drop(socket.SOCK_DGRAM)
            raise
        return response

    def _tcp(self, message: dns.message.Message) -> dns.message.Message:
        sock, reused = self._socket(socket.SOCK_STREAM)
        try:
            return dns.query.tcp(
                message, self.server, timeout=self.timeout, port=self.port, sock=sock
            )
        except (OSError, EOFError):
            self._drop(socket.SOCK_STREAM)
            if not reused:
                raise
        except BaseException:
            self._drop(socket.SOCK_STREAM)
            raise
        return self._tcp(message)  # the idle connection was closed: once more, anew

    def _exchange(
        self,
        message: dns.message.Message,
        send: Callable[[dns.message.Message], dns.message.Message],
    ) -> dns.message.Message:
        try:
            return send(message)
        except dns.exception.Timeout as err:
            raise DnsUnreachable("timed out") from err
        except (OSError, EOFError) as err:
            raise DnsUnreachable(str(err) or type(err).__name__) from err
        except dns.exception.DNSException as err:  # TSIG errors, malformed answers
            raise DnsRejected(f"{type(err).__name__}: {err}") from err

    def fetch(self, name: str, rdtype: str) -> frozenset[dns.rdata.Rdata]:
        """The current RRset of `name`/`rdtype`; empty when there is none."""
        kind = dns.rdatatype.from_text(rdtype)
        query = dns.message.make_query(_absolute(name), kind)
        query.flags &= ~dns.flags.RD
        response = self._exchange(query, self._udp)
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return frozenset()
        if rcode != dns.rcode.NOERROR:
            raise DnsRejected(f"query answered {dns.rcode.to_text(rcode)}")
        rrset = response.get_rrset(response.answer, _absolute(name), dns.rdataclass.IN, kind)
        return frozenset(rrset) if rrset is not None else frozenset()

    def replace(
        self, changes: Sequence[RRsetChange], ttl: int, edit: TxtEdit | None = None
    ) -> None:
        """One atomic UPDATE: per change, delete the RRset by type, then add the values;
        with `edit`, its single TXT records too, if that TXT set is still as read
        (DnsConflict when not)."""
        update = dns.update.UpdateMessage(self.zone)
        for change in changes:
            name = _absolute(change.name)
            update.delete(name, change.rdtype)
            for rdata in make_rdatas(change.rdtype, change.values):
                update.add(name, ttl, rdata)
        if edit is not None:
            name = _absolute(edit.name)
            if edit.current:
                update.present(name, dns.rdataset.from_rdata_list(0, edit.current))
            else:
                update.absent(name, "TXT")
            for rdata in edit.delete:
                update.delete(name, rdata)
            for rdata in edit.add:
                update.add(name, ttl, rdata)
        update.use_tsig(self._key)
        response = self._exchange(update, self._tcp)
        rcode = response.rcode()
        if rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET):
            raise DnsConflict(f"update answered {dns.rcode.to_text(rcode)}")
        if rcode != dns.rcode.NOERROR:
            raise DnsRejected(f"update answered {dns.rcode.to_text(rcode)}")
