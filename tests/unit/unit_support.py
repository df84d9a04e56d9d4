"""Helpers for the unit tests of files/dyndns_update: paths and sample files."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

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
