"""Backup and restore onto a new server (the backup role, playbooks/backup.yml, restore.yml).

Runs when DYNDNS_RESTORE_ONTO names a Debian release (make test: in the Debian 12 run, onto
13, the move to a new VM with the next release): the server is backed up to the controller,
encrypted with age; its container is removed and made again, empty, from that release's image,
with the same addresses; the restore makes it the server it was. This module runs first
(pytest takes the files in order): every test after it runs against the restored server, so
passwords, secret URLs, transfers to the secondaries and the DNSSEC chain are proven there.
"""

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.query
import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from playbook import run_playbook

ONTO = os.environ.get("DYNDNS_RESTORE_ONTO")
pytestmark = pytest.mark.skipif(not ONTO, reason="DYNDNS_RESTORE_ONTO names no release")

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
SERVER = testinfra.get_host("docker://dyndns-server")
HOME = testinfra.get_host("docker://home")
ANSIBLE = testinfra.get_host(f"ansible://dyndns-server?ansible_inventory={INVENTORY}")
PREPARE = Path(__file__).resolve().parents[1] / "prepare.yml"
BACKUP = "selfhosted.dyndns.backup"
RESTORE = "selfhosted.dyndns.restore"
# What Knot signs and counts, which a restore makes anew: all else must come back as it was.
REMADE = {"SOA", "RRSIG", "NSEC3", "NSEC3PARAM", "NSEC"}


def setting(name):
    return ANSIBLE.ansible("ansible.builtin.debug", f"var={name}", check=False)[name]


@pytest.fixture(scope="module")
def zone():
    return setting("dyndns_zone")


@pytest.fixture(scope="module")
def primary():
    found = setting("dyndns_primary")
    return found if isinstance(found, dict) else setting("dyndns_nameservers")[0]


@pytest.fixture(scope="module")
def backups(tmp_path_factory):
    return tmp_path_factory.mktemp("backups")


@pytest.fixture(scope="module")
def age_key(tmp_path_factory):
    """An age key pair, made where the operator would make it (here: the home container)."""
    made = HOME.check_output("age-keygen 2>/dev/null")
    identity = tmp_path_factory.mktemp("age") / "identity.txt"
    identity.write_text(made + "\n")
    identity.chmod(0o600)
    return re.search(r"public key: (age1[0-9a-z]{58})", made).group(1), identity


def records(zone):
    """The zone as Knot serves it, without what signing and the serial make anew."""
    lines = SERVER.check_output(f"knotc zone-read {zone}").splitlines()
    return sorted(line for line in lines if line.split()[3] not in REMADE)


def dnskeys(server, zone):
    answer = dns.query.udp(dns.message.make_query(zone, "DNSKEY"), server, timeout=3)
    return sorted(rr.to_text() for rrset in answer.answer for rr in rrset if rrset.rdtype == 48)


def serial(server, zone):
    answer = dns.query.udp(dns.message.make_query(zone, "SOA"), server, timeout=3)
    return answer.answer[0][0].serial


def remake_server_container():
    """The server's container removed and made again from the ONTO release's image, as
    Molecule made it (same network, addresses and options), then prepared as before."""
    networks = json.loads(
        subprocess.check_output(
            ["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", "dyndns-server"]
        )
    )
    (network, config), *_ = networks.items()
    ipam = config["IPAMConfig"]
    subprocess.run(["docker", "rm", "-f", "dyndns-server"], check=True, capture_output=True)
    subprocess.run(
        [
            *("docker", "run", "-d", "--name", "dyndns-server", "--hostname", "dyndns-server"),
            *("--network", network, "--ip", ipam["IPv4Address"], "--ip6", ipam["IPv6Address"]),
            *("--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined"),
            *("--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"),
            *("--tmpfs", "/run", "--tmpfs", "/run/lock"),
            *(f"selfhosted-dyndns/debian:{ONTO}", "/lib/systemd/systemd"),
        ],
        check=True,
        capture_output=True,
    )
    result = run_playbook(PREPARE, "dyndns-server")
    assert result.returncode == 0, result.output


