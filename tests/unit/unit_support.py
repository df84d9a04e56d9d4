"""Helpers for the unit tests of files/dyndns_update: paths and sample files."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from app_support import ZONE, app_config

__all__ = ["KEY_LINE", "PASSWORD", "TOKEN", "ZONE", "base_config"]

PASSWORD = "correct horse battery"
TOKEN = "tok-0123456789abcdefghijklmnopqrstuv"
KEY_LINE = "hmac-sha512:dyndns-update:" + base64.b64encode(bytes(range(64))).decode()


def base_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The unit tests' config: no DNS server, and limits small enough to reach."""
    unit: dict[str, Any] = {
        "port": 9,  # discard: nothing listens, so any DNS I/O fails fast as 911
        "max_hostnames": 3,
        "abuse": {"failures": 3, "window": 600, "cooldown": 900},
    }
    return app_config(tmp_path, **{**unit, **overrides})
