"""The WSGI app's answers, routing, auth, abuse control and log lines.

The config points at a port where nothing listens, so every request that gets as
far as DNS answers 911; the DNS paths themselves are tested against a real knotd
in tests/integration.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dyndns_update import auth, credentials
from dyndns_update.app import DyndnsApp, make_app
from dyndns_update.config import ConfigError
from unit_support import PASSWORD, TOKEN, ZONE
from wsgi_support import acme_dns, basic, call

HOME = f"home.{ZONE}"
NAS = f"nas.{ZONE}"
OTHER = f"other.{ZONE}"
GOOD_AUTH = basic("home", PASSWORD)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(write_files: Callable[..., Path], clock: Clock) -> DyndnsApp:
    return make_app(str(write_files()), clock=clock)


def update(
    app: DyndnsApp, query: str = f"hostname={HOME}", **kw: str | None
) -> tuple[str, dict[str, str], str]:
    kw.setdefault("authorization", GOOD_AUTH)
    return call(app, "/nic/update", query, **kw)


def test_answers_are_plain_text_and_not_cached(app: DyndnsApp) -> None:
    status, headers, body = update(app, authorization=basic("home", "wrong"))
    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Length"] == str(len(body))
    assert body == "badauth\n"


@pytest.mark.parametrize("path", ["/", "/nic", "/nic/update/x", "/u/", "/u/a/b", "/update/x"])
def test_other_paths_are_404(app: DyndnsApp, path: str) -> None:
    status, headers, body = call(app, path, authorization=GOOD_AUTH)
    assert status == "404 Not Found"
    assert body == "notfound\n"
    assert headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTP_USER_AGENT": None},
        {"HTTP_USER_AGENT": ""},
        {"HTTP_USER_AGENT": "  "},
        {"REQUEST_METHOD": "POST"},
        {"REQUEST_METHOD": "HEAD"},
        {"REQUEST_METHOD": "PUT"},
    ],
)
def test_badagent(app: DyndnsApp, environ: dict[str, str | None]) -> None:
    assert update(app, **environ)[0::2] == ("200 OK", "badagent\n")
    assert call(app, f"/u/{TOKEN}", **environ)[2] == "badagent\n"


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Basic !!!", "Basic bm9jb2xvbg=="])
def test_missing_or_unparseable_authorization_is_401(app: DyndnsApp, header: str | None) -> None:
    kw = {"authorization": header} if header is not None else {"HTTP_AUTHORIZATION": None}
    status, headers, body = call(app, "/nic/update", f"hostname={HOME}", **kw)
    assert status == "401 Unauthorized"
    assert headers["WWW-Authenticate"] == 'Basic realm="dyndns"'
    assert body == "badauth\n"


@pytest.mark.parametrize(
    "authorization",
    [basic("home", "wrong password"), basic("nobody", PASSWORD), basic("", PASSWORD)],
)
def test_wrong_credentials_one_badauth_line(app: DyndnsApp, authorization: str) -> None:
    status, headers, body = update(
        app, f"hostname={HOME},{NAS}&myip=203.0.113.7", authorization=authorization
    )
    assert (status, body) == ("200 OK", "badauth\n")
    assert "WWW-Authenticate" not in headers


def test_missing_hostname_is_notfqdn(app: DyndnsApp) -> None:
    assert update(app, "myip=203.0.113.7")[2] == "notfqdn\n"
    assert update(app, "hostname=&myip=203.0.113.7")[2] == "notfqdn\n"
    assert update(app, "hostname=,,")[2] == "notfqdn\n"


def test_too_many_hostnames_is_one_numhost(app: DyndnsApp) -> None:
    names = ",".join([HOME, NAS, HOME, NAS])  # max_hostnames is 3 in this config
    assert update(app, f"hostname={names}")[2] == "numhost\n"


def test_per_host_answers_in_request_order(app: DyndnsApp) -> None:
    query = f"hostname=not_a_name,{OTHER},unknown.{ZONE}&myip=203.0.113.7"
    assert update(app, query)[2] == "notfqdn\nnohost\nnohost\n"
    # an own host still goes on to DNS (nothing listens here: 911), the others do not
    query = f"hostname={OTHER},{HOME},localhost&myip=203.0.113.7"
    assert update(app, query)[2] == "nohost\n911\nnotfqdn\n"


def test_hostname_is_normalized(app: DyndnsApp) -> None:
    assert update(app, "hostname=HOME.Dyn.Example.Test.&myip=203.0.113.7")[2] == "911\n"


@pytest.mark.parametrize(
    ("query", "remote"),
    [
        ("myip=127.0.0.1", "198.51.100.2"),
        ("myip=garbage", "198.51.100.2"),
        ("myip=203.0.113.7,203.0.113.8", "198.51.100.2"),
        ("myipv6=203.0.113.7", "198.51.100.2"),
        ("myip=203.0.113.7&myipv6=fe80::1", "198.51.100.2"),
        ("", "127.0.0.1"),
        ("", "::1"),
        ("", "fe80::1"),
    ],
)
def test_bad_addresses_are_badip_for_every_host(app: DyndnsApp, query: str, remote: str) -> None:
    body = update(app, f"hostname={HOME},{NAS},{OTHER}&{query}", REMOTE_ADDR=remote)[2]
    assert body == "badip\nbadip\nbadip\n"


def test_bad_txt_is_badtxt(app: DyndnsApp) -> None:
    assert update(app, f"hostname={HOME}&txt=" + "x" * 256)[2] == "badtxt\n"
    assert update(app, f"hostname={HOME}&txt=a&txt=b&txt=c&txt=d&txt=e")[2] == "badtxt\n"


def test_bad_txt_edits_are_badtxt(app: DyndnsApp) -> None:
    assert update(app, f"hostname={HOME},{NAS}&txt=a&addtxt=b")[2] == "badtxt\nbadtxt\n"
    assert update(app, f"hostname={HOME}&addtxt=a&deltxt=a")[2] == "badtxt\n"
    assert call(app, f"/u/{TOKEN}", "addtxt=")[2] == "badtxt\n"


def test_types_not_allowed_are_nohost(app: DyndnsApp) -> None:
    # nas may only have A: an IPv6 address (given or the caller's own) or TXT is refused
    assert update(app, f"hostname={NAS}&myipv6=2001:db8::7")[2] == "nohost\n"
    assert update(app, f"hostname={NAS}&myip=203.0.113.7,2001:db8::7")[2] == "nohost\n"
    assert update(app, f"hostname={NAS}", REMOTE_ADDR="2001:db8::7")[2] == "nohost\n"
    assert update(app, f"hostname={NAS}&txt=challenge")[2] == "nohost\n"
    assert update(app, f"hostname={NAS}&addtxt=challenge")[2] == "nohost\n"
    assert update(app, f"hostname={NAS}&deltxt=challenge")[2] == "nohost\n"
    assert update(app, f"hostname={NAS}", REMOTE_ADDR="203.0.113.7")[2] == "911\n"


def test_secret_url(app: DyndnsApp) -> None:
    # no Basic auth needed; the known token reaches DNS (911 here), a wrong one is badauth
    assert call(app, f"/u/{TOKEN}", HTTP_AUTHORIZATION=None)[0::2] == ("200 OK", "911\n")
    assert call(app, f"/u/{TOKEN}", f"hostname={OTHER}")[2] == "911\n"  # hostname is ignored
    assert call(app, f"/u/{TOKEN}", "myip=127.0.0.1")[2] == "badip\n"
    assert call(app, f"/u/{TOKEN}x")[0::2] == ("200 OK", "badauth\n")


def test_secret_url_for_host_without_config_is_nohost(
    write_files: Callable[..., Path], tmp_path: Path
) -> None:
    app = make_app(str(write_files()))
    data = json.loads((tmp_path / "credentials.json").read_text())
    data["tokens"][auth.token_hash("orphan-token-0123456789")] = f"gone.{ZONE}"
    (tmp_path / "credentials.json").write_text(json.dumps(data))
    assert call(app, "/u/orphan-token-0123456789")[2] == "nohost\n"


def test_abuse_after_failures_blocks_that_ip_only(app: DyndnsApp, clock: Clock) -> None:
    wrong = basic("home", "wrong password")
    for _ in range(2):
        assert update(app, authorization=wrong)[2] == "badauth\n"
    assert call(app, f"/u/{TOKEN}-wrong")[2] == "badauth\n"  # third failure (limit is 3)
    assert update(app)[0::2] == ("200 OK", "abuse\n")  # even with the right password
    assert call(app, f"/u/{TOKEN}")[2] == "abuse\n"
    assert update(app, REMOTE_ADDR="198.51.100.3")[2] == "911\n"  # other IPs unaffected
    clock.now += 899
    assert update(app)[2] == "abuse\n"
    clock.now += 1
    assert update(app)[2] == "911\n"


def test_failures_outside_window_do_not_block(app: DyndnsApp, clock: Clock) -> None:
    wrong = basic("home", "wrong password")
    update(app, authorization=wrong)
    update(app, authorization=wrong)
    clock.now += 601
    update(app, authorization=wrong)
    assert update(app)[2] == "911\n"


def test_missing_authorization_does_not_count_as_abuse(app: DyndnsApp) -> None:
    for _ in range(5):
        assert call(app, "/nic/update", f"hostname={HOME}")[0] == "401 Unauthorized"
    assert update(app)[2] == "911\n"


def test_password_change_is_picked_up_without_restart(app: DyndnsApp, tmp_path: Path) -> None:
    path = str(tmp_path / "credentials.json")
    assert update(app)[2] == "911\n"
    stdin = io.StringIO("a-new-password\n")
    assert credentials.main(["--file", path, "set-password", "home"], stdin=stdin) == 0
    assert update(app)[2] == "badauth\n"
    assert update(app, authorization=basic("home", "a-new-password"))[2] == "911\n"


def test_broken_credentials_file_fails_closed(app: DyndnsApp, tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text("{broken")
    assert update(app)[2] == "911\n"
    assert call(app, f"/u/{TOKEN}")[2] == "911\n"


def test_one_log_line_per_host_and_no_secrets(
    app: DyndnsApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dyndns_update")
    query = f"hostname={HOME},{OTHER},bad_name&myip=203.0.113.7"
    update(app, query)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0] == (
        f"dyndns-update host={HOME} result=911 user=home client=198.51.100.2 "
        'error="[Errno 111] Connection refused"'
    )
    assert lines[1] == f"dyndns-update host={OTHER} result=nohost user=home client=198.51.100.2"
    # an invalid name is never logged, only its length
    assert lines[2].startswith("dyndns-update host=(invalid) host_length=8 result=notfqdn user=")

    caplog.clear()
    update(app, query, authorization=basic("home", "wrong-secret-pw"))
    call(app, f"/u/{TOKEN}")
    call(app, f"/u/{TOKEN}-wrong", "txt=acme-value")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "dyndns-update result=badauth user=home client=198.51.100.2"
    assert lines[1].startswith(f"dyndns-update host={HOME} result=911 via=token client=")
    assert lines[2] == "dyndns-update result=badauth via=token client=198.51.100.2"
    text = "\n".join(lines)
    for secret in ("wrong-secret-pw", PASSWORD, TOKEN, GOOD_AUTH.split()[1], "acme-value"):
        assert secret not in text
    assert "/u/" not in text
    assert "myip=" not in text


def test_log_values_cannot_inject_lines(app: DyndnsApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dyndns_update")
    update(app, "hostname=evil%0Aresult%3Dgood%20x=y&myip=203.0.113.7")
    update(app, authorization=basic("evil user=x\n", "pw"))
    update(app, authorization=basic("evil\n", "pw"))  # a name but for its newline
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "user=(invalid) " in lines[2]
    assert all("\n" not in line for line in lines)
    assert lines[0].startswith("dyndns-update host=(invalid) host_length=20 result=notfqdn")
    assert "user=(invalid) " in lines[1]
    assert "evil" not in "\n".join(lines)


def test_make_app_fails_clearly_on_bad_files(
    write_files: Callable[..., Path], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="field 'port'"):
        make_app(str(write_files(port="53")))
    path = write_files()
    (tmp_path / "tsig.key").write_text("nonsense")
    with pytest.raises(ConfigError, match=r"tsig\.key: must hold exactly one line"):
        make_app(str(path))
    path = write_files()
    (tmp_path / "credentials.json").unlink()
    with pytest.raises(ConfigError, match=r"credentials\.json: cannot read"):
        make_app(str(path))
    with pytest.raises(ConfigError, match="cannot read"):
        make_app(str(tmp_path / "nothing.json"))


VALUE = "gfj9Xq-Mu1p8aO4nZwWw8bU0eLvJ7kzxRZ5yIw5mLzE"  # 43 characters, as ACME makes them


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"subdomain": "home", "txt": VALUE}, "500 Internal Server Error", "db_error"),  # no DNS
        ({"subdomain": HOME, "txt": VALUE}, "500 Internal Server Error", "db_error"),
        ({"subdomain": "nas", "txt": VALUE}, "401 Unauthorized", "forbidden"),  # no TXT
        ({"subdomain": "other", "txt": VALUE}, "401 Unauthorized", "forbidden"),  # not home's
        ({"subdomain": "unknown", "txt": VALUE}, "401 Unauthorized", "forbidden"),
        ({"subdomain": "home.example.org", "txt": VALUE}, "400 Bad Request", "bad_subdomain"),
        ({"subdomain": "-x", "txt": VALUE}, "400 Bad Request", "bad_subdomain"),
        ({"subdomain": 7, "txt": VALUE}, "400 Bad Request", "bad_subdomain"),
        ({"subdomain": "home", "txt": VALUE[:42]}, "400 Bad Request", "bad_txt"),
        ({"subdomain": "home", "txt": VALUE[:42] + "="}, "400 Bad Request", "bad_txt"),
        ({"subdomain": "home"}, "400 Bad Request", "bad_txt"),
        (["home", VALUE], "400 Bad Request", "malformed_json_payload"),
        (b"{not json", "400 Bad Request", "malformed_json_payload"),
        (b"", "400 Bad Request", "malformed_json_payload"),
        (b" " * 4097, "400 Bad Request", "malformed_json_payload"),
    ],
)
def test_acme_dns_answers(app: DyndnsApp, body: Any, status: str, error: str) -> None:
    answer = acme_dns(app, body, "home", PASSWORD)
    assert answer[0::2] == (status, {"error": error})
    assert answer[1]["Content-Type"] == "application/json"
    assert answer[1]["Cache-Control"] == "no-store"


def test_acme_dns_credentials_and_abuse(app: DyndnsApp, clock: Clock) -> None:
    body = {"subdomain": "home", "txt": VALUE}
    forbidden = ("401 Unauthorized", {"error": "forbidden"})
    assert acme_dns(app, body, None, None)[0::2] == forbidden  # does not count as a failure
    assert acme_dns(app, body, "home", None)[0::2] == forbidden
    for user in ("home", "nobody", "home"):  # three failures (the limit is 3)
        assert acme_dns(app, body, user, "wrong password")[0::2] == forbidden
    blocked = acme_dns(app, body, "home", PASSWORD)
    assert blocked[0::2] == ("429 Too Many Requests", {"error": "abuse"})
    assert update(app)[2] == "abuse\n"  # the same guard as /nic/update
    clock.now += 900
    assert acme_dns(app, body, "home", PASSWORD)[2] == {"error": "db_error"}
    status, _, text = call(app, "/update", REQUEST_METHOD="GET")
    assert (status, json.loads(text)) == ("405 Method Not Allowed", {"error": "method_not_allowed"})


def test_acme_dns_log_lines(app: DyndnsApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dyndns_update")
    acme_dns(app, {"subdomain": "home", "txt": VALUE}, "home", "wrong-secret-pw")
    acme_dns(app, {"subdomain": "home", "txt": VALUE[:40]}, "home", PASSWORD)
    acme_dns(app, {"subdomain": "nas", "txt": VALUE}, "home", PASSWORD)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "dyndns-update result=badauth user=home via=acme-dns client=198.51.100.2",
        "dyndns-update result=badtxt user=home via=acme-dns client=198.51.100.2 error=bad_txt",
        f"dyndns-update host={NAS} result=nohost user=home via=acme-dns client=198.51.100.2"
        ' error="type not allowed: TXT"',
    ]
    assert VALUE[:40] not in "\n".join(lines)
