"""A real knotd on a loopback port, serving dyn.example.test with an update ACL like production."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from knot_support import ZONE, Knot, generate_key

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KEYMGR = shutil.which("keymgr") or "/usr/sbin/keymgr"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "update_types(*types): record types the test knotd's ACL lets the key update"
    )


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


@pytest.fixture(scope="session")
def keys() -> dict[str, str]:
    """knsupdate-format key lines: the update key, and one the ACL does not allow."""
    if not Path(KEYMGR).exists():
        pytest.skip("keymgr (Debian package knot) is not installed")
    return {name: generate_key(KEYMGR, name) for name in ("dyndns-update", "other-key")}


ZONE_FILE = f"""\
$ORIGIN {ZONE}.
$TTL 30
@       SOA ns1 hostmaster 1 3600 900 604800 30
@       NS  ns1
ns1     A   192.0.2.53
static  A   192.0.2.10
"""


# The names the update key may change, as the knot role confines it: the test hosts,
# and the aliases, wildcard and LAN machines of home in test_lan_integration.py.
OWNERS = [f"{pre}{host}" for host in ("home", "nas", "other") for pre in ("", "_acme-challenge.")]
OWNERS += ["www.home", '"*.home"', "nas.home", "printer"]


def knot_conf(base: Path, port: int, keys: dict[str, str], update_types: list[str]) -> str:
    key_entries = "".join(
        f"  - id: {line.split(':')[1]}\n"
        f"    algorithm: {line.split(':')[0]}\n"
        f"    secret: {line.split(':')[2]}\n"
        for line in keys.values()
    )
    return f"""\
server:
    rundir: "{base}/run"
    listen: 127.0.0.1@{port}

control:
    listen: "{base}/run/knot.sock"

log:
  - target: stderr
    any: info

key:
{key_entries}
database:
    storage: "{base}/db"

acl:
  - id: dyndns-update
    address: [127.0.0.0/8, ::1]
    key: dyndns-update
    action: update
    update-type: [{", ".join(update_types)}]
    update-owner: name
    update-owner-match: equal
    update-owner-name: [{", ".join(OWNERS)}]
  - id: transfer-for-tests
    address: [127.0.0.0/8]
    action: transfer

template:
  - id: default
    storage: "{base}/zones"
    file: "%s.zone"
    journal-content: all
    zonefile-sync: 0
    zonefile-load: difference-no-serial

zone:
  - domain: {ZONE}.
    acl: [dyndns-update, transfer-for-tests]
"""


@pytest.fixture
def knot(request: pytest.FixtureRequest, tmp_path: Path, keys: dict[str, str]) -> Iterator[Knot]:
    """A knotd of its own for each test, so no test sees another's records."""
    if not Path(KNOTD).exists():
        pytest.skip("knotd (Debian package knot) is not installed")
    marker = request.node.get_closest_marker("update_types")
    update_types = list(marker.args) if marker else ["A", "AAAA", "TXT"]
    base = tmp_path / "knot"
    for sub in ("run", "db", "zones"):
        (base / sub).mkdir(parents=True)
    (base / "zones" / f"{ZONE}.zone").write_text(ZONE_FILE)
    port = free_port()
    conf = base / "knot.conf"
    conf.write_text(knot_conf(base, port, keys, update_types))
    log = (base / "knotd.log").open("wb")
    process = subprocess.Popen([KNOTD, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    server = Knot(port=port, process=process, log_path=base / "knotd.log")
    try:
        deadline = time.monotonic() + 15
        while not server.ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"knotd did not start:\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        server.stop()
        log.close()
