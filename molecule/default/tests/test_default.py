"""The whole stack: a home client calls the update endpoint over HTTPS.

Requests go from the `home` container (curl) or from the controller (abuse);
DNS answers are read from the server's public address with dnspython.
"""

import os
import shlex
import ssl
import urllib.error
import urllib.request
from base64 import b64decode, b64encode

import dns.message
import dns.query
import pytest
import testinfra

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
SERVER = testinfra.get_host(f"ansible://dyndns-server?ansible_inventory={INVENTORY}")
HOME = testinfra.get_host(f"ansible://home?ansible_inventory={INVENTORY}")
HOME_ADDRESS = "172.30.53.20"


@pytest.fixture(scope="module")
def settings():
    """The demo inventory's settings, templated by Ansible (the passwords included)."""
    names = ["dyndns_zone", "dyndns_update_host", "dyndns_nameservers", "dyndns_hosts"]
    return {
        name: SERVER.ansible("ansible.builtin.debug", f"var={name}", check=False)[name]
        for name in names
    }


@pytest.fixture(scope="module")
def name(settings):
    return f"{settings['dyndns_hosts'][0]['name']}.{settings['dyndns_zone']}"


@pytest.fixture(scope="module")
def dns_server(settings):
    return settings["dyndns_nameservers"][0]["ipv4"]


def values(dns_server, name, rdtype):
    answer = dns.query.udp(dns.message.make_query(name, rdtype), dns_server, timeout=3)
    return sorted(rr.to_text() for rrset in answer.answer for rr in rrset)


def curl(settings, path, credentials=None, scheme="https"):
    """GET from the home container; returns (HTTP status, headers, body)."""
    auth = f"-u {shlex.quote(':'.join(credentials))}" if credentials else ""
    url = shlex.quote(f"{scheme}://{settings['dyndns_update_host']}{path}")
    result = HOME.run(f"curl -sS -k -i --max-time 10 {auth} {url}")
    assert result.rc == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    return int(head.split()[1]), head, body.strip()


def update(settings, name, query="", password=None):
    host = settings["dyndns_hosts"][0]
    path = f"/nic/update?hostname={name}{query}"
    return curl(settings, path, (host["name"], password or host["password"]))


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


def test_dual_stack_and_one_family_leaves_the_other(settings, name, dns_server):
    status, _, body = update(settings, name, "&myip=203.0.113.42,2001:db8::42")
    assert (status, body) == (200, "good 203.0.113.42,2001:db8::42")
    assert values(dns_server, name, "AAAA") == ["2001:db8::42"]

    status, _, body = update(settings, name, "&myip=203.0.113.43")
    assert (status, body) == (200, "good 203.0.113.43")
    assert values(dns_server, name, "A") == ["203.0.113.43"]
    assert values(dns_server, name, "AAAA") == ["2001:db8::42"]


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


def test_no_log_holds_a_secret(settings):
    """Runs last: every request above has been logged by now."""
    secrets = [s for h in settings["dyndns_hosts"] for s in (h["password"], h["url_token"])]
    secrets.append(SERVER.file("/etc/dyndns-update/tsig.key").content_string.split(":")[-1].strip())
    logs = SERVER.check_output(
        "{ cat /var/log/apache2/*; journalctl --no-pager -o cat; } 2>/dev/null | base64 -w0"
    )
    assert "/nic/update" in SERVER.check_output("cat /var/log/apache2/access.log")
    text = b64decode(logs).decode(errors="replace")
    for secret in secrets:
        assert secret not in text
    assert "Authorization" not in text
