"""The app against a real knotd: every answer checked with real DNS queries."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import dns.name
import dns.query
import dns.rcode
import dns.tsig
import dns.update
import pytest
from app_support import app_config
from dyndns_update import auth
from dyndns_update.app import DyndnsApp, make_app
from knot_support import ZONE, Knot, call
from wsgi_support import acme_dns, basic

HOME = f"home.{ZONE}"
NAS = f"nas.{ZONE}"
OTHER = f"other.{ZONE}"
ACME = f"_acme-challenge.{HOME}"
HOME_AUTH = basic("home", "home-password")
OTHER_AUTH = basic("other", "other-password")
TOKEN = "secret-url-token-0123456789abcdef"


@pytest.fixture
def make(tmp_path: Path, keys: dict[str, str]) -> Callable[..., DyndnsApp]:
    """An app for the given knotd (or port), with the update key unless told otherwise."""

    def build(
        knot: Knot | None = None,
        port: int = 0,
        key: str | None = None,
        zone: str = ZONE,
        **overrides: Any,
    ) -> DyndnsApp:
        (tmp_path / "tsig.key").write_text((key or keys["dyndns-update"]) + "\n")
        credentials = {
            "users": {
                "home": auth.hash_password("home-password"),
                "other": auth.hash_password("other-password"),
            },
            "tokens": {auth.token_hash(TOKEN): HOME},
        }
        (tmp_path / "credentials.json").write_text(json.dumps(credentials))
        os.chmod(tmp_path / "credentials.json", 0o600)
        config = app_config(tmp_path, zone=zone, port=knot.port if knot else port, **overrides)
        (tmp_path / "config.json").write_text(json.dumps(config))
        return make_app(str(tmp_path / "config.json"))

    return build


@pytest.fixture
def app(knot: Knot, make: Callable[..., DyndnsApp]) -> DyndnsApp:
    return make(knot)


def update(app: DyndnsApp, query: str, **kw: Any) -> str:
    kw.setdefault("authorization", HOME_AUTH)
    status, body = call(app, "/nic/update", query, **kw)
    assert status == "200 OK"
    return body


def test_good_then_nochg_sends_no_update(app: DyndnsApp, knot: Knot) -> None:
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "good 203.0.113.7\n"
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert knot.ttl(HOME, "A") == 60
    assert knot.serial() == serial + 1
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "nochg 203.0.113.7\n"
    assert knot.serial() == serial + 1  # no UPDATE was sent
    assert update(app, f"hostname={HOME}&myip=203.0.113.8") == "good 203.0.113.8\n"
    assert knot.records(HOME, "A") == {"203.0.113.8"}
    assert knot.serial() == serial + 2


def test_default_address_is_the_callers(app: DyndnsApp, knot: Knot) -> None:
    assert update(app, f"hostname={HOME}", REMOTE_ADDR="203.0.113.9") == "good 203.0.113.9\n"
    assert knot.records(HOME, "A") == {"203.0.113.9"}
    assert knot.records(HOME, "AAAA") == set()


def test_ipv6(app: DyndnsApp, knot: Knot) -> None:
    assert update(app, f"hostname={HOME}", REMOTE_ADDR="2001:db8::7") == "good 2001:db8::7\n"
    assert knot.records(HOME, "AAAA") == {"2001:db8::7"}
    assert knot.records(HOME, "A") == set()
    assert update(app, f"hostname={HOME}&myipv6=2001:db8:0::7") == "nochg 2001:db8::7\n"
    assert update(app, f"hostname={HOME}&myip6=2001:db8::8") == "good 2001:db8::8\n"
    assert knot.records(HOME, "AAAA") == {"2001:db8::8"}


def test_dual_stack_is_one_update(app: DyndnsApp, knot: Knot) -> None:
    serial = knot.serial()
    body = update(app, f"hostname={HOME}&myip=2001:db8::7,203.0.113.7")
    assert body == "good 203.0.113.7,2001:db8::7\n"
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert knot.records(HOME, "AAAA") == {"2001:db8::7"}
    assert knot.serial() == serial + 1
    body = update(app, f"hostname={HOME}&myip=203.0.113.7&myipv6=2001:db8::7")
    assert body == "nochg 203.0.113.7,2001:db8::7\n"
    body = update(app, f"hostname={HOME}&myip=203.0.113.7&myipv6=2001:db8::8")
    assert body == "good 203.0.113.7,2001:db8::8\n"  # one family changed: good
    assert knot.records(HOME, "AAAA") == {"2001:db8::8"}
    assert knot.serial() == serial + 2


def test_one_family_never_deletes_the_other(app: DyndnsApp, knot: Knot) -> None:
    update(app, f"hostname={HOME}&myip=203.0.113.7,2001:db8::7")
    assert update(app, f"hostname={HOME}&myip=203.0.113.8") == "good 203.0.113.8\n"
    assert knot.records(HOME, "A") == {"203.0.113.8"}
    assert knot.records(HOME, "AAAA") == {"2001:db8::7"}
    assert update(app, f"hostname={HOME}", REMOTE_ADDR="2001:db8::9") == "good 2001:db8::9\n"
    assert knot.records(HOME, "A") == {"203.0.113.8"}
    assert knot.records(HOME, "AAAA") == {"2001:db8::9"}


def test_replaces_a_whole_rrset(app: DyndnsApp, knot: Knot, keys: dict[str, str]) -> None:
    algorithm, name, secret = keys["dyndns-update"].split(":")
    message = dns.update.UpdateMessage(ZONE)
    message.add(dns.name.from_text(HOME), 300, "A", "192.0.2.1")
    message.add(dns.name.from_text(HOME), 300, "A", "192.0.2.2")
    message.use_tsig(dns.tsig.Key(name, secret, algorithm))
    response = dns.query.tcp(message, "127.0.0.1", port=knot.port, timeout=2)
    assert response.rcode() == dns.rcode.NOERROR
    assert knot.records(HOME, "A") == {"192.0.2.1", "192.0.2.2"}
    assert update(app, f"hostname={HOME}&myip=192.0.2.1") == "good 192.0.2.1\n"
    assert knot.records(HOME, "A") == {"192.0.2.1"}
    assert knot.ttl(HOME, "A") == 60


def test_wrong_credentials_change_nothing(app: DyndnsApp, knot: Knot) -> None:
    update(app, f"hostname={HOME}&myip=203.0.113.7")
    serial = knot.serial()
    for authorization in (basic("home", "wrong-password"), basic("nobody", "home-password")):
        body = update(app, f"hostname={HOME}&myip=203.0.113.66", authorization=authorization)
        assert body == "badauth\n"
    assert call(app, "/u/not-the-token-0123456789", "myip=203.0.113.66")[1] == "badauth\n"
    status, body = call(app, "/nic/update", f"hostname={HOME}&myip=203.0.113.66")
    assert (status, body) == ("401 Unauthorized", "badauth\n")
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert knot.serial() == serial


def test_another_users_host_is_nohost_and_unchanged(app: DyndnsApp, knot: Knot) -> None:
    assert update(app, f"hostname={OTHER}&myip=203.0.113.50", authorization=OTHER_AUTH) == (
        "good 203.0.113.50\n"
    )
    body = update(app, f"hostname={OTHER},{HOME},{NAS},x.{ZONE}&myip=203.0.113.7")
    assert body == "nohost\ngood 203.0.113.7\ngood 203.0.113.7\nnohost\n"
    assert knot.records(OTHER, "A") == {"203.0.113.50"}
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert knot.records(NAS, "A") == {"203.0.113.7"}
    assert knot.records(f"x.{ZONE}", "A") == set()


def test_type_not_allowed_changes_nothing(app: DyndnsApp, knot: Knot) -> None:
    assert update(app, f"hostname={NAS}&myip=203.0.113.7,2001:db8::7") == "nohost\n"
    assert knot.records(NAS, "A") == set()
    assert knot.records(NAS, "AAAA") == set()


def test_bad_address_changes_nothing(app: DyndnsApp, knot: Knot) -> None:
    serial = knot.serial()
    assert update(app, f"hostname={HOME},{NAS}&myip=127.0.0.1") == "badip\nbadip\n"
    assert update(app, f"hostname={HOME}", REMOTE_ADDR="::1") == "badip\n"
    assert knot.records(HOME, "A") == set()
    assert knot.serial() == serial


def test_txt_set_and_delete(app: DyndnsApp, knot: Knot) -> None:
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&txt=first-value&txt=second%20value") == "good\n"
    assert knot.records(ACME, "TXT") == {'"first-value"', '"second value"'}
    assert knot.records(HOME, "A") == set()  # the caller's address was not used
    assert knot.serial() == serial + 1
    assert update(app, f"hostname={HOME}&txt=second%20value&txt=first-value") == "nochg\n"
    assert knot.serial() == serial + 1
    assert update(app, f"hostname={HOME}&txt=third") == "good\n"
    assert knot.records(ACME, "TXT") == {'"third"'}
    assert update(app, f"hostname={HOME}&txt=") == "good\n"
    assert knot.records(ACME, "TXT") == set()
    assert update(app, f"hostname={HOME}&txt=") == "nochg\n"
    assert knot.serial() == serial + 3


def test_txt_values_added_and_removed_one_by_one(app: DyndnsApp, knot: Knot) -> None:
    """As certbot does for a name and its wildcard: two values at once, each removed alone."""
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&addtxt=first-value") == "good\n"
    assert call(app, f"/u/{TOKEN}", "addtxt=second%20value")[1] == "good\n"
    assert knot.records(ACME, "TXT") == {'"first-value"', '"second value"'}
    assert knot.records(HOME, "A") == set()  # the caller's address was not used
    assert knot.serial() == serial + 2
    assert update(app, f"hostname={HOME}&addtxt=first-value") == "nochg\n"
    assert update(app, f"hostname={HOME}&deltxt=absent-value") == "nochg\n"
    assert knot.serial() == serial + 2
    assert update(app, f"hostname={HOME}&deltxt=first-value") == "good\n"
    assert knot.records(ACME, "TXT") == {'"second value"'}
    assert call(app, f"/u/{TOKEN}", "deltxt=first-value")[1] == "nochg\n"
    body = update(app, f"hostname={HOME}&addtxt=third&deltxt=second%20value&myip=203.0.113.7")
    assert body == "good 203.0.113.7\n"
    assert knot.records(ACME, "TXT") == {'"third"'}
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert knot.serial() == serial + 4
    assert update(app, f"hostname={HOME}&deltxt=third") == "good\n"
    assert knot.records(ACME, "TXT") == set()


def test_added_txt_values_never_exceed_four(app: DyndnsApp, knot: Knot) -> None:
    assert update(app, f"hostname={HOME}&addtxt=a&addtxt=b&addtxt=c&addtxt=d") == "good\n"
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&addtxt=e&myip=203.0.113.7") == "badtxt\n"
    assert knot.serial() == serial  # nothing changed, not even the address
    assert knot.records(HOME, "A") == set()
    assert update(app, f"hostname={HOME}&addtxt=a") == "nochg\n"
    assert update(app, f"hostname={HOME}&addtxt=e&deltxt=a") == "good\n"
    assert knot.records(ACME, "TXT") == {'"b"', '"c"', '"d"', '"e"'}
    # txt= still replaces the whole set
    assert update(app, f"hostname={HOME}&txt=only") == "good\n"
    assert knot.records(ACME, "TXT") == {'"only"'}


def test_txt_edits_need_txt_type_and_plain_values(app: DyndnsApp, knot: Knot) -> None:
    serial = knot.serial()
    assert update(app, f"hostname={NAS}&addtxt=v") == "nohost\n"
    assert update(app, f"hostname={NAS}&deltxt=v") == "nohost\n"
    assert update(app, f"hostname={HOME}&txt=v&addtxt=w") == "badtxt\n"
    assert update(app, f"hostname={HOME}&addtxt=") == "badtxt\n"
    assert update(app, f"hostname={HOME}&addtxt=v&deltxt=v") == "badtxt\n"
    assert knot.serial() == serial


def test_acme_dns_keeps_the_two_most_recent_values(
    app: DyndnsApp, knot: Knot, make: Callable[..., DyndnsApp]
) -> None:
    """acme-dns's update API, as acme.sh and lego call it for a name and its wildcard."""
    v1, v2, v3, v4, v5 = (f"{i}" * 43 for i in range(1, 6))

    def post(app: DyndnsApp, value: str, subdomain: str = "home") -> Any:
        body = {"subdomain": subdomain, "txt": value}
        status, headers, answer = acme_dns(app, body, "home", "home-password")
        assert (status, headers["Content-Type"]) == ("200 OK", "application/json")
        assert answer == {"txt": value}
        return {f'"{v}"' for v in (v1, v2, v3, v4, v5)} & knot.records(ACME, "TXT")

    assert post(app, v1) == {f'"{v1}"'}
    assert post(app, v2, subdomain=HOME) == {f'"{v1}"', f'"{v2}"'}
    assert post(app, v3) == {f'"{v2}"', f'"{v3}"'}  # the oldest goes
    serial = knot.serial()
    assert post(app, v3) == {f'"{v3}"'}  # as acme-dns: both of its two slots hold v3
    assert knot.serial() == serial + 1
    # a new process knows no history: one value there is kept, of two none
    assert post(make(knot), v4) == {f'"{v3}"', f'"{v4}"'}
    assert post(make(knot), v5) == {f'"{v5}"'}
    assert knot.records(HOME, "A") == set()


