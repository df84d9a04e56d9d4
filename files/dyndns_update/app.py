"""The WSGI app: routing, authentication, abuse control, answers and logging.

Apache mod_wsgi loads a script that holds
`application = make_app("/etc/dyndns-update/config.json")`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import auth, protocol
from .abuse import AbuseGuard
from .config import (
    Config,
    ConfigError,
    Credentials,
    CredentialsStore,
    HostConfig,
    load_config,
    load_tsig_key,
)
from .dnsio import DnsClient, DnsRejected, DnsServer, DnsUnreachable
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import MeteredClient, Metrics, process_start_time
from .protocol import Code
from .status import FORMAT, Origin, StatusStore, calls_of, iso_time, make_call
from .update import HostResult, Updater, served_rrsets

LOG = logging.getLogger("dyndns_update")

UPDATE_PATH = "/nic/update"
STATUS_PATH = "/nic/status"
STATUS_RESULT = "status"  # the result of a status view, in the log and in /metrics
METRICS_PATH = "/metrics"  # only when the config's `metrics` is true
TOKEN_PREFIX = "/u/"
ACME_DNS_PATH = "/update"  # acme-dns's update API, as acme.sh and lego speak it
ACME_DNS = "acme-dns"  # its callers' `via` in the log
BASIC = "basic"  # the `via` of a Basic-auth caller in a host's status record
REALM = 'Basic realm="dyndns"'
MAX_BODY = 4096  # bytes of a request body read, at most

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
Response = tuple[str, list[tuple[str, str]], bytes]

INVALID = "(invalid)"  # what the log says for a value that failed validation
_PLAIN = re.compile(r"^[\x21-\x7e]{1,200}\Z")


def _value(text: str) -> str:
    """A log value that cannot break the line or fake another field."""
    if _PLAIN.match(text) and '"' not in text and "=" not in text:
        return text
    return json.dumps(text[:200])


def host_fields(raw: str, name: str | None) -> dict[str, str]:
    """The log fields of a requested host name: the name when valid, else only its length."""
    if name is not None:
        return {"host": name}
    return {"host": INVALID, "host_length": str(len(raw))}


def user_field(user: str) -> str:
    """A username as logged: only one that could be a username here."""
    return user if auth.USERNAME_RE.match(user) else INVALID


def log_line(**fields: str | None) -> None:
    """One `dyndns-update key=value ...` line; None values are left out."""
    parts = [f"{k}={_value(v)}" for k, v in fields.items() if v is not None]
    LOG.info("dyndns-update %s", " ".join(parts))


def _response(lines: Sequence[str], status: str = "200 OK") -> Response:
    body = protocol.format_body(lines)
    headers = [
        ("Content-Type", "text/plain; charset=us-ascii"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    return status, headers, body


def _json_response(data: dict[str, Any], status: str = "200 OK") -> Response:
    body = json.dumps(data).encode("ascii")
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    return status, headers, body


def _read_body(environ: Environ) -> bytes | None:
    """The request body, or None when it is absent or longer than MAX_BODY."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    return body


@dataclass(frozen=True)
class Refusal:
    """A request refused before any host is looked at, with its one answer."""

    code: Code
    challenge: bool = False  # no credentials at all: HTTP 401 with WWW-Authenticate


def _text_refusal(refusal: Refusal) -> Response:
    """As /nic/update answers it: one line, HTTP 200 but for the challenge."""
    if not refusal.challenge:
        return _response([refusal.code])
    status, headers, body = _response([refusal.code], "401 Unauthorized")
    return status, [*headers, ("WWW-Authenticate", REALM)], body


_REFUSAL_STATUS = {
    Code.BADAUTH: "401 Unauthorized",
    Code.ABUSE: "429 Too Many Requests",
    Code.BADAGENT: "400 Bad Request",
}


def _json_refusal(refusal: Refusal) -> Response:
    """As /nic/status answers it: `{"error": CODE}` with an HTTP error status."""
    http = _REFUSAL_STATUS.get(refusal.code, "500 Internal Server Error")
    status, headers, body = _json_response({"error": str(refusal.code)}, http)
    if refusal.code == Code.BADAUTH:
        headers.append(("WWW-Authenticate", REALM))
    return status, headers, body


