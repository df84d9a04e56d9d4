"""The client script, run as cron runs it, against the real app over HTTPS and a real knotd.

The app is served over TLS on loopback with a test CA made here. It refuses loopback
addresses (`badip`), so a small WSGI wrapper shows it a documentation address instead
of the loopback one it was called from: 192.0.2.10 for 127.0.0.1, 2001:db8::10 for ::1.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import syslog
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import dyndns_client as client
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from dyndns_update import auth
from dyndns_update.app import make_app
from knot_support import ZONE, Knot

SCRIPT = Path(__file__).resolve().parents[2] / "files" / "dyndns_client" / "dyndns_client.py"
HOME = f"home.{ZONE}"
NAS = f"nas.{ZONE}"  # A only
PASSWORD = "home-password-1234"
SEEN_AS = {"127.0.0.1": "192.0.2.10", "::1": "2001:db8::10"}


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# --- a test CA and a certificate for localhost and ::1 -------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The server's certificate names localhost and ::1, not 127.0.0.1 (for a mismatch)."""
    base = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("dyndns-client test CA"))
        .issuer_name(_name("dyndns-client test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("::1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(base / "ca.pem", base / "server.pem", base / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


# --- the app behind TLS --------------------------------------------------------------


@dataclass
class Seen:
    """What the app was called with, before the wrapper changed REMOTE_ADDR."""

    remote_addr: str
    user_agent: str | None
    query: str
    authorization: bool


@dataclass
class Recorder:
    app: Callable[..., Iterable[bytes]]
    seen: list[Seen] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        remote = environ["REMOTE_ADDR"]
        self.seen.append(
            Seen(
                remote,
                environ.get("HTTP_USER_AGENT"),
                environ.get("QUERY_STRING", ""),
                "HTTP_AUTHORIZATION" in environ,
            )
        )
        environ["REMOTE_ADDR"] = SEEN_AS.get(remote, remote)
        return self.app(environ, start_response)


@pytest.fixture
def app(tmp_path: Path, knot: Knot, keys: dict[str, str]) -> Recorder:
    base = tmp_path / "server"
    base.mkdir()
    (base / "tsig.key").write_text(keys["dyndns-update"] + "\n")
    credentials = {"users": {"home": auth.hash_password(PASSWORD)}, "tokens": {}}
    (base / "credentials.json").write_text(json.dumps(credentials))
    os.chmod(base / "credentials.json", 0o600)
    config = {
        "zone": ZONE,
        "server": "127.0.0.1",
        "port": knot.port,
        "timeout": 1.0,
        "tsig_key_file": str(base / "tsig.key"),
        "credentials_file": str(base / "credentials.json"),
        "ttl": 60,
        "hosts": {
            HOME: {"username": "home", "types": ["A", "AAAA", "TXT"]},
            NAS: {"username": "home", "types": ["A"]},
        },
    }
    (base / "config.json").write_text(json.dumps(config))
    return Recorder(make_app(str(base / "config.json")))


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


@dataclass
class Bed:
    """One test's world: knotd, the app, its HTTPS servers, the client's config files."""

    tmp_path: Path
    app: Recorder
    knot: Knot
    pki: Pki
    servers: list[WSGIServer] = field(default_factory=list)

    def serve(self, address: str = "127.0.0.1") -> int:
        """An HTTPS server for the app on `address`; returns its port."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        server_class = _Server6 if ":" in address else _Server
        server = make_server(
            address, 0, self.app, server_class=server_class, handler_class=_QuietHandler
        )
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_port

    def conf(self, url: str, *, name: str = "home.conf", ca: bool = True, **fields: str) -> Path:
        """A client config file as the client role writes it (retries 1 unless told)."""
        values = {
            "url": url,
            "hostname": HOME,
            "username": "home",
            "password": PASSWORD,
            "timeout": "5",
            "retries": "1",
            **fields,
        }
        if ca:
            values["ca_file"] = str(self.pki.ca_file)
        path = self.tmp_path / name
        path.write_text("[dyndns]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
        path.chmod(0o600)
        return path

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def bed(tmp_path: Path, app: Recorder, knot: Knot, pki: Pki) -> Iterator[Bed]:
    world = Bed(tmp_path, app, knot, pki)
    try:
        yield world
    finally:
        world.stop()


def run_client(conf: Path, family: str) -> subprocess.CompletedProcess[str]:
    """The script as cron runs it: its own process, output captured."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--config", str(conf), "--family", family],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_hook(conf: Path, flag: str, domain: str, value: str) -> subprocess.CompletedProcess[str]:
    """The script as certbot runs its hooks: CERTBOT_* in the environment."""
    env = {**os.environ, "CERTBOT_DOMAIN": domain, "CERTBOT_VALIDATION": value}
    env.update(CERTBOT_REMAINING_CHALLENGES="0", CERTBOT_ALL_DOMAINS=f"{domain},*.{domain}")
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--config", str(conf), flag],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


# --- the tests -----------------------------------------------------------------------


def test_family_4_sets_the_a_record(bed: Bed) -> None:
    port = bed.serve("127.0.0.1")
    conf = bed.conf(f"https://localhost:{port}/nic/update")
    serial = bed.knot.serial()
    result = run_client(conf, "4")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert bed.knot.records(HOME, "A") == {"192.0.2.10"}
    assert bed.knot.records(HOME, "AAAA") == set()
    assert bed.knot.serial() == serial + 1
    # One request, credentials sent up front, over IPv4, no myip.
    assert bed.app.seen == [
        Seen("127.0.0.1", "selfhosted-dyndns-client/1.0", f"hostname={HOME}", authorization=True)
    ]
    # The next run: nochg, silent, no UPDATE sent.
    result = run_client(conf, "4")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert bed.knot.serial() == serial + 1
    assert len(bed.app.seen) == 2


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_family_6_sets_the_aaaa_record(bed: Bed) -> None:
    port = bed.serve("::1")
    conf = bed.conf(f"https://[::1]:{port}/nic/update")
    result = run_client(conf, "6")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert bed.knot.records(HOME, "AAAA") == {"2001:db8::10"}
    assert bed.knot.records(HOME, "A") == set()
    assert [seen.remote_addr for seen in bed.app.seen] == ["::1"]
    # The A-only host: the server answers nohost, a permanent failure.
    nas = bed.conf(f"https://[::1]:{port}/nic/update", name="nas.conf", hostname=NAS)
    result = run_client(nas, "6")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{NAS} IPv6: nohost: the server does not let user home")
    assert bed.knot.records(NAS, "AAAA") == set()
    # --family 4 to an IPv6-only URL: no IPv4 address to go over.
    result = run_client(conf, "4")
    assert result.returncode == 1
    assert result.stderr == f"{HOME} IPv4: no IPv4 address for ::1 (gave up after 1 attempt)\n"
    assert len(bed.app.seen) == 2


def test_wrong_password(bed: Bed) -> None:
    port = bed.serve("127.0.0.1")
    conf = bed.conf(f"https://localhost:{port}/nic/update", password="wrong-password-5678")
    serial = bed.knot.serial()
    result = run_client(conf, "4")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"{HOME} IPv4: badauth: the server refused the username or password in {conf}\n"
    )
    assert "wrong-password-5678" not in result.stderr
    assert bed.knot.records(HOME, "A") == set()
    assert bed.knot.serial() == serial
    assert len(bed.app.seen) == 1  # permanent: not retried


def test_server_down(bed: Bed) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://localhost:{port}/nic/update"
    result = run_client(bed.conf(url), "4")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{HOME} IPv4: cannot connect to localhost (127.0.0.1:{port}) over IPv4:"
        " Connection refused (gave up after 1 attempt)\n"
    )
    # With retries = 3, in-process with the real transport: three connection attempts.
    conf = bed.conf(url, name="retry.conf", retries="3")
    attempts: list[Any] = []
    sleeps: list[float] = []
    logs: list[tuple[int, str]] = []

    def counting(request: Any) -> Any:
        attempts.append(request)
        return client.https_get(request)

    runtime = client.Runtime(
        transport=counting,
        sleep=sleeps.append,
        log=lambda priority, line: logs.append((priority, line)),
        stdout=(out := io.StringIO()),
        stderr=(err := io.StringIO()),
    )
    assert client.main(["--config", str(conf), "--family", "4"], runtime) == 1
    assert (len(attempts), sleeps) == (3, [5, 15])
    assert err.getvalue().endswith("Connection refused (gave up after 3 attempts)\n")
    assert logs == [(syslog.LOG_ERR, err.getvalue().rstrip("\n"))]
    assert out.getvalue() == ""
    assert bed.knot.records(HOME, "A") == set()


