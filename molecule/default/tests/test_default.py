"""The whole stack: a home client calls the update endpoint over HTTPS.

Requests go from the `home` container (curl, over IPv4 unless a test says IPv6) or from the
controller (abuse); DNS answers are read from the server's public addresses with dnspython.
The network is dual-stack; `home6` is an IPv6-only client.
"""

import email
import email.policy
import json
import os
import re
import shlex
import ssl
import sys
import time
import urllib.error
import urllib.request
from base64 import b64decode, b64encode
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from playbook import run_playbook

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
# Commands go straight to the containers (docker exec, fast); Ansible only templates settings.
SERVER = testinfra.get_host("docker://dyndns-server")
HOME = testinfra.get_host("docker://home")
ANSIBLE = testinfra.get_host(f"ansible://dyndns-server?ansible_inventory={INVENTORY}")
HOME_ADDRESS = "172.30.53.20"
HOME_ADDRESS6 = "fd53:53::20"
HOME6 = testinfra.get_host("docker://home6")
# Pebble's root, fetched by the side effect: every HTTPS call here verifies the certificate.
PEBBLE_ROOT = "/usr/local/share/pebble-root.pem"
# The collection's playbooks by name: from whichever copy ANSIBLE_COLLECTIONS_PATH holds
# (the checkout, or the installed release tarball).
SITE = "selfhosted.dyndns.site"
DEVICES = "selfhosted.dyndns.device_settings"
DELEGATION = "selfhosted.dyndns.delegation_check"
STATUS = "selfhosted.dyndns.status"
PARENT = testinfra.get_host("docker://parent")
SECONDARY = testinfra.get_host("docker://secondary")
SECONDARY_ADDRESS = "172.30.53.11"
PRIMARY_ADDRESS6 = "fd53:53::10"
SECONDARY_ADDRESS6 = "fd53:53::11"
# The demo operator's mailbox on the server: update_api_status_mail_to, delivered by exim.
MAILBOX = "/var/mail/admin"
# A secondary DNS service the collection does not manage (converge.yml sets it up by hand).
SERVICE = testinfra.get_host("docker://provider")


def quiet_clients():
    """The home clients' cron jobs would set their addresses amid the tests: cron waits, and a
    job it started just before ends first (Debian's cron.service has KillMode=process)."""
    for client in (HOME, HOME6):
        assert client.run("systemctl stop cron").rc == 0
        wait = "timeout 20 sh -c \"while pgrep -f 'dyndns-clien[t]'; do sleep 0.2; done\""
        assert client.run(wait).rc == 0, "a client's job still runs"


def site_on_home(*extra_vars):
    """The site playbook on home. Its client role starts cron again, so cron waits again after
    it: in CI a job at the fifth minute reset home's addresses amid later tests (twice)."""
    result = run_playbook(SITE, "home", *extra_vars)
    quiet_clients()
    return result


@pytest.fixture(scope="module", autouse=True)
def clients_quiet():
    quiet_clients()
    yield
    for client in (HOME, HOME6):
        client.run("systemctl start cron")


@pytest.fixture(scope="module")
def settings():
    """The demo inventory's settings, templated by Ansible (the passwords included).

    `primary` is the hidden primary (dyndns_primary) or else the first name server."""
    names = ["dyndns_zone", "dyndns_update_host", "dyndns_nameservers", "dyndns_hosts"]
    found = {
        name: ANSIBLE.ansible("ansible.builtin.debug", f"var={name}", check=False)[name]
        for name in [*names, "dyndns_primary"]
    }
    hidden = isinstance(found["dyndns_primary"], dict)  # else "VARIABLE IS NOT DEFINED!"
    found["primary"] = found["dyndns_primary"] if hidden else found["dyndns_nameservers"][0]
    found["hidden"] = hidden
    return found


@pytest.fixture(scope="module")
def name(settings):
    return f"{settings['dyndns_hosts'][0]['name']}.{settings['dyndns_zone']}"


@pytest.fixture(scope="module")
def dns_server(settings):
    """The primary: it has an update first."""
    return settings["primary"]["ipv4"]


def soa(server, zone):
    return dns.query.udp(dns.message.make_query(zone, "SOA"), server, timeout=3)


def values(dns_server, name, rdtype):
    answer = dns.query.udp(dns.message.make_query(name, rdtype), dns_server, timeout=3)
    return sorted(rr.to_text() for rrset in answer.answer for rr in rrset)


def wait_for(server, name, rdtype, expected, seconds=5):
    """Until SERVER answers EXPECTED (a secondary follows the primary a second or so later)."""
    start = time.monotonic()
    while (found := values(server, name, rdtype)) != expected:
        assert time.monotonic() - start < seconds, f"{server}: {found}, not {expected}, {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - start


def curl(settings, path, credentials=None, scheme="https", family=4):
    """GET from the home container over IPv4 or IPv6; returns (HTTP status, headers, body)."""
    auth = f"-u {shlex.quote(':'.join(credentials))}" if credentials else ""
    url = shlex.quote(f"{scheme}://{settings['dyndns_update_host']}{path}")
    result = HOME.run(f"curl -{family} -sS -i --cacert {PEBBLE_ROOT} --max-time 10 {auth} {url}")
    assert result.rc == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    return int(head.split()[1]), head, body.strip()


