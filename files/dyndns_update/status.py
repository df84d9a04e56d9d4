"""Each host's last successful call, kept as one small JSON file per host, and the
operator's report on the server, for root:

    python3 -m dyndns_update.status --config /etc/dyndns-update/config.json [--table]
        [--mail-to ADDRESS]

The app writes `<status_dir>/<fqdn>.json` on every `good` and `nochg` (README.md, "Status
records"). Never a secret: no password, token or TXT value, only what was done to TXT.
The report adds what the name servers serve, the certificate and the last backup; health.py
decides what is a problem (README.md, "Status CLI").
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from . import health, mail, probes
from .config import Config, ConfigError, HostConfig, load_config, write_atomically
from .health import iso_time
from .protocol import UpdateRequest, txt_action

LOG = logging.getLogger("dyndns_update")

FORMAT = 1  # the version of the CLI's output; a change that is not an addition raises it
NOCHG_INTERVAL = 60.0  # seconds a process leaves a host's record alone for the same nochg
MAX_USER_AGENT = 100  # characters of the User-Agent kept
LOCK_FILE = ".lock"  # in the status directory: one writer at a time, across processes
# What a call asked of the host: in both last_call and last_change.
REQUEST_KEYS = ("A", "AAAA", "cleared", "lan_prefix", "txt")

Record = dict[str, Any]


def clean_user_agent(agent: str) -> str:
    """A User-Agent as recorded: UTF-8 read as such (WSGI hands headers over as Latin-1),
    control characters dropped, at most MAX_USER_AGENT characters."""
    with contextlib.suppress(UnicodeError):
        agent = agent.encode("latin-1").decode("utf-8")
    return "".join(ch for ch in agent if ch.isprintable()).strip()[:MAX_USER_AGENT]


def request_fields(request: UpdateRequest) -> Record:
    """What `request` asked of one host, as the log line says it: its addresses, the
    families it cleared, the LAN prefix, and what it did to TXT (in words, no value)."""
    return {
        "A": str(request.ipv4) if request.ipv4 is not None else None,
        "AAAA": str(request.ipv6) if request.ipv6 is not None else None,
        "cleared": sorted(request.clear),
        "lan_prefix": str(request.lan_prefix) if request.lan_prefix is not None else None,
        "txt": txt_action(request),
    }


@dataclass(frozen=True)
class Origin:
    """Where a call came from: `via` is `basic`, `token` or `acme-dns`; `user` the
    username (None for a secret URL); `user_agent` as the caller sent it."""

    client: str
    via: str
    user: str | None
    user_agent: str


def make_call(result: str, origin: Origin, request: UpdateRequest) -> Record:
    """A host's last call, without its time."""
    return {
        "result": result,
        "client": origin.client,
        "via": origin.via,
        "user": origin.user,
        "user_agent": clean_user_agent(origin.user_agent),
        **request_fields(request),
    }


def make_record(
    host: str, last_call: Record, last_change: Record | None, previous: Record | None
) -> Record:
    """The file of `host`: its last call, and its last change, kept from `previous` (the
    file as it was) when no call since changed anything."""
    if last_change is None:
        kept = (previous or {}).get("last_change")
        last_change = kept if isinstance(kept, dict) else None
    return {"fqdn": host, "last_call": last_call, "last_change": last_change}


def record_path(folder: str, host: str) -> str:
    """Where the record of `host` (a configured FQDN: no slash, no leading dot) is kept."""
    return os.path.join(folder, f"{host}.json")


