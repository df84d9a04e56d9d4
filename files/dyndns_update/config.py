"""Load and validate the config file, the TSIG key file and the credentials file."""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import json
import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import auth, protocol

RECORD_TYPES = ("A", "AAAA", "TXT")
TSIG_ALGORITHMS = ("hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")
_KEY_NAME_RE = re.compile(r"^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*\Z")


class ConfigError(Exception):
    """A file the app reads is missing or wrong; the message names file and field."""


class MissingFileError(ConfigError):
    """The file does not exist: a ConfigError like any unreadable file, for callers
    to which a missing file means something else (the credentials tool creates it)."""


@dataclass(frozen=True)
class LanMachine:
    """A machine behind the host's router: its AAAA is the router's prefix + its id."""

    name: str
    interface_id: ipaddress.IPv6Address
    prefix_length: int = 64


@dataclass(frozen=True)
class HostConfig:
    name: str
    username: str
    types: frozenset[str]
    aliases: tuple[str, ...] = ()  # names that get the host's own A and AAAA
    lan: tuple[LanMachine, ...] = ()
    empty_clears: bool = False  # an empty address parameter deletes that family

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the host owns."""
        return (self.name, *self.aliases, *(m.name for m in self.lan))


@dataclass(frozen=True)
class AbuseConfig:
    failures: int = 5
    window: float = 600.0
    cooldown: float = 900.0
    ipv6_prefix: int = 64  # an IPv6 source is its network of this length
    state_file: str | None = None  # where blocks outlive the process


@dataclass(frozen=True)
class Nameserver:
    """A name server the status CLI asks (the primary, hidden or not, and the NS set)."""

    name: str
    addresses: tuple[str, ...]
    port: int = 53


MAILED_FILE = "/var/lib/dyndns-update/status-mailed.json"


@dataclass(frozen=True)
class StatusConfig:
    """What the status CLI checks (status.py, README.md "Status CLI"); without the config's
    `status` section it checks the hosts' calls only."""

    nameservers: tuple[Nameserver, ...] = ()
    stale_hours: int = 48  # a host whose last good/nochg is older is stale
    certificate: str | None = None  # the update endpoint's certificate file
    certificate_days: int = 14  # fewer days left is a problem
    backup_unit: str | None = None  # the backup's systemd service; its timer has its name
    backup_hours: int = 48  # an older last backup is a problem
    mailed_file: str = MAILED_FILE  # the problems last mailed (--mail-to)


@dataclass(frozen=True)
class Config:
    zone: str
    server: str
    tsig_key_file: str
    credentials_file: str
    hosts: Mapping[str, HostConfig]
    port: int = 53
    timeout: float = 3.0
    ttl: int = 60
    max_hostnames: int = 20
    auth_cache_seconds: float = 300.0  # a verified password skips scrypt this long; 0: never
    abuse: AbuseConfig = AbuseConfig()
    status_dir: str | None = None  # where each host's last call is kept (status.py); None: not
    metrics: bool = False  # GET /metrics answers the counters (metrics.py); false: 404
    status: StatusConfig = StatusConfig()


@dataclass(frozen=True)
class TsigKey:
    algorithm: str
    name: str
    secret: str  # base64

    def __repr__(self) -> str:  # never show the secret
        return f"TsigKey(algorithm={self.algorithm!r}, name={self.name!r})"


@dataclass(frozen=True)
class Credentials:
    users: Mapping[str, str]  # username -> scrypt hash
    tokens: Mapping[str, str]  # sha256 hex of token -> hostname


