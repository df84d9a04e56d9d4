"""Authentication: scrypt password hashes, a cache of verified credentials, Basic auth, tokens."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Mapping

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 8
_MAXMEM = 256 * 1024 * 1024
# At most this many scrypt runs at once per process: each holds ~16 MiB, and more
# than the CPUs can run only queues the callers that would hit the cache.
_SCRYPT_SLOTS = threading.BoundedSemaphore(2)

USERNAME_RE = re.compile(r"^[A-Za-z0-9._@+-]{1,64}\Z")
TOKEN_RE = re.compile(r"^[A-Za-z0-9._~-]{16,256}\Z")
TOKEN_HASH_RE = re.compile(r"^[0-9a-f]{64}\Z")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, cost: tuple[int, int, int], dklen: int) -> bytes:
    n, r, p = cost
    with _SCRYPT_SLOTS:
        return hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_MAXMEM
        )


def password_problem(password: str) -> str | None:
    """Why `password` can never be a password here, or None.

    A NUL is refused: scrypt's HMAC pads its key with NULs, so `pw` and `pw\0`
    would hash alike.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password shorter than {MIN_PASSWORD_LENGTH} characters"
    if "\0" in password:
        return "password holds a NUL character"
    return None


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
def dummy_hash() -> str:
    """The hash an unknown user is checked against; call once before serving."""
    return hash_password("dummy password", salt=b"\0" * SALT_BYTES)


class VerifiedCache:
    """Credentials verified recently, as Apache's mod_authn_socache keeps them.

    Keyed by HMAC-SHA256 of username and password under a random per-process
    key, so neither is held in memory in the clear; each entry remembers the
    stored hash it was verified against and is void once that hash changes.
    Entries live `ttl` seconds; at most `max_entries`, the oldest go first.
    """

    def __init__(
        self, ttl: float, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._key = os.urandom(32)
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _digest(self, username: str, password: str) -> bytes:
        message = f"{username}\0{password}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def holds(self, username: str, password: str, encoded: str) -> bool:
        digest = self._digest(username, password)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False
            if entry[0] == encoded and self._clock() < entry[1]:
                return True
            del self._entries[digest]
            return False

    def add(self, username: str, password: str, encoded: str) -> None:
        if self._ttl <= 0:
            return
        digest = self._digest(username, password)
        with self._lock:
            self._entries.pop(digest, None)
            while len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[digest] = (encoded, self._clock() + self._ttl)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def check_user(
    users: Mapping[str, str],
    username: str,
    password: str,
    cache: VerifiedCache | None = None,
) -> bool:
    """True when `username` exists and `password` is its password.

    A wrong password, an unknown user and a password no user can have each cost
    one scrypt run, so the answer time does not tell them apart; only a caller
    verified within the cache's time skips it.
    """
    encoded = users.get(username)
    if encoded is None or password_problem(password) is not None:
        verify_password(password, encoded or dummy_hash())
        return False
    if cache is not None and cache.holds(username, password, encoded):
        return True
    if not verify_password(password, encoded):
        return False
    if cache is not None:
        cache.add(username, password, encoded)
    return True


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(username, password) of an `Authorization: Basic ...` header, None if unusable."""
    if not header:
        return None
    scheme, _space, value = header.strip().partition(" ")
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
