"""The client as certbot's DNS-01 hooks: its DNS packets, and the hook flow with a fake
HTTP transport and a fake (or an in-process) DNS responder."""

from __future__ import annotations

import io
import socket
import struct
import syslog
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dyndns_client as client
import pytest

CONF = """\
[dyndns]
url = https://update.example.org/nic/update
hostname = home.dyn.example.org
username = home
password = a-secret-password
"""
DOMAIN = "home.dyn.example.org"
NAME = f"_acme-challenge.{DOMAIN}"
VALUE = "gfj9Xq-Mu1p8aO4nZwWw8bU0eLvJ7kzxRZ5yIw5mLzE"
ENV = {"CERTBOT_DOMAIN": DOMAIN, "CERTBOT_VALIDATION": VALUE}
NS1, NS2 = ("192.0.2.53", 53), ("2001:db8::53", 5353)


# --- DNS packets, built by hand --------------------------------------------------------


def qname(name: str) -> bytes:
    return b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"


def txt_rr(owner: bytes, *strings: bytes, rtype: int = 16) -> bytes:
    rdata = b"".join(bytes([len(x)]) + x for x in strings)
    return owner + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


def answer(query_id: int, *records: bytes, flags: int = 0x8400, name: str = NAME) -> bytes:
    header = struct.pack("!6H", query_id, flags, 1, len(records), 0, 0)
    return header + qname(name) + struct.pack("!HH", 16, 1) + b"".join(records)


POINTER = b"\xc0\x0c"  # the name in the question, right after the header


def test_query_packet() -> None:
    packet = client.dns_query(NAME + ".", 0x1234)
    assert packet == (
        b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"  # id, no flags (no RD), 1 question
        b"\x0f_acme-challenge\x04home\x03dyn\x07example\x03org\x00"
        b"\x00\x10\x00\x01"  # TXT, IN
    )
    with pytest.raises(client.DnsError):
        client.dns_query("a..b", 1)


def test_answer_with_compression_and_several_strings() -> None:
    packet = answer(
        7,
        txt_rr(POINTER, VALUE.encode()),
        txt_rr(POINTER, b"split ", b"value"),  # one record of two strings
        txt_rr(qname("other.dyn.example.org"), b"elsewhere"),
        txt_rr(POINTER, b"\x00\x01", rtype=99),  # not TXT
        txt_rr(qname(NAME.upper()), b"upper-case owner"),
    )
    parsed = client.parse_txt_answer(packet, 7, NAME)
    assert parsed == client.DnsAnswer(0, False, (VALUE, "split value", "upper-case owner"))


def test_answer_flags_and_rcode() -> None:
    assert client.parse_txt_answer(answer(1, flags=0x8603), 1, NAME) == client.DnsAnswer(
        3, True, ()
    )


@pytest.mark.parametrize(
    "packet",
    [
        b"\x00\x07\x84",  # shorter than a header
        answer(8, txt_rr(POINTER, b"v")),  # another id
        answer(7, txt_rr(POINTER, b"v"), flags=0x0000),  # a query, not an answer
        answer(7, txt_rr(POINTER, b"v"))[:-1],  # cut short
        answer(7, txt_rr(b"\xc0\x30", b"v")),  # a pointer past the end
        answer(7, txt_rr(b"\x80", b"v")),  # an unknown label type
        answer(7, POINTER[:1]),  # a pointer cut in half
        answer(7, b"\x05ab"),  # a label cut short
    ],
)
def test_malformed_answers(packet: bytes) -> None:
    with pytest.raises(client.DnsError):
        client.parse_txt_answer(packet, 7, NAME)


def test_pointer_loop_is_an_error() -> None:
    header = struct.pack("!6H", 7, 0x8400, 0, 1, 0, 0)
    looping = header + b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, 0)
    with pytest.raises(client.DnsError, match="compression loop"):
        client.parse_txt_answer(looping, 7, NAME)


def test_txt_string_longer_than_its_record() -> None:
    bad = POINTER + struct.pack("!HHIH", 16, 1, 60, 3) + b"\x05ab"
    with pytest.raises(client.DnsError, match="TXT string"):
        client.parse_txt_answer(answer(7, bad), 7, NAME)


# --- a DNS server in-process: UDP answers truncated, TCP answers in full ----------------


