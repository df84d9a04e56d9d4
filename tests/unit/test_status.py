"""Each host's status record: written on good and nochg, never a secret, atomic, cheap,
and the CLI that lists them. DNS is an in-memory stand-in (unit_support.FakeDns)."""

from __future__ import annotations

import fcntl
import io
import ipaddress
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from dyndns_update import status
from dyndns_update.app import DyndnsApp
from dyndns_update.config import ConfigError, CredentialsStore, load_config, parse_config
from dyndns_update.dnsio import DnsRejected, DnsUnreachable
from dyndns_update.protocol import UpdateRequest
from dyndns_update.status import Origin, StatusStore, make_call
from unit_support import PASSWORD, TOKEN, ZONE, FakeDns, base_config
from wsgi_support import acme_dns, basic, call

HOME = f"home.{ZONE}"
NAS = f"nas.{ZONE}"
OTHER = f"other.{ZONE}"
GOOD_AUTH = basic("home", PASSWORD)
START = 1_750_000_000.0  # 2025-06-15T15:06:40Z
VALUE = "gfj9Xq-Mu1p8aO4nZwWw8bU0eLvJ7kzxRZ5yIw5mLzE"  # an acme-dns TXT value
RECORD_KEYS = ["fqdn", "last_call", "last_change"]
CALL_KEYS = ["time", "result", "client", "via", "user", "user_agent", *status.REQUEST_KEYS]
CHANGE_KEYS = ["time", *status.REQUEST_KEYS]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class App(DyndnsApp):
    """The app, but each answer returns once its status records are written."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            return super().__call__(environ, start_response)
        finally:
            assert self.status.flush(5.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake() -> FakeDns:
    return FakeDns()


@pytest.fixture
def status_dir(tmp_path: Path) -> Path:
    return tmp_path / "status"


@pytest.fixture
def make(
    write_files: Callable[..., Path], clock: Clock, fake: FakeDns, status_dir: Path
) -> Callable[..., DyndnsApp]:
    def build(folder: Path | None = status_dir, **overrides: Any) -> DyndnsApp:
        if folder is not None:
            overrides["status_dir"] = str(folder)
        config = load_config(str(write_files(**overrides)))
        return App(config, fake, CredentialsStore(config.credentials_file), clock=clock)

    return build


@pytest.fixture
def app(make: Callable[..., DyndnsApp]) -> DyndnsApp:
    return make()


def update(app: DyndnsApp, query: str, **kw: str | None) -> str:
    kw.setdefault("authorization", GOOD_AUTH)
    return call(app, "/nic/update", query, **kw)[2]


def record(status_dir: Path, host: str = HOME) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((status_dir / f"{host}.json").read_text())
    return data


def test_good_writes_the_record(app: DyndnsApp, status_dir: Path) -> None:
    query = f"hostname={HOME}&myip=203.0.113.7,2001:db8::7"
    assert update(app, query, HTTP_USER_AGENT="ddclient/3.11") == "good 203.0.113.7,2001:db8::7\n"
    data = record(status_dir)
    assert list(data) == RECORD_KEYS
    assert data["fqdn"] == HOME
    assert data["last_call"] == {
        "time": "2025-06-15T15:06:40Z",
        "result": "good",
        "client": "198.51.100.2",
        "via": "basic",
        "user": "home",
        "user_agent": "ddclient/3.11",
        "A": "203.0.113.7",
        "AAAA": "2001:db8::7",
        "cleared": [],
        "lan_prefix": None,
        "txt": None,
    }
    assert data["last_change"] == {
        "time": "2025-06-15T15:06:40Z",
        "A": "203.0.113.7",
        "AAAA": "2001:db8::7",
        "cleared": [],
        "lan_prefix": None,
        "txt": None,
    }
    assert sorted(os.listdir(status_dir)) == [".lock", f"{HOME}.json"]  # no temp file left


def test_nochg_updates_the_call_and_keeps_the_change(
    app: DyndnsApp, status_dir: Path, clock: Clock
) -> None:
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "good 203.0.113.7\n"
    clock.now += 3600
    assert update(app, f"hostname={HOME}&myip=203.0.113.7", REMOTE_ADDR="192.0.2.9") == (
        "nochg 203.0.113.7\n"
    )
    data = record(status_dir)
    assert data["last_call"]["result"] == "nochg"
    assert data["last_call"]["time"] == "2025-06-15T16:06:40Z"
    assert data["last_call"]["client"] == "192.0.2.9"
    assert data["last_change"]["time"] == "2025-06-15T15:06:40Z"
    assert data["last_change"]["A"] == "203.0.113.7"


def test_caller_address_is_recorded_when_none_is_given(app: DyndnsApp, status_dir: Path) -> None:
    assert update(app, f"hostname={HOME}", REMOTE_ADDR="2001:db8::9") == "good 2001:db8::9\n"
    data = record(status_dir)["last_call"]
    assert (data["client"], data["A"], data["AAAA"]) == ("2001:db8::9", None, "2001:db8::9")


def test_each_host_of_a_request_gets_its_own_record(app: DyndnsApp, status_dir: Path) -> None:
    assert update(app, f"hostname={HOME},{NAS}&myip=203.0.113.7") == (
        "good 203.0.113.7\ngood 203.0.113.7\n"
    )
    assert record(status_dir, NAS)["fqdn"] == NAS
    assert record(status_dir, HOME)["last_call"]["result"] == "good"


def test_secret_url_and_acme_dns_say_how_they_came(app: DyndnsApp, status_dir: Path) -> None:
    assert call(app, f"/u/{TOKEN}", "myipv4=none&myipv6=2001:db8::7")[2] == "good 2001:db8::7\n"
    data = record(status_dir)["last_call"]
    assert (data["via"], data["user"], data["cleared"]) == ("token", None, ["A"])
    assert acme_dns(app, {"subdomain": "home", "txt": VALUE}, "home", PASSWORD)[2] == {"txt": VALUE}
    data = record(status_dir)
    assert (data["last_call"]["via"], data["last_call"]["user"]) == ("acme-dns", "home")
    assert data["last_call"]["txt"] == data["last_change"]["txt"] == "add"
    assert (data["last_call"]["A"], data["last_call"]["AAAA"]) == (None, None)


def test_txt_in_words_and_lan_prefix(app: DyndnsApp, status_dir: Path) -> None:
    for query, words in [
        ("txt=first-value", "set"),
        ("txt=", "delete"),
        ("addtxt=one-value&addtxt=two-value", "add"),
        ("deltxt=one-value", "remove"),
        ("addtxt=three-value&deltxt=two-value", "add,remove"),
    ]:
        assert update(app, f"hostname={HOME}&{query}") == "good\n"
        assert record(status_dir)["last_change"]["txt"] == words
    update(app, f"hostname={HOME}&myipv6=2001:db8::7&ip6lanprefix=2001:db8:1:2::/64")
    assert record(status_dir)["last_call"]["lan_prefix"] == "2001:db8:1:2::"


def test_no_record_unless_good_or_nochg(
    app: DyndnsApp, status_dir: Path, fake: FakeDns, tmp_path: Path
) -> None:
    assert update(app, f"hostname={HOME}", authorization=basic("home", "wrong pw!")) == "badauth\n"
    assert call(app, f"/u/{TOKEN}-wrong")[2] == "badauth\n"
    assert update(app, f"hostname={OTHER}&myip=203.0.113.7") == "nohost\n"  # not home's
    assert update(app, f"hostname={NAS}&myipv6=2001:db8::7") == "nohost\n"  # A only
    assert update(app, f"hostname={HOME}&myip=127.0.0.1") == "badip\n"
    assert update(app, f"hostname={HOME}&txt=" + "x" * 256) == "badtxt\n"
    assert update(app, "hostname=bad_name&myip=203.0.113.7") == "notfqdn\n"
    fake.fail = DnsRejected("update answered NOTAUTH")
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "dnserr\n"
    assert acme_dns(app, {"subdomain": "home", "txt": VALUE}, "home", PASSWORD)[2] == {
        "error": "db_error"
    }
    fake.fail = DnsUnreachable("timed out")
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "911\n"
    assert not list(status_dir.glob("*.json"))


def test_no_secret_in_any_record(app: DyndnsApp, status_dir: Path) -> None:
    update(app, f"hostname={HOME}&addtxt=secret-challenge-value")
    call(app, f"/u/{TOKEN}", "myip=203.0.113.7")
    acme_dns(app, {"subdomain": "home", "txt": VALUE}, "home", PASSWORD)
    update(app, f"hostname={NAS}&myip=203.0.113.7")
    text = "".join(p.read_text() for p in status_dir.glob("*.json"))
    assert text.count('"fqdn"') == 2
    for secret in (PASSWORD, TOKEN, GOOD_AUTH.split()[1], "secret-challenge-value", VALUE):
        assert secret not in text


def test_user_agent_is_cleaned_and_trimmed(app: DyndnsApp, status_dir: Path) -> None:
    agent = "Fritz\x00Box\x1b[31m\x7f \u00c3\u00a4" + "x" * 200  # UTF-8 "ä" as WSGI gives it
    update(app, f"hostname={HOME}&myip=203.0.113.7", HTTP_USER_AGENT=agent)
    recorded = record(status_dir)["last_call"]["user_agent"]
    assert recorded.startswith("FritzBox[31m \u00e4xxx")
    assert len(recorded) == status.MAX_USER_AGENT


def test_same_nochg_is_written_at_most_once_a_minute(
    app: DyndnsApp, status_dir: Path, clock: Clock
) -> None:
    path = status_dir / f"{HOME}.json"
    update(app, f"hostname={HOME}&myip=203.0.113.7")
    clock.now += 1
    update(app, f"hostname={HOME}&myip=203.0.113.7")  # nochg: first one, written
    assert record(status_dir)["last_call"]["time"] == "2025-06-15T15:06:41Z"
    inode = path.stat().st_ino
    clock.now += 59
    update(app, f"hostname={HOME}&myip=203.0.113.7")  # the same nochg: left out
    assert path.stat().st_ino == inode
    update(app, f"hostname={HOME}&myip=203.0.113.7", REMOTE_ADDR="192.0.2.9")  # another caller
    assert record(status_dir)["last_call"]["client"] == "192.0.2.9"
    clock.now += 60
    update(app, f"hostname={HOME}&myip=203.0.113.7", REMOTE_ADDR="192.0.2.9")  # a minute on
    assert record(status_dir)["last_call"]["time"] == "2025-06-15T15:08:40Z"
    update(app, f"hostname={HOME}&myip=203.0.113.8", REMOTE_ADDR="192.0.2.9")  # good: at once
    assert record(status_dir)["last_change"]["A"] == "203.0.113.8"


def test_unwritable_status_dir_keeps_the_answer(
    make: Callable[..., DyndnsApp], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    app = make(blocker / "status")
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "good 203.0.113.7\n"
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "nochg 203.0.113.7\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0] == 'dyndns-update warning=status-unwritable error="Not a directory"'
    assert (
        warnings[1:]
        == [f'dyndns-update host={HOME} warning=status-unwritable error="Not a directory"'] * 2
    )  # a failed write is tried again at the next call


def test_failed_rename_keeps_the_answer_and_leaves_no_temp_file(
    app: DyndnsApp, status_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(status.os, "replace", refuse)
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "good 203.0.113.7\n"
    assert os.listdir(status_dir) == [".lock"]


def test_broken_record_is_replaced(app: DyndnsApp, status_dir: Path, fake: FakeDns) -> None:
    update(app, f"hostname={HOME}&myip=203.0.113.7")
    (status_dir / f"{HOME}.json").write_text("[1, 2")
    assert update(app, f"hostname={HOME}&myip=203.0.113.7", REMOTE_ADDR="192.0.2.9")[:5] == "nochg"
    data = record(status_dir)
    assert (data["last_call"]["client"], data["last_change"]) == ("192.0.2.9", None)


def test_no_status_dir_writes_nothing(make: Callable[..., DyndnsApp], tmp_path: Path) -> None:
    app = make(None)
    assert app.config.status_dir is None
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "good 203.0.113.7\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "credentials.json",
        "tsig.key",
    ]


def test_concurrent_writes_are_atomic(tmp_path: Path) -> None:
    """Threads of two stores (two processes) write one host, goods and nochgs, while a
    reader reads it: the reader always sees a whole record, and no nochg brings back the
    change before a good written meanwhile."""
    folder = str(tmp_path / "status")
    stores = [StatusStore(folder), StatusStore(folder)]
    path = tmp_path / "status" / f"{HOME}.json"
    errors: list[str] = []
    done = threading.Event()

    def goods() -> None:
        for i in range(1, 101):
            request = UpdateRequest(ipv4=ipaddress.IPv4Address(f"203.0.113.{i}"))
            origin = Origin("192.0.2.1", "basic", "home", "agent")
            stores[0].record(HOME, make_call("good", origin, request), changed=True)

    def nochgs(n: int) -> None:
        for i in range(100):
            origin = Origin(f"192.0.2.{n}", "token", None, f"agent/{i}")
            stores[n % 2].record(HOME, make_call("nochg", origin, UpdateRequest()), changed=False)

    def read() -> None:
        latest = 0
        while not done.is_set():
            try:
                data = json.loads(path.read_text())
            except FileNotFoundError:
                continue
            except ValueError as err:
                errors.append(f"torn: {err}")
                continue
            change = data["last_change"]
            seen = int(change["A"].rsplit(".", 1)[1]) if change else 0
            if list(data) != RECORD_KEYS or seen < latest:
                errors.append(f"{seen} after {latest}")
            latest = max(latest, seen)

    threads = [threading.Thread(target=goods)]
    threads += [threading.Thread(target=nochgs, args=(n,)) for n in range(2, 8)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(store.flush(5.0) for store in stores)
    done.set()
    reader.join()
    assert errors == []
    assert sorted(os.listdir(tmp_path / "status")) == [".lock", f"{HOME}.json"]
    assert json.loads(path.read_text())["last_change"]["A"] == "203.0.113.100"


def test_calls_waiting_for_the_writer_keep_the_last_change(tmp_path: Path) -> None:
    """While the writer waits (here for the lock file, held as by another process), a good
    and then a nochg for one host become one write: the nochg's call, the good's change."""
    folder = tmp_path / "status"
    store = StatusStore(str(folder))
    origin = Origin("192.0.2.1", "basic", "home", "agent")
    address = ipaddress.IPv4Address

    def handed(result: str, last: int) -> None:
        request = UpdateRequest(ipv4=address(f"203.0.113.{last}"))
        store.record(HOME, make_call(result, origin, request), changed=result == "good")

    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        handed("good", 1)
        handed("good", 2)
        handed("nochg", 2)
        assert not store.flush(0.2)  # still waiting for the lock
    assert store.flush(5.0)
    data = json.loads((folder / f"{HOME}.json").read_text())
    assert (data["last_call"]["result"], data["last_change"]["A"]) == ("nochg", "203.0.113.2")


def test_status_dir_in_config(tmp_path: Path) -> None:
    assert parse_config(base_config(tmp_path), "c.json").status_dir is None
    data = base_config(tmp_path, status_dir="/var/lib/dyndns-update/hosts")
    assert parse_config(data, "c.json").status_dir == "/var/lib/dyndns-update/hosts"
    for bad, message in [("hosts", "absolute path"), ("", "non-empty string"), (7, "string")]:
        with pytest.raises(ConfigError, match=f"field 'status_dir' must be .*{message}"):
            parse_config(base_config(tmp_path, status_dir=bad), "c.json")


def cli(config: Path) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    world = status.World(clock=lambda: START + 60, hostname="vm")
    code = status.main(["--config", str(config)], stdout=out, world=world)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}


def test_cli_lists_every_host(
    app: DyndnsApp, tmp_path: Path, status_dir: Path, clock: Clock
) -> None:
    update(app, f"hostname={HOME}&myip=203.0.113.7")
    (status_dir / f"{OTHER}.json").write_text("{broken")
    code, data = cli(tmp_path / "config.json")
    assert code == 1  # nas never called, other's record is broken (test_status_report.py)
    assert list(data)[:4] == ["format", "generated", "status_dir", "hosts"]
    assert (data["format"], data["status_dir"]) == (1, str(status_dir))
    assert data["generated"] == "2025-06-15T15:07:40Z"
    assert [h["fqdn"] for h in data["hosts"]] == [HOME, NAS, OTHER]
    home, nas, other = data["hosts"]
    assert list(home) == ["fqdn", "user", "last_call", "last_change", "error", "stale", "served"]
    assert list(home["last_call"]) == CALL_KEYS
    assert list(home["last_change"]) == CHANGE_KEYS
    assert (home["user"], home["last_call"]["result"], home["error"]) == ("home", "good", None)
    assert nas == {
        "fqdn": NAS,
        "user": "home",
        "last_call": None,
        "last_change": None,
        "error": None,
        "stale": True,
        "served": {},
    }
    assert (other["last_call"], other["error"], other["stale"]) == (
        None,
        "not a valid record",
        None,
    )


def test_cli_without_status_dir_or_config(
    write_files: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = cli(write_files())
    assert (code, data["status_dir"], data["problems"]) == (0, None, [])  # nothing to judge
    assert all(h["last_call"] is None and h["stale"] is None for h in data["hosts"])
    assert cli(tmp_path / "missing.json") == (2, {})
    assert "missing.json: cannot read" in capsys.readouterr().err


def view(app: DyndnsApp, query: str = "", **kw: str | None) -> tuple[str, dict[str, str], Any]:
    kw.setdefault("authorization", GOOD_AUTH)
    status_line, headers, body = call(app, "/nic/status", query, **kw)
    return status_line, headers, json.loads(body)


def test_status_view_shows_the_callers_hosts(app: DyndnsApp, clock: Clock) -> None:
    update(app, f"hostname={HOME}&myip=203.0.113.7&addtxt=challenge-value")
    status_line, headers, data = view(app)
    assert status_line == "200 OK"
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert list(data) == ["format", "generated", "user", "hosts"]
    assert (data["format"], data["generated"], data["user"]) == (1, "2025-06-15T15:06:40Z", "home")
    home, nas = data["hosts"]  # sorted by name; other is not home's
    assert list(home) == ["fqdn", "last_call", "last_change", "dns", "dns_error"]
    assert home["fqdn"] == HOME
    assert list(home["last_call"]) == CALL_KEYS
    assert (home["last_call"]["result"], home["last_change"]["txt"]) == ("good", "add")
    assert home["dns"] == {
        HOME: {"A": ["203.0.113.7"], "AAAA": []},
        f"_acme-challenge.{HOME}": {"TXT": ["challenge-value"]},
    }
    assert nas == {
        "fqdn": NAS,
        "last_call": None,
        "last_change": None,
        "dns": {NAS: {"A": []}},
        "dns_error": None,
    }
    _, _, data = view(app, authorization=basic("other", PASSWORD))
    assert [h["fqdn"] for h in data["hosts"]] == [OTHER]


def test_status_view_of_named_hosts_only(app: DyndnsApp) -> None:
    assert [h["fqdn"] for h in view(app, f"hostname={NAS}")[2]["hosts"]] == [NAS]
    assert [h["fqdn"] for h in view(app, f"hostname=NAS.{ZONE}.,{HOME}")[2]["hosts"]] == [
        HOME,
        NAS,
    ]
    assert view(app, f"hostname={OTHER}")[2]["hosts"] == []  # another user's: not shown
    assert view(app, "hostname=bad_name")[2]["hosts"] == []


def test_status_view_of_every_name_of_a_host(make: Callable[..., DyndnsApp]) -> None:
    hosts = {
        HOME: {
            "username": "home",
            "types": ["A", "AAAA"],
            "aliases": [f"www.home.{ZONE}", f"*.home.{ZONE}"],
            "lan": [{"name": f"nas.home.{ZONE}", "interface_id": "::1234"}],
        }
    }
    app = make(hosts=hosts)
    update(app, f"hostname={HOME}&myipv6=2001:db8:1:2::7")
    (entry,) = view(app)[2]["hosts"]
    assert entry["dns"] == {
        HOME: {"A": [], "AAAA": ["2001:db8:1:2::7"]},
        f"www.home.{ZONE}": {"A": [], "AAAA": ["2001:db8:1:2::7"]},
        f"*.home.{ZONE}": {"A": [], "AAAA": ["2001:db8:1:2::7"]},
        f"nas.home.{ZONE}": {"AAAA": ["2001:db8:1:2::1234"]},
    }


def test_status_view_when_dns_fails(app: DyndnsApp, fake: FakeDns) -> None:
    update(app, f"hostname={HOME}&myip=203.0.113.7")
    fake.fail = DnsUnreachable("timed out")
    home, nas = view(app)[2]["hosts"]
    assert (home["dns"], home["dns_error"]) == (None, "timed out")
    assert home["last_call"]["A"] == "203.0.113.7"  # the record is shown all the same
    assert (nas["dns"], nas["dns_error"]) == (None, "not tried, server unreachable: timed out")
    fake.fail = DnsRejected("query answered REFUSED")
    assert [h["dns_error"] for h in view(app)[2]["hosts"]] == ["query answered REFUSED"] * 2


def test_status_view_refuses_bad_credentials_and_counts_them(
    app: DyndnsApp, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    caplog.set_level(logging.INFO, logger="dyndns_update")
    status_line, headers, data = view(app, HTTP_AUTHORIZATION=None, authorization=None)
    assert (status_line, data) == ("401 Unauthorized", {"error": "badauth"})
    assert headers["WWW-Authenticate"] == 'Basic realm="dyndns"'
    for user in ("home", "nobody"):
        status_line, headers, data = view(app, authorization=basic(user, "wrong password"))
        assert (status_line, data) == ("401 Unauthorized", {"error": "badauth"})
        assert headers["WWW-Authenticate"] == 'Basic realm="dyndns"'
    assert update(app, f"hostname={HOME}", authorization=basic("x", "wrong pw!")) == "badauth\n"
    # three failures (the limit is 3), the first without credentials not counted
    assert view(app)[0::2] == ("429 Too Many Requests", {"error": "abuse"})
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "abuse\n"
    assert [r.getMessage() for r in caplog.records] == [
        'dyndns-update result=badauth error="no credentials" client=198.51.100.2',
        "dyndns-update result=badauth user=home client=198.51.100.2",
        "dyndns-update result=badauth user=nobody client=198.51.100.2",
        "dyndns-update result=badauth user=x client=198.51.100.2 cooldown=started",
        "dyndns-update result=abuse client=198.51.100.2",
        "dyndns-update result=abuse client=198.51.100.2",
    ]
    clock.now += 900
    caplog.clear()
    assert view(app)[0] == "200 OK"
    assert [r.getMessage() for r in caplog.records] == [
        "dyndns-update result=status user=home client=198.51.100.2 hosts=2"
    ]


def test_status_view_needs_get_an_agent_and_basic_auth(app: DyndnsApp, tmp_path: Path) -> None:
    assert view(app, REQUEST_METHOD="POST")[0::2] == ("400 Bad Request", {"error": "badagent"})
    assert view(app, HTTP_USER_AGENT="")[0::2] == ("400 Bad Request", {"error": "badagent"})
    # a secret URL's token shows nothing: there is no status by token
    assert call(app, f"/u/{TOKEN}/status")[0::2] == ("404 Not Found", "notfound\n")
    assert call(app, "/nic/status/x", authorization=GOOD_AUTH)[0] == "404 Not Found"
    (tmp_path / "credentials.json").write_text("{broken")
    assert view(app)[0::2] == ("500 Internal Server Error", {"error": "911"})
