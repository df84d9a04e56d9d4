"""Helpers for the unit tests of files/dyndns_update: paths, sample files, WSGI calls."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

ZONE = "dyn.example.test"
PASSWORD = "correct horse battery"
TOKEN = "tok-0123456789abcdefghijklmnopqrstuv"
KEY_LINE = "hmac-sha512:dyndns-update:" + base64.b64encode(bytes(range(64))).decode()


def base_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "zone": ZONE,
        "server": "127.0.0.1",
        "port": 9,  # discard: nothing listens, so any DNS I/O fails fast as 911
        "timeout": 1.0,
        "tsig_key_file": str(tmp_path / "tsig.key"),
        "credentials_file": str(tmp_path / "credentials.json"),
        "ttl": 60,
        "max_hostnames": 3,
        "abuse": {"failures": 3, "window": 600, "cooldown": 900},
        "hosts": {
            f"home.{ZONE}": {"username": "home", "types": ["A", "AAAA", "TXT"]},
            f"nas.{ZONE}": {"username": "home", "types": ["A"]},
            f"other.{ZONE}": {"username": "other", "types": ["A", "AAAA"]},
        },
    }
    config.update(overrides)
    return config


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(
    app: Callable[..., Any],
    path: str,
    query: str = "",
    authorization: str | None = None,
    **environ: str | None,
) -> tuple[str, dict[str, str], str]:
    """One WSGI request; returns (status, headers, body text).

    `environ` overrides the defaults (GET, a User-Agent, REMOTE_ADDR 198.51.100.2);
    a None value removes the key.
    """
    request: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "198.51.100.2",
        "HTTP_USER_AGENT": "unit-test/1.0",
    }
    if authorization is not None:
        request["HTTP_AUTHORIZATION"] = authorization
    request.update(environ)
    request = {k: v for k, v in request.items() if v is not None}
    setup_testing_defaults(request)
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = status
        captured["headers"] = dict(headers)

    body = b"".join(app(request, start_response)).decode("ascii")
    return captured["status"], captured["headers"], body