@pytest.mark.parametrize(
    ("host", "ca", "reason"),
    [
        ("localhost", False, "unable to get local issuer certificate"),
        ("127.0.0.1", True, "IP address mismatch"),
    ],
    ids=["unknown-ca", "name-mismatch"],
)
def test_certificate_not_accepted(bed: Bed, host: str, ca: bool, reason: str) -> None:
    port = bed.serve("127.0.0.1")
    result = run_client(bed.conf(f"https://{host}:{port}/nic/update", ca=ca), "4")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{HOME} IPv4: TLS certificate of {host} not accepted: ")
    assert reason in result.stderr
    assert bed.app.seen == []  # the password never went over the untrusted connection
    assert bed.knot.records(HOME, "A") == set()


def test_family_6_to_an_ipv4_only_server(bed: Bed) -> None:
    port = bed.serve("127.0.0.1")
    result = run_client(bed.conf(f"https://localhost:{port}/nic/update"), "6")
    assert result.returncode == 1
    assert result.stdout == ""
    # "no IPv6 address for localhost" where localhost is 127.0.0.1 only; where it is
    # also ::1, nothing listens there: "cannot connect to localhost ([::1]:port) over IPv6".
    assert result.stderr.startswith(f"{HOME} IPv6: ")
    assert "IPv6" in result.stderr.split(": ", 1)[1]
    assert "localhost" in result.stderr
    assert result.stderr.endswith("(gave up after 1 attempt)\n")
    assert bed.app.seen == []
    assert bed.knot.records(HOME, "AAAA") == set()
    assert bed.knot.records(HOME, "A") == set()


