"""GET /metrics: off by default; answers by code, DNS UPDATEs and their latency, in
Prometheus's text format. DNS is an in-memory stand-in (unit_support.FakeDns)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dyndns_update.app import DyndnsApp, make_app
from dyndns_update.config import ConfigError, CredentialsStore, load_config
from dyndns_update.dnsio import DnsConflict, DnsRejected, DnsUnreachable
from dyndns_update.metrics import BUCKETS, Metrics, process_start_time
from unit_support import PASSWORD, ZONE, FakeDns
from wsgi_support import basic, call

HOME = f"home.{ZONE}"
GOOD_AUTH = basic("home", PASSWORD)
SAMPLE = re.compile(r'^[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.e+-]+$')


@pytest.fixture
def fake() -> FakeDns:
    return FakeDns()


@pytest.fixture
def app(write_files: Callable[..., Path], fake: FakeDns) -> DyndnsApp:
    config = load_config(str(write_files(metrics=True)))
    return DyndnsApp(config, fake, CredentialsStore(config.credentials_file))


def samples(app: DyndnsApp) -> dict[str, float]:
    """The scrape: each sample by name and labels; checks the format on the way."""
    status, headers, body = call(app, "/metrics", HTTP_USER_AGENT="Prometheus/3.0")
    assert status == "200 OK"
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = body.splitlines()
    for line in lines:
        assert line.startswith(("# HELP ", "# TYPE ")) or SAMPLE.match(line), line
    found = {}
    for line in lines:
        if not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


def update(app: DyndnsApp, query: str, **kw: str) -> str:
    kw.setdefault("authorization", GOOD_AUTH)
    return call(app, "/nic/update", query, **kw)[2]


def test_off_by_default_then_404(write_files: Callable[..., Path]) -> None:
    app = make_app(str(write_files()))
    assert app.metrics is None
    assert call(app, "/metrics")[0::2] == ("404 Not Found", "notfound\n")


def test_metrics_must_be_true_or_false(write_files: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match="field 'metrics' must be true or false"):
        load_config(str(write_files(metrics="yes")))


def test_answers_are_counted_by_code(app: DyndnsApp) -> None:
    before = samples(app)
    assert before['dyndns_update_answers_total{code="good"}'] == 0  # every code from the start
    assert before['dyndns_update_answers_total{code="status"}'] == 0
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "good 203.0.113.7\n"
    assert update(app, f"hostname={HOME},nas.{ZONE}&myip=203.0.113.7") == (
        "nochg 203.0.113.7\ngood 203.0.113.7\n"
    )
    assert update(app, f"hostname={HOME}", authorization=basic("home", "wrong pw!")) == (
        "badauth\n"
    )
    assert update(app, f"hostname=other.{ZONE}&myip=203.0.113.7") == "nohost\n"
    assert call(app, "/nic/status", authorization=GOOD_AUTH)[0] == "200 OK"
    assert call(app, "/nic/update", REQUEST_METHOD="POST")[2] == "badagent\n"
    found = samples(app)
    counts = {
        key[len('dyndns_update_answers_total{code="') : -2]: value
        for key, value in found.items()
        if key.startswith("dyndns_update_answers_total")
    }
    assert {code: n for code, n in counts.items() if n} == {
        "good": 2,
        "nochg": 1,
        "badauth": 1,
        "nohost": 1,
        "status": 1,
        "badagent": 1,
    }
    assert found['dyndns_update_dns_updates_total{outcome="ok"}'] == 2  # no UPDATE for nochg
    assert found["dyndns_update_dns_update_seconds_count"] == 2
    assert found['dyndns_update_dns_update_seconds_bucket{le="+Inf"}'] == 2
    assert found['dyndns_update_dns_update_seconds_bucket{le="2.5"}'] == 2
    assert 0 < found["dyndns_update_dns_update_seconds_sum"] < 1


def test_updates_are_counted_by_outcome(app: DyndnsApp, fake: FakeDns) -> None:
    fake.fail = DnsUnreachable("timed out")  # the read fails: no UPDATE is sent
    assert update(app, f"hostname={HOME}&myip=203.0.113.7") == "911\n"
    fake.fail = None
    for error, answer in [
        (DnsRejected("update answered NOTAUTH"), "dnserr"),
        (DnsUnreachable("timed out"), "911"),
        (DnsConflict("update answered YXRRSET"), "dnserr"),  # read and sent 5 times
    ]:
        fake.fail_updates = error
        assert update(app, f"hostname={HOME}&addtxt=value-one") == answer + "\n"
    fake.fail_updates = None
    assert update(app, f"hostname={HOME}&addtxt=value-one") == "good\n"
    found = samples(app)
    outcomes = {
        outcome: found[f'dyndns_update_dns_updates_total{{outcome="{outcome}"}}']
        for outcome in ("ok", "conflict", "rejected", "unreachable", "error")
    }
    assert outcomes == {"ok": 1, "conflict": 5, "rejected": 1, "unreachable": 1, "error": 0}
    assert found["dyndns_update_dns_update_seconds_count"] == 8


def test_histogram_buckets_add_up() -> None:
    metrics = Metrics(["good"], started=1.5)
    for seconds in (0.0005, 0.001, 0.002, 0.3, 3.0):
        metrics.update_sent(seconds, "ok")
    text = metrics.render().decode()
    buckets = dict(re.findall(r'_bucket\{le="([^"]+)"\} (\d+)', text))
    assert list(buckets) == [repr(b) for b in BUCKETS] + ["+Inf"]
    assert (buckets["0.001"], buckets["0.0025"], buckets["0.25"], buckets["0.5"]) == (
        "2",
        "3",
        "3",
        "4",
    )
    assert (buckets["2.5"], buckets["+Inf"]) == ("4", "5")
    assert "dyndns_update_dns_update_seconds_count 5\n" in text
    assert "dyndns_update_dns_update_seconds_sum 3.3035\n" in text
    assert "process_start_time_seconds 1.5\n" in text


def test_process_start_time_and_method(app: DyndnsApp) -> None:
    started = samples(app)["process_start_time_seconds"]
    assert time.time() - 86400 * 365 < started <= time.time()
    assert abs(process_start_time(0.0) - started) < 1
    status, headers, _ = call(app, "/metrics", REQUEST_METHOD="POST")
    assert (status, headers["Allow"]) == ("405 Method Not Allowed", "GET")
