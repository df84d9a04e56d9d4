#!/usr/bin/env python3
"""dyndns-client: tell a dyndns2 server this machine's IPv4 or IPv6 address.

Run from cron, once per host name and address family:

    dyndns-client --config /etc/dyndns-client/home.conf --family 4

It sends `GET <url>?hostname=<hostname>` with HTTP Basic auth and no `myip`: the server
takes the address the request comes from, so the connection goes over the family asked
for only. With `--clear`, it asks the server to delete that family's record instead
(`myipv4=none` / `myipv6=none`), over either family. Silent on success; a failure is
one line on stderr and in syslog. Exit codes: 0 success (`good`, `nochg`), 1 transient
failure after all retries, 2 a permanent failure or a bad config (fix something before
the next run).

As certbot's --manual-auth-hook (`--certbot-auth`) it adds certbot's DNS-01 value at
_acme-challenge.<CERTBOT_DOMAIN> (`addtxt`) and waits until the zone's name servers
answer with it; as its --manual-cleanup-hook (`--certbot-cleanup`) it removes that value
(`deltxt`).

Standard library only (Python 3.11+): it runs where only python3 is installed.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import enum
import errno
import http.client
import ipaddress
import os
import random
import re
import socket
import ssl
import struct
import sys
import syslog
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import quote, urlsplit

USER_AGENT = "selfhosted-dyndns-client/1.0"
SECTION = "dyndns"
REQUIRED = ("url", "hostname", "username", "password")
OPTIONAL = (
    "ca_file",
    "timeout",
    "retries",
    "nameservers",
    "propagation_timeout",
    "propagation_seconds",
)
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
MAX_TIMEOUT = 60.0
MAX_RETRIES = 5
DEFAULT_PROPAGATION_TIMEOUT = 60.0  # how long --certbot-auth polls the name servers
DEFAULT_PROPAGATION_SECONDS = 10.0  # how long it waits without `nameservers`
MAX_PROPAGATION = 3600.0
DNS_QUERY_TIMEOUT = 2.0  # seconds for one DNS query
DNS_POLL_INTERVAL = 2.0  # seconds between two rounds of queries
ACME_LABEL = "_acme-challenge"
BACKOFF_FIRST = 5.0  # seconds before the 2nd attempt; then x3 each time: 5, 15, 45, 60
BACKOFF_MAX = 60.0
MAX_BODY = 4096

EXIT_OK = 0
EXIT_TRANSIENT = 1
EXIT_PERMANENT = 2

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Logger = Callable[[int, str], None]  # (syslog priority, message)
Sleep = Callable[[float], None]


class ConfigError(Exception):
    """The config file is missing, unreadable or wrong; the message names the field."""


class TransportError(Exception):
    """The request did not get an HTTP answer (DNS, connect, TLS, timeout); transient."""


class Kind(enum.Enum):
    GOOD = "good"
    NOCHG = "nochg"
    PERMANENT = "permanent"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Config:
    path: str
    url: str
    host: str  # of the update URL
    port: int
    target: str  # path of the update URL
    hostname: str  # the dynamic host name to update
    username: str
    password: str = field(repr=False)
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    nameservers: tuple[tuple[str, int], ...] = ()  # (address, port) to poll for the TXT value
    propagation_timeout: float = DEFAULT_PROPAGATION_TIMEOUT
    propagation_seconds: float = DEFAULT_PROPAGATION_SECONDS


@dataclass(frozen=True)
class Request:
    host: str
    port: int
    target: str  # path and query
    family: socket.AddressFamily
    timeout: float
    context: ssl.SSLContext | None = field(repr=False)
    headers: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    message: str


Transport = Callable[[Request], Response]


# --- pure: config --------------------------------------------------------------------


def _fail(path: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: [{SECTION}] {key}: {problem}")


def _parse_url(path: str, url: str) -> tuple[str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as error:
        raise _fail(path, "url", f"{url!r} is not a valid URL ({error})") from None
    if parts.scheme != "https":
        raise _fail(path, "url", f"{url!r} must start with https:// (it carries the password)")
    if not parts.hostname:
        raise _fail(path, "url", f"{url!r} has no host name")
    if "@" in parts.netloc:
        raise _fail(path, "url", "must not hold a user name or password; use username/password")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise _fail(path, "url", f"{url!r} must not have a query or fragment")
    if _CONTROL.search(url) or " " in url:
        raise _fail(path, "url", "must not hold spaces or control characters")
    return parts.hostname, port, parts.path or "/"


def _parse_hostname(path: str, value: str) -> str:
    name = value.lower().removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise _fail(path, "hostname", f"{value!r} is not a fully qualified host name")
    return name


def _parse_number(path: str, key: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _fail(path, key, f"{value!r} is not a number") from None
    if not low <= number <= high:
        raise _fail(path, key, f"{value!r} is out of range ({low:g} to {high:g})")
    return number


def _parse_nameservers(path: str, value: str) -> tuple[tuple[str, int], ...]:
    """`192.0.2.53, 2001:db8::53` (commas or spaces); `ADDRESS@PORT` for another port."""
    servers = []
    for item in value.replace(",", " ").split():
        address, at, port = item.partition("@")
        try:
            ipaddress.ip_address(address)
            valid = not at or (port.isdigit() and 1 <= int(port) <= 65535)
        except ValueError:
            valid = False
        if not valid:
            raise _fail(path, "nameservers", f"{item!r} is not an IP address (or ADDRESS@PORT)")
        servers.append((address, int(port) if at else 53))
    return tuple(servers)


def _read_ini(text: str, path: str) -> dict[str, str]:
    """The fields of the one [dyndns] section; errors never quote a line (it may hold the
    password)."""
    # No interpolation: '%' is an ordinary character in a password. No DEFAULT section
    # either: a [DEFAULT] in the file is just an unknown section.
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00")
    try:
        parser.read_string(text, source=path)
    except configparser.MissingSectionHeaderError as error:
        raise ConfigError(f"{path}: line {error.lineno}: expected the [{SECTION}] header") from None
    except configparser.ParsingError as error:
        lines = ", ".join(str(lineno) for lineno, _line in error.errors)
        raise ConfigError(f"{path}: line {lines}: not a 'key = value' line") from None
    except (configparser.DuplicateOptionError, configparser.DuplicateSectionError) as error:
        what = getattr(error, "option", None) or f"section [{error.section}]"
        raise ConfigError(f"{path}: line {error.lineno}: {what} given twice") from None
    except configparser.Error as error:
        raise ConfigError(f"{path}: not an INI file ({type(error).__name__})") from None
    others = [name for name in parser.sections() if name != SECTION]
    if others:
        raise ConfigError(f"{path}: unknown section [{others[0]}]; only [{SECTION}] is read")
    if not parser.has_section(SECTION):
        raise ConfigError(f"{path}: no [{SECTION}] section")
    values = dict(parser.items(SECTION))
    for key, value in values.items():
        if key not in REQUIRED + OPTIONAL:
            raise _fail(path, key, "unknown field")
        if _CONTROL.search(value):
            raise _fail(path, key, "must be one line without control characters")
    for key in REQUIRED:
        if not values.get(key):
            raise _fail(path, key, "missing or empty")
    return values


def parse_config(text: str, path: str) -> Config:
    """The config file's text as a Config; ConfigError names the field, never the password."""
    values = _read_ini(text, path)
    host, port, target = _parse_url(path, values["url"])
    if ":" in values["username"]:
        raise _fail(path, "username", "must not hold ':' (HTTP Basic auth cannot carry it)")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in values:
        timeout = _parse_number(path, "timeout", values["timeout"], 1, MAX_TIMEOUT)
    retries = DEFAULT_RETRIES
    if "retries" in values:
        if not values["retries"].isdigit():
            raise _fail(path, "retries", f"{values['retries']!r} is not a whole number")
        retries = int(_parse_number(path, "retries", values["retries"], 1, MAX_RETRIES))
    waits = {"propagation_timeout": DEFAULT_PROPAGATION_TIMEOUT}
    waits["propagation_seconds"] = DEFAULT_PROPAGATION_SECONDS
    for key in waits:
        if key in values:
            low = 1 if key == "propagation_timeout" else 0
            waits[key] = _parse_number(path, key, values[key], low, MAX_PROPAGATION)
    return Config(
        path=path,
        url=values["url"],
        host=host,
        port=port,
        target=target,
        hostname=_parse_hostname(path, values["hostname"]),
        username=values["username"],
        password=values["password"],
        ca_file=values.get("ca_file") or None,
        timeout=timeout,
        retries=retries,
        nameservers=_parse_nameservers(path, values.get("nameservers", "")),
        **waits,
    )


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_config(text, path)


