"""Password hashes, Basic auth parsing, token hashes, timing-safe paths."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from dyndns_update import auth


def test_hash_format_and_parameters() -> None:
    encoded = auth.hash_password("s3cret-password")
    kind, n, r, p, salt, digest = encoded.split("$")
    assert (kind, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 32
    expected = hashlib.scrypt(
        b"s3cret-password", salt=base64.b64decode(salt), n=2**14, r=8, p=1, dklen=32
    )
    assert base64.b64decode(digest) == expected


def test_salt_is_random() -> None:
    assert auth.hash_password("same password") != auth.hash_password("same password")


def test_verify() -> None:
    encoded = auth.hash_password("s3cret-password")
    assert auth.verify_password("s3cret-password", encoded)
    assert not auth.verify_password("s3cret-passwore", encoded)
    assert not auth.verify_password("", encoded)


def test_verify_non_ascii_password() -> None:
    encoded = auth.hash_password("pässwörd-✓")
    assert auth.verify_password("pässwörd-✓", encoded)
    assert not auth.verify_password("passwort-✓", encoded)


def test_verify_honours_stored_parameters() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"pw-with-n-1024", salt=salt, n=1024, r=4, p=2, dklen=24)
    encoded = f"scrypt$1024$4$2${b64(salt)}${b64(digest)}"
    assert auth.verify_password("pw-with-n-1024", encoded)
    assert not auth.verify_password("pw-with-n-1025", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain",
        "bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$1$!!!$AAAA",
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1048576$32$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_malformed_hashes_are_rejected_and_never_verify(encoded: str) -> None:
    with pytest.raises(ValueError):
        auth.parse_hash(encoded)
    assert not auth.verify_password("anything", encoded)


def test_check_user() -> None:
    users = {"home": auth.hash_password("home-password")}
    assert auth.check_user(users, "home", "home-password")
    assert not auth.check_user(users, "home", "wrong-password")
    assert not auth.check_user(users, "nobody", "home-password")


def test_unknown_user_still_runs_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timing-safe path: one scrypt run and one constant-time compare either way."""
    users = {"home": auth.hash_password("home-password")}
    calls: list[str] = []
    real_scrypt = hashlib.scrypt
    real_compare = hmac.compare_digest

    def counting_scrypt(*args: object, **kwargs: object) -> bytes:
        calls.append("scrypt")
        return real_scrypt(*args, **kwargs)  # type: ignore[arg-type]

    def counting_compare(a: bytes, b: bytes) -> bool:
        calls.append("compare")
        return real_compare(a, b)

    auth.check_user(users, "home", "warm-up")  # builds the dummy hash once, if needed
    auth.check_user(users, "nobody", "warm-up")
    monkeypatch.setattr(auth.hashlib, "scrypt", counting_scrypt)
    monkeypatch.setattr(auth.hmac, "compare_digest", counting_compare)
    for user in ("home", "nobody"):
        calls.clear()
        assert not auth.check_user(users, user, "wrong-password")
        assert calls == ["scrypt", "compare"], user


def test_verify_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = auth.hash_password("home-password")
    seen: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert auth.verify_password("home-password", encoded)
    assert len(seen) == 1


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Basic {b64('home:pw')}", ("home", "pw")),
        (f"basic {b64('home:pw')}", ("home", "pw")),
        (f"BASIC  {b64('home:pw')} ", ("home", "pw")),
        (f"Basic {b64('home:pa:ss:word')}", ("home", "pa:ss:word")),
        (f"Basic {b64('home:')}", ("home", "")),
        (f"Basic {b64(':pw')}", ("", "pw")),
        (f"Basic {b64('hömé:pässwörd')}", ("hömé", "pässwörd")),
        ("Basic " + b64("h\xf6me:p\xe4ss".encode("latin-1")), ("h\xf6me", "p\xe4ss")),
        (None, None),
        ("", None),
        ("Basic", None),
        ("Basic ", None),
        (f"Bearer {b64('home:pw')}", None),
        (f"Digest {b64('home:pw')}", None),
        ("Basic !!!not-base64!!!", None),
        (f"Basic {b64('no-colon')}", None),
    ],
)
def test_parse_basic_auth(header: str | None, expected: tuple[str, str] | None) -> None:
    assert auth.parse_basic_auth(header) == expected


def test_token_hash() -> None:
    token = "tok-0123456789abcdefghijklmnopqrstuv"
    assert auth.token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert auth.TOKEN_HASH_RE.match(auth.token_hash(token))


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts hashlib.scrypt runs from now on."""
    runs: list[int] = []
    real_scrypt = hashlib.scrypt

    def scrypt(*args: object, **kwargs: object) -> bytes:
        runs.append(1)
        return real_scrypt(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(auth.hashlib, "scrypt", scrypt)
    return runs


def test_verified_cache_spares_the_hash_of_a_known_caller_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    users = {"home": auth.hash_password("home-password")}
    cache = auth.VerifiedCache(ttl=300)
    runs = counting(monkeypatch)
    assert auth.check_user(users, "home", "home-password", cache)
    assert auth.check_user(users, "home", "home-password", cache)
    assert len(runs) == 1  # the second call was answered from the cache
    for _ in range(3):  # a wrong password always pays the full hash
        assert not auth.check_user(users, "home", "home-passwort", cache)
    assert not auth.check_user(users, "nobody", "home-password", cache)
    assert len(runs) == 5
    assert len(cache) == 1


def test_verified_cache_forgets_on_password_change_and_after_ttl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    cache = auth.VerifiedCache(ttl=300, clock=lambda: clock[0])
    old = {"home": auth.hash_password("home-password")}
    assert auth.check_user(old, "home", "home-password", cache)
    new = {"home": auth.hash_password("a-new-password")}
    assert not auth.check_user(new, "home", "home-password", cache)  # the old one is void
    assert auth.check_user(new, "home", "a-new-password", cache)
    runs = counting(monkeypatch)
    clock[0] = 299.0
    assert auth.check_user(new, "home", "a-new-password", cache)
    assert runs == []
    clock[0] = 300.0
    assert auth.check_user(new, "home", "a-new-password", cache)
    assert runs == [1]


def test_verified_cache_is_bounded_and_can_be_off() -> None:
    users = {f"u{i}": auth.hash_password(f"password-{i}") for i in range(3)}
    cache = auth.VerifiedCache(ttl=300, max_entries=2)
    for i in range(3):
        assert auth.check_user(users, f"u{i}", f"password-{i}", cache)
    assert len(cache) == 2
    off = auth.VerifiedCache(ttl=0)
    assert auth.check_user(users, "u0", "password-0", off)
    assert len(off) == 0


def test_password_with_nul_never_verifies_but_costs_the_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """scrypt pads its HMAC key with NULs: `pw` and `pw\\0` hash alike; refuse the NUL."""
    users = {"home": auth.hash_password("home-password")}
    assert auth.verify_password("home-password\0\0", users["home"])  # the padding
    runs = counting(monkeypatch)
    cache = auth.VerifiedCache(ttl=300)
    assert not auth.check_user(users, "home", "home-password\0", cache)
    assert not auth.check_user(users, "home", "home-password" + "\0" * 64, cache)
    assert len(runs) == 2
    assert auth.password_problem("home-password\0") == "password holds a NUL character"


def test_dummy_hash_is_built_once() -> None:
    assert auth.dummy_hash() is auth.dummy_hash()
