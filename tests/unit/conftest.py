"""Fixtures for the unit tests of files/dyndns_update (which this puts on sys.path)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dyndns_update import auth
from unit_support import KEY_LINE, PASSWORD, TOKEN, ZONE, base_config


@pytest.fixture(scope="session")
def password_hash() -> str:
    return auth.hash_password(PASSWORD)


@pytest.fixture
def write_files(tmp_path: Path, password_hash: str) -> Callable[..., Path]:
    """Write config, key and credentials into tmp_path; returns the config path."""

    def write(**overrides: Any) -> Path:
        config = base_config(tmp_path, **overrides)
        (tmp_path / "tsig.key").write_text(KEY_LINE + "\n")
        credentials = {
            "users": {"home": password_hash, "other": password_hash},
            "tokens": {auth.token_hash(TOKEN): f"home.{ZONE}"},
        }
        (tmp_path / "credentials.json").write_text(json.dumps(credentials))
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        return path

    return write