def tls_context(config: Config) -> ssl.SSLContext:
    """Certificate and host name checks on; with ca_file, only that CA is trusted."""
    try:
        return ssl.create_default_context(cafile=config.ca_file)
    except (OSError, ssl.SSLError) as error:
        problem = getattr(error, "strerror", None) or str(error)
        raise _fail(config.path, "ca_file", f"cannot load {config.ca_file}: {problem}") from None


# --- pure: request and answers -------------------------------------------------------


def family_label(family: int) -> str:
    return {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6"}.get(family, "IP")


def build_request(
    config: Config,
    family: socket.AddressFamily,
    context: ssl.SSLContext | None,
    hostname: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> Request:
    """The GET for `hostname` (the config's by default), with `extra` query parameters."""
    credentials = f"{config.username}:{config.password}".encode()
    query = [("hostname", hostname or config.hostname), *extra]
    return Request(
        host=config.host,
        port=config.port,
        target=config.target + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query),
        family=family,
        timeout=config.timeout,
        context=context,
        headers={
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
            "User-Agent": USER_AGENT,
            "Accept": "text/plain",
            "Connection": "close",
        },
    )


# Answers that are not success: (kind, what to do). Filled in with the config's values.
_STATUS = {
    401: (Kind.PERMANENT, "HTTP 401: the server refused the username or password in {conf}"),
    403: (Kind.PERMANENT, "HTTP 403: the server forbids {url}; check url in {conf}"),
    404: (Kind.PERMANENT, "HTTP 404: no update endpoint at {url}; check url in {conf}"),
    408: (Kind.TRANSIENT, "HTTP 408: the server timed out waiting for the request"),
    429: (Kind.TRANSIENT, "HTTP 429: the server asks for fewer requests"),
}
_ANSWERS = {
    "badauth": (Kind.PERMANENT, "the server refused the username or password in {conf}"),
    "nohost": (
        Kind.PERMANENT,
        "the server does not let user {user} set an {label} address for {host};"
        " check hostname in {conf} and the host's record types on the server",
    ),
    "notfqdn": (
        Kind.PERMANENT,
        "the server does not take {host} as a host name; check hostname in {conf}",
    ),
    "abuse": (
        Kind.PERMANENT,
        "the server blocks this client's address after too many failed logins;"
        " check username and password in {conf}, then wait for the block to end",
    ),
    "badagent": (Kind.PERMANENT, "the server refused this client's request; check url in {conf}"),
    "numhost": (
        Kind.PERMANENT,
        "the server refused the number of host names; check hostname in {conf}",
    ),
    "badip": (
        Kind.PERMANENT,
        "the server refused the {label} address it saw this request come from"
        " (loopback, link-local or reserved)",
    ),
    "badtxt": (
        Kind.PERMANENT,
        "the server refused a TXT value, which this client never sends; check url in {conf}",
    ),
    "911": (Kind.TRANSIENT, "the server has a temporary problem"),
    "dnserr": (Kind.TRANSIENT, "the server's DNS update failed"),
}
# What these answers mean when the request added or removed a TXT value (certbot hooks).
_TXT_ANSWERS = {
    "nohost": (
        Kind.PERMANENT,
        "the server does not let user {user} set TXT records for {host}; the domain must be"
        " hostname in {conf} (or another host of user {user}) with TXT in its types on the server",
    ),
    "badtxt": (
        Kind.PERMANENT,
        "the server refused the TXT value, or _acme-challenge.{host} already holds 4 values"
        " (remove stale ones)",
    ),
}


def first_line(body: bytes) -> str:
    """The first line of an answer, printable ASCII only, at most 80 characters."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    line = lines[0].strip() if lines else ""
    return "".join(c if " " <= c <= "~" else "?" for c in line)[:80]


def classify(response: Response, config: Config, family: int, txt_host: str = "") -> Verdict:
    """What an HTTP answer means: success, a failure to fix (permanent), or try again.
    `txt_host`: the request added or removed a TXT value of that host."""
    fields = {
        "conf": config.path,
        "url": config.url,
        "user": config.username,
        "host": txt_host or config.hostname,
        "label": family_label(family),
    }
    status = response.status
    if status in _STATUS:
        kind, text = _STATUS[status]
        return Verdict(kind, text.format(**fields))
    if status >= 500:
        return Verdict(Kind.TRANSIENT, f"HTTP {status}: server error")
    if status != 200:
        return Verdict(
            Kind.PERMANENT, f"HTTP {status} from {config.url}; check url in {config.path}"
        )
    line = first_line(response.body)
    code = line.split(" ", 1)[0]
    if code in ("good", "nochg"):
        return Verdict(Kind(code), line)
    answers = {**_ANSWERS, **_TXT_ANSWERS} if txt_host else _ANSWERS
    if code in answers:
        kind, text = answers[code]
        return Verdict(kind, f"{code}: " + text.format(**fields))
    what = f"unexpected answer {line!r}" if line else "empty answer"
    return Verdict(Kind.PERMANENT, f"{what} from {config.url}; check url in {config.path}")


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): 5, 15, 45, 60, ..."""
    return min(BACKOFF_FIRST * 3 ** (attempt - 1), BACKOFF_MAX)


def redact(message: str, config: Config | None) -> str:
    """Defence in depth: no password or Authorization value ever leaves this program."""
    if config is None:
        return message
    token = base64.b64encode(f"{config.username}:{config.password}".encode()).decode("ascii")
    for secret in (token, config.password):
        if len(secret) >= 3:
            message = message.replace(secret, "***")
    return message


# --- pure: DNS packets (a TXT query and its answer, RFC 1035 4.1) ----------------------

TYPE_TXT = 16
CLASS_IN = 1
FLAG_QR = 0x8000
FLAG_TC = 0x0200
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DnsError(Exception):
    """A DNS answer that is malformed, or not the answer to our query."""


@dataclass(frozen=True)
class DnsAnswer:
    rcode: int
    truncated: bool
    txt: tuple[str, ...]  # each TXT record at the name asked for, its strings joined


def dns_query(name: str, query_id: int) -> bytes:
    """A query for the TXT records of `name`, without recursion: the server's own data."""
    header = struct.pack("!6H", query_id, 0, 1, 0, 0, 0)
    labels = [label.encode("ascii") for label in name.rstrip(".").split(".")]
    if not all(0 < len(label) < 64 for label in labels):
        raise DnsError(f"not a domain name: {name!r}")
    qname = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    return header + qname + struct.pack("!2H", TYPE_TXT, CLASS_IN)


def _read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """The (lowercase) name at `offset`, following compression pointers, and the offset
    after it."""
    labels: list[str] = []
    after = None
    for _step in range(128):  # at most 127 labels in a name, and no pointer loops
        if offset >= len(packet):
            raise DnsError("name runs past the end of the answer")
        length = packet[offset]
        if length >= 0xC0:
            if offset + 1 >= len(packet):
                raise DnsError("name runs past the end of the answer")
            after = offset + 2 if after is None else after
            offset = (length & 0x3F) << 8 | packet[offset + 1]
            continue
        if length >= 0x40:
            raise DnsError("unknown label type")
        if length == 0:
            return ".".join(labels), offset + 1 if after is None else after
        label = packet[offset + 1 : offset + 1 + length]
        if len(label) != length:
            raise DnsError("name runs past the end of the answer")
        labels.append(label.decode("latin-1").lower())
        offset += 1 + length
    raise DnsError("name too long or a compression loop")


def _txt_strings(rdata: bytes) -> str:
    parts = []
    offset = 0
    while offset < len(rdata):
        length = rdata[offset]
        part = rdata[offset + 1 : offset + 1 + length]
        if len(part) != length:
            raise DnsError("TXT string runs past its record")
        parts.append(part)
        offset += 1 + length
    return b"".join(parts).decode("latin-1")


def parse_txt_answer(packet: bytes, query_id: int, name: str) -> DnsAnswer:
    """The answer to our TXT query for `name`: its rcode, TC flag and TXT values."""
    if len(packet) < 12:
        raise DnsError("answer shorter than a DNS header")
    ident, flags, qdcount, ancount, _nscount, _arcount = struct.unpack_from("!6H", packet)
    if ident != query_id or not flags & FLAG_QR:
        raise DnsError("not the answer to our query")
    offset = 12
    for _question in range(qdcount):
        _qname, offset = _read_name(packet, offset)
        offset += 4
    values = []
    for _record in range(ancount):
        owner, offset = _read_name(packet, offset)
        if offset + 10 > len(packet):
            raise DnsError("record runs past the end of the answer")
        rtype, rclass, _ttl, length = struct.unpack_from("!HHIH", packet, offset)
        rdata = packet[offset + 10 : offset + 10 + length]
        if len(rdata) != length:
            raise DnsError("record runs past the end of the answer")
        offset += 10 + length
        if (rtype, rclass, owner) == (TYPE_TXT, CLASS_IN, name.rstrip(".").lower()):
            values.append(_txt_strings(rdata))
    return DnsAnswer(flags & 0xF, bool(flags & FLAG_TC), tuple(values))


# --- network -------------------------------------------------------------------------


def _where(host: str, sockaddr: tuple[object, ...]) -> str:
    address, port = str(sockaddr[0]), sockaddr[1]
    where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return where if address == host else f"{host} ({where})"


def open_socket(
    host: str, port: int, family: socket.AddressFamily, timeout: float
) -> socket.socket:
    """A TCP connection to host over `family` only; TransportError says why not."""
    label = family_label(family)
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except socket.gaierror as error:
        try:
            socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except socket.gaierror:
            raise TransportError(f"cannot resolve {host}: {error.strerror}") from None
        raise TransportError(f"no {label} address for {host}") from None
    failures: list[tuple[tuple[object, ...], OSError]] = []
    for af, socktype, proto, _canonname, sockaddr in infos:
        sock = socket.socket(af, socktype, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as error:
            sock.close()
            failures.append((sockaddr, error))
            continue
        return sock
    if not failures:
        raise TransportError(f"no {label} address for {host}")
    sockaddr, error = failures[0]
    where = _where(host, sockaddr)
    if isinstance(error, TimeoutError):
        raise TransportError(f"no {label} connection to {where} within {timeout:g} s")
    if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
        raise TransportError(f"no {label} route to {where}: {error.strerror}")
    raise TransportError(f"cannot connect to {where} over {label}: {error.strerror or error}")


class FamilyHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS over one address family; TLS still checks the certificate against `host`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        family: socket.AddressFamily,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.family = family
        self.tls = context

    def connect(self) -> None:
        sock = open_socket(self.host, self.port, self.family, self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def https_get(request: Request) -> Response:
    """The real transport: one GET; anything short of an HTTP answer is a TransportError."""
    if request.context is None:
        raise TransportError("no TLS context")
    host = request.host
    connection = FamilyHTTPSConnection(
        host,
        request.port,
        family=request.family,
        timeout=request.timeout,
        context=request.context,
    )
    try:
        connection.request("GET", request.target, headers=request.headers)
        answer = connection.getresponse()
        return Response(answer.status, answer.read(MAX_BODY))
    except ssl.SSLCertVerificationError as error:
        reason = error.verify_message
        raise TransportError(f"TLS certificate of {host} not accepted: {reason}") from None
    except ssl.SSLError as error:
        reason = error.reason or type(error).__name__
        raise TransportError(f"TLS error with {host}: {reason}") from None
    except TimeoutError:
        raise TransportError(f"no answer from {host} within {request.timeout:g} s") from None
    except http.client.HTTPException as error:
        raise TransportError(f"bad HTTP answer from {host}: {type(error).__name__}") from None
    except OSError as error:
        raise TransportError(f"connection to {host} failed: {error.strerror or error}") from None
    finally:
        connection.close()


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise DnsError("the server closed the connection")
        data += chunk
    return data


DnsQuery = Callable[[tuple[str, int], str, float], DnsAnswer]


def query_txt(server: tuple[str, int], name: str, timeout: float) -> DnsAnswer:
    """Ask one server for the TXT records of `name` over UDP, over TCP when truncated.
    OSError (timeouts too) or DnsError when there is no usable answer."""
    query_id = random.randrange(0x10000)
    packet = dns_query(name, query_id)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect(server)
        sock.send(packet)
        answer = parse_txt_answer(sock.recv(65535), query_id, name)
    if not answer.truncated:
        return answer
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(server)
        sock.sendall(struct.pack("!H", len(packet)) + packet)
        (length,) = struct.unpack("!H", _recv_exactly(sock, 2))
        return parse_txt_answer(_recv_exactly(sock, length), query_id, name)


def _server_text(server: tuple[str, int]) -> str:
    return server[0] if server[1] == 53 else f"{server[0]}@{server[1]}"


def wait_until_visible(
    servers: Sequence[tuple[str, int]], name: str, value: str, timeout: float, run: Runtime
) -> dict[str, str]:
    """Ask every server for the TXT records of `name` until each answers with `value`, or
    `timeout` seconds have passed; returns what each server that never did said last."""
    deadline = run.clock() + timeout
    pending = {server: "not asked" for server in servers}
    while True:
        for server in list(pending):
            try:
                answer = run.dns_query(server, name, DNS_QUERY_TIMEOUT)
            except (OSError, DnsError) as error:
                reason = "timed out" if isinstance(error, TimeoutError) else str(error)
                pending[server] = f"no answer: {reason or type(error).__name__}"
                continue
            if value in answer.txt:
                del pending[server]
            else:
                rcode = RCODES.get(answer.rcode, str(answer.rcode))
                pending[server] = f"{rcode} without the value"
        if not pending or run.clock() >= deadline:
            return {_server_text(server): said for server, said in pending.items()}
        run.sleep(DNS_POLL_INTERVAL)


def syslog_logger(priority: int, message: str) -> None:
    syslog.openlog("dyndns-client", syslog.LOG_PID, syslog.LOG_USER)
    syslog.syslog(priority, message)


# --- the run -------------------------------------------------------------------------


def update(
    config: Config, request: Request, transport: Transport, sleep: Sleep, txt_host: str = ""
) -> tuple[Verdict, int]:
    """Up to `retries` attempts, backing off between transient failures; (verdict, attempts)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            verdict = classify(transport(request), config, request.family, txt_host)
        except TransportError as error:
            verdict = Verdict(Kind.TRANSIENT, str(error))
        if verdict.kind is not Kind.TRANSIENT or attempt >= config.retries:
            return verdict, attempt
        sleep(backoff(attempt))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dyndns-client",
        description="Tell a dyndns2 server this machine's address of one family, or add and"
        " remove certbot's DNS-01 value as its --manual-auth-hook / --manual-cleanup-hook.",
        epilog="Exit codes: 0 updated or unchanged, 1 transient failure after all"
        " retries (or the TXT value not visible in time), 2 permanent failure or bad config.",
    )
    parser.add_argument("--config", required=True, help="INI file with a [dyndns] section")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--family", choices=("4", "6"), help="update the IPv4 or IPv6 address")
    mode.add_argument(
        "--certbot-auth",
        action="store_true",
        help="add $CERTBOT_VALIDATION at _acme-challenge.$CERTBOT_DOMAIN and wait until the"
        " name servers answer with it (certbot's --manual-auth-hook)",
    )
    mode.add_argument(
        "--certbot-cleanup",
        action="store_true",
        help="remove that value again (certbot's --manual-cleanup-hook)",
    )
    parser.add_argument(
        "--clear",
        action="store_true",
        help="delete the record of that family instead (the machine lost its address of it);"
        " the request goes over either family",
    )
    parser.add_argument(
        "--quiet-success", action="store_true", help="no syslog line for a changed address"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print the server's answer on success too"
    )
    args = parser.parse_args(argv)
    if args.clear and not args.family:
        parser.error("--clear goes with --family")
    return args


@dataclass
class Runtime:
    """What main() talks to; tests replace any of it."""

    transport: Transport = https_get
    sleep: Sleep = time.sleep
    log: Logger = syslog_logger
    stdout: TextIO | None = None  # None: sys.stdout at the time of the call
    stderr: TextIO | None = None
    dns_query: DnsQuery = query_txt
    clock: Callable[[], float] = time.monotonic
    environ: Mapping[str, str] | None = None  # None: os.environ


def certbot_challenge(environ: Mapping[str, str], hook: str) -> tuple[str, str]:
    """(domain, value) of the challenge certbot hands its hook; ConfigError when unusable.
    For a wildcard `*.home.example`, certbot's CERTBOT_DOMAIN is `home.example` already."""
    raw, value = environ.get("CERTBOT_DOMAIN", ""), environ.get("CERTBOT_VALIDATION", "")
    if not raw or not value:
        raise ConfigError(
            f"--{hook}: CERTBOT_DOMAIN and CERTBOT_VALIDATION are not set; run it as certbot's"
            f" --manual-{hook.removeprefix('certbot-')}-hook"
        )
    domain = raw.lower().removeprefix("*.").removesuffix(".")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise ConfigError(f"--{hook}: CERTBOT_DOMAIN {raw[:80]!r} is not a host name")
    if len(value) > 255 or not all(" " <= c <= "~" for c in value):
        raise ConfigError(f"--{hook}: CERTBOT_VALIDATION is not 1 to 255 printable characters")
    return domain, value


def wait_for_value(config: Config, domain: str, value: str, run: Runtime) -> str | None:
    """Wait until the zone's name servers answer with the TXT value (with `nameservers`),
    or `propagation_seconds`; what went wrong, or None."""
    name = f"{ACME_LABEL}.{domain}"
    if not config.nameservers:
        run.sleep(config.propagation_seconds)
        return None
    timeout = config.propagation_timeout
    missing = wait_until_visible(config.nameservers, name, value, timeout, run)
    if not missing:
        return None
    said = "; ".join(f"{server}: {what}" for server, what in missing.items())
    return (
        f"the TXT value at {name} is not on every name server after {timeout:g} s ({said});"
        f" check nameservers in {config.path}"
    )


def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    args = parse_args(argv)
    run = runtime or Runtime()
    out = run.stdout or sys.stdout
    err = run.stderr or sys.stderr
    hook = "certbot-auth" if args.certbot_auth else "certbot-cleanup"
    config: Config | None = None

    def fail(message: str, code: int) -> int:
        line = redact(message, config)
        run.log(syslog.LOG_ERR, line)
        print(line, file=err)
        return code

    try:
        config = load_config(args.config)
        context = tls_context(config)
        if args.family:
            domain, value = "", ""
            family = socket.AF_INET6 if args.family == "6" else socket.AF_INET
            prefix = f"{config.hostname} {family_label(family)}"
            if args.clear:  # over either family: the machine has lost the one it clears
                prefix += " clear"
                parameter = "myipv6" if family == socket.AF_INET6 else "myipv4"
                request = build_request(
                    config, socket.AF_UNSPEC, context, None, [(parameter, "none")]
                )
            else:
                request = build_request(config, family, context)
        else:
            domain, value = certbot_challenge(
                os.environ if run.environ is None else run.environ, hook
            )
            prefix = f"{domain} {hook}"
            parameter = "addtxt" if args.certbot_auth else "deltxt"
            request = build_request(config, socket.AF_UNSPEC, context, domain, [(parameter, value)])
    except ConfigError as error:
        return fail(str(error), EXIT_PERMANENT)
    verdict, attempts = update(config, request, run.transport, run.sleep, domain)
    if verdict.kind is Kind.PERMANENT:
        return fail(f"{prefix}: {verdict.message}", EXIT_PERMANENT)
    if verdict.kind is Kind.TRANSIENT:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        return fail(f"{prefix}: {verdict.message} (gave up after {tries})", EXIT_TRANSIENT)
    if args.certbot_auth:
        problem = wait_for_value(config, domain, value, run)
        if problem:
            return fail(f"{prefix}: {problem}", EXIT_TRANSIENT)
    line = redact(f"{prefix}: {verdict.message}", config)
    if verdict.kind is Kind.GOOD and not args.quiet_success:
        run.log(syslog.LOG_INFO, line)
    if args.verbose:
        print(line, file=out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