def update(settings, name, query="", password=None, family=4):
    host = settings["dyndns_hosts"][0]
    path = f"/nic/update?hostname={name}{query}"
    return curl(settings, path, (host["name"], password or host["password"]), family=family)


def served_certificate(settings, *fields):
    """What openssl says of the certificate the update host serves, seen from home."""
    host = settings["dyndns_update_host"]
    return HOME.check_output(
        f"openssl s_client -connect {host}:443 -servername {host} -verify_return_error"
        f" -CAfile {PEBBLE_ROOT} </dev/null 2>/dev/null | openssl x509 -noout {' '.join(fields)}"
    )


def test_certificate_issued_by_pebble_for_the_update_host(settings):
    text = served_certificate(settings, "-issuer", "-ext", "subjectAltName")
    assert "Pebble" in text
    assert f"DNS:{settings['dyndns_update_host']}" in text
    assert "id-ecPublicKey" in served_certificate(settings, "-text")


def test_tls_profile_and_hsts(settings):
    host = settings["dyndns_update_host"]
    old = HOME.run(f"openssl s_client -connect {host}:443 -tls1_1 </dev/null")
    assert old.rc != 0
    _, head, _ = curl(settings, "/nic/update")
    assert "strict-transport-security: max-age=63072000" in head.lower()


def test_forced_renewal_is_served_without_a_manual_step(settings):
    before = served_certificate(settings, "-serial")
    renew = SERVER.run(
        "REQUESTS_CA_BUNDLE=/usr/local/share/dyndns-test-ca.pem"
        # Not as from the timer: no random wait of up to 8 minutes first.
        " certbot renew --force-renewal --no-random-sleep-on-renew"
    )
    assert renew.rc == 0, renew.stderr
    after = served_certificate(settings, "-serial")
    assert after != before
    assert SERVER.service("certbot.timer").is_enabled


def test_failed_validation_says_why_and_apache_keeps_serving(settings):
    before = served_certificate(settings, "-serial")
    names = [settings["dyndns_update_host"], "nowhere.example.test"]
    result = run_playbook(SITE, "dyndns-server", {"certbot_domains": names})
    assert result.returncode != 0
    assert "did not issue a certificate for" in result.output
    assert "does not resolve to this server" in result.output
    assert served_certificate(settings, "-serial") == before
    status, _, _ = curl(settings, "/nic/update")
    assert status == 401


def test_key_file_readable_by_the_app_user_only():
    key = SERVER.file("/etc/dyndns-update/tsig.key")
    assert key.user == "dyndns-update"
    assert key.mode == 0o400
    assert SERVER.run("runuser -u dyndns-update -- test -r /etc/dyndns-update/tsig.key").rc == 0
    assert SERVER.run("runuser -u www-data -- cat /etc/dyndns-update/tsig.key").rc != 0


def test_credentials_are_stored_hashed(settings):
    stored = SERVER.file("/etc/dyndns-update/credentials.json")
    assert stored.user == "dyndns-update"
    assert stored.mode == 0o600
    assert "scrypt$" in stored.content_string
    for host in settings["dyndns_hosts"]:
        assert host["password"] not in stored.content_string
        assert host["url_token"] not in stored.content_string


def test_app_runs_as_its_own_user():
    processes = SERVER.check_output("ps -eo user:20,args | grep '[(]wsgi:dyndns'")
    assert processes
    assert {line.split()[0] for line in processes.splitlines()} == {"dyndns-update"}


def test_dyndns2_update_over_https(settings, name, dns_server):
    status, _, body = update(settings, name, "&myip=203.0.113.41")
    assert (status, body) == (200, "good 203.0.113.41")
    assert values(dns_server, name, "A") == ["203.0.113.41"]

    status, _, body = update(settings, name, "&myip=203.0.113.41")
    assert (status, body) == (200, "nochg 203.0.113.41")

    status, _, body = update(settings, name)
    assert (status, body) == (200, f"good {HOME_ADDRESS}")
    assert values(dns_server, name, "A") == [HOME_ADDRESS]


def test_update_over_ipv6_sets_the_aaaa_from_the_caller_and_keeps_the_a(settings, name):
    update(settings, name, "&myip=203.0.113.45,2001:db8::45")
    status, _, body = update(settings, name, family=6)
    assert (status, body) == (200, f"good {HOME_ADDRESS6}")
    for server in (PRIMARY_ADDRESS6, SECONDARY_ADDRESS6):
        # A secondary follows a second or so later: first the A, then the AAAA arrives.
        wait_for(server, name, "A", ["203.0.113.45"])
        wait_for(server, name, "AAAA", [HOME_ADDRESS6])
        assert values(server, name, "A") == ["203.0.113.45"]
    access = SERVER.check_output("tail -n 3 /var/log/apache2/access.log")
    assert HOME_ADDRESS6 in access


