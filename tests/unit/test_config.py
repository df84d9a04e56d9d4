"""Validation of the config, TSIG key and credentials files, with clear messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dyndns_update import auth
from dyndns_update.config import (
    ConfigError,
    CredentialsStore,
    StatusConfig,
    load_config,
    load_credentials,
    load_tsig_key,
    parse_config,
    parse_credentials,
    parse_tsig_key,
)
from unit_support import KEY_LINE, ZONE, base_config


def test_full_config(tmp_path: Path) -> None:
    config = parse_config(base_config(tmp_path), "config.json")
    assert config.zone == ZONE
    assert config.port == 9
    assert config.timeout == 1.0
    assert config.abuse.failures == 3
    assert config.hosts[f"nas.{ZONE}"].username == "home"
    assert config.hosts[f"nas.{ZONE}"].types == frozenset({"A"})


def test_defaults(tmp_path: Path) -> None:
    data = base_config(tmp_path)
    for key in ("port", "timeout", "ttl", "max_hostnames", "abuse"):
        del data[key]
    config = parse_config(data, "config.json")
    assert (config.port, config.timeout, config.ttl, config.max_hostnames) == (53, 3.0, 60, 20)
    assert (config.abuse.failures, config.abuse.window, config.abuse.cooldown) == (5, 600, 900)


def _with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = base_config(tmp_path)
    change(data)
    return data


HOME = f"home.{ZONE}"
LAN_MACHINE = {"name": f"nas.home.{ZONE}", "interface_id": "::1234:5678:9abc:def0"}


def test_a_host_with_aliases_wildcard_and_lan_machines(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["hosts"][HOME].update(
            aliases=[f"www.home.{ZONE}", f"*.home.{ZONE}"],
            lan=[
                LAN_MACHINE,
                {"name": f"printer.{ZONE}", "interface_id": "::10", "prefix_length": 56},
            ],
            empty_clears=True,
        )

    host = parse_config(_with(tmp_path, change), "config.json").hosts[HOME]
    assert host.aliases == (f"www.home.{ZONE}", f"*.home.{ZONE}")
    assert [(m.name, str(m.interface_id), m.prefix_length) for m in host.lan] == [
        (f"nas.home.{ZONE}", "::1234:5678:9abc:def0", 64),
        (f"printer.{ZONE}", "::10", 56),
    ]
    assert host.empty_clears
    assert host.names == (HOME, *host.aliases, f"nas.home.{ZONE}", f"printer.{ZONE}")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("zone"), "field 'zone' must be a non-empty string"),
        (lambda d: d.update(zone="Dyn.Example.Test."), "field 'zone' must be a lowercase"),
        (lambda d: d.update(server="localhost"), "field 'server' must be an IP address"),
        (lambda d: d.update(port=0), "field 'port' must be an integer from 1 to 65535"),
        (lambda d: d.update(port="53"), "field 'port' must be an integer"),
        (lambda d: d.update(port=True), "field 'port' must be an integer"),
        (lambda d: d.update(timeout=0), "field 'timeout' must be a number from 0.1 to 60"),
        (lambda d: d.update(timeout="3"), "field 'timeout' must be a number"),
        (lambda d: d.pop("tsig_key_file"), "field 'tsig_key_file' must be a non-empty string"),
        (lambda d: d.update(credentials_file=""), "field 'credentials_file' must be"),
        (lambda d: d.update(ttl=-1), "field 'ttl' must be an integer from 0 to 86400"),
        (lambda d: d.update(max_hostnames=0), "field 'max_hostnames' must be an integer"),
        (lambda d: d.update(abuse={"failures": 0}), "field 'abuse': field 'failures'"),
        (lambda d: d.update(abuse={"window": 0}), "field 'abuse': field 'window'"),
        (lambda d: d.update(abuse={"cooldwn": 5}), "field 'abuse': field 'cooldwn' is unknown"),
        (lambda d: d.update(abuse=[]), "field 'abuse': must be a JSON object"),
        (lambda d: d.update(zonee="x"), "field 'zonee' is unknown"),
        (lambda d: d.update(hosts=[]), "field 'hosts' must be an object"),
        (lambda d: d.pop("hosts"), "field 'hosts' must be an object"),
        (lambda d: d["hosts"].update({"Home.dyn.example.test": {}}), "is not a lowercase FQDN"),
        (lambda d: d["hosts"].update({"home.example.test": {}}), "is not inside zone"),
        (lambda d: d["hosts"][HOME].pop("username"), "field 'username' must be a non-empty"),
        (lambda d: d["hosts"][HOME].update(username="a:b"), "field 'username' may hold only"),
        (lambda d: d["hosts"][HOME].update(types=["MX"]), "field 'types' must be a non-empty"),
        (lambda d: d["hosts"][HOME].update(types=[]), "field 'types' must be a non-empty"),
        (lambda d: d["hosts"][HOME].update(types=["A", "A"]), "field 'types' must be"),
        (lambda d: d["hosts"][HOME].update(typ=["A"]), "field 'typ' is unknown"),
        (lambda d: d["hosts"][HOME].update(aliases="www"), "field 'aliases' must be a list"),
        (lambda d: d["hosts"][HOME].update(aliases=["www"]), "has 'www', not a lowercase FQDN"),
        (lambda d: d["hosts"][HOME].update(aliases=[ZONE]), f"has '{ZONE}', not a name inside"),
        (lambda d: d["hosts"][HOME].update(aliases=["www.example.test"]), "not a name inside"),
        (lambda d: d["hosts"][HOME].update(aliases=[f"*.nas.{ZONE}"]), "not a lowercase FQDN"),
        (lambda d: d["hosts"][HOME].update(aliases=[f"nas.{ZONE}"]), f"'nas.{ZONE}' is taken"),
        (lambda d: d["hosts"][HOME].update(aliases=[HOME]), f"'{HOME}' is taken"),
        (
            lambda d: d["hosts"][HOME].update(types=["TXT"], aliases=[f"w.{ZONE}"]),
            "field 'aliases' needs type A or AAAA",
        ),
        (lambda d: d["hosts"][HOME].update(lan={}), "field 'lan' must be a list"),
        (
            lambda d: d["hosts"][HOME].update(types=["A"], lan=[LAN_MACHINE]),
            "field 'lan' needs type AAAA",
        ),
        (
            lambda d: d["hosts"][HOME].update(lan=[{**LAN_MACHINE, "interface_id": "1.2.3.4"}]),
            "field 'lan': field 'interface_id' must be an IPv6 address",
        ),
        (
            lambda d: d["hosts"][HOME].update(lan=[{**LAN_MACHINE, "prefix_length": 16}]),
            "field 'prefix_length' must be an integer from 32 to 120",
        ),
        (
            lambda d: d["hosts"][HOME].update(lan=[{**LAN_MACHINE, "mac": "x"}]),
            "field 'mac' is unknown",
        ),
        (
            lambda d: d["hosts"][HOME].update(lan=[LAN_MACHINE, LAN_MACHINE]),
            f"'nas.home.{ZONE}' is taken",
        ),
        (lambda d: d["hosts"][HOME].update(empty_clears="yes"), "'empty_clears' must be true"),
    ],
)
def test_config_errors_name_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"^config\.json: ") as info:
        parse_config(_with(tmp_path, change), "config.json")
    assert message in str(info.value)


def test_config_not_an_object() -> None:
    with pytest.raises(ConfigError, match="must be a JSON object"):
        parse_config([], "config.json")


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"bad\.json: not valid JSON"):
        load_config(str(bad))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(base_config(tmp_path)))
    assert load_config(str(good)).zone == ZONE


def test_tsig_key() -> None:
    key = parse_tsig_key(KEY_LINE + "\n", "tsig.key")
    assert key.algorithm == "hmac-sha512"
    assert key.name == "dyndns-update"
    assert key.secret not in repr(key)
    with_comment = f"# the update key\n\n  HMAC-SHA512:{KEY_LINE.split(':', 1)[1]}  \n"
    assert parse_tsig_key(with_comment, "k") == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "exactly one line"),
        (KEY_LINE + "\n" + KEY_LINE, "exactly one line"),
        ("hmac-sha512:name", "exactly one line"),
        ("hmac-md5:name:" + KEY_LINE.split(":")[2], "algorithm 'hmac-md5' is not one of"),
        ("hmac-sha512:bad name:" + KEY_LINE.split(":")[2], "key name is not a valid"),
        ("hmac-sha512:name:not*base64", "secret is not valid base64"),
        ("hmac-sha512:name:c2hvcnQ=", "secret is shorter than 16 bytes"),
    ],
)
def test_tsig_key_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^tsig\.key: ") as info:
        parse_tsig_key(text, "tsig.key")
    assert message in str(info.value)


def test_load_tsig_key_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_tsig_key(str(tmp_path / "nokey"))


def test_credentials(password_hash: str) -> None:
    digest = auth.token_hash("t" * 32)
    creds = parse_credentials(
        {"users": {"home": password_hash}, "tokens": {digest: HOME}}, "credentials.json"
    )
    assert creds.users == {"home": password_hash}
    assert creds.tokens == {digest: HOME}
    assert parse_credentials({}, "c").users == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"users": []}, "field 'users' must be an object"),
        ({"tokens": "x"}, "field 'tokens' must be an object"),
        ({"users": {"home": "plain"}}, "field 'users' has a bad hash for 'home'"),
        ({"users": {"home": 5}}, "field 'users' has a bad hash for 'home'"),
        ({"users": {"a b": "x"}}, "field 'users' has an invalid username"),
        ({"tokens": {"ABC": HOME}}, "field 'tokens' has a key that is not"),
        ({"tokens": {"0" * 64: "Home"}}, "field 'tokens' maps a token to an invalid hostname"),
        ({"passwords": {}}, "field 'passwords' is unknown"),
    ],
)
def test_credentials_errors(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^credentials\.json: ") as info:
        parse_credentials(data, "credentials.json")
    assert message in str(info.value)


def test_credentials_store_rereads_on_change(tmp_path: Path, password_hash: str) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"users": {"home": password_hash}}))
    store = CredentialsStore(str(path))
    assert set(store.get().users) == {"home"}
    first = store.get()
    assert store.get() is first  # not read again while unchanged

    tmp = tmp_path / "new.json"
    tmp.write_text(json.dumps({"users": {"home": password_hash, "nas": password_hash}}))
    os.replace(tmp, path)  # as the credentials CLI writes it
    assert set(store.get().users) == {"home", "nas"}

    path.write_text("{broken")
    with pytest.raises(ConfigError):
        store.get()  # fails closed, not with the old credentials
    with pytest.raises(ConfigError):
        store.get()
    path.write_text(json.dumps({"users": {}}))
    assert store.get().users == {}
    path.unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        store.get()


def test_load_credentials_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_credentials(str(tmp_path / "none.json"))


def test_check_command_accepts_a_good_file_and_names_the_bad_field(tmp_path: Path) -> None:
    """`python3 -m dyndns_update.config FILE`, the update_api role's `validate:`."""
    files = Path(__file__).resolve().parents[2] / "files"
    good = tmp_path / "good.json"
    good.write_text(json.dumps(base_config(tmp_path)))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**base_config(tmp_path), "ttl": "soon"}))

    def check(path: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "dyndns_update.config", str(path)]
        env = {**os.environ, "PYTHONPATH": str(files)}
        return subprocess.run(command, capture_output=True, text=True, env=env, check=False)

    assert check(good).returncode == 0
    result = check(bad)
    assert result.returncode == 1
    assert "ttl" in result.stderr


