"""The knot role, proved with real DNS messages.

Queries and the non-loopback update go from the controller to the container's
public address; loopback updates run knsupdate inside the container.
"""

import base64
import configparser
import os
import re
import shlex
import socket
import struct
import sys
import time
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import dns.xfr
import dns.zone
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from playbook import run_playbook

KEY_NAME = "dyndns-update"
KEY_FILE = f"/etc/knot/{KEY_NAME}.key.conf"
PLAYBOOK = Path(__file__).resolve().parents[1] / "converge.yml"


@pytest.fixture
def zone(host):
    return host.ansible.get_variables()["dyndns_zone"]


@pytest.fixture
def address(host):
    return host.ansible.get_variables()["dyndns_nameservers"][0]["ipv4"]


def secret(host):
    content = host.file(KEY_FILE).content_string
    return re.search(r"^\s*secret:\s*(\S+)\s*$", content, re.M).group(1)


def query(address, name, rdtype):
    return dns.query.udp(dns.message.make_query(name, rdtype), address, timeout=3)


def values(address, name, rdtype):
    answer = query(address, name, rdtype)
    return sorted(rr.to_text() for rrset in answer.answer for rr in rrset)


def knsupdate(host, zone, commands, signed=True):
    """Send one update from inside the container, over loopback."""
    lines = ["server 127.0.0.1 5353", f"zone {zone}."]
    if signed:
        lines.append(f"key hmac-sha512:{KEY_NAME} {secret(host)}")
    script = "\n".join([*lines, *commands, "send", ""])
    return host.run("printf '%%s' %s | knsupdate", script)


def send_tcp_unverified(message, address):
    """Send over TCP and parse the answer without checking its TSIG: Knot does not
    sign a refusal, which dns.query.tcp would report as a malformed answer."""
    wire = message.to_wire()
    with socket.create_connection((address, 53), timeout=5) as sock:
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        reader = sock.makefile("rb")
        (length,) = struct.unpack("!H", reader.read(2))
        return dns.message.from_wire(reader.read(length), keyring=False)


def wait_for_answer(address, zone, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if query(address, zone, "SOA").rcode() == dns.rcode.NOERROR:
                return
        except (dns.exception.Timeout, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"Knot does not answer on {address} after {seconds} s")
        time.sleep(0.5)


def test_knot_is_active_and_enabled(host):
    knot = host.service("knot")
    assert knot.is_running
    assert knot.is_enabled


def test_key_file_is_root_and_knot_only(host):
    key = host.file(KEY_FILE)
    assert key.user == "root"
    assert key.group == "knot"
    assert key.mode == 0o640
    assert "algorithm: hmac-sha512" in key.content_string


def test_soa_and_ns_answered_authoritatively(host, zone, address):
    for rdtype in ("SOA", "NS"):
        answer = query(address, zone, rdtype)
        assert answer.rcode() == dns.rcode.NOERROR
        assert answer.flags & dns.flags.AA, f"{rdtype} answer lacks the AA flag"
        assert answer.answer, f"no {rdtype} record"
    ns = host.ansible.get_variables()["dyndns_nameservers"]
    assert values(address, zone, "NS") == sorted(f"{n['name']}." for n in ns)
    assert values(address, ns[0]["name"], "A") == [ns[0]["ipv4"]]


def test_knot_counts_queries_per_zone_and_debian_13_exports_them_on_loopback(host, zone, address):
    """knot_metrics is on for both: mod-stats everywhere, knot-exporter where Debian has it."""
    query(address, zone, "SOA")
    stats = host.check_output(f"knotc zone-stats {zone}")
    assert re.search(r"mod-stats\.response-code\[NOERROR\] = [1-9]", stats), stats
    unit = host.file("/etc/systemd/system/knot-exporter.service")
    if host.system_info.codename == "bookworm":  # no knot-exporter package
        assert not unit.exists
        return
    assert host.service("knot-exporter").is_running
    get = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9433/metrics').read().decode())"
    for _ in range(20):  # the exporter binds a moment after its start
        result = host.run(f"python3 -c {shlex.quote(get)}")
        if result.rc == 0:
            break
        time.sleep(0.5)
    assert result.rc == 0, result.stderr
    counted = [line for line in result.stdout.splitlines() if zone in line and "udp4" in line]
    assert counted, result.stdout[-2000:]
    # Listening (state 0A) on 127.0.0.1:9433 only: /proc/net/tcp, hexadecimal, no tool needed.
    sockets = host.file("/proc/net/tcp").content_string.splitlines()[1:]
    bound = {line.split()[1] for line in sockets if line.split()[1].endswith(":24D9")}
    assert bound == {"0100007F:24D9"}, bound


def test_dnssec_signs_only_when_asked_and_writes_the_ds(host, zone, address):
    signed = host.ansible.get_variables().get("knot_dnssec", False)
    request = dns.message.make_query(zone, "DNSKEY", want_dnssec=True)
    keys = dns.query.udp(request, address, timeout=3)
    assert bool(keys.answer) == signed
    if not signed:
        return
    dnskeys = keys.find_rrset(keys.answer, dns.name.from_text(zone), "IN", "DNSKEY")
    sigs = keys.find_rrset(keys.answer, dns.name.from_text(zone), "IN", "RRSIG", "DNSKEY")
    dns.dnssec.validate(dnskeys, sigs, {dns.name.from_text(zone): dnskeys})
    ksk = [key for key in dnskeys if key.flags == 257]
    ds_file = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "dnssec", f"{zone}.ds")
    written = ds_file.read_text().split()
    assert written[0] == f"{zone}." and written[1] == "DS"
    expected = dns.dnssec.make_ds(f"{zone}.", ksk[0], "SHA256").to_text().split()
    assert [w.lower() for w in written[2:]] == [e.lower() for e in expected]


