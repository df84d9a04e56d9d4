"""The operator's report (python3 -m dyndns_update.status): stale hosts, what the name
servers serve, the certificate, the last backup, the table, the exit status and the mail.

The name servers are a stand-in (FakeNameservers; a real knotd in
tests/integration/test_status_integration.py), systemctl a function that answers as
systemd does, the certificates real ones made by openssl, sendmail a script."""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Sequence
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from dyndns_update import health, mail, probes, status
from dyndns_update.dnsio import DnsRejected, DnsUnreachable
from unit_support import ZONE, base_config

HOME, NAS, OTHER = (f"{name}.{ZONE}" for name in ("home", "nas", "other"))
NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
HOUR = 3600.0
NS1, NS1_V6, NS2 = "192.0.2.53", "2001:db8::53", "198.51.100.53"
NAMESERVERS = [
    {"name": f"ns1.{ZONE}", "addresses": [NS1, NS1_V6]},
    {"name": "ns2.example.net", "addresses": [NS2]},
]
BACKUP = "dyndns-backup.service"
TIMER = "dyndns-backup.timer"


class FakeNameservers:
    """Name servers by address, each serving a serial and records, or failing."""

    def __init__(self) -> None:
        self.serial = {address: 1750000000 for address in (NS1, NS1_V6, NS2)}
        self.records: dict[str, dict[tuple[str, str], list[str]]] = {
            address: {
                (HOME, "A"): ["203.0.113.7"],
                (HOME, "AAAA"): ["2001:db8:1::7"],
                (OTHER, "A"): ["203.0.113.9"],
            }
            for address in self.serial
        }
        self.fail: dict[str, Exception] = {}
        self.asked: list[tuple[str, int, str, str]] = []

    def __call__(self, address: str, port: int, name: str, rdtype: str) -> list[str]:
        self.asked.append((address, port, name, rdtype))
        if address in self.fail:
            raise self.fail[address]
        if rdtype == "SOA":
            assert name == ZONE
            return [f"ns1.{ZONE}. hostmaster.{ZONE}. {self.serial[address]} 3600 600 1209600 60"]
        return list(self.records[address].get((name, rdtype), []))


def unit(name: str, **props: str) -> str:
    """One unit's block of `systemctl show --timestamp=unix`."""
    found = {"Id": name, "LoadState": "loaded", "ActiveState": "inactive", "Result": "success"}
    found.update(ExecMainExitTimestamp="", ActiveEnterTimestamp="")
    found.update(props)
    return "".join(f"{key}={value}\n" for key, value in found.items())


def at(seconds: float) -> str:
    return f"@{int(seconds)}"


class Systemd:
    """`systemctl show` as systemd answers it for the backup's service and timer: a run
    6 hours ago that succeeded, the timer active for a week."""

    def __init__(self) -> None:
        self.service = unit(BACKUP, ExecMainExitTimestamp=at(NOW - 6 * HOUR))
        self.timer = unit(TIMER, ActiveState="active", ActiveEnterTimestamp=at(NOW - 168 * HOUR))
        self.fail: Exception | None = None
        self.argv: list[str] = []

    def __call__(self, argv: Sequence[str], stdin: bytes | None) -> str:
        if argv[0] == "openssl":
            return probes.run_command(argv, stdin)
        self.argv = list(argv)
        if self.fail is not None:
            raise self.fail
        return self.service + "\n" + self.timer


@pytest.fixture
def dns_servers() -> FakeNameservers:
    return FakeNameservers()


@pytest.fixture
def systemd() -> Systemd:
    return Systemd()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def world(dns_servers: FakeNameservers, systemd: Systemd, sleeps: list[float]) -> status.World:
    return status.World(
        clock=lambda: NOW, sleep=sleeps.append, ask=dns_servers, run=systemd, hostname="vm"
    )


