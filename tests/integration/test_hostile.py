"""Hostile input against the app and a real knotd.

A seeded fuzz run whose oracle explains the zone by the answers alone: after every
batch, the zone (by AXFR) must be the zone file's records plus exactly what the
`good`/`nochg` answers said was set, and no answer may claim what the request and
the caller could not get. Then concurrent requests for one host, from two app
instances that share no lock (as two processes would).
"""

from __future__ import annotations

import ipaddress
import logging
import random
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, quote

import dns.query
import dns.rdatatype
import dns.zone
import pytest
from dyndns_update.app import DyndnsApp
from knot_support import ZONE, Knot, call
from test_knot_integration import HOME, NAS, OTHER, TOKEN, make  # noqa: F401 (fixture)
from wsgi_support import basic
from wsgi_support import call as wsgi_call

SEED = 20261125
REQUESTS = 10_000
BATCH = 1000

USERS = {"home": "home-password", "other": "other-password"}
OWNED = {HOME: "home", NAS: "home", OTHER: "other"}
TYPES = {HOME: {"A", "AAAA", "TXT"}, NAS: {"A"}, OTHER: {"A", "AAAA"}}
CODES = {
    "good", "nochg", "badauth", "notfqdn", "nohost", "numhost", "abuse", "badagent",
    "dnserr", "911", "badip", "badtxt", "notfound",
}  # fmt: skip

HOSTNAMES = [
    HOME, HOME, NAS, OTHER, HOME.upper(), f"{HOME}.", f" {HOME} ", f"{HOME},{NAS}",
    f"{HOME},{OTHER}", f"ns1.{ZONE}", ZONE, f"static.{ZONE}", f"*.{ZONE}", f"new.{ZONE}",
    f"sub.{HOME}", f"_acme-challenge.{HOME}", "a" * 200, f"évil.{ZONE}",
    f"{HOME};myip=192.0.2.1", "", ",", "203.0.113.5", f"x..y.{ZONE}", f"-bad-.{ZONE}",
    f"{HOME}\n", f"{HOME}\x00",
]  # fmt: skip
IPV4 = [
    "203.0.113.1", "203.0.113.2", "198.51.100.9", "10.1.2.3", "0.0.0.0", "127.0.0.1",
    "224.0.0.1", "255.255.255.255", "169.254.1.1", "::ffff:203.0.113.3", "300.1.1.1", "abc", "",
    "203.0.113.1,2001:db8::1",
]  # fmt: skip
IPV6 = [
    "2001:db8::1", "2001:db8::2", "2001:db8:1:0:0:0:0:5", "fe80::1", "::1", "::", "ff02::1",
    "fec0::1", "2001:db8::1%eth0", "1.2.3.4", "zz::", "",
]  # fmt: skip
PREFIXES = [
    "2001:db8:1:2::/64", "2001:db8:1:2::", "2001:db8:1:2::/80", "192.0.2.0/24", "fe80::/64",
    "junk", "",
]  # fmt: skip
TXT = ["token-a", "token-b", "x" * 255, "x" * 256, "", "bad\x01", "with space", "ünicode", 'q"uote']
# addtxt/deltxt: enough good values to fill the set of 4 and be refused one more
TXT_EDITS = [*TXT, "edit-1", "edit-2", "edit-3", "edit-4", "edit-5", "edit-6"]
REMOTES = [
    "198.51.100.2", "198.51.100.3", "203.0.113.77", "2001:db8:9::1", "2001:db8:9::2",
    "::ffff:198.51.100.4", "127.0.0.1",
]  # fmt: skip