def test_unknown_name_is_nxdomain(zone, address):
    answer = query(address, f"no-such-name.{zone}", "A")
    assert answer.rcode() == dns.rcode.NXDOMAIN
    assert answer.flags & dns.flags.AA


def test_signed_update_sets_a_aaaa_and_txt(host, zone, address):
    name = f"home.{zone}."
    result = knsupdate(
        host,
        zone,
        [
            f"update delete {name} A",
            f"update add {name} 60 A 192.0.2.44",
            f"update add {name} 60 AAAA 2001:db8::44",
            f'update add {name} 60 TXT "hello from the test"',
        ],
    )
    assert result.rc == 0, result.stderr
    assert values(address, name, "A") == ["192.0.2.44"]
    assert values(address, name, "AAAA") == ["2001:db8::44"]
    assert values(address, name, "TXT") == ['"hello from the test"']


def test_signed_update_sets_every_name_of_a_host_at_once(host, zone, address):
    """home's alias, wildcard and LAN machine share its ACL rule: one UPDATE sets them all."""
    names = {f"www.home.{zone}.": "A", f"*.home.{zone}.": "A", f"nas.home.{zone}.": "AAAA"}
    value = {"A": "192.0.2.45", "AAAA": "2001:db8::45"}
    lines = [f"update add {name} 60 {rdtype} {value[rdtype]}" for name, rdtype in names.items()]
    result = knsupdate(host, zone, lines)
    assert result.rc == 0, result.stderr
    for name, rdtype in names.items():
        assert values(address, name, rdtype) == [value[rdtype]]
    assert values(address, f"any.home.{zone}.", "A") == ["192.0.2.45"]  # the wildcard answers


@pytest.mark.parametrize(
    "record",
    ["{zone}. 60 NS ns.attacker.example.", "{zone}. 60 SOA ns.attacker.example. x. 1 2 3 4 5"],
)
def test_key_cannot_change_ns_or_soa(host, zone, address, record):
    """Refused by the ACL's update-type; Knot answers NOTAUTH."""
    before = {t: values(address, zone, t) for t in ("NS", "SOA")}
    result = knsupdate(host, zone, [f"update add {record.format(zone=zone)}"])
    assert result.rc != 0
    after = {t: values(address, zone, t) for t in ("NS", "SOA")}
    assert after == before
    assert "attacker" not in str(after)


