"""The dyndns client script: config, answers, retries, output, with a fake transport."""

from __future__ import annotations

import base64
import errno
import io
import os
import socket
import ssl
import syslog
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import dyndns_client as client  # from files/dyndns_client (tests/conftest.py)
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "files" / "dyndns_client" / "dyndns_client.py"


PASSWORD = "Pa%ss w0rd#secret"
TOKEN = base64.b64encode(f"home:{PASSWORD}".encode()).decode()
CONF = f"""\
[dyndns]
url = https://update.example.org/nic/update
hostname = Home.Dyn.Example.org.
username = home
password = {PASSWORD}
"""


def config(extra: str = "", path: str = "/etc/dyndns-client/home.conf") -> Any:
    return client.parse_config(CONF + extra, path)


class FakeTransport:
    """Answers from a script: a Response, or a TransportError to raise."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[Any] = []

    def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(body: str, status: int = 200) -> Any:
    return client.Response(status, body.encode())


def down(message: str = "cannot connect to update.example.org over IPv4") -> Any:
    return client.TransportError(message)


class Run:
    """main() with everything it talks to recorded."""

    def __init__(self, tmp_path: Path, text: str = CONF) -> None:
        self.path = tmp_path / "home.conf"
        self.path.write_text(text)
        self.sleeps: list[float] = []
        self.logs: list[tuple[int, str]] = []
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.transport: FakeTransport | None = None

    def __call__(self, *answers: Any, args: tuple[str, ...] = ("--family", "4")) -> int:
        self.transport = FakeTransport(*answers) if answers else FakeTransport(ok("nochg 1"))
        runtime = client.Runtime(
            transport=self.transport,
            sleep=self.sleeps.append,
            log=lambda priority, line: self.logs.append((priority, line)),
            stdout=self.stdout,
            stderr=self.stderr,
        )
        return client.main(["--config", str(self.path), *args], runtime)

    @property
    def calls(self) -> int:
        assert self.transport is not None
        return len(self.transport.requests)

    def everything(self) -> str:
        return self.stdout.getvalue() + self.stderr.getvalue() + repr(self.logs)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


# --- config --------------------------------------------------------------------------


def test_config_fields_and_defaults() -> None:
    c = config()
    assert (c.host, c.port, c.target) == ("update.example.org", 443, "/nic/update")
    assert c.hostname == "home.dyn.example.org"
    assert (c.username, c.password) == ("home", PASSWORD)  # '%' and '#' kept as they are
    assert (c.ca_file, c.timeout, c.retries) == (None, 10.0, 3)
    assert PASSWORD not in repr(c)


def test_config_optional_fields() -> None:
    c = config("ca_file = /etc/dyndns-client/ca.pem\ntimeout = 2.5\nretries = 5\n")
    assert (c.ca_file, c.timeout, c.retries) == ("/etc/dyndns-client/ca.pem", 2.5, 5)
    c = client.parse_config(CONF.replace("org/nic", "org:8443/nic"), "x.conf")
    assert (c.host, c.port) == ("update.example.org", 8443)
    c = client.parse_config(CONF.replace("example.org/nic/update", "[2001:db8::1]"), "x")
    assert (c.host, c.port, c.target) == ("2001:db8::1", 443, "/")


def _without(key: str) -> str:
    return "".join(line + "\n" for line in CONF.splitlines() if not line.startswith(key))


BAD_CONFIGS = [
    ("", "no [dyndns] section"),
    ("url = x\n", "line 1: expected the [dyndns] header"),
    (CONF + "[other]\nx = 1\n", "unknown section [other]"),
    (CONF + "[DEFAULT]\nx = 1\n", "unknown section [DEFAULT]"),
    (_without("url"), "[dyndns] url: missing"),
    (_without("hostname"), "[dyndns] hostname: missing"),
    (_without("username"), "[dyndns] username: missing"),
    (_without("password"), "[dyndns] password: missing"),
    (_without("password") + "password =\n", "[dyndns] password: missing or empty"),
    (CONF + "myip = 1.2.3.4\n", "[dyndns] myip: unknown field"),
    (CONF + "password = again\n", "line 6: password given twice"),
    (CONF + f"{PASSWORD}\n", "line 6: not a 'key = value' line"),
    (CONF + f"  {PASSWORD}\n", "[dyndns] password: must be one line"),
    (CONF.replace("https://", "http://"), "[dyndns] url: 'http://update"),
    (CONF.replace("https://", "ftp://"), "must start with https://"),
    (
        CONF.replace("/nic/update", "/nic/update?x=1"),
        "[dyndns] url: 'https://update.example.org/nic/update?x=1' must not have a query",
    ),
    (CONF.replace("/nic/update", "/nic/update#x"), "must not have a query or fragment"),
    (CONF.replace("https://", "https://home:pw@"), "[dyndns] url: must not hold a user"),
    (CONF.replace("update.example.org", ""), "[dyndns] url: 'https:///nic/update' has no host"),
    (CONF.replace("org/nic", "org:99999/nic"), "[dyndns] url: 'https://update.example.org:9999"),
    (CONF.replace("Home.Dyn.Example.org.", "home"), "[dyndns] hostname: 'home' is not a fully"),
    (CONF.replace("Home.Dyn", "ho_me.dyn"), "[dyndns] hostname: 'ho_me.dyn"),
    (CONF.replace("Home.Dyn", "-home.dyn"), "[dyndns] hostname:"),
    (CONF.replace("Home.Dyn", "a" * 64 + ".dyn"), "[dyndns] hostname:"),
    (CONF.replace("Home.Dyn", "a,b.dyn"), "[dyndns] hostname:"),
    (CONF.replace("username = home", "username = ho:me"), "[dyndns] username: must not hold ':'"),
    (CONF + "timeout = soon\n", "[dyndns] timeout: 'soon' is not a number"),
    (CONF + "timeout = 0\n", "[dyndns] timeout: '0' is out of range (1 to 60)"),
    (CONF + "timeout = 61\n", "[dyndns] timeout: '61' is out of range"),
    (CONF + "timeout = nan\n", "[dyndns] timeout: 'nan' is out of range"),
    (CONF + "retries = 0\n", "[dyndns] retries: '0' is out of range (1 to 5)"),
    (CONF + "retries = 6\n", "[dyndns] retries: '6' is out of range"),
    (CONF + "retries = 2.5\n", "[dyndns] retries: '2.5' is not a whole number"),
    (CONF + "retries = -1\n", "[dyndns] retries: '-1' is not a whole number"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_config_errors_name_the_field_never_the_password(text: str, expected: str) -> None:
    with pytest.raises(client.ConfigError) as caught:
        client.parse_config(text, "/etc/dyndns-client/home.conf")
    message = str(caught.value)
    assert message.startswith("/etc/dyndns-client/home.conf: ")
    assert expected in message
    assert "secret" not in message
    assert PASSWORD not in message


def test_unreadable_config(tmp_path: Path) -> None:
    with pytest.raises(client.ConfigError, match=r"missing\.conf: cannot read: No such file"):
        client.load_config(str(tmp_path / "missing.conf"))
    (tmp_path / "latin1.conf").write_bytes(CONF.encode() + b"# caf\xe9\n")
    with pytest.raises(client.ConfigError, match="not UTF-8"):
        client.load_config(str(tmp_path / "latin1.conf"))


def test_bad_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    run = Run(tmp_path, CONF + "retries = many\n")
    assert run() == 2
    assert run.calls == 0
    line = f"{run.path}: [dyndns] retries: 'many' is not a whole number"
    assert run.stderr.getvalue() == line + "\n"
    assert run.logs == [(syslog.LOG_ERR, line)]
    assert run.stdout.getvalue() == ""


def test_missing_ca_file_exits_2(tmp_path: Path) -> None:
    run = Run(tmp_path, CONF + f"ca_file = {tmp_path}/nope.pem\n")
    assert run() == 2
    assert run.calls == 0
    assert f"[dyndns] ca_file: cannot load {tmp_path}/nope.pem" in run.stderr.getvalue()


def test_usage_errors_exit_2(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (("--family", "5"), ()):
        with pytest.raises(SystemExit) as caught:
            run(args=args)
        assert caught.value.code == 2
    assert "--family" in capsys.readouterr().err


# --- the request ---------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "family"), [("4", socket.AF_INET), ("6", socket.AF_INET6)])
def test_request(run: Run, flag: str, family: socket.AddressFamily) -> None:
    assert run(args=("--family", flag)) == 0
    assert run.transport is not None
    request = run.transport.requests[0]
    assert (request.host, request.port, request.family) == ("update.example.org", 443, family)
    assert request.target == "/nic/update?hostname=home.dyn.example.org"  # and no myip
    assert request.headers["Authorization"] == f"Basic {TOKEN}"
    assert request.headers["User-Agent"] == "selfhosted-dyndns-client/1.0"
    assert request.timeout == 10.0
    assert request.context.verify_mode == ssl.CERT_REQUIRED
    assert request.context.check_hostname is True
    assert PASSWORD not in repr(request)
    assert TOKEN not in repr(request)


@pytest.mark.parametrize(("flag", "value"), [("4", "myipv4=none"), ("6", "myipv6=none")])
def test_clear_asks_to_delete_the_family_over_either_family(
    run: Run, flag: str, value: str
) -> None:
    assert run(ok("good\n"), args=("--family", flag, "--clear")) == 0
    assert run.transport is not None
    request = run.transport.requests[0]
    assert request.target == f"/nic/update?hostname=home.dyn.example.org&{value}"
    assert request.family == socket.AF_UNSPEC  # the machine lost that family: go over any
    assert request.headers["Authorization"] == f"Basic {TOKEN}"
    assert run.logs == [(syslog.LOG_INFO, f"home.dyn.example.org IPv{flag} clear: good")]


def test_clear_failure_says_clear(run: Run) -> None:
    assert run(ok("nohost\n"), args=("--family", "6", "--clear")) == 2
    assert run.stderr.getvalue().startswith("home.dyn.example.org IPv6 clear: nohost: ")


def test_clear_needs_a_family(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(args=("--clear",))
    assert caught.value.code == 2
    assert "--family" in capsys.readouterr().err


def test_ca_file_is_loaded(tmp_path: Path) -> None:
    ca = Path(ssl.get_default_verify_paths().openssl_cafile or "")
    if not ca.is_file():
        pytest.skip("no system CA bundle to stand in for a CA file")
    context = client.tls_context(config(f"ca_file = {ca}\n"))
    assert context.cert_store_stats()["x509_ca"] > 0
    assert context.verify_mode == ssl.CERT_REQUIRED


# --- answers -------------------------------------------------------------------------

P, T = client.Kind.PERMANENT, client.Kind.TRANSIENT
ANSWERS = [
    (200, "good 203.0.113.7\n", client.Kind.GOOD, "good 203.0.113.7"),
    (200, "good 2001:db8::7", client.Kind.GOOD, "good 2001:db8::7"),
    (200, "nochg 203.0.113.7\nextra\n", client.Kind.NOCHG, "nochg 203.0.113.7"),
    (200, "badauth\n", P, "badauth: the server refused the username or password in /c.conf"),
    (200, "nohost\n", P, "nohost: the server does not let user home set an IPv4 address"),
    (200, "notfqdn\n", P, "notfqdn: the server does not take home.dyn.example.org"),
    (200, "abuse\n", P, "abuse: the server blocks this client's address"),
    (200, "badagent\n", P, "badagent: the server refused this client's request"),
    (200, "numhost\n", P, "numhost: the server refused the number of host names"),
    (200, "badip\n", P, "badip: the server refused the IPv4 address"),
    (200, "badtxt\n", P, "badtxt: the server refused a TXT value"),
    (200, "911\n", T, "911: the server has a temporary problem"),
    (200, "dnserr\n", T, "dnserr: the server's DNS update failed"),
    (200, "SUCCESS 1.2.3.4\n", P, "unexpected answer 'SUCCESS 1.2.3.4' from https://"),
    (200, "\x1b[31mred\n", P, "unexpected answer '?[31mred'"),
    (200, "", P, "empty answer from https://update.example.org/nic/update; check url in"),
    (401, "badauth\n", P, "HTTP 401: the server refused the username or password in /c.conf"),
    (403, "", P, "HTTP 403: the server forbids https://update.example.org/nic/update"),
    (404, "notfound\n", P, "HTTP 404: no update endpoint at https://update.example.org/nic/u"),
    (301, "", P, "HTTP 301 from https://update.example.org/nic/update; check url in /c.conf"),
    (400, "good 1.2.3.4", P, "HTTP 400 from"),
    (408, "", T, "HTTP 408"),
    (429, "", T, "HTTP 429"),
    (500, "good 1.2.3.4", T, "HTTP 500: server error"),
    (502, "", T, "HTTP 502: server error"),
    (503, "", T, "HTTP 503: server error"),
]


@pytest.mark.parametrize(("status", "body", "kind", "message"), ANSWERS)
def test_classify(status: int, body: str, kind: Any, message: str) -> None:
    verdict = client.classify(ok(body, status), config(path="/c.conf"), socket.AF_INET)
    assert verdict.kind is kind
    assert verdict.message.startswith(message)


def test_classify_names_the_family() -> None:
    verdict = client.classify(ok("nohost"), config(), socket.AF_INET6)
    assert "set an IPv6 address for home.dyn.example.org" in verdict.message
    verdict = client.classify(ok("badip"), config(), socket.AF_INET6)
    assert "IPv6 address it saw" in verdict.message


def test_backoff() -> None:
    assert [client.backoff(n) for n in range(1, 7)] == [5, 15, 45, 60, 60, 60]


# --- runs: exit codes, retries, output -----------------------------------------------


def test_nochg_is_silent(run: Run) -> None:
    assert run(ok("nochg 203.0.113.7\n")) == 0
    assert (run.stdout.getvalue(), run.stderr.getvalue(), run.logs) == ("", "", [])
    assert run.calls == 1


def test_good_logs_one_info_line_prints_nothing(run: Run) -> None:
    assert run(ok("good 203.0.113.7\n")) == 0
    assert (run.stdout.getvalue(), run.stderr.getvalue()) == ("", "")
    assert run.logs == [(syslog.LOG_INFO, "home.dyn.example.org IPv4: good 203.0.113.7")]


def test_quiet_success_and_verbose(run: Run) -> None:
    assert run(ok("good 2001:db8::7"), args=("--family", "6", "--quiet-success")) == 0
    assert (run.stdout.getvalue(), run.stderr.getvalue(), run.logs) == ("", "", [])
    assert run(ok("nochg 2001:db8::7"), args=("--family", "6", "--verbose")) == 0
    assert run.stdout.getvalue() == "home.dyn.example.org IPv6: nochg 2001:db8::7\n"
    assert (run.stderr.getvalue(), run.logs) == ("", [])


@pytest.mark.parametrize(
    "body", ["badauth", "nohost", "notfqdn", "abuse", "badagent", "numhost", "badip", "badtxt"]
)
def test_permanent_failure_is_not_retried(run: Run, body: str) -> None:
    assert run(ok(body)) == 2
    assert run.calls == 1
    assert run.sleeps == []
    line = run.stderr.getvalue()
    assert line.startswith(f"home.dyn.example.org IPv4: {body}: ")
    assert line.count("\n") == 1
    assert run.logs == [(syslog.LOG_ERR, line.rstrip("\n"))]
    assert run.stdout.getvalue() == ""


def test_badauth_says_which_file(run: Run) -> None:
    assert run(ok("badauth")) == 2
    assert run.stderr.getvalue() == (
        "home.dyn.example.org IPv4: badauth: the server refused the username or password"
        f" in {run.path}\n"
    )


@pytest.mark.parametrize("status", [401, 403, 404])
def test_http_permanent_statuses(run: Run, status: int) -> None:
    assert run(ok("", status)) == 2
    assert run.calls == 1
    assert f"HTTP {status}" in run.stderr.getvalue()


def test_transient_then_good(run: Run) -> None:
    assert run(down(), ok("911"), ok("good 203.0.113.7")) == 0
    assert run.calls == 3
    assert run.sleeps == [5, 15]
    assert (run.stdout.getvalue(), run.stderr.getvalue()) == ("", "")
    assert run.logs == [(syslog.LOG_INFO, "home.dyn.example.org IPv4: good 203.0.113.7")]


@pytest.mark.parametrize(
    "answer", [down("no IPv6 address for update.example.org"), ok("dnserr"), ok("", 503)]
)
def test_transient_gives_up_after_retries(run: Run, answer: Any) -> None:
    assert run(answer) == 1
    assert run.calls == 3
    assert run.sleeps == [5, 15]
    line = run.stderr.getvalue()
    assert line.startswith("home.dyn.example.org IPv4: ")
    assert line.endswith(" (gave up after 3 attempts)\n")
    assert run.logs == [(syslog.LOG_ERR, line.rstrip("\n"))]
    assert run.stdout.getvalue() == ""


def test_retries_from_config(tmp_path: Path) -> None:
    run = Run(tmp_path, CONF + "retries = 5\n")
    assert run(down()) == 1
    assert (run.calls, run.sleeps) == (5, [5, 15, 45, 60])
    run = Run(tmp_path, CONF + "retries = 1\n")
    assert run(down("no IPv6 route")) == 1
    assert (run.calls, run.sleeps) == (1, [])
    assert run.stderr.getvalue().endswith("no IPv6 route (gave up after 1 attempt)\n")


def test_transient_then_permanent_stops(run: Run) -> None:
    assert run(ok("911"), ok("badauth"), ok("good 1.2.3.4")) == 2
    assert run.calls == 2
    assert run.sleeps == [5]


@pytest.mark.parametrize(
    "answer",
    [
        ok("good 203.0.113.7"),
        ok("badauth"),
        ok(f"weird {PASSWORD}"),
        down(f"connection failed for {PASSWORD} / Basic {TOKEN}"),
    ],
)
def test_password_never_leaves(run: Run, answer: Any) -> None:
    run(answer, args=("--family", "4", "--verbose"))
    run(answer, args=("--family", "6", "--verbose"))
    assert run.everything().strip()  # something was said
    assert PASSWORD not in run.everything()
    assert TOKEN not in run.everything()


def test_redact() -> None:
    c = config()
    assert client.redact(f"a {PASSWORD} b {TOKEN}", c) == "a *** b ***"
    assert client.redact("plain", None) == "plain"


# --- network pieces without a network ------------------------------------------------


def test_no_address_of_the_family(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: str, port: int, family: int, *args: Any) -> list[Any]:
        if family == socket.AF_INET6:
            raise socket.gaierror(socket.EAI_NODATA, "No address associated with hostname")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", port))]

    monkeypatch.setattr(client.socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(client.TransportError, match=r"^no IPv6 address for update\.example\.org$"):
        client.open_socket("update.example.org", 443, socket.AF_INET6, 1)


def test_unresolvable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(client.socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(client.TransportError, match=r"cannot resolve nx\.example: Name or service"):
        client.open_socket("nx.example", 443, socket.AF_INET, 1)


class FakeSocket:
    error: OSError = OSError(errno.ENETUNREACH, "Network is unreachable")
    tried: ClassVar[list[Any]] = []

    def __init__(self, *args: Any) -> None:
        self.closed = False

    def settimeout(self, timeout: float) -> None:
        pass

    def connect(self, sockaddr: Any) -> None:
        FakeSocket.tried.append(sockaddr)
        raise self.error

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "no IPv6 route to u.example"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign"), "no IPv6 route to u.example"),
        (TimeoutError("timed out"), "no IPv6 connection to u.example ([2001:db8::1]:443) within 2"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "cannot connect to"),
    ],
)
def test_connect_errors(monkeypatch: pytest.MonkeyPatch, error: OSError, expected: str) -> None:
    infos = [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::1", 443, 0, 0)),
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::2", 443, 0, 0)),
    ]
    monkeypatch.setattr(client.socket, "getaddrinfo", lambda *args: infos)
    monkeypatch.setattr(client.socket, "socket", FakeSocket)
    monkeypatch.setattr(FakeSocket, "error", error)
    monkeypatch.setattr(FakeSocket, "tried", [])
    with pytest.raises(client.TransportError) as caught:
        client.open_socket("u.example", 443, socket.AF_INET6, 2)
    assert str(caught.value).startswith(expected)
    assert [sockaddr[0] for sockaddr in FakeSocket.tried] == ["2001:db8::1", "2001:db8::2"]


def test_any_family_tries_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    infos = [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::1", 443, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 443)),
    ]
    families = []

    def getaddrinfo(host: str, port: int, family: int, *args: Any) -> list[Any]:
        families.append(family)
        return infos

    monkeypatch.setattr(client.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(client.socket, "socket", FakeSocket)
    monkeypatch.setattr(FakeSocket, "tried", [])
    with pytest.raises(client.TransportError, match=r"^no IP route to u\.example \("):
        client.open_socket("u.example", 443, socket.AF_UNSPEC, 2)
    assert families == [socket.AF_UNSPEC]
    assert [sockaddr[0] for sockaddr in FakeSocket.tried] == ["2001:db8::1", "192.0.2.1"]


def test_real_refused_connection_on_loopback() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        client.TransportError, match=rf"^cannot connect to 127\.0\.0\.1:{port} over"
    ):
        client.open_socket("127.0.0.1", port, socket.AF_INET, 2)
    with pytest.raises(client.TransportError, match=r"^no IPv6 address for 127\.0\.0\.1$"):
        client.open_socket("127.0.0.1", port, socket.AF_INET6, 2)


def test_script_is_executable_with_shebang() -> None:
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    assert os.access(SCRIPT, os.X_OK)


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    main: Callable[..., int] = client.main
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    assert "--quiet-success" in capsys.readouterr().out