def test_dual_stack_and_one_family_leaves_the_other(settings, name, dns_server):
    status, _, body = update(settings, name, "&myip=203.0.113.42,2001:db8::42")
    assert (status, body) == (200, "good 203.0.113.42,2001:db8::42")
    assert values(dns_server, name, "AAAA") == ["2001:db8::42"]

    status, _, body = update(settings, name, "&myip=203.0.113.43")
    assert (status, body) == (200, "good 203.0.113.43")
    assert values(dns_server, name, "A") == ["203.0.113.43"]
    assert values(dns_server, name, "AAAA") == ["2001:db8::42"]


def test_status_view_shows_the_caller_its_own_hosts_and_what_knot_serves(settings, name):
    host, other = settings["dyndns_hosts"][:2]
    status, _, body = update(settings, name, "&myip=203.0.113.46&myipv6=2001:db8::46")
    assert (status, body) == (200, "good 203.0.113.46,2001:db8::46")
    status, _, body = curl(settings, "/nic/status", (host["name"], host["password"]))
    assert status == 200
    view = json.loads(body)
    fqdns = [entry["fqdn"] for entry in view["hosts"]]
    assert name in fqdns
    assert f"{other['name']}.{settings['dyndns_zone']}" not in fqdns
    (mine,) = [entry for entry in view["hosts"] if entry["fqdn"] == name]
    call = mine["last_call"]
    assert (call["result"], call["client"], call["via"]) == ("good", HOME_ADDRESS, "basic")
    assert (call["A"], call["AAAA"]) == ("203.0.113.46", "2001:db8::46")
    assert mine["last_change"]["time"] == call["time"]
    assert mine["dns"][name] == {"A": ["203.0.113.46"], "AAAA": ["2001:db8::46"]}
    # The secret URL updates, and shows nothing.
    status, _, _ = curl(settings, f"/u/{host['url_token']}/status")
    assert status == 404


def test_status_playbook_shows_each_host_with_its_real_last_call(settings, name):
    host = settings["dyndns_hosts"][0]
    assert update(settings, name, "&myip=203.0.113.47")[2] == "good 203.0.113.47"
    time.sleep(0.5)  # the app's writer thread stores the record a moment after the answer
    record = json.loads(SERVER.file(f"/var/lib/dyndns-update/hosts/{name}.json").content_string)
    assert record["last_call"]["A"] == "203.0.113.47"
    result = run_playbook(STATUS, "dyndns-server")
    assert result.returncode == 0, result.output
    assert "No problems." in result.output
    # The table gives the time to the minute, UTC.
    called = record["last_call"]["time"].replace("T", " ")[:16]
    rows = [line for line in result.output.splitlines() if name in line]
    assert any(f"{called} good from {HOME_ADDRESS}" in row for row in rows), result.output
    other = f"{settings['dyndns_hosts'][1]['name']}.{settings['dyndns_zone']}"
    assert any(other in line for line in result.output.splitlines())
    assert host["password"] not in result.output