@pytest.mark.parametrize(
    "record",
    [
        "ns1.{zone}. 60 A 192.0.2.66",  # the glue of an in-zone name server
        "{zone}. 60 A 192.0.2.66",  # the apex
        '{zone}. 60 TXT "apex"',
        '_acme-challenge.{zone}. 60 TXT "apex"',
        "new-name.{zone}. 60 A 192.0.2.66",  # a name no host has
        "*.{zone}. 60 A 192.0.2.66",
        "sub.home.{zone}. 60 A 192.0.2.66",  # below a host: its wildcard is a name, no pattern
        "sub.nas.home.{zone}. 60 A 192.0.2.66",  # below a LAN machine
        "*.www.home.{zone}. 60 A 192.0.2.66",  # no wildcard below an alias
        "_acme-challenge.other.{zone}. 60 A 192.0.2.66",  # a host that is not configured
    ],
)
def test_key_changes_only_the_hosts_names(host, zone, address, record):
    """Knot's own ACL (update-owner-name), not the app: signed, from loopback, refused.

    Knot 3.2 answers NOTAUTH with the TSIG error BADKEY (knsupdate shows BADKEY), 3.4 NOTAUTH."""
    assert_refused(knsupdate, host, zone, address, record)


def assert_refused(send, host, zone, address, record):
    """SEND (a knsupdate) adds RECORD: refused, and the record is as it was."""
    owner, _, rdtype = record.format(zone=zone).split()[:3]
    before = values(address, owner, rdtype)
    result = send(host, zone, [f"update add {record.format(zone=zone)}"])
    assert result.rc != 0
    assert re.search(r"status: (NOTAUTH|REFUSED|BADKEY)", result.stdout), result.stdout
    assert values(address, owner, rdtype) == before


def test_unsigned_update_is_refused(host, zone, address):
    name = f"unsigned.{zone}."
    result = knsupdate(host, zone, [f"update add {name} 60 A 192.0.2.66"], signed=False)
    assert result.rc != 0
    assert re.search(r"status: (NOTAUTH|REFUSED)", result.stdout)
    assert query(address, name, "A").rcode() == dns.rcode.NXDOMAIN


def test_signed_update_from_outside_loopback_is_refused(host, zone, address):
    """Signed with the right key, but sent from the controller to the public address."""
    name = f"from-outside.{zone}."
    keyring = dns.tsigkeyring.from_text({KEY_NAME: (dns.tsig.HMAC_SHA512, secret(host))})
    update = dns.update.UpdateMessage(
        f"{zone}.", keyring=keyring, keyalgorithm=dns.tsig.HMAC_SHA512
    )
    update.add(name, 60, "A", "192.0.2.77")
    response = send_tcp_unverified(update, address)
    assert response.rcode() in (dns.rcode.NOTAUTH, dns.rcode.REFUSED)
    assert query(address, name, "A").rcode() == dns.rcode.NXDOMAIN


HOST_KEY = "dyndns-host-box"


def settings_dir(host, zone):
    """The host key's settings on the controller (knot_host_key_settings_dir/<host>.<zone>), as
    molecule.yml sets the directory: host-keys-debian12, host-keys-debian13."""
    server = host.backend.host.removeprefix("knot-")
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], f"host-keys-{server}", f"box.{zone}")


def box_key(host, zone):
    """(algorithm, name, secret) from the knsupdate key file written for box."""
    return tuple((settings_dir(host, zone) / "knsupdate.key").read_text().strip().split(":"))


def certbot_settings(host, zone):
    ini = configparser.ConfigParser()
    ini.read_string("[certbot]\n" + (settings_dir(host, zone) / "certbot-rfc2136.ini").read_text())
    return ini["certbot"]