def axfr(knot: Knot) -> set[tuple[str, str, str]]:
    """Every record of the zone but the SOA, as (owner, type, value); TXT values decoded."""
    zone = dns.zone.from_xfr(dns.query.xfr(knot.address, ZONE, port=knot.port, timeout=5))
    records = set()
    for name, node in zone.nodes.items():
        owner = name.derelativize(zone.origin).to_text(omit_final_dot=True)
        for rdataset in node.rdatasets:
            rdtype = dns.rdatatype.to_text(rdataset.rdtype)
            if rdtype == "SOA":
                continue
            for rdata in rdataset:
                if rdtype == "TXT":
                    value = b"".join(rdata.strings).decode("latin-1")
                else:
                    value = rdata.to_text()
                records.add((owner, rdtype, value))
    return records


class Request:
    """One random request, and what the generator itself knows it asked for."""

    def __init__(self, rng: random.Random) -> None:  # noqa: PLR0912 (one branch a case)
        self.path = "/nic/update"
        self.environ: dict[str, str | None] = {"REMOTE_ADDR": rng.choice(REMOTES)}
        if rng.random() < 0.9:  # many sources, so that abuse blocks only some
            self.environ["REMOTE_ADDR"] = rng.choice(
                [f"198.51.100.{rng.randrange(1, 255)}", f"2001:db8:{rng.randrange(4096):x}::7"]
            )
        self.user: str | None = None
        roll = rng.random()
        if roll < 0.45:
            self.user = "home"
        elif roll < 0.80:
            self.user = "other"
        if self.user:
            self.environ["authorization"] = basic(self.user, USERS[self.user])
        elif roll < 0.81:
            self.environ["authorization"] = basic(rng.choice(["home", "nobody"]), "wrong-pass")
        elif roll < 0.83:
            self.environ["authorization"] = rng.choice(["Basic !!", "Bearer x", "Basic"])
        elif roll < 0.84:
            self.environ["authorization"] = basic("home\n", "home-password\x00")
        elif roll < 0.97:
            self.path, self.user = f"/u/{TOKEN}", "token"
        elif roll < 0.98:
            self.path = f"/u/{TOKEN}x"
        elif roll < 0.99:
            self.path = rng.choice(["/", "/nic/update/", "/u/", "/u/a/b", "/admin"])
        if rng.random() < 0.01:
            self.environ["REQUEST_METHOD"] = rng.choice(["POST", "HEAD"])
        if rng.random() < 0.01:
            self.environ["HTTP_USER_AGENT"] = rng.choice(["", " ", None])
        params: list[tuple[str, str]] = []
        if rng.random() < 0.97:
            params.append(("hostname", rng.choice(HOSTNAMES)))
        for key, pool, share in (
            ("myip", IPV4, 0.6),
            ("myipv6", IPV6, 0.3),
            ("myip6", IPV6, 0.05),
            ("myipv4", IPV4, 0.05),
            ("ip6lanprefix", PREFIXES, 0.05),  # no host here has LAN machines
        ):
            if rng.random() < share:
                params.append((key, rng.choice(pool)))
        if rng.random() < 0.05:  # clear a family (or try to, where myip cannot)
            params.append((rng.choice(["myipv4", "myipv6", "myip6", "myip"]), "none"))
        if rng.random() < 0.2:
            params += [("txt", value) for value in rng.sample(TXT, rng.choice([1, 1, 2, 5]))]
        if rng.random() < 0.2:  # single values added and removed (a few with txt: badtxt)
            for _ in range(rng.choice([1, 1, 1, 2, 3, 5])):
                params.append((rng.choice(["addtxt", "addtxt", "deltxt"]), rng.choice(TXT_EDITS)))
        if rng.random() < 0.02:
            params.append((rng.choice(["system", "wildcard", "offline", "myip"]), "x"))
        rng.shuffle(params)
        if rng.random() < 0.05:  # unencoded, as some routers send it
            self.query = ";".join(f"{k}={v}" for k, v in params)
        else:
            self.query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params)
        # what any HTTP server makes of the query: the oracle's view of what was asked
        self.asked = parse_qs(self.query, keep_blank_values=True)

    def names(self) -> list[str]:
        if self.user == "token":
            return [HOME]
        return [
            n.strip() for v in self.asked.get("hostname", []) for n in v.split(",") if n.strip()
        ]

    def txt(self) -> set[str] | None:
        values = self.asked.get("txt")
        return None if values is None else set(values) - {""}

    def txt_edits(self) -> tuple[set[str], set[str]]:
        """The values the request asks to add and to remove."""
        return set(self.asked.get("addtxt", [])), set(self.asked.get("deltxt", []))

    def cleared(self) -> set[str]:
        """The record types the request asks to delete (`none`)."""
        families = {"myipv4": "A", "myipv6": "AAAA", "myip6": "AAAA"}
        return {
            rdtype
            for key, rdtype in families.items()
            for v in self.asked.get(key, [])
            if "none" in v.lower().replace(" ", "").split(",")
        }

    def sent_addresses(self) -> set[str]:
        """Every address the request could mean, normalized."""
        texts = [str(self.environ["REMOTE_ADDR"])]
        for key in ("myip", "myipv4", "myipv6", "myip6"):
            texts += [t.strip() for v in self.asked.get(key, []) for t in v.split(",")]
        found = set()
        for text in texts:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            found.add(str(address))
        return found