def write_atomically(path: str, text: str, prefix: str) -> None:
    """A temp file in the same folder, renamed over `path`: a reader sees the old file or
    the new one, whole. No fsync: after a crash the file may be older, never torn."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=prefix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: str, malformed: str = "not valid JSON") -> Any:
    """The JSON value in the file at `path`, for every JSON file the app and its tools read.

    ConfigError names the file: `PATH: cannot read: REASON` (MissingFileError when it does
    not exist) or `PATH: MALFORMED: REASON` when it is not UTF-8 JSON.
    """
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as err:
        raise MissingFileError(f"{path}: cannot read: {err.strerror}") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: {malformed}: {err}") from err


class _Fields:
    """Typed access to a JSON object that names the file and field in every error."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: must be a JSON object")
        self.data = data
        self.where = where

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: field '{key}' {message}")

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"is unknown (allowed: {', '.join(allowed)})")

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"must be an integer from {low} to {high}")
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if key in self.data else None

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def optional_path(self, key: str) -> str | None:
        value = self.optional_string(key)
        if value is not None and not os.path.isabs(value):
            raise self.error(key, "must be an absolute path")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a list of non-empty strings")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, "must be a number")
        if not math.isfinite(value) or not low <= value <= high:
            raise self.error(key, f"must be a number from {low:g} to {high:g}")
        return float(value)


def _own_name(name: Any, host: str, zone: str, fields: _Fields, key: str) -> str:
    """An alias or LAN machine's name: an FQDN in the zone, or `*.<host>`."""
    if name == "*." + host:
        return name
    if not isinstance(name, str) or protocol.normalize_hostname(name) != name:
        raise fields.error(key, f"has '{name}', not a lowercase FQDN without trailing dot")
    if not protocol.is_in_zone(name, zone) or name == zone:
        raise fields.error(key, f"has '{name}', not a name inside zone '{zone}'")
    return name


def _parse_lan(data: Any, host: str, zone: str, fields: _Fields) -> LanMachine:
    machine = _Fields(data, f"{fields.where}: field 'lan'")
    machine.check_keys(("name", "interface_id", "prefix_length"))
    try:
        interface_id = ipaddress.IPv6Address(machine.string("interface_id"))
    except ValueError as err:
        raise machine.error("interface_id", "must be an IPv6 address") from err
    return LanMachine(
        name=_own_name(machine.data.get("name"), host, zone, fields, "lan"),
        interface_id=interface_id,
        prefix_length=machine.integer("prefix_length", 64, 32, 120),
    )


def _parse_host(name: str, data: Any, zone: str, where: str) -> HostConfig:
    if protocol.normalize_hostname(name) != name:
        raise ConfigError(f"{where}: host '{name}' is not a lowercase FQDN without trailing dot")
    if not protocol.is_in_zone(name, zone):
        raise ConfigError(f"{where}: host '{name}' is not inside zone '{zone}'")
    fields = _Fields(data, f"{where}: host '{name}'")
    fields.check_keys(("username", "types", "aliases", "lan", "empty_clears"))
    username = fields.string("username")
    if not auth.USERNAME_RE.match(username):
        raise fields.error("username", "may hold only letters, digits and . _ @ + -")
    types = fields.data.get("types", list(RECORD_TYPES))
    if (
        not isinstance(types, list)
        or not types
        or len(set(types)) != len(types)
        or not all(t in RECORD_TYPES for t in types)
    ):
        raise fields.error("types", f"must be a non-empty list of distinct {RECORD_TYPES}")
    aliases, lan = fields.data.get("aliases", []), fields.data.get("lan", [])
    if not isinstance(aliases, list) or not isinstance(lan, list):
        raise fields.error("aliases" if not isinstance(aliases, list) else "lan", "must be a list")
    if aliases and not {"A", "AAAA"} & set(types):
        raise fields.error("aliases", "needs type A or AAAA")
    if lan and "AAAA" not in types:
        raise fields.error("lan", "needs type AAAA")
    empty_clears = fields.boolean("empty_clears", False)
    return HostConfig(
        name=name,
        username=username,
        types=frozenset(types),
        aliases=tuple(_own_name(a, name, zone, fields, "aliases") for a in aliases),
        lan=tuple(_parse_lan(m, name, zone, fields) for m in lan),
        empty_clears=empty_clears,
    )


def _check_owners(hosts: dict[str, HostConfig], where: str) -> dict[str, HostConfig]:
    """Each name has one owner."""
    owner: dict[str, str] = {}
    for host in hosts.values():
        for name in host.names:
            if name in owner:
                raise ConfigError(f"{where}: host '{host.name}': name '{name}' is taken")
            owner[name] = host.name
    return hosts


_UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@-]+\.service\Z")


def _parse_nameserver(data: Any, where: str) -> Nameserver:
    fields = _Fields(data, where)
    fields.check_keys(("name", "addresses", "port"))
    addresses = fields.strings("addresses")
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError as err:
            raise fields.error("addresses", f"has '{address}', not an IP address") from err
    return Nameserver(
        name=fields.string("name"),
        addresses=tuple(addresses),
        port=fields.integer("port", 53, 1, 65535),
    )


def _parse_status(data: Any, where: str) -> StatusConfig:
    fields = _Fields(data, f"{where}: field 'status'")
    fields.check_keys(
        (
            "nameservers",
            "stale_hours",
            "certificate",
            "certificate_days",
            "backup_unit",
            "backup_hours",
            "mailed_file",
        )
    )
    nameservers = fields.data.get("nameservers", [])
    if not isinstance(nameservers, list):
        raise fields.error("nameservers", "must be a list of {name, addresses}")
    unit = fields.optional_string("backup_unit")
    if unit is not None and not _UNIT_RE.match(unit):
        raise fields.error("backup_unit", "must be a systemd service name (NAME.service)")
    parsed = tuple(
        _parse_nameserver(n, f"{fields.where}: field 'nameservers'") for n in nameservers
    )
    addresses = [a for n in parsed for a in n.addresses]
    for address in addresses:
        if addresses.count(address) > 1:
            raise fields.error("nameservers", f"lists the address {address} twice")
    return StatusConfig(
        nameservers=parsed,
        stale_hours=fields.integer("stale_hours", 48, 1, 24 * 366),
        certificate=fields.optional_path("certificate"),
        certificate_days=fields.integer("certificate_days", 14, 1, 366),
        backup_unit=unit,
        backup_hours=fields.integer("backup_hours", 48, 1, 24 * 366),
        mailed_file=fields.optional_path("mailed_file") or MAILED_FILE,
    )


def parse_config(data: Any, where: str) -> Config:
    """A Config from the parsed JSON `data`; `where` names the file in errors."""
    fields = _Fields(data, where)
    fields.check_keys(
        (
            "zone",
            "server",
            "port",
            "timeout",
            "tsig_key_file",
            "credentials_file",
            "ttl",
            "max_hostnames",
            "auth_cache_seconds",
            "abuse",
            "status_dir",
            "metrics",
            "status",
            "hosts",
        )
    )
    zone = fields.string("zone")
    if protocol.normalize_hostname(zone) != zone:
        raise fields.error("zone", "must be a lowercase domain name without trailing dot")
    server = fields.string("server")
    try:
        ipaddress.ip_address(server)
    except ValueError as err:
        raise fields.error("server", "must be an IP address") from err
    abuse = _Fields(fields.data.get("abuse", {}), f"{where}: field 'abuse'")
    abuse.check_keys(("failures", "window", "cooldown", "ipv6_prefix", "state_file"))
    hosts = fields.data.get("hosts")
    if not isinstance(hosts, dict):
        raise fields.error("hosts", "must be an object of hostname -> {username, types}")
    return Config(
        zone=zone,
        server=server,
        port=fields.integer("port", 53, 1, 65535),
        timeout=fields.number("timeout", 3.0, 0.1, 60.0),
        tsig_key_file=fields.string("tsig_key_file"),
        credentials_file=fields.string("credentials_file"),
        ttl=fields.integer("ttl", 60, 0, 86400),
        max_hostnames=fields.integer("max_hostnames", 20, 1, 1000),
        auth_cache_seconds=fields.number("auth_cache_seconds", 300.0, 0.0, 86400.0),
        abuse=AbuseConfig(
            failures=abuse.integer("failures", 5, 1, 1000),
            window=abuse.number("window", 600.0, 1.0, 86400.0),
            cooldown=abuse.number("cooldown", 900.0, 0.0, 7 * 86400.0),
            ipv6_prefix=abuse.integer("ipv6_prefix", 64, 32, 128),
            state_file=abuse.optional_string("state_file"),
        ),
        status_dir=fields.optional_path("status_dir"),
        metrics=fields.boolean("metrics", False),
        status=_parse_status(fields.data.get("status", {}), where),
        hosts=_check_owners(
            {name: _parse_host(name, value, zone, where) for name, value in hosts.items()}, where
        ),
    )