def box_knsupdate(host, zone, commands, key_line=None):
    """One update signed with box's own key, sent from inside the container to the server and
    port its settings name, with its knsupdate key file (knsupdate -k)."""
    conf = certbot_settings(host, zone)
    key_line = key_line or (settings_dir(host, zone) / "knsupdate.key").read_text().strip()
    assert host.run("umask 077 && printf '%%s\\n' %s > /root/box.key", key_line).rc == 0
    lines = [f"server {conf['dns_rfc2136_server']} {conf['dns_rfc2136_port']}", f"zone {zone}."]
    script = "\n".join([*lines, *commands, "send", ""])
    return host.run("printf '%%s' %s | knsupdate -k /root/box.key", script)


def test_host_key_settings_are_written_for_the_operator_only(host, zone):
    directory = settings_dir(host, zone)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert directory.parent.stat().st_mode & 0o777 == 0o700
    algorithm, name, secret = box_key(host, zone)
    assert (algorithm, name) == ("hmac-sha256", HOST_KEY)
    files = {path.name: path for path in directory.iterdir()}
    assert set(files) == {
        "certbot-rfc2136.ini",
        "lego.env",
        "acme.sh.env",
        "nsupdate.key",
        "knsupdate.key",
        "cert-manager.yaml",
    }
    for path in files.values():
        assert path.stat().st_mode & 0o777 == 0o600, path
        assert (secret in path.read_text()) == (path.name != "acme.sh.env"), path  # it names a file

    address, port = ("127.0.0.1", "5353")
    if host.ansible.get_variables().get("knot_host_key_networks"):  # public on Debian 13
        address, port = host.ansible.get_variables()["dyndns_nameservers"][0]["ipv4"], "53"
    conf = certbot_settings(host, zone)
    assert dict(conf) == {
        "dns_rfc2136_server": address,
        "dns_rfc2136_port": port,
        "dns_rfc2136_name": HOST_KEY,
        "dns_rfc2136_secret": secret,
        "dns_rfc2136_algorithm": "HMAC-SHA256",
    }
    lego = dict(
        line.split("=", 1)
        for line in (directory / "lego.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert lego == {
        "RFC2136_NAMESERVER": f"{address}:{port}",
        "RFC2136_TSIG_KEY": HOST_KEY,
        "RFC2136_TSIG_SECRET": secret,
        "RFC2136_TSIG_ALGORITHM": "hmac-sha256.",
    }
    acme_sh = (directory / "acme.sh.env").read_text()
    assert f'export NSUPDATE_SERVER="{address}"' in acme_sh
    assert f'export NSUPDATE_SERVER_PORT="{port}"' in acme_sh
    assert f'export NSUPDATE_KEY="{directory}/nsupdate.key"' in acme_sh
    assert f'export NSUPDATE_ZONE="{zone}"' in acme_sh
    bind = (directory / "nsupdate.key").read_text()
    assert f'key "{HOST_KEY}" {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};' in bind
    secret_doc, issuer = yaml.safe_load_all((directory / "cert-manager.yaml").read_text())
    assert secret_doc["stringData"] == {"tsig-secret": secret}
    solver = issuer["spec"]["acme"]["solvers"][0]
    assert solver["dns01"]["rfc2136"] == {
        "nameserver": f"{address}:{port}",
        "tsigKeyName": HOST_KEY,
        "tsigAlgorithm": "HMACSHA256",
        "tsigSecretSecretRef": {"name": secret_doc["metadata"]["name"], "key": "tsig-secret"},
    }
    assert solver["selector"]["dnsNames"] == [f"box.{zone}", f"*.box.{zone}"]


def test_host_key_sets_its_addresses_and_acme_txt(host, zone, address):
    name, acme = f"box.{zone}.", f"_acme-challenge.box.{zone}."
    for commands in (
        [f"update delete {name} A", f"update add {name} 60 A 192.0.2.88"],
        [f"update add {name} 60 AAAA 2001:db8::88"],
        [f'update add {acme} 60 TXT "dns-01 token"'],
    ):
        result = box_knsupdate(host, zone, commands)
        assert result.rc == 0, result.stdout + result.stderr
    assert values(address, name, "A") == ["192.0.2.88"]
    assert values(address, name, "AAAA") == ["2001:db8::88"]
    assert values(address, acme, "TXT") == ['"dns-01 token"']
    result = box_knsupdate(host, zone, [f"update delete {acme} TXT"])
    assert result.rc == 0, result.stdout + result.stderr
    assert values(address, acme, "TXT") == []


@pytest.mark.parametrize(
    "record",
    [
        "{zone}. 60 SOA ns.attacker.example. x. 1 2 3 4 5",
        "{zone}. 60 NS ns.attacker.example.",
        "{zone}. 60 A 192.0.2.99",  # the apex
        "ns1.{zone}. 60 A 192.0.2.99",  # the glue of an in-zone name server
        "home.{zone}. 60 A 192.0.2.99",  # another host
        '_acme-challenge.home.{zone}. 60 TXT "not yours"',  # another host's DNS-01 name
        "www.home.{zone}. 60 A 192.0.2.99",  # another host's alias
        "new-name.{zone}. 60 A 192.0.2.99",
        "*.{zone}. 60 A 192.0.2.99",
        "sub.box.{zone}. 60 A 192.0.2.99",  # below the host
        '_acme-challenge.{zone}. 60 TXT "apex"',
        'box.{zone}. 60 TXT "not at the name itself"',
        "_acme-challenge.box.{zone}. 60 A 192.0.2.99",  # TXT only there
        "box.{zone}. 60 MX 10 mail.example.",  # a type it lacks
    ],
)
def test_host_key_changes_only_its_own_names(host, zone, address, record):
    """Signed with box's key at the address its settings name: Knot's ACL refuses the rest."""
    assert_refused(box_knsupdate, host, zone, address, record)


def test_signed_soa_query_with_the_host_key_is_answered(host, zone):
    """certbot's dns-rfc2136 first asks for the SOA, signed with the key (kdig -k)."""
    conf = certbot_settings(host, zone)
    key_line = (settings_dir(host, zone) / "knsupdate.key").read_text().strip()
    assert host.run("umask 077 && printf '%%s\\n' %s > /root/box.key", key_line).rc == 0
    server, port = conf["dns_rfc2136_server"], conf["dns_rfc2136_port"]
    out = host.check_output(f"kdig -k /root/box.key @{server} -p {port} +tcp {zone}. SOA")
    assert "status: NOERROR" in out, out
    assert re.search(r"(?i)flags: qr aa", out), out
    assert re.search(rf"ANSWER SECTION:\s*{re.escape(zone)}\.\s+\d+\s+IN\s+SOA", out), out
    assert "TSIG PSEUDOSECTION" in out and "fail" not in out.lower(), out


def test_host_key_from_outside_only_from_its_networks(host, zone, address):
    """From the controller to the public address: accepted where knot_host_key_networks lists
    the scenario's network (Debian 13), refused with the loopback default (Debian 12)."""
    algorithm, name, key_secret = box_key(host, zone)
    keyring = dns.tsigkeyring.from_text({name: (algorithm, key_secret)})
    update = dns.update.UpdateMessage(f"{zone}.", keyring=keyring, keyalgorithm=algorithm)
    update.replace(f"box.{zone}.", 60, "A", "192.0.2.111")
    response = send_tcp_unverified(update, address)
    public = "172.30.54.0/24" in host.ansible.get_variables().get("knot_host_key_networks", [])
    if public:
        assert response.rcode() == dns.rcode.NOERROR
        assert values(address, f"box.{zone}.", "A") == ["192.0.2.111"]
    else:
        assert response.rcode() in (dns.rcode.NOTAUTH, dns.rcode.REFUSED)
        assert values(address, f"box.{zone}.", "A") != ["192.0.2.111"]


def test_records_survive_second_converge_and_restart(host, zone, address):
    """before-converge.* was set by the side effect, before the idempotence converge."""
    name = f"before-converge.{zone}."
    expected = {
        "A": ["198.51.100.10"],
        "AAAA": ["2001:db8::10"],
        "TXT": ['"set before the second converge"'],
    }
    for rdtype, value in expected.items():
        assert values(address, name, rdtype) == value
    serial = values(address, zone, "SOA")

    assert host.run("systemctl restart knot").rc == 0
    wait_for_answer(address, zone)

    for rdtype, value in expected.items():
        assert values(address, name, rdtype) == value
    assert values(address, zone, "SOA") == serial
    assert host.file(f"/var/lib/knot/{zone}.zone").contains("before-converge")


def converge(host, *extra_vars):
    """Run the scenario's converge playbook against this host alone."""
    return run_playbook(PLAYBOOK, host.backend.host, *extra_vars)


def config_state(host):
    return host.check_output("sha256sum /etc/knot/knot.conf /var/lib/knot/*.zone")


# A primary's own entry, for the settings below that add a secondary service.
NS1 = {"name": "ns1.dyn.example.test", "ipv4": "192.0.2.1"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"knot_zones": [{"name": "not a zone!"}]}, "domain name without a trailing dot"),
        ({"knot_update_address": "0.0.0.0"}, "must be a loopback address"),
        ({"knot_nameservers": [{"name": "ns9.dyn.example.test"}]}, "missing for ['ns9."),
        ({"knot_update_types": ["NS"]}, "knot_update_types"),
        ({"dyndns_hosts": [{"name": "ns1"}]}, "renaming ['ns1.dyn.example.test'] is needed"),
        ({"dyndns_hosts": [{"name": "home", "types": []}]}, "are one or more of"),
        (
            {"dyndns_nameservers": [{"name": "ns.service.example", "external": True}]},
            "is needed when the first name server is external",
        ),
        (
            {"dyndns_nameservers": [NS1, {"name": "ns.service.example", "external": True}]},
            "need transfer_addresses",
        ),
        (
            {
                "dyndns_nameservers": [
                    NS1,
                    {
                        "name": "ns.service.example",
                        "ipv4": "192.0.2.53",
                        "external": True,
                        "tsig_key": {"name": "s", "algorithm": "hmac-sha256", "secret": "no!"},
                    },
                ]
            },
            "a base64 'secret'",
        ),
        ({"dyndns_primary": {"name": "hidden.example"}}, "needs a 'name'"),
    ],
)
def test_bad_settings_fail_clearly_and_change_nothing(host, extra, message):
    before = config_state(host)
    result = converge(host, extra)
    assert result.returncode != 0
    assert message in result.output
    assert config_state(host) == before