def explain(request: Request, status: str, body: str, model: dict[tuple[str, str], set[str]]):
    """Check one answer against the request, and apply what it says was set to `model`."""
    lines = body.splitlines()
    assert body.endswith("\n") and lines, body
    assert all(line.split(" ")[0] in CODES for line in lines), body
    if status.startswith("404"):
        assert lines == ["notfound"]
        return
    assert status in ("200 OK", "401 Unauthorized"), status
    if len(lines) == 1 and lines[0] in ("badauth", "abuse", "badagent", "numhost", "911"):
        return
    assert request.user is not None, (request.query, body)  # no answer per host without login
    names = request.names()
    if not names:
        assert lines == ["notfqdn"]
        return
    assert len(lines) == len(names), (request.query, body)
    for raw, line in zip(names, lines, strict=True):
        code, _, addresses = line.partition(" ")
        if code not in ("good", "nochg"):
            continue
        host = raw.lower().rstrip(".")
        assert OWNED.get(host) == request.user or request.user == "token", (raw, line)
        wanted: dict[tuple[str, str], set[str]] = {}
        for text in filter(None, addresses.split(",")):
            assert text in request.sent_addresses(), (request.query, line)
            rdtype = "A" if ipaddress.ip_address(text).version == 4 else "AAAA"
            wanted[(host, rdtype)] = {text}
        for rdtype in request.cleared():
            wanted[(host, rdtype)] = set()
        txt = request.txt()
        acme = (f"_acme-challenge.{host}", "TXT")
        if txt is not None:
            wanted[acme] = txt
        add, delete = request.txt_edits()
        if add or delete:
            assert txt is None and not add & delete, (request.query, line)
            wanted[acme] = (model.get(acme, set()) | add) - delete
            assert len(wanted[acme]) <= 4 or wanted[acme] <= model.get(acme, set()), line
        assert {rdtype for _, rdtype in wanted} <= TYPES[host], (request.query, line)
        changed = any(model.get(key, set()) != values for key, values in wanted.items())
        assert changed == (code == "good"), (request.query, line, wanted)
        for key, values in wanted.items():
            if values:
                model[key] = values
            else:
                model.pop(key, None)


def expected_zone(base: set[tuple[str, str, str]], model: dict[tuple[str, str], set[str]]):
    return base | {
        (name, rdtype, value) for (name, rdtype), values in model.items() for value in values
    }