def load_config(path: str) -> Config:
    return parse_config(read_json(path), path)


def parse_tsig_key(text: str, where: str) -> TsigKey:
    """The key of a `knsupdate -k` line `algorithm:name:base64secret`."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) != 1:
        raise ConfigError(f"{where}: must hold exactly one line 'hmac-sha512:NAME:SECRET'")
    parts = lines[0].split(":")
    if len(parts) != 3:
        raise ConfigError(f"{where}: must hold exactly one line 'hmac-sha512:NAME:SECRET'")
    algorithm, name, secret = (p.strip() for p in parts)
    if algorithm.lower() not in TSIG_ALGORITHMS:
        raise ConfigError(f"{where}: algorithm '{algorithm}' is not one of {TSIG_ALGORITHMS}")
    name = name.rstrip(".").lower()
    if not _KEY_NAME_RE.match(name):
        raise ConfigError(f"{where}: key name is not a valid domain name")
    try:
        raw = base64.b64decode(secret, validate=True)
    except (ValueError, binascii.Error) as err:
        raise ConfigError(f"{where}: secret is not valid base64") from err
    if len(raw) < 16:
        raise ConfigError(f"{where}: secret is shorter than 16 bytes")
    return TsigKey(algorithm=algorithm.lower(), name=name, secret=secret)


def load_tsig_key(path: str) -> TsigKey:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not ASCII text") from err
    return parse_tsig_key(text, path)


def parse_credentials(data: Any, where: str) -> Credentials:
    """Credentials from the parsed JSON `data`; `where` names the file in errors."""
    fields = _Fields(data, where)
    fields.check_keys(("users", "tokens"))
    users = fields.data.get("users", {})
    tokens = fields.data.get("tokens", {})
    if not isinstance(users, dict):
        raise fields.error("users", "must be an object of username -> scrypt hash")
    if not isinstance(tokens, dict):
        raise fields.error("tokens", "must be an object of sha256 hex -> hostname")
    for username, encoded in users.items():
        if not auth.USERNAME_RE.match(username):
            raise fields.error("users", f"has an invalid username {username!r}")
        try:
            auth.parse_hash(encoded if isinstance(encoded, str) else "")
        except ValueError as err:
            raise fields.error("users", f"has a bad hash for '{username}': {err}") from err
    for digest, hostname in tokens.items():
        if not auth.TOKEN_HASH_RE.match(digest):
            raise fields.error("tokens", "has a key that is not a lowercase sha256 hex digest")
        if not isinstance(hostname, str) or protocol.normalize_hostname(hostname) != hostname:
            raise fields.error("tokens", f"maps a token to an invalid hostname {hostname!r}")
    return Credentials(users=dict(users), tokens=dict(tokens))


def load_credentials(path: str) -> Credentials:
    return parse_credentials(read_json(path), path)


class CredentialsStore:
    """The credentials file, read again whenever it changes on disk. Thread-safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._credentials = Credentials(users={}, tokens={})
        self.get()

    def _stat(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path)
        except OSError as err:
            raise ConfigError(f"{self.path}: cannot read: {err.strerror}") from err
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def get(self) -> Credentials:
        """The current credentials; ConfigError when the file is gone or broken."""
        with self._lock:
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = None  # fail closed until a good read
                self._credentials = load_credentials(self.path)
                self._stamp = stamp
            return self._credentials


def main(argv: list[str]) -> int:
    """`python3 -m dyndns_update.config FILE`: check a config file before it is used."""
    if len(argv) != 1:
        print("usage: python3 -m dyndns_update.config CONFIG_FILE", file=sys.stderr)
        return 2
    try:
        load_config(argv[0])
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