def test_listen_change_restarts_knot(host, zone, address):
    """A new listen port needs a restart (a reload cannot bind); then back to port 53."""
    pid = host.service("knot").systemd_properties["MainPID"]
    result = converge(host, {"knot_port": 1053})
    assert result.returncode == 0, result.output
    moved = dns.query.udp(dns.message.make_query(zone, "SOA"), address, port=1053, timeout=3)
    assert moved.flags & dns.flags.AA
    assert host.service("knot").systemd_properties["MainPID"] != pid

    result = converge(host)
    assert result.returncode == 0, result.output
    wait_for_answer(address, zone)


def test_rotating_a_host_key_replaces_its_secret(host, zone):
    old = (settings_dir(host, zone) / "knsupdate.key").read_text().strip()
    result = converge(host, {"knot_rotate_host_keys": ["box"]})
    assert result.returncode == 0, result.output
    new = (settings_dir(host, zone) / "knsupdate.key").read_text().strip()
    assert new.split(":")[:2] == old.split(":")[:2]
    assert new != old
    assert old.split(":")[2] not in result.output and new.split(":")[2] not in result.output
    assert new.split(":")[2] in host.file(f"/etc/knot/{HOST_KEY}.key.conf").content_string
    command = [f"update add box.{zone}. 60 A 192.0.2.121"]
    refused = box_knsupdate(host, zone, command, key_line=old)
    assert refused.rc != 0
    assert re.search(r"NOTAUTH|REFUSED|BADKEY|BADSIG", refused.stdout + refused.stderr)
    accepted = box_knsupdate(host, zone, command)
    assert accepted.rc == 0, accepted.stdout + accepted.stderr


