"""Helpers for the integration tests: talk to the test knotd, call the app over WSGI."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import wsgi_support

ZONE = "dyn.example.test"


def generate_key(keymgr: str, name: str) -> str:
    """`keymgr -t NAME hmac-sha512` as the one-line `alg:name:secret` of knsupdate -k."""
    out = subprocess.run(
        [keymgr, "-t", name, "hmac-sha512"], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        if line.startswith("# hmac-sha512:"):
            return line[2:].strip()
    raise RuntimeError(f"unexpected keymgr output: {out!r}")


@dataclass
class Knot:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    address: str = "127.0.0.1"
    zone: str = ZONE

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        return dns.query.tcp(query, self.address, port=self.port, timeout=2)

    def ready(self) -> bool:
        try:
            return self.query(self.zone, "SOA").rcode() == dns.rcode.NOERROR and self.serial() > 0
        except (OSError, EOFError, dns.exception.DNSException):
            return False

    def records(self, name: str, rdtype: str) -> set[str]:
        """The values of the RRset, as text; empty when there is none."""
        response = self.query(name, rdtype)
        assert response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
        values: set[str] = set()
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rdtype):
                values.update(rdata.to_text() for rdata in rrset)
        return values

    def has(self, name: str, rdtype: str) -> bool:
        """Whether NAME has an RRset of RDTYPE; False when the server does not answer."""
        try:
            response = self.query(name, rdtype)
        except (OSError, EOFError, dns.exception.DNSException):
            return False
        return any(rrset.rdtype == dns.rdatatype.from_text(rdtype) for rrset in response.answer)

    def ttl(self, name: str, rdtype: str) -> int:
        return self.query(name, rdtype).answer[0].ttl

    def serial(self) -> int:
        answer = self.query(self.zone, "SOA").answer
        return answer[0][0].serial if answer else 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port_on(addresses: list[str]) -> int:
    """A port free for both TCP and UDP on every one of ADDRESSES (IPv4 loopback)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        try:
            for address in addresses:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as sock:
                        sock.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free on all of {addresses}")


def start_plain_knotd(
    base: Path,
    address: str,
    port: int,
    zones: dict[str, str],
    *,
    signed: Collection[str] = (),
) -> Knot:
    """A knotd without keys or ACLs serving ZONES ({name: zone file text}) on ADDRESS@PORT.

    The zones named in SIGNED are DNSSEC-signed with Knot's default policy: knotd makes a KSK
    and a ZSK (ECDSA P-256) in its KASP database under BASE/db on the first load, and bumps
    the serial when it signs. `keymgr -c BASE/knot.conf ZONE ds` prints their DS records.

    Waits until the first zone answers and every signed zone serves its DNSKEY; the caller
    must stop() it. Skips the test when knotd is not installed."""
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    if not Path(knotd).exists():
        pytest.skip("knotd (Debian package knot) is not installed")
    for sub in ("run", "db", "zones"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for name, text in zones.items():
        (base / "zones" / f"{name}.zone").write_text(text)
    zone_entries = "".join(
        f"  - domain: {name}.\n" + ("    dnssec-signing: on\n" if name in signed else "")
        for name in zones
    )
    conf = base / "knot.conf"
    conf.write_text(
        f"""\
server:
    rundir: "{base}/run"
    listen: {address}@{port}

control:
    listen: "{base}/run/knot.sock"

log:
  - target: stderr
    any: info

database:
    storage: "{base}/db"

template:
  - id: default
    storage: "{base}/zones"
    file: "%s.zone"

zone:
{zone_entries}"""
    )
    log_path = base / "knotd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([knotd, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    server = Knot(
        port=port, process=process, log_path=log_path, address=address, zone=next(iter(zones))
    )
    deadline = time.monotonic() + 15
    while not server.ready() or not all(server.has(name, "DNSKEY") for name in signed):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"knotd did not start:\n{server.log()}")
        time.sleep(0.05)
    return server


def call(app: Any, path: str, query: str = "", **kwargs: Any) -> tuple[str, str]:
    """One WSGI request; returns (status, body)."""
    status, _, body = wsgi_support.call(app, path, query, **kwargs)
    return status, body