ACME = f"_acme-challenge.{HOME}"


def test_certbot_hooks_for_a_name_and_its_wildcard(bed: Bed) -> None:
    """As certbot runs them for -d home... -d '*.home...': two values at once, each
    removed by its own cleanup; the auth hook returns once knotd answers with its value."""
    port = bed.serve("127.0.0.1")
    url = f"https://localhost:{port}/nic/update"
    conf = bed.conf(url, nameservers=f"127.0.0.1@{bed.knot.port}", propagation_timeout="10")
    first, second = "A" * 43, "b-" * 21 + "c"
    for value in (first, second):
        result = run_hook(conf, "--certbot-auth", HOME, value)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert bed.knot.records(ACME, "TXT") == {f'"{first}"', f'"{second}"'}
    assert [seen.query for seen in bed.app.seen] == [
        f"hostname={HOME}&addtxt={first}",
        f"hostname={HOME}&addtxt={second}",
    ]
    result = run_hook(conf, "--certbot-cleanup", HOME, first)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert bed.knot.records(ACME, "TXT") == {f'"{second}"'}
    assert run_hook(conf, "--certbot-cleanup", HOME, second).returncode == 0
    assert run_hook(conf, "--certbot-cleanup", HOME, second).returncode == 0  # nochg
    assert bed.knot.records(ACME, "TXT") == set()
    assert bed.knot.records(HOME, "A") == set()  # the caller's address was not used


def test_certbot_hook_for_a_domain_not_the_users(bed: Bed) -> None:
    port = bed.serve("127.0.0.1")
    conf = bed.conf(f"https://localhost:{port}/nic/update")
    serial = bed.knot.serial()
    for domain in (f"other.{ZONE}", NAS):  # not a host of this user; a host without TXT
        result = run_hook(conf, "--certbot-auth", domain, "A" * 43)
        assert result.returncode == 2
        assert result.stderr.startswith(
            f"{domain} certbot-auth: nohost: the server does not let user home set TXT records"
        )
    assert bed.knot.serial() == serial


def test_certbot_auth_fails_when_a_name_server_lacks_the_value(bed: Bed) -> None:
    port = bed.serve("127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # a name server that never answers
        quiet = f"127.0.0.1@{silent.getsockname()[1]}"
        servers = f"127.0.0.1@{bed.knot.port}, {quiet}"
        conf = bed.conf(
            f"https://localhost:{port}/nic/update", nameservers=servers, propagation_timeout="1"
        )
        result = run_hook(conf, "--certbot-auth", HOME, "A" * 43)
    assert result.returncode == 1
    assert result.stderr == (
        f"{HOME} certbot-auth: the TXT value at {ACME} is not on every name server after 1 s"
        f" ({quiet}: no answer: timed out);"
        f" check nameservers in {conf}\n"
    )
    assert bed.knot.records(ACME, "TXT") == {f'"{"A" * 43}"'}  # the cleanup hook removes it
