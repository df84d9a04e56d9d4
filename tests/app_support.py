"""The update app's config (config.json), for the unit and the integration tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ZONE = "dyn.example.test"


def app_config(tmp_path: Path, zone: str = ZONE, **overrides: Any) -> dict[str, Any]:
    """A config whose key and credentials files are in `tmp_path`, for the test hosts
    home (A, AAAA, TXT) and nas (A), both of user home, and other (A, AAAA) of user other.

    `overrides` replace top-level fields.
    """
    config: dict[str, Any] = {
        "zone": zone,
        "server": "127.0.0.1",
        "port": 53,
        "timeout": 1.0,
        "tsig_key_file": str(tmp_path / "tsig.key"),
        "credentials_file": str(tmp_path / "credentials.json"),
        "ttl": 60,
        "max_hostnames": 20,
        "abuse": {"failures": 5, "window": 600, "cooldown": 900},
        "hosts": {
            f"home.{zone}": {"username": "home", "types": ["A", "AAAA", "TXT"]},
            f"nas.{zone}": {"username": "home", "types": ["A"]},
            f"other.{zone}": {"username": "other", "types": ["A", "AAAA"]},
        },
    }
    config.update(overrides)
    return config