def test_fuzzed_requests_change_only_what_the_answers_say(
    knot: Knot,
    make: Callable[..., DyndnsApp],  # noqa: F811 (the fixture imported above)
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dyndns_update")
    # A slow answer on a loaded machine is a 911 whose UPDATE Knot may still apply after
    # the timeout, which the oracle cannot see: time enough that it does not happen.
    app = make(knot, timeout=10.0)
    rng = random.Random(SEED)
    base = axfr(knot)
    model: dict[tuple[str, str], set[str]] = {}
    answers: dict[str, int] = {}
    for number in range(1, REQUESTS + 1):
        request = Request(rng)
        environ = dict(request.environ)
        authorization = environ.pop("authorization", None)
        status, _, body = wsgi_call(app, request.path, request.query, authorization, **environ)
        explain(request, status, body, model)
        for line in body.splitlines():
            answers[line.split(" ")[0]] = answers.get(line.split(" ")[0], 0) + 1
        if number % BATCH == 0:
            assert axfr(knot) == expected_zone(base, model), f"after request {number}"
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert "error=unexpected" not in log
    for secret in ("home-password", "other-password", TOKEN, "token-a", "wrong-pass"):
        assert secret not in log
    assert "évil" not in log and "myip=" not in log
    # the run reached every kind of answer it should, so the oracle had something to check
    assert {"good", "nochg", "badauth", "notfqdn", "nohost", "badip", "badtxt"} <= set(answers)
    assert answers["good"] > 500
    assert "txt=add" in log and "txt=remove" in log
    assert "edit-1" not in log


def test_concurrent_requests_for_one_host_end_with_one_requests_set(
    knot: Knot,
    make: Callable[..., DyndnsApp],  # noqa: F811 (the fixture imported above)
) -> None:
    """Two address pairs asked for at once, again and again: never an A of one and the
    AAAA of the other, though each request finds one family already as it wants it."""
    apps = [make(knot, timeout=10.0), make(knot, timeout=10.0)]  # two processes: no lock in common
    pairs = [("203.0.113.1", "2001:db8::1"), ("203.0.113.2", "2001:db8::2")]
    auth = basic("home", USERS["home"])
    for _ in range(10):
        barrier = threading.Barrier(40)
        answers: list[str] = []

        def send(
            i: int, barrier: threading.Barrier = barrier, answers: list[str] = answers
        ) -> None:
            query = f"hostname={HOME}&myip={','.join(pairs[i % 2])}"
            barrier.wait()
            answers.append(call(apps[i // 2 % 2], "/nic/update", query, authorization=auth)[1])

        threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(a.startswith(("good ", "nochg ")) for a in answers), answers
        (a,) = knot.records(HOME, "A")
        (aaaa,) = knot.records(HOME, "AAAA")
        assert (a, aaaa) in pairs


def test_concurrent_txt_additions_all_end_up_in_the_set(
    knot: Knot,
    make: Callable[..., DyndnsApp],  # noqa: F811 (the fixture imported above)
) -> None:
    """certbot for a name and its wildcard, twice over, from two processes: four values added
    at once each end up in the set, and each removal takes only its own value."""
    # two processes' worth: no lock in common; a timeout for a busy machine, whose 911
    # would not tell whether the UPDATE was applied
    apps = [make(knot, timeout=10.0), make(knot, timeout=10.0)]
    auth = basic("home", USERS["home"])
    acme = f"_acme-challenge.{HOME}"
    values = [f"value-{i}" for i in range(4)]

    def burst(parameter: str) -> list[str]:
        barrier = threading.Barrier(len(values))
        answers: list[str] = []

        def send(i: int) -> None:
            query = f"hostname={HOME}&{parameter}={values[i]}"
            barrier.wait()
            answers.append(call(apps[i % 2], "/nic/update", query, authorization=auth)[1])

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(values))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return answers

    for _ in range(10):
        assert burst("addtxt") == ["good\n"] * len(values)
        assert knot.records(acme, "TXT") == {f'"{v}"' for v in values}
        assert burst("deltxt") == ["good\n"] * len(values)
        assert knot.records(acme, "TXT") == set()