def server_get(settings, path):
    """GET over HTTPS from the server itself (127.0.0.1, the update host's name), with what
    the server has: openssl, trusting pebble's root as the clients do. The whole answer."""
    host = settings["dyndns_update_host"]
    request = shlex.quote(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")
    return SERVER.check_output(
        f"printf {request} | openssl s_client -quiet -connect 127.0.0.1:443 -servername {host}"
        f" -verify_return_error -CAfile {PEBBLE_ROOT} 2>/dev/null"
    )


def test_metrics_answer_the_listed_networks_only(settings):
    """The demo turns the app's metrics and Knot's on, readable from the server itself only."""
    metrics = server_get(settings, "/metrics")
    assert metrics.startswith("HTTP/1.1 200"), metrics[:200]
    assert re.search(r'^dyndns_update_answers_total\{code="good"\} [1-9]', metrics, re.MULTILINE)
    assert re.search(r"^dyndns_update_dns_update_seconds_count\b.* [1-9]", metrics, re.MULTILINE)
    # Knot's exporter behind the same site, where Debian packages it (13 on); on 12 the
    # path is the app's, which has nothing there. The release is read now: the backup
    # tests made the server again from the next release's image (testinfra's
    # system_info would still say the release it saw first).
    knot = server_get(settings, "/metrics/knot")
    if int(SERVER.check_output(". /etc/os-release && echo $VERSION_ID")) < 13:
        assert knot.startswith("HTTP/1.1 404"), knot[:200]
    else:
        assert knot.startswith("HTTP/1.1 200"), knot[:200]
        zone = settings["dyndns_zone"]
        counted = [
            line
            for line in knot.splitlines()
            if line.startswith("knot_") and f'"{zone}' in line and float(line.split()[-1]) > 0
        ]
        assert counted, knot[-2000:]
    for path in ("/metrics", "/metrics/knot"):
        status, _, _ = curl(settings, path)
        assert status == 403, path


def test_wrong_password_changes_nothing(settings, name, dns_server):
    before = values(dns_server, name, "A")
    status, _, body = update(settings, name, "&myip=192.0.2.99", password="wrong-password!")
    assert (status, body) == (200, "badauth")
    assert values(dns_server, name, "A") == before


def test_missing_credentials_get_a_challenge(settings, name):
    status, head, body = curl(settings, f"/nic/update?hostname={name}")
    assert status == 401
    assert "www-authenticate: basic" in head.lower()
    assert body == "badauth"


def test_another_hosts_name_is_refused(settings, dns_server):
    other = f"ns1.{settings['dyndns_zone']}"
    before = values(dns_server, other, "A")
    status, _, body = update(settings, other, "&myip=192.0.2.98")
    assert (status, body) == (200, "nohost")
    assert values(dns_server, other, "A") == before


def test_bad_address_is_refused(settings, name, dns_server):
    before = values(dns_server, name, "A")
    status, _, body = update(settings, name, "&myip=127.0.0.1")
    assert status == 200
    assert body.startswith("badip")
    assert values(dns_server, name, "A") == before


def test_secret_url(settings, name, dns_server):
    token = settings["dyndns_hosts"][0]["url_token"]
    status, _, body = curl(settings, f"/u/{token}?myip=203.0.113.44")
    assert (status, body) == (200, "good 203.0.113.44")
    assert values(dns_server, name, "A") == ["203.0.113.44"]

    status, _, body = curl(settings, "/u/" + "x" * 40)
    assert (status, body) == (200, "badauth")
    assert values(dns_server, name, "A") == ["203.0.113.44"]


def test_acme_challenge_txt(settings, name, dns_server):
    status, _, body = update(settings, name, "&txt=token-for-dns-01")
    assert (status, body[:4]) == (200, "good")
    assert values(dns_server, f"_acme-challenge.{name}", "TXT") == ['"token-for-dns-01"']
    update(settings, name, "&txt=")
    assert values(dns_server, f"_acme-challenge.{name}", "TXT") == []


def test_http_serves_acme_challenges_and_redirects_the_rest(settings, name):
    challenge = "/var/www/acme/.well-known/acme-challenge/molecule-test"
    SERVER.run(f"echo challenge-ok > {challenge}")
    status, _, body = curl(settings, "/.well-known/acme-challenge/molecule-test", scheme="http")
    assert (status, body) == (200, "challenge-ok")
    SERVER.run(f"rm -f {challenge}")

    status, head, _ = curl(settings, f"/nic/update?hostname={name}", scheme="http")
    assert status == 301
    location = f"location: https://{settings['dyndns_update_host']}/nic/update?hostname={name}"
    assert location in head.lower()


def test_repeated_badauth_earns_abuse_for_that_address_only(settings, name, dns_server):
    """From the controller's address; the home client is not affected."""
    host = settings["dyndns_hosts"][0]
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE

    def call(password):
        request = urllib.request.Request(
            f"https://{dns_server}/nic/update?hostname={name}&myip=192.0.2.97",
            headers={
                "Host": settings["dyndns_update_host"],
                "User-Agent": "molecule-test/1.0",
                "Authorization": "Basic "
                + b64encode(f"{host['name']}:{password}".encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, context=tls, timeout=10) as response:
                return response.read().decode().strip()
        except urllib.error.HTTPError as error:
            return error.read().decode().strip()

    answers = [call("wrong-password!") for _ in range(5)]
    assert answers == ["badauth"] * 5
    assert call(host["password"]) == "abuse"
    assert "192.0.2.97" not in values(dns_server, name, "A")

    status, _, body = update(settings, name)
    assert (status, body) == (200, f"good {HOME_ADDRESS}")


def cron_commands():
    """The commands of the home client's cron lines, as cron would run them."""
    lines = HOME.file("/etc/cron.d/dyndns-client").content_string.splitlines()
    return [line.split(" root ", 1)[1] for line in lines if " root " in line]


def test_client_cron_job_sets_the_home_address(settings, name, dns_server):
    update(settings, name, "&myip=203.0.113.50,2001:db8::50")
    assert values(dns_server, name, "A") == ["203.0.113.50"]
    commands = cron_commands()
    job = "dyndns-client --config /etc/dyndns-client/home.conf --family"
    assert commands == [f"{job} 4", f"{job} 6"]
    assert HOME.file("/etc/cron.d/dyndns-client").content_string.startswith("# Ansible managed")
    assert "*/5 * * * * root" in HOME.file("/etc/cron.d/dyndns-client").content_string

    result = HOME.run(f"PATH=/usr/local/bin:/usr/bin:/bin {commands[0]}")
    assert (result.rc, result.stdout, result.stderr) == (0, "", "")
    assert values(dns_server, name, "A") == [HOME_ADDRESS]
    assert values(dns_server, name, "AAAA") == ["2001:db8::50"]
    assert HOME.service("cron").is_enabled

    # The IPv6 job goes over IPv6: the AAAA becomes the address it came from; the A stays.
    result = HOME.run(f"PATH=/usr/local/bin:/usr/bin:/bin {commands[1]}")
    assert (result.rc, result.stdout, result.stderr) == (0, "", "")
    assert values(PRIMARY_ADDRESS6, name, "AAAA") == [HOME_ADDRESS6]
    assert values(PRIMARY_ADDRESS6, name, "A") == [HOME_ADDRESS]


def test_ipv6_only_client_updates_its_aaaa_over_ipv6(settings, dns_server):
    name = f"home6.{settings['dyndns_zone']}"
    assert HOME6.check_output("ip -4 -o addr show scope global") == ""
    assert HOME6.check_output("ip -4 route show") == ""
    cron = HOME6.file("/etc/cron.d/dyndns-client").content_string
    lines = [line.split(" root ", 1)[1] for line in cron.splitlines() if " root " in line]
    assert lines == ["dyndns-client --config /etc/dyndns-client/home6.conf --family 6"]
    credentials = ("home6", settings["dyndns_hosts"][1]["password"])
    curl(settings, f"/nic/update?hostname={name}&myip=2001:db8::66", credentials)
    assert values(dns_server, name, "AAAA") == ["2001:db8::66"]
    result = HOME6.run(f"PATH=/usr/local/bin:/usr/bin:/bin {lines[0]}")
    assert (result.rc, result.stdout, result.stderr) == (0, "", "")
    assert values(dns_server, name, "AAAA") == ["fd53:53::21"]
    assert values(dns_server, name, "A") == []
    ipv4 = HOME6.run(f"curl -4 -sS --max-time 5 https://{settings['dyndns_update_host']}/")
    assert ipv4.rc != 0


def test_client_credentials_are_root_only(settings):
    conf = HOME.file("/etc/dyndns-client/home.conf")
    assert (conf.user, conf.mode) == ("root", 0o600)
    assert HOME.file("/etc/dyndns-client").mode == 0o700


def test_client_with_wrong_credentials_fails_and_logs(settings, name, dns_server):
    before = values(dns_server, name, "A")
    HOME.run(
        "sed 's/^password = .*/password = wrong-password!/' /etc/dyndns-client/home.conf"
        " > /root/bad.conf && chmod 600 /root/bad.conf"
    )
    result = HOME.run("dyndns-client --config /root/bad.conf --family 4")
    assert result.rc == 2
    assert "badauth" in result.stderr
    assert values(dns_server, name, "A") == before
    journal = HOME.check_output("journalctl -t dyndns-client --no-pager -o cat")
    assert "badauth" in journal
    HOME.run("rm -f /root/bad.conf")


def test_removing_a_name_removes_its_cron_line_and_credentials():
    result = site_on_home({"client_names": [], "client_certificate_names": []})
    assert result.returncode == 0, result.output
    assert cron_commands() == []
    assert not HOME.file("/etc/dyndns-client/home.conf").exists
    assert not HOME.file("/etc/letsencrypt/renewal/home.dyn.example.test.conf").exists

    result = site_on_home()
    assert result.returncode == 0, result.output
    assert len(cron_commands()) == 2
    assert HOME.file("/etc/dyndns-client/home.conf").exists
    assert HOME.file("/etc/letsencrypt/renewal/home.dyn.example.test.conf").exists


def test_device_settings_are_written_whole_and_shown_without_password(settings, tmp_path):
    result = run_playbook(DEVICES, None, {"client_device_settings_dir": str(tmp_path)})
    assert result.returncode == 0, result.output
    devices = [
        "curl.sh",
        "ddclient.conf",
        "fritzbox.txt",
        "inadyn.conf",
        "openwrt.txt",
        "pfsense.txt",
    ]
    hosts = settings["dyndns_hosts"]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{host['name']}.{device}" for host in hosts for device in devices]
    for host in hosts:
        for path in tmp_path.glob(f"{host['name']}.*"):
            assert path.stat().st_mode & 0o777 == 0o600
            assert host["password"] in path.read_text()
            assert settings["dyndns_update_host"] in path.read_text()
        assert host["password"] not in result.output
    assert "Update URL" in result.output


def in_transaction(host, zone, *changes):
    """Change ZONE on HOST's Knot in one knotc transaction."""
    commands = [f"knotc zone-begin {zone}", *changes, f"knotc zone-commit {zone}"]
    for command in commands:
        result = host.run(command)
        assert result.rc == 0, (command, result.stdout, result.stderr)


def set_parent_ns(*targets):
    """Replace the NS set of dyn.example.test in the parent zone."""
    sets = [f"knotc zone-set example.test dyn 3600 NS {target}" for target in targets]
    in_transaction(PARENT, "example.test", "knotc zone-unset example.test dyn NS", *sets)


def ns_names(settings):
    return [f"{ns['name']}." for ns in settings["dyndns_nameservers"]]


def test_delegation_check_passes_and_fails_with_what_to_fix(settings):
    result = run_playbook(DELEGATION, "dyndns-server", options=["--check"])
    assert result.returncode == 0, result.output
    assert "is delegated from example.test" in result.output

    set_parent_ns("ns.wrong.example.")
    try:
        result = run_playbook(DELEGATION, "dyndns-server", options=["--check"])
    finally:
        set_parent_ns(*ns_names(settings))
    assert result.returncode != 0
    expected = ", ".join(sorted(ns["name"] for ns in settings["dyndns_nameservers"]))
    assert f"NS records of dyn.example.test to: {expected}" in result.output, result.output

    # Not in check mode: the round trip through the endpoint to every name server.
    result = run_playbook(DELEGATION, "dyndns-server")
    assert result.returncode == 0, result.output
    assert "serves the test record just set through the update endpoint" in result.output


def test_soa_names_the_primary_and_the_parent_only_the_ns_set(settings, dns_server):
    """With a hidden primary the world never learns of it but from the SOA."""
    zone = settings["dyndns_zone"]
    assert soa(dns_server, zone).answer[0][0].mname.to_text() == f"{settings['primary']['name']}."
    referral = dns.query.udp(dns.message.make_query(zone, "NS"), "172.30.53.5", timeout=3)
    delegated = sorted(rr.target.to_text() for rrset in referral.authority for rr in rrset)
    assert delegated == sorted(ns_names(settings))
    assert (f"{settings['primary']['name']}." in delegated) != settings["hidden"]
    assert sorted(values(dns_server, zone, "NS")) == delegated


def test_update_reaches_every_name_server_within_seconds(settings, name, dns_server):
    address = f"203.0.113.{int(time.time()) % 200 + 20}"
    status, _, body = update(settings, name, f"&myip={address}")
    assert (status, body) == (200, f"good {address}")
    zone = settings["dyndns_zone"]
    serial = soa(dns_server, zone).answer[0][0].serial
    for ns in settings["dyndns_nameservers"]:
        for server in (ns["ipv4"], ns["ipv6"]):
            seconds = wait_for(server, name, "A", [address])
            print(f"update visible on {ns['name']} ({server}) after {seconds:.2f} s")
            answer = soa(server, zone)
            assert answer.flags & dns.flags.AA
            assert answer.answer[0][0].serial == serial


def service_key(settings):
    """The secondary service's TSIG key as kdig takes it."""
    [service] = [ns for ns in settings["dyndns_nameservers"] if ns.get("external")]
    key = service["tsig_key"]
    return f"{key['algorithm']}:{key['name']}:{key['secret']}"


def test_the_service_transfers_only_from_its_addresses_with_its_key(settings, dns_server):
    zone = settings["dyndns_zone"]
    key = service_key(settings)
    for primary in (dns_server, PRIMARY_ADDRESS6):
        allowed = SERVICE.run(f"kdig -y {key} @{primary} {zone} AXFR")
        assert "SOA" in allowed.stdout and f"ns2.{zone}." in allowed.stdout, allowed.stdout
    for host, option in ((SERVICE, ""), (HOME, f"-y {key}"), (SECONDARY, f"-y {key}")):
        result = host.run(f"kdig {option} @{dns_server} {zone} AXFR")
        assert "SOA" not in result.stdout, (host, option)
        assert re.search(r"REFUSED|NOTAUTH|failed", result.stdout + result.stderr), result.stdout
    # Knot on the primary holds the key in a file of root and knot; the key is in no log.
    key_file = SERVER.file("/etc/knot/dyndns-external-keys.conf")
    assert (key_file.user, key_file.group, key_file.mode) == ("root", "knot", 0o640)


def mails():
    """The mails in the demo operator's mailbox on the server (update_api_status_mail_to)."""
    box = SERVER.file(MAILBOX)
    text = box.content_string if box.exists else ""
    return [
        email.message_from_string(part, policy=email.policy.default)
        for part in re.split(r"^From .*\n", text, flags=re.MULTILINE)[1:]
    ]


def mail_report(before, seconds=10):
    """Start the status report's mail service as its timer does (a oneshot: `systemctl start`
    returns when it is done); the mails that came since BEFORE of them (exim delivers a
    moment after it took one)."""
    SERVER.run("systemctl start dyndns-status.service")
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(0.5)
        if len(found := mails()) > before:
            return found[before:]
    return []


def test_the_check_names_a_lagging_service_and_by_how_much(settings, name, dns_server):
    """The service stops taking transfers (a frozen zone still answers): the check names it,
    the status report too, and its timer's service mails the operator once, then once when
    all is well again."""
    zone = settings["dyndns_zone"]
    [service] = [ns for ns in settings["dyndns_nameservers"] if ns.get("external")]
    timer = SERVER.service("dyndns-status.timer")
    assert timer.is_enabled and timer.is_running
    # All is well: a run mails nothing (or, after problems a timer's run mailed during
    # converge, that all is well again), and the next nothing at all.
    settled = mail_report(len(mails()), seconds=3)
    assert all(m["Subject"].endswith(": all well again") for m in settled), settled
    assert not mail_report(len(mails()), seconds=3), "a mail while all is well"
    assert SERVICE.run(f"knotc zone-freeze {zone}").rc == 0
    try:
        behind = soa(service["ipv4"], zone).answer[0][0].serial
        time.sleep(1)  # unixtime serials: the update gets a newer one
        address = f"203.0.113.{int(time.time()) % 200 + 22}"
        assert update(settings, name, f"&myip={address}")[2] == f"good {address}"
        wait_for(SECONDARY_ADDRESS, name, "A", [address])
        newest = soa(dns_server, zone).answer[0][0].serial
        result = run_playbook(DELEGATION, "dyndns-server", options=["--check"])
        report = run_playbook(STATUS, "dyndns-server")
        count = len(mails())
        mailed = mail_report(count)
        again = mail_report(count + len(mailed), seconds=3)
    finally:
        assert SERVICE.run(f"knotc -b zone-thaw {zone}").rc == 0
    assert result.returncode != 0
    lines = [line for line in result.output.splitlines() if service["name"] in line]
    assert any(str(behind) in line and str(newest) in line for line in lines), result.output
    assert f"{newest - behind} behind" in result.output, result.output
    # The status report says it too, and fails.
    assert report.returncode != 0
    problems = report.output.split("Problems:", 1)[-1]
    assert service["name"] in problems and str(behind) in problems, report.output
    # One mail through the server's exim, none more while the problems stay.
    assert len(mailed) == 1 and not again, [m["Subject"] for m in mailed + again]
    assert re.fullmatch(r"dyndns \S+: \d+ problems?", mailed[0]["Subject"]), mailed[0]["Subject"]
    body = mailed[0].get_content()
    assert service["name"] in body and str(behind) in body, body
    # Thawed, the service takes the transfer.
    assert SERVICE.run(f"knotc -b zone-refresh {zone}").rc == 0
    wait_for(service["ipv4"], name, "A", [address], seconds=10)
    # In step again: one mail says so.
    [well] = mail_report(len(mails()))
    assert well["Subject"].endswith(": all well again"), well["Subject"]


def transfer(host, zone, key=None, primary="172.30.53.10", query="AXFR"):
    """kdig AXFR (or IXFR=serial) of ZONE from the primary, run on HOST, with the key or none."""
    option = f"-y hmac-sha512:dyndns-transfer:{key}" if key else ""
    return host.run(f"kdig {option} @{primary} {zone} {query}")


def transfer_key():
    return re.search(
        r"secret:\s*(\S+)", SECONDARY.file("/etc/knot/dyndns-transfer.key.conf").content_string
    ).group(1)


def test_zone_transfer_needs_the_key_and_a_secondary_address(settings):
    zone = settings["dyndns_zone"]
    key_file = SECONDARY.file("/etc/knot/dyndns-transfer.key.conf")
    assert (key_file.user, key_file.group, key_file.mode) == ("root", "knot", 0o640)
    key = transfer_key()
    allowed = transfer(SECONDARY, zone, key).stdout
    assert "SOA" in allowed and f"ns2.{zone}." in allowed, allowed
    for host, with_key in ((SECONDARY, None), (HOME, key)):
        result = transfer(host, zone, with_key)
        assert "SOA" not in result.stdout
        assert re.search(r"REFUSED|NOTAUTH|failed", result.stdout + result.stderr), result.stdout


def test_knot_serves_transfers_and_notify_over_ipv6(settings, name, dns_server):
    zone = settings["dyndns_zone"]
    for server in (PRIMARY_ADDRESS6, SECONDARY_ADDRESS6):
        answer = soa(server, zone)
        assert answer.flags & dns.flags.AA
        assert answer.answer[0][0].serial == soa(dns_server, zone).answer[0][0].serial
    serial = soa(dns_server, zone).answer[0][0].serial
    since = int(time.time()) - 1
    address = f"203.0.113.{int(time.time()) % 200 + 21}"
    assert update(settings, name, f"&myip={address}")[2] == f"good {address}"
    wait_for(SECONDARY_ADDRESS6, name, "A", [address])

    key = transfer_key()
    axfr = transfer(SECONDARY, zone, key, primary=PRIMARY_ADDRESS6)
    assert f"{name}." in axfr.stdout and address in axfr.stdout, axfr.stdout
    ixfr = transfer(SECONDARY, zone, key, primary=PRIMARY_ADDRESS6, query=f"IXFR={serial}")
    assert address in ixfr.stdout and "SOA" in ixfr.stdout, ixfr.stdout
    refused = transfer(HOME, zone, key, primary=PRIMARY_ADDRESS6)
    assert "SOA" not in refused.stdout
    # For the update, Knot sent its NOTIFY to the secondary's IPv6 address too, answered.
    log = SERVER.check_output(f"journalctl -u knot --since @{since} --no-pager -o cat")
    notified = re.findall(rf"notify, outgoing, remote {SECONDARY_ADDRESS6}@53\b.*", log)
    assert notified and not [line for line in notified if "failed" in line], log


def kdig_aaaa(server, name):
    return sorted(HOME.check_output(f"kdig +short @{server} {name} AAAA").split())


def test_lan_machines_follow_the_routers_prefix_on_both_name_servers(settings, name, dns_server):
    """home is the router: it calls over IPv6 with its LAN prefix, as a FRITZ!Box does."""
    zone = settings["dyndns_zone"]
    nas, printer = f"nas.home.{zone}", f"printer.{zone}"
    update(settings, name, "&myip=203.0.113.60")
    status, _, body = update(settings, name, "&ip6lanprefix=2001:db8:1:200::/64", family=6)
    assert (status, body) == (200, f"good {HOME_ADDRESS6}")
    expected = {
        name: [HOME_ADDRESS6],
        f"www.home.{zone}": [HOME_ADDRESS6],  # an alias
        f"anything.home.{zone}": [HOME_ADDRESS6],  # the wildcard
        nas: ["2001:db8:1:200:1234:5678:9abc:def0"],
        printer: ["2001:db8:1:200::10"],
    }
    for server in (PRIMARY_ADDRESS6, SECONDARY_ADDRESS6):
        for owner, addresses in expected.items():
            wait_for(server, owner, "AAAA", addresses)
            assert kdig_aaaa(server, owner) == addresses

    # A new prefix: both LAN machines move in one change of the zone (one IXFR step).
    serial = soa(dns_server, zone).answer[0][0].serial
    status, _, body = update(settings, name, "&ip6lanprefix=2001:db8:7:700::/64", family=6)
    assert (status, body) == (200, f"good {HOME_ADDRESS6}")
    moved = {nas: ["2001:db8:7:700:1234:5678:9abc:def0"], printer: ["2001:db8:7:700::10"]}
    for owner, addresses in moved.items():
        wait_for(SECONDARY_ADDRESS6, owner, "AAAA", addresses)
        assert kdig_aaaa(PRIMARY_ADDRESS6, owner) == addresses
    ixfr = transfer(SECONDARY, zone, transfer_key(), query=f"IXFR={serial}").stdout
    soas = [line.split() for line in ixfr.splitlines() if line.split()[3:4] == ["SOA"]]
    assert len({fields[6] for fields in soas}) == 2, ixfr  # the old serial and one new one
    assert "2001:db8:1:200::10" in ixfr and "2001:db8:7:700::10" in ixfr
    status, _, body = update(settings, name, "&ip6lanprefix=2001:db8:7:700::/64", family=6)
    assert (status, body) == (200, f"nochg {HOME_ADDRESS6}")

    # Clearing IPv6 removes every AAAA of home's names and keeps the A.
    status, _, body = update(settings, name, "&myipv6=none")
    assert (status, body) == (200, "good")
    for server in (PRIMARY_ADDRESS6, SECONDARY_ADDRESS6):
        for owner in expected:
            wait_for(server, owner, "AAAA", [])
        assert values(server, name, "A") == values(server, f"www.home.{zone}", "A")
        assert values(server, name, "A") == ["203.0.113.60"]
    assert update(settings, name, family=6)[2] == f"good {HOME_ADDRESS6}"
    assert update(settings, name)[2] == f"good {HOME_ADDRESS}"  # as home's cron job has it


def resolve_validated(name, rdtype="A"):
    """Ask the home client's validating resolver (unbound, the demo's trust anchor).

    It listens on ::1 and asks the name servers over IPv6 only (do-ip4: no).
    """
    return HOME.check_output(f"kdig @::1 +dnssec +retry=0 {name} {rdtype}")


def restart_resolver():
    assert HOME.run("systemctl restart unbound").rc == 0


def test_validating_resolver_proves_the_chain_through_the_parents_ds(settings, name):
    answer = resolve_validated(name)
    assert "status: NOERROR" in answer
    assert re.search(r"Flags: qr rd ra ad", answer), answer
    assert "RRSIG" in answer
    missing = resolve_validated(f"nobody-{int(time.time())}.{settings['dyndns_zone']}")
    assert "status: NXDOMAIN" in missing and " ad" in missing.split("Flags:")[1].splitlines()[0]


def test_wrong_ds_at_the_parent_fails_the_check_and_validation(settings, name):
    zone = settings["dyndns_zone"]
    published = PARENT.check_output(f"knotc zone-read example.test {zone}. DS").splitlines()
    assert published
    restore = [f"knotc zone-set example.test {' '.join(line.split()[1:])}" for line in published]
    digest = published[0].split()[-1]
    bogus = digest[:-4] + ("0000" if not digest.endswith("0000") else "1111")
    wrong = " ".join([*published[0].split()[1:-1], bogus])
    unset = f"knotc zone-unset example.test {zone}. DS"
    in_transaction(PARENT, "example.test", unset, f"knotc zone-set example.test {wrong}")
    try:
        restart_resolver()
        assert "status: SERVFAIL" in resolve_validated(name)
        result = run_playbook(DELEGATION, "dyndns-server", options=["--check"])
    finally:
        in_transaction(PARENT, "example.test", unset, *restore)
        restart_resolver()
    assert result.returncode != 0
    digests = result.output.lower()
    assert "DS record" in result.output and digest.lower() in digests, result.output
    assert "ad" in resolve_validated(name).split("Flags:")[1].splitlines()[0]


def test_check_mode_on_the_converged_stack_reports_no_change():
    for client in (HOME, HOME6):
        assert client.run("systemctl start cron").rc == 0  # as converged, before clients_quiet
    result = run_playbook(SITE, None, options=["--check", "--diff"])
    assert result.returncode == 0, result.output
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.output, re.M)
    assert {host for host, _ in recap} >= {"dyndns-server", "secondary", "home", "home6"}, recap
    assert [host for host, changed in recap if changed != "0"] == [], result.output[-3000:]


def test_no_log_holds_a_secret(settings):
    """Runs last: every request above has been logged by now."""
    secrets = [s for h in settings["dyndns_hosts"] for s in (h["password"], h["url_token"])]
    secrets.append(SERVER.file("/etc/dyndns-update/tsig.key").content_string.split(":")[-1].strip())
    secrets.append(service_key(settings).split(":")[-1])
    logs = SERVER.check_output(
        "{ cat /var/log/apache2/*; journalctl --no-pager -o cat; } 2>/dev/null | base64 -w0"
    )
    assert "/nic/update" in SERVER.check_output("cat /var/log/apache2/access.log")
    text = b64decode(logs).decode(errors="replace")
    for secret in secrets:
        assert secret not in text
    assert "Authorization" not in text
