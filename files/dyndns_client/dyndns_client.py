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

Standard library only (Python 3.11+): it runs where only python3 is installed.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import enum
import errno
import http.client
import re
import socket
import ssl
import sys
import syslog
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import quote, urlsplit

USER_AGENT = "selfhosted-dyndns-client/1.0"
SECTION = "dyndns"
REQUIRED = ("url", "hostname", "username", "password")
OPTIONAL = ("ca_file", "timeout", "retries")
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
MAX_TIMEOUT = 60.0
MAX_RETRIES = 5
BACKOFF_FIRST = 5.0  # seconds before the 2nd attempt; then x3 each time: 5, 15, 45, 60
BACKOFF_MAX = 60.0
MAX_BODY = 4096

EXIT_OK = 0
EXIT_TRANSIENT = 1
EXIT_PERMANENT = 2

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
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
    clear: bool = False,
) -> Request:
    """The update of `family` over that family; with `clear`, the deletion of that family's
    record, over any family (the machine has lost the one it clears)."""
    credentials = f"{config.username}:{config.password}".encode()
    target = f"{config.target}?hostname={quote(config.hostname, safe='')}"
    if clear:
        target += "&myipv6=none" if family == socket.AF_INET6 else "&myipv4=none"
    return Request(
        host=config.host,
        port=config.port,
        target=target,
        family=socket.AF_UNSPEC if clear else family,
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


def first_line(body: bytes) -> str:
    """The first line of an answer, printable ASCII only, at most 80 characters."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    line = lines[0].strip() if lines else ""
    return "".join(c if " " <= c <= "~" else "?" for c in line)[:80]


def classify(response: Response, config: Config, family: int) -> Verdict:
    """What an HTTP answer means: success, a failure to fix (permanent), or try again."""
    fields = {
        "conf": config.path,
        "url": config.url,
        "user": config.username,
        "host": config.hostname,
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
    if code in _ANSWERS:
        kind, text = _ANSWERS[code]
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


def syslog_logger(priority: int, message: str) -> None:
    syslog.openlog("dyndns-client", syslog.LOG_PID, syslog.LOG_USER)
    syslog.syslog(priority, message)


# --- the run -------------------------------------------------------------------------


def update(
    config: Config, request: Request, transport: Transport, sleep: Sleep
) -> tuple[Verdict, int]:
    """Up to `retries` attempts, backing off between transient failures; (verdict, attempts)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            verdict = classify(transport(request), config, request.family)
        except TransportError as error:
            verdict = Verdict(Kind.TRANSIENT, str(error))
        if verdict.kind is not Kind.TRANSIENT or attempt >= config.retries:
            return verdict, attempt
        sleep(backoff(attempt))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dyndns-client",
        description="Tell a dyndns2 server this machine's address of one family.",
        epilog="Exit codes: 0 updated or unchanged, 1 transient failure after all"
        " retries, 2 permanent failure or bad config.",
    )
    parser.add_argument("--config", required=True, help="INI file with a [dyndns] section")
    parser.add_argument(
        "--family", required=True, choices=("4", "6"), help="update the IPv4 or IPv6 address"
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
    return parser.parse_args(argv)


@dataclass
class Runtime:
    """What main() talks to; tests replace any of it."""

    transport: Transport = https_get
    sleep: Sleep = time.sleep
    log: Logger = syslog_logger
    stdout: TextIO | None = None  # None: sys.stdout at the time of the call
    stderr: TextIO | None = None


def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    args = parse_args(argv)
    run = runtime or Runtime()
    out = run.stdout or sys.stdout
    err = run.stderr or sys.stderr
    family = socket.AF_INET6 if args.family == "6" else socket.AF_INET
    config: Config | None = None

    def fail(message: str, code: int) -> int:
        line = redact(message, config)
        run.log(syslog.LOG_ERR, line)
        print(line, file=err)
        return code

    try:
        config = load_config(args.config)
        context = tls_context(config)
    except ConfigError as error:
        return fail(str(error), EXIT_PERMANENT)
    prefix = f"{config.hostname} {family_label(family)}" + (" clear" if args.clear else "")
    request = build_request(config, family, context, args.clear)
    verdict, attempts = update(config, request, run.transport, run.sleep)
    if verdict.kind is Kind.PERMANENT:
        return fail(f"{prefix}: {verdict.message}", EXIT_PERMANENT)
    if verdict.kind is Kind.TRANSIENT:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        return fail(f"{prefix}: {verdict.message} (gave up after {tries})", EXIT_TRANSIENT)
    line = redact(f"{prefix}: {verdict.message}", config)
    if verdict.kind is Kind.GOOD and not args.quiet_success:
        run.log(syslog.LOG_INFO, line)
    if args.verbose:
        print(line, file=out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