def make_certificate(folder: Path, days: int) -> Path:
    """A real self-signed certificate valid for DAYS from now, as openssl makes it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    cert = folder / f"cert-{days}.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-nodes", "-keyout", str(folder / "key.pem"), "-out", str(cert)),
            *("-days", str(days), "-subj", "/CN=update.example.test"),
        ],
        check=True,
        capture_output=True,
    )
    return cert


def last_call(hours_ago: float, result: str = "nochg") -> dict[str, Any]:
    return {
        "time": health.iso_time(NOW - hours_ago * HOUR),
        "result": result,
        "client": "198.51.100.2",
        "via": "basic",
        "user": "home",
        "user_agent": "ddclient/3.11",
        "A": "203.0.113.7",
        "AAAA": "2001:db8:1::7",
        "cleared": [],
        "lan_prefix": None,
        "txt": None,
    }


def change(hours_ago: float) -> dict[str, Any]:
    return {
        "time": health.iso_time(NOW - hours_ago * HOUR),
        "A": "203.0.113.7",
        "AAAA": "2001:db8:1::7",
        "cleared": [],
        "lan_prefix": None,
        "txt": None,
    }


@pytest.fixture
def setup(tmp_path: Path) -> Callable[..., Path]:
    """Write a config with a status section (overrides replace its fields, None leaves
    one out) and the hosts' records: home called an hour ago, other 49 hours ago,
    nas never."""

    def write(calls: dict[str, float] | None = None, **overrides: Any) -> Path:
        records = tmp_path / "hosts"
        records.mkdir(exist_ok=True)
        for host, hours in (calls or {HOME: 1, OTHER: 49}).items():
            data = {"fqdn": host, "last_call": last_call(hours), "last_change": change(hours + 20)}
            (records / f"{host}.json").write_text(json.dumps(data))
        section: dict[str, Any] = {
            "nameservers": NAMESERVERS,
            "stale_hours": 48,
            "backup_unit": BACKUP,
            "backup_hours": 48,
            "mailed_file": str(tmp_path / "mailed.json"),
        }
        section.update(overrides)
        section = {key: value for key, value in section.items() if value is not None}
        config = base_config(tmp_path, status_dir=str(records), status=section)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        return path

    return write


def run(
    config: Path, world: status.World, *options: str
) -> tuple[int, str, str, dict[str, Any] | None]:
    """The CLI: exit status, stdout, stderr, and stdout as JSON (None with --table)."""
    out, err = io.StringIO(), io.StringIO()
    code = status.main(["--config", str(config), *options], stdout=out, stderr=err, world=world)
    parsed = None if "--table" in options or not out.getvalue() else json.loads(out.getvalue())
    return code, out.getvalue(), err.getvalue(), parsed


def problems(data: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(p["kind"], p["host"], p["server"]) for p in data["problems"]]


def messages(data: dict[str, Any]) -> list[str]:
    return [p["message"] for p in data["problems"]]


# --- hosts -----------------------------------------------------------------------------


def test_stale_and_never_called_hosts(setup: Callable[..., Path], world: status.World) -> None:
    code, _, _, data = run(setup(calls={HOME: 47.9, OTHER: 48.5}), world)
    assert data is not None
    assert code == 1
    assert [(h["fqdn"], h["stale"]) for h in data["hosts"]] == [
        (HOME, False),
        (NAS, True),
        (OTHER, True),
    ]
    assert problems(data) == [("stale", NAS, None), ("stale", OTHER, None)]
    assert messages(data) == [
        f"{NAS} has never updated: no good or nochg call is on record; check its router or "
        "cron job.",
        f"{OTHER} has not updated for 48 hours (last call 2025-06-13T14:36:40Z, nochg from "
        "198.51.100.2), more than 48: check its router or cron job.",
    ]


def test_stale_hours_from_the_config(setup: Callable[..., Path], world: status.World) -> None:
    data = run(setup(calls={HOME: 5, NAS: 1, OTHER: 1}, stale_hours=4), world)[3]
    assert data is not None
    assert problems(data) == [("stale", HOME, None)]
    assert "more than 4:" in messages(data)[0]


def test_unusable_record_is_a_problem(
    setup: Callable[..., Path], world: status.World, tmp_path: Path
) -> None:
    config = setup(calls={HOME: 1, NAS: 1, OTHER: 1})
    (tmp_path / "hosts" / f"{NAS}.json").write_text("[1,")
    data = run(config, world)[3]
    assert data is not None
    assert problems(data) == [("record", NAS, None)]
    assert messages(data) == [f"The status record of {NAS} is unusable: not a valid record."]
    assert data["hosts"][1]["stale"] is None


# --- name servers ----------------------------------------------------------------------


def test_name_servers_in_step(
    setup: Callable[..., Path], world: status.World, dns_servers: FakeNameservers
) -> None:
    code, _, _, data = run(setup(calls={HOME: 1, NAS: 1, OTHER: 1}), world)
    assert data is not None
    assert (code, data["problems"]) == (0, [])
    assert data["nameservers"] == [
        {"name": f"ns1.{ZONE}", "address": NS1, "serial": 1750000000, "error": None},
        {"name": f"ns1.{ZONE}", "address": NS1_V6, "serial": 1750000000, "error": None},
        {"name": "ns2.example.net", "address": NS2, "serial": 1750000000, "error": None},
    ]
    home, nas, other = data["hosts"]
    assert home["served"] == {
        address: {"A": ["203.0.113.7"], "AAAA": ["2001:db8:1::7"]} for address in (NS1, NS1_V6, NS2)
    }
    assert nas["served"] == {address: {"A": []} for address in (NS1, NS1_V6, NS2)}  # A only
    assert other["served"][NS2] == {"A": ["203.0.113.9"], "AAAA": []}
    assert {(a, n, t) for a, _, n, t in dns_servers.asked if a == NS2} == {
        (NS2, ZONE, "SOA"),
        (NS2, HOME, "A"),
        (NS2, HOME, "AAAA"),
        (NS2, NAS, "A"),
        (NS2, OTHER, "A"),
        (NS2, OTHER, "AAAA"),
    }


def test_serial_mismatch_names_the_server_and_both_serials(
    setup: Callable[..., Path],
    world: status.World,
    dns_servers: FakeNameservers,
    sleeps: list[float],
) -> None:
    dns_servers.serial[NS2] = 1749990000
    data = run(setup(calls={HOME: 1, NAS: 1, OTHER: 1}), world)[3]
    assert data is not None
    assert problems(data) == [("serial", None, NS2)]
    assert messages(data) == [
        f"Name server ns2.example.net ({NS2}) serves serial 1749990000 of {ZONE}, "
        f"ns1.{ZONE} ({NS1}) serves 1750000000: its copy of the zone does not follow the "
        "updates (check NOTIFY and zone transfers from the primary)."
    ]
    assert sleeps == [1.0] * status.SETTLE_ROUNDS  # asked again before it is a problem


def test_a_secondary_that_catches_up_is_no_problem(
    setup: Callable[..., Path],
    world: status.World,
    dns_servers: FakeNameservers,
    sleeps: list[float],
) -> None:
    dns_servers.serial[NS2] = 1749990000
    dns_servers.records[NS2][(HOME, "A")] = ["203.0.113.1"]

    def transferred(seconds: float) -> None:
        sleeps.append(seconds)
        dns_servers.serial[NS2] = 1750000000
        dns_servers.records[NS2][(HOME, "A")] = ["203.0.113.7"]

    world.sleep = transferred
    code = run(setup(calls={HOME: 1, NAS: 1, OTHER: 1}), world)[0]
    assert (code, sleeps) == (0, [1.0])


def test_unreachable_and_refusing_servers(
    setup: Callable[..., Path], world: status.World, dns_servers: FakeNameservers
) -> None:
    dns_servers.fail[NS1_V6] = DnsUnreachable("timed out")
    dns_servers.fail[NS2] = DnsRejected("query answered REFUSED")
    data = run(setup(calls={HOME: 1, NAS: 1, OTHER: 1}), world)[3]
    assert data is not None
    assert problems(data) == [("nameserver", None, NS1_V6), ("nameserver", None, NS2)]
    assert messages(data) == [
        f"Name server ns1.{ZONE} ({NS1_V6}) does not answer: timed out.",
        f"Name server ns2.example.net ({NS2}) does not answer for {ZONE} as it should: "
        "query answered REFUSED.",
    ]
    assert [n["error"] for n in data["nameservers"]] == [
        None,
        "timed out",
        "query answered REFUSED",
    ]
    assert data["nameservers"][2]["serial"] is None
    assert data["hosts"][0]["served"][NS1_V6] is None  # not compared with the others


def test_records_differing_between_servers(
    setup: Callable[..., Path], world: status.World, dns_servers: FakeNameservers
) -> None:
    dns_servers.records[NS2][(HOME, "A")] = ["203.0.113.1"]
    dns_servers.records[NS1_V6][(OTHER, "AAAA")] = ["2001:db8::9"]
    data = run(setup(calls={HOME: 1, NAS: 1, OTHER: 1}), world)[3]
    assert data is not None
    assert problems(data) == [("records", HOME, None), ("records", OTHER, None)]
    assert messages(data) == [
        f"{HOME} differs between the name servers: ns1.{ZONE} ({NS1}, {NS1_V6}) serves "
        f"A 203.0.113.7 AAAA 2001:db8:1::7; ns2.example.net ({NS2}) serves A 203.0.113.1 "
        "AAAA 2001:db8:1::7.",
        f"{OTHER} differs between the name servers: ns1.{ZONE} ({NS1}) and ns2.example.net "
        f"({NS2}) serve A 203.0.113.9; ns1.{ZONE} ({NS1_V6}) serves A 203.0.113.9 AAAA "
        "2001:db8::9.",
    ]


def test_without_name_servers_nothing_is_asked(
    setup: Callable[..., Path], world: status.World, dns_servers: FakeNameservers
) -> None:
    data = run(setup(calls={HOME: 1, NAS: 1, OTHER: 1}, nameservers=[]), world)[3]
    assert data is not None
    assert (data["nameservers"], data["hosts"][0]["served"], dns_servers.asked) == ([], {}, [])


# --- the certificate -------------------------------------------------------------------


def certificate_report(
    setup: Callable[..., Path], world: status.World, cert: Path
) -> dict[str, Any]:
    """The report of a server whose only part is the certificate CERT."""
    data = run(setup(calls={}, certificate=str(cert), nameservers=[], backup_unit=None), world)[3]
    assert data is not None
    return data


def test_certificate_far_from_its_end(
    setup: Callable[..., Path], world: status.World, tmp_path: Path
) -> None:
    cert = make_certificate(tmp_path / "tls", 30)
    world.clock = time.time
    data = certificate_report(setup, world, cert)
    assert data["certificate"]["file"] == str(cert)
    assert data["certificate"]["days_left"] in (29, 30)
    assert data["certificate"]["error"] is None
    assert "certificate" not in [p["kind"] for p in data["problems"]]


def test_certificate_near_its_end(
    setup: Callable[..., Path], world: status.World, tmp_path: Path
) -> None:
    cert = make_certificate(tmp_path / "tls", 1)
    world.clock = time.time
    data = certificate_report(setup, world, cert)
    view = data["certificate"]
    assert view["days_left"] == 0
    assert problems(data)[-1] == ("certificate", None, None)
    assert messages(data)[-1] == (
        f"The update endpoint's certificate {cert} expires at {view['not_after']}, in 0 days "
        "(fewer than 14 days left): its renewal is failing; see `certbot renew --dry-run` "
        "and /var/log/letsencrypt/letsencrypt.log."
    )
    later = health.parse_iso_time(view["not_after"])
    assert later is not None
    world.clock = lambda: later + 60
    assert "expired at" in messages(certificate_report(setup, world, cert))[-1]


def test_certificate_unreadable(
    setup: Callable[..., Path], world: status.World, tmp_path: Path
) -> None:
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    for path, reason in [
        (tmp_path / "missing.pem", "No such file or directory"),
        (tmp_path / "garbage.pem", "not a PEM certificate"),
    ]:
        data = run(setup(calls={}, certificate=str(path), nameservers=[]), world)[3]
        assert data is not None
        assert data["certificate"]["not_after"] is None
        assert data["certificate"]["error"].startswith(reason)
        assert messages(data)[-1].startswith(
            f"The update endpoint's certificate {path} cannot be read: {reason}"
        )


def test_openssl_enddate_parsing() -> None:
    assert probes.parse_enddate("notAfter=Jun 15 15:06:40 2025 GMT\n") == NOW
    assert probes.parse_enddate("notAfter=Jan  5 00:00:00 2030 GMT") == 1893801600.0
    for bad in ("notBefore=Jun 15 15:06:40 2025 GMT", "notAfter=15 Juni 2025", ""):
        with pytest.raises(ValueError):
            probes.parse_enddate(bad)


# --- the backup ------------------------------------------------------------------------


def backup_of(data: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    assert data is not None
    return data["backup"], [p["message"] for p in data["problems"] if p["kind"] == "backup"]


def test_backup_recent(setup: Callable[..., Path], world: status.World, systemd: Systemd) -> None:
    view, found = backup_of(run(setup(calls={}, nameservers=[]), world)[3])
    assert view == {
        "unit": BACKUP,
        "timer": TIMER,
        "timer_state": "active",
        "timer_since": "2025-06-08T15:06:40Z",
        "state": "inactive",
        "result": "success",
        "last_run": "2025-06-15T09:06:40Z",
        "error": None,
    }
    assert found == []
    assert systemd.argv == [
        "systemctl",
        "show",
        "--timestamp=unix",
        *("-p", "Id", "-p", "LoadState", "-p", "ActiveState", "-p", "Result"),
        *("-p", "ExecMainExitTimestamp", "-p", "ActiveEnterTimestamp"),
        "--",
        BACKUP,
        TIMER,
    ]


def test_backup_failed(setup: Callable[..., Path], world: status.World, systemd: Systemd) -> None:
    systemd.service = unit(
        BACKUP, ActiveState="failed", Result="exit-code", ExecMainExitTimestamp=at(NOW - HOUR)
    )
    view, found = backup_of(run(setup(calls={}, nameservers=[]), world)[3])
    assert (view["state"], view["result"]) == ("failed", "exit-code")
    assert found == [
        f"The last backup failed (exit-code) at 2025-06-15T14:06:40Z: see `journalctl -u {BACKUP}`."
    ]


def test_backup_too_old(setup: Callable[..., Path], world: status.World, systemd: Systemd) -> None:
    systemd.service = unit(BACKUP, ExecMainExitTimestamp=at(NOW - 50 * HOUR))
    assert backup_of(run(setup(calls={}, nameservers=[]), world)[3])[1] == [
        "The last backup ran at 2025-06-13T13:06:40Z, 50 hours ago, more than 48: see "
        f"`systemctl list-timers {TIMER}`."
    ]
    assert backup_of(run(setup(calls={}, nameservers=[], backup_hours=72), world)[3])[1] == []


def test_backup_never_run(
    setup: Callable[..., Path], world: status.World, systemd: Systemd
) -> None:
    systemd.service = unit(BACKUP)  # no run since boot (systemd forgets runs at a reboot)
    view, found = backup_of(run(setup(calls={}, nameservers=[]), world)[3])
    assert (view["last_run"], found) == (
        None,
        [
            "No backup has run since its timer started at 2025-06-08T15:06:40Z, more than 48 "
            f"hours ago: see `systemctl list-timers {TIMER}`."
        ],
    )
    systemd.timer = unit(TIMER, ActiveState="active", ActiveEnterTimestamp=at(NOW - 2 * HOUR))
    assert backup_of(run(setup(calls={}, nameservers=[]), world)[3])[1] == []  # booted lately


def test_backup_unit_missing_or_timer_stopped(
    setup: Callable[..., Path], world: status.World, systemd: Systemd
) -> None:
    systemd.service = unit(BACKUP, LoadState="not-found", ActiveState="inactive")
    systemd.timer = unit(TIMER, LoadState="not-found", ActiveState="inactive")
    view, found = backup_of(run(setup(calls={}, nameservers=[]), world)[3])
    assert (view["state"], view["timer_state"]) == ("not-found", "not-found")
    assert found == [f"No backup timer: systemd has no unit {TIMER} (the backup role installs it)."]
    systemd.service = unit(BACKUP, ExecMainExitTimestamp=at(NOW - 6 * HOUR))
    systemd.timer = unit(TIMER, ActiveState="inactive")
    assert backup_of(run(setup(calls={}, nameservers=[]), world)[3])[1] == [
        f"The backup timer {TIMER} is inactive, so no backup runs: "
        f"`systemctl enable --now {TIMER}`."
    ]


def test_backup_when_systemd_cannot_be_asked(
    setup: Callable[..., Path], world: status.World, systemd: Systemd
) -> None:
    systemd.fail = subprocess.CalledProcessError(
        1, "systemctl", stderr=b"System has not been booted with systemd as init system (PID 1).\n"
    )
    view, found = backup_of(run(setup(calls={}, nameservers=[]), world)[3])
    assert view["error"] == "System has not been booted with systemd as init system (PID 1)."
    assert found == [
        "The last backup is unknown: systemd cannot be asked (System has not been booted "
        "with systemd as init system (PID 1).)."
    ]
    systemd.fail = FileNotFoundError(2, "No such file or directory")
    assert backup_of(run(setup(calls={}, nameservers=[]), world)[3])[0]["error"] == (
        "systemctl is not installed"
    )


def test_systemctl_show_parsing() -> None:
    text = unit(BACKUP, Result="exit-code") + "\n" + unit(TIMER, LoadState="not-found")
    units = probes.parse_show(text)
    assert (units[BACKUP]["Result"], units[TIMER]["LoadState"]) == ("exit-code", "not-found")
    assert health.unix_time("@1750000000") == NOW
    assert [health.unix_time(v) for v in ("", "n/a", "@x", None)] == [None] * 4


# --- the table and the exit status -----------------------------------------------------


TABLE = """\
dyndns on vm, 2025-06-15 15:06 (times UTC; a host is stale after 48 hours)