@pytest.fixture
def responder() -> Iterator[tuple[str, int]]:
    # One port for both: the kernel's free UDP port may be taken for TCP (seen once in CI).
    for _attempt in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket()
        try:
            tcp.bind(("127.0.0.1", port))
            break
        except OSError:
            udp.close()
            tcp.close()
    else:
        pytest.fail("no port on 127.0.0.1 was free for both UDP and TCP in 50 tries")
    tcp.listen(1)

    def reply(query: bytes, truncated: bool) -> bytes:
        (query_id,) = struct.unpack_from("!H", query)
        if truncated:
            return answer(query_id, flags=0x8600)
        return answer(query_id, txt_rr(POINTER, b"x" * 255, b"y" * 45), txt_rr(POINTER, b"v"))

    def serve_udp() -> None:
        data, peer = udp.recvfrom(512)
        udp.sendto(reply(data, truncated=True), peer)

    def serve_tcp() -> None:
        connection, _peer = tcp.accept()
        with connection:
            (length,) = struct.unpack("!H", connection.recv(2))
            data = reply(connection.recv(length), truncated=False)
            connection.sendall(struct.pack("!H", len(data)) + data)

    threads = [threading.Thread(target=f, daemon=True) for f in (serve_udp, serve_tcp)]
    for thread in threads:
        thread.start()
    try:
        yield ("127.0.0.1", port)
    finally:
        udp.close()
        tcp.close()


def test_query_txt_retries_over_tcp_when_truncated(responder: tuple[str, int]) -> None:
    parsed = client.query_txt(responder, NAME, 2)
    assert parsed.txt == ("x" * 255 + "y" * 45, "v")
    assert not parsed.truncated


def test_query_txt_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        with pytest.raises(TimeoutError):
            client.query_txt(silent.getsockname(), NAME, 0.2)


# --- config ------------------------------------------------------------------------------


def test_nameservers_and_waits_in_config() -> None:
    c = client.parse_config(CONF, "x.conf")
    assert (c.nameservers, c.propagation_timeout, c.propagation_seconds) == ((), 60, 10)
    extra = "nameservers = 192.0.2.53, 2001:db8::53@5353\npropagation_timeout = 30\n"
    c = client.parse_config(CONF + extra + "propagation_seconds = 0\n", "x.conf")
    assert (c.nameservers, c.propagation_timeout, c.propagation_seconds) == ((NS1, NS2), 30, 0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("nameservers = ns1.example.org\n", "nameservers: 'ns1.example.org' is not an IP"),
        ("nameservers = 192.0.2.53@0\n", "nameservers: '192.0.2.53@0' is not an IP"),
        ("nameservers = 192.0.2.53@x\n", "nameservers: '192.0.2.53@x' is not an IP"),
        ("propagation_timeout = 0\n", "propagation_timeout: '0' is out of range (1 to 3600)"),
        ("propagation_seconds = -1\n", "propagation_seconds: '-1' is out of range (0 to 3600)"),
    ],
)
def test_bad_nameservers_and_waits(extra: str, message: str) -> None:
    with pytest.raises(client.ConfigError) as caught:
        client.parse_config(CONF + extra, "x.conf")
    assert str(caught.value).startswith(f"x.conf: [dyndns] {message}")


# --- the hooks, with a fake transport, fake name servers and a fake clock --------------


class FakeDns:
    """Each server answers without the value for its first `late[server]` queries."""

    def __init__(self, late: dict[tuple[str, int], int | None]) -> None:
        self.late = late
        self.asked: list[tuple[tuple[str, int], str]] = []

    def __call__(self, server: tuple[str, int], name: str, timeout: float) -> Any:
        self.asked.append((server, name))
        late = self.late[server]
        if late is None:
            raise TimeoutError("timed out")
        self.late[server] = late - 1
        return client.DnsAnswer(0, False, ("other",) if late > 0 else ("other", VALUE))


class Hook:
    def __init__(self, tmp_path: Path, extra: str = "") -> None:
        self.path = tmp_path / "home.conf"
        self.path.write_text(CONF + extra)
        self.now = 0.0
        self.sleeps: list[float] = []
        self.logs: list[tuple[int, str]] = []
        self.requests: list[Any] = []
        self.stdout, self.stderr = io.StringIO(), io.StringIO()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(
        self, flag: str, body: str = "good", dns: Any = None, env: dict[str, str] = ENV
    ) -> int:
        def transport(request: Any) -> Any:
            self.requests.append(request)
            return client.Response(200, body.encode())

        runtime = client.Runtime(
            transport=transport,
            sleep=self.sleep,
            log=lambda priority, line: self.logs.append((priority, line)),
            stdout=self.stdout,
            stderr=self.stderr,
            dns_query=dns or FakeDns({}),
            clock=lambda: self.now,
            environ=env,
        )
        return client.main(["--config", str(self.path), flag], runtime)


def test_auth_adds_the_value_and_waits_until_every_server_has_it(tmp_path: Path) -> None:
    hook = Hook(tmp_path, "nameservers = 192.0.2.53 2001:db8::53@5353\n")
    dns = FakeDns({NS1: 0, NS2: 2})  # the secondary gets it two rounds later
    assert hook("--certbot-auth", dns=dns) == 0
    (request,) = hook.requests
    assert request.target == f"/nic/update?hostname={DOMAIN}&addtxt={VALUE}"
    assert request.family == socket.AF_UNSPEC  # any family will do
    assert dns.asked == [(NS1, NAME), (NS2, NAME), (NS2, NAME), (NS2, NAME)]
    assert hook.sleeps == [2, 2]
    assert hook.logs == [(syslog.LOG_INFO, f"{DOMAIN} certbot-auth: good")]
    assert (hook.stdout.getvalue(), hook.stderr.getvalue()) == ("", "")


