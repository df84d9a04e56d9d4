"""Helpers for the integration tests: talk to the test knotd, call the app over WSGI."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

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

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        return dns.query.tcp(query, "127.0.0.1", port=self.port, timeout=2)

    def ready(self) -> bool:
        try:
            return self.query(ZONE, "SOA").rcode() == dns.rcode.NOERROR and self.serial() > 0
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

    def ttl(self, name: str, rdtype: str) -> int:
        return self.query(name, rdtype).answer[0].ttl

    def serial(self) -> int:
        answer = self.query(ZONE, "SOA").answer
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


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(
    app: Any,
    path: str,
    query: str = "",
    authorization: str | None = None,
    **environ: str | None,
) -> tuple[str, str]:
    """One WSGI request (GET, with a User-Agent); returns (status, body)."""
    request: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "198.51.100.2",
        "HTTP_USER_AGENT": "integration-test/1.0",
    }
    if authorization is not None:
        request["HTTP_AUTHORIZATION"] = authorization
    request.update(environ)
    request = {k: v for k, v in request.items() if v is not None}
    setup_testing_defaults(request)
    captured: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = status

    body = b"".join(app(request, start_response)).decode("ascii")
    return captured["status"], body