def read_record(path: str) -> Record | None:
    """The record in `path`; None when there is none. OSError, ValueError otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


@dataclass(frozen=True)
class _Pending:
    """A host's record not written yet: the last call, and the last change among the
    calls handed over since the last write (None: keep the file's)."""

    last_call: Record
    last_change: Record | None


class StatusStore:
    """The status directory, shared by the threads (and processes) of the app.

    `record` only hands the record over to a writer thread of its own, so no answer waits
    for the disk (renaming a new file over an old one costs ~1 ms on ext4, which starts
    writing the new one out); several calls for one host before it runs become one write
    of the latest. A `good` is handed over at once. A `nochg` equal to the last call handed
    over for the host (same result, caller, addresses, agent) is left out while that is
    younger than `nochg_interval` seconds: a router that checks in every minute costs one
    write a minute, and its record's time is at most that far behind. Each write holds a
    lock file, so that a `nochg` never loses the `last_change` of a `good` written meanwhile
    by another process. A failure is logged as a warning and changes no answer.
    """

    def __init__(
        self,
        folder: str | None,
        clock: Callable[[], float] = time.time,
        nochg_interval: float = NOCHG_INTERVAL,
    ) -> None:
        self.folder = folder
        self._clock = clock
        self._interval = nochg_interval
        self._handed: dict[str, tuple[float, Record]] = {}  # host -> last call handed over
        self._pending: dict[str, _Pending] = {}
        self._busy = False  # the writer is writing a batch
        self._writer: threading.Thread | None = None
        self._cond = threading.Condition()
        if folder:
            try:
                os.makedirs(folder, mode=0o700, exist_ok=True)
            except OSError as err:
                _warn("status-unwritable", err)

    def record(self, host: str, call: Record, changed: bool) -> None:
        """Keep `call` (see make_call) as the last of `host`; `changed`: it answered good."""
        if not self.folder:
            return
        now = self._clock()
        with self._cond:
            if not changed and self._repeats(host, call, now):
                return
            self._handed[host] = (now, call)
            last_call = {"time": iso_time(now), **call}
            change = {key: last_call[key] for key in ("time", *REQUEST_KEYS)} if changed else None
            waiting = self._pending.get(host)
            if change is None and waiting is not None:
                change = waiting.last_change
            self._pending[host] = _Pending(last_call, change)
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="dyndns-status", daemon=True)
                self._writer.start()
                atexit.register(self.flush, 2.0)  # mod_wsgi runs these when the process stops
            self._cond.notify_all()

    def _repeats(self, host: str, call: Record, now: float) -> bool:
        """`call` is the last one handed over for `host`, and that was recently (lock held)."""
        last = self._handed.get(host)
        return last is not None and last[1] == call and now - last[0] < self._interval

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record handed over is written (or failed); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending))
                batch, self._pending = self._pending, {}
                self._busy = True
            try:
                for host, pending in batch.items():
                    self._write_one(host, pending)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_one(self, host: str, pending: _Pending) -> None:
        try:
            self._write(host, pending)
        except Exception as err:  # the writer must live on: nothing it meets stops it
            with self._cond:
                self._handed.pop(host, None)  # the next call is written, even a nochg
            _warn("status-unwritable", err, host)

    def _write(self, host: str, pending: _Pending) -> None:
        folder = str(self.folder)
        path = record_path(folder, host)
        fd = os.open(os.path.join(folder, LOCK_FILE), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            previous = None
            if pending.last_change is None:
                with contextlib.suppress(OSError, ValueError):  # a broken file is replaced
                    previous = read_record(path)
            record = make_record(host, pending.last_call, pending.last_change, previous)
            write_atomically(path, json.dumps(record, indent=2) + "\n", ".status.")

    def read(self, host: str) -> Record | None:
        """The record of `host`; None when there is none or it cannot be read (a warning)."""
        if not self.folder:
            return None
        try:
            return read_record(record_path(self.folder, host))
        except (OSError, ValueError) as err:
            _warn("status-unreadable", err, host)
            return None


def _warn(what: str, err: Exception, host: str | None = None) -> None:
    reason = getattr(err, "strerror", None) or type(err).__name__
    where = f"host={host} " if host else ""
    LOG.warning("dyndns-update %swarning=%s error=%s", where, what, json.dumps(reason))


def calls_of(record: Record | None) -> Record:
    """`last_call` and `last_change` of a record as read, each an object or None."""
    found = record or {}
    return {
        key: found.get(key) if isinstance(found.get(key), dict) else None
        for key in ("last_call", "last_change")
    }


def host_entry(host: HostConfig, folder: str | None) -> Record:
    """One host of the CLI's output: nulls for a host never seen (or no status_dir)."""
    entry: Record = {
        "fqdn": host.name,
        "user": host.username,
        "last_call": None,
        "last_change": None,
        "error": None,
    }
    if not folder:
        return entry
    try:
        record = read_record(record_path(folder, host.name))
    except OSError as err:
        entry["error"] = f"cannot read: {err.strerror}"
        return entry
    except ValueError:
        entry["error"] = "not a valid record"
        return entry
    entry.update(calls_of(record))
    return entry


SETTLE_ROUNDS = 5  # how often name servers that disagree are asked again,
SETTLE_PAUSE = 1.0  # this many seconds apart


@dataclass
class World:
    """What the report asks outside this process, each replaceable in tests."""

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    ask: probes.Ask = probes.ask_dns
    run: probes.Run = probes.run_command  # openssl and systemctl
    sendmail: str = mail.SENDMAIL
    hostname: str = field(default_factory=socket.gethostname)


def ask_settled(config: Config, world: World) -> list[health.AddressFacts]:
    """The name servers' answers; while they disagree (an update made a moment ago reaches
    the secondaries a second later), asked again for a few seconds."""
    hosts = {name: probes.host_types(host.types) for name, host in sorted(config.hosts.items())}
    nameservers = config.status.nameservers
    facts = probes.ask_nameservers(nameservers, config.zone, hosts, world.ask)
    for _round in range(SETTLE_ROUNDS):
        if health.consistent(facts, list(hosts)):
            break
        world.sleep(SETTLE_PAUSE)
        facts = probes.ask_nameservers(nameservers, config.zone, hosts, world.ask)
    return facts


def report(config: Config, now: float, world: World | None = None) -> Record:
    """The CLI's output (README.md, "Status CLI"): every configured host, by name, what
    each name server serves, the certificate, the last backup, and the problems."""
    world = world or World()
    settings = config.status
    problems: list[health.Problem] = []
    hosts = [host_entry(config.hosts[name], config.status_dir) for name in sorted(config.hosts)]
    facts = ask_settled(config, world) if settings.nameservers else []
    for entry in hosts:
        found = health.host_problems(entry, now, settings.stale_hours) if config.status_dir else []
        judged = bool(config.status_dir) and not any(p.kind == "record" for p in found)
        entry["stale"] = any(p.kind == "stale" for p in found) if judged else None
        entry["served"] = {
            f.address: f.served.get(entry["fqdn"]) if f.error is None else None for f in facts
        }
        problems += found
        problem = health.records_problem(entry["fqdn"], facts)
        if problem:
            problems.append(problem)
    problems += health.nameserver_problems(facts, config.zone)
    certificate = None
    if settings.certificate:
        not_after, error = probes.certificate_not_after(settings.certificate, world.run)
        certificate, found = health.certificate_view(
            settings.certificate, not_after, error, now, settings.certificate_days
        )
        problems += found
    backup = None
    if settings.backup_unit:
        units, error = probes.systemd_units(
            [settings.backup_unit, health.timer_of(settings.backup_unit)], world.run
        )
        backup, found = health.backup_view(
            settings.backup_unit, units, error, now, settings.backup_hours
        )
        problems += found
    return {
        "format": FORMAT,
        "generated": iso_time(now),
        "status_dir": config.status_dir,
        "hosts": hosts,
        "hostname": world.hostname,
        "zone": config.zone,
        "limits": {
            "stale_hours": settings.stale_hours,
            "certificate_days": settings.certificate_days,
            "backup_hours": settings.backup_hours,
        },
        "nameservers": [
            {"name": f.name, "address": f.address, "serial": f.serial, "error": f.error}
            for f in facts
        ],
        "certificate": certificate,
        "backup": backup,
        "problems": [p.to_json() for p in problems],
    }


def _mail_address(value: str) -> str:
    if not value.strip() or any(ch in value for ch in "\r\n") or value.startswith("-"):
        raise argparse.ArgumentTypeError(f"not a mail address: {value!r}")
    return value


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    world: World | None = None,
) -> int:
    """Exit status 0: no problem; 1: problems (or the mail failed); 2: usage, or the config
    cannot be read."""
    parser = argparse.ArgumentParser(
        prog="python3 -m dyndns_update.status",
        description=(
            "Report each configured host's last call and last change, what the name servers "
            "serve, the certificate and the last backup, and the problems among them: JSON, "
            "or a table. Exit status 0: no problem, 1: problems, 2: usage or config error."
        ),
    )
    parser.add_argument(
        "--config", default="/etc/dyndns-update/config.json", help="the app's config file"
    )
    parser.add_argument("--table", action="store_true", help="print a table instead of JSON")
    parser.add_argument(
        "--mail-to",
        type=_mail_address,
        metavar="ADDRESS",
        help="mail the table to ADDRESS (local MTA, sendmail -t) when the problems differ "
        "from those last mailed",
    )
    args = parser.parse_args(argv)
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"dyndns_update.status: error: {error}", file=err)
        return 2
    world = world or World()
    data = report(config, world.clock(), world)
    text = health.table(data)
    out.write(text if args.table else json.dumps(data, indent=2) + "\n")
    code = 1 if data["problems"] else 0
    if args.mail_to:
        try:
            sent = mail.mail_if_changed(
                data, text, args.mail_to, config.status.mailed_file, world.sendmail
            )
        except mail.MailError as error:
            print(f"dyndns_update.status: error: no mail to {args.mail_to}: {error}", file=err)
            return 1
        if sent:
            print(f"dyndns_update.status: mailed to {args.mail_to}: {sent}", file=err)
    return code


if __name__ == "__main__":
    sys.exit(main())