def metrics_view(environ: Environ, metrics: Metrics) -> Response:
    """`GET /metrics`: this process's counters, in Prometheus's text format."""
    if environ.get("REQUEST_METHOD") != "GET":
        status, headers, body = _response(["method not allowed"], "405 Method Not Allowed")
        return status, [*headers, ("Allow", "GET")], body
    body = metrics.render()
    headers = [
        ("Content-Type", METRICS_CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    return "200 OK", headers, body


@dataclass(frozen=True)
class Caller:
    """Who called, once authenticated: the names asked for and which hosts they own."""

    raw_names: list[str]
    may_update: Callable[[HostConfig], bool]
    user: str | None  # the Basic-auth username
    via: str | None  # "token" for a secret URL


class DyndnsApp:
    """The WSGI callable; shared by the threads of one mod_wsgi process."""

    def __init__(
        self,
        config: Config,
        client: DnsServer,
        credentials: CredentialsStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.client = client
        self.credentials = credentials
        self.abuse = AbuseGuard(config.abuse, clock=clock)
        self.verified = auth.VerifiedCache(config.auth_cache_seconds, clock=clock)
        self.metrics: Metrics | None = None
        updates: DnsServer = client
        if config.metrics:
            codes = [*Code, STATUS_RESULT]
            self.metrics = Metrics(codes, started=process_start_time(default=clock()))
            updates = MeteredClient(client, self.metrics)
        self.updater = Updater(config, updates)
        self.status = StatusStore(config.status_dir, clock=clock)
        self.clock = clock

    def _log(self, **fields: str | None) -> None:
        """One log line (log_line), its result counted for /metrics."""
        if self.metrics is not None and fields.get("result"):
            self.metrics.answered(str(fields["result"]))
        log_line(**fields)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            if environ.get("PATH_INFO") == ACME_DNS_PATH:
                status, headers, body = self.acme_dns(environ)
            else:
                status, headers, body = self.handle(environ)
        except Exception:
            LOG.exception("dyndns-update result=911 error=unexpected")
            if self.metrics is not None:
                self.metrics.answered(Code.SERVERERROR)
            status, headers, body = _response([Code.SERVERERROR])
        start_response(status, headers)
        return [body]

    def handle(self, environ: Environ) -> Response:
        path = environ.get("PATH_INFO") or ""
        client = environ.get("REMOTE_ADDR") or "-"
        token: str | None = None
        if path.startswith(TOKEN_PREFIX) and "/" not in path[len(TOKEN_PREFIX) :]:
            token = path[len(TOKEN_PREFIX) :]
        if path == STATUS_PATH:
            return self.status_view(environ, client)
        if path == METRICS_PATH and self.metrics is not None:
            return metrics_view(environ, self.metrics)
        if path != UPDATE_PATH and not token:
            return _response(["notfound"], "404 Not Found")
        params = protocol.parse_query(environ.get("QUERY_STRING", ""))
        caller = self._authenticate(environ, params, token, client)
        if isinstance(caller, Refusal):
            return _text_refusal(caller)
        agent = environ.get("HTTP_USER_AGENT", "")
        return self._update(caller, params, environ.get("REMOTE_ADDR"), client, agent)

    def _authenticate(
        self, environ: Environ, params: protocol.Params, token: str | None, client: str
    ) -> Caller | Refusal:
        """The caller of a GET with a secret URL's `token` or Basic auth, or why not: the
        checks, abuse guard and log lines of /nic/update and the secret URLs."""
        via = "token" if token else None
        if environ.get("REQUEST_METHOD") != "GET" or not environ.get("HTTP_USER_AGENT", "").strip():
            self._log(result=Code.BADAGENT, via=via, client=client)
            return Refusal(Code.BADAGENT)
        if self.abuse.is_blocked(client):
            self._log(result=Code.ABUSE, via=via, client=client)
            return Refusal(Code.ABUSE)
        try:
            credentials = self.credentials.get()
        except ConfigError as err:
            self._log(result=Code.SERVERERROR, via=via, client=client, error=str(err))
            return Refusal(Code.SERVERERROR)
        if token:
            return self._by_token(credentials, token, client)
        return self._by_password(credentials, environ, params, client)

    def _by_token(self, credentials: Credentials, token: str, client: str) -> Caller | Refusal:
        """The secret URL's caller: may update the one host its token is for."""
        host_name = credentials.tokens.get(auth.token_hash(token))
        if host_name is None:
            return self._badauth(client, via="token")
        return Caller([host_name], lambda host: host.name == host_name, None, "token")

    def _by_password(
        self, credentials: Credentials, environ: Environ, params: protocol.Params, client: str
    ) -> Caller | Refusal:
        """The Basic-auth caller: may update the hosts of its username."""
        basic = auth.parse_basic_auth(environ.get("HTTP_AUTHORIZATION"))
        if basic is None:
            self._log(result=Code.BADAUTH, error="no credentials", client=client)
            return Refusal(Code.BADAUTH, challenge=True)
        user, password = basic
        if not auth.check_user(credentials.users, user, password, self.verified):
            return self._badauth(client, user=user_field(user))
        names = protocol.split_values(params.get("hostname"))
        return Caller(names, lambda host: host.username == user, user, None)

    def status_view(self, environ: Environ, client: str) -> Response:
        """`GET /nic/status[?hostname=H[,H2]]` with Basic auth: the caller's hosts (those
        named, when `hostname` is given), each with its status record and its records as
        the DNS server serves them now. Checks, abuse guard and log lines of /nic/update;
        refusals in JSON."""
        params = protocol.parse_query(environ.get("QUERY_STRING", ""))
        caller = self._authenticate(environ, params, None, client)
        if isinstance(caller, Refusal):
            return _json_refusal(caller)
        named = {protocol.normalize_hostname(raw) for raw in caller.raw_names}
        hosts = [
            host
            for name, host in sorted(self.config.hosts.items())
            if caller.may_update(host) and (not caller.raw_names or name in named)
        ]
        entries = self._status_entries(hosts)
        self._log(result=STATUS_RESULT, user=caller.user, client=client, hosts=str(len(entries)))
        return _json_response(
            {
                "format": FORMAT,
                "generated": iso_time(self.clock()),
                "user": caller.user,
                "hosts": entries,
            }
        )

    def _status_entries(self, hosts: Sequence[HostConfig]) -> list[dict[str, Any]]:
        """Each host's record and served RRsets; once the server is found unreachable, the
        later hosts do not wait for it again."""
        entries = []
        unreachable = ""
        for host in hosts:
            served, error = None, None
            if unreachable:
                error = f"not tried, server unreachable: {unreachable}"
            else:
                try:
                    served = served_rrsets(self.client, host)
                except DnsUnreachable as err:
                    unreachable = error = str(err)
                except DnsRejected as err:
                    error = str(err)
            entry = {"fqdn": host.name, **calls_of(self.status.read(host.name))}
            entries.append({**entry, "dns": served, "dns_error": error})
        return entries

    def _update(
        self,
        caller: Caller,
        params: protocol.Params,
        remote_addr: str | None,
        client: str,
        agent: str,
    ) -> Response:
        names, user, via = caller.raw_names, caller.user, caller.via
        if not names:
            self._log(result=Code.NOTFQDN, user=user, via=via, client=client, error="no hostname")
            return _response([Code.NOTFQDN])
        if len(names) > self.config.max_hostnames:
            self._log(result=Code.NUMHOST, user=user, client=client)
            return _response([Code.NUMHOST])
        try:
            request = protocol.parse_update_request(params, remote_addr)
        except protocol.BadRequest as err:
            for raw in names:
                self._log(
                    **host_fields(raw, protocol.normalize_hostname(raw)),
                    result=err.code,
                    user=user,
                    via=via,
                    client=client,
                    error=err.reason,
                )
            return _response([err.code] * len(names))

        results = self.updater.handle(names, caller.may_update, request)
        for raw, result in zip(names, results, strict=True):
            self._log_result(raw, result, request, caller, client)
            self._record(result, request, caller, client, agent)
        return _response([r.line for r in results])

    def _badauth(self, client: str, user: str | None = None, via: str | None = None) -> Refusal:
        started = self.abuse.record_failure(client)
        self._log(
            result=Code.BADAUTH,
            user=user,
            via=via,
            client=client,
            cooldown="started" if started else None,
        )
        return Refusal(Code.BADAUTH)

    def acme_dns(self, environ: Environ) -> Response:
        """acme-dns's `POST /update`: X-Api-User and X-Api-Key are a dyndns username and
        password, the JSON body names one of its hosts and a DNS-01 value; the value joins
        the most recent other one at _acme-challenge.<host>. Same checks, abuse guard and
        log lines as /nic/update, answers as acme-dns gives them."""
        client = environ.get("REMOTE_ADDR") or "-"
        if environ.get("REQUEST_METHOD") != "POST":
            self._log(result=Code.BADAGENT, via=ACME_DNS, client=client)
            return _json_response({"error": "method_not_allowed"}, "405 Method Not Allowed")
        user = self._acme_dns_user(environ, client)
        if not isinstance(user, str):
            return user
        try:
            name, value = protocol.parse_acme_dns(_read_body(environ), self.config.zone)
        except protocol.AcmeDnsError as err:
            result = Code.NOTFQDN if err.error == "bad_subdomain" else Code.BADTXT
            self._log(result=result, user=user, via=ACME_DNS, client=client, error=err.error)
            return _json_response({"error": err.error}, "400 Bad Request")
        request = protocol.UpdateRequest(txt_add=(value,), txt_recent=True)
        caller = Caller([name], lambda host: host.username == user, user, ACME_DNS)
        (result,) = self.updater.handle([name], caller.may_update, request)
        self._log_result(name, result, request, caller, client)
        self._record(result, request, caller, client, environ.get("HTTP_USER_AGENT", ""))
        if result.code in (Code.GOOD, Code.NOCHG):
            return _json_response({"txt": value})
        if result.code == Code.NOHOST:  # not this user's host, or one without TXT
            return _json_response({"error": "forbidden"}, "401 Unauthorized")
        return _json_response({"error": "db_error"}, "500 Internal Server Error")

    def _acme_dns_user(self, environ: Environ, client: str) -> str | Response:
        """The username of X-Api-User when X-Api-Key is its password, else the answer."""
        forbidden = _json_response({"error": "forbidden"}, "401 Unauthorized")
        if self.abuse.is_blocked(client):
            self._log(result=Code.ABUSE, via=ACME_DNS, client=client)
            return _json_response({"error": "abuse"}, "429 Too Many Requests")
        try:
            credentials = self.credentials.get()
        except ConfigError as err:
            self._log(result=Code.SERVERERROR, via=ACME_DNS, client=client, error=str(err))
            return _json_response({"error": "db_error"}, "500 Internal Server Error")
        user = environ.get("HTTP_X_API_USER", "")
        password = environ.get("HTTP_X_API_KEY", "")
        if not user or not password:
            self._log(result=Code.BADAUTH, via=ACME_DNS, error="no credentials", client=client)
            return forbidden
        if not auth.check_user(credentials.users, user, password, self.verified):
            self._badauth(client, user=user_field(user), via=ACME_DNS)
            return forbidden
        return user

    def _record(
        self,
        result: HostResult,
        request: protocol.UpdateRequest,
        caller: Caller,
        client: str,
        agent: str,
    ) -> None:
        """A `good` or `nochg` becomes the host's status record (status.py)."""
        if result.host is None or result.code not in (Code.GOOD, Code.NOCHG):
            return
        origin = Origin(client, caller.via or BASIC, caller.user, agent)
        call = make_call(result.code, origin, result.request or request)
        self.status.record(result.host, call, changed=result.code == Code.GOOD)

    def _log_result(
        self,
        raw: str,
        result: HostResult,
        request: protocol.UpdateRequest,
        caller: Caller,
        client: str,
    ) -> None:
        updated = result.code in (Code.GOOD, Code.NOCHG)
        request = result.request or request
        address = txt = cleared = prefix = None
        if updated and request.addresses:
            address = protocol.format_addresses(request.addresses)
        if updated and request.clear:
            cleared = ",".join(sorted(request.clear))
        if updated and request.lan_prefix is not None:
            prefix = str(request.lan_prefix)
        if updated:
            txt = protocol.txt_action(request)
        self._log(
            **host_fields(raw, result.host),
            result=result.code,
            address=address,
            cleared=cleared,
            prefix=prefix,
            txt=txt,
            user=caller.user,
            via=caller.via,
            client=client,
            error=result.error or None,
        )


def _setup_logging() -> None:
    """Log lines to stderr (Apache's error log) unless logging is set up already."""
    LOG.setLevel(logging.INFO)
    if not LOG.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOG.addHandler(handler)


def _release_hash_memory() -> None:
    """Let glibc give each scrypt buffer (~16 MiB) back to the system when freed.

    By default glibc raises its mmap threshold after the first such buffer is freed, and
    every thread's malloc arena then keeps one: 32 threads grew the process by ~260 MiB.
    A fixed threshold of 1 MiB and two arenas keep it at its size at start.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX


def make_app(config_path: str, *, clock: Callable[[], float] = time.time) -> DyndnsApp:
    """Load and check every file now: a bad config fails here, with a clear message."""
    _release_hash_memory()
    auth.dummy_hash()  # before the first request, whose answer time must not differ
    config = load_config(config_path)
    key = load_tsig_key(config.tsig_key_file)
    credentials = CredentialsStore(config.credentials_file)
    _setup_logging()
    client = DnsClient(config.zone, config.server, config.port, config.timeout, key)
    users = credentials.get().users
    for host in config.hosts.values():
        if host.username not in users:
            LOG.warning("dyndns-update host=%s warning=no-password-for-user", host.name)
    LOG.info("dyndns-update started zone=%s hosts=%d", config.zone, len(config.hosts))
    return DyndnsApp(config, client, credentials, clock=clock)
