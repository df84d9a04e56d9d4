"""WSGI requests to the update app, for the unit and the integration tests."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any
from wsgiref.util import setup_testing_defaults


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


def acme_dns(
    app: Callable[..., Any],
    body: Any,
    user: str | None = "home",
    key: str | None = None,
    **environ: Any,
) -> tuple[str, dict[str, str], Any]:
    """One acme-dns `POST /update` (body: JSON-encoded unless bytes); returns (status,
    headers, the answer's JSON)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "HTTP_X_API_USER": user,
        "HTTP_X_API_KEY": key,
        **environ,
    }
    status, headers, text = call(app, "/update", **request)
    return status, headers, json.loads(text)