HOST                    LAST CALL                                 LAST CHANGE                                        NAME SERVERS SERVE                                                  STALE
home.dyn.example.test   2025-06-15 14:06 nochg from 198.51.100.2  2025-06-14 18:06 A 203.0.113.7 AAAA 2001:db8:1::7  A 203.0.113.7 AAAA 2001:db8:1::7 (2 of 3)                           no
nas.dyn.example.test    never                                     never                                              none (2 of 3)                                                       yes
other.dyn.example.test  2025-06-13 14:06 nochg from 198.51.100.2  2025-06-12 18:06 A 203.0.113.7 AAAA 2001:db8:1::7  A 203.0.113.9: ns1 (192.0.2.53); A 203.0.113.5: ns1 (2001:db8::53)  yes

Name servers of dyn.example.test:
  ns1.dyn.example.test  192.0.2.53     serial 1750000000
  ns1.dyn.example.test  2001:db8::53   serial 1750000000
  ns2.example.net       198.51.100.53  error: timed out
Certificate: not checked (the config names none)
Backup: dyndns-backup.service: last run 2025-06-15 09:06 (success, 6 hours ago), at most 48 hours wanted; timer active

Problems:
- nas.dyn.example.test has never updated: no good or nochg call is on record; check its router or cron job.
- other.dyn.example.test has not updated for 49 hours (last call 2025-06-13T14:06:40Z, nochg from 198.51.100.2), more than 48: check its router or cron job.
- other.dyn.example.test differs between the name servers: ns1.dyn.example.test (192.0.2.53) serves A 203.0.113.9; ns1.dyn.example.test (2001:db8::53) serves A 203.0.113.5.
- Name server ns2.example.net (198.51.100.53) does not answer: timed out.
"""  # noqa: E501


def test_table(
    setup: Callable[..., Path], world: status.World, dns_servers: FakeNameservers
) -> None:
    dns_servers.fail[NS2] = DnsUnreachable("timed out")
    dns_servers.records[NS1_V6][(OTHER, "A")] = ["203.0.113.5"]
    code, out, err, _ = run(setup(), world, "--table")
    assert (code, err) == (1, "")
    assert out == TABLE


def test_table_without_problems(
    setup: Callable[..., Path], world: status.World, tmp_path: Path
) -> None:
    config = setup(calls={HOME: 1, NAS: 2, OTHER: 3}, certificate=str(tmp_path / "x.pem"))
    code, out, _, _ = run(config, world, "--table")
    assert code == 1
    assert out.splitlines()[-2:] == [
        "Problems:",
        f"- The update endpoint's certificate {tmp_path / 'x.pem'} cannot be read: No such "
        "file or directory.",
    ]
    code, out, _, _ = run(setup(calls={HOME: 1, NAS: 2, OTHER: 3}), world, "--table")
    assert code == 0
    assert out.endswith("\n\nNo problems.\n")


def test_json_keys(setup: Callable[..., Path], world: status.World) -> None:
    code, _, _, data = run(setup(calls={HOME: 1, NAS: 2, OTHER: 3}), world)
    assert data is not None
    assert code == 0
    assert list(data) == [
        "format",
        "generated",
        "status_dir",
        "hosts",
        "hostname",
        "zone",
        "limits",
        "nameservers",
        "certificate",
        "backup",
        "problems",
    ]
    assert (data["format"], data["hostname"], data["zone"]) == (1, "vm", ZONE)
    assert data["limits"] == {"stale_hours": 48, "certificate_days": 14, "backup_hours": 48}
    assert data["certificate"] is None


def test_usage_and_config_errors_exit_2(
    setup: Callable[..., Path], world: status.World, tmp_path: Path
) -> None:
    code, out, err, _ = run(tmp_path / "missing.json", world)
    assert (code, out) == (2, "")
    assert err.startswith(f"dyndns_update.status: error: {tmp_path / 'missing.json'}: cannot read")
    (tmp_path / "bad.json").write_text(json.dumps(base_config(tmp_path, status={"x": 1})))
    assert run(tmp_path / "bad.json", world)[0] == 2
    for argv in (["--bogus"], ["--mail-to", "root\nBcc: x@example.org"], ["--mail-to", ""]):
        with pytest.raises(SystemExit) as exited:
            status.main(["--config", str(setup()), *argv], stdout=io.StringIO(), world=world)
        assert exited.value.code == 2


# --- the mail --------------------------------------------------------------------------


@pytest.fixture
def sendmail(tmp_path: Path) -> Path:
    """A sendmail that keeps each message it gets (mail-1.eml, ...) and its arguments;
    exits 75 with a message while tmp_path/sendmail-fails exists."""
    script = tmp_path / "sendmail"
    script.write_text(
        "#!/bin/sh\n"
        f'dir="{tmp_path}"\n'
        'if [ -e "$dir/sendmail-fails" ]; then echo "mail queue is full" >&2; exit 75; fi\n'
        'n=$(ls "$dir" | grep -c "^mail-")\n'
        'echo "$@" > "$dir/mail-$((n + 1)).args"\n'
        'cat > "$dir/mail-$((n + 1)).eml"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def mails(tmp_path: Path) -> list[Message]:
    found = sorted(tmp_path.glob("mail-*.eml"), key=lambda p: int(p.stem.split("-")[1]))
    return [message_from_bytes(path.read_bytes()) for path in found]


def test_mail_when_the_problems_change(
    setup: Callable[..., Path], world: status.World, sendmail: Path, tmp_path: Path
) -> None:
    world.sendmail = str(sendmail)
    config = setup()  # nas never called, other stale
    code, out, err, _ = run(config, world, "--table", "--mail-to", "ops@example.org")
    assert code == 1
    assert err == "dyndns_update.status: mailed to ops@example.org: dyndns vm: 2 problems\n"
    (first,) = mails(tmp_path)
    assert (first["To"], first["Subject"]) == ("ops@example.org", "dyndns vm: 2 problems")
    assert first["From"] is None  # the MTA sets it
    assert first["Auto-Submitted"] == "auto-generated"
    assert first.get_payload(decode=True).decode() == out  # the table
    assert (tmp_path / "mail-1.args").read_text() == "-t -oi\n"
    recorded = json.loads((tmp_path / "mailed.json").read_text())
    assert recorded["problems"] == [["stale", NAS, None], ["stale", OTHER, None]]

    world.clock = lambda: NOW + 5 * HOUR  # the same problems, other's hours changed
    code, _, err, _ = run(config, world, "--mail-to", "ops@example.org")
    assert (code, err, len(mails(tmp_path))) == (1, "", 1)
    run(config, world, "--mail-to", "root")  # another address has not had them
    assert [m["To"] for m in mails(tmp_path)] == ["ops@example.org", "root"]
    run(config, world, "--mail-to", "ops@example.org")
    assert len(mails(tmp_path)) == 3

    config = setup(calls={OTHER: 1}, backup_hours=2)  # other fixed; the backup is now old
    code, _, err, _ = run(config, world, "--mail-to", "ops@example.org")
    assert code == 1
    assert mails(tmp_path)[-1]["Subject"] == "dyndns vm: 2 problems"
    assert len(mails(tmp_path)) == 4
    assert "The last backup ran at" in mails(tmp_path)[-1].get_payload(decode=True).decode()

    config = setup(calls={HOME: 1, NAS: 1, OTHER: 1})  # all well
    code, _, err, _ = run(config, world, "--mail-to", "ops@example.org")
    assert code == 0
    assert err == "dyndns_update.status: mailed to ops@example.org: dyndns vm: all well again\n"
    assert mails(tmp_path)[-1]["Subject"] == "dyndns vm: all well again"
    assert mails(tmp_path)[-1].get_payload(decode=True).decode().endswith("No problems.\n")
    assert run(config, world, "--mail-to", "ops@example.org")[:3:2] == (0, "")
    assert len(mails(tmp_path)) == 5


def test_no_mail_while_all_is_well_from_the_start(
    setup: Callable[..., Path], world: status.World, sendmail: Path, tmp_path: Path
) -> None:
    world.sendmail = str(sendmail)
    config = setup(calls={HOME: 1, NAS: 1, OTHER: 1})
    assert run(config, world, "--mail-to", "root")[:3:2] == (0, "")
    assert mails(tmp_path) == []


def test_sendmail_failure_exits_1_and_is_tried_again(
    setup: Callable[..., Path], world: status.World, sendmail: Path, tmp_path: Path
) -> None:
    world.sendmail = str(sendmail)
    config = setup(calls={HOME: 1, NAS: 1, OTHER: 1}, stale_hours=1)  # no problem
    (tmp_path / "sendmail-fails").touch()
    world.clock = lambda: NOW + 2 * HOUR  # now all three are stale
    code, _, err, _ = run(config, world, "--mail-to", "root")
    assert code == 1
    assert err == (
        f"dyndns_update.status: error: no mail to root: {sendmail} exited with status 75: "
        "mail queue is full\n"
    )
    assert not (tmp_path / "mailed.json").exists()  # not recorded: the next run tries again
    (tmp_path / "sendmail-fails").unlink()
    assert run(config, world, "--mail-to", "root")[0] == 1
    assert mails(tmp_path)[0]["Subject"] == "dyndns vm: 3 problems"

    world.sendmail = str(tmp_path / "no-such-sendmail")
    world.clock = lambda: NOW
    code, _, err, _ = run(config, world, "--mail-to", "root")
    assert (code, err) == (
        1,
        f"dyndns_update.status: error: no mail to root: cannot run {world.sendmail}: "
        "No such file or directory\n",
    )


def test_mail_subject_and_keys() -> None:
    assert mail.subject("vm", 1) == "dyndns vm: 1 problem"
    assert mail.subject("vm", 3) == "dyndns vm: 3 problems"
    assert mail.subject("vm", 0) == "dyndns vm: all well again"
    found = [
        {"kind": "stale", "host": NAS, "server": None, "message": "a"},
        {"kind": "backup", "host": None, "server": None, "message": "b"},
        {"kind": "stale", "host": NAS, "server": None, "message": "c"},
    ]
    assert mail.problem_keys(found) == [["backup", None, None], ["stale", NAS, None]]