@pytest.fixture(scope="module")
def before(zone, primary):
    """What the server holds before the backup."""
    return {
        "records": records(zone),
        "dnskeys": dnskeys(primary["ipv4"], zone),
        "serial": serial(primary["ipv4"], zone),
        "keys": SERVER.check_output("sha256sum /etc/knot/*.key.conf"),
        "credentials": SERVER.check_output("sha256sum /etc/dyndns-update/credentials.json"),
    }


def test_the_timer_backs_up_and_keeps_it_root_only():
    assert SERVER.service("dyndns-backup.timer").is_enabled
    assert SERVER.service("dyndns-backup.timer").is_running
    assert SERVER.run("systemctl start dyndns-backup.service").rc == 0
    folder = SERVER.file("/var/backups/dyndns")
    assert (folder.user, folder.mode) == ("root", 0o700)
    made = SERVER.check_output("ls /var/backups/dyndns/").split()
    pattern = r"dyndns-backup-dyndns-server-\d{8}T\d{6}Z\.tar\.gz"
    assert made and all(re.fullmatch(pattern, f) for f in made)
    listing = SERVER.check_output(f"tar -tzf /var/backups/dyndns/{made[-1]}")
    assert "manifest.json" in listing.split() and "knot/knot_backup.label" in listing
    assert SERVER.file(f"/var/backups/dyndns/{made[-1]}").mode == 0o600


def test_backup_reaches_the_controller_encrypted(before, backups, age_key):
    public, _ = age_key
    result = run_playbook(
        BACKUP,
        "dyndns-server",
        {"backup_controller_dir": str(backups), "backup_age_recipients": [public]},
    )
    assert result.returncode == 0, result.output
    (copy,) = backups.iterdir()
    assert copy.name.endswith(".tar.gz.age")
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert copy.read_bytes().startswith(b"age-encryption.org/v1")
    assert "encrypted for 1 age recipient" in result.output


def test_restore_onto_a_new_server_of_the_next_release(zone, primary, before, backups, age_key):
    _, identity = age_key
    remake_server_container()
    assert SERVER.check_output("cat /etc/debian_version").startswith(ONTO)
    assert not SERVER.exists("knotd")
    result = run_playbook(
        RESTORE,
        "dyndns-server",
        {"backup_controller_dir": str(backups), "backup_age_identity_file": str(identity)},
    )
    assert result.returncode == 0, result.output
    assert "restored from" in result.output
    # Same records, signed by the same keys (the DS at the parent stays valid), with a newer
    # serial that the secondaries have transferred.
    assert records(zone) == before["records"]
    assert dnskeys(primary["ipv4"], zone) == before["dnskeys"]
    now = serial(primary["ipv4"], zone)
    assert 0 < (now - before["serial"]) % 2**32 < 2**31
    for server in setting("dyndns_nameservers"):
        start = time.monotonic()
        while serial(server["ipv4"], zone) != now:
            assert time.monotonic() - start < 10, f"{server['name']} did not transfer {now}"
            time.sleep(0.2)
    assert SERVER.check_output("sha256sum /etc/knot/*.key.conf") == before["keys"]
    credentials = SERVER.check_output("sha256sum /etc/dyndns-update/credentials.json")
    assert credentials == before["credentials"]
    assert not SERVER.file("/var/backups/dyndns/restore").exists


def test_restore_over_newer_data_refuses_and_changes_nothing(zone, primary, backups, age_key):
    _, identity = age_key
    served = serial(primary["ipv4"], zone), records(zone)
    result = run_playbook(
        RESTORE,
        "dyndns-server",
        {"backup_controller_dir": str(backups), "backup_age_identity_file": str(identity)},
    )
    assert result.returncode != 0
    assert "serves newer data than the backup" in result.output
    assert "Nothing was changed" in result.output
    assert (serial(primary["ipv4"], zone), records(zone)) == served
    assert not SERVER.file("/var/backups/dyndns/restore").exists
