"""Pure authentication helpers: scrypt password hashes, Basic auth, token hashes."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Mapping

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 8
_MAXMEM = 256 * 1024 * 1024

USERNAME_RE = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9._~-]{16,256}$")
TOKEN_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, cost: tuple[int, int, int], dklen: int) -> bytes:
    n, r, p = cost
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_MAXMEM
    )


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$<salt b64>$<hash b64>` for `password`, with a fresh random salt."""
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, (SCRYPT_N, SCRYPT_R, SCRYPT_P), HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, hash) of a stored hash; ValueError when it is not one."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not of the form scrypt$N$r$p$salt$hash")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error) as err:
        raise ValueError("bad number or base64 in scrypt hash") from err
    if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    if 128 * r * (n + p + 2) > _MAXMEM:
        raise ValueError("scrypt parameters need too much memory")
    if len(salt) < 8 or len(digest) < 16:
        raise ValueError("scrypt salt or hash too short")
    return n, r, p, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches the stored hash; compares in constant time."""
    try:
        n, r, p, salt, digest = parse_hash(encoded)
    except ValueError:
        return False
    candidate = _scrypt(password, salt, (n, r, p), len(digest))
    return hmac.compare_digest(candidate, digest)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("dummy password", salt=b"\0" * SALT_BYTES)


def check_user(users: Mapping[str, str], username: str, password: str) -> bool:
    """True when `username` exists and `password` is its password.

    An unknown user costs one scrypt run too, so the answer time does not tell
    which users exist.
    """
    encoded = users.get(username)
    if encoded is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, encoded)


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(username, password) of an `Authorization: Basic ...` header, None if unusable."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (ValueError, binascii.Error):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    username, colon, password = text.partition(":")
    if not colon:
        return None
    return username, password


def token_hash(token: str) -> str:
    """The sha256 hex digest under which a URL token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