# The status CLI's section (status.py, test_status_report.py).
NAMESERVERS = [
    {"name": f"ns1.{ZONE}", "addresses": ["192.0.2.53", "2001:db8::53"]},
    {"name": "ns2.example.net", "addresses": ["198.51.100.53"]},
]


def test_old_config_without_status_section_loads(tmp_path: Path) -> None:
    assert parse_config(base_config(tmp_path), "c.json").status == StatusConfig()
    assert StatusConfig().stale_hours == 48
    assert StatusConfig().mailed_file == "/var/lib/dyndns-update/status-mailed.json"


def test_status_section(tmp_path: Path) -> None:
    section = {
        "nameservers": [*NAMESERVERS, {"name": "ns3", "addresses": ["::1"], "port": 5300}],
        "stale_hours": 24,
        "certificate": "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        "certificate_days": 20,
        "backup_unit": "dyndns-backup.service",
        "backup_hours": 30,
        "mailed_file": "/tmp/mailed.json",
    }
    config = parse_config(base_config(tmp_path, status=section), "c.json").status
    assert [(n.name, n.addresses, n.port) for n in config.nameservers] == [
        (f"ns1.{ZONE}", ("192.0.2.53", "2001:db8::53"), 53),
        ("ns2.example.net", ("198.51.100.53",), 53),
        ("ns3", ("::1",), 5300),
    ]
    assert (config.stale_hours, config.certificate_days, config.backup_hours) == (24, 20, 30)
    assert (config.certificate, config.backup_unit) == (
        section["certificate"],
        section["backup_unit"],
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"nameservers": [{"name": "ns1", "addresses": ["ns1.example"]}]}, "not an IP address"),
        ({"nameservers": [{"name": "ns1"}]}, "'addresses' must be a list"),
        ({"nameservers": {"ns1": []}}, "'nameservers' must be a list"),
        (
            {"nameservers": [*NAMESERVERS, {"name": "x", "addresses": ["2001:db8::53"]}]},
            "2001:db8::53 twice",
        ),
        ({"stale_hours": 0}, "'stale_hours' must be an integer from 1"),
        ({"certificate": "cert.pem"}, "'certificate' must be an absolute path"),
        ({"backup_unit": "dyndns-backup.timer"}, "'backup_unit' must be a systemd service"),
        ({"mail_to": "root"}, "'mail_to' is unknown"),
    ],
)
def test_status_section_errors(tmp_path: Path, section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(base_config(tmp_path, status=section), "c.json")