def test_auth_for_a_wildcard_and_an_odd_value(tmp_path: Path) -> None:
    hook = Hook(tmp_path, "nameservers = 192.0.2.53\n")
    env = {"CERTBOT_DOMAIN": f"*.{DOMAIN.upper()}.", "CERTBOT_VALIDATION": "a b&c"}
    assert hook("--certbot-auth", "nochg", dns=FakeDns({NS1: None}), env=env) == 1
    assert hook.requests[0].target == f"/nic/update?hostname={DOMAIN}&addtxt=a%20b%26c"


def test_auth_fails_when_a_server_never_has_the_value(tmp_path: Path) -> None:
    hook = Hook(tmp_path, "nameservers = 192.0.2.53, 2001:db8::53@5353\npropagation_timeout=5\n")
    assert hook("--certbot-auth", dns=FakeDns({NS1: 100, NS2: None})) == 1
    assert hook.sleeps == [2, 2, 2]
    assert hook.stderr.getvalue() == (
        f"{DOMAIN} certbot-auth: the TXT value at {NAME} is not on every name server after 5 s"
        " (192.0.2.53: NOERROR without the value; 2001:db8::53@5353: no answer: timed out);"
        f" check nameservers in {hook.path}\n"
    )
    assert hook.logs == [(syslog.LOG_ERR, hook.stderr.getvalue().rstrip("\n"))]


def test_auth_without_nameservers_waits_propagation_seconds(tmp_path: Path) -> None:
    hook = Hook(tmp_path, "propagation_seconds = 15\n")
    dns = FakeDns({})
    assert hook("--certbot-auth", "nochg", dns=dns) == 0
    assert hook.sleeps == [15]
    assert dns.asked == []
    assert hook.logs == []  # nochg: nothing to say


def test_cleanup_removes_the_value_without_waiting(tmp_path: Path) -> None:
    hook = Hook(tmp_path, "nameservers = 192.0.2.53\n")
    dns = FakeDns({})
    assert hook("--certbot-cleanup", dns=dns) == 0
    assert hook.requests[0].target == f"/nic/update?hostname={DOMAIN}&deltxt={VALUE}"
    assert (hook.sleeps, dns.asked) == ([], [])


def test_a_domain_the_user_does_not_own_is_nohost(tmp_path: Path) -> None:
    hook = Hook(tmp_path)
    env = {"CERTBOT_DOMAIN": "www.example.org", "CERTBOT_VALIDATION": VALUE}
    assert hook("--certbot-auth", "nohost", env=env) == 2
    assert hook.stderr.getvalue() == (
        "www.example.org certbot-auth: nohost: the server does not let user home set TXT"
        f" records for www.example.org; the domain must be hostname in {hook.path} (or another"
        " host of user home) with TXT in its types on the server\n"
    )
    assert hook.sleeps == []


def test_a_full_txt_set_is_badtxt(tmp_path: Path) -> None:
    hook = Hook(tmp_path)
    assert hook("--certbot-auth", "badtxt") == 2
    assert "already holds 4 values" in hook.stderr.getvalue()


def test_transient_failures_are_retried(tmp_path: Path) -> None:
    hook = Hook(tmp_path, "retries = 2\n")
    assert hook("--certbot-cleanup", "911") == 1
    assert len(hook.requests) == 2
    assert hook.stderr.getvalue().endswith("(gave up after 2 attempts)\n")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "--certbot-auth: CERTBOT_DOMAIN and CERTBOT_VALIDATION are not set; run it as"),
        ({"CERTBOT_DOMAIN": DOMAIN}, "are not set"),
        ({"CERTBOT_DOMAIN": "localhost", "CERTBOT_VALIDATION": VALUE}, "is not a host name"),
        ({"CERTBOT_DOMAIN": "home\n.example.org", "CERTBOT_VALIDATION": VALUE}, "not a host"),
        ({"CERTBOT_DOMAIN": DOMAIN, "CERTBOT_VALIDATION": "x" * 256}, "not 1 to 255 printable"),
        ({"CERTBOT_DOMAIN": DOMAIN, "CERTBOT_VALIDATION": "tab\there"}, "not 1 to 255"),
    ],
)
def test_without_certbots_environment(tmp_path: Path, env: dict[str, str], message: str) -> None:
    hook = Hook(tmp_path)
    assert hook("--certbot-auth", env=env) == 2
    assert message in hook.stderr.getvalue()
    assert hook.requests == []


def test_modes_exclude_each_other(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hook = Hook(tmp_path)
    with pytest.raises(SystemExit) as caught:
        client.main(["--config", str(hook.path), "--family", "4", "--certbot-auth"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