def test_txt_with_address(app: DyndnsApp, knot: Knot) -> None:
    body = update(app, f"hostname={HOME}&txt=v&myip=203.0.113.7")
    assert body == "good 203.0.113.7\n"
    assert knot.records(ACME, "TXT") == {'"v"'}
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert update(app, f"hostname={HOME}&txt=v&myip=203.0.113.7") == "nochg 203.0.113.7\n"


def test_txt_needs_txt_type(app: DyndnsApp, knot: Knot) -> None:
    assert update(app, f"hostname={NAS}&txt=v") == "nohost\n"
    assert knot.records(f"_acme-challenge.{NAS}", "TXT") == set()


def test_secret_url(app: DyndnsApp, knot: Knot) -> None:
    status, body = call(app, f"/u/{TOKEN}", "myip=203.0.113.7")
    assert (status, body) == ("200 OK", "good 203.0.113.7\n")
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert call(app, f"/u/{TOKEN}", REMOTE_ADDR="203.0.113.7")[1] == "nochg 203.0.113.7\n"
    assert call(app, f"/u/{TOKEN}", REMOTE_ADDR="2001:db8::7")[1] == "good 2001:db8::7\n"
    assert call(app, f"/u/{TOKEN}", "txt=challenge")[1] == "good\n"
    assert knot.records(ACME, "TXT") == {'"challenge"'}
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    assert knot.records(HOME, "AAAA") == {"2001:db8::7"}