def test_a_host_without_its_key_loses_file_acl_and_settings(host, zone):
    hosts = [h for h in host.ansible.get_variables()["dyndns_hosts"] if h["name"] != "box"]
    result = converge(host, {"dyndns_hosts": hosts})
    assert result.returncode == 0, result.output
    assert not host.file(f"/etc/knot/{HOST_KEY}.key.conf").exists
    assert HOST_KEY not in host.file("/etc/knot/knot.conf").content_string
    assert not settings_dir(host, zone).exists()

    result = converge(host)
    assert result.returncode == 0, result.output
    assert host.file(f"/etc/knot/{HOST_KEY}.key.conf").exists
    assert (settings_dir(host, zone) / "knsupdate.key").exists()


def soa_and_ns(address, zone):
    """(SOA primary, serial, sorted NS targets) as the server answers them."""
    soa = query(address, zone, "SOA").answer[0][0]
    return soa.mname.to_text(), soa.serial, values(address, zone, "NS")


def axfr(address, zone, key=None):
    """The zone by AXFR from the controller (the network's gateway), signed with KEY or not;
    the rcode of the refusal when refused."""
    if key is None:
        answer = send_tcp_unverified(dns.message.make_query(zone, "AXFR"), address)
        return dns.rcode.to_text(answer.rcode())
    keyring = dns.tsigkeyring.from_text({key["name"]: (key["algorithm"], key["secret"])})
    try:
        return dns.zone.from_xfr(dns.query.xfr(address, zone, keyring=keyring, keyname=key["name"]))
    except (dns.xfr.TransferError, dns.exception.DNSException) as error:
        return str(error)


