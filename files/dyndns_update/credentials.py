"""Manage the credentials file; secrets come on standard input, never as arguments.

    python3 -m dyndns_update.credentials --file F set-password USER   < password
    python3 -m dyndns_update.credentials --file F set-token HOSTNAME  < token
    python3 -m dyndns_update.credentials --file F prune --users u1,u2 --hosts h1,h2

Each prints `changed` or `unchanged`; bad input exits 2 with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import TextIO

from . import auth, protocol
from .config import ConfigError, Credentials, MissingFileError, parse_credentials, read_json

FILE_MODE = 0o600


class UsageError(Exception):
    """Bad input: exit status 2."""


def read_secret(stream: TextIO) -> str:
    """Standard input less one trailing newline."""
    secret = stream.read()
    if secret.endswith("\n"):
        secret = secret[:-1]
        if secret.endswith("\r"):
            secret = secret[:-1]
    return secret


def load(path: str) -> Credentials | None:
    """The file's credentials, or None when it does not exist yet."""
    try:
        return parse_credentials(read_json(path, malformed="malformed JSON"), path)
    except MissingFileError:
        return None
    except ConfigError as err:
        raise UsageError(str(err)) from err


def save(path: str, credentials: Credentials) -> None:
    """Write atomically: a temp file in the same folder, then rename over `path`.

    An existing file keeps its mode and owner; a new one gets mode 0600.
    """
    text = json.dumps(
        {"users": dict(credentials.users), "tokens": dict(credentials.tokens)},
        indent=2,
        sort_keys=True,
    )
    folder = os.path.dirname(os.path.abspath(path))
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".credentials.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, (old.st_mode & 0o7777) if old else FILE_MODE)
        if old and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
            os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def set_password(current: Credentials, user: str, password: str) -> Credentials | None:
    """New credentials, or None when `password` already is `user`'s password."""
    if not auth.USERNAME_RE.match(user):
        raise UsageError(f"invalid username {user!r}: letters, digits and . _ @ + - only")
    if not password:
        raise UsageError("empty password on standard input")
    problem = auth.password_problem(password)
    if problem:
        raise UsageError(problem)
    encoded = current.users.get(user)
    if encoded is not None and auth.verify_password(password, encoded):
        return None
    users = {**current.users, user: auth.hash_password(password)}
    return Credentials(users=users, tokens=current.tokens)


def set_token(current: Credentials, hostname: str, token: str) -> Credentials | None:
    """New credentials with `token` as the only token of `hostname`, or None if it is."""
    if protocol.normalize_hostname(hostname) != hostname:
        raise UsageError(f"invalid hostname {hostname!r}: a lowercase FQDN without trailing dot")
    if not token:
        raise UsageError("empty token on standard input")
    if not auth.TOKEN_RE.match(token):
        raise UsageError("token must be 16 to 256 characters of A-Z a-z 0-9 . _ ~ -")
    digest = auth.token_hash(token)
    owner = current.tokens.get(digest)
    if owner == hostname:
        return None
    if owner is not None:
        raise UsageError("this token is already in use for another host")
    tokens = {d: h for d, h in current.tokens.items() if h != hostname}
    tokens[digest] = hostname
    return Credentials(users=current.users, tokens=tokens)


def prune(
    current: Credentials, users: Sequence[str] | None, hosts: Sequence[str] | None
) -> Credentials | None:
    """Credentials less the users and host tokens not listed; None when nothing goes."""
    kept_users = {u: h for u, h in current.users.items() if users is None or u in users}
    kept_tokens = {d: h for d, h in current.tokens.items() if hosts is None or h in hosts}
    if kept_users == current.users and kept_tokens == current.tokens:
        return None
    return Credentials(users=kept_users, tokens=kept_tokens)


def _names(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m dyndns_update.credentials",
        description="Manage the dyndns-update credentials file. Secrets are read from stdin.",
    )
    parser.add_argument("--file", required=True, help="the credentials file (JSON, mode 0600)")
    commands = parser.add_subparsers(dest="command", required=True)
    password = commands.add_parser("set-password", help="set USER's password from stdin")
    password.add_argument("user")
    token = commands.add_parser("set-token", help="set HOSTNAME's URL token from stdin")
    token.add_argument("hostname")
    pruning = commands.add_parser("prune", help="remove users and host tokens not listed")
    pruning.add_argument("--users", type=_names, help="comma-separated users to keep")
    pruning.add_argument("--hosts", type=_names, help="comma-separated hosts whose tokens to keep")
    return parser


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    stdin = stdin if stdin is not None else sys.stdin
    try:
        existing = load(args.file)
        current = existing or Credentials(users={}, tokens={})
        if args.command == "set-password":
            new = set_password(current, args.user, read_secret(stdin))
        elif args.command == "set-token":
            new = set_token(current, args.hostname, read_secret(stdin))
        else:
            new = prune(current, args.users, args.hosts)
        if new is None and existing is None:
            new = current  # create the file
        if new is not None:
            save(args.file, new)
    except UsageError as err:
        print(f"dyndns_update.credentials: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"dyndns_update.credentials: error: {args.file}: {err.strerror}", file=sys.stderr)
        return 1
    print("unchanged" if new is None else "changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