def test_knot_down_is_911(app: DyndnsApp, knot: Knot) -> None:
    update(app, f"hostname={HOME}&myip=203.0.113.7")
    knot.stop()
    assert update(app, f"hostname={HOME}&myip=203.0.113.8") == "911\n"
    assert call(app, f"/u/{TOKEN}", "myip=203.0.113.8")[1] == "911\n"


def test_closed_port_is_911(make: Callable[..., DyndnsApp]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        app = make(port=port)
        assert update(app, f"hostname={HOME}&myip=203.0.113.8") == "911\n"


def test_silent_server_is_911_after_one_timeout(
    make: Callable[..., DyndnsApp], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dyndns_update")
    with socket.socket() as sock, socket.socket(type=socket.SOCK_DGRAM) as udp:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # connections complete, but nothing ever answers
        udp.bind(("127.0.0.1", sock.getsockname()[1]))  # nor over UDP
        app = make(port=sock.getsockname()[1])
        assert update(app, f"hostname={HOME},{NAS}&myip=203.0.113.8") == "911\n911\n"
    lines = [r.getMessage() for r in caplog.records if "result=911" in r.getMessage()]
    errors = [line.split(" error=")[-1] for line in lines]
    # the second host does not wait for the timeout again
    assert errors == ['"timed out"', '"not tried, server unreachable: timed out"']


def test_key_not_in_acl_is_dnserr(
    knot: Knot, make: Callable[..., DyndnsApp], keys: dict[str, str]
) -> None:
    app = make(knot, key=keys["other-key"])  # known to knotd, but not allowed to update
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "dnserr\n"
    assert knot.records(HOME, "A") == set()
    assert knot.serial() == serial


def test_wrong_secret_is_dnserr(
    knot: Knot, make: Callable[..., DyndnsApp], keys: dict[str, str]
) -> None:
    algorithm, name, _ = keys["dyndns-update"].split(":")
    wrong = base64.b64encode(b"w" * 64).decode()
    app = make(knot, key=f"{algorithm}:{name}:{wrong}")
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "dnserr\n"
    unknown = make(knot, key=f"{algorithm}:no-such-key:{wrong}")
    assert update(unknown, f"hostname={HOME}&myip=203.0.113.7") == "dnserr\n"
    assert knot.records(HOME, "A") == set()


def test_zone_not_served_is_dnserr(knot: Knot, make: Callable[..., DyndnsApp]) -> None:
    app = make(knot, zone="elsewhere.test")  # knotd answers REFUSED for it
    serial = knot.serial()
    assert update(app, "hostname=home.elsewhere.test&myip=203.0.113.7") == "dnserr\n"
    assert knot.serial() == serial


@pytest.mark.update_types("A", "AAAA")
def test_type_refused_by_acl_is_dnserr(app: DyndnsApp, knot: Knot) -> None:
    """The UPDATE itself is refused (the TSIG is fine): nothing at all changes."""
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&myip=203.0.113.7&txt=v") == "dnserr\n"
    assert knot.records(HOME, "A") == set()  # the A change in the same UPDATE did not happen
    assert knot.records(ACME, "TXT") == set()
    assert knot.serial() == serial
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "good 203.0.113.7\n"


@pytest.mark.update_types("A", "AAAA")
def test_txt_edit_refused_by_acl_is_dnserr(app: DyndnsApp, knot: Knot) -> None:
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&addtxt=v&myip=203.0.113.7") == "dnserr\n"
    assert knot.records(HOME, "A") == set()
    assert knot.serial() == serial


def test_update_refused_after_read_is_dnserr(
    knot: Knot, make: Callable[..., DyndnsApp], tmp_path: Path
) -> None:
    """The records are read fine, then knotd refuses an UPDATE for a zone it does not serve."""
    make(knot)
    config = json.loads((tmp_path / "config.json").read_text())
    config["zone"] = "example.test"  # the parent: still contains every host name
    (tmp_path / "config.json").write_text(json.dumps(config))
    app = make_app(str(tmp_path / "config.json"))
    serial = knot.serial()
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "dnserr\n"
    assert knot.records(HOME, "A") == set()
    assert knot.serial() == serial


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server(app: DyndnsApp) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_over_real_http(http_server: str, knot: Knot) -> None:
    """A client as a router is one: HTTP, Basic auth after a 401 challenge, own address."""
    url = f"{http_server}/nic/update?hostname={HOME}"
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, http_server, "home", "home-password")
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))
    opener.addheaders = [("User-Agent", "router/1.0")]
    with opener.open(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.read() == b"badip\n"  # the caller is 127.0.0.1: no host's address
    with opener.open(f"{url}&myip=203.0.113.7", timeout=10) as response:
        assert response.read() == b"good 203.0.113.7\n"
    assert knot.records(HOME, "A") == {"203.0.113.7"}
    request = urllib.request.Request(url, headers={"User-Agent": "router/1.0"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    with info.value as error:  # closes its connection
        assert error.code == 401
        assert error.headers["WWW-Authenticate"] == 'Basic realm="dyndns"'
        assert error.read() == b"badauth\n"


# A router's host with names of its own: aliases, a wildcard, two LAN machines (one
# under it, one in another /64 of a /56), and a host that reads empty as "clear".
WWW, WILD, LAN_NAS, PRINTER = f"www.{HOME}", f"*.{HOME}", f"nas.{HOME}", f"printer.{ZONE}"
LAN_HOSTS = {
    HOME: {
        "username": "home",
        "aliases": [WWW, WILD],
        "lan": [
            {"name": LAN_NAS, "interface_id": "::1234:5678:9abc:def0"},
            {"name": PRINTER, "interface_id": "2001:db8:ffff:3:0:0:0:10", "prefix_length": 56},
        ],
    },
    OTHER: {"username": "other", "empty_clears": True},
}


@pytest.fixture
def lan_app(knot: Knot, make: Callable[..., DyndnsApp]) -> DyndnsApp:
    return make(knot, hosts=LAN_HOSTS)


def aaaa(knot: Knot) -> dict[str, set[str]]:
    return {name: knot.records(name, "AAAA") for name in (HOME, WWW, WILD, LAN_NAS, PRINTER)}


def test_fritzbox_prefix_sets_every_name_in_one_update(lan_app: DyndnsApp, knot: Knot) -> None:
    serial = knot.serial()
    query = "&myip=203.0.113.7&myipv6=2001:db8:99::1&ip6lanprefix=2001:db8:1:200::/64"
    assert update(lan_app, f"hostname={HOME}{query}") == "good 203.0.113.7,2001:db8:99::1\n"
    assert aaaa(knot) == {
        HOME: {"2001:db8:99::1"},
        WWW: {"2001:db8:99::1"},
        WILD: {"2001:db8:99::1"},
        LAN_NAS: {"2001:db8:1:200:1234:5678:9abc:def0"},
        PRINTER: {"2001:db8:1:203::10"},
    }
    assert {knot.records(n, "A") == {"203.0.113.7"} for n in (HOME, WWW, WILD)} == {True}
    assert knot.records(f"anything.{HOME}", "A") == {"203.0.113.7"}  # the wildcard answers
    assert knot.records(LAN_NAS, "A") == set()
    assert knot.serial() == serial + 1
    assert update(lan_app, f"hostname={HOME}{query}") == "nochg 203.0.113.7,2001:db8:99::1\n"
    assert knot.serial() == serial + 1
    # a new prefix: every LAN machine moves, in one serial, the rest stays
    moved = query.replace("2001:db8:1:200::", "2001:db8:7:700::")
    assert update(lan_app, f"hostname={HOME}{moved}") == "good 203.0.113.7,2001:db8:99::1\n"
    assert knot.serial() == serial + 2
    assert aaaa(knot)[LAN_NAS] == {"2001:db8:7:700:1234:5678:9abc:def0"}
    assert aaaa(knot)[PRINTER] == {"2001:db8:7:703::10"}
    assert aaaa(knot)[HOME] == {"2001:db8:99::1"}


def test_without_a_prefix_the_callers_64_is_used(lan_app: DyndnsApp, knot: Knot) -> None:
    assert (
        update(lan_app, f"hostname={HOME}", REMOTE_ADDR="2001:db8:5:6::9")
        == "good 2001:db8:5:6::9\n"
    )
    assert aaaa(knot)[LAN_NAS] == {"2001:db8:5:6:1234:5678:9abc:def0"}
    update(lan_app, f"hostname={HOME}", REMOTE_ADDR="203.0.113.9")  # IPv4 only: LAN untouched
    assert aaaa(knot)[LAN_NAS] == {"2001:db8:5:6:1234:5678:9abc:def0"}


def test_clearing_ipv6_keeps_the_a_records(lan_app: DyndnsApp, knot: Knot) -> None:
    update(lan_app, f"hostname={HOME}&myip=203.0.113.7,2001:db8:5:6::9")
    serial = knot.serial()
    assert update(lan_app, f"hostname={HOME}&myipv6=none") == "good\n"
    assert set().union(*aaaa(knot).values()) == set()
    assert knot.records(HOME, "A") == knot.records(WWW, "A") == {"203.0.113.7"}
    assert knot.serial() == serial + 1
    assert update(lan_app, f"hostname={HOME}&myipv6=none") == "nochg\n"
    assert (
        update(lan_app, f"hostname={HOME}&myipv4=none&myipv6=2001:db8::1") == "good 2001:db8::1\n"
    )
    assert knot.records(HOME, "A") == knot.records(WILD, "A") == set()


def test_an_empty_address_clears_only_where_the_host_asked(lan_app: DyndnsApp, knot: Knot) -> None:
    for host, credentials in ((HOME, HOME_AUTH), (OTHER, OTHER_AUTH)):
        update(lan_app, f"hostname={host}&myip=203.0.113.7,2001:db8::7", authorization=credentials)
    fritzbox_lost_ipv6 = "&myip=203.0.113.7&myipv6=&ip6lanprefix="
    assert update(lan_app, f"hostname={HOME}{fritzbox_lost_ipv6}") == "nochg 203.0.113.7\n"
    assert knot.records(HOME, "AAAA") == {"2001:db8::7"}
    body = update(lan_app, f"hostname={OTHER}{fritzbox_lost_ipv6}", authorization=OTHER_AUTH)
    assert body == "good 203.0.113.7\n"
    assert knot.records(OTHER, "AAAA") == set()
    assert knot.records(OTHER, "A") == {"203.0.113.7"}


@pytest.mark.parametrize(
    "query",
    [
        "ip6lanprefix=2001:db8:1:2::/80",
        "ip6lanprefix=203.0.113.0/24",
        "ip6lanprefix=junk",
        "myip=none",
    ],
)
def test_a_bad_prefix_or_clear_changes_nothing(lan_app: DyndnsApp, knot: Knot, query: str) -> None:
    update(lan_app, f"hostname={HOME}&myip=203.0.113.7,2001:db8::7")
    serial = knot.serial()
    assert update(lan_app, f"hostname={HOME}&myipv6=2001:db8::8&{query}") == "badip\n"
    assert knot.serial() == serial
    assert knot.records(HOME, "AAAA") == {"2001:db8::7"}