def test_a_hidden_primary_feeds_a_secondary_service(host, zone, address):
    """The server leaves the NS set for a service (the controller's address plays it): the
    running zone's SOA names the hidden primary, its NS set is the service's, and only the
    service's key from its address transfers; back to the first layout after."""
    before = soa_and_ns(address, zone)
    key = {
        "name": "service-transfer",
        "algorithm": "hmac-sha256",
        "secret": base64.b64encode(os.urandom(32)).decode(),
    }
    service = {
        "name": "ns.service.example",
        "ipv4": "192.0.2.53",
        "external": True,
        "notify_addresses": ["192.0.2.53"],
        "transfer_addresses": ["172.30.54.1"],
        "tsig_key": key,
    }
    primary = {"name": "hidden.example", "ipv4": address}
    result = converge(host, {"dyndns_primary": primary, "dyndns_nameservers": [service]})
    assert result.returncode == 0, result.output
    assert key["secret"] not in result.output
    mname, serial, ns = soa_and_ns(address, zone)
    assert (mname, ns) == ("hidden.example.", ["ns.service.example."])
    assert serial > before[1]
    conf = host.file("/etc/knot/dyndns-external-keys.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "knot", 0o640)
    assert key["secret"] in conf.content_string
    assert key["secret"] not in host.file("/etc/knot/knot.conf").content_string

    transferred = axfr(address, zone, key)
    assert isinstance(transferred, dns.zone.Zone), transferred
    assert transferred.get_rdataset("@", "SOA")[0].mname.to_text() == "hidden.example."
    assert axfr(address, zone) in ("REFUSED", "NOTAUTH")
    other = {**key, "secret": base64.b64encode(os.urandom(32)).decode()}
    assert not isinstance(axfr(address, zone, other), dns.zone.Zone)

    result = converge(host)
    assert result.returncode == 0, result.output
    assert soa_and_ns(address, zone)[::2] == before[::2]
    assert not host.file("/etc/knot/dyndns-external-keys.conf").exists
    assert not isinstance(axfr(address, zone, key), dns.zone.Zone)
